package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// stateCfg is a configuration whose state directory is a fresh directory
// of mode 0700 (its parents are the test's temporary directories).
func stateCfg(t *testing.T) *config {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "state")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return &config{StateDir: dir, Keytab: filepath.Join(dir, "krb5.keytab")}
}

func TestStateTrustAcceptsPrivateState(t *testing.T) {
	cfg := stateCfg(t)
	for name, mode := range map[string]os.FileMode{adminCredentialFile: 0o600, membershipFile: 0o644, namesFile: 0o600, "krb5.keytab": 0o640} {
		if err := os.WriteFile(filepath.Join(cfg.StateDir, name), []byte("x"), mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := checkStateTrust(cfg); err != nil {
		t.Fatal(err)
	}
	// Missing files are created by the daemon itself.
	if err := checkStateTrust(stateCfg(t)); err != nil {
		t.Fatal(err)
	}
}

// Every refusal names the path and the command that fixes it.
func TestStateTrustRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(t *testing.T, cfg *config)
		want []string
	}{
		{"state directory writable by all", func(t *testing.T, cfg *config) { chmod(t, cfg.StateDir, 0o777) },
			[]string{"mode 0777", "chmod go-w " + "STATE"}},
		{"state directory writable by its group", func(t *testing.T, cfg *config) { chmod(t, cfg.StateDir, 0o770) },
			[]string{"mode 0770", "chmod go-w"}},
		{"credential writable by others", func(t *testing.T, cfg *config) { write(t, cfg, adminCredentialFile, 0o666) },
			[]string{adminCredentialFile, "mode 0666", "chmod go-w"}},
		{"credential readable by all", func(t *testing.T, cfg *config) { write(t, cfg, adminCredentialFile, 0o644) },
			[]string{adminCredentialFile, "every user of this host can read", "chmod o-rwx"}},
		{"membership writable by its group", func(t *testing.T, cfg *config) { write(t, cfg, membershipFile, 0o664) },
			[]string{membershipFile, "mode 0664"}},
		{"keytab readable by all", func(t *testing.T, cfg *config) { write(t, cfg, "krb5.keytab", 0o604) },
			[]string{"krb5.keytab", "chmod o-rwx"}},
		{"membership is a link", func(t *testing.T, cfg *config) {
			if err := os.Symlink("/etc/hostname", filepath.Join(cfg.StateDir, membershipFile)); err != nil {
				t.Fatal(err)
			}
		}, []string{"symbolic link", "remove the link"}},
		{"a parent writable by all", func(t *testing.T, cfg *config) { chmod(t, filepath.Dir(cfg.StateDir), 0o777) },
			[]string{"directory " + "PARENT", "mode 0777", "chmod go-w"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := stateCfg(t)
			tc.set(t, cfg)
			err := checkStateTrust(cfg)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				w = strings.ReplaceAll(w, "STATE", cfg.StateDir)
				w = strings.ReplaceAll(w, "PARENT", filepath.Dir(cfg.StateDir))
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q lacks %q", err, w)
				}
			}
		})
	}
}

// A parent with the sticky bit (like /tmp) cannot be used to replace what
// others own below it.
func TestStateTrustStickyParent(t *testing.T) {
	cfg := stateCfg(t)
	chmod(t, filepath.Dir(cfg.StateDir), 0o777|os.ModeSticky)
	if err := checkStateTrust(cfg); err != nil {
		t.Fatal(err)
	}
}

func chmod(t *testing.T, p string, m os.FileMode) {
	t.Helper()
	if err := os.Chmod(p, m); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, cfg *config, name string, m os.FileMode) {
	t.Helper()
	p := filepath.Join(cfg.StateDir, name)
	if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	chmod(t, p, m)
}
