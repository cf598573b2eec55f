package smb2

import (
	"context"
	"github.com/wkssvcd/wkssvcd/internal/testenv"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

func runSmbclient(t *testing.T, args ...string) (string, error) {
	t.Helper()
	path := testenv.Tool(t, "smbclient", "smbclient")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, args...).CombinedOutput()
	return string(out), err
}

func TestSmbclientDialects(t *testing.T) {
	ts := startServer(t, nil)
	port := strconv.Itoa(ts.addr.Port)
	for _, m := range []string{"SMB2_02", "SMB2_10", "SMB3_00", "SMB3_02", "SMB3_11"} {
		for _, prot := range []string{"sign", "encrypt"} {
			if prot == "encrypt" && strings.HasPrefix(m, "SMB2") {
				continue
			}
			t.Run(m+"-"+prot, func(t *testing.T) {
				out, err := runSmbclient(t, "//127.0.0.1/IPC$", "-p", port, "-U", testUser+"%"+testPassword,
					"-W", testDomain, "-m", m, "--client-protection="+prot, "-c", "exit")
				if err != nil {
					t.Fatalf("smbclient: %v\n%s", err, out)
				}
			})
		}
	}
}

func TestSmbclientList(t *testing.T) {
	ts := startServer(t, nil)
	out, err := runSmbclient(t, "-L", "//127.0.0.1", "-p", strconv.Itoa(ts.addr.Port),
		"-U", testUser+"%"+testPassword, "-W", testDomain)
	// The test pipes do not include srvsvc, so the share enumeration
	// itself fails; session setup and the IPC$ tree connect must work.
	if strings.Contains(out, "NT_STATUS_LOGON_FAILURE") || strings.Contains(out, "NT_STATUS_BAD_NETWORK_NAME") ||
		strings.Contains(out, "NT_STATUS_CONNECTION") {
		t.Fatalf("smbclient -L: %v\n%s", err, out)
	}
}

func TestSmbclientAnonymous(t *testing.T) {
	ts := startServer(t, nil)
	out, err := runSmbclient(t, "//127.0.0.1/IPC$", "-p", strconv.Itoa(ts.addr.Port), "-N", "-c", "exit")
	if err != nil {
		t.Fatalf("anonymous: %v\n%s", err, out)
	}
}

func TestSmbclientErrors(t *testing.T) {
	ts := startServer(t, nil)
	port := strconv.Itoa(ts.addr.Port)
	out, err := runSmbclient(t, "//127.0.0.1/IPC$", "-p", port, "-U", testUser+"%wrong", "-W", testDomain, "-c", "exit")
	if err == nil || !strings.Contains(out, "NT_STATUS_LOGON_FAILURE") {
		t.Errorf("wrong password: %v\n%s", err, out)
	}
	out, err = runSmbclient(t, "//127.0.0.1/C$", "-p", port, "-U", testUser+"%"+testPassword, "-W", testDomain, "-c", "exit")
	if err == nil || !strings.Contains(out, "NT_STATUS_BAD_NETWORK_NAME") {
		t.Errorf("other share: %v\n%s", err, out)
	}
}
