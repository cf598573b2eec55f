package joinlogic

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNameStorePersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "computer-names.json")
	initial := ComputerName{NetBIOS: "WKHOST", FQDN: "wkhost.example.test"}
	s, err := OpenNameStore(path, initial)
	if err != nil {
		t.Fatal(err)
	}
	if n := s.Names(); n.NetBIOS != "WKHOST" || s.NetBIOSName() != "WKHOST" || s.DNSHostName() != "wkhost.example.test" {
		t.Fatalf("initial: %+v", n)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("the initial names were written: %v", err)
	}
	renamed := ComputerName{NetBIOS: "NEWHOST", FQDN: "newhost.example.test",
		Alternates: []AlternateName{{NetBIOS: "ALIAS", FQDN: "alias.example.test"}}}
	if err := s.Save(context.Background(), renamed); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file: %v %v", fi, err)
	}
	// Reopened with other initial names (the flags), the file wins.
	s2, err := OpenNameStore(path, initial)
	if err != nil {
		t.Fatal(err)
	}
	if n := s2.Names(); n.NetBIOS != "NEWHOST" || len(n.Alternates) != 1 || n.Alternates[0].FQDN != "alias.example.test" {
		t.Fatalf("reopened: %+v", n)
	}
	// Names hands out copies.
	n := s2.Names()
	n.Alternates[0].FQDN = "changed"
	if s2.Names().Alternates[0].FQDN != "alias.example.test" {
		t.Fatal("Names shares its slice")
	}
}

func TestNameStoreRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "names.json")
	if _, err := OpenNameStore(path, ComputerName{NetBIOS: "BAD*NAME"}); err == nil {
		t.Error("invalid initial name accepted")
	}
	s, err := OpenNameStore(path, ComputerName{NetBIOS: "OK"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Save(context.Background(), ComputerName{NetBIOS: "OK", FQDN: "bad name.example"}); err == nil {
		t.Error("invalid FQDN saved")
	}
	if s.NetBIOSName() != "OK" {
		t.Error("failed save changed the names")
	}
	for _, content := range []string{"", "{}", `{"version":2,"names":{"netbios":"X"}}`, `{"version":1,"names":{"netbios":"X"},"extra":1}`,
		`{"version":1,"names":{"netbios":""}}`, `{"version":1,"names":null}`} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := OpenNameStore(path, ComputerName{NetBIOS: "OK"}); err == nil {
			t.Errorf("%q accepted", content)
		}
	}
}

func TestNetBIOSNameOf(t *testing.T) {
	for in, want := range map[string]string{
		"wkhost.example.test":                "WKHOST",
		"averyveryverylongname.example.test": "AVERYVERYVERYLO",
		"Short":                              "SHORT",
		"":                                   "",
	} {
		if got := NetBIOSNameOf(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
	if strings.Count(NetBIOSNameOf("ééééééééééééééééé.x"), "É") != 15 {
		t.Error("the cut counts characters, not bytes")
	}
}
