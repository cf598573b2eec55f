package wkssvc

import (
	"context"
	"crypto/rand"
	"errors"
	"testing"

	wkst "github.com/oiweiwei/go-msrpc/msrpc/wkst/wkssvc/v1"
	"github.com/oiweiwei/go-msrpc/ndr"

	"github.com/wkssvcd/wkssvcd/crypto"
	"github.com/wkssvcd/wkssvcd/joinlogic"
	"github.com/wkssvcd/wkssvcd/server/dcerpc"
	"github.com/wkssvcd/wkssvcd/server/ipc"
)

// callCtx is the context of a call over \PIPE\wkssvc by id.
func callCtx(id ipc.Identity) context.Context {
	ctx := ipc.NewContext(context.Background(), &ipc.OpenInfo{Pipe: PipeName, Identity: id})
	return dcerpc.ContextWithProtocolSequence(ctx, dcerpc.ProtseqNamedPipe)
}

func TestGetInfoAccessRules(t *testing.T) {
	s := New(Config{Names: ipc.StaticNames{NetBIOS: "HOST"}, Logger: quietLogger()})
	cases := []struct {
		id    ipc.Identity
		level uint32
		want  uint32
	}{
		{userIdentity, 100, 0},
		{userIdentity, 101, 0},
		{userIdentity, 102, errAccessDenied},
		{adminIdentity, 102, 0},
		{userIdentity, 502, errAccessDenied},
		{adminIdentity, 502, 0},
		{adminIdentity, 100, 0},
		{anonIdentity, 100, errAccessDenied},
		{anonIdentity, 101, errAccessDenied},
		{anonIdentity, 502, errAccessDenied},
		{ipc.Identity{}, 100, errAccessDenied}, // no user name: not authenticated
		{userIdentity, 0, errInvalidLevel},
		{userIdentity, 1013, errInvalidLevel},
		{anonIdentity, 99, errInvalidLevel},
	}
	for _, c := range cases {
		r, err := s.GetInfo(callCtx(c.id), &wkst.GetInfoRequest{Level: c.level})
		if err != nil {
			t.Fatal(err)
		}
		if r.Return != c.want {
			t.Errorf("%+v level %d: 0x%x, want 0x%x", c.id, c.level, r.Return, c.want)
		}
		if r.Return == 0 && r.WorkstationInfo.GetValue() == nil {
			t.Errorf("%+v level %d: no info", c.id, c.level)
		}
	}
	// Without pipe information the caller is anonymous.
	r, _ := s.GetInfo(context.Background(), &wkst.GetInfoRequest{Level: 100})
	if r.Return != errAccessDenied {
		t.Errorf("no identity: 0x%x", r.Return)
	}
}

func TestGetInfoDefaults(t *testing.T) {
	s := New(Config{Names: ipc.StaticNames{NetBIOS: "wkhost"}, Logger: quietLogger()})
	r, _ := s.GetInfo(callCtx(userIdentity), &wkst.GetInfoRequest{Level: 100})
	i := r.WorkstationInfo.GetValue().(*wkst.WorkstationInfo100)
	if i.ComputerName != "WKHOST" || i.LANGroup != "WORKGROUP" || i.PlatformID != 500 || i.VerMajor != 10 {
		t.Fatalf("level 100 = %+v", i)
	}
	if New(Config{Logger: quietLogger()}).cfg.Names.NetBIOSName() == "" {
		t.Fatal("no default computer name")
	}
}

// The computer name is state: a rename shows in the next answer.
func TestGetInfoReadsNamesOnEveryCall(t *testing.T) {
	names, err := joinlogic.MemoryNameStore(joinlogic.ComputerName{NetBIOS: "OLDNAME"})
	if err != nil {
		t.Fatal(err)
	}
	s := New(Config{Names: names, Logger: quietLogger()})
	name := func() string {
		r, _ := s.GetInfo(callCtx(userIdentity), &wkst.GetInfoRequest{Level: 100})
		return r.WorkstationInfo.GetValue().(*wkst.WorkstationInfo100).ComputerName
	}
	if got := name(); got != "OLDNAME" {
		t.Fatalf("before: %q", got)
	}
	if err := names.Save(context.Background(), joinlogic.ComputerName{NetBIOS: "NEWNAME"}); err != nil {
		t.Fatal(err)
	}
	if got := name(); got != "NEWNAME" {
		t.Fatalf("after the rename: %q", got)
	}
}

