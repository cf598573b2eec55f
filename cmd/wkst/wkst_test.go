package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	smb2fork "github.com/oiweiwei/go-smb2.fork"

	"github.com/wkssvcd/wkssvcd/crypto"
)

func TestParseOptions(t *testing.T) {
	tests := []struct {
		in   string
		want uint32
		ok   bool
	}{
		{"0x23", 0x23, true},
		{"0X10000000", 0x10000000, true},
		{"35", 35, true},
		{"0", 0, true},
		{"JOIN_DOMAIN,ACCT_CREATE", 0x3, true},
		{"NETSETUP_JOIN_DOMAIN|netsetup_acct_create", 0x3, true},
		{"join_domain + DOMAIN_JOIN_IF_JOINED", 0x21, true},
		{"JOIN_UNSECURE,MACHINE_PWD_PASSED,DEFER_SPN_SET,JOIN_READONLY", 0x9C0, true},
		{"ACCT_DELETE", 0x4, true},
		{"IGNORE_UNSUPPORTED_FLAGS,INSTALL_INVOCATION,WIN9X_UPGRADE", 0x10040010, true},
		{"JOIN_DC_ACCOUNT,JOIN_WITH_NEW_NAME,DNS_NAME_CHANGES_ONLY", 0x1600, true},
		{"", 0, false},
		{"JOIN_DOMAINX", 0, false},
		{"JOIN_DOMAIN,,", 0x1, true},
		{"0x100000000", 0, false},
		{"0xZZ", 0, false},
		{"-1", 0, false},
	}
	for _, tc := range tests {
		got, err := parseOptions(tc.in)
		if tc.ok && (err != nil || got != tc.want) {
			t.Errorf("%q: got %#x, %v; want %#x", tc.in, got, err, tc.want)
		}
		if !tc.ok && err == nil {
			t.Errorf("%q: accepted as %#x", tc.in, got)
		}
	}
}

func TestFormatOptions(t *testing.T) {
	for v, want := range map[uint32]string{
		0:          "0x00000000",
		0x3:        "0x00000003 (JOIN_DOMAIN|ACCT_CREATE)",
		0x80000041: "0x80000041 (JOIN_DOMAIN|JOIN_UNSECURE|0x80000000)",
	} {
		if got := formatOptions(v); got != want {
			t.Errorf("%#x: %q, want %q", v, got, want)
		}
	}
	// Every named flag survives a format/parse round trip.
	for _, f := range netsetupFlags {
		if got, err := parseOptions(f.Name); err != nil || got != f.Bit {
			t.Errorf("%s: %#x %v", f.Name, got, err)
		}
	}
}

