package keytab

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	gokeytab "github.com/oiweiwei/gokrb5.fork/v9/keytab"

	"github.com/wkssvcd/wkssvcd/joinlogic"
)

func entries(kvno uint32) joinlogic.KeytabEntries {
	return joinlogic.KeytabEntries{ComputerName: "WS1", DNSHostName: "ws1.example.test", Realm: "EXAMPLE.TEST",
		Password: joinlogic.Secret("Mach1ne-pw"), KVNO: kvno}
}

func TestFileStoreInstallAndUndo(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "krb5.keytab")
	s, err := NewFileStore(path)
	if err != nil || s.Path() != path {
		t.Fatal(err)
	}
	// No previous file: undo removes the installed one.
	undo, err := s.Install(ctx, entries(2))
	if err != nil {
		t.Fatal(err)
	}
	kt, err := gokeytab.Load(path)
	if err != nil || len(kt.Entries) != 15 || kt.Entries[0].KVNO != 2 {
		t.Fatalf("installed keytab: %v", err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
	if err := undo(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("undo left the keytab: %v", err)
	}
	if err := undo(ctx); err != nil {
		t.Errorf("second undo: %v", err)
	}

	// A previous keytab comes back byte for byte; one that is not a
	// keytab is refused, not replaced.
	foreign := foreignKeytab(t)
	if err := os.WriteFile(path, foreign, 0o600); err != nil {
		t.Fatal(err)
	}
	undo, err = s.Install(ctx, entries(3))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); bytes.Equal(b, foreign) {
		t.Fatal("Install did not change the file")
	}
	if err := undo(ctx); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, foreign) {
		t.Fatalf("after undo: %q", b)
	}
	old := []byte("previous keytab, not even a valid one")
	if err := os.WriteFile(path, old, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Install(ctx, entries(3)); err == nil || !strings.Contains(err.Error(), "cannot be updated without losing its content") {
		t.Fatalf("Install over a file that is no keytab: %v", err)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, old) {
		t.Fatal("a refused Install changed the file")
	}

	// Invalid entries change nothing.
	if _, err := s.Install(ctx, joinlogic.KeytabEntries{ComputerName: "WS1", Realm: "EXAMPLE.TEST"}); err == nil {
		t.Error("Install without a password succeeded")
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, old) {
		t.Fatal("failed Install changed the file")
	}
	if names, _ := os.ReadDir(dir); len(names) != 1 {
		t.Errorf("directory holds %v", names)
	}
}

func TestFileStoreRemoveAndUndo(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "krb5.keytab")
	s, _ := NewFileStore(path)
	undo, err := s.Remove(ctx, entries(0))
	if err != nil {
		t.Fatalf("Remove without a file: %v", err)
	}
	if err := undo(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("undo of a no-op Remove created a file")
	}
	// Only the account's keys: the file goes, and comes back on undo.
	if _, err := s.Install(ctx, entries(2)); err != nil {
		t.Fatal(err)
	}
	installed, _ := os.ReadFile(path)
	if undo, err = s.Remove(ctx, entries(0)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("Remove left a file with nothing in it")
	}
	if err := undo(ctx); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, installed) {
		t.Fatal("undo did not restore the keytab")
	}
	// With other principals' keys: only the account's go.
	os.Remove(path)
	if err := os.WriteFile(path, foreignKeytab(t), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Install(ctx, entries(2)); err != nil {
		t.Fatal(err)
	}
	if undo, err = s.Remove(ctx, entries(0)); err != nil {
		t.Fatal(err)
	}
	kt, err := gokeytab.Load(path)
	if err != nil || len(kt.Entries) != 2 || kt.Entries[0].Principal.Components[0] != "nfs" {
		t.Fatalf("after Remove: %v %v", kt, err)
	}
	if err := undo(ctx); err != nil {
		t.Fatal(err)
	}
	// An account that is not in the file, or no account: nothing changes.
	before, _ := os.ReadFile(path)
	other := entries(0)
	other.ComputerName, other.DNSHostName = "OTHER", "other.example.test"
	for _, e := range []joinlogic.KeytabEntries{other, {}} {
		if _, err := s.Remove(ctx, e); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(path); !bytes.Equal(b, before) {
			t.Fatalf("Remove of %+v changed the file", e)
		}
	}
	// A file that is no keytab is refused.
	if err := os.WriteFile(path, []byte{5, 2, 0, 1, 2, 3}, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Remove(ctx, entries(0)); err == nil {
		t.Fatal("Remove of a malformed keytab succeeded")
	}
}

// A keytab whose mode lets a group read it keeps that mode; permissions
// for others are dropped.
func TestFileStoreKeepsMode(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "krb5.keytab")
	s, _ := NewFileStore(path)
	for _, c := range [][2]os.FileMode{{0o640, 0o640}, {0o644, 0o640}, {0o600, 0o600}, {0o400, 0o600}} {
		os.Remove(path)
		if err := os.WriteFile(path, foreignKeytab(t), c[0]); err != nil {
			t.Fatal(err)
		}
		os.Chmod(path, c[0])
		if _, err := s.Install(ctx, entries(2)); err != nil {
			t.Fatal(err)
		}
		if fi, _ := os.Stat(path); fi.Mode().Perm() != c[1] {
			t.Errorf("mode %v became %v, want %v", c[0], fi.Mode().Perm(), c[1])
		}
	}
}

func TestFileStoreRefusesWhatItCannotRestore(t *testing.T) {
	ctx := context.Background()
	if _, err := NewFileStore(""); err == nil {
		t.Error("empty path accepted")
	}
	dir := t.TempDir()
	sub := filepath.Join(dir, "a-directory")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	s, _ := NewFileStore(sub)
	if _, err := s.Install(ctx, entries(2)); err == nil {
		t.Error("Install over a directory succeeded")
	}
	if _, err := s.Remove(ctx, entries(0)); err == nil {
		t.Error("Remove of a directory succeeded")
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, maxKeytabSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	s, _ = NewFileStore(big)
	if _, err := s.Install(ctx, entries(2)); err == nil {
		t.Error("Install over an oversized file succeeded")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Remove(cctx, entries(0)); !errors.Is(err, context.Canceled) {
		t.Errorf("Remove with a cancelled context: %v", err)
	}
	if fi, _ := os.Stat(big); fi.Size() != maxKeytabSize+1 {
		t.Error("refused changes touched the file")
	}
}
