package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/oiweiwei/go-msrpc/dcerpc"
	"github.com/oiweiwei/go-msrpc/msrpc/wkst/wkssvc/v1"
	"github.com/oiweiwei/go-msrpc/smb2"
	"github.com/oiweiwei/go-msrpc/ssp"
	"github.com/oiweiwei/go-msrpc/ssp/credential"
	"github.com/oiweiwei/go-msrpc/ssp/gssapi"

	_ "github.com/oiweiwei/go-msrpc/msrpc/erref/ntstatus"
	_ "github.com/oiweiwei/go-msrpc/msrpc/erref/win32"
)

// msrpcClient is a go-msrpc wkssvc client over ncacn_np.
type msrpcClient struct {
	ctx  context.Context
	conn dcerpc.Conn
	cli  wkssvc.WkssvcClient
}

// syntax is the transfer syntax a client binds with (MS-RPCE 2.2.5).
type syntax bool

const (
	ndr20 syntax = false
	ndr64 syntax = true
)

func (s syntax) String() string {
	if s {
		return "NDR64"
	}
	return "NDR"
}

// bindOptions are go-msrpc's options for binding with s alone.
func (s syntax) bindOptions() []dcerpc.Option {
	if s {
		return []dcerpc.Option{dcerpc.WithNDR64()}
	}
	return nil
}

// eachSyntax runs f as a subtest at NDR and at NDR64.
func eachSyntax(t *testing.T, f func(t *testing.T, s syntax)) {
	for _, s := range []syntax{ndr20, ndr64} {
		t.Run(s.String(), func(t *testing.T) { f(t, s) })
	}
}

// dialMSRPC connects with NTLM as user at the given dialect (0 = the
// client's choice), optionally asking for SMB3 encryption, and binds
// wkssvc with NDR (or with the syntax given).
func dialMSRPC(t *testing.T, host, user, pass string, dialect smb2.Dialect, seal bool, s ...syntax) (*msrpcClient, error) {
	t.Helper()
	return dialPipe(t, host, "wkssvc", user, pass, dialect, seal, s...)
}

// dialPipe opens \PIPE\pipe over ncacn_np and binds wkssvc on it.
func dialPipe(t *testing.T, host, pipe, user, pass string, dialect smb2.Dialect, seal bool, s ...syntax) (*msrpcClient, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	cred := gssapi.WithCredential(credential.NewFromPassword(user, pass))
	if user == "" {
		cred = gssapi.WithCredential(credential.Anonymous())
	}
	sec := []gssapi.ContextOption{cred, gssapi.WithMechanismFactory(ssp.SPNEGO), gssapi.WithMechanismFactory(ssp.NTLM)}
	ctx = gssapi.NewSecurityContext(ctx, sec...)
	dopts := []smb2.DialerOption{smb2.WithSecurity(sec...)}
	if user != "" {
		// A null session has no key to sign with.
		dopts = append(dopts, smb2.WithSign())
	}
	if dialect != 0 {
		dopts = append(dopts, smb2.WithDialect(dialect))
	}
	if seal {
		dopts = append(dopts, smb2.WithSeal())
	}
	conn, err := dcerpc.Dial(ctx, "ncacn_np:"+host+"["+pipe+"]", dcerpc.WithSMBDialer(smb2.NewDialer(dopts...)))
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	opts := []dcerpc.Option{dcerpc.WithInsecure()}
	if len(s) > 0 {
		opts = append(opts, s[0].bindOptions()...)
	}
	cli, err := wkssvc.NewWkssvcClient(ctx, conn, opts...)
	if err != nil {
		return nil, err
	}
	return &msrpcClient{ctx: ctx, conn: conn, cli: cli}, nil
}

// sessionKey is the key go-msrpc would encrypt JOINPR blobs with.
func (c *msrpcClient) sessionKey() []byte {
	v, ok := gssapi.GetAttribute(c.cli.Conn().Context(), gssapi.AttributeSMBEffectiveSessionKey)
	if !ok {
		return nil
	}
	b, _ := v.([]byte)
	return b
}
