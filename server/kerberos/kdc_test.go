package kerberos

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/oiweiwei/gokrb5.fork/v9/asn1tools"
	"github.com/oiweiwei/gokrb5.fork/v9/client"
	"github.com/oiweiwei/gokrb5.fork/v9/config"
	krbcrypto "github.com/oiweiwei/gokrb5.fork/v9/crypto"
	"github.com/oiweiwei/gokrb5.fork/v9/iana/asnAppTag"
	"github.com/oiweiwei/gokrb5.fork/v9/iana/etypeID"
	"github.com/oiweiwei/gokrb5.fork/v9/iana/flags"
	"github.com/oiweiwei/gokrb5.fork/v9/iana/keyusage"
	"github.com/oiweiwei/gokrb5.fork/v9/messages"
	"github.com/oiweiwei/gokrb5.fork/v9/types"

	"github.com/wkssvcd/wkssvcd/internal/testdc"
	"github.com/wkssvcd/wkssvcd/server/ipc"
)

func TestMain(m *testing.M) { os.Exit(testdc.Main(m)) }

// A service account of the test domain standing in for a machine account:
// tickets for svcSPN are encrypted with its keys, which the test derives
// from its password like the KDC does.
const (
	svcAccount  = "krbsvc"
	svcPassword = "Svc.Pa55word-Test"
	svcSPN      = "cifs/krbsvc.example.test"
	userName    = "krbuser"
	userPass    = "User.Pa55word-Test"
)

type kdcFixture struct {
	dc   *testdc.DC
	conf *config.Config
	keys ServiceKeys
}

var (
	fixtureOnce sync.Once
	fixture     *kdcFixture
	fixtureErr  error
)

// kdc returns the shared fixture: the DC, the service account with its SPN
// and keys, and a domain user.
func kdc(t *testing.T) *kdcFixture {
	t.Helper()
	dc := testdc.Start(t, testdc.Options{})
	fixtureOnce.Do(func() {
		f := &kdcFixture{dc: dc}
		for _, args := range [][]string{
			{"user", "create", svcAccount, svcPassword},
			{"spn", "add", svcSPN, svcAccount},
			{"user", "create", userName, userPass},
		} {
			if _, err := dc.SambaTool(t.Context(), args...); err != nil {
				fixtureErr = err
				return
			}
		}
		f.conf, fixtureErr = config.Load(dc.Krb5Conf)
		if fixtureErr != nil {
			return
		}
		f.keys = ServiceKeys{Realm: testdc.Realm, Account: svcAccount}
		cname := types.NewPrincipalName(1, svcAccount)
		for _, et := range []int32{etypeID.AES256_CTS_HMAC_SHA1_96, etypeID.AES128_CTS_HMAC_SHA1_96, etypeID.RC4_HMAC} {
			k, _, err := krbcrypto.GetKeyFromPassword(svcPassword, cname, testdc.Realm, et, types.PADataSequence{})
			if err != nil {
				fixtureErr = err
				return
			}
			f.keys.Keys = append(f.keys.Keys, Key{KVNO: 1, EType: et, Value: k.KeyValue})
		}
		fixture = f
	})
	if fixtureErr != nil {
		t.Fatalf("KDC fixture: %v", fixtureErr)
	}
	return fixture
}

// ticket logs in as the domain user (with the given encryption types
// only, if any) and returns a service ticket for svcSPN.
func (f *kdcFixture) ticket(t *testing.T, etypes ...int32) (*client.Client, messages.Ticket, types.EncryptionKey) {
	t.Helper()
	conf := *f.conf
	if len(etypes) > 0 {
		conf.LibDefaults.DefaultTktEnctypeIDs = etypes
		conf.LibDefaults.DefaultTGSEnctypeIDs = etypes
		conf.LibDefaults.PermittedEnctypeIDs = etypes
	}
	cl := client.NewWithPassword(userName, testdc.Realm, userPass, &conf, client.DisablePAFXFAST(true))
	if err := cl.Login(); err != nil {
		t.Fatalf("login as %s: %v", userName, err)
	}
	t.Cleanup(cl.Destroy)
	tkt, key, err := cl.GetServiceTicket(svcSPN)
	if err != nil {
		t.Fatalf("service ticket for %s: %v", svcSPN, err)
	}
	return cl, tkt, key
}

