package ntlm

import (
	"github.com/wkssvcd/wkssvcd/server/spnego"

	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"github.com/wkssvcd/wkssvcd/internal/testenv"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/wkssvcd/wkssvcd/server/ipc"
)

const impacketPython = "/usr/bin/python3"

func requireImpacket(t *testing.T) {
	t.Helper()
	testenv.Impacket(t, "impacket.ntlm")
}

type impacketResult struct {
	serverErr error
	ex        ipc.AuthExchange
	clientKey []byte
	negotiate []byte
	challenge []byte
	authMsg   []byte
}

// runImpacket drives one exchange against a: raw NTLMSSP, or with wrap
// SPNEGO as impacket's SMB3 session setup encodes it.
func runImpacket(t *testing.T, a *spnego.Acceptor, user, pass, domain string, signing, v2, wrap bool) impacketResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b := func(x bool) string {
		if x {
			return "1"
		}
		return "0"
	}
	cmd := exec.CommandContext(ctx, impacketPython, "testdata/impacket_client.py", user, pass, domain, b(signing), b(v2), b(wrap))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Logf("impacket client: %v: %s", err, stderr.String())
		}
	}()
	r := bufio.NewReader(stdout)
	readHex := func() []byte {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("impacket client: %v: %s", err, stderr.String())
		}
		v, err := hex.DecodeString(strings.TrimSpace(line))
		if err != nil {
			t.Fatalf("impacket output: %v", err)
		}
		return v
	}
	res := impacketResult{ex: a.NewExchange()}
	res.negotiate = readHex()
	out, done, err := res.ex.Step(res.negotiate)
	if err != nil || done {
		t.Fatalf("NEGOTIATE leg: done=%v err=%v", done, err)
	}
	if _, err := stdin.Write([]byte(hex.EncodeToString(out) + "\n")); err != nil {
		t.Fatal(err)
	}
	res.authMsg = readHex()
	res.clientKey = readHex()
	out, done, err = res.ex.Step(res.authMsg)
	res.serverErr = err
	if err == nil {
		if !done {
			t.Fatal("AUTHENTICATE leg not done")
		}
		if wrap {
			resp, perr := spnego.ParseNegTokenResp(out)
			if perr != nil || resp.NegState != spnego.StateAcceptCompleted {
				t.Fatalf("final token %x: %v", out, perr)
			}
			if resp.MechListMIC != nil {
				t.Fatal("mechListMIC sent to a client that sent neither MIC nor mechListMIC")
			}
		} else if len(out) != 0 {
			t.Fatalf("raw NTLM final token should be empty, got %x", out)
		}
	}
	return res
}

func TestImpacketInterop(t *testing.T) {
	requireImpacket(t)
	for _, tc := range []struct {
		name          string
		signing, wrap bool
	}{
		{"raw-nosign", false, false},
		{"raw-keyexch", true, false},
		{"spnego-keyexch", true, true},
		{"spnego-nosign", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := testAuthenticator(Config{})
			res := runImpacket(t, a, "ALICE", "Secret123!", "example", tc.signing, true, tc.wrap)
			if res.serverErr != nil {
				t.Fatalf("server: %v", res.serverErr)
			}
			if !bytes.Equal(res.ex.SessionKey(), res.clientKey) || len(res.clientKey) != 16 {
				t.Fatalf("session key server %x client %x", res.ex.SessionKey(), res.clientKey)
			}
			if id := res.ex.Identity(); id.User != "alice" || id.Domain != "example" || !id.Admin {
				t.Fatalf("identity %+v", id)
			}
		})
	}
}

func TestImpacketWrongPassword(t *testing.T) {
	requireImpacket(t)
	res := runImpacket(t, testAuthenticator(Config{}), "alice", "nope", "example", true, true, true)
	if !errors.Is(res.serverErr, ipc.ErrLogonFailure) {
		t.Fatalf("err = %v", res.serverErr)
	}
}

func TestImpacketNTLMv1Rejected(t *testing.T) {
	requireImpacket(t)
	res := runImpacket(t, testAuthenticator(Config{}), "alice", "Secret123!", "example", true, false, false)
	if !errors.Is(res.serverErr, ipc.ErrLogonFailure) || !errors.Is(res.serverErr, errNTLMv1) {
		t.Fatalf("err = %v, want NTLMv1 refusal", res.serverErr)
	}
}

func TestImpacketAnonymous(t *testing.T) {
	requireImpacket(t)
	res := runImpacket(t, testAuthenticator(Config{}), "", "", "", false, true, true)
	if !errors.Is(res.serverErr, ipc.ErrLogonFailure) {
		t.Fatalf("anonymous with AllowAnonymous=false: err = %v", res.serverErr)
	}
	res = runImpacket(t, testAuthenticator(Config{AllowAnonymous: true}), "", "", "", false, true, true)
	if res.serverErr != nil {
		t.Fatalf("anonymous allowed: %v", res.serverErr)
	}
	if id := res.ex.Identity(); !id.Anonymous || id.User != "" || res.ex.SessionKey() != nil {
		t.Fatalf("identity %+v key %x", id, res.ex.SessionKey())
	}
}