type failingMembership struct{ StaticMembership }

func (failingMembership) JoinInformation(context.Context) (string, uint32, error) {
	return "", 0, errors.New("store unavailable")
}

func TestMembershipFailure(t *testing.T) {
	s := New(Config{Names: ipc.StaticNames{NetBIOS: "H"}, Join: failingMembership{}, Logger: quietLogger()})
	r, _ := s.GetInfo(callCtx(userIdentity), &wkst.GetInfoRequest{Level: 101})
	if r.Return != errInternalError {
		t.Errorf("GetInfo: 0x%x", r.Return)
	}
	j, _ := s.GetJoinInformation(callCtx(userIdentity), &wkst.GetJoinInformationRequest{})
	if j.Return != errInternalError {
		t.Errorf("GetJoinInformation: 0x%x", j.Return)
	}
}

func TestGetJoinInformation(t *testing.T) {
	cases := []struct {
		m        StaticMembership
		wantName string
		wantType wkst.NetSetupJoinStatus
	}{
		{StaticMembership{"", joinlogic.NetSetupUnjoined}, "", wkst.NetSetupJoinStatusUnjoined},
		{StaticMembership{"STALE", joinlogic.NetSetupUnjoined}, "", wkst.NetSetupJoinStatusUnjoined},
		{StaticMembership{"WORKGROUP", joinlogic.NetSetupWorkgroupName}, "WORKGROUP", wkst.NetSetupJoinStatusWorkgroupName},
		{StaticMembership{"EXAMPLE", joinlogic.NetSetupDomainName}, "EXAMPLE", wkst.NetSetupJoinStatusDomainName},
		{StaticMembership{"X", joinlogic.NetSetupUnknownStatus}, "X", wkst.NetSetupJoinStatusUnknownStatus},
	}
	for _, c := range cases {
		s := New(Config{Names: ipc.StaticNames{NetBIOS: "H"}, Join: c.m, Logger: quietLogger()})
		r, _ := s.GetJoinInformation(callCtx(userIdentity), &wkst.GetJoinInformationRequest{NameBuffer: "ignored"})
		if r.Return != 0 || r.NameBuffer != c.wantName || r.BufferType != c.wantType {
			t.Errorf("%+v: %+v", c.m, r)
		}
	}
	s := New(Config{Names: ipc.StaticNames{NetBIOS: "H"}, Logger: quietLogger()})
	if r, _ := s.GetJoinInformation(callCtx(anonIdentity), &wkst.GetJoinInformationRequest{}); r.Return != errAccessDenied {
		t.Errorf("anonymous: 0x%x", r.Return)
	}
	// MS-WKST 3.2.4.12: only ncacn_np is served.
	ctx := dcerpc.ContextWithProtocolSequence(ipc.NewContext(context.Background(), &ipc.OpenInfo{Identity: userIdentity}), dcerpc.ProtseqTCP)
	if r, _ := s.GetJoinInformation(ctx, &wkst.GetJoinInformationRequest{}); r.Return != errProtseqNotSupported {
		t.Errorf("over TCP: 0x%x", r.Return)
	}
}

// recordingJoin is a Joiner that records the requests it got.
type recordingJoin struct {
	StaticMembership
	join     []joinlogic.JoinRequest
	unjoin   []joinlogic.UnjoinRequest
	validate []joinlogic.ValidateNameRequest
}

func (j *recordingJoin) Join(_ context.Context, r joinlogic.JoinRequest) joinlogic.Code {
	j.join = append(j.join, r)
	return joinlogic.NERR_Success
}