// apReqOpts shape the AP-REQ the test client builds.
type apReqOpts struct {
	gssFlags uint32 // GSS checksum flags; 0 with noChecksum leaves it out
	mutual   bool   // AP option MUTUAL-REQUIRED
	noSubkey bool
	noCksum  bool
	raw      bool // no GSS framing (DCE style)
	ctime    time.Time
	seq      int64
	crealm   string // the authenticator's crealm, if not the client's realm
}

// apReq builds an AP-REQ for tkt as the client would (RFC 4120 5.5.1,
// RFC 4121 4.1.1) and returns it with its authenticator.
func apReq(t *testing.T, cl *client.Client, tkt messages.Ticket, key types.EncryptionKey, o apReqOpts) ([]byte, types.Authenticator) {
	t.Helper()
	auth, err := types.NewAuthenticator(cl.Credentials.Domain(), cl.Credentials.CName())
	if err != nil {
		t.Fatal(err)
	}
	if !o.ctime.IsZero() {
		auth.CTime, auth.Cusec = o.ctime, 0
	}
	auth.SeqNumber = o.seq
	if o.crealm != "" {
		auth.CRealm = o.crealm
	}
	if !o.noSubkey {
		et, _ := krbcrypto.GetEtype(key.KeyType)
		sub, err := types.GenerateEncryptionKey(et)
		if err != nil {
			t.Fatal(err)
		}
		auth.SubKey = sub
	}
	if !o.noCksum {
		ck := make([]byte, 24)
		binary.LittleEndian.PutUint32(ck, 16)
		binary.LittleEndian.PutUint32(ck[20:], o.gssFlags)
		auth.Cksum = types.Checksum{CksumType: gssChecksumType, Checksum: ck}
	}
	req, err := messages.NewAPReq(tkt, key, auth)
	if err != nil {
		t.Fatal(err)
	}
	if o.mutual {
		types.SetFlag(&req.APOptions, flags.APOptionMutualRequired)
	}
	b, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if o.raw {
		return b, auth
	}
	return gssFrame(tokIDAPReq, b), auth
}

func (f *kdcFixture) mechanism(cfg Config) *Mechanism {
	if cfg.Keys == nil {
		cfg.Keys = StaticKeys(f.keys)
	}
	return NewMechanism(cfg)
}

// decodeAPRep checks a GSS-framed (or raw) AP-REP against the session key
// and returns its encrypted part.
func decodeAPRep(t *testing.T, out []byte, key types.EncryptionKey, framed bool) messages.EncAPRepPart {
	t.Helper()
	tok := out
	if framed {
		id, inner, err := splitGSSToken(out)
		if err != nil || id != tokIDAPRep {
			t.Fatalf("AP-REP framing: %x %v", id, err)
		}
		tok = inner
	} else if isGSSKrb5(out) {
		t.Fatal("DCE-style AP-REP is GSS-framed")
	}
	var rep messages.APRep
	if err := rep.Unmarshal(tok); err != nil {
		t.Fatal(err)
	}
	if err := rep.DecryptEncPart(key); err != nil {
		t.Fatalf("AP-REP does not decrypt with the ticket's session key: %v", err)
	}
	return rep.DecryptedEncPart
}

