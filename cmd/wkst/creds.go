package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
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

// secretSource reads passwords from files or standard input. Standard input
// ("-") may be consumed only once.
type secretSource struct {
	stdin     io.Reader
	stdinUsed bool
	readFile  func(string) ([]byte, error) // os.ReadFile-like; nil means bounded os.Open
}

// read returns the secret in path ("-" for standard input) without its
// trailing line ending. The file may hold at most maxSecretFile bytes.
func (s *secretSource) read(path string) (string, error) {
	var (
		b   []byte
		err error
	)
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
		return "", fmt.Errorf("reading password from %s: %w", path, err)
	}
	defer clear(b)
	if len(b) > maxSecretFile {
		return "", fmt.Errorf("password file %s is larger than %d bytes", path, maxSecretFile)
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	if bytes.ContainsAny(b, "\n\x00") {
		return "", fmt.Errorf("password file %s holds more than one line", path)
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
// named by --user-password-file if set, else $WKST_PASSWORD.
func connectionPassword(src *secretSource, file string, getenv func(string) string) (string, error) {
	if file != "" {
		return src.read(file)
	}
	if pw := getenv(passwordEnv); pw != "" {
		return pw, nil
	}
	return "", usagef("no password for the connecting user: use --user-password-file F|- or set %s", passwordEnv)
}
