package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

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

func TestResolveAdmins(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	cfg := &config{StateDir: t.TempDir()}
	src, err := resolveAdmins(cfg, env(map[string]string{"WKSSVCD_ADMIN": "root:secret"}))
	if err != nil || len(cfg.Admins) != 1 || cfg.Admins[0].User != "root" || src[0].From != "$WKSSVCD_ADMIN" {
		t.Fatalf("from env: %v %+v %+v", err, cfg.Admins, src)
	}
	if _, err := resolveAdmins(&config{StateDir: t.TempDir()}, env(map[string]string{"WKSSVCD_ADMIN": "bad"})); err == nil {
		t.Error("malformed $WKSSVCD_ADMIN accepted")
	}

	dir := t.TempDir()
	cfg = &config{StateDir: dir}
	src, err = resolveAdmins(cfg, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, adminCredentialFile)
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("generated credential file: %v mode %v", err, fi.Mode())
	}
	if strings.Contains(src[0].From+src[0].User, cfg.Admins[0].Password) {
		t.Error("the start-up message would show the generated password")
	}
	// A second start reuses it.
	cfg2 := &config{StateDir: dir}
	if _, err := resolveAdmins(cfg2, env(nil)); err != nil || cfg2.Admins[0] != cfg.Admins[0] {
		t.Fatalf("second start: %v %+v", err, cfg2.Admins)
	}
	// Flags win over everything.
	cfg3 := &config{StateDir: dir, Admins: credList{{User: "x", Password: "y"}}}
	if src, err := resolveAdmins(cfg3, env(map[string]string{"WKSSVCD_ADMIN": "root:secret"})); err != nil || len(cfg3.Admins) != 1 || src[0].From != "--admin" {
		t.Fatalf("flags: %v %+v", err, cfg3.Admins)
	}
	// A corrupt file is an error, not silently replaced.
	if err := os.WriteFile(path, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := resolveAdmins(&config{StateDir: dir}, env(nil)); err == nil {
		t.Error("corrupt credential file accepted")
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
