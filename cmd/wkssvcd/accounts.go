package main

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/wkssvcd/wkssvcd/internal/atomicfile"
	"github.com/wkssvcd/wkssvcd/server/ntlm"
)

// credential is one local account: a user name and the NT hash of its
// password. Password is kept only for a generated credential, which is
// saved for the operator to read.
type credential struct {
	User     string
	Password string
	NTHash   [16]byte
}

// ntHashPrefix marks an NT hash in place of a password: "user:$NT$" and 32
// hexadecimal digits (MD4 of the UTF-16LE password, MS-NLMP 3.3.1), so that
// a password that happens to be 32 hexadecimal digits is never taken for a
// hash.
const ntHashPrefix = "$NT$"

// parseCredential reads USER:PASSWORD or USER:$NT$HASH. The password may
// contain colons.
func parseCredential(s string) (credential, error) {
	user, pw, ok := strings.Cut(s, ":")
	if !ok || user == "" || pw == "" {
		return credential{}, errors.New("want USER:PASSWORD or USER:$NT$HASH")
	}
	if strings.ContainsAny(user, `\/@: `) || strings.ContainsFunc(user, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return credential{}, fmt.Errorf("user name %q: must not contain \\ / @ : spaces or control characters", user)
	}
	if h, isHash := strings.CutPrefix(pw, ntHashPrefix); isHash {
		b, err := hex.DecodeString(h)
		if err != nil || len(b) != 16 {
			return credential{}, fmt.Errorf("user %q: %s must be followed by 32 hexadecimal digits", user, ntHashPrefix)
		}
		c := credential{User: user}
		copy(c.NTHash[:], b)
		return c, nil
	}
	return credential{User: user, Password: pw, NTHash: ntlm.NTHash(pw)}, nil
}

// credList is a repeatable USER:PASSWORD option. Its String never shows
// passwords.
type credList []credential

func (c *credList) String() string {
	if c == nil {
		return ""
	}
	names := make([]string, len(*c))
	for i, cr := range *c {
		names[i] = cr.User + ":***"
	}
	return strings.Join(names, ",")
}

func (c *credList) Set(s string) error {
	cr, err := parseCredential(s)
	if err != nil {
		return err
	}
	*c = append(*c, cr)
	return nil
}

// get lists the user names only: passwords are never printed.
func (c *credList) get() any {
	names := make([]string, len(*c))
	for i, cr := range *c {
		names[i] = cr.User
	}
	return names
}

func (c *credList) reset() { *c = nil }

// maxAccountFile bounds an account file.
const maxAccountFile = 1 << 20

// readAccountFile reads an account file: one USER:PASSWORD or USER:$NT$HASH
// per line; empty lines and lines starting with # are ignored. The file
// must not be writable by others than its owner nor readable by everyone,
// and must belong to root or to the user the daemon runs as.
func readAccountFile(path string) ([]credential, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err := checkSecretFileMode(path, fi); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxAccountFile+1))
	if err != nil {
		return nil, err
	}
	defer clear(data)
	if len(data) > maxAccountFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxAccountFile)
	}
	var out []credential
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxAccountFile)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		c, err := parseCredential(line)
		if err != nil {
			// The line itself is never quoted: it holds a password.
			return nil, fmt.Errorf("%s: line %d: %v", path, n, err)
		}
		out = append(out, c)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no account (want lines USER:PASSWORD or USER:$NT$HASH)", path)
	}
	return out, nil
}

// checkSecretFileMode refuses a file of passwords that others can change
// or everyone can read.
func checkSecretFileMode(path string, fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o027 != 0 {
		return fmt.Errorf("%s: mode %04o lets other users read or change the passwords; run chmod 600 %s", path, perm, path)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != 0 && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%s: owned by uid %d, neither root nor the daemon's user (uid %d)", path, st.Uid, os.Geteuid())
	}
	return nil
}

// account is a resolved local account and where it came from.
type account struct {
	credential
	Admin bool
	From  string // a flag, a file, an environment variable; never the password
}

const adminCredentialFile = "admin-credential"

// Credentials that systemd passes in $CREDENTIALS_DIRECTORY
// (LoadCredential=admin:FILE), read like --admin-file and --user-file.
const (
	adminCredential = "admin"
	userCredential  = "user"
)

