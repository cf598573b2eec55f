package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oiweiwei/go-msrpc/dcerpc"
	"github.com/oiweiwei/go-msrpc/msrpc/wkst/wkssvc/v1"
	"github.com/oiweiwei/go-msrpc/smb2"
	"github.com/oiweiwei/go-msrpc/ssp"
	"github.com/oiweiwei/go-msrpc/ssp/credential"
	"github.com/oiweiwei/go-msrpc/ssp/gssapi"

	"github.com/wkssvcd/wkssvcd/internal/testdc"
	"github.com/wkssvcd/wkssvcd/internal/testnet"
	"github.com/wkssvcd/wkssvcd/joinlogic"
)

// dialDomainNTLM connects with go-msrpc's NTLM as DOMAIN\user.
func dialDomainNTLM(t *testing.T, host, domain, user, pass string) (*msrpcClient, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	sec := []gssapi.ContextOption{
		gssapi.WithCredential(credential.NewFromPassword(user, pass, credential.Domain(domain))),
		gssapi.WithMechanismFactory(ssp.SPNEGO),
		gssapi.WithMechanismFactory(ssp.NTLM),
	}
	conn, err := dcerpc.Dial(ctx, "ncacn_np:"+host+"[wkssvc]", dcerpc.WithSMBDialer(smb2.NewDialer(smb2.WithSign(), smb2.WithSecurity(sec...))))
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

// getInfo calls NetrWkstaGetInfo at level and returns its Win32 code.
func getInfoCode(t *testing.T, c *msrpcClient, level uint32) uint32 {
	t.Helper()
	resp, err := c.cli.GetInfo(c.ctx, &wkssvc.GetInfoRequest{Level: level})
	code := uint32(0)
	if resp != nil {
		code = resp.Return
	}
	return returnCodeAny(t, code, err)
}

// groupSID returns the SID of a domain group.
func groupSID(t *testing.T, dc *testdc.DC, group string) string {
	t.Helper()
	out := dc.MustSambaTool(t, "group", "show", group, "--attributes=objectSid")
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "objectSid: "); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no objectSid for %s:\n%s", group, out)
	return ""
}

