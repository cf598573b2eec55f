package joinlogic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// infoLines returns the info records of logs (JSON lines) whose message
// contains msg.
func infoLines(t *testing.T, logs string, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if rec["level"] == "INFO" && strings.Contains(fmt.Sprint(rec["msg"]), msg) {
			out = append(out, rec)
		}
	}
	return out
}

// A failed unjoin or name validation logs, at info level, the code and the
// cause the directory gave, as a failed join does.
func TestFailuresAreExplained(t *testing.T) {
	cause := errors.New("dial tcp 127.0.0.2:389: connect: connection refused")
	for _, c := range []struct {
		name string
		op   string // the failing directory operation
		run  func(e *flowEnv) Code
		want Code
		msg  string
	}{
		{"unjoin/locate", "locate", func(e *flowEnv) Code { return e.j.Unjoin(context.Background(), unjoinReq(NETSETUP_ACCT_DELETE)) },
			ERROR_NO_SUCH_DOMAIN, "locating a domain controller failed"},
		{"unjoin/bind", "bind", func(e *flowEnv) Code { return e.j.Unjoin(context.Background(), unjoinReq(NETSETUP_ACCT_DELETE)) },
			ERROR_LOGON_FAILURE, "binding to dc1.example.test failed"},
		{"unjoin/disable", "disable", func(e *flowEnv) Code { return e.j.Unjoin(context.Background(), unjoinReq(NETSETUP_ACCT_DELETE)) },
			ERROR_GEN_FAILURE, "disabling the computer account"},
		{"validate/domain", "locate", func(e *flowEnv) Code {
			return e.j.ValidateName(context.Background(), ValidateNameRequest{Method: 3, Protseq: ProtseqNamedPipe, Caller: admin, Name: sp("example.test"), NameType: NetSetupDomain})
		}, ERROR_NO_SUCH_DOMAIN, "validating the domain name example.test failed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newFlow(t, nil)
			if strings.HasPrefix(c.name, "unjoin") {
				if code := e.j.Join(context.Background(), adminJoin(NETSETUP_JOIN_DOMAIN|NETSETUP_ACCT_CREATE)); code != NERR_Success {
					t.Fatal(code)
				}
			}
			e.dir.mu.Lock()
			e.dir.fail[c.op] = cause
			e.dir.mu.Unlock()
			if code := c.run(e); code != c.want {
				t.Fatalf("code %v, want %v", code, c.want)
			}
			recs := infoLines(t, e.logs.String(), c.msg)
			if len(recs) != 1 || recs[0]["code"] != c.want.String() || !strings.Contains(fmt.Sprint(recs[0]["cause"]), cause.Error()) {
				t.Fatalf("info records %v, want one with code %v and the cause:\n%s", recs, c.want, e.logs)
			}
		})
	}
	// The refusal of a name is logged at info level with the name.
	e := newFlow(t, nil)
	if code := e.j.ValidateName(context.Background(), ValidateNameRequest{Method: 3, Protseq: ProtseqNamedPipe, Caller: admin, Name: sp("WKS1"), NameType: NetSetupWorkgroup}); code != NERR_InvalidWorkgroupName {
		t.Fatal(code)
	}
	if recs := infoLines(t, e.logs.String(), "joinlogic: validate name"); len(recs) != 1 || recs[0]["name"] != "WKS1" || recs[0]["result"] != NERR_InvalidWorkgroupName.String() {
		t.Fatalf("validate record %v", recs)
	}
}

func TestJoinedDNSHostName(t *testing.T) {
	for _, c := range [][4]string{
		{"", "WKS1", "example.test", "wks1.example.test"},
		{"wkhost", "WKHOST", "Example.Test", "wkhost.example.test"},
		{"wkhost.other.test", "WKHOST", "example.test", "wkhost.other.test"},
		{"wkhost.example.test.", "WKHOST", "example.test", "wkhost.example.test"},
		{"wkhost", "WKHOST", "", "wkhost"},
	} {
		if got := joinedDNSHostName(c[0], c[1], c[2]); got != c[3] {
			t.Errorf("joinedDNSHostName(%q, %q, %q) = %q, want %q", c[0], c[1], c[2], got, c[3])
		}
	}
}

// A single-label DNS host name is joined as name.<domain>, as Samba does:
// dNSHostName, the HOST/ SPN and the keytab's host/ principal all carry
// the domain.
func TestJoinQualifiesSingleLabelDNSName(t *testing.T) {
	e := newFlow(t, func(c *Config) { c.DNSHostName = "wkshort" })
	if c := e.j.Join(context.Background(), adminJoin(NETSETUP_JOIN_DOMAIN|NETSETUP_ACCT_CREATE)); c != NERR_Success {
		t.Fatal(c)
	}
	acct := e.dir.account("WKS1$")
	if acct.dnsHostName != "wkshort.example.test" || !slicesContains(acct.spns, "HOST/wkshort.example.test") {
		t.Fatalf("dNSHostName %q, SPNs %v", acct.dnsHostName, acct.spns)
	}
	if m := e.store.m; m.DNSHostName != "wkshort.example.test" {
		t.Fatalf("membership DNSHostName %q", m.DNSHostName)
	}
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
