package wkssvc

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	wkst "github.com/oiweiwei/go-msrpc/msrpc/wkst/wkssvc/v1"
	"github.com/oiweiwei/go-msrpc/ndr"

	"github.com/wkssvcd/wkssvcd/server/dcerpc"
	"github.com/wkssvcd/wkssvcd/server/ipc"
)

// Hand-built PDUs for a pipe client (C706 12.6.4), little-endian.

func pduHeader(ptype uint8, bodyLen int, callID uint32) []byte {
	b := []byte{5, 0, ptype, 3, 0x10, 0, 0, 0}
	b = binary.LittleEndian.AppendUint16(b, uint16(16+bodyLen))
	b = binary.LittleEndian.AppendUint16(b, 0)
	return binary.LittleEndian.AppendUint32(b, callID)
}

func wkssvcBind() []byte {
	var body []byte
	body = binary.LittleEndian.AppendUint16(body, 4280)
	body = binary.LittleEndian.AppendUint16(body, 4280)
	body = binary.LittleEndian.AppendUint32(body, 0)
	body = append(body, 1, 0, 0, 0) // one context
	body = append(body, 0, 0, 1, 0) // p_cont_id 0, one transfer syntax
	u := wkst.WkssvcSyntaxUUID
	body = binary.LittleEndian.AppendUint32(body, u.TimeLow)
	body = binary.LittleEndian.AppendUint16(body, u.TimeMid)
	body = binary.LittleEndian.AppendUint16(body, u.TimeHiAndVersion)
	body = append(body, u.ClockSeqHiAndReserved, u.ClockSeqLow)
	body = append(body, u.Node[:]...)
	body = binary.LittleEndian.AppendUint32(body, 1) // v1.0
	// NDR 8a885d04-1ceb-11c9-9fe8-08002b104860 v2
	body = append(body, 0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11, 0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60)
	body = binary.LittleEndian.AppendUint32(body, 2)
	return append(pduHeader(11, len(body), 1), body...)
}

func wkssvcRequest(callID uint32, opnum uint16, stub []byte) []byte {
	var body []byte
	body = binary.LittleEndian.AppendUint32(body, uint32(len(stub)))
	body = binary.LittleEndian.AppendUint16(body, 0)
	body = binary.LittleEndian.AppendUint16(body, opnum)
	body = append(body, stub...)
	return append(pduHeader(0, len(body), callID), body...)
}

func readMsg(t *testing.T, p ipc.Pipe) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m, err := p.ReadMessage(ctx)
	if err != nil {
		t.Fatalf("ReadMessage: %v", err)
	}
	return m
}

// TestNamedPipeGetJoinInformation runs NetrGetJoinInformation over a
// pipe open, where the protocol sequence is ncacn_np and the spec's
// transport rule (MS-WKST 3.2.4.12) lets it through.
func TestNamedPipeGetJoinInformation(t *testing.T) {
	cfg := testConfig()
	cfg.AllowAnyProtocolSequence = false
	rt := dcerpc.NewServer(dcerpc.Config{Logger: quietLogger()})
	rt.Register(PipeName, Interfaces(New(cfg))...)
	if !rt.HasPipe("wkssvc") {
		t.Fatal("wkssvc pipe not registered")
	}
	p, err := rt.OpenPipe(context.Background(), ipc.OpenInfo{Pipe: "wkssvc", Identity: userIdentity})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Write(context.Background(), wkssvcBind()); err != nil {
		t.Fatal(err)
	}
	if ack := readMsg(t, p); ack[2] != 12 {
		t.Fatalf("bind answered with PDU type %d", ack[2])
	}
	stub, err := ndr.Marshal(&wkst.GetJoinInformationRequest{ServerName: `\\wkhost`, NameBuffer: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Write(context.Background(), wkssvcRequest(2, 20, stub)); err != nil {
		t.Fatal(err)
	}
	m := readMsg(t, p)
	if m[2] != 2 || m[3]&3 != 3 {
		t.Fatalf("response PDU type %d flags %x", m[2], m[3])
	}
	var resp wkst.GetJoinInformationResponse
	if err := ndr.Unmarshal(m[24:], &resp); err != nil {
		t.Fatalf("response stub: %v", err)
	}
	if resp.Return != 0 || resp.NameBuffer != "EXAMPLE" || resp.BufferType != wkst.NetSetupJoinStatusDomainName {
		t.Fatalf("response %+v", resp)
	}
}
