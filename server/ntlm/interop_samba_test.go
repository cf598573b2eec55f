package ntlm

import (
	"github.com/wkssvcd/wkssvcd/server/spnego"

	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"github.com/wkssvcd/wkssvcd/internal/testenv"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wkssvcd/wkssvcd/server/ipc"
)

const ntlmAuthPath = "/usr/bin/ntlm_auth"

// sambaClient is Samba's gensec NTLMSSP/SPNEGO initiator behind ntlm_auth's
// stdio helper protocol ("YR", "TT <b64>" in; "YR|KK|AF|BH ..." out).
type sambaClient struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *bufio.Reader
	stderr bytes.Buffer
	cancel context.CancelFunc
}

func newSambaClient(t *testing.T, protocol, user, pass, domain string) *sambaClient {
	t.Helper()
	testenv.Tool(t, ntlmAuthPath, "winbind")
	if out, err := exec.Command(ntlmAuthPath, "--version").CombinedOutput(); err != nil {
		t.Fatalf("%s --version: %v\n%s", ntlmAuthPath, err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	c := &sambaClient{cancel: cancel}
	dir := t.TempDir()
	conf := filepath.Join(dir, "smb.conf")
	if err := os.WriteFile(conf, []byte("[global]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.cmd = exec.CommandContext(ctx, ntlmAuthPath, "--helper-protocol="+protocol,
		"--username="+user, "--password="+pass, "--domain="+domain, "--configfile="+conf)
	c.cmd.Dir = dir
	c.cmd.Stderr = &c.stderr
	var err error
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c.out = bufio.NewReader(stdout)
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.stdin.Close()
		_ = c.cmd.Wait()
		cancel()
	})
	return c
}

// request sends one helper line and returns the reply's code and token.
func (c *sambaClient) request(t *testing.T, line string) (string, []byte) {
	t.Helper()
	if _, err := io.WriteString(c.stdin, line+"\n"); err != nil {
		t.Fatalf("ntlm_auth: %v: %s", err, c.stderr.String())
	}
	reply, err := c.out.ReadString('\n')
	if err != nil {
		t.Fatalf("ntlm_auth: %v: %s", err, c.stderr.String())
	}
	code, rest, _ := strings.Cut(strings.TrimSpace(reply), " ")
	if rest == "" || rest == "*" {
		return code, nil
	}
	tok, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return code, []byte(rest)
	}
	return code, tok
}

// runSamba drives one exchange between a and ntlm_auth.
func runSamba(t *testing.T, a *spnego.Acceptor, protocol, user, pass, domain string) (ipc.AuthExchange, *sambaClient, error) {
	t.Helper()
	c := newSambaClient(t, protocol, user, pass, domain)
	code, tok := c.request(t, "YR")
	if code != "YR" {
		t.Fatalf("ntlm_auth YR -> %s %q: %s", code, tok, c.stderr.String())
	}
	ex := a.NewExchange()
	for i := 0; i < 4; i++ {
		out, done, err := ex.Step(tok)
		if err != nil {
			return ex, c, err
		}
		if done && len(out) == 0 {
			return ex, c, nil
		}
		code, tok = c.request(t, "TT "+base64.StdEncoding.EncodeToString(out))
		if done {
			// The client has checked our final token (mechListMIC).
			if code != "AF" {
				t.Fatalf("Samba rejected the final token: %s %q: %s", code, tok, c.stderr.String())
			}
			return ex, c, nil
		}
		if code != "KK" && !(code == "AF" && tok != nil && isNTLMSSP(tok)) {
			t.Fatalf("ntlm_auth -> %s %q: %s", code, tok, c.stderr.String())
		}
	}
	t.Fatal("exchange did not finish")
	return nil, nil, nil
}

func TestSambaInterop(t *testing.T) {
	for _, protocol := range []string{"gss-spnego-client", "ntlmssp-client-1"} {
		t.Run(protocol, func(t *testing.T) {
			ex, c, err := runSamba(t, testAuthenticator(Config{}), protocol, "alice", "Secret123!", "EXAMPLE")
			if err != nil {
				t.Fatalf("server: %v (%s)", err, c.stderr.String())
			}
			if id := ex.Identity(); id.User != "alice" || id.Domain != "EXAMPLE" || !id.Admin {
				t.Fatalf("identity %+v", id)
			}
			// ntlm_auth does not ask for signing, so Samba sends no
			// MsvAvFlags MIC; its KEY_EXCH without SIGN still yields an
			// exchanged key, checked with GK.
			if protocol == "ntlmssp-client-1" {
				code, key := c.request(t, "GK")
				if code != "GK" || !bytes.Equal(key, ex.SessionKey()) {
					t.Fatalf("session key: client %s %x, server %x", code, key, ex.SessionKey())
				}
			}
		})
	}
}

func TestSambaWrongPassword(t *testing.T) {
	_, _, err := runSamba(t, testAuthenticator(Config{}), "gss-spnego-client", "alice", "wrong", "EXAMPLE")
	if !errors.Is(err, ipc.ErrLogonFailure) {
		t.Fatalf("err = %v", err)
	}
}
