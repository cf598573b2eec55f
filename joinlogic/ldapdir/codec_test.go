package ldapdir

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/wkssvcd/wkssvcd/joinlogic"
)

func TestSIDString(t *testing.T) {
	for _, c := range []struct {
		hex, want string
	}{
		{"010400000000000515000000" + "9d2a8f27" + "5063f4c2" + "234ac04e", "S-1-5-21-663693981-3270796112-1321224739"},
		{"010100000000000512000000", "S-1-5-18"},
		{"010000000000000100", ""},
		{"0101ffffffffffff00000000", "S-1-0xFFFFFFFFFFFF-0"},
	} {
		got, err := sidString(mustHex(t, c.hex))
		if c.want == "" {
			if err == nil {
				t.Errorf("%s accepted as %s", c.hex, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("sidString(%s) = %q, %v; want %s", c.hex, got, err, c.want)
		}
	}
	for _, b := range [][]byte{nil, {1}, {2, 0, 0, 0, 0, 0, 0, 5}, {1, 16, 0, 0, 0, 0, 0, 5}, {1, 1, 0, 0, 0, 0, 0, 5, 1}} {
		if s, err := sidString(b); err == nil {
			t.Errorf("sidString(%x) = %s", b, s)
		}
	}
}

func TestGUIDString(t *testing.T) {
	g := mustHex(t, "b83913f8eef97447a3078228ac608037")
	if s := guidString(g); s != "f81339b8-f9ee-4774-a307-8228ac608037" {
		t.Errorf("guidString = %s", s)
	}
	if s := guidString(g[:15]); s != "" {
		t.Errorf("short GUID = %s", s)
	}
}

func TestParseDNBinary(t *testing.T) {
	bin, dn, err := parseDNBinary("B:32:AA312825768811D1ADED00C04FD8D5CD:CN=Computers,DC=example,DC=test")
	if err != nil || dn != "CN=Computers,DC=example,DC=test" || !bytes.Equal(bin, mustHex(t, wkGUIDComputers)) {
		t.Fatalf("= %x, %q, %v", bin, dn, err)
	}
	for _, v := range []string{"", "B:", "B:32", "B:32:AA", "X:2:AA:CN=x", "B:3:AAA:CN=x", "B:-2:AA:CN=x",
		"B:2:ZZ:CN=x", "B:2:AA", "B:2:AA:", "B:2:AACN=x", "B:99999999999999999999:AA:CN=x"} {
		if _, _, err := parseDNBinary(v); err == nil {
			t.Errorf("%q accepted", v)
		}
	}
	if _, dn, err := parseDNBinary("B:0::CN=x"); err != nil || dn != "CN=x" {
		t.Errorf("empty binary: %q, %v", dn, err)
	}
}

func FuzzParseDNBinary(f *testing.F) {
	f.Add("B:32:AA312825768811D1ADED00C04FD8D5CD:CN=Computers,DC=example,DC=test")
	f.Add("B:0::CN=x")
	f.Add("B:4:zz:")
	f.Fuzz(func(t *testing.T, v string) {
		bin, dn, err := parseDNBinary(v)
		if err == nil && (dn == "" || len(bin)*2 > len(v)) {
			t.Fatalf("%q: %x %q", v, bin, dn)
		}
	})
}

func FuzzSIDString(f *testing.F) {
	f.Add(mustHex(f, "010400000000000515000000"+"9d2a8f27"+"5063f4c2"+"234ac04e"))
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 5})
	f.Fuzz(func(t *testing.T, b []byte) {
		if s, err := sidString(b); err == nil && len(s) < 5 {
			t.Fatalf("%x: %q", b, s)
		}
	})
}

