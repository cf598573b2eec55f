package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/wkssvcd/wkssvcd/joinlogic"
)

// callers of the conformance tables.
type caller struct {
	name, user, pass string
}

var (
	asAdmin = caller{"admin", adminUser, adminPass}
	asPlain = caller{"plain", plainUser, plainPass}
	asAnon  = caller{"anonymous", "", ""}
)

// expect is the code of one call for each caller.
type expect struct{ admin, plain, anon joinlogic.Code }

func (e expect) of(c caller) joinlogic.Code {
	switch c {
	case asAdmin:
		return e.admin
	case asPlain:
		return e.plain
	}
	return e.anon
}

// Codes by their MS-ERREF names.
const (
	ok          = joinlogic.NERR_Success
	denied      = joinlogic.ERROR_ACCESS_DENIED
	badParam    = joinlogic.ERROR_INVALID_PARAMETER
	badLevel    = joinlogic.ERROR_INVALID_LEVEL
	badFunction = joinlogic.ERROR_INVALID_FUNCTION
	badPassword = joinlogic.ERROR_INVALID_PASSWORD
	notImpl     = joinlogic.ERROR_CALL_NOT_IMPLEMENTED
	useNotFound = joinlogic.NERR_UseNotFound
	remoteOff   = joinlogic.RPC_E_REMOTE_DISABLED
	badNameChar = joinlogic.DNS_ERROR_INVALID_NAME_CHAR
	notFound    = joinlogic.ERROR_NOT_FOUND
)

// wkstTable is what every call of impacket_wkst.py returns to each caller
// of a daemon with the default settings: the rules of MS-WKST 3.2.4 with
// the product behaviour of its section 7, and what current Windows
// answers a remote caller.
var wkstTable = []struct {
	call string
	want expect
}{
	{"NetrWkstaGetInfo/100", expect{ok, ok, denied}},
	{"NetrWkstaGetInfo/101", expect{ok, ok, denied}},
	{"NetrWkstaGetInfo/102", expect{ok, denied, denied}}, // <29>
	{"NetrWkstaGetInfo/502", expect{ok, denied, denied}}, // <29>
	{"NetrWkstaSetInfo/502", expect{ok, denied, denied}}, // <33>
	{"NetrWkstaSetInfo/1013-out-of-range", expect{badParam, denied, denied}},
	{"NetrWkstaUserEnum/0", expect{ok, denied, denied}}, // <35>
	{"NetrWkstaUserEnum/1", expect{ok, denied, denied}},
	{"NetrWkstaTransportEnum/0", expect{ok, ok, ok}},               // <38>
	{"NetrWkstaTransportAdd", expect{badFunction, denied, denied}}, // <41>
	{"NetrWkstaTransportDel", expect{badFunction, denied, denied}}, // <43>
	{"NetrUseAdd/1", expect{notImpl, notImpl, denied}},             // 3.2.4.7, <46>
	{"NetrUseGetInfo/0", expect{useNotFound, useNotFound, denied}}, // <48>
	{"NetrUseDel", expect{useNotFound, useNotFound, denied}},       // <50>
	{"NetrUseEnum/2", expect{ok, ok, denied}},                      // <52>
	{"NetrWorkstationStatisticsGet", expect{ok, ok, denied}},       // <54>
	{"NetrWorkstationStatisticsGet/level1", expect{badLevel, badLevel, badLevel}},
	{"NetrGetJoinInformation", expect{ok, ok, denied}},
	{"NetrJoinDomain2", expect{badPassword, denied, denied}},
	{"NetrUnjoinDomain2", expect{badPassword, denied, denied}},
	{"NetrRenameMachineInDomain2", expect{badPassword, denied, denied}},   // 3.2.4.15: the zero blob does not decrypt
	{"NetrValidateName2", expect{remoteOff, remoteOff, remoteOff}},        // <89>
	{"NetrGetJoinableOUs2", expect{remoteOff, remoteOff, remoteOff}},      // <97>
	{"NetrAddAlternateComputerName", expect{badNameChar, denied, denied}}, // 3.2.4.18: "bad name"
	{"NetrRemoveAlternateComputerName", expect{notFound, denied, denied}}, // 3.2.4.19
	{"NetrSetPrimaryComputerName", expect{notFound, denied, denied}},      // 3.2.4.20
	{"NetrEnumerateComputerNames", expect{ok, denied, denied}},            // 3.2.4.21
}

