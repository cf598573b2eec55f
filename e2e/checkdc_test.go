package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wkssvcd/wkssvcd/internal/testdc"
)

// checkDC runs `wkssvcd check-dc` with args and returns its output and
// exit status.
func checkDC(t *testing.T, args ...string) (string, int) {
	t.Helper()
	requireE2E(t)
	cmd := exec.Command(filepath.Join(binDir, "wkssvcd"), append([]string{"check-dc"}, args...)...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

// writeOtherCA writes a CA certificate that signed nothing of the DC's.
func writeOtherCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "another CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "other-ca.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// check-dc prints every step with its outcome, and its status says
// whether the configured transport works: on a good DC, through a wrong
// DNS server, against a stopped DC, with a wrong CA, with a wrong
// password, and on the DC without TLS.
func TestCheckDC(t *testing.T) {
	dc := testdc.Start(t, testdc.Options{})
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte(dc.AdminPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad")
	if err := os.WriteFile(bad, []byte("not-the-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"--domain", testdc.DNSDomain, "--dns-server", dc.Addr}
	admin := []string{"--account", adminAccount(), "--password-file", pw}
	cases := []struct {
		name   string
		args   []string
		status int
		want   []string // lines that must appear
	}{
		{"good DC", append(append([]string{}, base...), admin...), 0, []string{
			"[ OK ] DNS SRV _ldap._tcp.dc._msdcs.example.test via " + dc.Addr + ":53: dc1.example.test:389",
			"[ OK ] locate a writable domain controller: dc1.example.test at " + dc.Addr,
			"[ OK ] sasl/Kerberos: bound as EXAMPLE\\Administrator over SASL GSS-SPNEGO/Kerberos sign+seal",
			"[ OK ] sasl/NTLM: bound as EXAMPLE\\Administrator over SASL GSS-SPNEGO/NTLM sign+seal",
			"[ OK ] sasl/GSSAPI: bound as EXAMPLE\\Administrator over SASL GSSAPI/Kerberos sign+seal",
			// Without --ldap-ca the system roots do not know Samba's CA.
			"[FAIL] ldaps: ",
			"the configured transport (auto) works",
		}},
		{"good DC, LDAPS with its CA", append(append([]string{}, base...), append(admin, "--ldap-transport", "ldaps", "--ldap-ca", dc.CAFile)...), 0, []string{
			"[ OK ] ldaps: bound as EXAMPLE\\Administrator over LDAPS to " + dc.Addr + ":636, certificate verified for dc1.example.test",
			"[ OK ] starttls: bound as EXAMPLE\\Administrator over StartTLS",
			"the configured transport (ldaps) works",
		}},
		{"without credentials", base, 0, []string{
			"[ OK ] sasl (port 389, without credentials): rootDSE of " + dc.Addr + ": dnsHostName dc1.example.test",
			"GSS-SPNEGO",
		}},
		{"usage mistake", []string{"--dns-server", dc.Addr}, 2, []string{"--domain is required"}},
		{"wrong DNS server", []string{"--domain", testdc.DNSDomain, "--dns-server", "127.0.0.1:1"}, 1, []string{
			"[FAIL] DNS SRV _ldap._tcp.dc._msdcs.example.test via 127.0.0.1:1: ",
			"[FAIL] locate a writable domain controller: ",
			"does not work",
		}},
		{"wrong CA", append(append([]string{}, base...), append(admin, "--ldap-transport", "ldaps", "--ldap-ca", writeOtherCA(t))...), 1, []string{
			"[FAIL] ldaps: ",
			"certificate signed by unknown authority",
			"the configured transport (ldaps) does not work",
		}},
		{"wrong password", append(append([]string{}, base...), "--account", adminAccount(), "--password-file", bad), 1, []string{
			"[FAIL] sasl/Kerberos: ERROR_LOGON_FAILURE",
			"KDC_ERR_PREAUTH_FAILED",
			"[FAIL] sasl/NTLM: ERROR_LOGON_FAILURE",
			"does not work",
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, status := checkDC(t, c.args...)
			if status != c.status {
				t.Fatalf("status %d, want %d:\n%s", status, c.status, out)
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if strings.Contains(out, dc.AdminPassword) {
				t.Error("check-dc printed the password")
			}
		})
	}
	t.Run("no TLS", func(t *testing.T) {
		// check-dc does not send StartTLS to a DC without TLS, which would
		// crash it (Samba 4.17): the DC still answers afterwards.
		notls := testdc.Start(t, testdc.Options{NoTLS: true})
		out, status := checkDC(t, append([]string{"--domain", testdc.DNSDomain, "--dns-server", notls.Addr}, admin...)...)
		if status != 0 || !strings.Contains(out, "[ OK ] sasl/Kerberos") || !strings.Contains(out, "[FAIL] ldaps") || !strings.Contains(out, "[SKIP] starttls: not tried") {
			t.Fatalf("status %d:\n%s", status, out)
		}
		if out, status := checkDC(t, append([]string{"--domain", testdc.DNSDomain, "--dns-server", notls.Addr}, admin...)...); status != 0 {
			t.Fatalf("the DC without TLS does not answer after check-dc: %d\n%s", status, out)
		}
	})
	t.Run("stopped DC", func(t *testing.T) {
		dc.Stop(t)
		out, status := checkDC(t, append(append([]string{}, base...), admin...)...)
		if status != 1 || !strings.Contains(out, "[FAIL] DNS SRV") || !strings.Contains(out, "[FAIL] locate a writable domain controller") {
			t.Fatalf("status %d:\n%s", status, out)
		}
		// Named by its address, the DC is pinged and found silent.
		out, status = checkDC(t, append([]string{"--domain", testdc.DNSDomain, "--dc", dc.Addr}, admin...)...)
		if status != 1 || !strings.Contains(out, "LDAP ping to "+dc.Addr) {
			t.Fatalf("status %d:\n%s", status, out)
		}
		dc.Start(t)
	})
}