func TestUnicodePwd(t *testing.T) {
	// MS-ADTS 3.1.1.3.1.5.1: "new" is sent as "\"new\"" in UTF-16LE.
	want := []byte{0x22, 0, 0x6e, 0, 0x65, 0, 0x77, 0, 0x22, 0}
	if got := []byte(unicodePwd("new")); !bytes.Equal(got, want) {
		t.Errorf("unicodePwd(new) = %x", got)
	}
	// Outside the BMP: a surrogate pair.
	if got := []byte(unicodePwd("\U0001F600")); !bytes.Equal(got, []byte{0x22, 0, 0x3d, 0xd8, 0x00, 0xde, 0x22, 0}) {
		t.Errorf("unicodePwd(emoji) = %x", got)
	}
}

func TestSplitRDNAndDNSName(t *testing.T) {
	for _, c := range [][3]string{
		{"CN=WS1,CN=Computers,DC=example,DC=test", "CN=WS1", "CN=Computers,DC=example,DC=test"},
		{`CN=a\,b,OU=x`, `CN=a\,b`, "OU=x"},
		{`CN=a\\,OU=x`, `CN=a\\`, "OU=x"},
		{"CN=a, OU=x", "CN=a", "OU=x"},
		{"DC=test", "DC=test", ""},
		{"", "", ""},
		{`CN=trailing\`, `CN=trailing\`, ""},
	} {
		rdn, parent := splitRDN(c[0])
		if rdn != c[1] || parent != c[2] {
			t.Errorf("splitRDN(%q) = %q, %q", c[0], rdn, parent)
		}
	}
	if n, ok := dnsNameFromDN("DC=example,DC=test"); !ok || n != "example.test" {
		t.Errorf("dnsNameFromDN = %q, %v", n, ok)
	}
	for _, dn := range []string{"", "CN=x,DC=test", "DCtest"} {
		if n, ok := dnsNameFromDN(dn); ok {
			t.Errorf("dnsNameFromDN(%q) = %q", dn, n)
		}
	}
}

func TestWithRestrictedKrbHost(t *testing.T) {
	got := withRestrictedKrbHost([]string{"HOST/ws1.example.test", "HOST/WS1", "host/WS1", "cifs/ws1", ""})
	want := []string{"HOST/ws1.example.test", "HOST/WS1", "cifs/ws1", "RestrictedKrbHost/ws1.example.test", "RestrictedKrbHost/WS1"}
	if !slices.Equal(got, want) {
		t.Errorf("= %v", got)
	}
}

func TestBindName(t *testing.T) {
	dc := joinlogic.DCInfo{DomainDNS: "example.test", DomainFlat: "EXAMPLE"}
	for _, c := range []struct {
		a    joinlogic.Account
		want string
	}{
		{joinlogic.Account{User: "admin"}, `EXAMPLE\admin`},
		{joinlogic.Account{User: "admin", Domain: "OTHER"}, `OTHER\admin`},
		{joinlogic.Account{User: "admin", UPN: true}, "admin@example.test"},
		{joinlogic.Account{User: "admin", Domain: "corp.test", UPN: true}, "admin@corp.test"},
	} {
		if got := bindName(c.a, dc); got != c.want {
			t.Errorf("bindName(%+v) = %s", c.a, got)
		}
	}
	if got := bindName(joinlogic.Account{User: "x"}, joinlogic.DCInfo{}); got != "x" {
		t.Errorf("no domain: %s", got)
	}
}

func TestErrorMapping(t *testing.T) {
	code := func(err error) joinlogic.Code {
		var c joinlogic.Code
		errors.As(err, &c)
		return c
	}
	le := func(rc uint16) error { return ldap.NewError(rc, errors.New("server says no")) }
	diag := func(rc uint16, msg string) error { return ldap.NewError(rc, errors.New(msg)) }
	for _, c := range []struct {
		err  error
		want joinlogic.Code
	}{
		{writeError(diag(ldap.LDAPResultConstraintViolation, "0000052D: Constraint violation - check_password_restrictions: the password is too short"), "dn"), joinlogic.ERROR_PASSWORD_RESTRICTION},
		{writeError(diag(ldap.LDAPResultUnwillingToPerform, "0000052D: Constraint violation"), "dn"), joinlogic.ERROR_PASSWORD_RESTRICTION},
		{writeError(diag(ldap.LDAPResultConstraintViolation, "setting unicodePwd refused"), "dn"), joinlogic.ERROR_PASSWORD_RESTRICTION},
		// The same LDAP codes about another attribute of the one write.
		{writeError(diag(ldap.LDAPResultConstraintViolation, "00002082: servicePrincipalName already in use"), "dn"), 0},
		{writeError(le(ldap.LDAPResultUnwillingToPerform), "dn"), 0},
		{writeError(le(ldap.LDAPResultInsufficientAccessRights), "dn"), joinlogic.ERROR_ACCESS_DENIED},
		{writeError(le(ldap.ErrorNetwork), "dn"), joinlogic.ERROR_NO_SUCH_DOMAIN},
		{opError(le(ldap.LDAPResultInsufficientAccessRights), "x"), joinlogic.ERROR_ACCESS_DENIED},
		{opError(le(ldap.ErrorNetwork), "x"), joinlogic.ERROR_NO_SUCH_DOMAIN},
		{opError(le(ldap.LDAPResultOther), "x"), 0},
		{bindError(le(ldap.LDAPResultInvalidCredentials), joinlogic.DCInfo{}, "u"), joinlogic.ERROR_LOGON_FAILURE},
		{bindError(le(ldap.ErrorNetwork), joinlogic.DCInfo{}, "u"), joinlogic.ERROR_NO_SUCH_DOMAIN},
		{bindError(le(ldap.LDAPResultBusy), joinlogic.DCInfo{}, "u"), joinlogic.ERROR_NO_SUCH_DOMAIN},
		{bindError(le(ldap.LDAPResultUnavailable), joinlogic.DCInfo{}, "u"), joinlogic.ERROR_NO_SUCH_DOMAIN},
	} {
		if got := code(c.err); got != c.want {
			t.Errorf("%v: code %v, want %v", c.err, got, c.want)
		}
	}
}

func TestNewDefaults(t *testing.T) {
	d := New(Config{})
	if d.cfg.LDAPPort != 389 || d.cfg.LDAPSPort != 636 || d.cfg.Timeout <= 0 || d.cfg.SupportedEncryptionTypes != 0x1C || d.log == nil {
		t.Errorf("defaults: %+v", d.cfg)
	}
	if _, err := New(Config{CAFile: "/nonexistent/ca.pem"}).tlsConfig("x"); err == nil {
		t.Error("missing CA file not reported")
	}
}

// TestIsNetworkError: go-ldap reports a write or read failing on an
// established connection as a plain error without its cause in the chain;
// those, like its ErrorNetwork results, are transport failures, while an
// answer of the server is not.
func TestIsNetworkError(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{errors.New("unable to send request: write tcp 127.0.0.1:1->127.0.0.2:636: write: connection reset by peer"), true},
		{errors.New("unable to read LDAP response packet: EOF"), true},
		{ldap.NewError(ldap.ErrorNetwork, errors.New("ldap: connection closed")), true},
		{fmt.Errorf("wrapped: %w", ldap.NewError(ldap.ErrorNetwork, io.EOF)), true},
		{&net.OpError{Op: "dial", Err: errors.New("connection refused")}, true},
		{ldap.NewError(ldap.LDAPResultInsufficientAccessRights, errors.New("denied")), false},
		{ldap.NewError(ldap.LDAPResultNoSuchObject, errors.New("no such object")), false},
		{nil, false},
	} {
		if got := isNetworkError(c.err); got != c.want {
			t.Errorf("isNetworkError(%v) = %v", c.err, got)
		}
	}
	if err := opError(errors.New("unable to read LDAP response packet: EOF"), "x"); !errors.Is(err, joinlogic.ERROR_NO_SUCH_DOMAIN) {
		t.Errorf("opError of a broken connection = %v", err)
	}
}
