package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/oiweiwei/go-msrpc/smb2"
)

// --require-encryption: clients that can encrypt are served (they follow
// SMB2_SESSION_FLAG_ENCRYPT_DATA), those that cannot are refused at
// SESSION_SETUP with STATUS_ACCESS_DENIED.
func TestRequireEncryptionClients(t *testing.T) {
	d := startDaemon(t, "--require-encryption")
	t.Run("go-msrpc 3.1.1", func(t *testing.T) {
		c, err := dialMSRPC(t, daemonAddr, adminUser, adminPass, smb2.SMB311, false)
		if err != nil {
			t.Fatal(err)
		}
		getInfo(t, c, "go-msrpc at 3.1.1 under --require-encryption")
	})
	t.Run("go-msrpc 2.1 refused", func(t *testing.T) {
		_, err := dialMSRPC(t, daemonAddr, adminUser, adminPass, smb2.SMB210, false)
		if err == nil {
			t.Fatal("a 2.1 client was served")
		}
	})
	t.Run("rpcclient", func(t *testing.T) {
		bin := lookPath(t, "rpcclient")
		conf := sambaConf(t)
		for p, ok := range map[string]bool{"SMB3_11": true, "SMB3_00": true, "SMB2_10": false} {
			// rpcclient follows the "client ipc" protocol options.
			args := []string{"-s", conf, "-U", adminUser + "%" + adminPass, daemonAddr, "-c", "wkssvc_getjoininformation",
				"--option=client ipc min protocol=" + p, "--option=client ipc max protocol=" + p}
			out, err := run(t, 30*time.Second, bin, args...)
			served := err == nil && strings.Contains(out, "WORKGROUP (2)")
			if served != ok {
				t.Errorf("%s: served=%v, want %v: %v\n%s", p, served, ok, err, out)
			}
			if !ok && !strings.Contains(out, "NT_STATUS_ACCESS_DENIED") {
				t.Errorf("%s: refusal is not ACCESS_DENIED:\n%s", p, out)
			}
		}
	})
	t.Run("impacket 3.0", func(t *testing.T) {
		out, err := python(t, "impacket_getinfo.py", daemonAddr, "445", "3.0", adminUser, adminPass, "100")
		if err != nil || parseKV(out)["computername"] != netbios {
			t.Fatalf("impacket at 3.0: %v\n%s", err, out)
		}
		out, err = python(t, "impacket_getinfo.py", daemonAddr, "445", "2.1", adminUser, adminPass, "100")
		if err == nil {
			t.Fatalf("impacket at 2.1 was served:\n%s", out)
		}
	})
	if n := len(lines(d.Output(), "dialect=2.1")); n != 0 {
		t.Errorf("%d sessions at 2.1 were established", n)
	}
}
