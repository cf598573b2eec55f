package wkssvc

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	msrpc "github.com/oiweiwei/go-msrpc/dcerpc"
	wkst "github.com/oiweiwei/go-msrpc/msrpc/wkst/wkssvc/v1"

	rt "github.com/wkssvcd/wkssvcd/server/dcerpc"
	"github.com/wkssvcd/wkssvcd/server/ipc"
)

// bindRaw binds the wkssvc interface with go-msrpc at one transfer
// syntax and returns the connection for raw operations.
func bindRaw(t *testing.T, binding string, ndr64 bool) (msrpc.Conn, context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	cc, err := msrpc.Dial(ctx, binding, msrpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close(context.Background()) })
	opts := []msrpc.Option{msrpc.WithAbstractSyntax(wkst.WkssvcSyntaxV1_0), msrpc.WithInsecure()}
	if ndr64 {
		opts = append(opts, msrpc.WithNDR64())
	}
	conn, err := cc.Bind(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return conn, ctx
}

// TestRetiredOpnums: opnums 14–19 and 21 decode the parameters Windows'
// stubs still have and answer ERROR_NOT_SUPPORTED to every caller
// (MS-WKST <27>), at NDR and NDR64; NetrGetJoinableOus echoes OUCount
// with a NULL OUs; opnums 3, 4 and 12 stay nca_op_rng_error.
func TestRetiredOpnums(t *testing.T) {
	for _, id := range []struct {
		name string
		id   ipc.Identity
	}{{"admin", adminIdentity}, {"plain", userIdentity}, {"anonymous", anonIdentity}} {
		t.Run(id.name, func(t *testing.T) {
			eachSyntax(t, func(t *testing.T, ndr64 bool) {
				conn, ctx := bindRaw(t, serveTCP(t, testConfig(), id.id), ndr64)
				for _, opnum := range []int{14, 15, 16, 17, 18, 19, 21} {
					op := requestFor(opnum).(retiredRequest).RetiredOperation
					op.Flags, op.Count = 3, 7
					if err := conn.Invoke(ctx, op); err != nil {
						t.Fatalf("%s: %v", op.OpName(), err)
					}
					if op.Return != errNotSupported {
						t.Errorf("%s: 0x%08x, want ERROR_NOT_SUPPORTED", op.OpName(), op.Return)
					}
					if opnum == 21 && op.Count != 7 {
						t.Errorf("%s: OUCount %d, want the 7 sent", op.OpName(), op.Count)
					}
				}
				binding := serveTCP(t, testConfig(), id.id)
				for _, opnum := range []int{3, 4, 12} {
					// go-msrpc closes its connection after a fault.
					conn, ctx := bindRaw(t, binding, ndr64)
					err := conn.Invoke(ctx, &opnumOnly{num: opnum})
					if err == nil || !strings.Contains(err.Error(), "0x1c010002") {
						t.Errorf("opnum %d: %v, want nca_op_rng_error", opnum, err)
					}
				}
			})
		})
	}
}

// TestRetiredBadStub: a retired opnum whose request does not decode —
// here the empty stub of a client that follows the MS-WKST IDL, which
// declares these opnums without parameters — is a fault, as Windows'
// stubs answer it, not a return value.
func TestRetiredBadStub(t *testing.T) {
	eachSyntax(t, func(t *testing.T, ndr64 bool) {
		binding := serveTCP(t, testConfig(), adminIdentity)
		for _, opnum := range []int{14, 16, 17, 19, 21} {
			// go-msrpc closes its connection after a fault.
			conn, ctx := bindRaw(t, binding, ndr64)
			err := conn.Invoke(ctx, &opnumOnly{num: opnum})
			if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("0x%08x", rt.StatusBadStubData)) {
				t.Errorf("opnum %d with an empty stub: %v, want fault 0x%08x", opnum, err, rt.StatusBadStubData)
			}
		}
	})
}

