package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/oiweiwei/go-msrpc/dcerpc"
	"github.com/oiweiwei/go-msrpc/msrpc/dtyp"
	srvs "github.com/oiweiwei/go-msrpc/msrpc/srvs/srvsvc/v3"
	"github.com/oiweiwei/go-msrpc/smb2"
	"github.com/oiweiwei/go-msrpc/ssp"
	"github.com/oiweiwei/go-msrpc/ssp/credential"
	"github.com/oiweiwei/go-msrpc/ssp/gssapi"
)

// The share list and server information through srvsvc, with go-msrpc at
// NDR and NDR64.
func TestGoMSRPCSrvsvc(t *testing.T) {
	startDaemon(t)
	eachSyntax(t, func(t *testing.T, s syntax) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		sec := []gssapi.ContextOption{
			gssapi.WithCredential(credential.NewFromPassword(plainUser, plainPass)),
			gssapi.WithMechanismFactory(ssp.SPNEGO),
			gssapi.WithMechanismFactory(ssp.NTLM),
		}
		ctx = gssapi.NewSecurityContext(ctx, sec...)
		conn, err := dcerpc.Dial(ctx, "ncacn_np:"+daemonAddr+"[srvsvc]",
			dcerpc.WithSMBDialer(smb2.NewDialer(smb2.WithSign(), smb2.WithSecurity(sec...))))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		cli, err := srvs.NewSrvsvcClient(ctx, conn, append([]dcerpc.Option{dcerpc.WithInsecure()}, s.bindOptions()...)...)
		if err != nil {
			t.Fatal(err)
		}
		enum, err := cli.ShareEnum(ctx, &srvs.ShareEnumRequest{Info: &srvs.ShareEnum{Level: 1,
			ShareInfo: &srvs.ShareEnumUnion{Value: &srvs.ShareEnumUnion_Level1{Level1: &srvs.ShareInfo1Container{}}}},
			PreferredMaximumLength: 0xffffffff})
		if err != nil {
			t.Fatalf("NetrShareEnum: %v", err)
		}
		l1 := enum.Info.ShareInfo.GetValue().(*srvs.ShareInfo1Container)
		if enum.TotalEntries != 1 || len(l1.Buffer) != 1 || l1.Buffer[0].NetworkName != "IPC$" || l1.Buffer[0].Type != 0x80000003 {
			t.Errorf("NetrShareEnum level 1: %+v %+v", enum, l1)
		}
		info, err := cli.GetInfo(ctx, &srvs.GetInfoRequest{Level: 101})
		if err != nil {
			t.Fatalf("NetrServerGetInfo: %v", err)
		}
		if v, ok := info.Info.GetValue().(*dtyp.ServerInfo101); !ok || v.Name != netbios || v.PlatformID != 500 {
			t.Errorf("NetrServerGetInfo 101: %+v", info.Info.GetValue())
		}
	})
}

// The same through impacket 0.10's srvs helpers, at NDR and NDR64.
func TestImpacketSrvsvc(t *testing.T) {
	startDaemon(t)
	eachSyntax(t, func(t *testing.T, s syntax) {
		out, err := python(t, "impacket_srvsvc.py", daemonAddr, "445", plainUser, plainPass, s.String())
		if err != nil {
			t.Fatalf("impacket: %v\n%s", err, out)
		}
		kv := parseKV(out)
		if len(lines(out, "share=IPC$ type=0x80000003")) != 1 || len(lines(out, "share=")) != 1 {
			t.Errorf("share list:\n%s", out)
		}
		if kv["server"] != netbios || kv["getinfo_ipc"] != "0x80000003" {
			t.Errorf("answers:\n%s", out)
		}
	})
}
