package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"syscall"
)

// Log formats (--log-format).
const (
	logAuto    = "auto"    // journal when stderr is the journal, else text
	logText    = "text"    // key=value lines with a time stamp
	logJSON    = "json"    // one JSON object a line
	logJournal = "journal" // key=value lines led by a syslog priority, <6>, and no time stamp
)

// logFormatValue is a --log-format value.
type logFormatValue struct{ p *string }

func (v *logFormatValue) Set(s string) error {
	switch s {
	case logAuto, logText, logJSON, logJournal:
		*v.p = s
		return nil
	}
	return errors.New("want auto, text, json or journal")
}
func (v *logFormatValue) get() any { return *v.p }

// newLogHandler returns the daemon's log handler: format is one of the
// log formats, level may change while the daemon runs (SIGHUP).
func newLogHandler(w io.Writer, format string, level slog.Leveler, getenv func(string) string) slog.Handler {
	if format == logAuto {
		format = logText
		if stderrIsJournal(w, getenv) {
			format = logJournal
		}
	}
	opts := &slog.HandlerOptions{Level: level}
	switch format {
	case logJSON:
		return slog.NewJSONHandler(w, opts)
	case logJournal:
		pw := &priorityWriter{w: w}
		opts.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{} // the journal stamps every line itself
			}
			return a
		}
		return &journalHandler{inner: slog.NewTextHandler(pw, opts), out: pw}
	default:
		return slog.NewTextHandler(w, opts)
	}
}

// stderrIsJournal reports whether w is the stream systemd connected to the
// journal: $JOURNAL_STREAM holds its device and inode numbers
// (systemd.exec(5)).
func stderrIsJournal(w io.Writer, getenv func(string) string) bool {
	js := getenv("JOURNAL_STREAM")
	f, ok := w.(*os.File)
	if js == "" || !ok {
		return false
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return false
	}
	return js == fmt.Sprintf("%d:%d", st.Dev, st.Ino)
}

// journalHandler writes text records each led by its syslog priority in
// the form journald reads from a stream ("<4>level=WARN msg=...",
// sd-daemon(3)), so journalctl -p filters and colours them.
type journalHandler struct {
	inner slog.Handler
	out   *priorityWriter
}

// priorityWriter puts the priority of the record being written before
// each line. journalHandler holds mu while the record is written.
type priorityWriter struct {
	mu   sync.Mutex
	w    io.Writer
	prio int
}

func (p *priorityWriter) Write(b []byte) (int, error) {
	var sb strings.Builder
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if line != "" {
			fmt.Fprintf(&sb, "<%d>%s", p.prio, line)
		}
	}
	if _, err := io.WriteString(p.w, sb.String()); err != nil {
		return 0, err
	}
	return len(b), nil
}

// syslogPriority maps a level to the priorities of syslog(3).
func syslogPriority(l slog.Level) int {
	switch {
	case l >= slog.LevelError:
		return 3 // err
	case l >= slog.LevelWarn:
		return 4 // warning
	case l >= slog.LevelInfo:
		return 6 // info
	default:
		return 7 // debug
	}
}

func (h *journalHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *journalHandler) Handle(ctx context.Context, r slog.Record) error {
	h.out.mu.Lock()
	defer h.out.mu.Unlock()
	h.out.prio = syslogPriority(r.Level)
	return h.inner.Handle(ctx, r)
}

func (h *journalHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &journalHandler{inner: h.inner.WithAttrs(as), out: h.out}
}

func (h *journalHandler) WithGroup(name string) slog.Handler {
	return &journalHandler{inner: h.inner.WithGroup(name), out: h.out}
}
