package kerberos

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/oiweiwei/gokrb5.fork/v9/iana/etypeID"

	"github.com/wkssvcd/wkssvcd/joinlogic/keytab"
)

func TestKeytabKeysFollowTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "krb5.keytab")
	joined := true
	k := &KeytabKeys{Path: path, Account: func() (string, string, bool) { return "WKHOST$", "EXAMPLE.TEST", joined }}
	if _, ok, err := k.ServiceKeys(); ok || err != nil {
		t.Fatalf("no file: ok=%v err=%v", ok, err)
	}
	write := func(pw string, kvno uint32) {
		t.Helper()
		if err := keytab.Write(path, keytab.Entries{ComputerName: "WKHOST", Realm: "EXAMPLE.TEST", Password: pw, KVNO: kvno}); err != nil {
			t.Fatal(err)
		}
	}
	write("first password", 2)
	keys, ok, err := k.ServiceKeys()
	if err != nil || !ok || keys.Realm != "EXAMPLE.TEST" || len(keys.Keys) != 3 {
		t.Fatalf("keys %+v ok=%v err=%v", keys, ok, err)
	}
	for _, key := range keys.Keys {
		if key.KVNO != 2 || (key.EType != etypeID.AES256_CTS_HMAC_SHA1_96 && key.EType != etypeID.AES128_CTS_HMAC_SHA1_96 && key.EType != etypeID.RC4_HMAC) {
			t.Fatalf("key %d/%d", key.EType, key.KVNO)
		}
	}
	// A new keytab (a password change) is read on the next call.
	time.Sleep(10 * time.Millisecond)
	write("second password", 3)
	keys2, _, _ := k.ServiceKeys()
	if len(keys2.Keys) == 0 || keys2.Keys[0].KVNO != 3 {
		t.Fatalf("after the change: %+v", keys2)
	}
	// Not joined: nothing, whatever the file holds.
	joined = false
	if _, ok, _ := k.ServiceKeys(); ok {
		t.Fatal("keys while not joined")
	}
	joined = true
	// A corrupt file gives no keys (or an error), never a panic.
	for _, b := range [][]byte{{0x05, 0x02, 0xff, 0xff, 0xff, 0x7f}, {0x05, 0x01}, {0x07}, {0x05, 0x02, 0, 0, 0, 9, 0, 1}} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := k.ServiceKeys(); ok {
			t.Fatalf("corrupt keytab %x gave keys", b)
		}
	}
}

func TestReplayCacheExpiryAndBound(t *testing.T) {
	r := newReplayCache(2)
	now := time.Unix(1000, 0)
	exp := now.Add(10 * time.Minute)
	if r.check([]byte("a"), now, exp) != replayFresh || r.check([]byte("a"), now, exp) != replaySeen {
		t.Fatal("a")
	}
	if r.check([]byte("b"), now, exp) != replayFresh {
		t.Fatal("b")
	}
	if r.check([]byte("c"), now, exp) != replayFull {
		t.Fatal("full cache accepted c")
	}
	later := exp.Add(time.Second)
	if r.check([]byte("a"), later, later.Add(10*time.Minute)) != replayFresh || r.len() != 1 {
		t.Fatalf("after expiry: %d entries", r.len())
	}
}
