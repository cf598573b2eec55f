package e2e

import (
	"context"
	"reflect"
	"testing"

	"github.com/oiweiwei/go-msrpc/msrpc/wkst/wkssvc/v1"
	"github.com/oiweiwei/go-msrpc/smb2"

	"github.com/wkssvcd/wkssvcd/joinlogic"
)

// gomsrpcCall is one call of the go-msrpc table: it returns the Win32 code.
type gomsrpcCall struct {
	name string
	want expect
	do   func(ctx context.Context, c wkssvc.WkssvcClient) (uint32, error)
}

// ret picks the Return member of any go-msrpc response (0 when nil).
func ret(resp any, err error) (uint32, error) {
	v := reflect.ValueOf(resp)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return 0, err
	}
	return uint32(v.Elem().FieldByName("Return").Uint()), err
}

func zeroRC4() *wkssvc.EncryptedUserPassword {
	return &wkssvc.EncryptedUserPassword{Buffer: make([]byte, 524)}
}

func zeroAES() *wkssvc.EncryptedUserPasswordAES {
	return &wkssvc.EncryptedUserPasswordAES{AuthData: make([]byte, 64), Salt: make([]byte, 16), CipherLength: 16, Cipher: make([]byte, 16)}
}

// gomsrpcTable is the go-msrpc counterpart of wkstTable, with the "3"
// methods impacket lacks.
func gomsrpcTable() []gomsrpcCall {
	userEnum := func(level uint32) func(context.Context, wkssvc.WkssvcClient) (uint32, error) {
		return func(ctx context.Context, c wkssvc.WkssvcClient) (uint32, error) {
			info := &wkssvc.WorkstationUserEnum{Level: level, WorkstationUserInfo: &wkssvc.WorkstationUserEnum_WorkstationUserInfo{
				Value: &wkssvc.WorkstationUserInfo_Level0{Level0: &wkssvc.WorkstationUserInfo0Container{}}}}
			if level == 1 {
				info.WorkstationUserInfo.Value = &wkssvc.WorkstationUserInfo_Level1{Level1: &wkssvc.WorkstationUserInfo1Container{}}
			}
			return ret(c.UserEnum(ctx, &wkssvc.UserEnumRequest{UserInfo: info, PreferredMaximumLength: 0xFFFFFFFF}))
		}
	}
	getInfo := func(level uint32) func(context.Context, wkssvc.WkssvcClient) (uint32, error) {
		return func(ctx context.Context, c wkssvc.WkssvcClient) (uint32, error) {
			return ret(c.GetInfo(ctx, &wkssvc.GetInfoRequest{Level: level}))
		}
	}
	return []gomsrpcCall{
		{"NetrWkstaGetInfo/100", expect{ok, ok, denied}, getInfo(100)},
		{"NetrWkstaGetInfo/102", expect{ok, denied, denied}, getInfo(102)},
		{"NetrWkstaGetInfo/502", expect{ok, denied, denied}, getInfo(502)},
		{"NetrWkstaSetInfo/1018", expect{ok, denied, denied}, func(ctx context.Context, c wkssvc.WkssvcClient) (uint32, error) {
			return ret(c.SetInfo(ctx, &wkssvc.SetInfoRequest{Level: 1018, WorkstationInfo: &wkssvc.WorkstationInfo{
				Value: &wkssvc.WorkstationInfo_1018{WorkstationInfo1018: &wkssvc.WorkstationInfo1018{SessTimeout: 60}}}}))
		}},
		{"NetrWkstaUserEnum/0", expect{ok, denied, denied}, userEnum(0)},
		{"NetrWkstaUserEnum/1", expect{ok, denied, denied}, userEnum(1)},
		{"NetrWkstaTransportEnum/0", expect{ok, ok, ok}, func(ctx context.Context, c wkssvc.WkssvcClient) (uint32, error) {
			return ret(c.TransportEnum(ctx, &wkssvc.TransportEnumRequest{TransportInfo: &wkssvc.WorkstationTransportEnum{
				WorkstationTransportInfo: &wkssvc.WorkstationTransportEnum_WorkstationTransportInfo{Value: &wkssvc.WorkstationTransportInfo_Level0{Level0: &wkssvc.WorkstationTransportInfo0Container{}}}},
				PreferredMaximumLength: 0xFFFFFFFF}))
		}},
		{"NetrWkstaTransportAdd", expect{badFunction, denied, denied}, func(ctx context.Context, c wkssvc.WkssvcClient) (uint32, error) {
			return ret(c.TransportAdd(ctx, &wkssvc.TransportAddRequest{TransportInfo: &wkssvc.WorkstationTransportInfo0{TransportName: "x", TransportAddress: "000C29BC5CE5"}}))
		}},
		{"NetrWkstaTransportDel", expect{badFunction, denied, denied}, func(ctx context.Context, c wkssvc.WkssvcClient) (uint32, error) {
			return ret(c.TransportDelete(ctx, &wkssvc.TransportDeleteRequest{TransportName: "x", ForceLevel: 2}))
		}},
		{"NetrUseGetInfo/1", expect{useNotFound, useNotFound, denied}, func(ctx context.Context, c wkssvc.WkssvcClient) (uint32, error) {
			return ret(c.UseGetInfo(ctx, &wkssvc.UseGetInfoRequest{UseName: "X:", Level: 1}))
		}},
		{"NetrUseEnum/1", expect{ok, ok, denied}, func(ctx context.Context, c wkssvc.WkssvcClient) (uint32, error) {
			return ret(c.UseEnum(ctx, &wkssvc.UseEnumRequest{Info: &wkssvc.UseEnum{Level: 1, UseInfo: &wkssvc.UseEnum_UseInfo{
				Value: &wkssvc.UseInfo_Level1{Level1: &wkssvc.UseInfo1Container{}}}}, PreferredMaximumLength: 0xFFFFFFFF}))
		}},
		{"NetrWorkstationStatisticsGet", expect{ok, ok, denied}, func(ctx context.Context, c wkssvc.WkssvcClient) (uint32, error) {
			return ret(c.WorkstationStatisticsGet(ctx, &wkssvc.WorkstationStatisticsGetRequest{}))
		}},
		{"NetrGetJoinInformation", expect{ok, ok, denied}, func(ctx context.Context, c wkssvc.WkssvcClient) (uint32, error) {
			return ret(c.GetJoinInformation(ctx, &wkssvc.GetJoinInformationRequest{}))
		}},
		{"NetrJoinDomain3", expect{badPassword, denied, denied}, func(ctx context.Context, c wkssvc.WkssvcClient) (uint32, error) {
			return ret(c.JoinDomain3(ctx, &wkssvc.JoinDomain3Request{DomainNameParam: "example.test", Password: zeroAES(), Options: 3}))
		}},
		{"NetrUnjoinDomain3", expect{badPassword, denied, denied}, func(ctx context.Context, c wkssvc.WkssvcClient) (uint32, error) {
			return ret(c.UnjoinDomain3(ctx, &wkssvc.UnjoinDomain3Request{Password: zeroAES(), Options: 4}))
		}},
		{"NetrRenameMachineInDomain3", expect{badPassword, denied, denied}, func(ctx context.Context, c wkssvc.WkssvcClient) (uint32, error) {
			return ret(c.RenameMachineInDomain3(ctx, &wkssvc.RenameMachineInDomain3Request{MachineName: "NEWNAME", Password: zeroAES(), Options: 2}))
		}},
		{"NetrValidateName3", expect{remoteOff, remoteOff, remoteOff}, func(ctx context.Context, c wkssvc.WkssvcClient) (uint32, error) {
			return ret(c.ValidateName3(ctx, &wkssvc.ValidateName3Request{NameToValidate: "LABGROUP", NameType: wkssvc.NetSetupNameTypeWorkgroup}))
		}},
		{"NetrGetJoinableOUs2", expect{remoteOff, remoteOff, remoteOff}, func(ctx context.Context, c wkssvc.WkssvcClient) (uint32, error) {
			return ret(c.GetJoinableOUs2(ctx, &wkssvc.GetJoinableOUs2Request{DomainNameParam: "example.test"}))
		}},
		{"NetrAddAlternateComputerName2", expect{badNameChar, denied, denied}, func(ctx context.Context, c wkssvc.WkssvcClient) (uint32, error) {
			return ret(c.AddAlternateComputerName2(ctx, &wkssvc.AddAlternateComputerName2Request{AlternateName: "bad name"}))
		}},
		{"NetrRemoveAlternateComputerName2", expect{notFound, denied, denied}, func(ctx context.Context, c wkssvc.WkssvcClient) (uint32, error) {
			return ret(c.RemoveAlternateComputerName2(ctx, &wkssvc.RemoveAlternateComputerName2Request{AlternateName: "absent.example.test"}))
		}},
		{"NetrSetPrimaryComputerName2", expect{notFound, denied, denied}, func(ctx context.Context, c wkssvc.WkssvcClient) (uint32, error) {
			return ret(c.SetPrimaryComputerName2(ctx, &wkssvc.SetPrimaryComputerName2Request{PrimaryName: "absent.example.test"}))
		}},
		{"NetrEnumerateComputerNames", expect{ok, denied, denied}, func(ctx context.Context, c wkssvc.WkssvcClient) (uint32, error) {
			return ret(c.EnumerateComputerNames(ctx, &wkssvc.EnumerateComputerNamesRequest{NameType: wkssvc.NetComputerNameTypePrimaryComputerName}))
		}},
	}
}

// TestGoMSRPCWkstTable makes the calls of gomsrpcTable with go-msrpc over
// SMB 3.1.1 as an administrator, a plain user and anonymously, bound with
// NDR and with NDR64: opnum x caller x syntax in the subtest names.
func TestGoMSRPCWkstTable(t *testing.T) {
	startDaemon(t)
	for _, who := range []caller{asAdmin, asPlain, asAnon} {
		eachSyntax(t, func(t *testing.T, s syntax) {
			t.Run(who.name, func(t *testing.T) {
				c, err := dialMSRPC(t, daemonAddr, who.user, who.pass, smb2.SMB311, false, s)
				if err != nil {
					t.Fatal(err)
				}
				for _, call := range gomsrpcTable() {
					t.Run(call.name, func(t *testing.T) {
						r, err := call.do(c.ctx, c.cli)
						got := returnCodeAny(t, r, err)
						if want := uint32(call.want.of(who)); got != want {
							t.Errorf("%s as %s: %v, want %v", call.name, who.name, joinlogic.Code(got), joinlogic.Code(want))
						}
					})
				}
			})
		})
	}
}
