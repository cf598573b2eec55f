package netlogon

import (
	"context"
	"errors"
	"strconv"

	"github.com/oiweiwei/go-msrpc/dcerpc"
	"github.com/oiweiwei/go-msrpc/msrpc/dcetypes"
	"github.com/oiweiwei/go-msrpc/msrpc/dtyp"
	"github.com/oiweiwei/go-msrpc/msrpc/epm/epm/v3"
	"github.com/oiweiwei/go-msrpc/msrpc/nrpc/logon/v1"
)

// netlogonPort asks the DC's endpoint mapper (port 135, C706 appendix O)
// for the TCP port of the Netlogon interface. The answer is filtered by
// interface here: Samba's mapper returns every registered entry whatever
// the inquiry asks for, and go-msrpc's own mapper then takes the first
// TCP entry, which may belong to another interface.
func netlogonPort(ctx context.Context, addr string) (string, error) {
	conn, err := dcerpc.Dial(ctx, "ncacn_ip_tcp:"+addr+"[135]")
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	cli, err := epm.NewEpmClient(ctx, conn, dcerpc.WithInsecure())
	if err != nil {
		return "", err
	}
	want := logon.LogonSyntaxV1_0
	resp, err := cli.Lookup(ctx, &epm.LookupRequest{
		InquiryType: 0x00000001, // RPC_C_EP_MATCH_BY_IF
		VersOption:  0x00000003, // RPC_C_VERS_EXACT
		InterfaceID: &dcetypes.InterfaceID{UUID: dtyp.GUIDFromUUID(want.IfUUID), VersMajor: want.IfVersionMajor, VersMinor: want.IfVersionMinor},
		MaxEntries:  500,
	})
	if err != nil {
		return "", err
	}
	for _, e := range resp.Entries {
		if e == nil || e.Tower == nil {
			continue
		}
		b := e.Tower.Binding()
		if b == nil || b.SyntaxID.IfUUID == nil || !b.SyntaxID.IfUUID.Equals(want.IfUUID) ||
			b.StringBinding.ProtocolSequence != dcerpc.ProtocolSequenceIPTCP {
			continue
		}
		if _, err := strconv.Atoi(b.StringBinding.Endpoint); err == nil {
			return b.StringBinding.Endpoint, nil
		}
	}
	return "", errors.New("no ncacn_ip_tcp endpoint of Netlogon registered")
}