// TestDomainAccountsAfterJoin: after a join, domain accounts log on with
// NTLM (checked by the DC through the Netlogon secure channel) and with
// Kerberos; Domain Admins and the members of --admin-group groups (by
// name and by SID) administer the host, other domain users are plain
// users, and disabled accounts or wrong passwords are refused.
func TestDomainAccountsAfterJoin(t *testing.T) {
	dc := testdc.Start(t, testdc.Options{})
	dc.MustSambaTool(t, "group", "add", "WkOps")
	t.Cleanup(func() { dc.SambaTool(context.Background(), "group", "delete", "WkOps") })
	dc.MustSambaTool(t, "group", "add", "WkSidOps")
	t.Cleanup(func() { dc.SambaTool(context.Background(), "group", "delete", "WkSidOps") })
	sidOps := groupSID(t, dc, "WkSidOps")
	m := joinedMember(t, "WKDOM", "--admin-group", "WkOps", "--admin-group", sidOps)

	users := map[string]struct {
		pass   string
		groups []string
		admin  bool
	}{
		"dadmin1": {"Dadmin1.Pa55word", []string{"Domain Admins"}, true},
		"dplain1": {"Dplain1.Pa55word", nil, false},
		"dops1":   {"Dops1.Pa55word", []string{"WkOps"}, true},
		"dsid1":   {"Dsid1.Pa55word", []string{"WkSidOps"}, true},
	}
	for u, v := range users {
		domainUser(t, dc, u, v.pass, v.groups...)
	}
	domainUser(t, dc, "ddis1", "Ddis1.Pa55word")
	dc.MustSambaTool(t, "user", "disable", "ddis1")

	for u, v := range users {
		t.Run("NTLM "+u, func(t *testing.T) {
			// --admin-group names are resolved in the background once the
			// host is joined: give it a few logons' time.
			deadline := time.Now().Add(90 * time.Second)
			for {
				c, err := dialDomainNTLM(t, m.d.host(), testdc.Domain, u, v.pass)
				if err != nil {
					t.Fatalf("NTLM logon as %s\\%s: %v\n%s", testdc.Domain, u, err, m.d.Output())
				}
				if code := getInfoCode(t, c, 100); code != 0 {
					t.Fatalf("GetInfo 100 as %s: %#x", u, code)
				}
				code := getInfoCode(t, c, 102)
				want := uint32(joinlogic.ERROR_ACCESS_DENIED)
				if v.admin {
					want = 0
				}
				if code == want {
					return
				}
				if !v.admin || time.Now().After(deadline) {
					t.Fatalf("GetInfo 102 as %s: %#x, want %#x\n%s", u, code, want, m.d.Output())
				}
				time.Sleep(2 * time.Second)
			}
		})
	}
	t.Run("NTLM disabled account", func(t *testing.T) {
		if _, err := dialDomainNTLM(t, m.d.host(), testdc.Domain, "ddis1", "Ddis1.Pa55word"); err == nil {
			t.Fatal("a disabled account logged on")
		}
		waitLog(t, m.d, "account disabled (domain controller)")
	})
	t.Run("NTLM wrong password", func(t *testing.T) {
		if _, err := dialDomainNTLM(t, m.d.host(), testdc.Domain, "dplain1", "not-the-password"); err == nil {
			t.Fatal("a wrong password logged on")
		}
	})
	t.Run("rpcclient NTLM", func(t *testing.T) {
		out, err := run(t, 60*time.Second, lookPath(t, "rpcclient"), "-s", sambaConf(t), "-U", testdc.Domain+`\dadmin1%Dadmin1.Pa55word`,
			m.d.host(), "-c", "wkssvc_wkstagetinfo 102")
		if err != nil || strings.Contains(out, "WERR_ACCESS_DENIED") {
			t.Fatalf("rpcclient as a Domain Admin, level 102: %v\n%s", err, out)
		}
	})
	t.Run("impacket NTLM", func(t *testing.T) {
		for u, want := range map[string]string{"dadmin1": "0x00000000", "dplain1": "0x00000005"} {
			out, err := python(t, "impacket_member.py", m.d.host(), m.fqdn, u, users[u].pass, testdc.Domain, "level=102")
			if err != nil || parseKV(out)["code"] != want {
				t.Fatalf("impacket as %s, level 102: %v\n%s", u, err, out)
			}
		}
	})
	t.Run("Kerberos", func(t *testing.T) {
		for u, want := range map[string]string{"dadmin1": "WERR_OK", "dplain1": "WERR_ACCESS_DENIED"} {
			env := kinit(t, dc, u, users[u].pass)
			out, _ := runEnv(t, env, 60*time.Second, lookPath(t, "rpcclient"), "-d", "10", "-s", sambaConf(t), "--use-kerberos=required",
				"-I", m.d.host(), m.fqdn, "-c", "wkssvc_wkstagetinfo 102")
			if !strings.Contains(out, "result                   : "+want) && !strings.Contains(out, want) {
				t.Fatalf("rpcclient -k as %s, level 102: want %s\n%s", u, want, out)
			}
		}
	})
	// Every domain logon was logged with the caller's SIDs and the
	// decision.
	if n := len(lines(m.d.Output(), `msg="domain logon"`)); n < 6 {
		t.Errorf("%d domain logons logged:\n%s", n, m.d.Output())
	}
	waitLog(t, m.d, "admin_by="+sidOps) // a logon made an administrator by --admin-group's SID
}

