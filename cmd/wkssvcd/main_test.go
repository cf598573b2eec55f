package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/wkssvcd/wkssvcd/server/ntlm"
)

func noEnv(string) string { return "" }

// parseFlags reads the serve command's configuration from args (and the
// file args name with --config), as a start of the daemon does.
func parseFlags(args []string, _ io.Writer) (*config, error) {
	var serveCmd *command
	for _, c := range commands() {
		if c.name == "serve" {
			serveCmd = c
		}
	}
	cli, err := parseCommandLine("serve", args, serveCmd.options(options()))
	if err != nil {
		return nil, err
	}
	cfg, _, err := loadConfig(serveCmd, cli)
	return cfg, err
}

// runCmd runs a wkssvcd command line in-process.
func runCmd(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(context.Background(), args, env{stdout: &o, stderr: &e, getenv: noEnv})
	return code, o.String(), e.String()
}

func TestParseFlagsDefaults(t *testing.T) {
	cfg, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:1445" {
		t.Errorf("default listen %q", cfg.Listen)
	}
	if cfg.Workgroup != "WORKGROUP" || cfg.StateDir == "" || cfg.NetBIOSName == "" || cfg.DNSHostName == "" {
		t.Errorf("defaults not filled: %+v", cfg)
	}
	if len(cfg.NetBIOSName) > 15 || strings.ToUpper(cfg.NetBIOSName) != cfg.NetBIOSName {
		t.Errorf("NetBIOS name %q", cfg.NetBIOSName)
	}
}

func TestParseFlagsAccounts(t *testing.T) {
	cfg, err := parseFlags([]string{"--admin", "a:pw1", "--admin", "b:p:w", "--user", "c:pw3", "--netbios-name", "averyveryverylongname", "--workgroup", "lab"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Admins) != 2 || cfg.Admins[1].Password != "p:w" || len(cfg.Users) != 1 {
		t.Errorf("accounts: %+v %+v", cfg.Admins, cfg.Users)
	}
	if cfg.NetBIOSName != "AVERYVERYVERYLO" || cfg.Workgroup != "LAB" {
		t.Errorf("names: %q %q", cfg.NetBIOSName, cfg.Workgroup)
	}
	if s := cfg.Admins.String(); strings.Contains(s, "pw1") {
		t.Errorf("flag String shows a password: %q", s)
	}
	for _, bad := range [][]string{
		{"--admin", "nopassword"},
		{"--admin", ":pw"},
		{"--admin", `dom\u:pw`},
		{"--admin", "x:1", "--user", "X:2"},
		{"--workgroup", ""},
		{"--log-level", "loud", "extra"},
	} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestFallbackAdmin(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	cfg := &config{StateDir: t.TempDir()}
	accts, err := loadAccounts(cfg, env(map[string]string{"WKSSVCD_ADMIN": "root:secret"}))
	if err != nil || len(accts) != 1 || accts[0].User != "root" || accts[0].From != "$WKSSVCD_ADMIN" || !accts[0].Admin {
		t.Fatalf("from env: %v %+v", err, accts)
	}
	if _, err := loadAccounts(&config{StateDir: t.TempDir()}, env(map[string]string{"WKSSVCD_ADMIN": "bad"})); err == nil {
		t.Error("malformed $WKSSVCD_ADMIN accepted")
	}

	dir := t.TempDir()
	accts, err = loadAccounts(&config{StateDir: dir}, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, adminCredentialFile)
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("generated credential file: %v mode %v", err, fi.Mode())
	}
	if strings.Contains(accts[0].From+accts[0].User, accts[0].Password) {
		t.Error("the start-up message would show the generated password")
	}
	// A second start reuses it.
	accts2, err := loadAccounts(&config{StateDir: dir}, env(nil))
	if err != nil || accts2[0].NTHash != accts[0].NTHash || accts2[0].From != path {
		t.Fatalf("second start: %v %+v", err, accts2)
	}
	// An administrator from a flag, a file or a credential wins over the
	// environment and the saved credential.
	cfg3 := &config{StateDir: dir, Admins: credList{{User: "x", Password: "y"}}}
	if a, err := loadAccounts(cfg3, env(map[string]string{"WKSSVCD_ADMIN": "root:secret"})); err != nil || len(a) != 1 || a[0].From != "--admin" {
		t.Fatalf("flags: %v %+v", err, a)
	}
	// A corrupt file is an error, not silently replaced.
	if err := os.WriteFile(path, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadAccounts(&config{StateDir: dir}, env(nil)); err == nil {
		t.Error("corrupt credential file accepted")
	}
}

func TestAccountFiles(t *testing.T) {
	dir := t.TempDir()
	admins := filepath.Join(dir, "admins")
	os.WriteFile(admins, []byte("# local administrators\n\nroot:Pa:ss\r\nops:$NT$8846F7EAEE8FB117AD06BDD830B7586C\n"), 0o600)
	users := filepath.Join(dir, "users")
	os.WriteFile(users, []byte("bob:b0b\n"), 0o640)
	creds := filepath.Join(dir, "creds")
	os.Mkdir(creds, 0o700)
	os.WriteFile(filepath.Join(creds, "admin"), []byte("sys:s3cret\n"), 0o400)
	getenv := func(k string) string {
		if k == "CREDENTIALS_DIRECTORY" {
			return creds
		}
		return ""
	}
	cfg := &config{StateDir: dir, AdminFiles: stringList{admins}, UserFiles: stringList{users}}
	accts, err := loadAccounts(cfg, getenv)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		admin bool
		hash  [16]byte
	}{
		"root": {true, ntlm.NTHash("Pa:ss")},
		"ops":  {true, ntlm.NTHash("password")},
		"sys":  {true, ntlm.NTHash("s3cret")},
		"bob":  {false, ntlm.NTHash("b0b")},
	}
	if len(accts) != len(want) {
		t.Fatalf("accounts %+v", accts)
	}
	for _, a := range accts {
		w, ok := want[a.User]
		if !ok || w.admin != a.Admin || w.hash != a.NTHash {
			t.Errorf("account %q: admin %v, hash ok %v", a.User, a.Admin, w.hash == a.NTHash)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, adminCredentialFile)); err == nil {
		t.Error("a credential was generated although administrators were given")
	}

	// Refused: files others may read or change, malformed lines (never
	// quoted: they hold passwords), duplicates, empty files.
	for name, tc := range map[string]struct {
		content string
		mode    os.FileMode
		want    string
	}{
		"world-readable": {"a:b\n", 0o644, "chmod 600"},
		"group-writable": {"a:b\n", 0o660, "chmod 600"},
		"bad line":       {"a:b\nNoColonHere-S3cret\n", 0o600, "line 2"},
		"bad hash":       {"a:$NT$1234\n", 0o600, "32 hexadecimal digits"},
		"duplicate":      {"a:b\nA:c\n", 0o600, "given twice"},
		"empty":          {"# nothing\n", 0o600, "no account"},
	} {
		p := filepath.Join(t.TempDir(), "f")
		os.WriteFile(p, []byte(tc.content), tc.mode)
		os.Chmod(p, tc.mode)
		_, err := loadAccounts(&config{StateDir: dir, AdminFiles: stringList{p}}, noEnv)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "S3cret") {
			t.Errorf("%s: the error quotes a password: %v", name, err)
		}
	}
}

