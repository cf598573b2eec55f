package wkssvc

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	msrpc "github.com/oiweiwei/go-msrpc/dcerpc"
	wkst "github.com/oiweiwei/go-msrpc/msrpc/wkst/wkssvc/v1"
	"github.com/oiweiwei/go-msrpc/ndr"

	"github.com/wkssvcd/wkssvcd/joinlogic"
	"github.com/wkssvcd/wkssvcd/server/dcerpc"
	"github.com/wkssvcd/wkssvcd/server/ipc"
)

var (
	userIdentity  = ipc.Identity{User: "alice", Domain: "EXAMPLE"}
	adminIdentity = ipc.Identity{User: "administrator", Domain: "EXAMPLE", Admin: true}
	anonIdentity  = ipc.Identity{Anonymous: true}
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func testConfig() Config {
	return Config{
		Names:                    ipc.StaticNames{NetBIOS: "WKHOST", DNS: "wkhost.example.test"},
		Join:                     StaticMembership{Name: "EXAMPLE", Status: joinlogic.NetSetupDomainName},
		AllowAnyProtocolSequence: true,
		Logger:                   quietLogger(),
	}
}

// serveTCP runs the runtime with wkssvc on a loopback listener, serving
// every connection with the given identity, and returns the
// ncacn_ip_tcp string binding.
func serveTCP(t *testing.T, cfg Config, id ipc.Identity) string {
	t.Helper()
	srv := dcerpc.NewServer(dcerpc.Config{Logger: quietLogger()})
	srv.Register(PipeName, Interfaces(New(cfg))...)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = srv.ServeConn(ctx, c, ipc.OpenInfo{Pipe: PipeName, Identity: id})
			}()
		}
	}()
	t.Cleanup(func() {
		cancel()
		ln.Close()
		wg.Wait()
	})
	return fmt.Sprintf("ncacn_ip_tcp:127.0.0.1[%d]", ln.Addr().(*net.TCPAddr).Port)
}

// syntaxes are the transfer syntaxes every client test runs at.
var syntaxes = []struct {
	name  string
	ndr64 bool
}{{"NDR", false}, {"NDR64", true}}

// eachSyntax runs f once with a client that binds with NDR and once with
// one that binds with NDR64 only.
func eachSyntax(t *testing.T, f func(t *testing.T, ndr64 bool)) {
	for _, s := range syntaxes {
		t.Run(s.name, func(t *testing.T) { f(t, s.ndr64) })
	}
}

func dialClient(t *testing.T, binding string, ndr64 bool) (wkst.WkssvcClient, context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	cc, err := msrpc.Dial(ctx, binding, msrpc.WithInsecure())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { cc.Close(context.Background()) })
	opts := []msrpc.Option{msrpc.WithInsecure()}
	if ndr64 {
		opts = append(opts, msrpc.WithNDR64())
	}
	cli, err := wkst.NewWkssvcClient(ctx, cc, opts...)
	if err != nil {
		t.Fatalf("bind: %v", err)
	}
	return cli, ctx
}

// wantCode checks that a go-msrpc call failed with the Win32 code the
// method returned (the client turns a non-zero return into an error).
func wantCode(t *testing.T, what string, err error, code uint32) {
	t.Helper()
	if err == nil {
		t.Errorf("%s succeeded, want 0x%08x", what, code)
		return
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("0x%08x", code)) {
		t.Errorf("%s: %v, want 0x%08x", what, err, code)
	}
}

func TestGoMSRPCClientGetInfo(t *testing.T) {
	eachSyntax(t, func(t *testing.T, ndr64 bool) {
		cli, ctx := dialClient(t, serveTCP(t, testConfig(), userIdentity), ndr64)

		r100, err := cli.GetInfo(ctx, &wkst.GetInfoRequest{Level: 100})
		if err != nil {
			t.Fatalf("level 100: %v", err)
		}
		if r100.Return != 0 {
			t.Fatalf("level 100 returned 0x%x", r100.Return)
		}
		i100 := r100.WorkstationInfo.GetValue().(*wkst.WorkstationInfo100)
		if i100.PlatformID != 500 || i100.ComputerName != "WKHOST" || i100.LANGroup != "EXAMPLE" ||
			i100.VerMajor != 10 || i100.VerMinor != 0 {
			t.Errorf("level 100 = %+v", i100)
		}

		r101, err := cli.GetInfo(ctx, &wkst.GetInfoRequest{Level: 101})
		if err != nil || r101.Return != 0 {
			t.Fatalf("level 101: %v %+v", err, r101)
		}
		i101 := r101.WorkstationInfo.GetValue().(*wkst.WorkstationInfo101)
		if i101.ComputerName != "WKHOST" || i101.LANGroup != "EXAMPLE" || i101.LANRoot != "" {
			t.Errorf("level 101 = %+v", i101)
		}

		// Levels 102 and 502 are for administrators only.
		_, err = cli.GetInfo(ctx, &wkst.GetInfoRequest{Level: 102})
		wantCode(t, "level 102 as user", err, errAccessDenied)
		_, err = cli.GetInfo(ctx, &wkst.GetInfoRequest{Level: 502})
		wantCode(t, "level 502 as user", err, errAccessDenied)

		_, err = cli.GetInfo(ctx, &wkst.GetInfoRequest{Level: 7})
		wantCode(t, "level 7", err, errInvalidLevel)

		rj, err := cli.GetJoinInformation(ctx, &wkst.GetJoinInformationRequest{})
		if err != nil || rj.Return != 0 {
			t.Fatalf("GetJoinInformation: %v %+v", err, rj)
		}
		if rj.NameBuffer != "EXAMPLE" || rj.BufferType != wkst.NetSetupJoinStatusDomainName {
			t.Errorf("GetJoinInformation = %q %v", rj.NameBuffer, rj.BufferType)
		}

		// A join method answers ERROR_NOT_SUPPORTED until a JoinHandler is set.
		_, err = cli.JoinDomain2(ctx, &wkst.JoinDomain2Request{DomainNameParam: "example.test"})
		wantCode(t, "JoinDomain2", err, errNotSupported)
	})
}

