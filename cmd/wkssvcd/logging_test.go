package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// In journal format every line starts with the syslog priority journald
// reads from a stream, and carries no time stamp of its own.
func TestJournalFormat(t *testing.T) {
	var buf bytes.Buffer
	level := new(slog.LevelVar)
	level.Set(slog.LevelDebug)
	log := slog.New(newLogHandler(&buf, logJournal, level, noEnv)).With("component", "smb2")
	log.Debug("d")
	log.Info("i", "user", "alice")
	log.Warn("w")
	log.Error("e", "err", "line one\nline two")
	got := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	want := []string{"<7>level=DEBUG", "<6>level=INFO", "<4>level=WARN", "<3>level=ERROR"}
	if len(got) != len(want) {
		t.Fatalf("lines:\n%s", buf.String())
	}
	for i, w := range want {
		if !strings.HasPrefix(got[i], w+" ") || strings.Contains(got[i], "time=") || !strings.Contains(got[i], "component=smb2") {
			t.Errorf("line %d %q, want prefix %q, no time, the component", i, got[i], w)
		}
	}
	// The level can change while the daemon runs (SIGHUP).
	buf.Reset()
	level.Set(slog.LevelWarn)
	log.Info("hidden")
	if buf.Len() != 0 {
		t.Errorf("info logged at level warn: %q", buf.String())
	}
}

func TestJSONAndTextFormats(t *testing.T) {
	var buf bytes.Buffer
	slog.New(newLogHandler(&buf, logJSON, slog.LevelInfo, noEnv)).Warn("w", "remote", "127.0.0.1:5")
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil || m["level"] != "WARN" || m["remote"] != "127.0.0.1:5" {
		t.Errorf("json line %q: %v", buf.String(), err)
	}
	buf.Reset()
	slog.New(newLogHandler(&buf, logText, slog.LevelInfo, noEnv)).Info("i")
	if !strings.HasPrefix(buf.String(), "time=") {
		t.Errorf("text line %q", buf.String())
	}
}

// auto means journal exactly when standard error is the stream systemd
// named in $JOURNAL_STREAM.
func TestLogFormatAuto(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		stream  string
		journal bool
	}{
		{fmt.Sprintf("%d:%d", st.Dev, st.Ino), true},
		{fmt.Sprintf("%d:%d", st.Dev, st.Ino+1), false},
		{"", false},
	} {
		getenv := func(k string) string {
			if k == "JOURNAL_STREAM" {
				return tc.stream
			}
			return ""
		}
		f.Truncate(0)
		f.Seek(0, 0)
		slog.New(newLogHandler(f, logAuto, slog.LevelInfo, getenv)).Info("x")
		data, _ := os.ReadFile(f.Name())
		if strings.HasPrefix(string(data), "<6>") != tc.journal {
			t.Errorf("JOURNAL_STREAM=%q: %q", tc.stream, data)
		}
	}
}

// Every option marked reload is taken over by a reload; nothing else is.
func TestTakeReloadableMatchesTable(t *testing.T) {
	a, err := parseFlags(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	b, err := parseFlags([]string{"--admin", "x:y", "--user", "u:v", "--admin-file", dir + "/a", "--user-file", dir + "/u",
		"--log-level", "debug", "--listen", "0.0.0.0:1", "--max-credits", "9"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	a.takeReloadable(b)
	for _, o := range options() {
		if o.cliOnly {
			continue
		}
		same := fmt.Sprint(o.bind(a).get()) == fmt.Sprint(o.bind(b).get())
		if o.reload != same && (o.name == "listen" || o.name == "max-credits" || o.reload) {
			t.Errorf("%s: reload %v but taken over %v", o.name, o.reload, same)
		}
	}
}
