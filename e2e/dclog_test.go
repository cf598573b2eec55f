package e2e

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"

	"github.com/wkssvcd/wkssvcd/internal/testdc"
	"github.com/wkssvcd/wkssvcd/joinlogic"
)

// auditEvent is the part of Samba's JSON authentication and
// authorization audit records (auth_json_audit) the test reads.
type auditEvent struct {
	Type           string `json:"type"`
	Authentication struct {
		ServiceDescription string `json:"serviceDescription"`
		AuthDescription    string `json:"authDescription"`
		LocalAddress       string `json:"localAddress"`
		Status             string `json:"status"`
	} `json:"Authentication"`
	Authorization struct {
		ServiceDescription  string `json:"serviceDescription"`
		AuthType            string `json:"authType"`
		LocalAddress        string `json:"localAddress"`
		TransportProtection string `json:"transportProtection"`
	} `json:"Authorization"`
}

// The DC's own log shows what the daemon's binds were: every LDAP session
// on port 389 authorized with Kerberos or NTLM and a sealed transport, and
// no simple bind on port 389 at all.
func TestDCLogShowsSealedBinds(t *testing.T) {
	dc := testdc.Start(t, testdc.Options{})
	since := dc.Debug(t, "3 auth_audit:5 auth_json_audit:5")
	const name = "WKLOG"
	// Kerberos (the DC found through DNS), then NTLM (the DC named only
	// by its address: no name for a service ticket).
	for _, flags := range [][]string{nil, {"--dc", dc.Addr}} {
		d := domainDaemon(t, dc, name, flags...)
		if code := join3(t, d, adminUser, adminPass, testdc.DNSDomain, "", adminAccount(), dc.AdminPassword, optJoinDomain|optAcctCreate); code != 0 {
			t.Fatalf("join %v: %#x\n%s", flags, code, d.Output())
		}
		// The test's own reads of the directory bind over LDAPS (636).
		unjoin3(t, dc, d, name)
		d.stop(t)
	}
	port389 := ":" + "389"
	var authz map[string]int
	var log string
	// The audit lines arrive shortly after the binds.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		log = since()
		authz = map[string]int{}
		for _, l := range strings.Split(log, "\n") {
			l = strings.TrimSpace(l)
			if !strings.HasPrefix(l, "{") {
				continue
			}
			var ev auditEvent
			if json.Unmarshal([]byte(l), &ev) != nil {
				continue
			}
			switch ev.Type {
			case "Authorization":
				a := ev.Authorization
				if a.ServiceDescription == "LDAP" && strings.HasSuffix(a.LocalAddress, port389) {
					authz[a.AuthType+"/"+a.TransportProtection]++
				}
			case "Authentication":
				a := ev.Authentication
				if strings.HasSuffix(a.LocalAddress, port389) && strings.Contains(strings.ToLower(a.AuthDescription), "simple") {
					t.Errorf("a simple bind on port 389 in the DC's log: %s", l)
				}
			}
		}
		if authz["krb5/SEAL"] > 0 && authz["NTLMSSP/SEAL"] > 0 {
			break
		}
	}
	t.Logf("LDAP sessions on port 389 in the DC's log, by authentication and protection: %v", authz)
	if authz["krb5/SEAL"] == 0 || authz["NTLMSSP/SEAL"] == 0 {
		t.Fatalf("the DC's log does not show sealed Kerberos and NTLM binds: %v\n%s", authz, log)
	}
	for k := range authz {
		if !strings.HasSuffix(k, "/SEAL") {
			t.Errorf("an LDAP session on port 389 without sealing: %s", k)
		}
	}
	if strings.Contains(log, "BindSimple") {
		t.Error("the DC logged a simple bind attempt")
	}
}

// What goes over the wire, recorded by a passive tap between the daemon
// and the DC: every bind is a SASL GSS-SPNEGO bind (Kerberos when the DC
// has a name, NTLM when it is named by its address), never a simple one;
// after it nothing is clear LDAP, so unicodePwd and the passwords never
// appear.
func TestWireShowsOnlySealedSASLBinds(t *testing.T) {
	dc := testdc.Start(t, testdc.Options{})
	tap := testdc.StartImpostor(t, dc, testdc.ImpostorOptions{Relay: true})
	const name = "WKWIRE"
	var machinePasswords []string
	for _, flags := range [][]string{nil, {"--dc", tap.Addr}} {
		d := startDaemon(t, append([]string{"--netbios-name", name, "--dns-hostname", "wkwire." + testdc.DNSDomain,
			"--dns-server", tap.Addr}, flags...)...)
		if code := join3(t, d, adminUser, adminPass, testdc.DNSDomain, "", adminAccount(), dc.AdminPassword, optJoinDomain|optAcctCreate); code != 0 {
			t.Fatalf("join %v: %#x\n%s", flags, code, d.Output())
		}
		checkJoined(t, dc, d, name, computersDN(name))
		if pw := machinePassword(t, d); pw != "" {
			machinePasswords = append(machinePasswords, pw)
		}
		unjoin3(t, dc, d, name)
		d.stop(t)
	}
	binds := map[string]int{}
	for _, st := range tap.Streams() {
		r := bytes.NewReader(st)
		for r.Len() > 0 && st[len(st)-r.Len()] == 0x30 { // clear LDAP messages, up to the sealed layer
			p, err := ber.ReadPacket(r)
			if err != nil || len(p.Children) < 2 {
				break
			}
			op := p.Children[1]
			if op.Tag != ldap.ApplicationBindRequest || len(op.Children) < 3 {
				continue
			}
			auth := op.Children[2]
			if auth.Tag != 3 || len(auth.Children) == 0 {
				t.Errorf("a bind that is not SASL (authentication choice %d) on the wire", auth.Tag)
				continue
			}
			mech, _ := auth.Children[0].Value.(string)
			kind := "kerberos"
			if bytes.Contains(auth.Bytes(), []byte("NTLMSSP\x00")) {
				kind = "ntlm"
			}
			binds[mech+"/"+kind]++
		}
	}
	t.Logf("binds on the wire: %v", binds)
	if binds["GSS-SPNEGO/kerberos"] == 0 || binds["GSS-SPNEGO/ntlm"] == 0 || len(binds) != 2 {
		t.Fatalf("binds on the wire %v, want GSS-SPNEGO with Kerberos and with NTLM only", binds)
	}
	all := tap.Received()
	for _, secret := range append([]string{dc.AdminPassword, "unicodePwd"}, machinePasswords...) {
		if bytes.Contains(all, []byte(secret)) || bytes.Contains(all, utf16le(secret)) {
			t.Errorf("%.12q… travelled in clear", secret)
		}
	}
}

// machinePassword is the machine password the daemon saved.
func machinePassword(t *testing.T, d *daemon) string {
	t.Helper()
	s, err := joinlogic.OpenStore(filepath.Join(d.stateDir, "membership.json"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	return m.Password.Reveal()
}
