package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/oiweiwei/go-msrpc/dcerpc"
	"github.com/oiweiwei/go-msrpc/msrpc/wkst/wkssvc/v1"
	"github.com/oiweiwei/go-msrpc/smb2"
	"github.com/oiweiwei/go-msrpc/ssp"
	"github.com/oiweiwei/go-msrpc/ssp/credential"
	"github.com/oiweiwei/go-msrpc/ssp/gssapi"

	_ "github.com/oiweiwei/go-msrpc/msrpc/erref/ntstatus" // readable NTSTATUS errors
	_ "github.com/oiweiwei/go-msrpc/msrpc/erref/win32"    // readable Win32 errors
)

// Target is one server under load.
type Target struct {
	// Name labels the server in reports, e.g. "wkssvcd" or "smbd".
	Name string
	// Host is the server's IP address. Required.
	Host string
	// Port is the SMB TCP port. Default 445.
	Port int
	// User and Password are the NTLM credentials. A user may be written
	// DOMAIN\user. Required.
	User, Password string
	// Dialect is the SMB dialect to negotiate. Default 0x0311 (SMB 3.1.1).
	Dialect uint16
	// Seal makes go-msrpc encrypt every message (SMB3 encryption) instead
	// of only signing it. The lean generator takes LeanOptions.Seal.
	Seal bool
	// Floor, when set, makes the target a floor server (ServeFloor) that
	// answers with these lengths; only the lean generator calls it.
	Floor *FloorShape
}

func (t Target) port() int {
	if t.Port == 0 {
		return 445
	}
	return t.Port
}

func (t Target) dialect() uint16 {
	if t.Dialect == 0 {
		return 0x0311
	}
	return t.Dialect
}

// Addr is host:port of the target.
func (t Target) Addr() string { return net.JoinHostPort(t.Host, strconv.Itoa(t.port())) }

// Client is one established connection: SMB negotiate, session setup
// (NTLM in SPNEGO, signed), tree connect to IPC$, create of \PIPE\wkssvc
// and the DCE/RPC bind. It is used by one goroutine at a time.
type Client struct {
	conn dcerpc.Conn
	cli  wkssvc.WkssvcClient
}

// Dial establishes a connection to t. ctx bounds the establishment and
// also scopes the session: once ctx ends, calls on the client fail, so
// pass a context that lives as long as the client is used.
func Dial(ctx context.Context, t Target) (*Client, error) {
	if t.Host == "" || t.User == "" {
		return nil, errors.New("bench: target needs Host and User")
	}
	sec := []gssapi.ContextOption{
		gssapi.WithCredential(credential.NewFromPassword(t.User, t.Password)),
		gssapi.WithMechanismFactory(ssp.SPNEGO),
		gssapi.WithMechanismFactory(ssp.NTLM),
	}
	ctx = gssapi.NewSecurityContext(ctx, sec...)
	opts := []smb2.DialerOption{smb2.WithSign(), smb2.WithDialect(smb2.Dialect(t.dialect())), smb2.WithSecurity(sec...)}
	if t.Seal {
		opts = append(opts, smb2.WithSeal())
	}
	dialer := smb2.NewDialer(opts...)
	conn, err := dcerpc.Dial(ctx, "ncacn_np:"+t.Host+"[wkssvc]",
		dcerpc.WithSMBDialer(dialer), dcerpc.WithSMBPort(t.port()))
	if err != nil {
		return nil, fmt.Errorf("%s: dial: %w", t.Name, err)
	}
	cli, err := wkssvc.NewWkssvcClient(ctx, conn, dcerpc.WithInsecure())
	if err != nil {
		conn.Close(context.Background())
		return nil, fmt.Errorf("%s: bind: %w", t.Name, err)
	}
	return &Client{conn: conn, cli: cli}, nil
}

