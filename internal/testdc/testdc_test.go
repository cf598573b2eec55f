package testdc

import (
	"context"
	"crypto/tls"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func TestStartAnswersLDAPSAndSambaTool(t *testing.T) {
	dc := Start(t, Options{})
	if err := dc.probe(); err != nil {
		t.Fatalf("probe: %v", err)
	}
	out := dc.MustSambaTool(t, "domain", "info", dc.Addr)
	if !strings.Contains(strings.ToLower(out), dc.DNSDomain) {
		t.Fatalf("samba-tool domain info does not name %s:\n%s", dc.DNSDomain, out)
	}
	dc.CreateUser(t, "plainuser1", "Pl41n.User-Pass")
	dc.CreateOU(t, "OU=FixtureOU,"+dc.BaseDN)
	out = dc.MustSambaTool(t, "ou", "list")
	if !strings.Contains(out, "FixtureOU") {
		t.Fatalf("OU not listed:\n%s", out)
	}
	if again := Start(t, Options{}); again != dc {
		t.Fatal("second Start in the same binary did not return the shared DC")
	}
}

func TestStopAndStart(t *testing.T) {
	dc := Start(t, Options{})
	dc.Stop(t)
	if dc.Running() {
		t.Fatal("Running after Stop")
	}
	if c, err := net.DialTimeout("tcp", net.JoinHostPort(dc.Addr, "636"), time.Second); err == nil {
		c.Close()
		t.Fatal("LDAPS still answers after Stop")
	}
	dc.Start(t)
	if err := dc.probe(); err != nil {
		t.Fatalf("probe after restart: %v", err)
	}
	c, err := tls.Dial("tcp", net.JoinHostPort(dc.Addr, "636"), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	_ = context.Background()
}

func TestHelpers(t *testing.T) {
	got := redactArgs([]string{"user", "create", "u1", "--newpassword=secret", "P@ss"})
	if strings.Join(got, " ") != "user create [...]" {
		t.Errorf("redactArgs = %v", got)
	}
	conf := krb5Conf()
	for _, want := range []string{"default_realm = " + Realm, "kdc = " + Addr(), "dns_lookup_kdc = false"} {
		if !strings.Contains(conf, want) {
			t.Errorf("krb5.conf lacks %q:\n%s", want, conf)
		}
	}
}

func TestRelayCutAndRestore(t *testing.T) {
	dc := Start(t, Options{})
	r := dc.Relay(t, 636)
	addr := net.JoinHostPort(dc.Addr, strconv.Itoa(r.Port()))
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("through the relay: %v", err)
	}
	r.Cut()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("a relayed connection survived Cut")
	}
	c.Close()
	if c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}); err == nil {
		c.Close()
		t.Error("a new connection succeeded while cut")
	}
	r.Restore()
	c, err = tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("after Restore: %v", err)
	}
	c.Close()
}
