package e2e

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wkssvcd/wkssvcd/internal/testnet"
)

// readmeCommands returns the command of each code block of README.md that
// follows a <!-- README-test: NAME --> line, continuation lines joined.
func readmeCommands(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	marker := regexp.MustCompile(`^<!-- README-test: ([a-z-]+) -->$`)
	out := map[string]string{}
	var name string
	var cmd strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if m := marker.FindStringSubmatch(line); m != nil {
			name = m[1]
			cmd.Reset()
			continue
		}
		if name == "" {
			continue
		}
		if !strings.HasPrefix(line, "    ") {
			if cmd.Len() > 0 || strings.TrimSpace(line) != "" {
				out[name] = strings.TrimSpace(cmd.String())
				name = ""
			}
			continue
		}
		l := strings.TrimPrefix(line, "    ")
		if c, ok := strings.CutSuffix(l, `\`); ok {
			cmd.WriteString(c)
			continue
		}
		cmd.WriteString(l + "\n")
	}
	if name != "" {
		out[name] = strings.TrimSpace(cmd.String())
	}
	for _, want := range []string{"server", "getinfo", "suite"} {
		if strings.TrimSpace(out[want]) == "" || strings.Contains(out[want], "\n") {
			t.Fatalf("README.md: the block after <!-- README-test: %s --> must hold one command, got %q", want, out[want])
		}
		if strings.HasPrefix(out[want], "sudo ") {
			t.Errorf("README.md: %q assumes sudo, which a root shell on a fresh Debian lacks", out[want])
		}
	}
	return out
}

// cleanClone copies what a clone of the working tree holds (tracked files
// and new ones not ignored, without build products or state) into a new
// directory.
func cleanClone(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("git", "-C", "..", "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Fatalf("git ls-files (the README test copies the working tree like a clone): %v", err)
	}
	dir, err := os.MkdirTemp("", "wkssvcd-clone")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		src := filepath.Join("..", name)
		fi, err := os.Lstat(src)
		if err != nil || !fi.Mode().IsRegular() {
			continue // deleted in the working tree, or not a file
		}
		dst := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := copyFile(src, dst, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// The README's first-run commands, taken from README.md itself and run
// verbatim as root in a clean copy of the repository: the server keeps its
// state and generated administrator where the README says, wkst info
// prints the workstation information, no password shows in ps, and the
// test command prepares the machine. /var/lib is a fresh directory inside
// a private mount namespace, so the machine's own /var/lib/wkssvcd is
// never touched.
func TestReadmeFirstRun(t *testing.T) {
	requireE2E(t)
	cmds := readmeCommands(t)
	unshare := lookPath(t, "unshare")
	holdMachineLock(t, "wkssvcd-e2e-127.0.0.1-1445")
	if c, err := net.DialTimeout("tcp", "127.0.0.1:1445", time.Second); err == nil {
		c.Close()
		t.Fatal("something else listens on 127.0.0.1:1445, the daemon's default address; stop it and run the test again")
	}
	clone := cleanClone(t)
	varlib := t.TempDir()
	work := t.TempDir()
	script := `set -eu
mount --bind "$VARLIB" /var/lib
cd "$CLONE"
(` + cmds["server"] + `) >"$WORK/server.out" 2>&1 &
server=$!
kill_tree() { for c in $(pgrep -P "$1"); do kill_tree "$c"; done; kill -TERM "$1" 2>/dev/null || true; }
stop() { kill_tree "$server"; wait "$server" 2>/dev/null || true; }
trap stop EXIT
for i in $(seq 1 600); do
	if (exec 3<>/dev/tcp/127.0.0.1/1445) 2>/dev/null; then break; fi
	if ! kill -0 "$server" 2>/dev/null; then echo "the server exited" >&2; exit 1; fi
	sleep 0.5
done
ps -eo args >"$WORK/ps.out"
(` + cmds["getinfo"] + `) >"$WORK/getinfo.out" 2>&1
`
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, unshare, "-m", "bash", "-c", script)
	cmd.Env = append(os.Environ(), "VARLIB="+varlib, "CLONE="+clone, "WORK="+work, "WKST_PASSWORD=")
	out, err := cmd.CombinedOutput()
	read := func(name string) string {
		b, _ := os.ReadFile(filepath.Join(work, name))
		return string(b)
	}
	if err != nil {
		t.Fatalf("README commands: %v\n%s\nserver:\n%s\ngetinfo:\n%s", err, out, read("server.out"), read("getinfo.out"))
	}
	server, getinfo := read("server.out"), read("getinfo.out")
	for _, want := range []string{"on 127.0.0.1:1445 (state in /var/lib/wkssvcd)",
		`administrator "admin", password from /var/lib/wkssvcd/admin-credential (generated)`} {
		if !strings.Contains(server, want) {
			t.Errorf("the server did not say %q:\n%s", want, server)
		}
	}
	for _, want := range []string{"Computer name:   ", "LAN group:       WORKGROUP", "Platform ID:     500", "Join status:     NetSetupWorkgroupName"} {
		if !strings.Contains(getinfo, want) {
			t.Errorf("wkst info did not print %q:\n%s", want, getinfo)
		}
	}
	cred := filepath.Join(varlib, "wkssvcd", "admin-credential")
	fi, err := os.Stat(cred)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("credential %s: %v %v", cred, err, fi)
	}
	b, _ := os.ReadFile(cred)
	_, pass, _ := strings.Cut(strings.TrimSpace(string(b)), ":")
	if pass == "" || strings.Contains(read("ps.out"), pass) || strings.Contains(server+getinfo, pass) {
		t.Errorf("the administrator password shows in ps or in the output")
	}

	// The test command, in the clean copy, prepares the machine (its
	// packages and addresses) and stops before running the suite again.
	suite := exec.CommandContext(ctx, "bash", "-c", cmds["suite"])
	suite.Dir = clone
	suite.Env = append(os.Environ(), "WKSSVCD_TEST_PREPARE_ONLY=1", testnet.Env+"="+os.Getenv(testnet.Env))
	out, err = suite.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("packages and addresses ready")) {
		t.Fatalf("%s: %v\n%s", cmds["suite"], err, out)
	}
}
