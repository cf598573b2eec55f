package wkssvc

import (
	"context"
	"encoding/binary"
	"slices"
	"testing"
	"unicode/utf16"

	wkst "github.com/oiweiwei/go-msrpc/msrpc/wkst/wkssvc/v1"
	"github.com/oiweiwei/go-msrpc/ndr"

	"github.com/wkssvcd/wkssvcd/joinlogic"
	"github.com/wkssvcd/wkssvcd/server/dcerpc"
	"github.com/wkssvcd/wkssvcd/server/ipc"
)

// namesJoin records the name requests and answers ComputerNames with
// names.
type namesJoin struct {
	StaticMembership
	rename []joinlogic.RenameRequest
	alt    []joinlogic.AlternateNameRequest
	ops    []string
	enum   []joinlogic.ComputerNamesRequest
	names  []string
}

func (j *namesJoin) Rename(_ context.Context, r joinlogic.RenameRequest) joinlogic.Code {
	j.rename = append(j.rename, r)
	return joinlogic.NERR_Success
}

func (j *namesJoin) record(op string, r joinlogic.AlternateNameRequest) joinlogic.Code {
	j.alt, j.ops = append(j.alt, r), append(j.ops, op)
	return joinlogic.NERR_Success
}

func (j *namesJoin) AddAlternateName(_ context.Context, r joinlogic.AlternateNameRequest) joinlogic.Code {
	return j.record("add", r)
}

func (j *namesJoin) RemoveAlternateName(_ context.Context, r joinlogic.AlternateNameRequest) joinlogic.Code {
	return j.record("remove", r)
}

func (j *namesJoin) SetPrimaryName(_ context.Context, r joinlogic.AlternateNameRequest) joinlogic.Code {
	return j.record("primary", r)
}

func (j *namesJoin) ComputerNames(_ context.Context, r joinlogic.ComputerNamesRequest) ([]string, joinlogic.Code) {
	j.enum = append(j.enum, r)
	return j.names, joinlogic.NERR_Success
}

// The rename and alternate-name methods become joinlogic requests: the
// "2" methods with the AES blob, NULL strings as nil, and the Reserved
// parameter — which go-msrpc's request types drop — read off the wire.
func TestNameMethodsTranslate(t *testing.T) {
	j := &namesJoin{}
	s := New(Config{Names: ipc.StaticNames{NetBIOS: "H"}, Join: j, Logger: quietLogger()})
	ctx := callCtx(adminIdentity)
	r2, _ := s.RenameMachineInDomain2(ctx, &wkst.RenameMachineInDomain2Request{MachineName: "NEW", AccountName: `EXAMPLE\a`, Options: 2})
	r3, _ := s.RenameMachineInDomain3(ctx, &wkst.RenameMachineInDomain3Request{Password: &wkst.EncryptedUserPasswordAES{}})
	if r2.Return != 0 || r3.Return != 0 || len(j.rename) != 2 {
		t.Fatalf("rename: %+v %+v", r2, r3)
	}
	a, b := j.rename[0], j.rename[1]
	if a.Method != 2 || *a.MachineName != "NEW" || *a.AccountName != `EXAMPLE\a` || a.Password != nil || a.Options != 2 || !a.Caller.Admin {
		t.Errorf("NetrRenameMachineInDomain2 became %+v", a)
	}
	if b.Method != 3 || b.MachineName != nil || b.AccountName != nil || b.Password == nil {
		t.Errorf("NetrRenameMachineInDomain3 became %+v", b)
	}
	if _, _, c := b.Password(); c != joinlogic.ERROR_INVALID_PASSWORD {
		t.Errorf("empty AES blob: %v", c)
	}

	// Through the generated handle, as the runtime calls it, with the
	// Reserved the client sent.
	handle := Interfaces(s)[0].Handle
	for _, ndr64 := range []bool{false, true} {
		marshal, reader := ndr.Marshal, dcerpc.NewStubReader
		if ndr64 {
			marshal = ndr.Marshal64
			reader = func(stub, _ []byte) ndr.Reader { return dcerpc.NewNDR64StubReader(stub) }
		}
		j.alt, j.ops, j.enum = nil, nil, nil
		for _, c := range []struct {
			opnum    int
			req      ndr.Marshaler
			reserved uint32
		}{
			{27, &wkst.AddAlternateComputerNameRequest{AlternateName: "web.example.test", DomainAccount: `EXAMPLE\a`}, 0},
			{28, &wkst.RemoveAlternateComputerNameRequest{AlternateName: "web.example.test"}, 1},
			{29, &wkst.SetPrimaryComputerNameRequest{PrimaryName: "web.example.test"}, 0xdead},
			{35, &wkst.AddAlternateComputerName2Request{AlternateName: "ftp.example.test", EncryptedPassword: &wkst.EncryptedUserPasswordAES{}}, 3},
			{30, &wkst.EnumerateComputerNamesRequest{NameType: wkst.NetComputerNameTypeAllComputerNames}, 7},
		} {
			stub, err := marshal(c.req)
			if err != nil {
				t.Fatal(err)
			}
			// Reserved is the last 32-bit parameter: go-msrpc writes 0.
			binary.LittleEndian.PutUint32(stub[len(stub)-4:], c.reserved)
			op, err := handle(callCtx(adminIdentity), c.opnum, reader(stub, nil))
			if err != nil {
				t.Fatalf("opnum %d: %v", c.opnum, err)
			}
			if _, err := dcerpc.MarshalResponse(op, ndr64); err != nil {
				t.Fatalf("opnum %d: %v", c.opnum, err)
			}
		}
		if !slices.Equal(j.ops, []string{"add", "remove", "primary", "add"}) || len(j.enum) != 1 {
			t.Fatalf("NDR64 %v: ops %q, enum %+v", ndr64, j.ops, j.enum)
		}
		for i, want := range []uint32{0, 1, 0xdead, 3} {
			if j.alt[i].Reserved != want {
				t.Errorf("NDR64 %v: request %d Reserved %#x, want %#x", ndr64, i, j.alt[i].Reserved, want)
			}
		}
		if r := j.alt[0]; *r.Name != "web.example.test" || *r.DomainAccount != `EXAMPLE\a` || r.Password != nil {
			t.Errorf("add became %+v", r)
		}
		if r := j.alt[1]; r.DomainAccount != nil {
			t.Errorf("remove became %+v", r)
		}
		if r := j.alt[3]; r.Password == nil {
			t.Errorf("add2 became %+v", r)
		}
		if e := j.enum[0]; e.NameType != joinlogic.NetAllComputerNames || e.Reserved != 7 {
			t.Errorf("enumerate became %+v", e)
		}
	}
}

