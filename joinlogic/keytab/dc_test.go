package keytab

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/wkssvcd/wkssvcd/internal/testdc"
)

func TestMain(m *testing.M) { os.Exit(testdc.Main(m)) }

// TestKinitEachKey proves every key type of a written keytab against the
// Samba KDC, for a computer account whose password is not ASCII.
func TestKinitEachKey(t *testing.T) {
	dc := testdc.Start(t, testdc.Options{})
	const name = "KTPROOF1"
	const pw = "Kt-pässwörd ✓ 1234567890"
	dc.MustSambaTool(t, "computer", "create", name)
	t.Cleanup(func() { dc.SambaTool(context.Background(), "computer", "delete", name) })
	dc.MustSambaTool(t, "user", "setpassword", name+"$", "--newpassword="+pw)

	kt := filepath.Join(t.TempDir(), "krb5.keytab")
	// samba-tool computer create leaves msDS-KeyVersionNumber at 1; the
	// password set makes it 2.
	if err := Write(kt, Entries{ComputerName: name, Realm: dc.Realm, Password: pw, KVNO: 2}); err != nil {
		t.Fatal(err)
	}
	for _, et := range []string{"aes256-cts-hmac-sha1-96", "aes128-cts-hmac-sha1-96", "rc4-hmac"} {
		if out, err := dc.Kinit(context.Background(), kt, name+"$@"+dc.Realm, et); err != nil {
			t.Errorf("%s: %v %s", et, err, out)
		}
	}
	// A keytab of another password is refused: the proof is not vacuous.
	bad := filepath.Join(t.TempDir(), "bad.keytab")
	if err := Write(bad, Entries{ComputerName: name, Realm: dc.Realm, Password: pw + "x", KVNO: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := dc.Kinit(context.Background(), bad, name+"$@"+dc.Realm); err == nil {
		t.Error("kinit succeeded with the wrong password's keytab")
	}
}
