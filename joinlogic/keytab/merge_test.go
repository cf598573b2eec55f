package keytab

import (
	"bytes"
	"testing"
	"time"

	"github.com/oiweiwei/gokrb5.fork/v9/iana/etypeID"
	"github.com/oiweiwei/gokrb5.fork/v9/iana/nametype"
	gokeytab "github.com/oiweiwei/gokrb5.fork/v9/keytab"
	"github.com/oiweiwei/gokrb5.fork/v9/types"
)

// foreignKeytab is a keytab of other services of the host: nfs/ and
// HTTP/ keys, kvno 3.
func foreignKeytab(t *testing.T) []byte {
	t.Helper()
	kt := gokeytab.New()
	for _, p := range []string{"nfs/ws1.example.test", "HTTP/ws1.example.test"} {
		if err := kt.AddEntry(p, "EXAMPLE.TEST", "service-pw", time.Unix(1700000000, 0), 3, etypeID.AES256_CTS_HMAC_SHA1_96); err != nil {
			t.Fatal(err)
		}
	}
	b, err := kt.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// summary lists the entries as "principal@REALM kvno" strings, one per
// principal and version (the encryption types collapsed).
func summary(t *testing.T, b []byte) map[string]int {
	t.Helper()
	kt, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, e := range kt.Entries {
		out[e.Principal.String()+" "+itoa(entryKVNO(e))]++
	}
	return out
}

func itoa(v uint32) string {
	const d = "0123456789"
	if v < 10 {
		return d[v : v+1]
	}
	return itoa(v/10) + d[v%10:v%10+1]
}

func TestMergeKeepsOtherPrincipalsAndThePreviousVersion(t *testing.T) {
	e := Entries{ComputerName: "WS1", DNSHostName: "ws1.example.test", Realm: "EXAMPLE.TEST", Password: "pw-2", KVNO: 2}
	b, err := Merge(foreignKeytab(t), e)
	if err != nil {
		t.Fatal(err)
	}
	got := summary(t, b)
	if got["nfs/ws1.example.test@EXAMPLE.TEST 3"] != 1 || got["HTTP/ws1.example.test@EXAMPLE.TEST 3"] != 1 ||
		got["WS1$@EXAMPLE.TEST 2"] != 3 || got["host/ws1.example.test@EXAMPLE.TEST 2"] != 3 || len(got) != 7 {
		t.Fatalf("first join: %v", got)
	}
	// A password change: version 3 added, version 2 kept.
	e.Password, e.KVNO = "pw-3", 3
	if b, err = Merge(b, e); err != nil {
		t.Fatal(err)
	}
	got = summary(t, b)
	if got["WS1$@EXAMPLE.TEST 3"] != 3 || got["WS1$@EXAMPLE.TEST 2"] != 3 || got["nfs/ws1.example.test@EXAMPLE.TEST 3"] != 1 || len(got) != 12 {
		t.Fatalf("second: %v", got)
	}
	// Another: version 4 and 3; version 2 goes.
	e.Password, e.KVNO = "pw-4", 4
	if b, err = Merge(b, e); err != nil {
		t.Fatal(err)
	}
	got = summary(t, b)
	if got["WS1$@EXAMPLE.TEST 4"] != 3 || got["WS1$@EXAMPLE.TEST 3"] != 3 || got["WS1$@EXAMPLE.TEST 2"] != 0 || len(got) != 12 {
		t.Fatalf("third: %v", got)
	}
	// The keys of version 3 are those of pw-3.
	kt, _ := Parse(b)
	want, _ := Build(Entries{ComputerName: "WS1", DNSHostName: "ws1.example.test", Realm: "EXAMPLE.TEST", Password: "pw-3", KVNO: 3})
	for _, w := range want.Entries {
		found := false
		for _, g := range kt.Entries {
			if g.Principal.String() == w.Principal.String() && entryKVNO(g) == 3 && g.Key.KeyType == w.Key.KeyType && string(g.Key.KeyValue) == string(w.Key.KeyValue) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s kvno 3 type %d missing or changed", w.Principal, w.Key.KeyType)
		}
	}
	// Writing the same version again replaces it.
	e.Password = "pw-4b"
	if b, err = Merge(b, e); err != nil {
		t.Fatal(err)
	}
	if got = summary(t, b); got["WS1$@EXAMPLE.TEST 4"] != 3 || len(got) != 12 {
		t.Fatalf("same version again: %v", got)
	}
}

// The account's entries are recognised whatever their case (another tool
// wrote them); the same names in another realm are not the account's.
func TestMergeAccountMatching(t *testing.T) {
	kt := gokeytab.New()
	for _, c := range []struct {
		p, realm string
	}{{"ws1$", "example.test"}, {"HOST/WS1.EXAMPLE.TEST", "EXAMPLE.TEST"}, {"WS1$", "OTHER.TEST"}} {
		if err := kt.AddEntry(c.p, c.realm, "x", time.Unix(1, 0), 1, etypeID.AES256_CTS_HMAC_SHA1_96); err != nil {
			t.Fatal(err)
		}
	}
	old, _ := kt.Marshal()
	e := Entries{ComputerName: "WS1", DNSHostName: "ws1.example.test", Realm: "EXAMPLE.TEST", Password: "pw", KVNO: 5}
	b, err := Merge(old, e)
	if err != nil {
		t.Fatal(err)
	}
	got := summary(t, b)
	// kvno 1 is the previous version of the account: kept.
	if got["ws1$@example.test 1"] != 1 || got["HOST/WS1.EXAMPLE.TEST@EXAMPLE.TEST 1"] != 1 || got["WS1$@OTHER.TEST 1"] != 1 {
		t.Fatalf("%v", got)
	}
	out, empty, changed, err := Without(b, e)
	if err != nil || empty || !changed {
		t.Fatal(empty, changed, err)
	}
	if got := summary(t, out); len(got) != 1 || got["WS1$@OTHER.TEST 1"] != 1 {
		t.Fatalf("after Without: %v", got)
	}
	if _, empty, changed, err := Without(out, Entries{ComputerName: "WS1", Realm: "OTHER.TEST"}); err != nil || !empty || !changed {
		t.Fatal(empty, changed, err)
	}
}

func TestParseMalformed(t *testing.T) {
	for _, b := range [][]byte{nil, {5}, {4, 2}, {5, 3}, {5, 2, 0, 0, 0, 50, 1}} {
		if _, err := Parse(b); err == nil {
			t.Errorf("Parse(%x) accepted", b)
		}
	}
	if _, err := Merge([]byte("junk"), Entries{ComputerName: "W", Realm: "R", Password: "p"}); err == nil {
		t.Error("Merge into junk succeeded")
	}
}

// TestMergeNewestByTimestamp: a password change in the same second as the
// previous one still leaves the new keys the newest by timestamp, which is
// how gokrb5 picks a key when no version is named (its client's AS
// exchange): without it, it picks the previous version and the KDC answers
// PREAUTH_FAILED.
func TestMergeNewestByTimestamp(t *testing.T) {
	ts := time.Unix(1700000000, 0)
	e := Entries{ComputerName: "WS1", DNSHostName: "ws1.example.test", Realm: "EXAMPLE.TEST", Password: "pw-2", KVNO: 2, Timestamp: ts}
	b, err := Merge(nil, e)
	if err != nil {
		t.Fatal(err)
	}
	for _, kvno := range []uint32{3, 4} {
		e.Password, e.KVNO = "pw-"+itoa(kvno), kvno
		if b, err = Merge(b, e); err != nil {
			t.Fatal(err)
		}
		kt, err := Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		want, err := Build(e)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range e.Principals() {
			name := types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, p)
			for _, et := range DefaultEncTypes {
				key, v, err := kt.GetEncryptionKey(name, "EXAMPLE.TEST", 0, et)
				if err != nil || v != int(kvno) {
					t.Fatalf("%s type %d: the newest key is version %d (%v), want %d", p, et, v, err, kvno)
				}
				w, _, _ := want.GetEncryptionKey(name, "EXAMPLE.TEST", int(kvno), et)
				if !bytes.Equal(key.KeyValue, w.KeyValue) {
					t.Fatalf("%s type %d: the newest key is not that of %s", p, et, e.Password)
				}
			}
		}
	}
}
