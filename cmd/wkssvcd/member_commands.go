package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/oiweiwei/gokrb5.fork/v9/client"
	krbconfig "github.com/oiweiwei/gokrb5.fork/v9/config"
	krbcrypto "github.com/oiweiwei/gokrb5.fork/v9/crypto"
	"github.com/oiweiwei/gokrb5.fork/v9/iana/etypeID"
	"github.com/oiweiwei/gokrb5.fork/v9/iana/keyusage"
	gokeytab "github.com/oiweiwei/gokrb5.fork/v9/keytab"

	"github.com/wkssvcd/wkssvcd/joinlogic"
	"github.com/wkssvcd/wkssvcd/joinlogic/keytab"
	"github.com/wkssvcd/wkssvcd/joinlogic/ldapdir"
)

// memberCommands are the subcommands of a domain member.
func memberCommands() []*command {
	groups := []string{groupGeneral, groupServer, groupDirectory, groupMember, groupLogging}
	return []*command{
		{
			name:    "testjoin",
			summary: "check the domain membership with the stored secret: the Netlogon secure channel and Kerberos with the keytab",
			about: `Like Samba's net rpc testjoin: settles a join, unjoin or password change a
crash interrupted, then builds a Netlogon secure channel with the machine
password (NetrServerAuthenticate3) and gets a Kerberos ticket as the machine
account with the keytab's keys, then a service ticket for host/FQDN that must
decrypt with the keytab. Exit status 0 when both work, 1 otherwise; the line
printed says which check failed and why.`,
			groups: groups,
			run:    testJoin,
		},
		{
			name:    "rotate-password",
			summary: "change the machine password now (NetrServerPasswordSet2), keeping the previous key in the keytab",
			about: `Changes the machine account's password at a domain controller over the
Netlogon secure channel, then writes the new keys into the keytab (the
previous key version stays, so tickets issued before still decrypt) and
saves the membership. The change is journaled: a crash at any moment leaves a
password that works, and the next start of wkssvcd (or the next testjoin)
completes or drops it. A running daemon picks the new password up by
itself; the daemon also does this every --machine-password-max-age.`,
			groups: groups,
			run:    rotatePassword,
		},
	}
}

// memberTools are the parts of the daemon the member commands need.
type memberTools struct {
	store  *joinlogic.Store
	dir    *ldapdir.Directory
	member *member
	joiner *joinlogic.Joiner
	logger *slog.Logger
}

func openMemberTools(inv *invocation) (*memberTools, error) {
	cfg := inv.cfg
	l, err := cfg.logLevel()
	if err != nil {
		return nil, err
	}
	level := new(slog.LevelVar)
	level.Set(l)
	logger := slog.New(newLogHandler(inv.env.stderr, cfg.LogFormat, level, inv.env.getenv))
	names, err := openNames(cfg, logger)
	if err != nil {
		return nil, err
	}
	store, err := openStore(cfg)
	if err != nil {
		return nil, err
	}
	// A settled unjoin removes the offline join's files, as in the daemon.
	followMembership(cfg.StateDir, store, logger)
	dir := ldapdir.New(cfg.directoryConfig(logger))
	m := newMember(cfg, names, store, dir, logger)
	kt, err := keytab.NewFileStore(cfg.Keytab)
	if err != nil {
		return nil, err
	}
	joiner, err := joinlogic.New(joinlogic.Config{
		Names: names, Store: store, Directory: dir, Keytab: kt, PasswordChanger: m,
		Logger: logger.With("component", "join"),
	})
	if err != nil {
		return nil, err
	}
	m.joiner = joiner
	return &memberTools{store: store, dir: dir, member: m, joiner: joiner, logger: logger}, nil
}

func (t *memberTools) close() {
	t.joiner.Close()
	t.member.close()
}

// settle completes or drops an operation a crash interrupted.
func (t *memberTools) settle(ctx context.Context) error {
	pending, err := t.joiner.Recover(ctx)
	if err != nil {
		return err
	}
	if pending {
		return errors.New("an interrupted join, unjoin or password change awaits the domain controller, which did not answer")
	}
	return nil
}

func rotatePassword(ctx context.Context, inv *invocation) error {
	t, err := openMemberTools(inv)
	if err != nil {
		return err
	}
	defer t.close()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if err := t.settle(ctx); err != nil {
		return err
	}
	res, err := t.joiner.RotatePassword(ctx, joinlogic.RotateRequest{Force: true})
	if err != nil {
		return fmt.Errorf("machine password change: %w", err)
	}
	ms, _ := t.store.Load()
	fmt.Fprintf(inv.env.stdout, "wkssvcd: machine password of %s changed at %s (key version %d); the previous one is kept as the previous key\n",
		ms.ClientName, res.DC, res.KVNO)
	return nil
}

