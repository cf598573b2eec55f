package bench

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wkssvcd/wkssvcd/internal/testenv"
	"github.com/wkssvcd/wkssvcd/internal/testnet"
)

// smbdPort is where the bench tests' smbd listens on testnet.Peer(): not
// 445, which other packages' tests may hold on that address meanwhile.
const smbdPort = 4445

// startSmbd runs a standalone Samba smbd (serving wkssvc, signing
// mandatory, as scripts/bench runs it) on testnet.Peer():smbdPort for the
// calling test and returns its target. It runs in private mount and PID
// namespaces with empty directories over /run/samba, /var/lib/samba and
// /var/cache/samba, so it never meets another Samba of the host, and
// nothing of it outlives the test.
func startSmbd(t *testing.T) Target {
	t.Helper()
	testenv.Root(t, "smbd runs in private mount and PID namespaces")
	testenv.Tool(t, "smbd", "samba")
	testenv.Tool(t, "smbpasswd", "samba-common-bin")
	testenv.Tool(t, "unshare", "util-linux")
	addr := testnet.Peer()
	testenv.Addr(t, addr)
	const pass = "Bench-Peer-1!"
	dir := t.TempDir()
	for _, d := range []string{"etc", "lock", "state", "cache", "private", "pid", "ncalrpc", "log", "run", "varlib", "varcache"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	conf := filepath.Join(dir, "etc", "smb.conf")
	err := os.WriteFile(conf, []byte(fmt.Sprintf(`[global]
  workgroup = BENCHWG
  netbios name = SMBPEER
  server role = standalone server
  interfaces = %[2]s
  bind interfaces only = yes
  smb ports = %[3]d
  server min protocol = SMB2_02
  server signing = mandatory
  lock directory = %[1]s/lock
  state directory = %[1]s/state
  cache directory = %[1]s/cache
  private dir = %[1]s/private
  pid directory = %[1]s/pid
  ncalrpc dir = %[1]s/ncalrpc
  log file = %[1]s/log/log.%%m
  log level = 0
  passdb backend = tdbsam:%[1]s/private/passdb.tdb
  disable netbios = yes
  load printers = no
  printcap name = /dev/null
`, dir, addr, smbdPort)), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	inner := filepath.Join(dir, "inner.sh")
	err = os.WriteFile(inner, []byte(fmt.Sprintf(`#!/bin/sh
set -e
mount --bind %[1]s/run /run/samba
mount --bind %[1]s/varlib /var/lib/samba
mount --bind %[1]s/varcache /var/cache/samba
export _NO_WINBINDD=1
printf '%%s\n%%s\n' "$PEER_PASS" "$PEER_PASS" | smbpasswd -c %[2]s -s -a root >/dev/null
exec smbd -F --no-process-group -s %[2]s
`, dir, conf)), 0o700)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	// smbd is the first process of its PID namespace: when it ends, the
	// kernel ends samba-dcerpcd and the rpcd_* helpers it started.
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "--pid", "--fork", "--kill-child", "--mount-proc", inner)
	cmd.Env = append(os.Environ(), "PEER_PASS="+pass)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // smbd signals its process group when it stops
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	hostPort := net.JoinHostPort(addr, fmt.Sprint(smbdPort))
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		select {
		case err := <-done:
			t.Fatalf("smbd exited: %v\n%s", err, out.String())
		default:
		}
		if c, err := net.DialTimeout("tcp", hostPort, time.Second); err == nil {
			c.Close()
			return Target{Name: "smbd", Host: addr, Port: smbdPort, User: "root", Password: pass}
		}
		if time.Now().After(deadline) {
			t.Fatalf("smbd not listening on %s after 30s\n%s", hostPort, out.String())
		}
	}
}

// The lean generator's calls, in every pipe mode, signed and sealed, are
// answered by Samba's smbd: pipelined calls send WRITE and READ together
// once the session holds the credits, whatever order smbd answers them in.
func TestLeanCallsSmbd(t *testing.T) {
	tgt := startSmbd(t)
	for _, seal := range []bool{false, true} {
		for _, pio := range []PipeIO{WriteRead, Transceive, Pipelined} {
			t.Run(fmt.Sprintf("seal=%v/%v", seal, pio), func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				c, err := DialLean(ctx, tgt, LeanOptions{Seal: seal, IO: pio, Blocking: true})
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close(ctx)
				for i := range 100 {
					if err := c.GetInfo(ctx); err != nil {
						t.Fatalf("call %d: %v", i, err)
					}
				}
				if pio == Pipelined && c.Unpipelined > 1 {
					t.Errorf("%d of 100 calls not pipelined", c.Unpipelined)
				}
			})
		}
	}
}
