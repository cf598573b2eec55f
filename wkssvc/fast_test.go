package wkssvc

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	wkst "github.com/oiweiwei/go-msrpc/msrpc/wkst/wkssvc/v1"
	"github.com/oiweiwei/go-msrpc/ndr"

	"github.com/wkssvcd/wkssvcd/joinlogic"
	"github.com/wkssvcd/wkssvcd/server/dcerpc"
	"github.com/wkssvcd/wkssvcd/server/ipc"
)

// slowPath is what the runtime answers without the fast handler: the
// generated handle, then go-msrpc's NDR 2.0 marshalling.
func slowPath(t testing.TB, s *Server, ctx context.Context, stub []byte) ([]byte, bool) {
	t.Helper()
	op, err := Interfaces(s)[0].Handle(ctx, opGetInfo, dcerpc.NewStubReader(stub, nil))
	if err != nil || op == nil {
		return nil, false
	}
	b, err := dcerpc.MarshalResponse(op, false)
	if err != nil {
		t.Fatalf("response does not marshal: %v", err)
	}
	return b, true
}

func getInfoStub(t testing.TB, server string, level uint32) []byte {
	t.Helper()
	b, err := ndr.Marshal(&wkst.GetInfoRequest{ServerName: server, Level: level})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The fast handler answers NetrWkstaGetInfo level 100 byte for byte as
// the generated handle and go-msrpc's marshalling do, for every caller,
// server name and pair of names, and leaves everything else to them.
func TestFastGetInfoMatchesGoMSRPC(t *testing.T) {
	callers := map[string]ipc.Identity{"admin": adminIdentity, "user": userIdentity, "anonymous": {Anonymous: true}}
	for _, names := range [][2]string{{"WKHOST", "WORKGROUP"}, {"A", ""}, {"", "G"}, {"", ""}, {"HOST-15-CHARS-X", "EXAMPLE"}} {
		for _, anon := range []bool{false, true} {
			s := New(Config{Names: ipc.StaticNames{NetBIOS: names[0]}, AllowAnonymousLevel100: anon, Logger: quietLogger(),
				Join: StaticMembership{Name: names[1], Status: joinlogic.NetSetupWorkgroupName}})
			for who, id := range callers {
				for _, server := range []string{"", "x", `\\WKHOST`, "abc\x00"} {
					for _, level := range []uint32{100, 101, 102, 502, 7} {
						name := fmt.Sprintf("%q/%q/anon=%v/%s/%q/%d", names[0], names[1], anon, who, server, level)
						stub := getInfoStub(t, server, level)
						ctx := callCtx(id)
						want, ok := slowPath(t, s, ctx, stub)
						if !ok {
							t.Fatalf("%s: the generated handle refused the request", name)
						}
						got, fast := s.fast(ctx, opGetInfo, stub)
						if level != levelInfo100 {
							if fast {
								t.Errorf("%s: level %d served by the fast handler", name, level)
							}
							continue
						}
						if !fast {
							t.Errorf("%s: level 100 not served by the fast handler", name)
							continue
						}
						if !bytes.Equal(got, want) {
							t.Errorf("%s:\nfast     %x\ngo-msrpc %x", name, got, want)
						}
					}
				}
			}
		}
	}
}

// Names the fast encoder cannot write exactly as go-msrpc does go to it.
func TestFastGetInfoLeavesOddNames(t *testing.T) {
	for _, names := range [][2]string{{"HÖST", "WG"}, {"HOST", "WG\x00X"}, {"HOST", "G\U0001F600"}} {
		s := New(Config{Names: ipc.StaticNames{NetBIOS: names[0]}, Logger: quietLogger(),
			Join: StaticMembership{Name: names[1], Status: joinlogic.NetSetupWorkgroupName}})
		if _, ok := s.fast(callCtx(adminIdentity), opGetInfo, getInfoStub(t, "", 100)); ok {
			t.Errorf("%q: served by the fast handler", names)
		}
	}
	s := New(Config{Names: ipc.StaticNames{NetBIOS: "H"}, Logger: quietLogger()})
	if _, ok := s.fast(callCtx(adminIdentity), opGetJoinInformation, nil); ok {
		t.Error("NetrGetJoinInformation served by the fast handler")
	}
}

// The request decoder reads what go-msrpc writes and refuses the rest.
func TestDecodeGetInfoRequest(t *testing.T) {
	for _, server := range []string{"", "a", "ab", "abc", `\\WKHOST.example.test`, "lower.case", "x\x00"} {
		for _, level := range []uint32{0, 100, 0xffffffff} {
			req, ok := decodeGetInfoRequest(getInfoStub(t, server, level))
			want := &wkst.GetInfoRequest{}
			if err := ndr.Unmarshal(getInfoStub(t, server, level), want); err != nil {
				t.Fatalf("%q: % x: %v", server, getInfoStub(t, server, level), err)
			}
			if !ok || req.Level != want.Level || req.ServerName != want.ServerName {
				t.Errorf("%q %d: decoded %+v %v, go-msrpc %+v", server, level, req, ok, want)
			}
		}
	}
	good := getInfoStub(t, "abc", 100) // ptr, max 4, offset 0, actual 4, "abc\0", level
	for name, bad := range map[string][]byte{
		"empty":          nil,
		"short":          good[:7],
		"truncated":      good[:len(good)-1],
		"trailing":       append(bytes.Clone(good), 0, 0, 0, 0),
		"offset":         patch(good, 8, 1),
		"actual > max":   patch(good, 12, 5),
		"max > actual":   patch(good, 4, 0x30303030),
		"actual too big": patch(patch(good, 4, 0x7fffffff), 12, 0x7fffffff),
	} {
		if _, ok := decodeGetInfoRequest(bad); ok {
			t.Errorf("%s: accepted % x", name, bad)
		}
	}
}

func patch(b []byte, off int, v uint32) []byte {
	b = bytes.Clone(b)
	le.PutUint32(b[off:], v)
	return b
}

// Only calls that touch nothing but memory may run inline.
func TestInlineCalls(t *testing.T) {
	for _, tc := range []struct {
		call dcerpc.Call
		want bool
	}{
		{dcerpc.Call{Opnum: opGetInfo, Stub: getInfoStub(t, "", 100), NDR20LittleEndian: true}, true},
		{dcerpc.Call{Opnum: opGetInfo, Stub: getInfoStub(t, "srv", 101), NDR20LittleEndian: true}, true},
		{dcerpc.Call{Opnum: opGetInfo, Stub: getInfoStub(t, "", 102), NDR20LittleEndian: true}, false},
		{dcerpc.Call{Opnum: opGetInfo, Stub: getInfoStub(t, "", 502), NDR20LittleEndian: true}, false},
		{dcerpc.Call{Opnum: opGetInfo, Stub: getInfoStub(t, "", 100)}, false},
		{dcerpc.Call{Opnum: opGetInfo, Stub: []byte{1, 2, 3}, NDR20LittleEndian: true}, false},
		{dcerpc.Call{Opnum: opGetJoinInformation}, true},
		{dcerpc.Call{Opnum: 31, NDR20LittleEndian: true}, false}, // NetrJoinDomain3
		{dcerpc.Call{Opnum: 2, NDR20LittleEndian: true}, false},  // NetrWkstaUserEnum
	} {
		if got := inline(tc.call); got != tc.want {
			t.Errorf("opnum %d level stub % x: inline %v", tc.call.Opnum, tc.call.Stub, got)
		}
	}
}

// FuzzFastGetInfo: whatever stub the fast handler serves, the generated
// handle decodes to the same request and answers with the same bytes.
func FuzzFastGetInfo(f *testing.F) {
	f.Add(getInfoStub(f, "", 100))
	f.Add(getInfoStub(f, `\\host`, 100))
	f.Add(getInfoStub(f, "x", 101))
	s := New(Config{Names: ipc.StaticNames{NetBIOS: "WKHOST"}, Logger: quietLogger()})
	ctx := callCtx(userIdentity)
	f.Fuzz(func(t *testing.T, stub []byte) {
		inline(dcerpc.Call{Opnum: opGetInfo, Stub: stub, NDR20LittleEndian: true})
		got, ok := s.fast(ctx, opGetInfo, stub)
		if !ok {
			return
		}
		want, ok := slowPath(t, s, ctx, stub)
		if !ok {
			t.Fatalf("fast handler served % x, which the generated handle refuses", stub)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("stub % x:\nfast     %x\ngo-msrpc %x", stub, got, want)
		}
	})
}

func BenchmarkGetInfo(b *testing.B) {
	s := New(Config{Names: ipc.StaticNames{NetBIOS: "WKHOST"}, Logger: quietLogger()})
	ctx := callCtx(userIdentity)
	stub := getInfoStub(b, "", 100)
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, ok := s.fast(ctx, opGetInfo, stub); !ok {
				b.Fatal("not served")
			}
		}
	})
	b.Run("go-msrpc", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, ok := slowPath(b, s, ctx, stub); !ok {
				b.Fatal("not served")
			}
		}
	})
}