func TestGoMSRPCClientAdmin(t *testing.T) {
	eachSyntax(t, func(t *testing.T, ndr64 bool) {
		cli, ctx := dialClient(t, serveTCP(t, testConfig(), adminIdentity), ndr64)
		r102, err := cli.GetInfo(ctx, &wkst.GetInfoRequest{Level: 102})
		if err != nil || r102.Return != 0 {
			t.Fatalf("level 102: %v %+v", err, r102)
		}
		i102 := r102.WorkstationInfo.GetValue().(*wkst.WorkstationInfo102)
		if i102.ComputerName != "WKHOST" || i102.VerMajor != 10 {
			t.Errorf("level 102 = %+v", i102)
		}
		r, err := cli.GetInfo(ctx, &wkst.GetInfoRequest{Level: 502})
		if err != nil || r.Return != 0 {
			t.Fatalf("level 502: %v %+v", err, r)
		}
		i := r.WorkstationInfo.GetValue().(*wkst.WorkstationInfo502)
		if i.KeepConn != 600 || i.MaxCmds != 50 || i.SessTimeout != 60 || i.DormantFileLimit != 0 {
			t.Errorf("level 502 = %+v", i)
		}
	})
}

func TestGoMSRPCClientAnonymous(t *testing.T) {
	eachSyntax(t, func(t *testing.T, ndr64 bool) {
		cli, ctx := dialClient(t, serveTCP(t, testConfig(), anonIdentity), ndr64)
		for _, level := range []uint32{100, 101, 102, 502} {
			_, err := cli.GetInfo(ctx, &wkst.GetInfoRequest{Level: level})
			wantCode(t, fmt.Sprintf("anonymous level %d", level), err, errAccessDenied)
		}
		_, err := cli.GetJoinInformation(ctx, &wkst.GetJoinInformationRequest{})
		wantCode(t, "anonymous GetJoinInformation", err, errAccessDenied)

		cfg := testConfig()
		cfg.AllowAnonymousLevel100 = true
		cli, ctx = dialClient(t, serveTCP(t, cfg, anonIdentity), ndr64)
		r, err := cli.GetInfo(ctx, &wkst.GetInfoRequest{Level: 100})
		if err != nil || r.Return != 0 {
			t.Fatalf("anonymous level 100 with AllowAnonymousLevel100: %v %+v", err, r)
		}
	})
}

func TestGoMSRPCClientProtocolSequence(t *testing.T) {
	eachSyntax(t, func(t *testing.T, ndr64 bool) {
		cfg := testConfig()
		cfg.AllowAnyProtocolSequence = false
		cli, ctx := dialClient(t, serveTCP(t, cfg, userIdentity), ndr64)
		_, err := cli.GetJoinInformation(ctx, &wkst.GetJoinInformationRequest{})
		wantCode(t, "GetJoinInformation over TCP", err, errProtseqNotSupported)
	})
}

// opnumOnly is a request with an empty stub for any opnum.
type opnumOnly struct{ num int }

func (o *opnumOnly) OpNum() int                                            { return o.num }
func (o *opnumOnly) OpName() string                                        { return "opnum-only" }
func (o *opnumOnly) MarshalNDRRequest(context.Context, ndr.Writer) error   { return nil }
func (o *opnumOnly) UnmarshalNDRRequest(context.Context, ndr.Reader) error { return nil }
func (o *opnumOnly) MarshalNDRResponse(context.Context, ndr.Writer) error  { return nil }
func (o *opnumOnly) UnmarshalNDRResponse(context.Context, ndr.Reader) error {
	return nil
}

// TestGoMSRPCClientFault checks that an opnum not used on the wire
// comes back as a fault the client reports, not a hang.
func TestGoMSRPCClientFault(t *testing.T) {
	binding := serveTCP(t, testConfig(), userIdentity)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cc, err := msrpc.Dial(ctx, binding, msrpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close(ctx)
	conn, err := cc.Bind(ctx, msrpc.WithAbstractSyntax(wkst.WkssvcSyntaxV1_0), msrpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	err = conn.Invoke(ctx, &opnumOnly{num: 3})
	if err == nil {
		t.Fatal("opnum 3 succeeded")
	}
	if ctx.Err() != nil {
		t.Fatalf("opnum 3 timed out: %v", err)
	}
	if !strings.Contains(err.Error(), "0x1c010002") {
		t.Errorf("opnum 3: %v, want nca_op_rng_error", err)
	}
}
