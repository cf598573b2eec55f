package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oiweiwei/go-msrpc/dcerpc"
	"github.com/oiweiwei/go-msrpc/msrpc/wkst/wkssvc/v1"
	"github.com/oiweiwei/go-msrpc/smb2"
	"github.com/oiweiwei/go-msrpc/ssp"
	"github.com/oiweiwei/go-msrpc/ssp/credential"
	"github.com/oiweiwei/go-msrpc/ssp/gssapi"
	"github.com/oiweiwei/go-msrpc/ssp/krb5"

	"github.com/wkssvcd/wkssvcd/internal/testdc"
)

// member is a daemon joined to the test domain.
type member struct {
	dc   *testdc.DC
	d    *daemon
	name string // NetBIOS name
	fqdn string // DNS name, the host part of its SPNs
}

// joinedMember starts the daemon as name and joins it to the test domain
// with NetrJoinDomain3 as the local administrator.
func joinedMember(t *testing.T, name string, extra ...string) *member {
	t.Helper()
	dc := testdc.Start(t, testdc.Options{})
	d := domainDaemon(t, dc, name, extra...)
	if code := join3(t, d, adminUser, adminPass, testdc.DNSDomain, "", adminAccount(), dc.AdminPassword, optJoinDomain|optAcctCreate); code != 0 {
		t.Fatalf("NetrJoinDomain3: %#x\n%s", code, d.Output())
	}
	m := &member{dc: dc, d: d, name: name, fqdn: strings.ToLower(name) + "." + testdc.DNSDomain}
	t.Cleanup(func() { deleteComputer(t, dc, name) })
	return m
}

// domainUser creates a domain user (removed at the end of the test), a
// member of the given domain groups.
func domainUser(t *testing.T, dc *testdc.DC, user, pass string, groups ...string) {
	t.Helper()
	dc.CreateUser(t, user, pass)
	for _, g := range groups {
		dc.MustSambaTool(t, "group", "addmembers", g, user)
	}
}

// kinit gets a TGT for user@REALM with MIT kinit (the password on its
// standard input) into a private credential cache and returns the
// environment that makes Kerberos clients use it and the test realm.
func kinit(t *testing.T, dc *testdc.DC, user, pass string) []string {
	t.Helper()
	bin := lookPath(t, "kinit")
	cc := filepath.Join(t.TempDir(), "ccache")
	env := append(os.Environ(), "LANG=C", "KRB5_CONFIG="+dc.Krb5Conf, "KRB5CCNAME="+cc)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, user+"@"+testdc.Realm)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(pass + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kinit %s: %v\n%s", user, err, out)
	}
	return env
}

// serviceTickets puts tickets for cifs/FQDN and host/FQDN into the
// credential cache of env (MIT kvno).
func (m *member) serviceTickets(t *testing.T, env []string) {
	t.Helper()
	if out, err := runEnv(t, env, 30*time.Second, lookPath(t, "kvno"), "cifs/"+m.fqdn, "host/"+m.fqdn); err != nil {
		t.Fatalf("kvno: %v\n%s", err, out)
	}
}

// pythonEnv is python with env.
func pythonEnv(t *testing.T, env []string, script string, args ...string) (string, error) {
	t.Helper()
	if _, err := os.Stat(pythonPath); err != nil {
		t.Fatalf("%s missing (scripts/test installs python3-impacket): %v", pythonPath, err)
	}
	return runEnv(t, env, 60*time.Second, pythonPath, append([]string{"-B", filepath.Join("testdata", script)}, args...)...)
}

