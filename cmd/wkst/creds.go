package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// maxSecretFile bounds how much of a password file is read.
const maxSecretFile = 4096

// passwordEnv names the environment variable that may carry the
// connection password when --user-password-file is not given.
const passwordEnv = "WKST_PASSWORD"

// account is a parsed --user value.
type account struct {
	Domain string // NetBIOS or DNS domain; "" when none was given
	User   string
}

// parseUser accepts the down-level form DOMAIN\user, the UPN-like form
// user@domain, or a bare user name.
func parseUser(s string) (account, error) {
	if s == "" {
		return account{}, fmt.Errorf("empty user")
	}
	if d, u, ok := strings.Cut(s, `\`); ok {
		if d == "" || u == "" || strings.ContainsAny(u, `\@`) {
			return account{}, fmt.Errorf("user %q: want DOMAIN\\user", s)
		}
		return account{Domain: d, User: u}, nil
	}
	if i := strings.LastIndex(s, "@"); i >= 0 {
		u, d := s[:i], s[i+1:]
		if u == "" || d == "" || strings.Contains(u, "@") {
			return account{}, fmt.Errorf("user %q: want user@domain", s)
		}
		return account{Domain: d, User: u}, nil
	}
	return account{User: s}, nil
}

// promptFunc asks for a password on the terminal without echo.
type promptFunc func(ctx context.Context, label string) (string, error)

// secretSource reads passwords from files, standard input or the terminal.
// Standard input ("-") may be consumed only once; on a terminal "-" asks
// with a prompt instead of reading until end of file.
type secretSource struct {
	stdin     io.Reader
	stdinUsed bool
	readFile  func(string) ([]byte, error) // os.ReadFile-like; nil means bounded os.Open
	prompt    promptFunc                   // nil when standard input is not a terminal
	ctx       context.Context
}

// ask prompts for a password labelled label.
func (s *secretSource) ask(label string) (string, error) {
	if s.prompt == nil {
		return "", usagef("%s: standard input is not a terminal", label)
	}
	ctx := s.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	return s.prompt(ctx, label+": ")
}

// read returns the secret in path ("-" for standard input, a prompt on a
// terminal) without its trailing line ending. The file may hold at most
// maxSecretFile bytes. label names the password in a prompt.
func (s *secretSource) read(path, label string) (string, error) {
	var (
		b   []byte
		err error
	)
	if path == "-" && s.prompt != nil {
		return s.ask(label)
	}
	if path == "-" {
		if s.stdinUsed {
			return "", usagef("standard input can supply only one password")
		}
		s.stdinUsed = true
		b, err = io.ReadAll(io.LimitReader(s.stdin, maxSecretFile+1))
	} else if s.readFile != nil {
		b, err = s.readFile(path)
	} else {
		b, err = readBounded(path)
	}
	if err != nil {
		return "", usagef("reading password from %s: %v", path, err)
	}
	defer clear(b)
	if len(b) > maxSecretFile {
		return "", usagef("password file %s is larger than %d bytes", path, maxSecretFile)
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	if bytes.ContainsAny(b, "\n\x00") {
		return "", usagef("password file %s holds more than one line", path)
	}
	return string(b), nil
}

func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxSecretFile+1))
}

// connectionPassword picks the password of the connecting user: the file
// named by --user-password-file if set, else $WKST_PASSWORD, else a prompt
// on a terminal.
func connectionPassword(src *secretSource, file string, getenv func(string) string, user account) (string, error) {
	label := "Password for " + user.String()
	if file != "" {
		return src.read(file, label)
	}
	if pw := getenv(passwordEnv); pw != "" {
		return pw, nil
	}
	if src.prompt != nil {
		return src.ask(label)
	}
	return "", usagef("no password for the connecting user: use --user-password-file F|-, set %s, or run on a terminal to be asked", passwordEnv)
}

// String renders the account as it was given: DOMAIN\user or user.
func (a account) String() string {
	if a.Domain == "" {
		return a.User
	}
	return a.Domain + `\` + a.User
}

// terminalPrompt returns a promptFunc reading from the terminal f without
// echo, writing the prompt to out. Echo is off before the prompt is shown:
// someone who types as soon as the prompt appears must not see the
// password echoed because the terminal was switched a moment later. Ctrl-C
// (ctx ending) restores the terminal and returns errInterrupted.
func terminalPrompt(f *os.File, out io.Writer) promptFunc {
	fd := int(f.Fd())
	return func(ctx context.Context, prompt string) (string, error) {
		state, err := term.GetState(fd)
		if err != nil {
			return "", err
		}
		if err := echoOff(fd); err != nil {
			return "", fmt.Errorf("turning off the terminal's echo: %w", err)
		}
		restored := false
		restore := func() {
			if !restored {
				term.Restore(fd, state)
				restored = true
			}
		}
		defer restore()
		fmt.Fprint(out, prompt)
		type result struct {
			b   []byte
			err error
		}
		ch := make(chan result, 1)
		go func() {
			b, err := term.ReadPassword(fd)
			ch <- result{b, err}
		}()
		select {
		case r := <-ch:
			fmt.Fprintln(out)
			if r.err != nil {
				return "", fmt.Errorf("reading the password: %w", r.err)
			}
			defer clear(r.b)
			return string(r.b), nil
		case <-ctx.Done():
			restore()
			fmt.Fprintln(out)
			return "", errInterrupted
		}
	}
}

// echoOff clears ECHO on the terminal fd, leaving the rest of its settings
// (term.ReadPassword then reads in the same mode and restores it).
func echoOff(fd int) error {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	t.Lflag &^= unix.ECHO
	return unix.IoctlSetTermios(fd, unix.TCSETS, t)
}
