package ldapdir

import (
	"bytes"
	"context"
	"encoding/hex"
	"net"
	"testing"
	"time"
)

// Datagrams exchanged with the Samba 4.17 AD DC of EXAMPLE.TEST.
const (
	cldapReqExample  = "304e020107634904000a01000a0100020100020100010100a02aa3190409446e73446f6d61696e040c6578616d706c652e74657374a30d04054e74566572040406000000300a04084e65746c6f676f6e"
	cldapReqFlat     = "3033020107632e04000a01000a0100020100020100010100a00fa30d04054e74566572040406000000300a04084e65746c6f676f6e"
	cldapReplyEntry  = "3079020107647404003070306e04086e65746c6f676f6e3162046017000000fd130000b83913f8eef97447a3078228ac608037076578616d706c65047465737400c01803646331c018074558414d504c45000344433100001744656661756c742d46697273742d536974652d4e616d6500c03d05000000ffffffff300c02010765070a010004000400"
	cldapReplyNoDom  = "300c02010765070a010004000400"
	cldapReplyFailed = "300c02010765070a013504000400" // resultCode 53
)

func TestEncodePingRequest(t *testing.T) {
	// The encodings the DC answered (see the reply vectors).
	if got := hex.EncodeToString(encodePingRequest(7, "example.test", 6)); got != cldapReqExample {
		t.Errorf("request = %s", got)
	}
	if got := hex.EncodeToString(encodePingRequest(7, "", 6)); got != cldapReqFlat {
		t.Errorf("flat request = %s", got)
	}
	// Long names use long-form lengths and still parse as one TLV.
	long := bytes.Repeat([]byte("a"), 300)
	req := encodePingRequest(1<<20, string(long), 0x1e)
	tag, c, rest, err := berRead(req)
	if err != nil || tag != berSequence || len(rest) != 0 || !bytes.Contains(c, long) {
		t.Fatalf("long request: %x %v", tag, err)
	}
	_, id, _, _ := berRead(c)
	if v, err := berIntValue(id); err != nil || v != 1<<20 {
		t.Errorf("message ID %d, %v", v, err)
	}
}

func TestBerInt(t *testing.T) {
	for v, want := range map[int32]string{0: "020100", 127: "02017f", 128: "02020080", 256: "02020100", -1: "0201ff", -129: "0202ff7f"} {
		b := berInt(berInteger, v)
		if hex.EncodeToString(b) != want {
			t.Errorf("berInt(%d) = %x", v, b)
		}
		_, c, _, _ := berRead(b)
		if got, err := berIntValue(c); err != nil || got != int64(v) {
			t.Errorf("berIntValue(%x) = %d, %v", c, got, err)
		}
	}
}

func TestParsePingReply(t *testing.T) {
	id, v, found, err := parsePingReply(mustHex(t, cldapReplyEntry))
	if err != nil || !found || id != 7 {
		t.Fatalf("= %d, %v, %v", id, found, err)
	}
	if r, err := ParsePingResponse(v, 6); err != nil || r.DNSHostName != "dc1.example.test" {
		t.Fatalf("netlogon value: %+v, %v", r, err)
	}
	if id, _, found, err := parsePingReply(mustHex(t, cldapReplyNoDom)); err != nil || found || id != 7 {
		t.Errorf("no-entry reply: %d %v %v", id, found, err)
	}
	if _, _, _, err := parsePingReply(mustHex(t, cldapReplyFailed)); err == nil {
		t.Error("failed search accepted")
	}
	good := mustHex(t, cldapReplyEntry)
	for name, b := range map[string][]byte{
		"empty":              nil,
		"entry without done": good[:len(good)-14],
		"truncated":          good[:40],
		"indefinite":         {0x30, 0x80, 0, 0},
		"huge length":        {0x30, 0x85, 1, 2, 3, 4, 5},
		"high tag":           {0x3f, 0x01, 0x00},
		"wrong id in done":   append(append([]byte{}, good[:len(good)-14]...), mustHex(t, "300c02010865070a010004000400")...),
		"request echoed":     mustHex(t, cldapReqExample),
	} {
		if _, _, _, err := parsePingReply(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzParsePingReply(f *testing.F) {
	for _, h := range []string{cldapReplyEntry, cldapReplyNoDom, cldapReplyFailed, cldapReqExample} {
		f.Add(mustHex(f, h))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, v, found, err := parsePingReply(b)
		if err == nil && found {
			if len(v) > len(b) {
				t.Fatalf("value longer than the datagram")
			}
			ParsePingResponse(v, 6)
		}
	})
}

// pingReply is the DC's recorded answer (cldapReplyEntry) under message
// ID id.
func pingReply(t *testing.T, id int32) []byte {
	t.Helper()
	b := mustHex(t, cldapReplyEntry)
	entry := b[5 : 2+int(b[1])] // the SearchResultEntry of the first message
	done := mustHex(t, "65070a010004000400")
	out := berTLV(nil, berSequence, append(berInt(berInteger, id), entry...))
	return append(out, berTLV(nil, berSequence, append(berInt(berInteger, id), done...))...)
}

// CLDAP message IDs are random, and only an answer carrying the ID of a
// request is read: one with another ID is dropped even when it arrives
// first (an answer forged by a host that cannot see the request).
func TestCLDAPMessageIDs(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	ids := make(chan int64, 8)
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, idc, _, err := berRead(buf[:n])
			if err != nil {
				continue
			}
			_, idb, _, _ := berRead(idc)
			id, _ := berIntValue(idb)
			ids <- id
			// A forged answer first, for a guessed ID, saying "not a DC of
			// that domain" (were it read, the ping would fail); then the
			// real one.
			forged := berTLV(nil, berSequence, append(berInt(berInteger, int32(id+1)), mustHex(t, "65070a010004000400")...))
			pc.WriteTo(forged, from)
			pc.WriteTo(pingReply(t, int32(id)), from)
		}
	}()
	d := New(Config{LDAPPort: pc.LocalAddr().(*net.UDPAddr).Port, Timeout: 3 * time.Second})
	seen := map[int64]bool{}
	for i := 0; i < 3; i++ {
		v, err := d.cldapPing(context.Background(), "127.0.0.1", "example.test")
		if err != nil {
			t.Fatal(err)
		}
		if r, err := ParsePingResponse(v, NtVersion5|NtVersion5EX); err != nil || r.NetBIOSDomainName != "EXAMPLE" {
			t.Fatalf("answer %+v %v", r, err)
		}
		id := <-ids
		if id <= 0 || seen[id] {
			t.Fatalf("message ID %d (seen %v)", id, seen)
		}
		seen[id] = true
	}
	if seen[1] && seen[2] && seen[3] {
		t.Fatal("message IDs count from 1")
	}
}
