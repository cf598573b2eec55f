package ldapdir

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"

	krbcrypto "github.com/oiweiwei/gokrb5.fork/v9/crypto"
	"github.com/oiweiwei/gokrb5.fork/v9/iana/etypeID"
	"github.com/oiweiwei/gokrb5.fork/v9/iana/keyusage"
)

// wrapUnsealed builds an acceptor's RFC 4121 wrap token without
// confidentiality, rotated by rrc.
func wrapUnsealed(t *testing.T, data, key []byte, rrc int) []byte {
	t.Helper()
	e, err := krbcrypto.GetEtype(etypeID.AES256_CTS_HMAC_SHA1_96)
	if err != nil {
		t.Fatal(err)
	}
	hdr := []byte{0x05, 0x04, cfxSentByAcceptor | 0x04, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7}
	sum, err := e.GetChecksumHash(key, append(append([]byte(nil), data...), hdr...), keyusage.GSSAPI_ACCEPTOR_SEAL)
	if err != nil {
		t.Fatal(err)
	}
	binary.BigEndian.PutUint16(hdr[4:6], uint16(len(sum)))
	binary.BigEndian.PutUint16(hdr[6:8], uint16(rrc))
	body := rotateLeft(append(append([]byte(nil), data...), sum...), -rrc)
	return append(hdr, body...)
}

func TestUnwrapUnsealed(t *testing.T) {
	key := bytes.Repeat([]byte{0x42}, 32)
	offer := []byte{layerNone | layerIntegrity | layerConf, 0x00, 0xff, 0xff}
	for _, rrc := range []int{0, 5, 28} {
		got, err := unwrapUnsealed(wrapUnsealed(t, offer, key, rrc), key)
		if err != nil || !bytes.Equal(got, offer) {
			t.Errorf("RRC %d: %x, %v", rrc, got, err)
		}
	}
	tok := wrapUnsealed(t, offer, key, 0)
	for name, bad := range map[string][]byte{
		"other key":      nil,
		"changed data":   append(append([]byte(nil), tok[:16]...), append([]byte{0x01}, tok[17:]...)...),
		"sealed flag":    append([]byte{0x05, 0x04, tok[2] | cfxSealed}, tok[3:]...),
		"initiator flag": append([]byte{0x05, 0x04, tok[2] &^ cfxSentByAcceptor}, tok[3:]...),
		"truncated":      tok[:20],
		"not a token":    []byte("hello, this is not a wrap token at all"),
	} {
		k := key
		if name == "other key" {
			bad, k = tok, bytes.Repeat([]byte{0x43}, 32)
		}
		if _, err := unwrapUnsealed(bad, k); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := unwrapUnsealed(tok, []byte{1, 2, 3}); err == nil {
		t.Error("a key that is no AES key accepted")
	}
}

func TestRotateLeft(t *testing.T) {
	b := []byte("abcdef")
	for _, c := range []struct {
		n    int
		want string
	}{{0, "abcdef"}, {2, "cdefab"}, {-2, "efabcd"}, {8, "cdefab"}, {6, "abcdef"}} {
		if got := string(rotateLeft(b, c.n)); got != c.want {
			t.Errorf("rotateLeft(%d) = %s, want %s", c.n, got, c.want)
		}
	}
	if rotateLeft(nil, 3) != nil {
		t.Error("rotateLeft(nil)")
	}
}

// slowBindServer answers every BindRequest on its one connection with
// saslBindInProgress after delay, or never when delay is negative.
func slowBindServer(t *testing.T, delay time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		for {
			b, err := readBERElement(c, maxBindResponse)
			if err != nil {
				return
			}
			p, err := ber.DecodePacketErr(b)
			if err != nil || len(p.Children) < 1 {
				return
			}
			id, _ := p.Children[0].Value.(int64)
			if delay < 0 {
				<-done
				return
			}
			time.Sleep(delay)
			resp := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationBindResponse, nil, "Bind Response")
			resp.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, int64(ldap.LDAPResultSaslBindInProgress), "resultCode"))
			resp.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", "matchedDN"))
			resp.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", "diagnosticMessage"))
			env := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "LDAP Response")
			env.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, id, "MessageID"))
			env.AppendChild(resp)
			if _, err := c.Write(env.Bytes()); err != nil {
				return
			}
		}
	}()
	return ln.Addr().String()
}

