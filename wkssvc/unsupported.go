package wkssvc

import (
	"context"

	wkst "github.com/oiweiwei/go-msrpc/msrpc/wkst/wkssvc/v1"
)

// The methods below are not offered by this server. Where the spec has a
// cheap rule that comes first (an access check or a level check) it is
// applied; otherwise the method returns ERROR_NOT_SUPPORTED. In/out
// parameters are echoed so that the response marshals as the client
// expects.

// SetInfo is NetrWkstaSetInfo (MS-WKST 3.2.4.2): changing the
// configuration needs WKSTA_NETAPI_CHANGE_CONFIG; the settings are not
// changeable here.
func (s *Server) SetInfo(ctx context.Context, req *wkst.SetInfoRequest) (*wkst.SetInfoResponse, error) {
	if !canChange(caller(ctx)) {
		return &wkst.SetInfoResponse{ErrorParameter: req.ErrorParameter, Return: errAccessDenied}, nil
	}
	return &wkst.SetInfoResponse{ErrorParameter: req.ErrorParameter, Return: errNotSupported}, nil
}

// UserEnum is NetrWkstaUserEnum (MS-WKST 3.2.4.3).
func (s *Server) UserEnum(ctx context.Context, req *wkst.UserEnumRequest) (*wkst.UserEnumResponse, error) {
	return &wkst.UserEnumResponse{UserInfo: emptyUserEnum(req.UserInfo), Resume: req.Resume, Return: errNotSupported}, nil
}

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

// TransportEnum is NetrWkstaTransportEnum (MS-WKST 3.2.4.4).
func (s *Server) TransportEnum(ctx context.Context, req *wkst.TransportEnumRequest) (*wkst.TransportEnumResponse, error) {
	return &wkst.TransportEnumResponse{TransportInfo: emptyTransportEnum(), Resume: req.Resume, Return: errNotSupported}, nil
}

// TransportAdd is NetrWkstaTransportAdd (MS-WKST 3.2.4.5).
func (s *Server) TransportAdd(ctx context.Context, req *wkst.TransportAddRequest) (*wkst.TransportAddResponse, error) {
	if !canChange(caller(ctx)) {
		return &wkst.TransportAddResponse{ErrorParameter: req.ErrorParameter, Return: errAccessDenied}, nil
	}
	return &wkst.TransportAddResponse{ErrorParameter: req.ErrorParameter, Return: errNotSupported}, nil
}

// TransportDelete is NetrWkstaTransportDel (MS-WKST 3.2.4.6).
func (s *Server) TransportDelete(ctx context.Context, req *wkst.TransportDeleteRequest) (*wkst.TransportDeleteResponse, error) {
	if !canChange(caller(ctx)) {
		return &wkst.TransportDeleteResponse{Return: errAccessDenied}, nil
	}
	return &wkst.TransportDeleteResponse{Return: errNotSupported}, nil
}

// UseAdd is NetrUseAdd (MS-WKST 3.2.4.7).
func (s *Server) UseAdd(ctx context.Context, req *wkst.UseAddRequest) (*wkst.UseAddResponse, error) {
	return &wkst.UseAddResponse{ErrorParameter: req.ErrorParameter, Return: errNotSupported}, nil
}

// UseGetInfo is NetrUseGetInfo (MS-WKST 3.2.4.8).
func (s *Server) UseGetInfo(ctx context.Context, req *wkst.UseGetInfoRequest) (*wkst.UseGetInfoResponse, error) {
	return &wkst.UseGetInfoResponse{Level: req.Level, Return: errNotSupported}, nil
}

// UseDelete is NetrUseDel (MS-WKST 3.2.4.9).
func (s *Server) UseDelete(ctx context.Context, req *wkst.UseDeleteRequest) (*wkst.UseDeleteResponse, error) {
	return &wkst.UseDeleteResponse{Return: errNotSupported}, nil
}

// UseEnum is NetrUseEnum (MS-WKST 3.2.4.10).
func (s *Server) UseEnum(ctx context.Context, req *wkst.UseEnumRequest) (*wkst.UseEnumResponse, error) {
	return &wkst.UseEnumResponse{Info: emptyUseEnum(req.Info), Resume: req.Resume, Return: errNotSupported}, nil
}

// WorkstationStatisticsGet is NetrWorkstationStatisticsGet (MS-WKST
// 3.2.4.11).
func (s *Server) WorkstationStatisticsGet(ctx context.Context, req *wkst.WorkstationStatisticsGetRequest) (*wkst.WorkstationStatisticsGetResponse, error) {
	return &wkst.WorkstationStatisticsGetResponse{Return: errNotSupported}, nil
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
