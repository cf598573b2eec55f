package logsafe

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestText(t *testing.T) {
	if got := Text("alice"); got != "alice" {
		t.Fatalf("short name changed: %q", got)
	}
	exact := strings.Repeat("é", MaxText)
	if Text(exact) != exact {
		t.Fatal("a name of exactly MaxText characters was cut")
	}
	long := strings.Repeat("D", 60000)
	got := Text(long)
	if utf8.RuneCountInString(got) > MaxText+40 || !strings.HasPrefix(got, strings.Repeat("D", MaxText)) ||
		!strings.Contains(got, "60000 bytes in all") {
		t.Fatalf("60000-byte name: %d characters: %q", utf8.RuneCountInString(got), got[len(got)-40:])
	}
	if got := Text("a\nb\x1b[31m"); strings.ContainsAny(got, "\n\x1b") {
		t.Fatalf("control characters kept: %q", got)
	}
	if got := Text(strings.Repeat("x", MaxText) + "\n"); strings.Contains(got, "\n") {
		t.Fatalf("control character kept in a cut string: %q", got)
	}
}

func TestLimiter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := NewLimiter(time.Minute, 2, func() time.Time { return now })
	var got []string
	emit := func(k string) func(int) {
		return func(n int) { got = append(got, k+":"+string(rune('0'+n))) }
	}
	l.Do("a", emit("a"))
	l.Do("a", emit("a"))
	l.Do("b", emit("b"))
	l.Do("c", emit("c")) // table full: overflow
	l.Do("d", emit("d")) // overflow, held back
	now = now.Add(time.Minute)
	l.Do("a", emit("a"))
	want := "a:0 b:0 c:0 a:1"
	if strings.Join(got, " ") != want {
		t.Fatalf("emitted %q, want %q", strings.Join(got, " "), want)
	}
	if len(l.keys) > 3 {
		t.Fatalf("%d keys tracked", len(l.keys))
	}
}