// Config.Timeout bounds each exchange of a bind, not the bind: a bind of
// several round trips, each within the timeout, succeeds even when they
// add up to more (a Kerberos bind is two or three KDC exchanges and one
// or two BindRequests, each slow on a busy DC); a server that does not
// answer one of them is given up after the timeout.
func TestBindExchangeTimeouts(t *testing.T) {
	// Each round takes less than half the timeout, and five of them well
	// over one timeout: margins a busy machine does not eat.
	const timeout = time.Second
	c, err := net.Dial("tcp", slowBindServer(t, 300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ec := &exchangeConn{Conn: c, ctx: context.Background(), timeout: timeout}
	start := time.Now()
	for i := int64(1); i <= 5; i++ {
		if res, err := bindRound(ec, i, mechGSSSPNEGO, []byte{1}); err != nil || res.code != ldap.LDAPResultSaslBindInProgress {
			t.Fatalf("round %d after %v: %+v, %v", i, time.Since(start), res, err)
		}
	}
	if took := time.Since(start); took < timeout {
		t.Fatalf("five rounds took %v, less than one timeout: the test proves nothing", took)
	}

	silent, err := net.Dial("tcp", slowBindServer(t, -1))
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	start = time.Now()
	_, err = bindRound(&exchangeConn{Conn: silent, ctx: context.Background(), timeout: timeout}, 1, mechGSSSPNEGO, []byte{1})
	if took := time.Since(start); err == nil || took < timeout || took > 5*timeout {
		t.Fatalf("a silent server: %v after %v", err, took)
	}
	// The caller's context still bounds the whole.
	silent2, err := net.Dial("tcp", slowBindServer(t, -1))
	if err != nil {
		t.Fatal(err)
	}
	defer silent2.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout/4)
	defer cancel()
	start = time.Now()
	_, err = bindRound(&exchangeConn{Conn: silent2, ctx: ctx, timeout: time.Minute}, 1, mechGSSSPNEGO, []byte{1})
	if took := time.Since(start); err == nil || took > timeout {
		t.Fatalf("a silent server under a context of %v: %v after %v", timeout/4, err, took)
	}

	// Each KDC connection gets its own deadline.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	kc, err := kdcDialer{ctx: context.Background(), timeout: timeout}.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	start = time.Now()
	if _, err := kc.Read(make([]byte, 4)); err == nil || time.Since(start) > 5*timeout {
		t.Fatalf("a silent KDC: %v after %v", err, time.Since(start))
	}
	// A cancelled bind ends a KDC exchange at once.
	cctx, ccancel := context.WithCancel(context.Background())
	kc2, err := kdcDialer{ctx: cctx, timeout: time.Minute}.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer kc2.Close()
	time.AfterFunc(timeout/4, ccancel)
	start = time.Now()
	if _, err := kc2.Read(make([]byte, 4)); err == nil || time.Since(start) > timeout {
		t.Fatalf("a silent KDC, the bind cancelled: %v after %v", err, time.Since(start))
	}
}

// A server that will not seal is refused by each mechanism's own rule:
// GSSAPI's layer offer must include confidentiality, and every Kerberos
// wrap token from the server must be sealed, sent by the acceptor and in
// sequence — checked before anything is unwrapped.
func TestUnsealedServersRefused(t *testing.T) {
	for _, c := range []struct {
		offer []byte
		want  error
		reply []byte
	}{
		{[]byte{layerConf, 0x00, 0x10, 0x00}, nil, []byte{layerConf, 0x00, 0x10, 0x00}},
		{[]byte{layerNone | layerIntegrity | layerConf, 0xff, 0xff, 0xff}, nil, []byte{layerConf, 0xff, 0xff, 0xff}},
		{[]byte{layerNone | layerIntegrity, 0x00, 0x10, 0x00}, errNoSealing, nil},
		{[]byte{layerNone, 0, 0, 0}, errNoSealing, nil},
		{[]byte{layerConf, 0, 0}, errDCNotAuthenticated, nil},
		{[]byte{}, errDCNotAuthenticated, nil},
	} {
		got, err := layerChoice(c.offer)
		if !errors.Is(err, c.want) || (c.want != nil) != (err != nil) || !bytes.Equal(got, c.reply) {
			t.Errorf("layerChoice(% x) = % x, %v; want % x, %v", c.offer, got, err, c.reply, c.want)
		}
	}

	token := func(flags byte, seq uint64) []byte {
		tok := make([]byte, 16+16+12+32)
		copy(tok, []byte{0x05, 0x04, flags, 0xff})
		binary.BigEndian.PutUint16(tok[4:6], 16)
		binary.BigEndian.PutUint64(tok[8:16], seq)
		return tok
	}
	// No security context is needed: each of these is refused first.
	c := &saslConn{kind: authKerberos}
	for name, tok := range map[string][]byte{
		"not sealed":            token(cfxSentByAcceptor, 0),
		"sent by the initiator": token(cfxSealed, 0),
		"not a wrap token":      append([]byte{0x04, 0x04}, token(cfxSentByAcceptor|cfxSealed, 0)[2:]...),
		"short":                 token(cfxSentByAcceptor|cfxSealed, 0)[:40],
	} {
		if _, err := c.unwrapKerberos(tok); err == nil {
			t.Errorf("%s: unwrapped", name)
		}
	}
	c.krbSeq, c.krbSeqSet = 5, true
	if _, err := c.unwrapKerberos(token(cfxSentByAcceptor|cfxSealed, 4)); err == nil || !strings.Contains(err.Error(), "sequence number 4, want 5") {
		t.Errorf("a replayed token: %v", err)
	}
}
