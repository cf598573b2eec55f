package keytab

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
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

	// A previous file comes back byte for byte.
	old := []byte("previous keytab, not even a valid one")
	if err := os.WriteFile(path, old, 0o600); err != nil {
		t.Fatal(err)
	}
	undo, err = s.Install(ctx, entries(3))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); bytes.Equal(b, old) {
		t.Fatal("Install did not replace the file")
	}
	if err := undo(ctx); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, old) {
		t.Fatalf("after undo: %q", b)
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
	undo, err := s.Remove(ctx)
	if err != nil {
		t.Fatalf("Remove without a file: %v", err)
	}
	if err := undo(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("undo of a no-op Remove created a file")
	}
	old := []byte{5, 2, 0, 1, 2, 3}
	if err := os.WriteFile(path, old, 0o644); err != nil {
		t.Fatal(err)
	}
	if undo, err = s.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("Remove left the file")
	}
	if err := undo(ctx); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	fi, _ := os.Stat(path)
	if !bytes.Equal(b, old) || fi.Mode().Perm() != 0o600 {
		t.Fatalf("restored %q mode %v", b, fi.Mode())
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
	if _, err := s.Remove(ctx); err == nil {
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
	if _, err := s.Remove(cctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Remove with a cancelled context: %v", err)
	}
	if fi, _ := os.Stat(big); fi.Size() != maxKeytabSize+1 {
		t.Error("refused changes touched the file")
	}
}
