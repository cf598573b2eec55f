package smb2

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/oiweiwei/go-msrpc/smb2"
	"github.com/oiweiwei/go-msrpc/ssp/credential"
	"github.com/oiweiwei/go-msrpc/ssp/gssapi"
	msntlm "github.com/oiweiwei/go-msrpc/ssp/ntlm"
	"github.com/oiweiwei/go-msrpc/ssp/spnego"
)

func goMSRPCPipe(ts *testServer, name, user, password string, opts ...smb2.DialerOption) *smb2.NamedPipe {
	sec := smb2.WithSecurity(
		gssapi.WithMechanismFactory(spnego.Mechanism{}),
		gssapi.WithMechanismFactory(msntlm.Mechanism{}, msntlm.NewConfig()),
		gssapi.WithCredential(credential.NewFromPassword(user, password, credential.Domain(testDomain))),
	)
	return &smb2.NamedPipe{
		Address:   "127.0.0.1",
		Port:      ts.addr.Port,
		Dialer:    smb2.NewDialer(append([]smb2.DialerOption{sec}, opts...)...),
		ShareName: "IPC$",
		Name:      name,
	}
}

var goMSRPCDialects = []smb2.Dialect{smb2.SMB202, smb2.SMB210, smb2.SMB300, smb2.SMB302, smb2.SMB311}

func TestGoMSRPCDialects(t *testing.T) {
	for _, d := range goMSRPCDialects {
		for _, mode := range []string{"plain", "sign", "seal"} {
			if mode == "seal" && d < smb2.SMB300 {
				continue
			}
			t.Run(fmt.Sprintf("%04x-%s", uint16(d), mode), func(t *testing.T) {
				ts := startServer(t, func(c *Config) {
					if mode == "plain" {
						c.SigningOptional = true
					}
				})
				opts := []smb2.DialerOption{smb2.WithDialect(d)}
				if mode == "sign" {
					opts = append(opts, smb2.WithSign())
				}
				if mode == "seal" {
					opts = append(opts, smb2.WithSeal())
				}
				p := goMSRPCPipe(ts, "slow", testUser, testPassword, opts...)
				ctx := context.Background()
				if err := p.Connect(ctx); err != nil {
					t.Fatalf("connect: %v", err)
				}
				defer p.Close()
				if got := p.Session.NegotiatedDialect(); got != uint16(d) {
					t.Fatalf("dialect %04x, want %04x", got, uint16(d))
				}
				defer func() {
					if mode == "seal" && (ts.tap.clientTransforms.Load() == 0 || ts.tap.serverTransforms.Load() == 0) {
						t.Errorf("no encrypted traffic (client %d, server %d)", ts.tap.clientTransforms.Load(), ts.tap.serverTransforms.Load())
					}
				}()
				// WRITE then READ (the READ may pend).
				for i := 0; i < 3; i++ {
					msg := []byte(fmt.Sprintf("hello %d", i))
					if _, err := p.Write(msg); err != nil {
						t.Fatalf("write: %v", err)
					}
					buf := make([]byte, 4096)
					n, err := p.Read(buf)
					if err != nil {
						t.Fatalf("read: %v", err)
					}
					if want := "echo:" + string(msg); string(buf[:n]) != want {
						t.Fatalf("read %q, want %q", buf[:n], want)
					}
				}
				// TRANSCEIVE.
				out := make([]byte, 4096)
				n, err := p.Transcieve([]byte("ping"), out)
				if err != nil {
					t.Fatalf("transceive: %v", err)
				}
				if string(out[:n]) != "echo:ping" {
					t.Fatalf("transceive %q", out[:n])
				}
				info := ts.pipes.lastOpen()
				if info.Pipe != "slow" || info.Identity.User != testUser || info.Dialect != uint16(d) {
					t.Fatalf("open info %+v", info)
				}
				var want []byte
				if d >= smb2.SMB300 {
					want = p.ApplicationKey()
				} else {
					want = p.SessionKey()
					if len(want) > 16 {
						want = want[:16]
					}
				}
				if len(info.SessionKey) != 16 || !bytes.Equal(info.SessionKey, want) {
					t.Fatalf("session key %x, client has %x", info.SessionKey, want)
				}
			})
		}
	}
}

func TestGoMSRPCDefaultNegotiation(t *testing.T) {
	ts := startServer(t, nil)
	p := goMSRPCPipe(ts, `PIPE\Echo`, testUser, testPassword)
	if err := p.Connect(context.Background()); err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer p.Close()
	if got := p.Session.NegotiatedDialect(); got != 0x0311 {
		t.Fatalf("dialect %04x", got)
	}
	if _, err := p.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	n, err := p.Read(buf)
	if err != nil || string(buf[:n]) != "echo:x" {
		t.Fatalf("read %q %v", buf[:n], err)
	}
}

func TestGoMSRPCErrors(t *testing.T) {
	ts := startServer(t, nil)
	ctx := context.Background()

	p := goMSRPCPipe(ts, "echo", testUser, "wrong")
	err := p.Connect(ctx)
	// go-smb2 renders STATUS_LOGON_FAILURE (0xC000006D) by its message.
	if err == nil || !strings.Contains(err.Error(), "attempted logon is invalid") {
		t.Fatalf("wrong password: %v", err)
	}

	p = goMSRPCPipe(ts, "nosuchpipe", testUser, testPassword)
	err = p.Connect(ctx)
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("unknown pipe: %v", err)
	}
	p.Close()

	p = goMSRPCPipe(ts, "echo", testUser, testPassword)
	p.ShareName = "C$"
	err = p.Connect(ctx)
	if err == nil || !strings.Contains(err.Error(), "Network Name Not Found") {
		t.Fatalf("other share: %v", err)
	}
	p.Close()
}
