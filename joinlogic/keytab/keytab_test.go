package keytab

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/oiweiwei/gokrb5.fork/v9/crypto"
	"github.com/oiweiwei/gokrb5.fork/v9/iana/etypeID"
	gokeytab "github.com/oiweiwei/gokrb5.fork/v9/keytab"
	"github.com/oiweiwei/gokrb5.fork/v9/types"
	"golang.org/x/crypto/md4"
)

func TestSalt(t *testing.T) {
	// MS-KILE 3.1.1.2: realm upper case, "host", name lower case without
	// '$', ".", realm lower case.
	for _, c := range [][3]string{
		{"EXAMPLE.TEST", "WS1$", "EXAMPLE.TESThostws1.example.test"},
		{"example.test", "Ws1", "EXAMPLE.TESThostws1.example.test"},
		{"CORP.EXAMPLE.COM", "LAPTOP-01$", "CORP.EXAMPLE.COMhostlaptop-01.corp.example.com"},
	} {
		if got := Salt(c[0], c[1]); got != c[2] {
			t.Errorf("Salt(%s, %s) = %s", c[0], c[1], got)
		}
	}
}

func TestPrincipals(t *testing.T) {
	got := Entries{ComputerName: "ws1$", Realm: "EXAMPLE.TEST"}.Principals()
	want := []string{"WS1$", "host/WS1", "host/ws1.example.test", "RestrictedKrbHost/WS1", "RestrictedKrbHost/ws1.example.test"}
	if !slices.Equal(got, want) {
		t.Errorf("Principals = %v", got)
	}
	got = Entries{ComputerName: "WS1", DNSHostName: "WS1.Other.Test", Realm: "EXAMPLE.TEST"}.Principals()
	if got[2] != "host/ws1.other.test" {
		t.Errorf("Principals with DNSHostName = %v", got)
	}
}

// refNTHash computes the RC4-HMAC key independently of the package.
func refNTHash(pw string) []byte {
	h := md4.New()
	for _, c := range utf16.Encode([]rune(pw)) {
		binary.Write(h, binary.LittleEndian, c)
	}
	return h.Sum(nil)
}

func TestWriteAndLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "krb5.keytab")
	const pw = "Mach1ne pässword ✓ \U0001F600"
	ts := time.Unix(1700000000, 0)
	e := Entries{ComputerName: "WS1", Realm: "example.test", Password: pw, KVNO: 300, Timestamp: ts}
	if err := Write(path, e); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
	kt, err := gokeytab.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(kt.Entries) != 15 {
		t.Fatalf("%d entries, want 15", len(kt.Entries))
	}
	salt := "EXAMPLE.TESThostws1.example.test"
	for _, ent := range kt.Entries {
		if ent.Principal.Realm != "EXAMPLE.TEST" || ent.KVNO != 300 || ent.KVNO8 != 300%256 || !ent.Timestamp.Equal(ts) {
			t.Errorf("entry %v", ent)
		}
	}
	for _, et := range DefaultEncTypes {
		for _, p := range e.Principals() {
			key, kvno, err := kt.GetEncryptionKey(types.NewPrincipalName(1, p), "EXAMPLE.TEST", 300, et)
			if err != nil || kvno != 300 {
				t.Fatalf("%s etype %d: %v", p, et, err)
			}
			var want []byte
			if et == etypeID.RC4_HMAC {
				want = refNTHash(pw)
			} else {
				etype, _ := crypto.GetEtype(et)
				want, _ = etype.StringToKey(pw, salt, etype.GetDefaultStringToKeyParams())
				// Not the key of the principal's default salt.
				defSalt := "EXAMPLE.TEST" + strings.ReplaceAll(p, "/", "")
				def, _ := etype.StringToKey(pw, defSalt, etype.GetDefaultStringToKeyParams())
				if defSalt != salt && bytes.Equal(def, key.KeyValue) {
					t.Errorf("%s etype %d has the default-salt key", p, et)
				}
			}
			if !bytes.Equal(key.KeyValue, want) {
				t.Errorf("%s etype %d: wrong key", p, et)
			}
		}
	}

	// Rewriting replaces the file and leaves no temporary file behind.
	e.KVNO = 2
	if err := Write(path, e); err != nil {
		t.Fatal(err)
	}
	names, _ := os.ReadDir(dir)
	if len(names) != 1 {
		t.Errorf("directory holds %v", names)
	}
	if kt, err = gokeytab.Load(path); err != nil || kt.Entries[0].KVNO != 2 {
		t.Errorf("after rewrite: %v", err)
	}
}

func TestWriteDefaultsAndErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "k")
	if err := Write(path, Entries{ComputerName: "WS2", Realm: "EXAMPLE.TEST", Password: "p", EncTypes: []int32{etypeID.AES256_CTS_HMAC_SHA1_96}}); err != nil {
		t.Fatal(err)
	}
	kt, err := gokeytab.Load(path)
	if err != nil || len(kt.Entries) != 5 || kt.Entries[0].KVNO != 1 || kt.Entries[0].Timestamp.IsZero() {
		t.Fatalf("defaults: %v %v", err, kt)
	}
	for _, e := range []Entries{
		{Realm: "R", Password: "p"},
		{ComputerName: "$", Realm: "R", Password: "p"},
		{ComputerName: "a/b", Realm: "R", Password: "p"},
		{ComputerName: "WS", Password: "p"},
		{ComputerName: "WS", Realm: "R@X", Password: "p"},
		{ComputerName: "WS", Realm: "R"},
		{ComputerName: "WS", Realm: "R", Password: "p", DNSHostName: "a@b"},
		{ComputerName: "WS", Realm: "R", Password: "p", EncTypes: []int32{9999}},
	} {
		if err := Write(filepath.Join(dir, "bad"), e); err == nil {
			t.Errorf("%+v accepted", e)
		}
	}
	if err := Write(filepath.Join(dir, "missing", "k"), Entries{ComputerName: "WS", Realm: "R", Password: "p"}); err == nil {
		t.Error("write into a missing directory succeeded")
	}
	names, _ := os.ReadDir(dir)
	if len(names) != 1 {
		t.Errorf("failed writes left %v", names)
	}
}
