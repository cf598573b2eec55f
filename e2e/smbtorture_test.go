package e2e

// Samba's smbtorture rpc.wkssvc suite against the daemon. The suite was
// written against Windows servers; every test it has either passes here
// or fails where MS-WKST's section 7 says current Windows answers
// otherwise than the Windows the suite was written against — each such
// difference is listed with its reason, and any other outcome fails.

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oiweiwei/go-msrpc/msrpc/wkst/wkssvc/v1"

	"github.com/wkssvcd/wkssvcd/internal/testdc"
)

// tortureOutcome is what one smbtorture test must end with: "success",
// or "failure" with the text its message must contain.
type tortureOutcome struct {
	result string
	says   string // substring of the failure message
	why    string // why this server answers otherwise than the suite expects
}

// tortureWkssvc is every test of smbtorture's rpc.wkssvc (Samba 4.17) run
// with torture:dangerous=yes and domain credentials, against a daemon in
// a workgroup that can reach the test DC.
var tortureWkssvc = map[string]tortureOutcome{
	"NetWkstaGetInfo":       {result: "success"},
	"NetWkstaTransportEnum": {result: "success"},
	"NetrWkstaTransportDel": {result: "failure", says: "WERR_INVALID_FUNCTION, expected WERR_OK",
		why: "deprecated: administrators get ERROR_INVALID_FUNCTION (MS-WKST <43>); the suite expects Windows Server 2003"},
	"NetrWkstaTransportAdd": {result: "failure", says: "WERR_INVALID_FUNCTION, expected WERR_INVALID_PARAMETER",
		why: "deprecated: administrators get ERROR_INVALID_FUNCTION (MS-WKST <41>)"},
	"NetWkstaEnumUsers": {result: "success"},
	"NetrWkstaUserGetInfo": {result: "failure", says: "NT_STATUS_RPC_PROCNUM_OUT_OF_RANGE",
		why: "opnum 3 is only used locally by Windows, never remotely (MS-WKST <27>)"},
	"NetrUseDel": {result: "failure", says: "WERR_NERR_USENOTFOUND, expected WERR_OK",
		why: "a network caller has no connections of the redirector to delete (<49>)"},
	"NetrUseGetInfo": {result: "success"},
	"NetrUseEnum":    {result: "success"},
	"NetrUseAdd": {result: "failure", says: "WERR_CALL_NOT_IMPLEMENTED, expected WERR_OK",
		why: "NetrUseAdd from the network is refused (3.2.4.7, <45>): this server has no redirector"},
	"NetrValidateName":       {result: "success"},
	"NetrValidateName2":      {result: "success"},
	"NetrLogonDomainNameDel": {result: "success"},
	"NetrLogonDomainNameAdd": {result: "success"},
	// The suite removes its alternate name before adding it: on a daemon
	// that never had it, ERROR_NOT_FOUND as 3.2.4.19 requires.
	"NetrRemoveAlternateComputerName": {result: "failure", says: "WERR_NOT_FOUND, expected WERR_OK",
		why: "the name is not there yet (3.2.4.19: ERROR_NOT_FOUND)"},
	"NetrAddAlternateComputerName": {result: "success"},
	"NetrSetPrimaryComputername":   {result: "success"},
	"NetrRenameMachineInDomain":    {result: "success"},
	// The suite renames a workgroup computer: 3.2.4.15 refuses that.
	"NetrRenameMachineInDomain2": {result: "failure", says: "WERR_NERR_SETUPNOTJOINED, expected WERR_OK",
		why: "the computer is in a workgroup (3.2.4.15: NERR_SetupNotJoined)"},
	"NetrEnumerateComputerNames":   {result: "success"},
	"NetrJoinDomain2":              {result: "success"}, // a real join of the test DC's domain (RC4 blob)
	"NetrUnjoinDomain2":            {result: "success"}, // and the unjoin
	"NetrJoinDomain":               {result: "success"},
	"NetrUnjoinDomain":             {result: "success"},
	"NetrGetJoinInformation":       {result: "success"},
	"NetrGetJoinableOus":           {result: "success"},
	"NetrGetJoinableOus2":          {result: "success"},
	"NetrWorkstationStatisticsGet": {result: "success"},
	"NetrMessageBufferSend": {result: "failure", says: "NT_STATUS_RPC_PROCNUM_OUT_OF_RANGE",
		why: "opnum 12 is only used locally by Windows (MS-WKST <27>); the messenger service is gone"},
}

var tortureResult = regexp.MustCompile(`(?m)^(success|failure|error|skip): wkssvc\.(\S+)(?: \[\n?([^\]]*)\])?`)

// TestSmbtortureWkssvc runs smbtorture's rpc.wkssvc as the daemon's
// administrator, bound with NDR and with NDR64, over SMB 2.1 and 3.1.1:
// each test ends as tortureWkssvc says. Its NetrJoinDomain2 and
// NetrUnjoinDomain2 join the test DC's domain and leave it for real.
func TestSmbtortureWkssvc(t *testing.T) {
	bin := lookPath(t, "smbtorture")
	dc := testdc.Start(t, testdc.Options{})
	const name = "WKTORT"
	deleteComputer(t, dc, name)
	t.Cleanup(func() { deleteComputer(t, dc, name) })
	d := domainDaemon(t, dc, name)
	conf := sambaConf(t)
	for _, dialect := range []string{"SMB2_10", "SMB3_11"} {
		for _, s := range []syntax{ndr20, ndr64} {
			t.Run(dialect+"/"+s.String(), func(t *testing.T) {
				deleteComputer(t, dc, name)
				binding := "ncacn_np:" + d.host()
				if s == ndr64 {
					binding += "[ndr64]" // NDR64 alone in the bind
				}
				args := append([]string{"-s", conf, binding, "-U", adminUser + "%" + adminPass,
					"--option=torture:dangerous=yes",
					"--option=torture:domain_admin_account=" + adminAccount(),
					"--option=torture:domain_admin_password=" + dc.AdminPassword,
					"--option=torture:domain_name=" + testdc.DNSDomain},
					protocolOptions(dialect)...)
				out, _ := run(t, 5*time.Minute, bin, append(args, "rpc.wkssvc")...)
				got := map[string]tortureOutcome{}
				for _, m := range tortureResult.FindAllStringSubmatch(out, -1) {
					got[m[2]] = tortureOutcome{result: m[1], says: strings.TrimSpace(m[3])}
				}
				for test, want := range tortureWkssvc {
					g, ok := got[test]
					switch {
					case !ok:
						t.Errorf("%s: no result", test)
					case g.result != want.result || !strings.Contains(g.says, want.says):
						t.Errorf("%s: %s %q, want %s %q (%s)", test, g.result, g.says, want.result, want.says, want.why)
					}
				}
				for test := range got {
					if _, ok := tortureWkssvc[test]; !ok {
						t.Errorf("%s: a test this table does not know (%s)", test, got[test].result)
					}
				}
				// The join happened and was undone; the names are the
				// daemon's own again.
				if o := namesOf(t, dc, name); o == nil {
					t.Errorf("%s$ was never created by the suite's NetrJoinDomain2", name)
				}
				if _, status := joinInfo(t, d); status == wkssvc.NetSetupJoinStatusDomainName {
					t.Errorf("still joined after the suite's NetrUnjoinDomain2")
				}
				if got := computerName(t, d); got != name {
					t.Errorf("computer name %q after the suite, want %q", got, name)
				}
				if t.Failed() {
					t.Logf("smbtorture:\n%s", out)
				}
			})
			if t.Failed() {
				t.Logf("daemon:\n%s", d.Output())
				return
			}
		}
	}
}
