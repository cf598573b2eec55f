package wkssvc

import (
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
