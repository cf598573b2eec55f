package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestODJInfo(t *testing.T) {
	h := &harness{sess: &fakeSession{}}
	if code := h.run(t, "", "", "odjinfo", "--loadfile", "testdata/windows2019-provision.bin"); code != 0 {
		t.Fatalf("exit %d: %s", code, h.stderr.String())
	}
	out := h.stdout.String()
	for _, want := range []string{
		"binary, 1984 bytes", "Usable:             yes", "Domain:             w2k19dom.ber.redhat.com (NetBIOS W2K19DOM",
		"S-1-5-21-306967272-1096148586-1957995587", "Machine:            wurst2", "6 UTF-16 code units (--show-password shows it)",
		"RID 1605, SID S-1-5-21-306967272-1096148586-1957995587-1605", `\\gdw2k19dc.w2k19dom.ber.redhat.com at \\192.168.56.108, flags 0xE003F3FD`,
		"JOIN_PROVIDER   {631c7621-5289-4321-bc9e-80f843f868c3} flags 0x1, essential", "JOIN_PROVIDER3",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("odjinfo lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "wurst2\n") && strings.Count(out, "wurst2") > 2 {
		t.Errorf("the password is shown without --show-password:\n%s", out)
	}
	if code := h.run(t, "", "", "odjinfo", "--loadfile", "testdata/windows2019-provision.bin", "--show-password"); code != 0 ||
		!strings.Contains(h.stdout.String(), "Password:           wurst2") {
		t.Fatalf("--show-password: exit %d\n%s", code, h.stdout.String())
	}

	// JSON, from standard input, of Samba's savefile.
	samba, err := os.ReadFile("testdata/samba417-provision-newpc1.txt")
	if err != nil {
		t.Fatal(err)
	}
	if code := h.run(t, string(samba), "", "odjinfo", "--loadfile", "-", "--json"); code != 0 {
		t.Fatalf("exit %d: %s", code, h.stderr.String())
	}
	var info fileInfo
	if err := json.Unmarshal(h.stdout.Bytes(), &info); err != nil {
		t.Fatal(err)
	}
	if info.Form != "UTF-16LE savefile" || info.Machine != "NEWPC1" || info.DomainNetBIOS != "ODJ" || info.RID == nil || *info.RID != 1103 ||
		info.PasswordLength != 120 || info.Password != nil || !info.Consumable || len(info.Parts) != 2 {
		t.Fatalf("JSON: %+v", info)
	}

	// A bad file exits 1 with the reason.
	bad := filepath.Join(t.TempDir(), "bad.txt")
	os.WriteFile(bad, append([]byte{0xEF, 0xBB, 0xBF}, "AAAA"...), 0o600)
	if code := h.run(t, "", "", "odjinfo", "--loadfile", bad); code != 1 || !strings.Contains(h.stderr.String(), "UTF-8 byte-order mark") {
		t.Fatalf("bad file: exit %d: %s", code, h.stderr.String())
	}
	if code := h.run(t, "", "", "odjinfo"); code != 2 {
		t.Fatalf("no --loadfile: exit %d", code)
	}
	if code := h.run(t, "", "", "help", "odjinfo"); code != 0 || !strings.Contains(h.stdout.String(), "--show-password") {
		t.Fatalf("help odjinfo: %d\n%s", code, h.stdout.String())
	}
}

func TestProvisionUsage(t *testing.T) {
	h := &harness{sess: &fakeSession{}}
	base := []string{"provision", "--domain", "example.test", "--account", `EXAMPLE\Administrator`}
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"provision", "--machine", "PC1", "--savefile", "f"}, "--domain is required"},
		{append(base, "--savefile", "f"), "--machine or --machines-file is required"},
		{append(base, "--machine", "PC1"), "--savefile or --print-blob is required"},
		{append(base, "--machine", "PC1", "--machines-file", "m", "--savefile", "d"), "exclude each other"},
		{append(base, "--machine", "PC1", "--savefile", "f", "--cert-template", "Machine"), "--cert-template (djoin /certtemplate) is not supported"},
		{append(base, "--machines-file", "m", "--savefile", "-"), "one file per computer"},
		{append(base, "--machine", "PC1", "--savefile", "-", "--print-blob"), "both write to standard output"},
		{[]string{"provision", "--domain", "d", "--machine", "PC1", "--savefile", "f"}, "--account is required"},
		{append(base, "--machine", "PC1", "--savefile", "f", "--timeout", "0s"), "--timeout must be positive"},
		{append(base, "--machine", "branch-office-pc-17", "--savefile", "f"), "give the computer's NetBIOS name with --netbios"},
		{append(base, "--machines-file", "m", "--savefile", "d", "--netbios", "PC1"), "--netbios names one computer"},
		{append(base, "--machine", "PC1", "--savefile", "f", "--persistent-site", "A", "--dynamic-site", "B"), "--persistent-site and --dynamic-site exclude each other"},
		{append(base, "--machine", "PC1", "--savefile", "f", "--persistent-site", "CN=X,CN=Sites"), "is not a site name"},
		{append(base, "--machine", "PC1", "--savefile", "f", "--dynamic-site", " Branch"), "is not a site name"},
		{append(base, "--machine", "PC1", "--savefile", "f", "--primary-dns", "corp..example"), "is not a DNS suffix"},
	} {
		if code := h.run(t, "", "", c.args...); code != 2 || !strings.Contains(h.stderr.String(), c.msg) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", c.args, code, h.stderr.String(), c.msg)
		}
	}
	if code := h.run(t, "", "", "provision", "--help"); code != 0 || !strings.Contains(h.stdout.String(), "--machines-file FILE") {
		t.Fatalf("provision --help: %d\n%s", code, h.stdout.String())
	}
}

func TestReadMachines(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "m")
	os.WriteFile(f, []byte("# lab\nPC01\n\n  PC02  \nPC03\n"), 0o600)
	got, err := readMachines(f, nil)
	if err != nil || strings.Join(got, ",") != "PC01,PC02,PC03" {
		t.Fatalf("%v %v", got, err)
	}
	for name, content := range map[string]string{"dup": "PC01\npc01\n", "empty": "# none\n", "bad": "PC 01\n"} {
		os.WriteFile(f, []byte(content), 0o600)
		if _, err := readMachines(f, nil); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