// loadAccounts resolves the local accounts: --admin, --admin-file, the
// systemd credential "admin" (and likewise --user, --user-file and the
// credential "user"). With no administrator among them it takes
// $WKSSVCD_ADMIN, else the credential saved in the state directory by an
// earlier start, else a new generated one saved there (mode 0600). It runs
// at start and again on SIGHUP.
func loadAccounts(cfg *config, getenv func(string) string) ([]account, error) {
	var out []account
	add := func(creds []credential, admin bool, from string) error {
		for _, c := range creds {
			for _, a := range out {
				if strings.EqualFold(a.User, c.User) {
					return fmt.Errorf("account %q given twice: in %s and in %s", c.User, a.From, from)
				}
			}
			out = append(out, account{credential: c, Admin: admin, From: from})
		}
		return nil
	}
	credDir := getenv("CREDENTIALS_DIRECTORY")
	for _, kind := range []struct {
		admin bool
		flag  credList
		files []string
		cred  string
	}{
		{true, cfg.Admins, cfg.AdminFiles, adminCredential},
		{false, cfg.Users, cfg.UserFiles, userCredential},
	} {
		name := "--user"
		if kind.admin {
			name = "--admin"
		}
		if err := add(kind.flag, kind.admin, name); err != nil {
			return nil, err
		}
		for _, f := range kind.files {
			creds, err := readAccountFile(f)
			if err != nil {
				return nil, fmt.Errorf("%s-file: %w", name, err)
			}
			if err := add(creds, kind.admin, f); err != nil {
				return nil, err
			}
		}
		if credDir != "" {
			p := filepath.Join(credDir, kind.cred)
			creds, err := readAccountFile(p)
			switch {
			case errors.Is(err, fs.ErrNotExist):
			case err != nil:
				return nil, fmt.Errorf("systemd credential %q: %w", kind.cred, err)
			default:
				if err := add(creds, kind.admin, "credential "+kind.cred+" ("+p+")"); err != nil {
					return nil, err
				}
			}
		}
	}
	for _, a := range out {
		if a.Admin {
			return out, nil
		}
	}
	c, from, err := fallbackAdmin(cfg, getenv)
	if err != nil {
		return nil, err
	}
	if err := add([]credential{c}, true, from); err != nil {
		return nil, err
	}
	return out, nil
}

// fallbackAdmin is the administrator of a daemon given none: from
// $WKSSVCD_ADMIN, the state directory, or generated and saved there.
func fallbackAdmin(cfg *config, getenv func(string) string) (credential, string, error) {
	if v := getenv("WKSSVCD_ADMIN"); v != "" {
		c, err := parseCredential(v)
		if err != nil {
			return credential{}, "", fmt.Errorf("$WKSSVCD_ADMIN: %w", err)
		}
		return c, "$WKSSVCD_ADMIN", nil
	}
	path := filepath.Join(cfg.StateDir, adminCredentialFile)
	creds, err := readAccountFile(path)
	switch {
	case err == nil && len(creds) == 1:
		return creds[0], path, nil
	case err == nil:
		return credential{}, "", fmt.Errorf("%s: holds %d accounts, want one (remove the file to generate a new credential)", path, len(creds))
	case !errors.Is(err, fs.ErrNotExist):
		return credential{}, "", fmt.Errorf("%w (remove the file to generate a new credential)", err)
	}
	pw, err := generatePassword(24)
	if err != nil {
		return credential{}, "", err
	}
	c, err := parseCredential("admin:" + pw)
	if err != nil {
		return credential{}, "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return credential{}, "", err
	}
	if err := atomicfile.Write(path, []byte(c.User+":"+c.Password+"\n"), 0o600); err != nil {
		return credential{}, "", fmt.Errorf("saving the generated administrator credential: %w", err)
	}
	return c, path + " (generated)", nil
}

// liveAccounts is the account database of a running daemon; SIGHUP
// replaces its contents while sessions go on.
type liveAccounts struct {
	p atomic.Pointer[ntlm.StaticAccounts]
}

func (l *liveAccounts) store(accts []account) {
	db := make(ntlm.StaticAccounts, len(accts))
	for i, a := range accts {
		db[i] = ntlm.Account{Name: a.User, NTHash: a.NTHash, Admin: a.Admin}
	}
	l.p.Store(&db)
}

// LookupAccount implements ntlm.AccountDB.
func (l *liveAccounts) LookupAccount(name string) (ntlm.Account, bool) {
	db := l.p.Load()
	if db == nil {
		return ntlm.Account{}, false
	}
	return db.LookupAccount(name)
}