// runEnv runs a peer program with env and returns its combined output.
func runEnv(t *testing.T, env []string, timeout time.Duration, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// rpcclientKerberos runs rpcclient with the Kerberos ticket of env against
// the member, addressed by its DNS name (the SPN) and connected to its
// address.
func (m *member) rpcclientKerberos(t *testing.T, env []string, command string) (string, error) {
	t.Helper()
	return runEnv(t, env, 60*time.Second, lookPath(t, "rpcclient"), "-s", sambaConf(t), "--use-kerberos=required",
		"-I", m.d.host(), m.fqdn, "-c", command)
}

// dialKerberos connects with go-msrpc's SPNEGO/Kerberos initiator as
// user, asking the test KDC for cifs/FQDN.
func (m *member) dialKerberos(t *testing.T, user, pass string) (*msrpcClient, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	kcfg := krb5.NewConfig()
	conf, err := krb5.LoadKRB5Conf(m.dc.Krb5Conf)
	if err != nil {
		t.Fatal(err)
	}
	kcfg.KRB5Config = conf
	sec := []gssapi.ContextOption{
		gssapi.WithCredential(credential.NewFromPassword(user, pass, credential.Domain(testdc.Realm))),
		gssapi.WithMechanismFactory(ssp.SPNEGO),
		gssapi.WithMechanismFactory(ssp.KRB5, kcfg),
		gssapi.WithTargetName("cifs/" + m.fqdn),
	}
	conn, err := dcerpc.Dial(ctx, "ncacn_np:"+m.d.host()+"[wkssvc]", dcerpc.WithSMBDialer(smb2.NewDialer(smb2.WithSign(), smb2.WithSecurity(sec...))))
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	cli, err := wkssvc.NewWkssvcClient(ctx, conn, dcerpc.WithInsecure())
	if err != nil {
		return nil, err
	}
	return &msrpcClient{ctx: ctx, conn: conn, cli: cli}, nil
}

// TestKerberosLogonsAfterJoin: once joined, domain users log on with
// Kerberos tickets for the member's SPNs, issued by the test KDC and
// checked with the keytab the join wrote — from Samba's tools (MIT kinit
// first), go-msrpc and impacket.
func TestKerberosLogonsAfterJoin(t *testing.T) {
	m := joinedMember(t, "WKKRB")
	const user, pass = "kuser1", "Kuser1.Pa55word"
	domainUser(t, m.dc, user, pass)
	env := kinit(t, m.dc, user, pass)

	t.Run("smbclient -k", func(t *testing.T) {
		out, err := runEnv(t, env, 60*time.Second, lookPath(t, "smbclient"), "-s", sambaConf(t), "--use-kerberos=required",
			"-I", m.d.host(), "//"+m.fqdn+"/IPC$", "-c", "exit")
		if err != nil {
			t.Fatalf("smbclient -k: %v\n%s\n%s", err, out, m.d.Output())
		}
	})
	t.Run("rpcclient -k", func(t *testing.T) {
		out, err := m.rpcclientKerberos(t, env, "wkssvc_wkstagetinfo")
		if err != nil {
			t.Fatalf("rpcclient -k: %v\n%s\n%s", err, out, m.d.Output())
		}
	})
	t.Run("go-msrpc", func(t *testing.T) {
		c, err := m.dialKerberos(t, user, pass)
		if err != nil {
			t.Fatalf("go-msrpc Kerberos: %v\n%s", err, m.d.Output())
		}
		resp, err := c.cli.GetInfo(c.ctx, &wkssvc.GetInfoRequest{Level: 100})
		if err != nil || resp.Return != 0 {
			t.Fatalf("GetInfo 100: %v %+v", err, resp)
		}
		if got := resp.WorkstationInfo.GetValue().(*wkssvc.WorkstationInfo100).ComputerName; got != m.name {
			t.Errorf("computer name %q", got)
		}
	})
	t.Run("impacket -k", func(t *testing.T) {
		// impacket 0.10's own TGS-REQ is refused by this Samba's KDC
		// (KRB_AP_ERR_INAPP_CKSUM: it signs the request with an unkeyed
		// checksum), so it takes the service ticket MIT's kvno put in the
		// credential cache, as `impacket -k -no-pass` users do.
		m.serviceTickets(t, env)
		out, err := pythonEnv(t, env, "impacket_member.py", m.d.host(), m.fqdn, user, pass, testdc.Realm, "krb=1", "kdc="+m.dc.Addr)
		if err != nil || parseKV(out)["code"] != "0x00000000" {
			t.Fatalf("impacket -k: %v\n%s\n%s", err, out, m.d.Output())
		}
	})
	// Every logon above went through Kerberos: the daemon logged each one.
	if n := len(lines(m.d.Output(), "kerberos: logon")); n < 4 {
		t.Errorf("%d Kerberos logons logged, want 4 or more:\n%s", n, m.d.Output())
	}
}
