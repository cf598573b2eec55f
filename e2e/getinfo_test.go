package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/oiweiwei/go-msrpc/msrpc/wkst/wkssvc/v1"
	"github.com/oiweiwei/go-msrpc/smb2"
)

const errorAccessDenied = 5

// NetrWkstaGetInfo with go-msrpc at every dialect, signed, and with SMB3
// encryption where the dialect has it; at NDR and NDR64; through the
// recording proxy: the signatures and the encryption are checked on the
// wire, not only by the client (go-smb2 accepts signed plaintext answers to
// encrypted requests).
func TestGoMSRPCGetInfoEveryDialect(t *testing.T) {
	d := startDaemon(t)
	tap := startTap(t, d)
	cases := []struct {
		name    string
		dialect smb2.Dialect
		seal    bool
	}{
		{"2.0.2", smb2.SMB202, false},
		{"2.1", smb2.SMB210, false},
		{"3.0", smb2.SMB300, false},
		{"3.0.2", smb2.SMB302, false},
		{"3.1.1", smb2.SMB311, false},
		{"3.0/encrypted", smb2.SMB300, true},
		{"3.0.2/encrypted", smb2.SMB302, true},
		{"3.1.1/encrypted", smb2.SMB311, true},
		{"negotiated", 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			eachSyntax(t, func(t *testing.T, s syntax) {
				before := tap.Stats()
				c, err := dialMSRPC(t, tapHost, adminUser, adminPass, tc.dialect, tc.seal, s)
				if err != nil {
					t.Fatalf("dial: %v", err)
				}
				defer expectWire(t, tap, before, tc.seal)
				resp, err := c.cli.GetInfo(c.ctx, &wkssvc.GetInfoRequest{ServerName: `\\` + daemonAddr, Level: 100})
				if err != nil {
					t.Fatalf("GetInfo: %v", err)
				}
				if resp.Return != 0 {
					t.Fatalf("GetInfo returned %#x", resp.Return)
				}
				v, ok := resp.WorkstationInfo.GetValue().(*wkssvc.WorkstationInfo100)
				if !ok {
					t.Fatalf("level 100 answer is %T", resp.WorkstationInfo.GetValue())
				}
				if v.PlatformID != 500 || v.ComputerName != netbios || v.LANGroup != "WORKGROUP" {
					t.Errorf("level 100 = %+v", v)
				}
				if k := c.sessionKey(); len(k) != 16 {
					t.Errorf("client session key has %d bytes", len(k))
				}
			})
		})
	}
	if strings.Contains(d.Output(), adminPass) {
		t.Error("the daemon's output contains the administrator password")
	}
}

// Levels and their access rules (MS-WKST 3.2.4.1) through a real client,
// at NDR and NDR64.
func TestGoMSRPCGetInfoLevels(t *testing.T) {
	startDaemon(t)
	eachSyntax(t, func(t *testing.T, s syntax) { getInfoLevels(t, s) })
}

func getInfoLevels(t *testing.T, s syntax) {
	admin, err := dialMSRPC(t, daemonAddr, adminUser, adminPass, 0, false, s)
	if err != nil {
		t.Fatal(err)
	}
	user, err := dialMSRPC(t, daemonAddr, plainUser, plainPass, 0, false, s)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		who   string
		c     *msrpcClient
		level uint32
		want  uint32
	}{
		{"admin", admin, 100, 0}, {"admin", admin, 101, 0}, {"admin", admin, 102, 0}, {"admin", admin, 502, 0},
		{"user", user, 100, 0}, {"user", user, 101, 0}, {"user", user, 102, errorAccessDenied}, {"user", user, 502, errorAccessDenied},
		{"admin", admin, 7, 0x7c}, // ERROR_INVALID_LEVEL
	} {
		t.Run(fmt.Sprintf("%s/%d", tc.who, tc.level), func(t *testing.T) {
			// go-msrpc turns a non-zero return into an error naming the code.
			_, err := tc.c.cli.GetInfo(tc.c.ctx, &wkssvc.GetInfoRequest{Level: tc.level})
			if tc.want == 0 && err != nil {
				t.Fatal(err)
			}
			if tc.want != 0 && (err == nil || !strings.Contains(err.Error(), fmt.Sprintf("(0x%08x)", tc.want))) {
				t.Fatalf("got %v, want return %#x", err, tc.want)
			}
		})
	}
	resp, err := user.cli.GetJoinInformation(user.ctx, &wkssvc.GetJoinInformationRequest{})
	if err != nil {
		t.Fatal(err)
	}
	// MS-WKST 3.2.1.1: authenticated users may query; the answer is the
	// same as an administrator's.
	if resp.Return != 0 || resp.NameBuffer != "WORKGROUP" || resp.BufferType != wkssvc.NetSetupJoinStatusWorkgroupName {
		t.Errorf("GetJoinInformation as non-admin = %+v, want WORKGROUP", resp)
	}
	resp, err = admin.cli.GetJoinInformation(admin.ctx, &wkssvc.GetJoinInformationRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Return != 0 || resp.NameBuffer != "WORKGROUP" || resp.BufferType != wkssvc.NetSetupJoinStatusWorkgroupName {
		t.Errorf("GetJoinInformation = %+v", resp)
	}
}

func TestWrongPasswordIsLogonFailure(t *testing.T) {
	startDaemon(t)
	_, err := dialMSRPC(t, daemonAddr, adminUser, "wrong-password", 0, false)
	if err == nil {
		t.Fatal("dial with a wrong password succeeded")
	}
	// go-smb2 words STATUS_LOGON_FAILURE as MS-ERREF's description of it.
	if !strings.Contains(err.Error(), "The attempted logon is invalid") {
		t.Errorf("error %q does not say logon failure", err)
	}
}
