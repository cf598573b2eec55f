package wkssvc

import (
	"context"

	wkst "github.com/oiweiwei/go-msrpc/msrpc/wkst/wkssvc/v1"
)

// Helpers of the enumerations.

// The enumerations below answer their [in, out] structure with an empty
// container of the requested level instead of echoing the client's: a
// request may carry an entry count with no entries, and encoding that
// count back would make the server write billions of empty entries.

func emptyUserEnum(in *wkst.WorkstationUserEnum) *wkst.WorkstationUserEnum {
	if in != nil && in.Level == 1 {
		return &wkst.WorkstationUserEnum{Level: 1, WorkstationUserInfo: &wkst.WorkstationUserEnum_WorkstationUserInfo{
			Value: &wkst.WorkstationUserInfo_Level1{Level1: &wkst.WorkstationUserInfo1Container{}}}}
	}
	return &wkst.WorkstationUserEnum{WorkstationUserInfo: &wkst.WorkstationUserEnum_WorkstationUserInfo{
		Value: &wkst.WorkstationUserInfo_Level0{Level0: &wkst.WorkstationUserInfo0Container{}}}}
}

func emptyTransportEnum() *wkst.WorkstationTransportEnum {
	return &wkst.WorkstationTransportEnum{WorkstationTransportInfo: &wkst.WorkstationTransportEnum_WorkstationTransportInfo{
		Value: &wkst.WorkstationTransportInfo_Level0{Level0: &wkst.WorkstationTransportInfo0Container{}}}}
}

func emptyUseEnum(in *wkst.UseEnum) *wkst.UseEnum {
	level := uint32(0)
	if in != nil {
		level = in.Level
	}
	switch level {
	case 1:
		return &wkst.UseEnum{Level: 1, UseInfo: &wkst.UseEnum_UseInfo{Value: &wkst.UseInfo_Level1{Level1: &wkst.UseInfo1Container{}}}}
	case 2:
		return &wkst.UseEnum{Level: 2, UseInfo: &wkst.UseEnum_UseInfo{Value: &wkst.UseInfo_Level2{Level2: &wkst.UseInfo2Container{}}}}
	}
	return &wkst.UseEnum{UseInfo: &wkst.UseEnum_UseInfo{Value: &wkst.UseInfo_Level0{Level0: &wkst.UseInfo0Container{}}}}
}

// AddAlternateComputerName is NetrAddAlternateComputerName (MS-WKST
// 3.2.4.18).
func (s *Server) AddAlternateComputerName(ctx context.Context, req *wkst.AddAlternateComputerNameRequest) (*wkst.AddAlternateComputerNameResponse, error) {
	return &wkst.AddAlternateComputerNameResponse{Return: s.changeNotSupported(ctx)}, nil
}

// RemoveAlternateComputerName is NetrRemoveAlternateComputerName
// (MS-WKST 3.2.4.19).
func (s *Server) RemoveAlternateComputerName(ctx context.Context, req *wkst.RemoveAlternateComputerNameRequest) (*wkst.RemoveAlternateComputerNameResponse, error) {
	return &wkst.RemoveAlternateComputerNameResponse{Return: s.changeNotSupported(ctx)}, nil
}

// SetPrimaryComputerName is NetrSetPrimaryComputerName (MS-WKST
// 3.2.4.20).
func (s *Server) SetPrimaryComputerName(ctx context.Context, req *wkst.SetPrimaryComputerNameRequest) (*wkst.SetPrimaryComputerNameResponse, error) {
	return &wkst.SetPrimaryComputerNameResponse{Return: s.changeNotSupported(ctx)}, nil
}

// EnumerateComputerNames is NetrEnumerateComputerNames (MS-WKST
// 3.2.4.21).
func (s *Server) EnumerateComputerNames(ctx context.Context, req *wkst.EnumerateComputerNamesRequest) (*wkst.EnumerateComputerNamesResponse, error) {
	return &wkst.EnumerateComputerNamesResponse{Return: s.changeNotSupported(ctx)}, nil
}

// AddAlternateComputerName2 is NetrAddAlternateComputerName2 (MS-WKST
// 3.2.4.26).
func (s *Server) AddAlternateComputerName2(ctx context.Context, req *wkst.AddAlternateComputerName2Request) (*wkst.AddAlternateComputerName2Response, error) {
	return &wkst.AddAlternateComputerName2Response{Return: s.changeNotSupported(ctx)}, nil
}

// RemoveAlternateComputerName2 is NetrRemoveAlternateComputerName2
// (MS-WKST 3.2.4.27).
func (s *Server) RemoveAlternateComputerName2(ctx context.Context, req *wkst.RemoveAlternateComputerName2Request) (*wkst.RemoveAlternateComputerName2Response, error) {
	return &wkst.RemoveAlternateComputerName2Response{Return: s.changeNotSupported(ctx)}, nil
}

// SetPrimaryComputerName2 is NetrSetPrimaryComputerName2 (MS-WKST
// 3.2.4.28).
func (s *Server) SetPrimaryComputerName2(ctx context.Context, req *wkst.SetPrimaryComputerName2Request) (*wkst.SetPrimaryComputerName2Response, error) {
	return &wkst.SetPrimaryComputerName2Response{Return: s.changeNotSupported(ctx)}, nil
}

// changeNotSupported is the answer of the computer-name methods, which
// require administrator rights (MS-WKST 3.2.4.18-3.2.4.21): access denied
// for others, ERROR_NOT_SUPPORTED for administrators.
func (s *Server) changeNotSupported(ctx context.Context) uint32 {
	if !canChange(caller(ctx)) {
		return errAccessDenied
	}
	return errNotSupported
}