func (j *recordingJoin) Unjoin(_ context.Context, r joinlogic.UnjoinRequest) joinlogic.Code {
	j.unjoin = append(j.unjoin, r)
	return joinlogic.NERR_SetupNotJoined
}

func (j *recordingJoin) ValidateName(_ context.Context, r joinlogic.ValidateNameRequest) joinlogic.Code {
	j.validate = append(j.validate, r)
	return joinlogic.ERROR_DUP_NAME
}

// The wire requests become joinlogic requests once, in one place: the
// "2" and "3" methods differ only in Method and in the password blob.
func TestJoinMethodsTranslateOnce(t *testing.T) {
	j := &recordingJoin{}
	s := New(Config{Names: ipc.StaticNames{NetBIOS: "H"}, Join: j, Logger: quietLogger()})
	key := []byte("0123456789abcdef")
	ctx := dcerpc.ContextWithProtocolSequence(ipc.NewContext(context.Background(),
		&ipc.OpenInfo{Pipe: PipeName, Identity: adminIdentity, SessionKey: key}), dcerpc.ProtseqNamedPipe)
	blob, err := crypto.EncryptAES(key, "S3cret!", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	aes := &wkst.EncryptedUserPasswordAES{AuthData: blob.AuthData[:], Salt: blob.Salt[:], CipherLength: uint32(len(blob.Cipher)), Cipher: blob.Cipher}
	r2, _ := s.JoinDomain2(ctx, &wkst.JoinDomain2Request{DomainNameParam: "example.test", AccountName: `EXAMPLE\admin`, Options: 3})
	r3, _ := s.JoinDomain3(ctx, &wkst.JoinDomain3Request{DomainNameParam: "example.test", MachineAccountOU: "OU=x", Password: aes, Options: 1})
	if r2.Return != 0 || r3.Return != 0 || len(j.join) != 2 {
		t.Fatalf("join: %+v %+v %d", r2, r3, len(j.join))
	}
	a, b := j.join[0], j.join[1]
	if a.Method != 2 || *a.DomainName != "example.test" || *a.AccountName != `EXAMPLE\admin` || a.MachineAccountOU != nil ||
		a.Password != nil || a.Options != 3 || a.Protseq != dcerpc.ProtseqNamedPipe || !a.Caller.Admin || a.Caller.User != "administrator" {
		t.Errorf("NetrJoinDomain2 became %+v", a)
	}
	if b.Method != 3 || *b.MachineAccountOU != "OU=x" || b.AccountName != nil || b.Password == nil || b.Options != 1 {
		t.Errorf("NetrJoinDomain3 became %+v", b)
	}
	if pw, present, c := b.Password(); pw != "S3cret!" || !present || c != 0 {
		t.Errorf("AES password: %q %v %v", pw, present, c)
	}
	u, _ := s.UnjoinDomain2(ctx, &wkst.UnjoinDomain2Request{Password: &wkst.EncryptedUserPassword{Buffer: make([]byte, 524)}, Options: 4})
	if u.Return != uint32(joinlogic.NERR_SetupNotJoined) || len(j.unjoin) != 1 || j.unjoin[0].Method != 2 || j.unjoin[0].Options != 4 {
		t.Errorf("unjoin: %+v %+v", u, j.unjoin)
	}
	if _, _, c := j.unjoin[0].Password(); c != joinlogic.ERROR_INVALID_PASSWORD {
		t.Errorf("garbage RC4 blob: %v", c)
	}
	v, _ := s.ValidateName3(ctx, &wkst.ValidateName3Request{NameToValidate: "n", NameType: wkst.NetSetupNameTypeMachine})
	if v.Return != uint32(joinlogic.ERROR_DUP_NAME) || len(j.validate) != 1 || j.validate[0].Method != 3 ||
		*j.validate[0].Name != "n" || j.validate[0].NameType != joinlogic.NetSetupMachine {
		t.Errorf("validate: %+v %+v", v, j.validate)
	}
	// The default Joiner changes nothing.
	d := New(Config{Names: ipc.StaticNames{NetBIOS: "H"}, Logger: quietLogger()})
	if r, _ := d.JoinDomain3(ctx, &wkst.JoinDomain3Request{}); r.Return != errNotSupported {
		t.Errorf("default JoinDomain3: 0x%x", r.Return)
	}
}

// requestFor returns a zero-valued, marshallable request for opnum.
func requestFor(opnum int) ndr.Marshaler {
	switch opnum {
	case 0:
		return &wkst.GetInfoRequest{ServerName: `\\host`, Level: 100}
	case 1:
		return &wkst.SetInfoRequest{Level: 502, WorkstationInfo: &wkst.WorkstationInfo{Value: &wkst.WorkstationInfo_502{WorkstationInfo502: &wkst.WorkstationInfo502{}}}}
	case 2:
		return &wkst.UserEnumRequest{UserInfo: &wkst.WorkstationUserEnum{Level: 0, WorkstationUserInfo: &wkst.WorkstationUserEnum_WorkstationUserInfo{Value: &wkst.WorkstationUserInfo_Level0{Level0: &wkst.WorkstationUserInfo0Container{}}}}}
	case 5:
		return &wkst.TransportEnumRequest{TransportInfo: &wkst.WorkstationTransportEnum{Level: 0, WorkstationTransportInfo: &wkst.WorkstationTransportEnum_WorkstationTransportInfo{Value: &wkst.WorkstationTransportInfo_Level0{Level0: &wkst.WorkstationTransportInfo0Container{}}}}}
	case 6:
		return &wkst.TransportAddRequest{TransportInfo: &wkst.WorkstationTransportInfo0{}}
	case 7:
		return &wkst.TransportDeleteRequest{}
	case 8:
		return &wkst.UseAddRequest{Level: 0, Info: &wkst.UseInfo{Value: &wkst.UseInfo_0{UseInfo0: &wkst.UseInfo0{}}}}
	case 9:
		return &wkst.UseGetInfoRequest{UseName: "x", Level: 0}
	case 10:
		return &wkst.UseDeleteRequest{UseName: "x"}
	case 11:
		return &wkst.UseEnumRequest{Info: &wkst.UseEnum{Level: 0, UseInfo: &wkst.UseEnum_UseInfo{Value: &wkst.UseInfo_Level0{Level0: &wkst.UseInfo0Container{}}}}}
	case 13:
		return &wkst.WorkstationStatisticsGetRequest{}
	case 20:
		return &wkst.GetJoinInformationRequest{NameBuffer: "x"}
	case 22:
		return &wkst.JoinDomain2Request{DomainNameParam: "d"}
	case 23:
		return &wkst.UnjoinDomain2Request{}
	case 24:
		return &wkst.RenameMachineInDomain2Request{}
	case 25:
		return &wkst.ValidateName2Request{NameToValidate: "n"}
	case 26:
		return &wkst.GetJoinableOUs2Request{DomainNameParam: "d"}
	case 27:
		return &wkst.AddAlternateComputerNameRequest{}
	case 28:
		return &wkst.RemoveAlternateComputerNameRequest{}
	case 29:
		return &wkst.SetPrimaryComputerNameRequest{}
	case 30:
		return &wkst.EnumerateComputerNamesRequest{}
	case 31:
		return &wkst.JoinDomain3Request{DomainNameParam: "d"}
	case 32:
		return &wkst.UnjoinDomain3Request{}
	case 33:
		return &wkst.RenameMachineInDomain3Request{}
	case 34:
		return &wkst.ValidateName3Request{NameToValidate: "n"}
	case 35:
		return &wkst.AddAlternateComputerName2Request{}
	case 36:
		return &wkst.RemoveAlternateComputerName2Request{}
	case 37:
		return &wkst.SetPrimaryComputerName2Request{}
	}
	if op := NewRetiredOperation(opnum); op != nil {
		for _, p := range retiredMethods[opnum].params {
			if p == uniqueString || p == refString {
				op.Args = append(op.Args, ptr("x"))
			}
		}
		return retiredRequest{op}
	}
	return nil
}

// retiredRequest is the request of a retired opnum as an ndr.Marshaler.
type retiredRequest struct{ *RetiredOperation }

func (r retiredRequest) MarshalNDR(ctx context.Context, w ndr.Writer) error {
	return r.MarshalNDRRequest(ctx, w)
}

func ptr(s string) *string { return &s }

// TestEveryOpnumMarshals drives every wire opnum through the generated
// server handle, as the runtime does, and checks that the answer
// marshals: no method may leave an out parameter the encoder rejects.
func TestEveryOpnumMarshals(t *testing.T) {
	s := New(Config{Names: ipc.StaticNames{NetBIOS: "H"}, Logger: quietLogger()})
	handle := Interfaces(s)[0].Handle
	for _, ndr64 := range []bool{false, true} {
		marshal, reader := ndr.Marshal, dcerpc.NewStubReader
		if ndr64 {
			marshal = ndr.Marshal64
			reader = func(stub, _ []byte) ndr.Reader { return dcerpc.NewNDR64StubReader(stub) }
		}
		for opnum := 0; opnum <= 40; opnum++ {
			req := requestFor(opnum)
			for _, id := range []ipc.Identity{userIdentity, adminIdentity} {
				var stub []byte
				if req != nil {
					var err error
					if stub, err = marshal(req); err != nil {
						t.Fatalf("opnum %d (NDR64 %v): request does not marshal: %v", opnum, ndr64, err)
					}
				}
				op, err := handle(callCtx(id), opnum, reader(stub, nil))
				if req == nil {
					if op != nil || err != nil {
						t.Errorf("opnum %d: want no operation, got %v %v", opnum, op, err)
					}
					continue
				}
				if err != nil || op == nil {
					t.Fatalf("opnum %d (NDR64 %v): %v", opnum, ndr64, err)
				}
				if _, err := dcerpc.MarshalResponse(op, ndr64); err != nil {
					t.Errorf("opnum %d (NDR64 %v): response does not marshal: %v", opnum, ndr64, err)
				}
			}
		}
	}
}

// The enumerations answer with empty containers, never with the counts a
// request's container claimed (which would make the encoder write that
// many entries).
func TestEnumerationsDoNotEchoRequestContainers(t *testing.T) {
	s := New(Config{Names: ipc.StaticNames{NetBIOS: "HOST"}, Logger: quietLogger()})
	ctx := callCtx(adminIdentity)
	const huge = 1 << 30
	ue, _ := s.UserEnum(ctx, &wkst.UserEnumRequest{UserInfo: &wkst.WorkstationUserEnum{Level: 1,
		WorkstationUserInfo: &wkst.WorkstationUserEnum_WorkstationUserInfo{Value: &wkst.WorkstationUserInfo_Level1{Level1: &wkst.WorkstationUserInfo1Container{EntriesRead: huge}}}}})
	te, _ := s.TransportEnum(ctx, &wkst.TransportEnumRequest{TransportInfo: &wkst.WorkstationTransportEnum{
		WorkstationTransportInfo: &wkst.WorkstationTransportEnum_WorkstationTransportInfo{Value: &wkst.WorkstationTransportInfo_Level0{Level0: &wkst.WorkstationTransportInfo0Container{EntriesRead: huge}}}}})
	us, _ := s.UseEnum(ctx, &wkst.UseEnumRequest{Info: &wkst.UseEnum{Level: 2,
		UseInfo: &wkst.UseEnum_UseInfo{Value: &wkst.UseInfo_Level2{Level2: &wkst.UseInfo2Container{EntriesRead: huge}}}}})
	for _, resp := range []ndr.Marshaler{ue, te, us} {
		b, err := ndr.Marshal(resp)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 256 {
			t.Errorf("%T encodes to %d bytes: the request's entry count came back", resp, len(b))
		}
	}
	if ue.UserInfo.Level != 1 || us.Info.Level != 2 {
		t.Errorf("levels not kept: %d %d", ue.UserInfo.Level, us.Info.Level)
	}
}