func TestAcceptRealTicketMutual(t *testing.T) {
	f := kdc(t)
	for _, et := range []int32{etypeID.AES256_CTS_HMAC_SHA1_96, etypeID.AES128_CTS_HMAC_SHA1_96, etypeID.RC4_HMAC} {
		cl, tkt, key := f.ticket(t, et)
		tok, auth := apReq(t, cl, tkt, key, apReqOpts{gssFlags: gssMutualFlag | gssIntegFlag | gssConfFlag, mutual: true, seq: 7})
		ctx := f.mechanism(Config{}).NewKerberosContext()
		out, done, err := ctx.Accept(tok)
		if err != nil || !done {
			t.Fatalf("etype %d: %v", et, err)
		}
		part := decodeAPRep(t, out, key, true)
		if !part.CTime.Equal(auth.CTime.Truncate(time.Second)) || part.Cusec != auth.Cusec {
			t.Errorf("etype %d: AP-REP ctime %v/%d, want the authenticator's %v/%d", et, part.CTime, part.Cusec, auth.CTime, auth.Cusec)
		}
		if len(part.Subkey.KeyValue) == 0 || !bytes.Equal(ctx.SessionKey(), part.Subkey.KeyValue) {
			t.Errorf("etype %d: the session key is not the AP-REP subkey", et)
		}
		if et == etypeID.RC4_HMAC {
			if !bytes.Equal(part.Subkey.KeyValue, auth.SubKey.KeyValue) {
				t.Errorf("RC4: AP-REP subkey is not the initiator's (MS-KILE 3.1.1.2)")
			}
		} else if bytes.Equal(part.Subkey.KeyValue, auth.SubKey.KeyValue) {
			t.Errorf("AES: AP-REP subkey repeats the initiator's")
		}
		id := ctx.Identity()
		if !strings.EqualFold(id.User, userName) || id.Domain != testdc.Domain || id.Mechanism != MechanismName {
			t.Errorf("identity %+v", id)
		}
		// The user's SID, then Domain Users (513) among the groups.
		if len(id.SIDs) < 2 || !strings.HasPrefix(id.SIDs[0], "S-1-5-21-") || !id.HasSID(domainOf(id.SIDs[0])+"-513") {
			t.Errorf("SIDs %v", id.SIDs)
		}
	}
}

func domainOf(sid string) string { return sid[:strings.LastIndex(sid, "-")] }

// TestNoMutualAuth: impacket's SMB client sends neither MUTUAL-REQUIRED nor
// a GSS checksum nor a subkey; no AP-REP goes back and the ticket's
// session key is the context's key.
func TestNoMutualAuth(t *testing.T) {
	f := kdc(t)
	cl, tkt, key := f.ticket(t)
	tok, _ := apReq(t, cl, tkt, key, apReqOpts{noCksum: true, noSubkey: true})
	ctx := f.mechanism(Config{}).NewKerberosContext()
	out, done, err := ctx.Accept(tok)
	if err != nil || !done || out != nil {
		t.Fatalf("out=%x done=%v err=%v", out, done, err)
	}
	if !bytes.Equal(ctx.SessionKey(), key.KeyValue) {
		t.Fatal("session key is not the ticket's")
	}
	// With a subkey and no mutual authentication the subkey is the key.
	tok, auth := apReq(t, cl, tkt, key, apReqOpts{gssFlags: gssIntegFlag})
	ctx = f.mechanism(Config{}).NewKerberosContext()
	if out, done, err := ctx.Accept(tok); err != nil || !done || out != nil {
		t.Fatalf("with subkey: %v", err)
	}
	if !bytes.Equal(ctx.SessionKey(), auth.SubKey.KeyValue) {
		t.Fatal("session key is not the initiator's subkey")
	}
}

