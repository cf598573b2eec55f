package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/wkssvcd/wkssvcd/joinlogic"
)

// Once a rename saved the computer's names in the state directory, they
// win over --netbios-name and --dns-hostname, and the log says so.
func TestSavedNamesWinOverFlags(t *testing.T) {
	dir := t.TempDir()
	cfg, err := parseFlags([]string{"--state-dir", dir, "--netbios-name", "flagname", "--dns-hostname", "flagname.example.test"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	names, err := openNames(cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	if names.NetBIOSName() != "FLAGNAME" || logs.Len() != 0 {
		t.Fatalf("fresh state: %q, log %q", names.NetBIOSName(), logs.String())
	}
	if err := names.Save(context.Background(), joinlogic.ComputerName{NetBIOS: "RENAMED", FQDN: "renamed.example.test"}); err != nil {
		t.Fatal(err)
	}
	names, err = openNames(cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	if names.NetBIOSName() != "RENAMED" || names.DNSHostName() != "renamed.example.test" {
		t.Fatalf("after a rename: %q %q", names.NetBIOSName(), names.DNSHostName())
	}
	if !strings.Contains(logs.String(), "renamed") || !strings.Contains(logs.String(), namesFile) {
		t.Fatalf("log does not explain the flags were overridden: %q", logs.String())
	}
}
