package ldapdir

import (
	"encoding/hex"
	"strings"
	"testing"
)

// Answers of the Samba 4.17 AD DC of EXAMPLE.TEST to the LDAP pings
// (&(DnsDomain=example.test)(NtVer=\06\00\00\00)) and (NtVer=\1e\00\00\00).
const (
	samba417Ping06 = "17000000fd130000b83913f8eef97447a3078228ac608037076578616d706c65047465737400c01803646331c018074558414d504c45000344433100001744656661756c742d46697273742d536974652d4e616d6500c03d05000000ffffffff"
	samba417Ping1e = "17000000fd130000b83913f8eef97447a3078228ac608037076578616d706c65047465737400c01803646331c018074558414d504c45000344433100001744656661756c742d46697273742d536974652d4e616d6500c03d10020000007f00000200000000000000000d000000ffffffff"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParsePingResponseSamba(t *testing.T) {
	for _, c := range []struct {
		hex    string
		ntVer  uint32
		addr   string
		ntResp uint32
	}{
		{samba417Ping06, 6, "", 5},
		{samba417Ping1e, 0x1e, "127.0.0.2", 0xd},
	} {
		r, err := ParsePingResponse(mustHex(t, c.hex), c.ntVer)
		if err != nil {
			t.Fatalf("ntVer %#x: %v", c.ntVer, err)
		}
		want := PingResponse{
			Opcode: 23, Flags: 0x13fd, DNSForestName: "example.test", DNSDomainName: "example.test",
			DNSHostName: "dc1.example.test", NetBIOSDomainName: "EXAMPLE", NetBIOSComputerName: "DC1",
			DCSiteName: "Default-First-Site-Name", ClientSiteName: "Default-First-Site-Name",
			DCAddress: c.addr, NtVersion: c.ntResp,
		}
		want.DomainGUID = r.DomainGUID
		if *r != want {
			t.Errorf("ntVer %#x:\n got %+v\nwant %+v", c.ntVer, *r, want)
		}
		if g := r.GUIDString(); g != "f81339b8-f9ee-4774-a307-8228ac608037" {
			t.Errorf("GUID = %s", g)
		}
		if r.Flags&(FlagDS|FlagWritable|FlagGC|FlagKDC) != FlagDS|FlagWritable|FlagGC|FlagKDC {
			t.Errorf("flags %#x", r.Flags)
		}
	}
	// Asked without the optional fields, the answer with them has bytes
	// left over.
	if _, err := ParsePingResponse(mustHex(t, samba417Ping1e), 6); err == nil {
		t.Error("extra bytes accepted")
	}
}

// header builds the fixed part of a response with the given opcode.
func header(op byte) []byte {
	b := make([]byte, 24)
	b[0] = op
	b[4] = 0x10 // DS_DS_FLAG
	return b
}

var trailer = []byte{5, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}

func TestParsePingResponseMalformed(t *testing.T) {
	good := mustHex(t, samba417Ping06)
	eightEmpty := []byte{0, 0, 0, 0, 0, 0, 0, 0}
	cases := map[string][]byte{
		"empty":          nil,
		"short":          good[:30],
		"truncated":      good[:len(good)-9],
		"bad opcode":     append(append(header(19), eightEmpty...), trailer...),
		"self pointer":   append(append(header(23), 0xc0, 24, 0, 0, 0, 0, 0, 0, 0), trailer...),
		"forward ptr":    append(append(header(23), 0xc0, 30, 0, 0, 0, 0, 0, 0, 0), trailer...),
		"label overrun":  append(append(header(23), 60, 'a', 0, 0, 0, 0, 0, 0, 0), trailer...),
		"reserved label": append(append(header(23), 0x80, 0, 0, 0, 0, 0, 0, 0), trailer...),
		"pointer at end": append(header(23), 0xc0),
	}
	// Two pointers that point at each other.
	loop := append(header(23), 0xc0, 26, 0xc0, 24, 0, 0, 0, 0, 0, 0)
	cases["pointer loop"] = append(loop, trailer...)
	// A name longer than 255 octets built from back pointers.
	long := header(23)
	long = append(long, 63)
	long = append(long, []byte(strings.Repeat("a", 63))...)
	long = append(long, 0)
	for i := 0; i < 5; i++ {
		long = append(long, 63)
		long = append(long, []byte(strings.Repeat("b", 63))...)
		long = append(long, 0xc0, byte(24))
	}
	cases["too long"] = append(append(long, 0, 0, 0, 0, 0, 0, 0), trailer...)
	for name, b := range cases {
		if r, err := ParsePingResponse(b, 6); err == nil {
			t.Errorf("%s: accepted: %+v", name, r)
		}
	}
	// The minimum: eight empty names.
	if _, err := ParsePingResponse(append(append(header(23), eightEmpty...), trailer...), 6); err != nil {
		t.Errorf("minimal response: %v", err)
	}
}

func TestReadCompressedName(t *testing.T) {
	msg := []byte{7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 4, 't', 'e', 's', 't', 0, 3, 'd', 'c', '1', 0xc0, 0}
	s, next, err := readCompressedName(msg, 14)
	if err != nil || s != "dc1.example.test" || next != len(msg) {
		t.Fatalf("= %q, %d, %v", s, next, err)
	}
	s, next, err = readCompressedName(msg, 0)
	if err != nil || s != "example.test" || next != 14 {
		t.Fatalf("= %q, %d, %v", s, next, err)
	}
	for _, off := range []int{-1, len(msg), 1000} {
		if _, _, err := readCompressedName(msg, off); err == nil {
			t.Errorf("offset %d accepted", off)
		}
	}
}

func FuzzParsePingResponse(f *testing.F) {
	f.Add(mustHex(f, samba417Ping06), uint32(6))
	f.Add(mustHex(f, samba417Ping1e), uint32(0x1e))
	f.Add(mustHex(f, samba417Ping1e), uint32(0xe))
	f.Add(append(append(header(23), 0xc0, 26, 0xc0, 24, 0, 0, 0, 0, 0, 0), trailer...), uint32(6))
	f.Fuzz(func(t *testing.T, b []byte, ntVer uint32) {
		r, err := ParsePingResponse(b, ntVer)
		if err != nil {
			return
		}
		for _, s := range []string{r.DNSForestName, r.DNSDomainName, r.DNSHostName, r.NetBIOSDomainName,
			r.NetBIOSComputerName, r.UserName, r.DCSiteName, r.ClientSiteName, r.NextClosestSiteName} {
			if len(s) > maxNameLen {
				t.Fatalf("name of %d bytes", len(s))
			}
		}
		_ = r.GUIDString()
	})
}