// TestUnjoinWithDomainCredentialsOnly: a Domain Admin unjoins the host
// with nothing but domain credentials — this project's `wkst unjoin`
// (options 0: the computer account stays) and Samba's `net dom unjoin`
// (NETSETUP_ACCT_DELETE with the account and password it is given: the
// computer account ends up disabled). No local account is involved.
func TestUnjoinWithDomainCredentialsOnly(t *testing.T) {
	dc := testdc.Start(t, testdc.Options{})
	const admin, adminPw = "dadmin2", "Dadmin2.Pa55word"
	domainUser(t, dc, admin, adminPw, "Domain Admins")

	t.Run("wkst unjoin", func(t *testing.T) {
		m := joinedMember(t, "WKUJ1")
		cmd := exec.Command(filepath.Join(binDir, "wkst"), "unjoin", "--server", m.d.host(), "--user", testdc.Domain+`\`+admin)
		cmd.Env = append(os.Environ(), "WKST_PASSWORD="+adminPw)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("wkst unjoin as %s\\%s: %v\n%s\n%s", testdc.Domain, admin, err, out, m.d.Output())
		}
		checkLeftDomain(t, dc, m, false)
		// A plain domain user may not.
		m2 := joinedMember(t, "WKUJ3")
		domainUser(t, dc, "dplain2", "Dplain2.Pa55word")
		cmd = exec.Command(filepath.Join(binDir, "wkst"), "unjoin", "--server", m2.d.host(), "--user", testdc.Domain+`\dplain2`)
		cmd.Env = append(os.Environ(), "WKST_PASSWORD=Dplain2.Pa55word")
		if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "ERROR_ACCESS_DENIED") {
			t.Fatalf("wkst unjoin as a plain domain user: %v\n%s", err, out)
		}
		if _, status := joinInfo(t, m2.d); status != wkssvc.NetSetupJoinStatusDomainName {
			t.Error("a plain domain user unjoined the host")
		}
	})
	t.Run("net dom unjoin", func(t *testing.T) {
		remote := testnet.Remote()
		m := joinedMember(t, "WKUJ2", "--listen", remote+":445")
		lookPath(t, "net")
		lookPath(t, "unshare")
		dir := t.TempDir()
		write := func(file, content string) string {
			p := filepath.Join(dir, file)
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			return p
		}
		for _, sub := range []string{"lock", "state", "cache", "private", "pid"} {
			os.MkdirAll(filepath.Join(dir, sub), 0o755)
		}
		conf := write("smb.conf", fmt.Sprintf("[global]\n\tworkgroup = %s\n\trealm = %s\n\tlock directory = %s/lock\n\tstate directory = %s/state\n\tcache directory = %s/cache\n\tprivate dir = %s/private\n\tpid directory = %s/pid\n",
			testdc.Domain, testdc.Realm, dir, dir, dir, dir, dir))
		resolv := write("resolv.conf", "nameserver "+dc.Addr+"\n")
		hosts := write("hosts", "127.0.0.1 localhost\n"+remote+" wkhost\n"+dc.Addr+" "+dc.HostFQDN+" "+dc.HostName+"\n")
		script := fmt.Sprintf("mount --bind %s /etc/resolv.conf && mount --bind %s /etc/hosts && exec net -s %s dom unjoin -S wkhost -U '%s\\%s%%%s' 'account=%s\\%s' 'password=%s'",
			resolv, hosts, conf, testdc.Domain, admin, adminPw, testdc.Domain, admin, adminPw)
		if out, err := run(t, 60*time.Second, "unshare", "--mount", "--propagation", "private", "sh", "-c", script); err != nil {
			t.Fatalf("net dom unjoin -U %s\\%s: %v\n%s\n%s", testdc.Domain, admin, err, out, m.d.Output())
		}
		checkLeftDomain(t, dc, m, true)
		waitLog(t, m.d, "caller="+testdc.Domain+`\`+admin) // the unjoin was made as the domain account
	})
}

// waitLog waits a little for a line of the daemon's log (its output is
// copied from a pipe).
func waitLog(t *testing.T, d *daemon, sub string) {
	t.Helper()
	// The line is written when the daemon has answered, or just after;
	// on a loaded machine (the suite runs packages side by side) that can
	// be seconds later. Waiting longer costs nothing when it is there.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(d.Output(), sub) {
		if time.Now().After(deadline) {
			t.Errorf("the log does not say %q:\n%s", sub, d.Output())
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkLeftDomain verifies an unjoin: the host no longer a member, the
// keytab gone, and the account disabled when disabled is true
// (NETSETUP_ACCT_DELETE) and enabled otherwise.
func checkLeftDomain(t *testing.T, dc *testdc.DC, m *member, disabled bool) {
	t.Helper()
	if _, status := joinInfo(t, m.d); status == wkssvc.NetSetupJoinStatusDomainName {
		t.Error("still a domain member after the unjoin")
	}
	e := computer(t, dc, m.name)
	if e == nil {
		t.Fatalf("the account %s$ is gone; NETSETUP_ACCT_DELETE disables it", m.name)
	}
	if uac, _ := strconv.Atoi(e.GetAttributeValue("userAccountControl")); (uac&0x2 != 0) != disabled {
		t.Errorf("userAccountControl %#x after the unjoin: disabled should be %v", uac, disabled)
	}
	if _, err := os.Stat(filepath.Join(m.d.stateDir, "krb5.keytab")); !os.IsNotExist(err) {
		t.Errorf("keytab still there after the unjoin: %v", err)
	}
}
