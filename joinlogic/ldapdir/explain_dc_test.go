package ldapdir_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wkssvcd/wkssvcd/joinlogic"
	"github.com/wkssvcd/wkssvcd/joinlogic/ldapdir"
)

// syncBuffer is a log destination shared by the handler's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// otherCAFile writes a CA certificate that signed nothing of the DC's.
func otherCAFile(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(9), Subject: pkix.Name{CommonName: "another CA"},
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

// silentListener accepts connections on the DC's address and never
// answers; the test's cleanup closes it.
func silentListener(t *testing.T, addr string) int {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go io.Copy(io.Discard, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().(*net.TCPAddr).Port
}

// Every join, unjoin and name validation that fails against the real DC
// says why in one info line: the code it returns and the cause — the DNS
// SRV answer, the address tried, the Kerberos, NTLM or TLS error, the
// DC's LDAP result code and diagnostic message, the timeout — and never
// a password.
func TestFailuresExplainedAgainstDC(t *testing.T) {
	e := newJoinEnv(t)
	ctx := context.Background()
	dc := e.dc
	admin := dc.Domain + `\` + dc.AdminUser
	user, userPw := strings.ToLower(newName(t, "plain")), "Pl41n.User-"+newName(t, "")
	dc.CreateUser(t, user, userPw)
	relayed := func(mod func(*ldapdir.Config)) func(*slog.Logger) joinlogic.Directory {
		return func(l *slog.Logger) joinlogic.Directory {
			cfg := ldapdir.Config{
				DNSServer: net.JoinHostPort(dc.Addr, "53"), CAFile: dc.CAFile, PingOverTCP: true,
				LDAPPort: e.ldap.Port(), LDAPSPort: e.ldaps.Port(), KDCPort: e.kdc.Port(),
				Timeout: 5 * time.Second, Logger: l,
			}
			if mod != nil {
				mod(&cfg)
			}
			return ldapdir.New(cfg)
		}
	}
	silent := silentListener(t, dc.Addr)
	otherCA := otherCAFile(t)
	join := func(domain, account, pw string) func(*member) joinlogic.Code {
		return func(m *member) joinlogic.Code {
			return m.j.Join(ctx, joinReq(domain, account, pw, joinlogic.NETSETUP_JOIN_DOMAIN|joinlogic.NETSETUP_ACCT_CREATE))
		}
	}
	unjoinAs := func(pw string) func(*member) joinlogic.Code {
		return func(m *member) joinlogic.Code {
			r := e.adminUnjoin(joinlogic.NETSETUP_ACCT_DELETE)
			r.Password = func() (string, bool, joinlogic.Code) { return pw, true, joinlogic.NERR_Success }
			return m.j.Unjoin(ctx, r)
		}
	}
	validate := func(m *member) joinlogic.Code {
		return m.j.ValidateName(ctx, joinlogic.ValidateNameRequest{Method: 3, Protseq: joinlogic.ProtseqNamedPipe, Caller: rpcCaller,
			Name: &dc.DNSDomain, NameType: 3 /* NetSetupDomain */})
	}
	// The relays of a cut-off DC reset or close every connection (what
	// the error then says depends on when the client notices).
	cutOff := []string{"LDAP ping to " + dc.Addr + " (TCP port " + strconv.Itoa(e.ldap.Port()) + "): "}
	cases := []struct {
		name   string
		dir    func(*slog.Logger) joinlogic.Directory
		joined bool // join first, with the DC reachable
		cut    bool // then cut the DC off
		run    func(*member) joinlogic.Code
		want   joinlogic.Code
		msg    string   // the info line's message
		causes []string // in its cause
	}{
		{"join/wrong password: the KDC's refusal", relayed(nil), false, false, join(dc.DNSDomain, admin, dc.AdminPassword+"x"),
			joinlogic.ERROR_LOGON_FAILURE, "binding to", []string{"KDC_ERR_PREAUTH_FAILED", admin}},
		{"join/wrong password over NTLM: the DC's LDAP result", relayed(func(c *ldapdir.Config) { c.DomainControllers = []string{dc.Addr} }), false, false,
			func(m *member) joinlogic.Code {
				d := dc.Addr
				return m.j.Join(ctx, joinReq(dc.DNSDomain+`\`+d, admin, dc.AdminPassword+"x", joinlogic.NETSETUP_JOIN_DOMAIN|joinlogic.NETSETUP_ACCT_CREATE))
			},
			joinlogic.ERROR_LOGON_FAILURE, "binding to", []string{"GSS-SPNEGO/NTLM bind to " + dc.Addr, "Invalid Credentials"}},
		{"join/may not create computers: the LDAP result code and diagnostic message", relayed(nil), false, false, join(dc.DNSDomain, dc.Domain+`\`+user, userPw),
			joinlogic.ERROR_ACCESS_DENIED, "failed", []string{"LDAP Result Code 50", "Insufficient Access Rights"}},
		{"join/unknown domain: the DNS SRV answer", relayed(nil), false, false, join("nosuchdomain.test", admin, dc.AdminPassword),
			joinlogic.ERROR_NO_SUCH_DOMAIN, "locating a domain controller failed", []string{"SRV _ldap._tcp.dc._msdcs.nosuchdomain.test: lookup _ldap._tcp.dc._msdcs.nosuchdomain.test on " + net.JoinHostPort(dc.Addr, "53") + ": no such host"}},
		{"join/DC cut off: the address tried", relayed(nil), false, true, join(dc.DNSDomain, admin, dc.AdminPassword),
			joinlogic.ERROR_NO_SUCH_DOMAIN, "locating a domain controller failed", cutOff},
		{"join/DC silent: the timeout", relayed(func(c *ldapdir.Config) { c.LDAPPort, c.Timeout = silent, time.Second }), false, false, join(dc.DNSDomain, admin, dc.AdminPassword),
			joinlogic.ERROR_NO_SUCH_DOMAIN, "locating a domain controller failed", []string{"LDAP ping to " + dc.Addr + " (TCP port " + strconv.Itoa(silent) + ")", "timed out"}},
		{"join/LDAPS certificate from another CA: the TLS error", relayed(func(c *ldapdir.Config) { c.Transport, c.CAFile = ldapdir.TransportLDAPS, otherCA }), false, false,
			join(dc.DNSDomain, admin, dc.AdminPassword),
			joinlogic.ERROR_NO_SUCH_DOMAIN, "binding to", []string{"LDAPS to " + dc.Addr + ":" + strconv.Itoa(e.ldaps.Port()), "certificate signed by unknown authority"}},
		{"unjoin/wrong password", relayed(nil), true, false, unjoinAs(dc.AdminPassword + "x"),
			joinlogic.ERROR_LOGON_FAILURE, "binding to", []string{"KDC_ERR_PREAUTH_FAILED"}},
		{"unjoin/DC cut off", relayed(nil), true, true, unjoinAs(dc.AdminPassword),
			joinlogic.ERROR_NO_SUCH_DOMAIN, "failed", cutOff},
		{"validate/DC cut off", relayed(nil), false, true, validate,
			joinlogic.ERROR_NO_SUCH_DOMAIN, "validating the domain name", cutOff},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			logs := &syncBuffer{}
			l := slog.New(slog.NewJSONHandler(io.MultiWriter(logs, tlog{t}), &slog.HandlerOptions{Level: slog.LevelInfo}))
			me := *e
			me.log = l
			m := me.newMember(t, newName(t, "EX"), c.dir(l))
			if c.joined {
				mustCode(t, "Join", m.j.Join(ctx, e.adminJoin(joinlogic.NETSETUP_ACCT_CREATE)), joinlogic.NERR_Success)
			}
			if c.cut {
				e.cut()
				defer e.restore()
			}
			before := len(logs.String())
			mustCode(t, c.name, c.run(m), c.want)
			var found bool
			for _, line := range strings.Split(strings.TrimSpace(logs.String()[before:]), "\n") {
				var rec map[string]any
				if json.Unmarshal([]byte(line), &rec) != nil || rec["level"] != "INFO" {
					continue
				}
				msg, cause := fmt.Sprint(rec["msg"]), fmt.Sprint(rec["cause"])
				if !strings.Contains(msg, c.msg) || rec["code"] != c.want.String() {
					continue
				}
				found = true
				for _, want := range c.causes {
					if !strings.Contains(cause, want) {
						t.Errorf("the cause of %q lacks %q: %s", msg, want, cause)
					}
				}
			}
			if !found {
				t.Errorf("no info line %q with code %v:\n%s", c.msg, c.want, logs.String()[before:])
			}
			for _, secret := range []string{dc.AdminPassword, userPw} {
				if strings.Contains(logs.String(), secret) {
					t.Error("a password reached the log")
				}
			}
		})
	}
}
