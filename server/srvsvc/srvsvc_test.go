package srvsvc

import (
	"context"
	"testing"

	srvs "github.com/oiweiwei/go-msrpc/msrpc/srvs/srvsvc/v3"
	"github.com/oiweiwei/go-msrpc/ndr"

	"github.com/wkssvcd/wkssvcd/server/ipc"
)

func TestShareEnumListsOnlyIPC(t *testing.T) {
	s := New(Config{Names: ipc.StaticNames{NetBIOS: "WKHOST"}})
	for _, level := range []uint32{0, 1} {
		resp, err := s.ShareEnum(context.Background(), &srvs.ShareEnumRequest{Info: &srvs.ShareEnum{Level: level}})
		if err != nil || resp.Return != 0 || resp.TotalEntries != 1 {
			t.Fatalf("level %d: %v %+v", level, err, resp)
		}
		switch v := resp.Info.ShareInfo.GetValue().(type) {
		case *srvs.ShareInfo0Container:
			if v.Buffer[0].NetworkName != "IPC$" {
				t.Errorf("level 0: %+v", v.Buffer[0])
			}
		case *srvs.ShareInfo1Container:
			if v.Buffer[0].NetworkName != "IPC$" || v.Buffer[0].Type != 0x80000003 {
				t.Errorf("level 1: %+v", v.Buffer[0])
			}
		default:
			t.Errorf("level %d answered %T", level, v)
		}
	}
	resp, _ := s.ShareEnum(context.Background(), &srvs.ShareEnumRequest{Info: &srvs.ShareEnum{Level: 502}})
	if resp.Return != errorInvalidLevel {
		t.Errorf("level 502: %#x", resp.Return)
	}
	resp, _ = s.ShareEnum(context.Background(), &srvs.ShareEnumRequest{})
	if resp.Return != errorInvalidLevel {
		t.Errorf("no InfoStruct: %#x", resp.Return)
	}
}

func TestShareGetInfo(t *testing.T) {
	s := New(Config{Names: ipc.StaticNames{NetBIOS: "WKHOST"}})
	resp, _ := s.ShareGetInfo(context.Background(), &srvs.ShareGetInfoRequest{NetName: "ipc$", Level: 1})
	if resp.Return != 0 || resp.Info.GetValue().(*srvs.ShareInfo1).NetworkName != "IPC$" {
		t.Errorf("IPC$: %+v", resp)
	}
	resp, _ = s.ShareGetInfo(context.Background(), &srvs.ShareGetInfoRequest{NetName: "C$", Level: 1})
	if resp.Return != nerrNetNameNotFound {
		t.Errorf("C$: %#x", resp.Return)
	}
}

func TestServerGetInfo(t *testing.T) {
	s := New(Config{Names: ipc.StaticNames{NetBIOS: "WKHOST"}})
	resp, _ := s.GetInfo(context.Background(), &srvs.GetInfoRequest{Level: 101})
	if resp.Return != 0 || resp.Info.GetValue() == nil {
		t.Fatalf("101: %+v", resp)
	}
	resp, _ = s.GetInfo(context.Background(), &srvs.GetInfoRequest{Level: 102})
	if resp.Return != errorInvalidLevel {
		t.Errorf("102: %#x", resp.Return)
	}
}

// An unsupported level answers with no entries, whatever count the
// request's container claimed, and the answer encodes at once.
func TestShareEnumUnknownLevelDoesNotEchoTheRequest(t *testing.T) {
	s := New(Config{Names: ipc.StaticNames{NetBIOS: "WKHOST"}})
	req := &srvs.ShareEnumRequest{Info: &srvs.ShareEnum{Level: 502, ShareInfo: &srvs.ShareEnumUnion{
		Value: &srvs.ShareEnumUnion_Level502{Level502: &srvs.ShareInfo502Container{EntriesRead: 1 << 30}}}}}
	resp, err := s.ShareEnum(context.Background(), req)
	if err != nil || resp.Return != errorInvalidLevel {
		t.Fatalf("%v %+v", err, resp)
	}
	if resp.Info.ShareInfo != nil {
		t.Fatalf("the request's container came back: %+v", resp.Info.ShareInfo)
	}
	if _, err := ndr.Marshal(resp); err != nil {
		t.Fatal(err)
	}
}
