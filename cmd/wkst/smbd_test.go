package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wkssvcd/wkssvcd/internal/testenv"
	"github.com/wkssvcd/wkssvcd/internal/testnet"
)

// startSmbd runs a standalone Samba smbd (which serves wkssvc) on
// testnet.Peer():445 for the calling test and returns its address, a user
// holding SeMachineAccountPrivilege and the user's password. It runs in a
// private mount namespace with empty directories over /run/samba,
// /var/lib/samba and /var/cache/samba, so that it never meets the winbindd
// of the test domain controller or the host's own Samba.
func startSmbd(t *testing.T) (server, user, password string) {
	t.Helper()
	testenv.Root(t, "smbd binds port 445 and runs in a private mount namespace")
	testenv.Tool(t, "smbd", "samba")
	testenv.Tool(t, "smbpasswd", "samba-common-bin")
	testenv.Tool(t, "net", "samba-common-bin")
	testenv.Tool(t, "unshare", "util-linux")
	addr := testnet.Peer()
	testenv.Addr(t, addr)
	const pass = "Peer-Secret-1!"
	dir := t.TempDir()
	for _, d := range []string{"etc", "lock", "state", "cache", "private", "pid", "ncalrpc", "log", "run", "varlib", "varcache"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	conf := filepath.Join(dir, "etc", "smb.conf")
	err := os.WriteFile(conf, []byte(fmt.Sprintf(`[global]
  workgroup = PEERWG
  netbios name = SMBPEER
  server role = standalone server
  interfaces = %[2]s
  bind interfaces only = yes
  smb ports = 445
  server min protocol = SMB2_02
  lock directory = %[1]s/lock
  state directory = %[1]s/state
  cache directory = %[1]s/cache
  private dir = %[1]s/private
  pid directory = %[1]s/pid
  ncalrpc dir = %[1]s/ncalrpc
  log file = %[1]s/log/log.%%m
  log level = 1
  passdb backend = tdbsam:%[1]s/private/passdb.tdb
  disable netbios = yes
  load printers = no
  printcap name = /dev/null
`, dir, addr)), 0o644)
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
net -s %[2]s sam rights grant root SeMachineAccountPrivilege >/dev/null
exec smbd -F --no-process-group -s %[2]s
`, dir, conf)), 0o700)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	// Its own PID namespace too: samba-dcerpcd and the rpcd_* helpers
	// smbd starts leave its session, and only the end of the namespace
	// (smbd is its first process) reliably takes them along.
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "--pid", "--fork", "--kill-child", "--mount-proc", inner)
	cmd.Env = append(os.Environ(), "PEER_PASS="+pass)
	cmd.Stdout, cmd.Stderr = &out, &out
	// A session of its own: smbd signals its process group when it stops.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		// unshare and smbd share this session; when smbd, the first
		// process of the PID namespace, ends, the kernel ends the rest.
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		// Nothing of this smbd may outlive the test.
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			left := processesNaming(dir)
			if len(left) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("processes of the test's smbd still running after it stopped: %s", strings.Join(left, "; "))
				break
			}
		}
	})
	hostPort := net.JoinHostPort(addr, "445")
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-done:
			t.Fatalf("smbd exited: %v\n%s", err, out.String())
		default:
		}
		c, err := net.DialTimeout("tcp", hostPort, time.Second)
		if err == nil {
			c.Close()
			return hostPort, `PEERWG\root`, pass
		}
		if time.Now().After(deadline) {
			t.Fatalf("smbd not listening on %s after 30s\n%s", hostPort, out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// processesNaming lists the command lines of the running processes whose
// command line contains s.
func processesNaming(s string) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if cl := strings.ReplaceAll(string(b), "\x00", " "); strings.Contains(cl, s) {
			out = append(out, e.Name()+": "+strings.TrimSpace(cl))
		}
	}
	return out
}
