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

// dialMSRPC connects with NTLM as user at the given dialect (0 = the
// client's choice), optionally asking for SMB3 encryption.
func dialMSRPC(t *testing.T, host, user, pass string, dialect smb2.Dialect, seal bool) (*msrpcClient, error) {
	t.Helper()
	return dialPipe(t, host, "wkssvc", user, pass, dialect, seal)
}

// dialPipe opens \PIPE\pipe over ncacn_np and binds wkssvc on it.
func dialPipe(t *testing.T, host, pipe, user, pass string, dialect smb2.Dialect, seal bool) (*msrpcClient, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	sec := []gssapi.ContextOption{
		gssapi.WithCredential(credential.NewFromPassword(user, pass)),
		gssapi.WithMechanismFactory(ssp.SPNEGO),
		gssapi.WithMechanismFactory(ssp.NTLM),
	}
	ctx = gssapi.NewSecurityContext(ctx, sec...)
	dopts := []smb2.DialerOption{smb2.WithSign(), smb2.WithSecurity(sec...)}
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
	cli, err := wkssvc.NewWkssvcClient(ctx, conn, dcerpc.WithInsecure())
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
