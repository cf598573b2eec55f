package main

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseOSRelease(t *testing.T) {
	m := parseOSRelease(strings.NewReader("# comment\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\nBAD LINE\nQUOTED='single'\nESC=\"a \\\"b\\\"\"\n"))
	for k, v := range map[string]string{"NAME": "Debian GNU/Linux", "VERSION_ID": "12", "ID": "debian", "QUOTED": "single", "ESC": `a "b"`} {
		if m[k] != v {
			t.Errorf("%s = %q, want %q", k, m[k], v)
		}
	}
}

func TestHostOS(t *testing.T) {
	dir := t.TempDir()
	osr := filepath.Join(dir, "os-release")
	kr := filepath.Join(dir, "osrelease")
	os.WriteFile(osr, []byte("NAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\n"), 0o644)
	os.WriteFile(kr, []byte("6.1.0-18-amd64\n"), 0o644)
	if n, v := hostOS(osr, kr); n != "Debian GNU/Linux" || v != "12 (6.1.0-18-amd64)" {
		t.Errorf("hostOS = %q %q", n, v)
	}
	// Without an os-release file: Linux and the kernel release.
	if n, v := hostOS(filepath.Join(dir, "none"), kr); n != "Linux" || v != "6.1.0-18-amd64" {
		t.Errorf("hostOS without os-release = %q %q", n, v)
	}
	// Without a version: the kernel alone; without a kernel: the version.
	os.WriteFile(osr, []byte("NAME=Arch Linux\n"), 0o644)
	if n, v := hostOS(osr, kr); n != "Arch Linux" || v != "6.1.0-18-amd64" {
		t.Errorf("hostOS without VERSION_ID = %q %q", n, v)
	}
	os.WriteFile(osr, []byte("NAME=X\nVERSION_ID=3\n"), 0o644)
	if n, v := hostOS(osr, filepath.Join(dir, "none")); n != "X" || v != "3" {
		t.Errorf("hostOS without a kernel release = %q %q", n, v)
	}
}

// The daemon's defaults come from the host; --os-name and --os-version
// replace them.
func TestOSOptions(t *testing.T) {
	cfg, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	name, version := hostOS("/etc/os-release", "/proc/sys/kernel/osrelease")
	if cfg.Directory.OSName != name || cfg.Directory.OSVersion != version || name == "" || version == "" {
		t.Errorf("defaults %q %q, host %q %q", cfg.Directory.OSName, cfg.Directory.OSVersion, name, version)
	}
	cfg, err = parseFlags([]string{"--os-name", "Lab OS", "--os-version", "1.0 (7)"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if dc := cfg.directoryConfig(slog.New(slog.DiscardHandler)); dc.OperatingSystem != "Lab OS" || dc.OperatingSystemVersion != "1.0 (7)" {
		t.Errorf("directory config %q %q", dc.OperatingSystem, dc.OperatingSystemVersion)
	}
}

// Root's keytab is the host's; anyone else's stays in the state directory.
func TestDefaultKeytab(t *testing.T) {
	want := filepath.Join("/srv/wk", "krb5.keytab")
	if os.Geteuid() == 0 {
		want = "/etc/krb5.keytab"
	}
	if got := defaultKeytab("/srv/wk"); got != want {
		t.Errorf("defaultKeytab = %q, want %q", got, want)
	}
}
