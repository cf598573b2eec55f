package netlogon

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"golang.org/x/crypto/md4"

	"github.com/wkssvcd/wkssvcd/internal/testdc"
)

func TestMain(m *testing.M) { os.Exit(testdc.Main(m)) }

func utf16le(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return b
}

func hmacMD5(key []byte, parts ...[]byte) []byte {
	h := hmac.New(md5.New, key)
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

// ntlmv2 computes a client's NTLMv2 response to challenge (MS-NLMP 3.3.2)
// and the SessionBaseKey the DC must return for it.
func ntlmv2(user, domain, password string, challenge [8]byte) (nt, sessionBaseKey []byte) {
	h := md4.New()
	h.Write(utf16le(password))
	key := hmacMD5(h.Sum(nil), utf16le(strings.ToUpper(user)+domain))
	blob := make([]byte, 28)
	blob[0], blob[1] = 1, 1
	binary.LittleEndian.PutUint64(blob[8:], uint64(time.Now().UnixNano()/100+116444736000000000))
	rand.Read(blob[16:24])
	blob = append(blob, 0, 0, 0, 0) // MsvAvEOL
	blob = append(blob, 0, 0, 0, 0)
	proof := hmacMD5(key, challenge[:], blob)
	return append(proof, blob...), hmacMD5(key, proof)
}

// machineAccount creates a computer account with a known password.
func machineAccount(t *testing.T, dc *testdc.DC, name, password string) Machine {
	t.Helper()
	dc.MustSambaTool(t, "computer", "create", name)
	t.Cleanup(func() { dc.SambaTool(context.Background(), "computer", "delete", name) })
	dc.MustSambaTool(t, "user", "setpassword", name+"$", "--newpassword="+password)
	return Machine{Domain: testdc.Domain, DomainFQDN: testdc.DNSDomain, Computer: name, Account: name + "$", Password: password}
}

func client(dc *testdc.DC, m *Machine) *Client {
	return New(Config{
		Machine: func() (Machine, bool) { return *m, m.Account != "" },
		Locate: func(ctx context.Context, domain string) (DC, error) {
			return DC{Name: dc.HostFQDN, Address: dc.Addr}, nil
		},
		Timeout: 20 * time.Second,
	})
}

func TestNetworkLogonPassThrough(t *testing.T) {
	dc := testdc.Start(t, testdc.Options{})
	m := machineAccount(t, dc, "NLPT", "Machine.Pa55word-1")
	c := client(dc, &m)
	defer c.Close()
	const user, pass = "nluser", "NlUser.Pa55word"
	dc.CreateUser(t, user, pass)
	dc.MustSambaTool(t, "group", "addmembers", "Domain Admins", user)

	var chal [8]byte
	rand.Read(chal[:])
	nt, sbk := ntlmv2(user, testdc.Domain, pass, chal)
	v, err := c.NetworkLogon(t.Context(), NetworkLogon{User: user, Domain: testdc.Domain, Workstation: "CLIENT", ServerChallenge: chal, NTResponse: nt})
	if err != nil {
		t.Fatalf("logon: %v", err)
	}
	if !strings.EqualFold(v.User, user) || v.Domain != testdc.Domain {
		t.Errorf("validation %+v", v)
	}
	if !bytes.Equal(v.SessionKey[:], sbk) {
		t.Errorf("session key %x, want the SessionBaseKey %x", v.SessionKey, sbk)
	}
	dom := v.SIDs[0][:strings.LastIndex(v.SIDs[0], "-")]
	found := false
	for _, s := range v.SIDs {
		found = found || s == dom+"-512"
	}
	if !found {
		t.Errorf("Domain Admins (512) not among the SIDs %v", v.SIDs)
	}

	// The same channel serves the next logons; a wrong password is the
	// DC's STATUS_WRONG_PASSWORD (or LOGON_FAILURE), not a broken channel.
	nt, _ = ntlmv2(user, testdc.Domain, "wrong", chal)
	_, err = c.NetworkLogon(t.Context(), NetworkLogon{User: user, Domain: testdc.Domain, Workstation: "CLIENT", ServerChallenge: chal, NTResponse: nt})
	var se *StatusError
	if !errors.As(err, &se) || (se.Status != statusWrongPassword && se.Status != statusLogonFailure) {
		t.Fatalf("wrong password: %v", err)
	}
	nt, _ = ntlmv2("nosuchuser", testdc.Domain, pass, chal)
	_, err = c.NetworkLogon(t.Context(), NetworkLogon{User: "nosuchuser", Domain: testdc.Domain, ServerChallenge: chal, NTResponse: nt})
	if !errors.As(err, &se) || (se.Status != statusNoSuchUser && se.Status != statusLogonFailure) {
		t.Fatalf("unknown user: %v", err)
	}
	dc.MustSambaTool(t, "user", "disable", user)
	nt, _ = ntlmv2(user, testdc.Domain, pass, chal)
	_, err = c.NetworkLogon(t.Context(), NetworkLogon{User: user, Domain: testdc.Domain, ServerChallenge: chal, NTResponse: nt})
	if !errors.As(err, &se) || se.Status != statusAccountDisabled {
		t.Fatalf("disabled user: %v", err)
	}
}

// TestWrongMachinePassword: the DC refuses the channel; the previous
// password, when it is the right one, is tried next.
func TestWrongMachinePassword(t *testing.T) {
	dc := testdc.Start(t, testdc.Options{})
	m := machineAccount(t, dc, "NLPW", "Machine.Pa55word-2")
	good := m.Password
	m.Password = "not.the.password"
	c := client(dc, &m)
	defer c.Close()
	if err := c.Test(t.Context()); !errors.Is(err, ErrAccessDenied) {
		t.Fatalf("wrong password: %v", err)
	}
	m.Previous = good
	if err := c.Test(t.Context()); err != nil {
		t.Fatalf("previous password not tried: %v", err)
	}
}

// TestChangePassword: NetrServerPasswordSet2 changes the password the DC
// holds; the old one stops working, the new one works.
func TestChangePassword(t *testing.T) {
	dc := testdc.Start(t, testdc.Options{})
	m := machineAccount(t, dc, "NLCP", "Machine.Pa55word-3")
	c := client(dc, &m)
	defer c.Close()
	const next = "Machine.Pa55word-4-new"
	if err := c.ChangePassword(t.Context(), next); err != nil {
		t.Fatalf("ChangePassword: %v", err)
	}
	if err := c.Test(t.Context()); !errors.Is(err, ErrAccessDenied) {
		t.Fatalf("old password after the change: %v", err)
	}
	m.Password, m.Previous = next, "Machine.Pa55word-3"
	res, err := c.TestDetails(t.Context())
	if err != nil || res.Previous {
		t.Fatalf("new password: %+v %v", res, err)
	}
	if err := c.ChangePassword(t.Context(), ""); err == nil {
		t.Fatal("empty password accepted")
	}
}
