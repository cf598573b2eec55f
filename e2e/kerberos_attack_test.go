package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/asn1"
	"encoding/binary"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oiweiwei/gokrb5.fork/v9/client"
	"github.com/oiweiwei/gokrb5.fork/v9/config"
	krbcrypto "github.com/oiweiwei/gokrb5.fork/v9/crypto"
	"github.com/oiweiwei/gokrb5.fork/v9/iana/etypeID"
	"github.com/oiweiwei/gokrb5.fork/v9/iana/flags"
	"github.com/oiweiwei/gokrb5.fork/v9/iana/keyusage"
	"github.com/oiweiwei/gokrb5.fork/v9/keytab"
	"github.com/oiweiwei/gokrb5.fork/v9/messages"
	"github.com/oiweiwei/gokrb5.fork/v9/types"

	"github.com/wkssvcd/wkssvcd/internal/testdc"
	"github.com/wkssvcd/wkssvcd/server/spnego"
)

// NTSTATUS values of SESSION_SETUP answers.
const (
	statusSuccess      = 0x00000000
	statusLogonFailure = 0xC000006D
)

// rawSessionSetup negotiates SMB 2.1 on a new connection and sends one
// SESSION_SETUP carrying tok; it returns the answer's status.
func rawSessionSetup(t *testing.T, addr string, tok []byte) uint32 {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	var msgID uint64
	send := func(cmd uint16, body []byte) {
		h := make([]byte, 64)
		copy(h, "\xfeSMB")
		binary.LittleEndian.PutUint16(h[4:], 64)
		binary.LittleEndian.PutUint16(h[12:], cmd)
		binary.LittleEndian.PutUint16(h[14:], 1) // credits requested
		binary.LittleEndian.PutUint64(h[24:], msgID)
		msgID++
		msg := append(h, body...)
		frame := make([]byte, 4, 4+len(msg))
		binary.BigEndian.PutUint32(frame, uint32(len(msg)))
		if _, err := c.Write(append(frame, msg...)); err != nil {
			t.Fatal(err)
		}
	}
	recv := func() uint32 {
		var hdr [4]byte
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			t.Fatal(err)
		}
		msg := make([]byte, binary.BigEndian.Uint32(hdr[:]))
		if _, err := io.ReadFull(c, msg); err != nil {
			t.Fatal(err)
		}
		if len(msg) < 64 {
			t.Fatalf("short answer %x", msg)
		}
		return binary.LittleEndian.Uint32(msg[8:])
	}
	neg := make([]byte, 36+2)
	binary.LittleEndian.PutUint16(neg[0:], 36) // StructureSize
	binary.LittleEndian.PutUint16(neg[2:], 1)  // DialectCount
	binary.LittleEndian.PutUint16(neg[4:], 1)  // SecurityMode: signing enabled
	rand.Read(neg[12:28])                      // ClientGuid
	binary.LittleEndian.PutUint16(neg[36:], 0x0210)
	send(0x0000, neg)
	if st := recv(); st != statusSuccess {
		t.Fatalf("NEGOTIATE: status %#x", st)
	}
	ss := make([]byte, 24, 24+len(tok))
	binary.LittleEndian.PutUint16(ss[0:], 25)             // StructureSize
	ss[3] = 1                                             // SecurityMode
	binary.LittleEndian.PutUint16(ss[12:], uint16(64+24)) // SecurityBufferOffset
	binary.LittleEndian.PutUint16(ss[14:], uint16(len(tok)))
	send(0x0001, append(ss, tok...))
	return recv()
}

// krbClient logs in to the test KDC as user with gokrb5 and returns a
// service ticket for cifs/fqdn.
func krbClient(t *testing.T, dc *testdc.DC, user, pass, fqdn string) (*client.Client, messages.Ticket, types.EncryptionKey) {
	t.Helper()
	conf, err := config.Load(dc.Krb5Conf)
	if err != nil {
		t.Fatal(err)
	}
	conf.LibDefaults.DefaultTktEnctypeIDs = []int32{etypeID.AES256_CTS_HMAC_SHA1_96}
	conf.LibDefaults.DefaultTGSEnctypeIDs = []int32{etypeID.AES256_CTS_HMAC_SHA1_96}
	cl := client.NewWithPassword(user, testdc.Realm, pass, conf, client.DisablePAFXFAST(true))
	if err := cl.Login(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Destroy)
	tkt, key, err := cl.GetServiceTicket("cifs/" + fqdn)
	if err != nil {
		t.Fatal(err)
	}
	return cl, tkt, key
}