// GetInfo calls NetrWkstaGetInfo at level 100 (MS-WKST 3.2.4.1) and
// fails unless the server returns NERR_Success with level-100 data.
func (c *Client) GetInfo(ctx context.Context) error {
	resp, err := c.cli.GetInfo(ctx, &wkssvc.GetInfoRequest{Level: 100})
	if err != nil {
		return fmt.Errorf("NetrWkstaGetInfo: %w", err)
	}
	if resp.Return != 0 {
		return fmt.Errorf("NetrWkstaGetInfo: status %#x", resp.Return)
	}
	if resp.WorkstationInfo == nil || resp.WorkstationInfo.GetValue() == nil {
		return errors.New("NetrWkstaGetInfo: no level-100 data")
	}
	return nil
}

// GetJoinInformation calls NetrGetJoinInformation (MS-WKST 3.2.4.16) and
// fails unless the server returns NERR_Success.
func (c *Client) GetJoinInformation(ctx context.Context) error {
	resp, err := c.cli.GetJoinInformation(ctx, &wkssvc.GetJoinInformationRequest{})
	if err != nil {
		return fmt.Errorf("NetrGetJoinInformation: %w", err)
	}
	if resp.Return != 0 {
		return fmt.Errorf("NetrGetJoinInformation: status %#x", resp.Return)
	}
	return nil
}

// rpcCallInProgress is RPC_S_CALL_IN_PROGRESS: the server is already
// changing its membership for another caller (joins run one at a time).
const rpcCallInProgress = 0x6ff

// JoinWorkgroup calls NetrJoinDomain3 to join the workgroup name (no
// password, no options). A refusal because another join or unjoin is
// running (RPC_S_CALL_IN_PROGRESS) is the server keeping one join
// effective at a time, not a failure: joined is then false.
func (c *Client) JoinWorkgroup(ctx context.Context, name string) (joined bool, err error) {
	resp, err := c.cli.JoinDomain3(ctx, &wkssvc.JoinDomain3Request{DomainNameParam: name})
	if err != nil {
		if strings.Contains(err.Error(), fmt.Sprintf("0x%08x", rpcCallInProgress)) {
			return false, nil
		}
		return false, fmt.Errorf("NetrJoinDomain3: %w", err)
	}
	if resp.Return != 0 {
		return false, fmt.Errorf("NetrJoinDomain3: status %#x", resp.Return)
	}
	return true, nil
}

// Close logs off and closes the TCP connection.
func (c *Client) Close(ctx context.Context) error {
	return c.conn.Close(ctx)
}

// Op is one operation a load worker repeats on its connection.
type Op struct {
	// Name labels the operation in reports.
	Name string
	// Weight is its share of a mix, relative to the other operations'
	// weights. Zero counts as 1.
	Weight int
	// Do performs the operation once.
	Do func(ctx context.Context, c *Client) error
}

// GetInfoOp is NetrWkstaGetInfo level 100.
func GetInfoOp() Op {
	return Op{Name: "NetrWkstaGetInfo", Do: func(ctx context.Context, c *Client) error { return c.GetInfo(ctx) }}
}

// WorkgroupJoinOp is NetrJoinDomain3 joining one of two workgroups in
// turn; joined and refused (RPC_S_CALL_IN_PROGRESS), when not nil, count
// the outcomes.
func WorkgroupJoinOp(joined, refused *atomic.Int64) Op {
	var n atomic.Int64
	return Op{Name: "NetrJoinDomain3 (workgroup)", Do: func(ctx context.Context, c *Client) error {
		name := "SOAKWG" + strconv.Itoa(int(n.Add(1)%2))
		ok, err := c.JoinWorkgroup(ctx, name)
		switch {
		case err != nil:
			return err
		case ok && joined != nil:
			joined.Add(1)
		case !ok && refused != nil:
			refused.Add(1)
		}
		return nil
	}}
}

// GetJoinInformationOp is NetrGetJoinInformation.
func GetJoinInformationOp() Op {
	return Op{Name: "NetrGetJoinInformation", Do: func(ctx context.Context, c *Client) error { return c.GetJoinInformation(ctx) }}
}