func TestDCEStyleThreeLegs(t *testing.T) {
	f := kdc(t)
	cl, tkt, key := f.ticket(t)
	m := f.mechanism(Config{})
	for _, framed := range []bool{false, true} {
		tok, _ := apReq(t, cl, tkt, key, apReqOpts{gssFlags: gssMutualFlag | gssDCEStyle | gssIntegFlag, raw: !framed})
		ctx := m.NewKerberosContext()
		out, done, err := ctx.Accept(tok)
		if err != nil || done {
			t.Fatalf("first leg: done=%v err=%v", done, err)
		}
		part := decodeAPRep(t, out, key, false)
		closing := func(seq int64, k types.EncryptionKey) []byte {
			rep, err := messages.NewAPRep(k, messages.EncAPRepPart{CTime: time.Now().UTC(), SequenceNumber: seq})
			if err != nil {
				t.Fatal(err)
			}
			b, err := rep.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		// A closing AP-REP with the wrong sequence number or key fails.
		bad := m.NewKerberosContext()
		if _, _, err := bad.Accept(tok); err == nil {
			t.Fatal("the same AP-REQ was accepted twice (replay)")
		}
		if _, _, err := ctx.Accept(closing(part.SequenceNumber+1, key)); !errors.Is(err, ipc.ErrLogonFailure) {
			t.Fatalf("wrong sequence number: %v", err)
		}
		tok, _ = apReq(t, cl, tkt, key, apReqOpts{gssFlags: gssMutualFlag | gssDCEStyle, raw: !framed})
		ctx = m.NewKerberosContext()
		out, _, err = ctx.Accept(tok)
		if err != nil {
			t.Fatal(err)
		}
		part = decodeAPRep(t, out, key, false)
		out, done, err = ctx.Accept(closing(part.SequenceNumber, key))
		if err != nil || !done || out != nil {
			t.Fatalf("closing leg: done=%v err=%v", done, err)
		}
		if !ctx.DCEStyle() || !bytes.Equal(ctx.SessionKey(), part.Subkey.KeyValue) {
			t.Fatal("DCE style context state")
		}
	}
}

// TestReplayRefused: an AP-REQ accepted once is refused on a new context
// of the same mechanism (a new connection).
func TestReplayRefused(t *testing.T) {
	f := kdc(t)
	cl, tkt, key := f.ticket(t)
	tok, _ := apReq(t, cl, tkt, key, apReqOpts{gssFlags: gssMutualFlag, mutual: true})
	m := f.mechanism(Config{})
	if _, _, err := m.NewContext().Accept(tok); err != nil {
		t.Fatal(err)
	}
	_, _, err := m.NewContext().Accept(tok)
	var le *ipc.LogonError
	if !errors.As(err, &le) || le.Reason != "replayed authenticator" || !strings.EqualFold(le.User, userName) {
		t.Fatalf("replay: %v", err)
	}
	// A fresh authenticator for the same ticket is fine.
	tok, _ = apReq(t, cl, tkt, key, apReqOpts{gssFlags: gssMutualFlag, mutual: true})
	if _, _, err := m.NewContext().Accept(tok); err != nil {
		t.Fatalf("fresh authenticator: %v", err)
	}
	if n := m.replay.len(); n != 2 {
		t.Fatalf("replay cache holds %d entries, want 2", n)
	}
}

func TestClockSkew(t *testing.T) {
	f := kdc(t)
	cl, tkt, key := f.ticket(t)
	for name, tc := range map[string]struct {
		ctime time.Time
		now   func() time.Time
		ok    bool
	}{
		"authenticator 4m old":   {ctime: time.Now().Add(-4 * time.Minute), ok: true},
		"authenticator 6m old":   {ctime: time.Now().Add(-6 * time.Minute)},
		"authenticator 6m ahead": {ctime: time.Now().Add(6 * time.Minute)},
		"ticket expired":         {now: func() time.Time { return time.Now().Add(11 * time.Hour) }},
		"ticket not yet valid":   {now: func() time.Time { return time.Now().Add(-time.Hour) }},
	} {
		o := apReqOpts{gssFlags: gssMutualFlag}
		if !tc.ctime.IsZero() {
			o.ctime = tc.ctime.UTC()
		} else if tc.now != nil {
			o.ctime = tc.now().UTC()
		}
		tok, _ := apReq(t, cl, tkt, key, o)
		_, _, err := f.mechanism(Config{Now: tc.now}).NewContext().Accept(tok)
		if tc.ok != (err == nil) {
			t.Errorf("%s: err = %v", name, err)
		}
		if err != nil && !errors.Is(err, ipc.ErrLogonFailure) {
			t.Errorf("%s: not a logon failure: %v", name, err)
		}
	}
}

// TestPreviousKeyVersion: a ticket issued for the previous key version
// still decrypts when the keytab keeps it, even when the kvno the ticket
// names maps to another key.
func TestPreviousKeyVersion(t *testing.T) {
	f := kdc(t)
	cl, tkt, key := f.ticket(t)
	junk := make([]byte, 32)
	rand.Read(junk)
	keys := ServiceKeys{Realm: f.keys.Realm, Account: f.keys.Account}
	for _, k := range f.keys.Keys {
		keys.Keys = append(keys.Keys, Key{KVNO: uint32(tkt.EncPart.KVNO), EType: k.EType, Value: append([]byte(nil), junk[:len(k.Value)]...)})
		keys.Keys = append(keys.Keys, Key{KVNO: uint32(tkt.EncPart.KVNO) + 7, EType: k.EType, Value: k.Value})
	}
	tok, _ := apReq(t, cl, tkt, key, apReqOpts{gssFlags: gssMutualFlag})
	if _, _, err := f.mechanism(Config{Keys: StaticKeys(keys)}).NewContext().Accept(tok); err != nil {
		t.Fatalf("older key not tried: %v", err)
	}
	// Without the right key at all the ticket is refused.
	for i := range keys.Keys {
		keys.Keys[i].Value = junk[:len(keys.Keys[i].Value)]
	}
	tok, _ = apReq(t, cl, tkt, key, apReqOpts{gssFlags: gssMutualFlag})
	if _, _, err := f.mechanism(Config{Keys: StaticKeys(keys)}).NewContext().Accept(tok); !errors.Is(err, ipc.ErrLogonFailure) {
		t.Fatalf("wrong keys: %v", err)
	}
}

// reissue decrypts tkt with the service key, lets edit change the PAC
// bytes (same length) and encrypts the ticket again with the service key:
// what someone holding the machine key, but not the KDC's, could forge.
func (f *kdcFixture) reissue(t *testing.T, tkt messages.Ticket, edit func(pac []byte, bufs []pacBuffer)) messages.Ticket {
	t.Helper()
	var sk types.EncryptionKey
	for _, k := range f.keys.Keys {
		if k.EType == tkt.EncPart.EType {
			sk = types.EncryptionKey{KeyType: k.EType, KeyValue: k.Value}
		}
	}
	b, err := krbcrypto.DecryptEncPart(tkt.EncPart, sk, keyusage.KDC_REP_TICKET)
	if err != nil {
		t.Fatal(err)
	}
	var enc messages.EncTicketPart
	if err := enc.Unmarshal(b); err != nil {
		t.Fatal(err)
	}
	pac, err := findPAC(enc.AuthorizationData)
	if err != nil {
		t.Fatal(err)
	}
	bufs, err := parsePACBuffers(pac)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, pac)
	if i < 0 {
		t.Fatal("PAC not found in the encoded ticket")
	}
	edited := append([]byte(nil), pac...)
	edit(edited, bufs)
	copy(b[i:], edited)
	ed, err := krbcrypto.GetEncryptedData(b, sk, keyusage.KDC_REP_TICKET, tkt.EncPart.KVNO)
	if err != nil {
		t.Fatal(err)
	}
	tkt.EncPart = ed
	return tkt
}