// spnegoAPReq builds the SESSION_SETUP token of a Kerberos logon: a
// NegTokenInit whose optimistic token is a GSS-framed AP-REQ with a subkey
// and mutual authentication (RFC 4121 4.1).
func spnegoAPReq(t *testing.T, cl *client.Client, tkt messages.Ticket, key types.EncryptionKey) []byte {
	t.Helper()
	auth, err := types.NewAuthenticator(cl.Credentials.Domain(), cl.Credentials.CName())
	if err != nil {
		t.Fatal(err)
	}
	et, _ := krbcrypto.GetEtype(key.KeyType)
	if auth.SubKey, err = types.GenerateEncryptionKey(et); err != nil {
		t.Fatal(err)
	}
	ck := make([]byte, 24)
	binary.LittleEndian.PutUint32(ck, 16)
	binary.LittleEndian.PutUint32(ck[20:], 0x02|0x20) // mutual, integrity
	auth.Cksum = types.Checksum{CksumType: 0x8003, Checksum: ck}
	req, err := messages.NewAPReq(tkt, key, auth)
	if err != nil {
		t.Fatal(err)
	}
	types.SetFlag(&req.APOptions, flags.APOptionMutualRequired)
	b, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	krb5 := asn1.ObjectIdentifier{1, 2, 840, 113554, 1, 2, 2}
	oid, _ := asn1.Marshal(krb5)
	inner := append(append(oid, 0x01, 0x00), b...)
	gss, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassApplication, Tag: 0, IsCompound: true, Bytes: inner})
	return spnego.MarshalNegTokenInit([]asn1.ObjectIdentifier{krb5}, gss, nil)
}

// machineKey reads the member's AES-256 machine key from its keytab.
func (m *member) machineKey(t *testing.T) types.EncryptionKey {
	t.Helper()
	kt, err := keytab.Load(filepath.Join(m.d.stateDir, "krb5.keytab"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range kt.Entries {
		if len(e.Principal.Components) == 1 && strings.EqualFold(e.Principal.Components[0], m.name+"$") && e.Key.KeyType == etypeID.AES256_CTS_HMAC_SHA1_96 {
			return e.Key
		}
	}
	t.Fatal("no AES-256 key of the machine account in the keytab")
	return types.EncryptionKey{}
}

// resignPAC decrypts tkt with the machine key, replaces the PAC's server
// signature with one that was not made with the machine key, and encrypts
// the ticket again.
func resignPAC(t *testing.T, tkt messages.Ticket, mk types.EncryptionKey) messages.Ticket {
	t.Helper()
	b, err := krbcrypto.DecryptEncPart(tkt.EncPart, mk, keyusage.KDC_REP_TICKET)
	if err != nil {
		t.Fatalf("ticket does not decrypt with the keytab's key: %v", err)
	}
	// The PAC starts with cBuffers and Version 0; find the server
	// signature buffer (type 6) in its table and overwrite the signature.
	var enc messages.EncTicketPart
	if err := enc.Unmarshal(b); err != nil {
		t.Fatal(err)
	}
	var pac []byte
	for _, ad := range enc.AuthorizationData {
		if ad.ADType != 1 {
			continue
		}
		var inner types.AuthorizationData
		if err := inner.Unmarshal(ad.ADData); err != nil {
			t.Fatal(err)
		}
		for _, e := range inner {
			if e.ADType == 128 {
				pac = e.ADData
			}
		}
	}
	i := bytes.Index(b, pac)
	if pac == nil || i < 0 {
		t.Fatal("no PAC in the ticket")
	}
	n := int(binary.LittleEndian.Uint32(pac))
	found := false
	for k := 0; k < n; k++ {
		e := pac[8+16*k:]
		if binary.LittleEndian.Uint32(e) == 6 {
			off := int(binary.LittleEndian.Uint64(e[8:]))
			forged := make([]byte, 12)
			rand.Read(forged)
			copy(b[i+off+4:], forged)
			found = true
		}
	}
	if !found {
		t.Fatal("no server signature in the PAC")
	}
	if tkt.EncPart, err = krbcrypto.GetEncryptedData(b, mk, keyusage.KDC_REP_TICKET, tkt.EncPart.KVNO); err != nil {
		t.Fatal(err)
	}
	return tkt
}

// TestKerberosReplayAndForgedPAC: a captured AP-REQ replayed on a new
// connection is refused, and a ticket whose PAC server signature does not
// verify with the machine key is refused; a fresh AP-REQ for the same
// ticket still works.
func TestKerberosReplayAndForgedPAC(t *testing.T) {
	m := joinedMember(t, "WKRPL")
	const user, pass = "kuser2", "Kuser2.Pa55word"
	domainUser(t, m.dc, user, pass)
	cl, tkt, key := krbClient(t, m.dc, user, pass, m.fqdn)

	tok := spnegoAPReq(t, cl, tkt, key)
	if st := rawSessionSetup(t, m.d.addr, tok); st != statusSuccess {
		t.Fatalf("first use of the AP-REQ: status %#x\n%s", st, m.d.Output())
	}
	if st := rawSessionSetup(t, m.d.addr, tok); st != statusLogonFailure {
		t.Fatalf("replayed AP-REQ on a new connection: status %#x, want STATUS_LOGON_FAILURE", st)
	}
	// The daemon's log reaches the test asynchronously.
	waitLog(t, m.d, "replayed authenticator")
	if st := rawSessionSetup(t, m.d.addr, spnegoAPReq(t, cl, tkt, key)); st != statusSuccess {
		t.Fatalf("fresh AP-REQ for the same ticket: status %#x", st)
	}

	forged := resignPAC(t, tkt, m.machineKey(t))
	if st := rawSessionSetup(t, m.d.addr, spnegoAPReq(t, cl, forged, key)); st != statusLogonFailure {
		t.Fatalf("PAC signed with another key: status %#x, want STATUS_LOGON_FAILURE", st)
	}
	waitLog(t, m.d, "PAC server signature does not verify")
}
