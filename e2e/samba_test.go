package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sambaConf writes an empty client configuration so that the host's
// smb.conf cannot change what the Samba tools do.
func sambaConf(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "smb.conf")
	if err := os.WriteFile(p, []byte("[global]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

var sambaDialects = []string{"SMB2_02", "SMB2_10", "SMB3_00", "SMB3_02", "SMB3_11"}

func protocolOptions(p string) []string {
	return []string{"--option=client min protocol=" + p, "--option=client max protocol=" + p}
}

// rpcclient -c wkssvc_wkstagetinfo at every dialect, signed, and with
// SMB3 encryption required where the dialect has it, through the recording
// proxy that checks signatures and encryption on the wire.
func TestRpcclientWkstaGetInfo(t *testing.T) {
	d := startDaemon(t)
	tap := startTap(t, d)
	bin := lookPath(t, "rpcclient")
	conf := sambaConf(t)
	var cases []string
	for _, p := range sambaDialects {
		cases = append(cases, p)
		if strings.HasPrefix(p, "SMB3") {
			cases = append(cases, p+"/encrypted")
		}
	}
	for _, c := range cases {
		t.Run(c, func(t *testing.T) {
			p, encrypted := strings.CutSuffix(c, "/encrypted")
			// rpcclient prints the decoded answer only at debug level 10.
			args := append([]string{"-d", "10", "-s", conf, "-U", adminUser + "%" + adminPass, tapHost, "-c", "wkssvc_wkstagetinfo"}, protocolOptions(p)...)
			if encrypted {
				args = append(args, "--option=client smb encrypt=required")
			}
			before := tap.Stats()
			out, err := run(t, 30*time.Second, bin, args...)
			expectWire(t, tap, before, encrypted)
			if err != nil {
				t.Fatalf("rpcclient: %v\n%s", err, out)
			}
			for _, want := range []string{"server_name              : '" + netbios + "'", "domain_name              : 'WORKGROUP'", "platform_id              : PLATFORM_ID_NT (500)", "result                   : WERR_OK"} {
				if !strings.Contains(out, want) {
					t.Fatalf("answer lacks %q", want)
				}
			}
		})
	}
	t.Run("level 502 as non-administrator", func(t *testing.T) {
		out, _ := run(t, 30*time.Second, bin, "-s", conf, "-U", plainUser+"%"+plainPass, daemonAddr, "-c", "wkssvc_wkstagetinfo 502")
		if !strings.Contains(out, "WERR_ACCESS_DENIED") {
			t.Fatalf("level 502 as a non-administrator:\n%s", out)
		}
	})
	t.Run("getjoininformation", func(t *testing.T) {
		out, err := run(t, 30*time.Second, bin, "-s", conf, "-U", adminUser+"%"+adminPass, daemonAddr, "-c", "wkssvc_getjoininformation")
		if err != nil || !strings.Contains(out, "WORKGROUP (2)") {
			t.Fatalf("rpcclient getjoininformation: %v\n%s", err, out)
		}
	})
}

// smbclient -L lists the shares (IPC$) through srvsvc.
func TestSmbclientList(t *testing.T) {
	startDaemon(t)
	bin := lookPath(t, "smbclient")
	conf := sambaConf(t)
	out, err := run(t, 30*time.Second, bin, "-s", conf, "-L", "//"+daemonAddr, "-U", adminUser+"%"+adminPass)
	if err != nil {
		t.Fatalf("smbclient -L: %v\n%s", err, out)
	}
	if !strings.Contains(out, "IPC$") {
		t.Fatalf("share list lacks IPC$:\n%s", out)
	}
}

// Only IPC$ exists; the session survives the refusal.
func TestSmbclientOtherShare(t *testing.T) {
	startDaemon(t)
	bin := lookPath(t, "smbclient")
	conf := sambaConf(t)
	out, err := run(t, 30*time.Second, bin, "-s", conf, "//"+daemonAddr+"/C$", "-U", adminUser+"%"+adminPass, "-c", "ls")
	if err == nil || !strings.Contains(out, "NT_STATUS_BAD_NETWORK_NAME") {
		t.Fatalf("tree connect to C$: err=%v\n%s", err, out)
	}
	for _, p := range sambaDialects {
		args := append([]string{"-s", conf, "//" + daemonAddr + "/IPC$", "-U", adminUser + "%" + adminPass, "-c", "exit"}, protocolOptions(p)...)
		if out, err := run(t, 30*time.Second, bin, args...); err != nil {
			t.Errorf("%s: smbclient IPC$: %v\n%s", p, err, out)
		}
	}
	out, err = run(t, 30*time.Second, bin, "-s", conf, "//"+daemonAddr+"/IPC$", "-U", adminUser+"%nope", "-c", "exit")
	if err == nil || !strings.Contains(out, "NT_STATUS_LOGON_FAILURE") {
		t.Fatalf("wrong password: err=%v\n%s", err, out)
	}
}
