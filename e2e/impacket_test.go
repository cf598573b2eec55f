package e2e

import (
	"strings"
	"testing"
)

// parseKV turns the script's "key=value" lines into a map.
func parseKV(out string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), "="); ok {
			m[k] = v
		}
	}
	return m
}

// NetrWkstaGetInfo with impacket 0.10 at each dialect it can speak, at
// NDR and NDR64; 3.0 means AES-128-CCM encryption, since impacket turns
// it on whenever the server offers it. The recording proxy checks
// signatures and encryption on the wire.
func TestImpacketGetInfo(t *testing.T) {
	d := startDaemon(t)
	tap := startTap(t, d)
	for _, tc := range []struct{ dialect, wire string }{
		{"2.0.2", "0x202"}, {"2.1", "0x210"}, {"3.0", "0x300"},
	} {
		t.Run(tc.dialect, func(t *testing.T) {
			eachSyntax(t, func(t *testing.T, s syntax) {
				before := tap.Stats()
				out, err := python(t, "impacket_getinfo.py", tapHost, "445", tc.dialect, adminUser, adminPass, "100", s.String())
				expectWire(t, tap, before, tc.dialect == "3.0")
				if err != nil {
					t.Fatalf("impacket: %v\n%s", err, out)
				}
				kv := parseKV(out)
				if kv["dialect"] != tc.wire {
					t.Errorf("dialect %s, want %s", kv["dialect"], tc.wire)
				}
				if kv["computername"] != netbios || kv["platform_id"] != "500" || kv["langroup"] != "WORKGROUP" {
					t.Errorf("unexpected answer:\n%s", out)
				}
				if len(kv["sessionkey"]) != 32 {
					t.Errorf("impacket has no 16-byte session key:\n%s", out)
				}
				if kv["syntax"] != s.String() {
					t.Errorf("bound with %q", kv["syntax"])
				}
			})
		})
	}
}

func TestImpacketNonAdminLevel502Denied(t *testing.T) {
	startDaemon(t)
	out, err := python(t, "impacket_getinfo.py", daemonAddr, "445", "2.1", plainUser, plainPass, "502")
	// impacket names Win32 code 5 after the RPC status with the same value.
	if err == nil || !strings.Contains(out, "code: 0x5 ") {
		t.Fatalf("level 502 as a non-administrator: err=%v\n%s", err, out)
	}
}

func TestImpacketWrongPassword(t *testing.T) {
	startDaemon(t)
	out, err := python(t, "impacket_getinfo.py", daemonAddr, "445", "3.0", adminUser, "not-the-password", "100")
	if err == nil || !strings.Contains(out, "STATUS_LOGON_FAILURE") {
		t.Fatalf("wrong password: err=%v\n%s", err, out)
	}
}