// TestImpacketWkstTable calls every method of impacket 0.10's wkst module
// (its hNetr* helpers, its request classes where it has no helper) as an
// administrator, a plain user and anonymously, over SMB 2.1 and 3.0, bound
// with NDR and with NDR64, and checks each code: a table of opnum x caller
// x syntax in the subtest names.
func TestImpacketWkstTable(t *testing.T) {
	startDaemon(t)
	type run struct {
		dialect string
		c       caller
	}
	runs := []run{{"2.1", asAdmin}, {"3.0", asAdmin}, {"2.1", asPlain}, {"3.0", asPlain}, {"2.1", asAnon}}
	for _, r := range runs {
		eachSyntax(t, func(t *testing.T, s syntax) {
			name := fmt.Sprintf("%s/%s", r.dialect, r.c.name)
			t.Run(name, func(t *testing.T) {
				out, err := python(t, "impacket_wkst.py", daemonAddr, "445", r.dialect, r.c.user, r.c.pass, s.String())
				if err != nil {
					t.Fatalf("impacket: %v\n%s", err, out)
				}
				got := map[string]string{}
				for _, l := range lines(out, "call=") {
					f := strings.Fields(l)
					got[strings.TrimPrefix(f[0], "call=")] = strings.TrimPrefix(f[1], "code=")
				}
				for _, row := range wkstTable {
					t.Run(row.call, func(t *testing.T) {
						want := fmt.Sprintf("0x%08x", uint32(row.want.of(r.c)))
						if got[row.call] != want {
							t.Errorf("%s as %s: %s (%v), want %s (%v)", row.call, r.c.name, got[row.call],
								codeName(got[row.call]), want, row.want.of(r.c))
						}
					})
				}
				if r.c == asAdmin {
					checkImpacketDetails(t, out)
				}
			})
		})
	}
}

// codeName names a "0x%08x" code for failure messages.
func codeName(hex string) string {
	var v uint32
	if _, err := fmt.Sscanf(hex, "0x%x", &v); err != nil {
		return hex
	}
	return joinlogic.Code(v).String()
}

// checkImpacketDetails checks what the administrator's successful calls
// carried.
func checkImpacketDetails(t *testing.T, out string) {
	t.Helper()
	kv := parseKV(out)
	if kv["join"] != "WORKGROUP type" && !strings.HasPrefix(kv["join"], "WORKGROUP") {
		t.Errorf("NetrGetJoinInformation: %q", kv["join"])
	}
	if !strings.Contains(kv["users/1"], adminUser) {
		t.Errorf("NetrWkstaUserEnum level 1 does not list the caller's own session: %q", kv["users/1"])
	}
	if len(lines(out, `transport=\Device\NetBT_Tcpip_{`)) == 0 || len(lines(out, "address=000000000000")) == 0 {
		t.Errorf("NetrWkstaTransportEnum lists no loopback transport:\n%s", strings.Join(lines(out, "transport="), "\n"))
	}
	if kv["uses"] != "0" {
		t.Errorf("NetrUseEnum: %q uses", kv["uses"])
	}
	// The computer's one name, a UNICODE_STRING impacket decodes.
	if kv["computer_names"] != dnsName+" count=1" {
		t.Errorf("NetrEnumerateComputerNames: %q", kv["computer_names"])
	}
	if kv["stats_start"] == "" || kv["stats_start"] == "0" {
		t.Errorf("NetrWorkstationStatisticsGet start time %q", kv["stats_start"])
	}
}
