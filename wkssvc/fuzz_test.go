package wkssvc

import (
	"context"
	"encoding/binary"
	"path/filepath"
	"slices"
	"testing"

	wkst "github.com/oiweiwei/go-msrpc/msrpc/wkst/wkssvc/v1"
	"github.com/oiweiwei/go-msrpc/ndr"

	"github.com/wkssvcd/wkssvcd/joinlogic"
	"github.com/wkssvcd/wkssvcd/server/dcerpc"
	"github.com/wkssvcd/wkssvcd/server/ipc"
)

// FuzzRequestDecode feeds arbitrary request stubs to the generated
// decoder of every wire opnum, as the runtime does (through its bounded
// stub reader), runs the method — the join methods through the real join
// state machine with a file store and no directory, so the password
// blobs are decrypted with the pipe's key — and marshals whatever
// response comes back.
func FuzzRequestDecode(f *testing.F) {
	var opnums []int
	for op := 0; op <= 37; op++ {
		if requestFor(op) != nil {
			opnums = append(opnums, op)
		}
	}
	for i, op := range opnums {
		stub, err := ndr.Marshal(requestFor(op))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i), stub)
		// The same request in NDR64 (MS-RPCE 2.2.5): bit 7 of which
		// selects that transfer syntax.
		stub64, err := ndr.Marshal64(requestFor(op))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i)|0x80, stub64)
	}
	// The name methods with names in them; last is the final 32-bit
	// parameter (Options, or the Reserved go-msrpc's types drop).
	index := func(op int) uint8 { return uint8(slices.Index(opnums, op)) }
	for _, seed := range []struct {
		op   int
		req  ndr.Marshaler
		last uint32
	}{
		{24, &wkst.RenameMachineInDomain2Request{MachineName: "WKNEW", AccountName: `EXAMPLE\admin`}, 2},
		{33, &wkst.RenameMachineInDomain3Request{MachineName: "web.example.test"}, 0x1000},
		{27, &wkst.AddAlternateComputerNameRequest{AlternateName: "web.example.test"}, 0},
		{35, &wkst.AddAlternateComputerName2Request{AlternateName: "ftp.example.test", DomainAccount: "a@example.test"}, 1},
		{28, &wkst.RemoveAlternateComputerNameRequest{AlternateName: "web.example.test"}, 2},
		{37, &wkst.SetPrimaryComputerName2Request{PrimaryName: "web.example.test"}, 0},
		{30, &wkst.EnumerateComputerNamesRequest{NameType: 2}, 0},
	} {
		for _, ndr64 := range []bool{false, true} {
			marshal, flag := ndr.Marshal, uint8(0)
			if ndr64 {
				marshal, flag = ndr.Marshal64, 0x80
			}
			stub, err := marshal(seed.req)
			if err != nil {
				f.Fatal(err)
			}
			binary.LittleEndian.PutUint32(stub[len(stub)-4:], seed.last)
			f.Add(index(seed.op)|flag, stub)
		}
	}
	getInfo, _ := ndr.Marshal(&wkst.GetInfoRequest{Level: 502})
	f.Add(uint8(0), getInfo)
	f.Add(uint8(1), []byte{0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f})
	store, err := joinlogic.OpenStore(filepath.Join(f.TempDir(), "membership.json"))
	if err != nil {
		f.Fatal(err)
	}
	joiner, err := joinlogic.New(joinlogic.Config{ComputerName: "WKHOST", Store: store, Logger: quietLogger()})
	if err != nil {
		f.Fatal(err)
	}
	s := New(Config{Names: joiner, Join: joiner, Logger: quietLogger()})
	handle := Interfaces(s)[0].Handle
	key := []byte("0123456789abcdef")
	ctx := dcerpc.ContextWithProtocolSequence(ipc.NewContext(context.Background(),
		&ipc.OpenInfo{Pipe: PipeName, Identity: adminIdentity, SessionKey: key}), dcerpc.ProtseqNamedPipe)
	f.Fuzz(func(t *testing.T, which uint8, stub []byte) {
		ndr64 := which&0x80 != 0
		opnum := opnums[int(which&0x7f)%len(opnums)]
		r := dcerpc.NewStubReader(stub, nil)
		if ndr64 {
			r = dcerpc.NewNDR64StubReader(stub)
		}
		op, err := handle(ctx, opnum, r)
		if err != nil || op == nil {
			return
		}
		if _, err := dcerpc.MarshalResponse(op, ndr64); err != nil {
			t.Fatalf("opnum %d (NDR64 %v): decoded request, response does not marshal: %v", opnum, ndr64, err)
		}
	})
}

// FuzzPipeCall sends one request with a fuzzed opnum and stub, cut into
// fuzzed fragment sizes, through a bound wkssvc pipe: runtime,
// decoders, methods and response fragmentation together. Every call
// must end in a response or a fault.
func FuzzPipeCall(f *testing.F) {
	for _, op := range []int{0, 20, 22, 31} {
		stub, err := ndr.Marshal(requestFor(op))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(op), stub, uint8(0))
		f.Add(uint8(op), stub, uint8(3))
	}
	f.Add(uint8(3), []byte{}, uint8(0))
	f.Add(uint8(200), []byte{1, 2, 3}, uint8(1))
	rt := dcerpc.NewServer(dcerpc.Config{Logger: quietLogger()})
	rt.Register(PipeName, Interfaces(New(testConfig()))...)
	f.Fuzz(func(t *testing.T, opnum uint8, stub []byte, frag uint8) {
		if len(stub) > 1<<16 {
			return
		}
		p, err := rt.OpenPipe(context.Background(), ipc.OpenInfo{Pipe: PipeName, Identity: adminIdentity})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		if err := p.Write(context.Background(), wkssvcBind()); err != nil {
			t.Fatal(err)
		}
		readMsg(t, p)
		size := len(stub)
		if frag > 0 {
			size = int(frag)
		}
		for off, first := 0, true; first || off < len(stub); first = false {
			n := min(size, len(stub)-off)
			flags := uint8(0)
			if first {
				flags |= 1
			}
			if off+n == len(stub) {
				flags |= 2
			}
			pdu := wkssvcRequest(2, uint16(opnum), stub[off:off+n])
			pdu[3] = flags
			if err := p.Write(context.Background(), pdu); err != nil {
				t.Fatalf("Write: %v", err)
			}
			off += n
		}
		for {
			m := readMsg(t, p)
			if m[2] == 3 { // fault
				return
			}
			if m[2] != 2 {
				t.Fatalf("PDU type %d", m[2])
			}
			if m[3]&2 != 0 { // last fragment
				return
			}
		}
	})
}