// TestRetiredWireFormat checks the decoder and the answer against stubs
// Samba's NDR engine (its Python bindings, ndr_pack_in/ndr_pack_out of
// samba.dcerpc.wkssvc) produced for the same calls.
func TestRetiredWireFormat(t *testing.T) {
	s := New(testConfig())
	handle := Interfaces(s)[0].Handle
	ctx := callCtx(adminIdentity)
	cases := []struct {
		opnum int
		ndr64 bool
		in    string // request stub
		args  []string
		flags uint32
		out   string // response stub
	}{
		// NetrJoinDomain("S", "D", NULL, "A", NULL, 0x11223344).
		{16, false, "0000020002000000000000000200000053000000020000000000000002000000440000000000000004000200020000000000000002000000410000000000000044332211",
			[]string{"S", "D", "<nil>", "A", "<nil>"}, 0x11223344, "32000000"},
		{16, true, "000002000000000002000000000000000000000000000000020000000000000053000000000000000200000000000000000000000000000002000000000000004400000000000000000000000000000004000200000000000200000000000000000000000000000002000000000000004100000000000000000000000000000044332211",
			[]string{"S", "D", "<nil>", "A", "<nil>"}, 0x11223344, "32000000"},
		// NetrValidateName(NULL, "N", NULL, NULL, 0x0102): the enum is 16
		// bits in NDR, 32 in NDR64.
		{19, false, "000000000200000000000000020000004e00000000000000000000000201",
			[]string{"<nil>", "N", "<nil>", "<nil>"}, 0x0102, "32000000"},
		{19, true, "00000000000000000200000000000000000000000000000002000000000000004e000000000000000000000000000000000000000000000002010000",
			[]string{"<nil>", "N", "<nil>", "<nil>"}, 0x0102, "32000000"},
		// NetrGetJoinableOus(NULL, "D", NULL, NULL, 7): OUCount 7, OUs
		// NULL, ERROR_NOT_SUPPORTED.
		{21, false, "0000000002000000000000000200000044000000000000000000000007000000",
			[]string{"<nil>", "D", "<nil>", "<nil>"}, 0, "070000000000000032000000"},
		{21, true, "000000000000000002000000000000000000000000000000020000000000000044000000000000000000000000000000000000000000000007000000",
			[]string{"<nil>", "D", "<nil>", "<nil>"}, 0, "0700000000000000000000000000000032000000"},
		// NetrLogonDomainNameAdd("D").
		{14, false, "02000000000000000200000044000000", []string{"D"}, 0, "32000000"},
		{14, true, "02000000000000000000000000000000020000000000000044000000", []string{"D"}, 0, "32000000"},
		// NetrUnjoinDomain(NULL, "A", NULL, 5).
		{17, false, "0000000000000200020000000000000002000000410000000000000005000000", []string{"<nil>", "A", "<nil>"}, 5, "32000000"},
		// NetrRenameMachineInDomain(NULL, "N", NULL, NULL, 2).
		{18, false, "00000000000002000200000000000000020000004e000000000000000000000002000000", []string{"<nil>", "N", "<nil>", "<nil>"}, 2, "32000000"},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%d/NDR64=%v", c.opnum, c.ndr64), func(t *testing.T) {
			stub, _ := hex.DecodeString(c.in)
			r := rt.NewStubReader(stub, nil)
			if c.ndr64 {
				r = rt.NewNDR64StubReader(stub)
			}
			got, err := handle(ctx, c.opnum, r)
			if err != nil {
				t.Fatal(err)
			}
			op := got.(*RetiredOperation)
			var args []string
			for _, a := range op.Args {
				if a == nil {
					args = append(args, "<nil>")
				} else {
					args = append(args, *a)
				}
			}
			if fmt.Sprint(args) != fmt.Sprint(c.args) || (c.opnum != 21 && op.Flags != c.flags) {
				t.Errorf("decoded %q flags 0x%x, want %q 0x%x", args, op.Flags, c.args, c.flags)
			}
			b, err := rt.MarshalResponse(op, c.ndr64)
			if err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(b) != c.out {
				t.Errorf("response %x, want %s (Samba's encoding)", b, c.out)
			}
		})
	}
}
