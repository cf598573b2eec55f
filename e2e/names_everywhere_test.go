package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/oiweiwei/go-msrpc/dcerpc"
	"github.com/oiweiwei/go-msrpc/msrpc/dtyp"
	srvs "github.com/oiweiwei/go-msrpc/msrpc/srvs/srvsvc/v3"
	"github.com/oiweiwei/go-msrpc/smb2"
	"github.com/oiweiwei/go-msrpc/ssp"
	"github.com/oiweiwei/go-msrpc/ssp/credential"
	"github.com/oiweiwei/go-msrpc/ssp/gssapi"

	"github.com/wkssvcd/wkssvcd/internal/smbprobe"
)

// ntlmTargetNames are the NetBIOS and DNS computer names the daemon's
// NTLM CHALLENGE_MESSAGE announces in its target information
// (MsvAvNbComputerName, MsvAvDnsComputerName; MS-NLMP 2.2.2.1).
func ntlmTargetNames(t *testing.T, d *daemon) (nb, dns string) {
	t.Helper()
	c := probe(t, d)
	st, _, tok, err := c.SessionSetup(0, smbprobe.NTLMNegotiate())
	if err != nil || st != smbprobe.StatusMoreProcessingRequired {
		t.Fatalf("NTLM NEGOTIATE: %08x %v", st, err)
	}
	i := bytes.Index(tok, []byte("NTLMSSP\x00\x02\x00\x00\x00"))
	if i < 0 || len(tok) < i+48 {
		t.Fatalf("no CHALLENGE_MESSAGE in %x", tok)
	}
	msg := tok[i:]
	n, off := int(binary.LittleEndian.Uint16(msg[40:])), int(binary.LittleEndian.Uint32(msg[44:]))
	if off+n > len(msg) {
		t.Fatalf("TargetInfo out of the message: %d+%d > %d", off, n, len(msg))
	}
	info := msg[off : off+n]
	str := func(b []byte) string {
		u := make([]uint16, len(b)/2)
		for k := range u {
			u[k] = binary.LittleEndian.Uint16(b[2*k:])
		}
		return string(utf16.Decode(u))
	}
	for len(info) >= 4 {
		id, l := binary.LittleEndian.Uint16(info), int(binary.LittleEndian.Uint16(info[2:]))
		if id == 0 || len(info) < 4+l {
			break
		}
		switch id {
		case 1:
			nb = str(info[4 : 4+l])
		case 3:
			dns = str(info[4 : 4+l])
		}
		info = info[4+l:]
	}
	return nb, dns
}

// srvsvcName is the server name srvsvc's NetrServerGetInfo level 101
// answers, asked with go-msrpc.
func srvsvcName(t *testing.T, d *daemon) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sec := []gssapi.ContextOption{
		gssapi.WithCredential(credential.NewFromPassword(plainUser, plainPass)),
		gssapi.WithMechanismFactory(ssp.SPNEGO),
		gssapi.WithMechanismFactory(ssp.NTLM),
	}
	ctx = gssapi.NewSecurityContext(ctx, sec...)
	conn, err := dcerpc.Dial(ctx, "ncacn_np:"+d.host()+"[srvsvc]",
		dcerpc.WithSMBDialer(smb2.NewDialer(smb2.WithSign(), smb2.WithSecurity(sec...))))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	cli, err := srvs.NewSrvsvcClient(ctx, conn, dcerpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	info, err := cli.GetInfo(ctx, &srvs.GetInfoRequest{Level: 101})
	if err != nil {
		t.Fatalf("NetrServerGetInfo: %v", err)
	}
	v, ok := info.Info.GetValue().(*dtyp.ServerInfo101)
	if !ok {
		t.Fatalf("NetrServerGetInfo 101: %+v", info.Info.GetValue())
	}
	return v.Name
}
