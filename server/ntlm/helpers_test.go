package ntlm

import (
	"github.com/wkssvcd/wkssvcd/server/spnego"

	"encoding/binary"
	"testing"

	"bytes"
	"time"
)

var testNow = time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)

func testAccounts() StaticAccounts {
	return StaticAccounts{
		{Name: "alice", NTHash: NTHash("Secret123!"), Admin: true},
		{Name: "Bob", NTHash: NTHash("hunter2")},
	}
}

// testAuthenticator fills in names and accounts; Now stays real unless set
// because real clients stamp their blobs with the real clock.
func testAuthenticator(c Config) *spnego.Acceptor {
	c.NetBIOSComputer = "wkhost"
	c.NetBIOSDomain = "example"
	c.DNSComputer = "wkhost.example.test"
	c.DNSDomain = "example.test"
	if c.Accounts == nil {
		c.Accounts = testAccounts()
	}
	return spnego.New(spnego.Config{Mechanisms: []spnego.Mechanism{NewMechanism(c)}, Logger: c.Logger})
}

// fixedRand yields a constant byte stream.
type fixedRand byte

func (f fixedRand) Read(p []byte) (int, error) {
	copy(p, bytes.Repeat([]byte{byte(f)}, len(p)))
	return len(p), nil
}

// v2Client is a minimal NTLMv2 initiator for crafting edge cases; the
// interop tests use real clients instead.
type v2Client struct {
	user, pass, domain string
	hashDomain         *string // domain used in NTOWFv2 when not nil
	flags              uint32
	withMIC            bool // MsvAvFlags=2 and a MIC
	micFieldOnly       bool // header has the MIC field but MsvAvFlags is not sent
	encKeyLen          int  // length of EncryptedRandomSessionKey when KEY_EXCH (default 16)
	timestamp          *uint64
	tamperMIC          bool
	negotiate          []byte
	exportedKey        []byte
}

func (c *v2Client) negotiateMsg() []byte {
	if c.flags == 0 {
		c.flags = flagUnicode | flagRequestTarget | flagSign | flagSeal | flagNTLM | flagAlwaysSign |
			flagExtendedSessionSecurity | flagTargetInfo | flagVersion | flag128 | flagKeyExch | flag56
	}
	c.negotiate = marshalNegotiate(c.flags, serverVersion[:])
	return c.negotiate
}

func (c *v2Client) authenticateMsg(t testing.TB, challenge []byte) []byte {
	t.Helper()
	cm, err := parseChallenge(challenge)
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	pairs, err := parseAVPairs(cm.TargetInfo)
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	ts, _ := findAV(pairs, avTimestamp)
	var stamp uint64
	if len(ts) == 8 {
		stamp = binary.LittleEndian.Uint64(ts)
	}
	if c.timestamp != nil {
		stamp = *c.timestamp
	}
	var out []avPair
	for _, p := range pairs {
		if p.ID != avTimestamp || c.withMIC {
			out = append(out, p)
		}
	}
	if c.withMIC {
		out = append(out, avPair{avFlags, []byte{2, 0, 0, 0}})
	}
	blob := make([]byte, 28)
	blob[0], blob[1] = 1, 1
	binary.LittleEndian.PutUint64(blob[8:], stamp)
	copy(blob[16:24], "cccccccc")
	blob = append(blob, marshalAVPairs(out)...)
	blob = append(blob, 0, 0, 0, 0)
	hd := c.domain
	if c.hashDomain != nil {
		hd = *c.hashDomain
	}
	key := ntowfv2(NTHash(c.pass), c.user, hd)
	proof := ntProofStr(key, cm.ServerChallenge[:], blob)
	kxkey := hmacMD5(key, proof)
	flags := c.flags & cm.Flags
	f := authFields{
		Lm:      make([]byte, 24),
		Nt:      append(proof, blob...),
		Domain:  utf16le(c.domain),
		User:    utf16le(c.user),
		Flags:   flags,
		Version: serverVersion[:],
		WithMIC: c.withMIC || c.micFieldOnly,
	}
	c.exportedKey = kxkey
	if flags&flagKeyExch != 0 {
		n := c.encKeyLen
		if n == 0 {
			n = 16
		}
		c.exportedKey = bytes.Repeat([]byte{0x42}, 16)
		f.EncKey = rc4K(kxkey, c.exportedKey)[:min(n, 16)]
		if n > 16 {
			f.EncKey = append(f.EncKey, make([]byte, n-16)...)
		}
	}
	msg := marshalAuthenticate(f)
	if c.withMIC {
		mic := hmacMD5(c.exportedKey, c.negotiate, challenge, msg)
		if c.tamperMIC {
			mic[0] ^= 1
		}
		copy(msg[authMICOffset:], mic)
	}
	return msg
}