func TestGeneratePassword(t *testing.T) {
	a, err := generatePassword(24)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := generatePassword(24)
	if len(a) != 24 || a == b {
		t.Errorf("passwords %q %q", a, b)
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// The configuration file holds what the flags hold, under the same names;
// flags given on the command line win, a repeatable flag replacing the
// file's whole list.
func TestConfigFileAndFlagsOverride(t *testing.T) {
	conf := writeFile(t, "wkssvcd.conf", `
# a comment
listen = "0.0.0.0:445"
netbios-name = "filehost"
workgroup = "LAB"
allow-anonymous = false
dc = ["dc1.example.test", "dc2.example.test"]
max-connections = 77
idle-timeout = "90s"
log-level = "debug"
`)
	cfg, err := parseFlags([]string{"--config", conf}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "0.0.0.0:445" || cfg.NetBIOSName != "FILEHOST" || cfg.Workgroup != "LAB" || cfg.AllowAnonymous ||
		!reflect.DeepEqual([]string(cfg.DomainControllers), []string{"dc1.example.test", "dc2.example.test"}) ||
		cfg.Limits.MaxConnections != 77 || cfg.Limits.IdleTimeout.String() != "1m30s" || cfg.LogLevel != "debug" {
		t.Fatalf("file not applied: %+v", cfg)
	}
	cfg, err = parseFlags([]string{"--listen", "127.0.0.1:1446", "--config", conf, "--dc", "dc9", "--allow-anonymous", "--max-connections=5"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:1446" || !cfg.AllowAnonymous || cfg.Limits.MaxConnections != 5 ||
		!reflect.DeepEqual([]string(cfg.DomainControllers), []string{"dc9"}) || cfg.Workgroup != "LAB" {
		t.Fatalf("flags do not override the file: %+v", cfg)
	}
}

func TestConfigFileMistakes(t *testing.T) {
	for _, tc := range []struct{ content, want string }{
		{`listen = `, "line 1"},
		{`lisen = "x"`, `unknown setting "lisen"`},
		{`admin = "a:b"`, "passwords do not belong"},
		{`user = ["a:b"]`, "passwords do not belong"},
		{`config = "/etc/other"`, "command-line flag only"},
		{`max-connections = -1`, "max-connections"},
		{`max-connections = "many"`, "not an integer"},
		{`listen = ["a", "b"]`, "not a list"},
		{`idle-timeout = 30`, "not a duration"},
		{`dc = [["x"]]`, "not a list"},
		{"[limits]\nmax-connections = 3", "table"},
		{`log-level = 3.5`, "unsupported value"},
	} {
		_, err := parseFlags([]string{"--config", writeFile(t, "bad.conf", tc.content)}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one saying %q", tc.content, err, tc.want)
		}
		if _, ok := err.(*usageError); !ok {
			t.Errorf("%q: %T is not a usage error", tc.content, err)
		}
	}
	if _, err := parseFlags([]string{"--config", filepath.Join(t.TempDir(), "missing.conf")}, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "missing.conf") {
		t.Errorf("missing file: %v", err)
	}
}

// --print-config shows the effective settings as a file that reads back to
// the same configuration, and never a password.
func TestPrintConfigRoundTrip(t *testing.T) {
	conf := writeFile(t, "wkssvcd.conf", "listen = \"0.0.0.0:445\"\ndc = [\"dc1\"]\nmax-credits = 100\nstate-dir = \"/srv/wk\"\n")
	code, out, errOut := runCmd("--config", conf, "--admin", "root:Sup3r-Secret", "--workgroup", "lab", "--print-config")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if strings.Contains(out, "Sup3r-Secret") || !strings.Contains(out, "# admin: root given on the command line") {
		t.Fatalf("password shown or account not mentioned:\n%s", out)
	}
	for _, want := range []string{`listen = "0.0.0.0:445"`, `dc = ["dc1"]`, "max-credits = 100", `workgroup = "LAB"`, `keytab = "` + defaultKeytab("/srv/wk") + `"`, "max-connections = 1024"} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("--print-config lacks %q:\n%s", want, out)
		}
	}
	back, err := parseFlags([]string{"--config", writeFile(t, "printed.conf", out)}, io.Discard)
	if err != nil {
		t.Fatalf("printed configuration does not read back: %v\n%s", err, out)
	}
	orig, err := parseFlags([]string{"--config", conf, "--workgroup", "lab"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	orig.ConfigFile, back.ConfigFile = "", ""
	if !reflect.DeepEqual(orig, back) {
		t.Errorf("round trip differs:\n%+v\n%+v", orig, back)
	}
}

func TestHelpAndVersionExitZero(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}, {"serve", "--help"}, {"help", "serve"}, {"version", "-h"}} {
		code, out, _ := runCmd(args...)
		if code != 0 || !strings.Contains(out, "usage: wkssvcd") {
			t.Errorf("%q: exit %d, output %q", args, code, out)
		}
	}
	code, out, _ := runCmd("-h")
	for _, want := range []string{"--listen ADDR:PORT", "(default 127.0.0.1:1445)", "--config FILE", "Exit status:", "version "} {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %q:\n%s", want, out)
		}
	}
	for _, args := range [][]string{{"--version"}, {"version"}} {
		code, out, _ = runCmd(args...)
		if code != 0 || !strings.HasPrefix(out, "wkssvcd ") || !strings.Contains(out, "go1") {
			t.Errorf("%q: exit %d, %q", args, code, out)
		}
	}
}

func TestUsageMistakesExitTwo(t *testing.T) {
	for _, args := range [][]string{{"--no-such-flag"}, {"frobnicate"}, {"--listen"}, {"--max-connections", "x"}, {"serve", "extra"}, {"help", "nope"}} {
		code, _, errOut := runCmd(args...)
		if code != 2 || !strings.HasPrefix(errOut, "wkssvcd: ") {
			t.Errorf("%q: exit %d, stderr %q", args, code, errOut)
		}
	}
	_, _, errOut := runCmd("--max-connections", "x")
	if !strings.Contains(errOut, "--max-connections") {
		t.Errorf("message does not name the flag: %q", errOut)
	}
}
