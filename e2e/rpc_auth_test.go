package e2e

import (
	"bytes"
	"context"
	"fmt"
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

// errAccessDenied is ERROR_ACCESS_DENIED.
const errAccessDenied = 0x00000005

// dialRPCAuth opens \PIPE\wkssvc over an SMB session of smbUser (NTLM)
// and binds with RPC-level security made of rpcOpts.
func (m *member) dialRPCAuth(t *testing.T, smbUser, smbPass string, rpcOpts ...dcerpc.Option) (*msrpcClient, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	sec := []gssapi.ContextOption{
		gssapi.WithCredential(credential.NewFromPassword(smbUser, smbPass, credential.Domain(testdc.Domain))),
		gssapi.WithMechanismFactory(ssp.SPNEGO),
		gssapi.WithMechanismFactory(ssp.NTLM),
	}
	conn, err := dcerpc.Dial(ctx, "ncacn_np:"+m.d.host()+"[wkssvc]", dcerpc.WithSMBDialer(smb2.NewDialer(smb2.WithSign(), smb2.WithSecurity(sec...))))
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	cli, err := wkssvc.NewWkssvcClient(ctx, conn, rpcOpts...)
	if err != nil {
		return nil, err
	}
	return &msrpcClient{ctx: ctx, conn: conn, cli: cli}, nil
}

// krb5RPC are go-msrpc's options for a Kerberos (or SPNEGO/Kerberos)
// RPC bind as user at level.
func (m *member) krb5RPC(t *testing.T, user, pass string, spnego bool, level dcerpc.Option) []dcerpc.Option {
	t.Helper()
	kcfg := krb5.NewConfig()
	conf, err := krb5.LoadKRB5Conf(m.dc.Krb5Conf)
	if err != nil {
		t.Fatal(err)
	}
	kcfg.KRB5Config = conf
	kcfg.DCEStyle = true
	opts := []dcerpc.Option{level}
	if spnego {
		opts = append(opts, dcerpc.WithMechanism(ssp.SPNEGO))
	}
	return append(opts, dcerpc.WithMechanism(ssp.KRB5, kcfg),
		dcerpc.WithCredentials(credential.NewFromPassword(user, pass, credential.Domain(testdc.Realm))),
		dcerpc.WithTargetName("host/"+m.fqdn))
}

// rpcclientFailed reports whether rpcclient's output says the command
// failed (it prints nothing for a successful wkssvc_wkstagetinfo).
func rpcclientFailed(out string) bool {
	return strings.Contains(out, "result was") || strings.Contains(out, "NT_STATUS") || strings.Contains(out, "WERR_") ||
		strings.Contains(out, "failed")
}

// TestAuthenticatedRPCOnMember: on a joined member, RPC binds carry their
// own logon — NTLM (checked by the DC through the secure channel),
// Kerberos and SPNEGO, at the connect, integrity and privacy levels, from
// impacket, rpcclient and go-msrpc. The calls run as the RPC-level
// identity: a Domain Admin bound over a plain user's SMB session
// administers the host, a plain user bound over an administrator's
// session does not. A request changed in transit is refused.
func TestAuthenticatedRPCOnMember(t *testing.T) {
	m := joinedMember(t, "WKARPC")
	const dadmin, dadminPass = "arpcadm", "Arpcadm.Pa55word"
	const user, userPass = "arpcusr", "Arpcusr.Pa55word"
	domainUser(t, m.dc, dadmin, dadminPass, "Domain Admins")
	domainUser(t, m.dc, user, userPass)
	// impacket takes the service tickets MIT's kvno put in the cache (its
	// own TGS-REQ is refused by the test KDC).
	env := kinit(t, m.dc, dadmin, dadminPass)
	m.serviceTickets(t, env)

	t.Run("impacket", func(t *testing.T) {
		for _, auth := range []string{"ntlm", "krb"} {
			for _, level := range []string{"connect", "integrity", "privacy"} {
				if auth == "krb" && level == "integrity" {
					// impacket 0.10's Kerberos GSS_GetMIC fails before
					// sending ("can't concat str to bytes"); rpcclient and
					// go-msrpc cover Kerberos at the integrity level.
					continue
				}
				t.Run(auth+"/"+level, func(t *testing.T) {
					// A plain user's SMB session, the Domain Admin's bind.
					out, err := pythonEnv(t, env, "impacket_member.py", m.d.host(), m.fqdn, user, userPass, testdc.Domain,
						"rpcauth="+auth, "rpclevel="+level, "rpcuser="+dadmin, "rpcpass="+dadminPass, "kdc="+m.dc.Addr, "level=102")
					if err != nil || parseKV(out)["code"] != "0x00000000" {
						t.Fatalf("GetInfo 102 bound as a Domain Admin: %v\n%s\n%s", err, out, m.d.Output())
					}
				})
			}
		}
		t.Run("plain user bound over an administrator's session", func(t *testing.T) {
			out, err := pythonEnv(t, env, "impacket_member.py", m.d.host(), m.fqdn, dadmin, dadminPass, testdc.Domain,
				"rpcauth=ntlm", "rpclevel=privacy", "rpcuser="+user, "rpcpass="+userPass, "level=102")
			if err != nil || parseKV(out)["code"] != fmt.Sprintf("0x%08x", errAccessDenied) {
				t.Fatalf("GetInfo 102 bound as a plain user: %v, want ERROR_ACCESS_DENIED\n%s", err, out)
			}
		})
		for _, tc := range []struct{ auth, level string }{{"ntlm", "integrity"}, {"ntlm", "privacy"}, {"krb", "privacy"}} {
			t.Run("tampered/"+tc.auth+"/"+tc.level, func(t *testing.T) {
				before := strings.Count(m.d.Output(), "failed its security check")
				out, _ := pythonEnv(t, env, "impacket_member.py", m.d.host(), m.fqdn, user, userPass, testdc.Domain,
					"rpcauth="+tc.auth, "rpclevel="+tc.level, "rpcuser="+dadmin, "rpcpass="+dadminPass, "kdc="+m.dc.Addr, "tamper=1")
				if parseKV(out)["code"] == "0x00000000" {
					t.Fatalf("a tampered request was answered:\n%s", out)
				}
				deadline := time.Now().Add(10 * time.Second)
				for strings.Count(m.d.Output(), "failed its security check") <= before {
					if time.Now().After(deadline) {
						t.Fatalf("the daemon did not refuse the request for its verifier:\n%s\n%s", out, m.d.Output())
					}
					time.Sleep(100 * time.Millisecond)
				}
			})
		}
	})

	t.Run("rpcclient", func(t *testing.T) {
		for _, b := range []string{"krb5,sign", "krb5,seal", "spnego,seal", "krb5,connect"} {
			t.Run(b, func(t *testing.T) {
				out, err := runEnv(t, env, 60*time.Second, lookPath(t, "rpcclient"), "-s", sambaConf(t), "--use-kerberos=required",
					"-I", m.d.host(), "ncacn_np:"+m.fqdn+"["+b+"]", "-c", "wkssvc_wkstagetinfo 102")
				if err != nil || rpcclientFailed(out) {
					t.Fatalf("rpcclient [%s]: %v\n%s\n%s", b, err, out, m.d.Output())
				}
			})
		}
		for _, b := range []string{"ntlm,sign", "ntlm,seal", "spnego,sign"} {
			t.Run(b, func(t *testing.T) {
				out, err := run(t, 60*time.Second, lookPath(t, "rpcclient"), "-s", sambaConf(t), "--use-kerberos=disabled",
					"-U", testdc.Domain+`\`+dadmin+"%"+dadminPass, "-I", m.d.host(), "ncacn_np:"+m.fqdn+"["+b+"]", "-c", "wkssvc_wkstagetinfo 102")
				if err != nil || rpcclientFailed(out) {
					t.Fatalf("rpcclient [%s]: %v\n%s\n%s", b, err, out, m.d.Output())
				}
			})
		}
	})

	t.Run("go-msrpc", func(t *testing.T) {
		cases := []struct {
			name string
			opts []dcerpc.Option
		}{
			{"kerberos/privacy", m.krb5RPC(t, dadmin, dadminPass, false, dcerpc.WithSeal())},
			{"kerberos/integrity", m.krb5RPC(t, dadmin, dadminPass, false, dcerpc.WithSign())},
			{"spnego-kerberos/privacy", m.krb5RPC(t, dadmin, dadminPass, true, dcerpc.WithSeal())},
			{"ntlm/privacy", []dcerpc.Option{dcerpc.WithSeal(), dcerpc.WithMechanism(ssp.NTLM),
				dcerpc.WithCredentials(credential.NewFromPassword(dadmin, dadminPass, credential.Domain(testdc.Domain)))}},
			{"spnego-ntlm/integrity", []dcerpc.Option{dcerpc.WithSign(), dcerpc.WithMechanism(ssp.SPNEGO), dcerpc.WithMechanism(ssp.NTLM),
				dcerpc.WithCredentials(credential.NewFromPassword(dadmin, dadminPass, credential.Domain(testdc.Domain)))}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				c, err := m.dialRPCAuth(t, user, userPass, tc.opts...)
				if err != nil {
					t.Fatalf("bind: %v\n%s", err, m.d.Output())
				}
				if code := getInfoCode(t, c, 102); code != 0 {
					t.Fatalf("GetInfo 102 bound as a Domain Admin over a plain user's session: %#x\n%s", code, m.d.Output())
				}
			})
		}
		t.Run("plain user bound over an administrator's session", func(t *testing.T) {
			c, err := m.dialRPCAuth(t, dadmin, dadminPass, m.krb5RPC(t, user, userPass, false, dcerpc.WithSeal())...)
			if err != nil {
				t.Fatalf("bind: %v\n%s", err, m.d.Output())
			}
			if code := getInfoCode(t, c, 102); code != errAccessDenied {
				t.Fatalf("GetInfo 102: %#x, want ERROR_ACCESS_DENIED", code)
			}
			if code := getInfoCode(t, c, 100); code != 0 {
				t.Fatalf("GetInfo 100: %#x", code)
			}
		})
	})

	// Every bind was logged with its identity and level.
	for _, want := range []string{"auth_type=10", "auth_type=16", "auth_type=9", "auth_level=2", "auth_level=5", "auth_level=6", "user=" + dadmin} {
		if !strings.Contains(strings.Join(lines(m.d.Output(), "dcerpc: RPC-level logon"), "\n"), want) {
			t.Errorf("no RPC-level logon logged with %s", want)
		}
	}
}

// TestJoinOverAuthenticatedRPC: a join and an unjoin over RPC binds with
// their own logon, at the integrity and privacy levels, the password
// blobs encrypted with the key Windows uses then: impacket's NTLM bind as
// the local administrator joins; go-msrpc's Kerberos bind as a Domain
// Admin, over a plain domain user's SMB session, rejoins (a new machine
// password) and unjoins with the domain credentials (the account
// disabled).
func TestJoinOverAuthenticatedRPC(t *testing.T) {
	dc := testdc.Start(t, testdc.Options{})
	const dadmin, dadminPass = "jrpcadm", "Jrpcadm.Pa55word"
	const user, userPass = "jrpcusr", "Jrpcusr.Pa55word"
	domainUser(t, dc, dadmin, dadminPass, "Domain Admins")
	domainUser(t, dc, user, userPass)
	for _, level := range []string{"integrity", "privacy"} {
		t.Run(level, func(t *testing.T) {
			name := "WKJR" + strings.ToUpper(level[:1])
			d := domainDaemon(t, dc, name)
			t.Cleanup(func() { deleteComputer(t, dc, name) })
			out, err := python(t, "impacket_join.py", daemonAddr, "445", "3.0", adminUser, adminPass, "join3",
				"domain="+testdc.DNSDomain, "account="+adminAccount(), "joinpw="+dc.AdminPassword,
				fmt.Sprintf("options=%d", optJoinDomain|optAcctCreate), "rpcauth=ntlm", "rpclevel="+level)
			if err != nil || parseKV(out)["code"] != "0x00000000" {
				t.Fatalf("impacket NetrJoinDomain3 over an NTLM bind at %s: %v\n%s\n%s", level, err, out, d.Output())
			}
			checkJoined(t, dc, d, name, computersDN(name))
			waitLog(t, d, "auth_type=10 auth_level="+map[string]string{"integrity": "5", "privacy": "6"}[level])

			m := &member{dc: dc, d: d, name: name, fqdn: strings.ToLower(name) + "." + testdc.DNSDomain}
			lvl := dcerpc.WithSign()
			if level == "privacy" {
				lvl = dcerpc.WithSeal()
			}
			c, err := m.dialRPCAuth(t, user, userPass, m.krb5RPC(t, dadmin, dadminPass, false, lvl)...)
			if err != nil {
				t.Fatalf("Kerberos bind: %v\n%s", err, d.Output())
			}
			key := c.sessionKey()
			if !bytes.Equal(key, []byte("SystemLibraryDTC")) {
				t.Fatalf("go-msrpc encrypts with %x above the connect level", key)
			}
			// A rejoin over the Kerberos bind, with the domain
			// credentials: the machine password changes.
			_, kvno0 := accountAttrs(t, dc, name)
			jresp, err := c.cli.JoinDomain3(c.ctx, &wkssvc.JoinDomain3Request{DomainNameParam: testdc.DNSDomain,
				AccountName: testdc.Domain + `\` + dadmin, Password: aesBlob(t, key, dadminPass),
				Options: optJoinDomain | optAcctCreate | optDomainIfJoin})
			if code := returnCodeAny(t, ret3(jresp), err); code != 0 {
				t.Fatalf("NetrJoinDomain3 (rejoin) over a Kerberos bind as a Domain Admin: %#x\n%s", code, d.Output())
			}
			checkJoined(t, dc, d, name, computersDN(name))
			if _, kvno1 := accountAttrs(t, dc, name); kvno1 <= kvno0 {
				t.Fatalf("the rejoin did not change the machine password (key version %d -> %d)", kvno0, kvno1)
			}
			resp, err := c.cli.UnjoinDomain3(c.ctx, &wkssvc.UnjoinDomain3Request{
				AccountName: testdc.Domain + `\` + dadmin, Password: aesBlob(t, key, dadminPass), Options: optAcctDelete})
			code := uint32(0)
			if resp != nil {
				code = resp.Return
			}
			if code = returnCodeAny(t, code, err); code != 0 {
				t.Fatalf("NetrUnjoinDomain3 over a Kerberos bind as a Domain Admin: %#x\n%s", code, d.Output())
			}
			checkLeftDomain(t, dc, m, true)
			waitLog(t, d, "caller="+testdc.Domain+`\`+dadmin)
		})
	}
}