// NetrEnumerateComputerNames answers UNICODE_STRINGs as Windows writes
// them, at NDR and NDR64, through go-msrpc's client.
func TestEnumerateComputerNamesOverTheWire(t *testing.T) {
	j := &namesJoin{names: []string{"wkhost.example.test", "web.example.test", "ñandú.example.test"}}
	cfg := testConfig()
	cfg.Join = j
	for _, sx := range syntaxes {
		t.Run(sx.name, func(t *testing.T) {
			cli, ctx := dialClient(t, serveTCP(t, cfg, adminIdentity), sx.ndr64)
			resp, err := cli.EnumerateComputerNames(ctx, &wkst.EnumerateComputerNamesRequest{NameType: wkst.NetComputerNameTypeAllComputerNames})
			if err != nil {
				t.Fatal(err)
			}
			if resp.Return != 0 || resp.ComputerNames == nil || resp.ComputerNames.EntryCount != 3 {
				t.Fatalf("%+v", resp)
			}
			for i, u := range resp.ComputerNames.ComputerNames {
				got := string(utf16.Decode(u.Buffer[:u.Length/2]))
				if got != j.names[i] || int(u.MaximumLength) != int(u.Length)+2 {
					t.Errorf("name %d: %q (%d/%d)", i, got, u.Length, u.MaximumLength)
				}
			}
		})
	}
	// A plain user of the default Joiner: access denied, no array.
	s := New(Config{Names: ipc.StaticNames{NetBIOS: "H"}, Logger: quietLogger()})
	for _, id := range []ipc.Identity{userIdentity, anonIdentity} {
		r, _ := s.EnumerateComputerNames(callCtx(id), &wkst.EnumerateComputerNamesRequest{})
		if r.Return != errAccessDenied || r.ComputerNames != nil {
			t.Errorf("%+v: %+v", id, r)
		}
	}
	r, _ := s.EnumerateComputerNames(callCtx(adminIdentity), &wkst.EnumerateComputerNamesRequest{})
	if r.Return != errNotSupported {
		t.Errorf("admin of the default Joiner: %+v", r)
	}
}
