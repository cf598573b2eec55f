package main

import (
	"testing"
	"time"

	"github.com/oiweiwei/gokrb5.fork/v9/iana/etypeID"
	"github.com/oiweiwei/gokrb5.fork/v9/iana/nametype"
	gokeytab "github.com/oiweiwei/gokrb5.fork/v9/keytab"
	"github.com/oiweiwei/gokrb5.fork/v9/types"
)

// TestNewestKeys: testjoin logs on with the highest key version of the
// account, whatever the entries' order and timestamps (a keytab holding
// the previous version first, all stamped in the same second).
func TestNewestKeys(t *testing.T) {
	kt := gokeytab.New()
	ts := time.Unix(1700000000, 0)
	for _, e := range []struct {
		p, pw string
		kvno  uint8
	}{{"WS1$", "old", 2}, {"host/ws1.example.test", "old", 2}, {"ws1$", "new", 3}, {"WS1$", "older", 1}, {"nfs/ws1.example.test", "nfs", 9}} {
		if err := kt.AddEntry(e.p, "EXAMPLE.TEST", e.pw, ts, e.kvno, etypeID.AES256_CTS_HMAC_SHA1_96); err != nil {
			t.Fatal(err)
		}
	}
	got := newestKeys(kt, "WS1$")
	if len(got.Entries) != 1 || got.Entries[0].KVNO != 3 {
		t.Fatalf("newest keys: %+v", got.Entries)
	}
	name := types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, "WS1$")
	if _, v, err := got.GetEncryptionKey(name, "EXAMPLE.TEST", 0, etypeID.AES256_CTS_HMAC_SHA1_96); err != nil || v != 3 {
		t.Fatalf("the client would log on with version %d (%v), want 3", v, err)
	}
	if _, v, _ := kt.GetEncryptionKey(name, "EXAMPLE.TEST", 0, etypeID.AES256_CTS_HMAC_SHA1_96); v == 3 {
		t.Log("note: gokrb5 now picks the highest version by itself")
	}
	if len(newestKeys(kt, "OTHER$").Entries) != 0 {
		t.Fatal("keys of another account")
	}
}
