package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/term"
)

// typist is the prompt's output: when the prompt appears it types the
// password into the terminal at once, as a person (or a script) who
// waits for the prompt does, and gives the terminal time to handle it
// before the prompt function continues.
type typist struct {
	ptm      *os.File
	password string
}

func (w typist) Write(b []byte) (int, error) {
	if bytes.HasSuffix(b, []byte(": ")) {
		io.WriteString(w.ptm, w.password+"\r")
		time.Sleep(200 * time.Millisecond)
	}
	return len(b), nil
}

// A password typed the moment the prompt appears is not echoed: echo is
// off before the prompt is written, not switched off a moment after it.
// The terminal's settings are as before once the prompt returns.
func TestTerminalPromptEchoOffBeforePrompt(t *testing.T) {
	ptm, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("opening a pseudo-terminal: %v", err)
	}
	defer ptm.Close()
	defer tty.Close()
	var (
		mu   sync.Mutex
		seen bytes.Buffer
	)
	go func() {
		b := make([]byte, 256)
		for {
			n, err := ptm.Read(b)
			mu.Lock()
			seen.Write(b[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	before, err := term.GetState(int(tty.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	const password = "Typed-At-0nce!"
	ask := terminalPrompt(tty, typist{ptm: ptm, password: password})
	got, err := ask(context.Background(), "Password for admin: ")
	if err != nil {
		t.Fatal(err)
	}
	if got != password {
		t.Fatalf("read %q", got)
	}
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	echoed := seen.String()
	mu.Unlock()
	if strings.Contains(echoed, "Typed") {
		t.Fatalf("the terminal echoed the password: %q", echoed)
	}
	after, err := term.GetState(int(tty.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	if *after != *before {
		t.Errorf("terminal settings not restored:\n before %+v\n after  %+v", before, after)
	}
}