func testJoin(ctx context.Context, inv *invocation) error {
	t, err := openMemberTools(inv)
	if err != nil {
		return err
	}
	defer t.close()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	out := inv.env.stdout
	if err := t.settle(ctx); err != nil {
		return fmt.Errorf("testjoin: %w", err)
	}
	ms, err := t.store.Load()
	if err != nil {
		return err
	}
	if !ms.Joined() {
		return errors.New("testjoin: this host is not joined to a domain")
	}
	broken := func(what string, err error) error {
		return fmt.Errorf("Join to '%s' is broken: %s: %w", ms.DomainNetBIOS, what, err)
	}
	res, err := t.member.netlog.TestDetails(ctx)
	if err != nil {
		return broken("Netlogon secure channel", err)
	}
	if res.Previous {
		return broken("Netlogon secure channel", errors.New("the DC accepted only the previous machine password; run wkssvcd rotate-password"))
	}
	kvno, err := kerberosCheck(ctx, ms, res.DC.Address, inv.cfg.Keytab)
	if err != nil {
		return broken("Kerberos with the keytab", err)
	}
	fmt.Fprintf(out, "Join to '%s' is OK: Netlogon secure channel with %s (AES), Kerberos as %s@%s with %s (key version %d)\n",
		ms.DomainNetBIOS, res.DC.Name, ms.ClientName, strings.ToUpper(ms.DomainFQDN), inv.cfg.Keytab, kvno)
	return nil
}

// kerberosCheck logs in as the machine account with the keytab's keys (an
// AS exchange with the KDC at kdc) and asks for a ticket to host/FQDN,
// which must decrypt with a key of the keytab: the proof that the keytab
// holds the keys, at the version, the KDC uses. It returns that version.
func kerberosCheck(ctx context.Context, ms joinlogic.Membership, kdc, path string) (int, error) {
	kt, err := gokeytab.Load(path)
	if err != nil {
		return 0, err
	}
	realm := strings.ToUpper(ms.DomainFQDN)
	login := newestKeys(kt, ms.ClientName)
	if len(login.Entries) == 0 {
		return 0, fmt.Errorf("%s has no key of %s", path, ms.ClientName)
	}
	conf := krbconfig.New()
	conf.LibDefaults.DefaultRealm = realm
	conf.LibDefaults.DNSLookupKDC = false
	conf.LibDefaults.DNSLookupRealm = false
	ets := []int32{etypeID.AES256_CTS_HMAC_SHA1_96, etypeID.AES128_CTS_HMAC_SHA1_96, etypeID.RC4_HMAC}
	conf.LibDefaults.DefaultTktEnctypeIDs = ets
	conf.LibDefaults.DefaultTGSEnctypeIDs = ets
	conf.LibDefaults.PermittedEnctypeIDs = ets
	conf.Realms = []krbconfig.Realm{{Realm: realm, KDC: []string{net.JoinHostPort(kdc, "88")}}}
	cl := client.NewWithKeytab(ms.ClientName, realm, login, conf, client.DisablePAFXFAST(true))
	defer cl.Destroy()
	done := make(chan error, 1)
	var kvno int
	go func() {
		if err := cl.Login(); err != nil {
			done <- fmt.Errorf("login as %s@%s: %w", ms.ClientName, realm, err)
			return
		}
		fqdn := ms.DNSHostName
		if fqdn == "" {
			fqdn = strings.ToLower(strings.TrimSuffix(ms.ClientName, "$")) + "." + strings.ToLower(ms.DomainFQDN)
		}
		tkt, _, err := cl.GetServiceTicket("host/" + fqdn)
		if err != nil {
			done <- fmt.Errorf("service ticket for host/%s: %w", fqdn, err)
			return
		}
		for _, e := range kt.Entries {
			if len(e.Principal.Components) != 1 || !strings.EqualFold(e.Principal.Components[0], ms.ClientName) ||
				e.Key.KeyType != tkt.EncPart.EType || int(e.KVNO) != tkt.EncPart.KVNO {
				continue
			}
			if _, err := krbcrypto.DecryptEncPart(tkt.EncPart, e.Key, keyusage.KDC_REP_TICKET); err == nil {
				kvno = tkt.EncPart.KVNO
				done <- nil
				return
			}
		}
		done <- fmt.Errorf("the ticket for host/%s (key version %d, type %d) does not decrypt with the keytab", fqdn, tkt.EncPart.KVNO, tkt.EncPart.EType)
	}()
	select {
	case err := <-done:
		return kvno, err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// newestKeys returns the keys of account (NAME$) of the highest key
// version in kt: the keys the stored password gives, which the KDC must
// accept. The previous version stays in the keytab after a password
// change, and gokrb5's client, asked to log on, takes the entry with the
// newest timestamp, which a change within the same second (or a keytab
// written by another tool) does not make the new one.
func newestKeys(kt *gokeytab.Keytab, account string) *gokeytab.Keytab {
	out := gokeytab.New()
	var newest uint32
	mine := func(e gokeytab.Entry) bool {
		return len(e.Principal.Components) == 1 && strings.EqualFold(e.Principal.Components[0], account)
	}
	for _, e := range kt.Entries {
		if mine(e) && e.KVNO > newest {
			newest = e.KVNO
		}
	}
	for _, e := range kt.Entries {
		if mine(e) && e.KVNO == newest {
			e.Principal.Components = []string{account}
			out.Entries = append(out.Entries, e)
		}
	}
	return out
}
