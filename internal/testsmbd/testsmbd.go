package testsmbd

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

// Options shape the peer.
type Options struct {
	// Port is the TCP port on testnet.Peer(); 0 means 445.
	Port int
	// Workgroup is the server's workgroup; "" means PEERWG.
	Workgroup string
	// Password is root's password; "" means a fixed test password.
	Password string
	// MandatorySigning sets "server signing = mandatory".
	MandatorySigning bool
	// MachineAccountPrivilege grants root SeMachineAccountPrivilege, which
	// the join methods' access checks of smbd want.
	MachineAccountPrivilege bool
}

// Server is a running peer.
type Server struct {
	Host      string // testnet.Peer()
	Port      int
	Workgroup string
	User      string // "root"
	Password  string
}

// HostPort is Host:Port.
func (s Server) HostPort() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// Start runs smbd for the calling test, stopped at its end; it fails the
// test if any process of it is still running a few seconds after.
func Start(t testing.TB, o Options) Server {
	t.Helper()
	testenv.Root(t, "smbd binds a port below 1024 and runs in private mount and PID namespaces")
	testenv.Tool(t, "smbd", "samba")
	testenv.Tool(t, "smbpasswd", "samba-common-bin")
	testenv.Tool(t, "unshare", "util-linux")
	if o.MachineAccountPrivilege {
		testenv.Tool(t, "net", "samba-common-bin")
	}
	if o.Port == 0 {
		o.Port = 445
	}
	if o.Workgroup == "" {
		o.Workgroup = "PEERWG"
	}
	if o.Password == "" {
		o.Password = "Peer-Secret-1!"
	}
	addr := testnet.Peer()
	testenv.Addr(t, addr)
	dir := t.TempDir()
	for _, d := range []string{"etc", "lock", "state", "cache", "private", "pid", "ncalrpc", "log", "run", "varlib", "varcache"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	signing := ""
	if o.MandatorySigning {
		signing = "  server signing = mandatory\n"
	}
	conf := filepath.Join(dir, "etc", "smb.conf")
	err := os.WriteFile(conf, []byte(fmt.Sprintf(`[global]
  workgroup = %[4]s
  netbios name = SMBPEER
  server role = standalone server
  interfaces = %[2]s
  bind interfaces only = yes
  smb ports = %[3]d
  server min protocol = SMB2_02
%[5]s  lock directory = %[1]s/lock
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
`, dir, addr, o.Port, o.Workgroup, signing)), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	grant := ""
	if o.MachineAccountPrivilege {
		grant = fmt.Sprintf("net -s %s sam rights grant root SeMachineAccountPrivilege >/dev/null\n", conf)
	}
	inner := filepath.Join(dir, "inner.sh")
	err = os.WriteFile(inner, []byte(fmt.Sprintf(`#!/bin/sh
set -e
mount --bind %[1]s/run /run/samba
mount --bind %[1]s/varlib /var/lib/samba
mount --bind %[1]s/varcache /var/cache/samba
export _NO_WINBINDD=1
printf '%%s\n%%s\n' "$PEER_PASS" "$PEER_PASS" | smbpasswd -c %[2]s -s -a root >/dev/null
%[3]sexec smbd -F --no-process-group -s %[2]s
`, dir, conf, grant)), 0o700)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	// Its own PID namespace too: samba-dcerpcd and the rpcd_* helpers
	// smbd starts leave its session, and only the end of the namespace
	// (smbd is its first process) reliably takes them along.
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "--pid", "--fork", "--kill-child", "--mount-proc", inner)
	cmd.Env = append(os.Environ(), "PEER_PASS="+o.Password)
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
			left := ProcessesNaming(dir)
			if len(left) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("processes of the test's smbd still running after it stopped: %s", strings.Join(left, "; "))
				break
			}
		}
	})
	s := Server{Host: addr, Port: o.Port, Workgroup: o.Workgroup, User: "root", Password: o.Password}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		select {
		case err := <-done:
			t.Fatalf("smbd exited: %v\n%s", err, out.String())
		default:
		}
		if c, err := net.DialTimeout("tcp", s.HostPort(), time.Second); err == nil {
			c.Close()
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("smbd not listening on %s after 30s\n%s", s.HostPort(), out.String())
		}
	}
}

// ProcessesNaming lists the command lines of the running processes whose
// command line contains s.
func ProcessesNaming(s string) []string {
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
