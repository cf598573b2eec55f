package e2e

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/oiweiwei/go-msrpc/msrpc/wkst/wkssvc/v1"

	"github.com/wkssvcd/wkssvcd/internal/testdc"
)

// testCA is a certificate authority of a test's own.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string // PEM of cert
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	file := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, file: file}
}

// issue returns a server certificate for host (as a DNS subjectAltName).
func (ca *testCA) issue(t *testing.T, host string) *tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// utf16le is s as UTF-16LE (how unicodePwd and NTLM carry passwords).
func utf16le(s string) []byte {
	var b []byte
	for _, c := range utf16.Encode([]rune(s)) {
		b = append(b, byte(c), byte(c>>8))
	}
	return b
}

// A man in the middle on the LDAP path cannot make the daemon accept it:
// whatever it answers — a Kerberos AP-REP it cannot make without the DC's
// key, a certificate from another CA, an LDAP ping naming a host for
// which it holds a valid certificate, a SRV record pointing outside the
// domain — the join fails with the reason in the log at info level, the
// impostor receives no simple bind, no NTLM attempt and no password, and
// nothing is written: no computer object, no membership, no keytab.
func TestManInTheMiddleIsRefused(t *testing.T) {
	dc := testdc.Start(t, testdc.Options{})
	otherCA := newTestCA(t, "another CA")
	publicCA := newTestCA(t, "a CA the daemon trusts")
	evil := "evil.attacker.test"
	cases := []struct {
		name  string
		opts  testdc.ImpostorOptions
		flags []string
		cause string
	}{
		{"sasl/no Kerberos service key", testdc.ImpostorOptions{}, nil,
			"did not prove it is the domain controller"},
		{"sasl/ping naming another host", testdc.ImpostorOptions{PingHostName: evil}, nil,
			"did not prove it is the domain controller"},
		// Refusing GSS-SPNEGO gets GSSAPI (Kerberos again), never NTLM.
		{"sasl/GSS-SPNEGO refused", testdc.ImpostorOptions{RefuseSPNEGO: true}, nil,
			"GSSAPI/Kerberos bind to dc1.example.test (" + testdc.ImpostorAddr() + ")"},
		{"ldaps/certificate from another CA", testdc.ImpostorOptions{Certificate: otherCA.issue(t, testdc.HostFQDN)},
			[]string{"--ldap-transport", "ldaps", "--ldap-ca", dc.CAFile}, "certificate signed by unknown authority"},
		{"starttls/certificate from another CA", testdc.ImpostorOptions{Certificate: otherCA.issue(t, testdc.HostFQDN)},
			[]string{"--ldap-transport", "starttls", "--ldap-ca", dc.CAFile}, "certificate signed by unknown authority"},
		{"ldaps/ping naming a host with a valid certificate", testdc.ImpostorOptions{PingHostName: evil, Certificate: publicCA.issue(t, evil)},
			[]string{"--ldap-transport", "ldaps", "--ldap-ca", publicCA.file}, "certificate is valid for " + evil + ", not " + testdc.HostFQDN},
		{"ldaps/SRV target outside the domain", testdc.ImpostorOptions{SRVTarget: evil, Certificate: publicCA.issue(t, evil)},
			[]string{"--ldap-transport", "ldaps", "--ldap-ca", publicCA.file}, "SRV target " + evil + ": outside " + testdc.DNSDomain + ", not trusted"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			const name = "WKMITM"
			im := testdc.StartImpostor(t, dc, c.opts)
			d := startDaemon(t, append([]string{"--netbios-name", name, "--dns-hostname", strings.ToLower(name) + "." + testdc.DNSDomain,
				"--dns-server", im.Addr, "--log-level", "info"}, c.flags...)...)
			code := join3(t, d, adminUser, adminPass, testdc.DNSDomain, "", adminAccount(), dc.AdminPassword, optJoinDomain|optAcctCreate)
			if code == 0 {
				t.Fatalf("the join through the impostor succeeded\n%s", d.Output())
			}
			explained := false
			for deadline := time.Now().Add(5 * time.Second); !explained && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				for _, l := range lines(d.Output(), "failed") {
					if strings.Contains(l, "level=INFO") && strings.Contains(l, c.cause) {
						explained = true
						t.Logf("the daemon's log: %s", l)
					}
				}
			}
			if !explained {
				t.Errorf("no info line gives the cause %q:\n%s", c.cause, d.Output())
			}
			t.Logf("impostor saw: %v", im.Events())
			if !im.Saw("dns:") {
				t.Error("the daemon did not ask the impostor's DNS server: the test proves nothing")
			}
			for _, e := range []string{"bind simple", "bind sasl GSS-SPNEGO ntlm"} {
				if im.Saw(e) {
					t.Errorf("the impostor received a %q", e)
				}
			}
			got := im.Received()
			for _, secret := range [][]byte{[]byte(dc.AdminPassword), utf16le(dc.AdminPassword)} {
				if bytes.Contains(got, secret) {
					t.Fatal("the administrator's password reached the impostor")
				}
			}
			if e := computer(t, dc, name); e != nil {
				t.Errorf("a computer object was written: %s", e.DN)
			}
			if _, status := joinInfo(t, d); status == wkssvc.NetSetupJoinStatusDomainName {
				t.Error("the host reports itself joined")
			}
			if _, err := os.Stat(filepath.Join(d.stateDir, "krb5.keytab")); !os.IsNotExist(err) {
				t.Errorf("a keytab was written: %v", err)
			}
		})
	}
}