func TestParseUser(t *testing.T) {
	tests := []struct {
		in   string
		want account
		ok   bool
	}{
		{`EXAMPLE\Administrator`, account{"EXAMPLE", "Administrator"}, true},
		{"admin@example.test", account{"example.test", "admin"}, true},
		{"alice", account{"", "alice"}, true},
		{"", account{}, false},
		{`\alice`, account{}, false},
		{`EXAMPLE\`, account{}, false},
		{`A\b\c`, account{}, false},
		{`A\b@c`, account{}, false},
		{"@example.test", account{}, false},
		{"alice@", account{}, false},
		{"a@b@c", account{}, false},
	}
	for _, tc := range tests {
		got, err := parseUser(tc.in)
		if tc.ok && (err != nil || got != tc.want) {
			t.Errorf("%q: got %+v, %v", tc.in, got, err)
		}
		if !tc.ok && err == nil {
			t.Errorf("%q: accepted as %+v", tc.in, got)
		}
	}
}

func TestParseServer(t *testing.T) {
	tests := []struct {
		in   string
		host string
		port int
		ok   bool
	}{
		{"127.0.0.3", "127.0.0.3", 445, true},
		{"127.0.0.3:4445", "127.0.0.3", 4445, true},
		{"wkhost", "wkhost", 445, true},
		{"wkhost:139", "wkhost", 139, true},
		{"[::1]:445", "::1", 445, true},
		{"[::1]", "::1", 445, true},
		{"::1", "::1", 445, true},
		{"", "", 0, false},
		{"host:0", "", 0, false},
		{"host:65536", "", 0, false},
		{"host:x", "", 0, false},
		{":445", "", 0, false},
		{"a b", "", 0, false},
	}
	for _, tc := range tests {
		h, p, err := parseServer(tc.in)
		if tc.ok && (err != nil || h != tc.host || p != tc.port) {
			t.Errorf("%q: got %q %d %v", tc.in, h, p, err)
		}
		if !tc.ok && err == nil {
			t.Errorf("%q: accepted as %q %d", tc.in, h, p)
		}
	}
}

func TestSecretSource(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	src := &secretSource{stdin: strings.NewReader("from stdin\r\n")}
	for path, want := range map[string]string{
		write("lf", "pa ss\n"):       "pa ss",
		write("crlf", "pa ss\r\n"):   "pa ss",
		write("none", "pa ss"):       "pa ss",
		write("empty", ""):           "",
		write("spaces", "  x  \n"):   "  x  ",
		write("unicode", "pässwörd"): "pässwörd",
	} {
		if got, err := src.read(path, "Password"); err != nil || got != want {
			t.Errorf("%s: %q, %v", path, got, err)
		}
	}
	if got, err := src.read("-", "Password"); err != nil || got != "from stdin" {
		t.Errorf("stdin: %q, %v", got, err)
	}
	if _, err := src.read("-", "Password"); exitCode(err) != 2 {
		t.Errorf("second stdin read: %v", err)
	}
	for _, p := range []string{
		write("two", "a\nb\n"),
		write("nul", "a\x00b"),
		write("big", strings.Repeat("x", maxSecretFile+1)),
		filepath.Join(dir, "missing"),
	} {
		if got, err := src.read(p, "Password"); err == nil {
			t.Errorf("%s accepted as %q", p, got)
		}
	}
}

func TestConnectionPassword(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "pw")
	os.WriteFile(p, []byte("file-pw\n"), 0o600)
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == passwordEnv {
				return v
			}
			return ""
		}
	}
	src := &secretSource{}
	if got, err := connectionPassword(src, p, env("env-pw"), account{User: "u"}); err != nil || got != "file-pw" {
		t.Errorf("file wins: %q %v", got, err)
	}
	if got, err := connectionPassword(src, "", env("env-pw"), account{User: "u"}); err != nil || got != "env-pw" {
		t.Errorf("env: %q %v", got, err)
	}
	if _, err := connectionPassword(src, "", env(""), account{User: "u"}); exitCode(err) != 2 {
		t.Errorf("none: %v", err)
	}
}

func TestCallErrorFormatting(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&callError{"NetrJoinDomain3", 0xA83}, "NetrJoinDomain3 failed: NERR_SetupAlreadyJoined (0x00000A83): This machine is already joined to a domain"},
		{&callError{"NetrJoinDomain2", 0x56}, "NetrJoinDomain2 failed: ERROR_INVALID_PASSWORD (0x00000056): The specified network password is not correct"},
		{&callError{"NetrUnjoinDomain3", 0xA84}, "NetrUnjoinDomain3 failed: NERR_SetupNotJoined (0x00000A84): This machine is not currently joined to a domain"},
		{&callError{"NetrWkstaGetInfo", 0xDEADBEEF}, "NetrWkstaGetInfo failed: 0xDEADBEEF (unknown Win32 code)"},
		// What the domain said: the server's log has why.
		{&callError{"NetrJoinDomain3", 0x52E}, "NetrJoinDomain3 failed: ERROR_LOGON_FAILURE (0x0000052E): Logon failure: Unknown user name or bad password; the server's log has the cause (wkssvcd logs it at info level: journalctl -u wkssvcd)"},
		{&callError{"NetrUnjoinDomain2", 0x54B}, "NetrUnjoinDomain2 failed: ERROR_NO_SUCH_DOMAIN (0x0000054B): The specified domain either does not exist or could not be contacted; the server's log has the cause (wkssvcd logs it at info level: journalctl -u wkssvcd)"},
	}
	for _, tc := range tests {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("got  %q\nwant %q", got, tc.want)
		}
		if exitCode(fmt.Errorf("wrapped: %w", tc.err)) != 1 {
			t.Errorf("%v: exit code", tc.err)
		}
	}
	if exitCode(nil) != 0 || exitCode(usagef("x")) != 2 || exitCode(errors.New("x")) != 3 || exitCode(errInterrupted) != 130 {
		t.Error("exit codes")
	}
}

func TestCallResult(t *testing.T) {
	boom := errors.New("boom")
	if err := callResult("Op", 0, true, nil); err != nil {
		t.Errorf("success: %v", err)
	}
	var ce *callError
	if err := callResult("Op", 0x5, true, boom); !errors.As(err, &ce) || ce.Code != 5 || ce.Op != "Op" {
		t.Errorf("win32: %v", err)
	}
	if err := callResult("Op", 0, false, boom); errors.As(err, &ce) || !errors.Is(err, boom) {
		t.Errorf("transport: %v", err)
	}
}

func TestSealPassword(t *testing.T) {
	key := []byte("0123456789abcdef")
	pw := "Domain-Admin-Pässword"
	s, err := sealPassword(methodAES, key, &pw, &fakeRand{})
	if err != nil || s.aes == nil || s.rc4 != nil {
		t.Fatalf("aes: %+v %v", s, err)
	}
	var b crypto.AESBlob
	copy(b.AuthData[:], s.aes.AuthData)
	copy(b.Salt[:], s.aes.Salt)
	b.Cipher = s.aes.Cipher
	if int(s.aes.CipherLength) != len(b.Cipher) {
		t.Errorf("cbCipher %d for %d bytes", s.aes.CipherLength, len(b.Cipher))
	}
	if got, err := crypto.DecryptAES(key, b); err != nil || got != pw {
		t.Errorf("aes decrypt: %q %v", got, err)
	}
	s, err = sealPassword(methodRC4, key, &pw, &fakeRand{})
	if err != nil || s.rc4 == nil || s.aes != nil {
		t.Fatalf("rc4: %+v %v", s, err)
	}
	if got, err := crypto.DecryptRC4(key, s.rc4.Buffer); err != nil || got != pw {
		t.Errorf("rc4 decrypt: %q %v", got, err)
	}
	if s, err := sealPassword(methodAES, key, nil, &fakeRand{}); err != nil || s.aes != nil || s.rc4 != nil {
		t.Errorf("nil password: %+v %v", s, err)
	}
	if _, err := sealPassword(methodAES, nil, &pw, &fakeRand{}); err == nil {
		t.Error("missing key accepted")
	}
}

type fakeRand struct{ n byte }

func (r *fakeRand) Read(p []byte) (int, error) {
	for i := range p {
		r.n++
		p[i] = r.n
	}
	return len(p), nil
}

// fakeSession records calls and answers with canned results.
type fakeSession struct {
	joins   []joinRequest
	unjoins []unjoinRequest
	renames []renameRequest // names_test.go
	changes []nameRequest
	listed  []uint32
	names   []string
	err     error
	closed  bool
}

func (f *fakeSession) WorkstationInfo(context.Context) (wkstaInfo, error) {
	return wkstaInfo{PlatformID: 500, ComputerName: "WKHOST", LANGroup: "EXAMPLE", VerMajor: 10, VerMinor: 0}, f.err
}

func (f *fakeSession) JoinInformation(context.Context) (joinInfo, error) {
	return joinInfo{Name: "EXAMPLE", Status: 3}, f.err
}

func (f *fakeSession) Join(_ context.Context, r joinRequest) error {
	f.joins = append(f.joins, r)
	return f.err
}

func (f *fakeSession) Unjoin(_ context.Context, r unjoinRequest) error {
	f.unjoins = append(f.unjoins, r)
	return f.err
}

func (f *fakeSession) Close(context.Context) error { f.closed = true; return nil }

type harness struct {
	sess           *fakeSession
	cfg            connConfig
	dialed         bool
	dialErr        error
	prompt         promptFunc
	stdout, stderr bytes.Buffer
}

func (h *harness) run(t *testing.T, stdin string, envPW string, args ...string) int {
	t.Helper()
	h.stdout.Reset()
	h.stderr.Reset()
	return run(context.Background(), args, env{
		stdin:  strings.NewReader(stdin),
		stdout: &h.stdout,
		stderr: &h.stderr,
		getenv: func(k string) string {
			if k == passwordEnv {
				return envPW
			}
			return ""
		},
		dial: func(_ context.Context, cfg connConfig, _ *slog.Logger) (session, error) {
			h.dialed = true
			h.cfg = cfg
			if h.dialErr != nil {
				return nil, h.dialErr
			}
			return h.sess, nil
		},
		prompt: h.prompt,
	})
}

func TestRunInfo(t *testing.T) {
	h := &harness{sess: &fakeSession{}}
	code := h.run(t, "", "conn-pw", "info", "--server", "127.0.0.3:4445", "--user", `EXAMPLE\admin`, "--dialect", "3.1.1", "--seal")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, h.stderr.String())
	}
	want := connConfig{Host: "127.0.0.3", Port: 4445, User: account{"EXAMPLE", "admin"}, Password: "conn-pw",
		Dialect: "3.1.1", Seal: true, Timeout: defaultTimeout}
	if h.cfg != want {
		t.Errorf("config %+v\nwant   %+v", h.cfg, want)
	}
	for _, s := range []string{"WKHOST", "NetSetupDomainName", "10.0", "EXAMPLE"} {
		if !strings.Contains(h.stdout.String(), s) {
			t.Errorf("output lacks %q:\n%s", s, h.stdout.String())
		}
	}
	if !h.sess.closed {
		t.Error("session not closed")
	}
	if strings.Contains(h.stdout.String()+h.stderr.String(), "conn-pw") {
		t.Error("password printed")
	}
}

func TestRunJoin(t *testing.T) {
	h := &harness{sess: &fakeSession{}}
	code := h.run(t, "acct-pw\n", "conn-pw", "join", "--server", "wkhost", "--user", "admin@example.test",
		"--domain", "example.test", "--ou", "OU=Linux,DC=example,DC=test", "--account", `EXAMPLE\joiner`,
		"--password-file", "-")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, h.stderr.String())
	}
	if len(h.sess.joins) != 1 {
		t.Fatalf("joins %+v", h.sess.joins)
	}
	j := h.sess.joins[0]
	if j.Method != methodAES || j.Domain != "example.test" || j.OU != "OU=Linux,DC=example,DC=test" ||
		j.Account != `EXAMPLE\joiner` || j.Password == nil || *j.Password != "acct-pw" || j.Options != 0x3 {
		t.Errorf("request %+v", j)
	}
	if !strings.Contains(h.stdout.String(), "NetrJoinDomain3") {
		t.Errorf("output %q", h.stdout.String())
	}

	// RC4 method, explicit options, no account password.
	code = h.run(t, "", "conn-pw", "join", "--server", "wkhost", "--user", "admin", "--domain", "WG",
		"--options", "0", "--method", "2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, h.stderr.String())
	}
	j = h.sess.joins[1]
	if j.Method != methodRC4 || j.Password != nil || j.Options != 0 {
		t.Errorf("request %+v", j)
	}
}

func TestRunUnjoinFailure(t *testing.T) {
	h := &harness{sess: &fakeSession{err: &callError{"NetrUnjoinDomain3", 0xA84}}}
	code := h.run(t, "", "conn-pw", "unjoin", "--server", "wkhost", "--user", "admin", "--options", "ACCT_DELETE")
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	if got := h.stderr.String(); !strings.Contains(got, "NERR_SetupNotJoined (0x00000A84)") {
		t.Errorf("stderr %q", got)
	}
	if u := h.sess.unjoins[0]; u.Options != 0x4 || u.Method != methodAES || u.Password != nil {
		t.Errorf("request %+v", u)
	}
}

func TestRunUsageErrors(t *testing.T) {
	base := []string{"--server", "wkhost", "--user", "admin"}
	tests := []struct {
		name  string
		envPW string
		args  []string
	}{
		{"no command", "pw", nil},
		{"unknown command", "pw", []string{"rename"}},
		{"no server", "pw", []string{"info", "--user", "admin"}},
		{"no user", "pw", []string{"info", "--server", "wkhost"}},
		{"bad user", "pw", []string{"info", "--server", "wkhost", "--user", `\x`}},
		{"no password", "", append([]string{"info"}, base...)},
		{"bad dialect", "pw", append([]string{"info", "--dialect", "3.1"}, base...)},
		{"bad timeout", "pw", append([]string{"info", "--timeout", "0s"}, base...)},
		{"join without domain", "pw", append([]string{"join"}, base...)},
		{"bad method", "pw", append([]string{"join", "--domain", "d", "--method", "1"}, base...)},
		{"bad options", "pw", append([]string{"join", "--domain", "d", "--options", "JOIN"}, base...)},
		{"info has no --account", "pw", append([]string{"info", "--account", "x"}, base...)},
		{"unjoin has no --domain", "pw", append([]string{"unjoin", "--domain", "x"}, base...)},
		{"positional", "pw", append([]string{"info", "extra"}, base...)},
		{"password on argv", "pw", append([]string{"join", "--domain", "d", "--password", "x"}, base...)},
		{"stdin twice", "", append([]string{"join", "--domain", "d", "--password-file", "-", "--user-password-file", "-"}, base...)},
	}
	for _, tc := range tests {
		h := &harness{sess: &fakeSession{}}
		if code := h.run(t, "x\n", tc.envPW, tc.args...); code != 2 {
			t.Errorf("%s: exit %d, stderr %q", tc.name, code, h.stderr.String())
		}
		if h.dialed {
			t.Errorf("%s: dialed despite a usage error", tc.name)
		}
		if !strings.Contains(h.stderr.String(), "usage:") {
			t.Errorf("%s: no usage text", tc.name)
		}
	}
}

func TestRunHelp(t *testing.T) {
	h := &harness{sess: &fakeSession{}}
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		if code := h.run(t, "", "", args...); code != 0 || !strings.Contains(h.stdout.String(), "join ") ||
			!strings.Contains(h.stdout.String(), "Exit status: 0 success; 1 the server returned an error") {
			t.Errorf("%q: %d %q", args, code, h.stdout.String())
		}
	}
	// Each command's help exits 0 with its flags and their defaults.
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"join", "--help"}, []string{"usage: wkst join", "JOIN_DOMAIN,ACCT_CREATE", "--options 0", "--options FLAGS", "(default JOIN_DOMAIN,ACCT_CREATE)", "--timeout duration", "(default 30s)", "--domain DOMAIN", "--password-file FILE"}},
		{[]string{"join", "-h"}, []string{"usage: wkst join"}},
		{[]string{"help", "join"}, []string{"usage: wkst join", "(default JOIN_DOMAIN,ACCT_CREATE)"}},
		{[]string{"unjoin", "--help"}, []string{"usage: wkst unjoin", "(default 0)", "ACCT_DELETE"}},
		{[]string{"info", "--help"}, []string{"usage: wkst info", "--server HOST[:PORT]", "--user USER"}},
		{[]string{"info", "--server", "x", "--help"}, []string{"usage: wkst info"}},
		{[]string{"version", "--help"}, []string{"usage: wkst version"}},
	} {
		code := h.run(t, "", "", tc.args...)
		if code != 0 {
			t.Errorf("%q: exit %d: %s", tc.args, code, h.stderr.String())
		}
		for _, w := range tc.want {
			if !strings.Contains(h.stdout.String(), w) {
				t.Errorf("%q: help lacks %q:\n%s", tc.args, w, h.stdout.String())
			}
		}
		if h.dialed {
			t.Errorf("%q: dialed", tc.args)
		}
	}
	if strings.Contains(h.stdout.String(), "--options") {
		t.Error("info's help lists --options")
	}
}

func TestRunVersion(t *testing.T) {
	h := &harness{sess: &fakeSession{}}
	for _, args := range [][]string{{"--version"}, {"version"}} {
		if code := h.run(t, "", "", args...); code != 0 || !strings.HasPrefix(h.stdout.String(), "wkst ") || !strings.Contains(h.stdout.String(), "go1") {
			t.Errorf("%q: %d %q", args, code, h.stdout.String())
		}
	}
}

// fakePrompt answers prompts from a list and records them.
type fakePrompt struct {
	answers []string
	asked   []string
}

func (p *fakePrompt) prompt(_ context.Context, label string) (string, error) {
	p.asked = append(p.asked, label)
	if len(p.answers) == 0 {
		return "", errInterrupted
	}
	a := p.answers[0]
	p.answers = p.answers[1:]
	return a, nil
}

// On a terminal the passwords are asked for: the connecting user's when
// no file or $WKST_PASSWORD gives it, the account's for --password-file -
// or --account without --password-file.
func TestRunPrompts(t *testing.T) {
	h := &harness{sess: &fakeSession{}}
	p := &fakePrompt{answers: []string{"conn-pw", "acct-pw"}}
	h.prompt = p.prompt
	code := h.run(t, "", "", "join", "--server", "wkhost", "--user", `WKHOST\admin`, "--domain", "example.test",
		"--account", `EXAMPLE\joiner`, "--password-file", "-")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, h.stderr.String())
	}
	if h.cfg.Password != "conn-pw" || *h.sess.joins[0].Password != "acct-pw" {
		t.Errorf("passwords %q %q", h.cfg.Password, *h.sess.joins[0].Password)
	}
	if len(p.asked) != 2 || p.asked[0] != `Password for WKHOST\admin: ` || p.asked[1] != `Password for EXAMPLE\joiner (--account): ` {
		t.Errorf("prompts %q", p.asked)
	}

	p = &fakePrompt{answers: []string{"acct-pw"}}
	h.prompt = p.prompt
	if code := h.run(t, "", "conn-env", "unjoin", "--server", "wkhost", "--user", "admin", "--account", "EXAMPLE\\joiner"); code != 0 {
		t.Fatalf("exit %d: %s", code, h.stderr.String())
	}
	if u := h.sess.unjoins[0]; u.Password == nil || *u.Password != "acct-pw" || len(p.asked) != 1 {
		t.Errorf("--account without --password-file on a terminal: %+v, asked %q", u, p.asked)
	}

	// Ctrl-C at a prompt: exit 130, nothing dialed.
	h = &harness{sess: &fakeSession{}}
	h.prompt = (&fakePrompt{}).prompt
	if code := h.run(t, "", "", "info", "--server", "wkhost", "--user", "admin"); code != 130 || h.dialed {
		t.Errorf("interrupted prompt: exit %d dialed %v", code, h.dialed)
	}
}

// Exit status 3 when the server cannot be reached or refuses the logon.
func TestRunTransportFailure(t *testing.T) {
	h := &harness{sess: &fakeSession{}, dialErr: errors.New("connecting to wkhost: connection refused")}
	if code := h.run(t, "", "pw", "info", "--server", "wkhost", "--user", "admin"); code != 3 {
		t.Errorf("exit %d", code)
	}
}

func TestSMBDialect(t *testing.T) {
	for _, s := range []string{"", "2.0.2", "2.1", "3.0", "3.0.2", "3.1.1"} {
		if _, err := smbDialect(s); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
	for _, s := range []string{"3", "1.0", "SMB311"} {
		if _, err := smbDialect(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

// A refusal at the first step of the logon (the throttle) and a wrong
// password are told apart and explained; other errors pass unchanged.
func TestExplainConnectError(t *testing.T) {
	cfg := connConfig{Host: "wkhost", User: account{"WKHOST", "admin"}}
	throttled := fmt.Errorf("binding: %w", &smb2fork.InvalidResponseError{Message: "expected status: {Still Busy} ..., got The attempted logon is invalid. This is either due to a bad username or authentication information."})
	err := explainConnectError(cfg, throttled)
	if !strings.Contains(err.Error(), "refused to start a logon") || strings.Contains(err.Error(), "Still Busy") || exitCode(err) != 3 {
		t.Errorf("throttled: %v", err)
	}
	wrong := fmt.Errorf("binding: %w", &smb2fork.ResponseError{Code: statusLogonFailure})
	err = explainConnectError(cfg, wrong)
	if err.Error() != `logon to wkhost as WKHOST\admin failed (STATUS_LOGON_FAILURE): unknown user name or wrong password` || exitCode(err) != 3 {
		t.Errorf("wrong password: %v", err)
	}
	other := errors.New("connection refused")
	if explainConnectError(cfg, other) != other {
		t.Error("other errors must pass unchanged")
	}
}