// TestPACSignedWithWrongKeyRefused: the server signature must verify with
// the machine key; a PAC re-signed with another key, or changed without
// re-signing, is refused.
func TestPACSignedWithWrongKeyRefused(t *testing.T) {
	f := kdc(t)
	cl, tkt, key := f.ticket(t, etypeID.AES256_CTS_HMAC_SHA1_96)
	sig := func(pac []byte, bufs []pacBuffer) pacBuffer {
		b, _, err := onlyBuffer(bufs, pacServerChecksum)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for name, edit := range map[string]func(pac []byte, bufs []pacBuffer){
		"unchanged (control)": func([]byte, []pacBuffer) {},
		"re-signed with another key": func(pac []byte, bufs []pacBuffer) {
			s := sig(pac, bufs)
			k, _, _ := onlyBuffer(bufs, pacKDCChecksum)
			z := append([]byte(nil), pac...)
			clear(z[s.offset+4 : s.offset+s.size])
			clear(z[k.offset+4 : k.offset+k.size])
			et, _ := krbcrypto.GetChksumEtype(cksumHMACSHA196AES256)
			other := make([]byte, 32)
			rand.Read(other)
			h, err := et.GetChecksumHash(other, z, keyUsageNonKerbCksumSalt)
			if err != nil {
				t.Fatal(err)
			}
			copy(pac[s.offset+4:s.offset+16], h)
		},
		"a group RID changed": func(pac []byte, bufs []pacBuffer) {
			li, _, _ := onlyBuffer(bufs, pacLogonInfo)
			// Domain Users (513 = 0x201) becomes Domain Admins (512).
			i := bytes.Index(pac[li.offset:li.offset+li.size], []byte{0x01, 0x02, 0, 0, 0x07, 0, 0, 0})
			if i < 0 {
				t.Fatal("no 513 group in the logon information")
			}
			pac[li.offset+i] = 0x00
		},
	} {
		forged := f.reissue(t, tkt, edit)
		tok, _ := apReq(t, cl, forged, key, apReqOpts{gssFlags: gssMutualFlag})
		_, _, err := f.mechanism(Config{}).NewContext().Accept(tok)
		if name == "unchanged (control)" {
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			continue
		}
		if !errors.Is(err, errPACSignature) || !errors.Is(err, ipc.ErrLogonFailure) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

// TestTicketWithoutPACRefused: authorization needs the PAC.
func TestTicketWithoutPACRefused(t *testing.T) {
	f := kdc(t)
	cl, tkt, key := f.ticket(t, etypeID.AES256_CTS_HMAC_SHA1_96)
	var sk types.EncryptionKey
	for _, k := range f.keys.Keys {
		if k.EType == tkt.EncPart.EType {
			sk = types.EncryptionKey{KeyType: k.EType, KeyValue: k.Value}
		}
	}
	b, _ := krbcrypto.DecryptEncPart(tkt.EncPart, sk, keyusage.KDC_REP_TICKET)
	var enc messages.EncTicketPart
	if err := enc.Unmarshal(b); err != nil {
		t.Fatal(err)
	}
	enc.AuthorizationData = nil
	raw, err := asn1.Marshal(enc)
	if err != nil {
		t.Fatal(err)
	}
	raw = asn1tools.AddASNAppTag(raw, asnAppTag.EncTicketPart)
	tkt.EncPart, _ = krbcrypto.GetEncryptedData(raw, sk, keyusage.KDC_REP_TICKET, tkt.EncPart.KVNO)
	tok, _ := apReq(t, cl, tkt, key, apReqOpts{gssFlags: gssMutualFlag})
	if _, _, err := f.mechanism(Config{}).NewContext().Accept(tok); !errors.Is(err, errNoPAC) {
		t.Fatalf("err = %v", err)
	}
}

func TestTicketForOtherRealmOrUser2User(t *testing.T) {
	f := kdc(t)
	cl, tkt, key := f.ticket(t)
	keys := f.keys
	keys.Realm = "OTHER.TEST"
	tok, _ := apReq(t, cl, tkt, key, apReqOpts{gssFlags: gssMutualFlag})
	if _, _, err := f.mechanism(Config{Keys: StaticKeys(keys)}).NewContext().Accept(tok); !errors.Is(err, ipc.ErrLogonFailure) {
		t.Fatalf("other realm: %v", err)
	}
	if ok := f.mechanism(Config{Keys: StaticKeys(ServiceKeys{})}).Enabled(); ok {
		t.Fatal("enabled without keys")
	}
}

// TestRealmAliases: the domain's NetBIOS name is accepted as its realm in
// the ticket and in the authenticator (impacket writes it there), and
// only for this host's domain.
func TestRealmAliases(t *testing.T) {
	f := kdc(t)
	cl, tkt, key := f.ticket(t)
	// The host's realm is the NetBIOS name here and the ticket names the
	// DNS realm: accepted only as an alias.
	keys := f.keys
	keys.Realm, keys.Aliases = "EXAMPLE", []string{testdc.Realm}
	tok, _ := apReq(t, cl, tkt, key, apReqOpts{gssFlags: gssMutualFlag})
	if _, _, err := f.mechanism(Config{Keys: StaticKeys(keys)}).NewContext().Accept(tok); err != nil {
		t.Fatalf("ticket realm given as an alias: %v", err)
	}
	// The authenticator names the client's realm by the NetBIOS name.
	keys = f.keys
	keys.Aliases = []string{"EXAMPLE"}
	tok, _ = apReq(t, cl, tkt, key, apReqOpts{gssFlags: gssMutualFlag, crealm: "EXAMPLE"})
	if _, _, err := f.mechanism(Config{Keys: StaticKeys(keys)}).NewContext().Accept(tok); err != nil {
		t.Fatalf("authenticator crealm by NetBIOS name: %v", err)
	}
	// Without the alias, or naming another realm, it is refused.
	tok, _ = apReq(t, cl, tkt, key, apReqOpts{gssFlags: gssMutualFlag, crealm: "EXAMPLE"})
	if _, _, err := f.mechanism(Config{}).NewContext().Accept(tok); !errors.Is(err, ipc.ErrLogonFailure) {
		t.Fatalf("crealm EXAMPLE without the alias: %v", err)
	}
	tok, _ = apReq(t, cl, tkt, key, apReqOpts{gssFlags: gssMutualFlag, crealm: "OTHER"})
	if _, _, err := f.mechanism(Config{Keys: StaticKeys(keys)}).NewContext().Accept(tok); !errors.Is(err, ipc.ErrLogonFailure) {
		t.Fatalf("crealm OTHER: %v", err)
	}
}
