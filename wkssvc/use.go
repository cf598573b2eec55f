package wkssvc

import (
	"context"
	"strings"

	wkst "github.com/oiweiwei/go-msrpc/msrpc/wkst/wkssvc/v1"

	"github.com/wkssvcd/wkssvcd/joinlogic"
)

// The Use methods (MS-WKST 3.2.4.7–3.2.4.10) manage the connections this
// computer's SMB redirector holds for a user: the UseTable, indexed by the
// caller's token. Windows exposes them to remote callers, but only local
// processes use them (<45>, <47>, <49>, <51>), and a caller that arrives
// over the network has no entry in it. This server has no redirector, so
// it answers as for such a caller: after the checks the specification
// makes first (access: administrators and users, <46>, <48>, <50>, <52>;
// level; parameters), NetrUseGetInfo and NetrUseDel find no connection
// (NERR_UseNotFound), NetrUseEnum lists none, and NetrUseAdd, which would
// make the redirector connect somewhere, is refused with the
// specification's answer to a remote call, ERROR_CALL_NOT_IMPLEMENTED.

// maxUsePassword bounds ui*_password (MS-WKST 3.2.4.7).
const maxUsePassword = 65

// isUNC reports a \\server\share path.
func isUNC(p string) bool {
	rest, ok := strings.CutPrefix(p, `\\`)
	if !ok {
		return false
	}
	server, share, ok := strings.Cut(rest, `\`)
	return ok && server != "" && share != ""
}

// UseAdd is NetrUseAdd (MS-WKST 3.2.4.7). Level 0 is refused with
// ERROR_INVALID_LEVEL, as Windows answers a remote caller.
func (s *Server) UseAdd(ctx context.Context, req *wkst.UseAddRequest) (*wkst.UseAddResponse, error) {
	resp := &wkst.UseAddResponse{ErrorParameter: req.ErrorParameter}
	if !canQuery(caller(ctx)) {
		resp.Return = errAccessDenied
		return resp, nil
	}
	var u *wkst.UseInfo1
	if req.Info != nil {
		switch v := req.Info.GetValue().(type) {
		case *wkst.UseInfo1:
			if req.Level == 1 {
				u = v
			}
		case *wkst.UseInfo2:
			if req.Level == 2 && v != nil {
				u = v.Useinfo
			}
		case *wkst.UseInfo3:
			if req.Level == 3 && v != nil && v.UI2 != nil {
				u = v.UI2.Useinfo
			}
		}
	}
	switch {
	case req.Level < 1 || req.Level > 3:
		resp.Return = errInvalidLevel
	case u == nil || !isUNC(u.Remote) || len([]rune(u.Password)) > maxUsePassword:
		resp.Return = uint32(joinlogic.ERROR_INVALID_PARAMETER)
	default:
		resp.Return = uint32(joinlogic.ERROR_CALL_NOT_IMPLEMENTED)
	}
	return resp, nil
}

// UseGetInfo is NetrUseGetInfo (MS-WKST 3.2.4.8).
func (s *Server) UseGetInfo(ctx context.Context, req *wkst.UseGetInfoRequest) (*wkst.UseGetInfoResponse, error) {
	resp := &wkst.UseGetInfoResponse{Level: req.Level}
	switch {
	case !canQuery(caller(ctx)):
		resp.Return = errAccessDenied
	case req.Level > 3:
		resp.Return = errInvalidLevel
	case strings.TrimRight(req.UseName, "\x00") == "":
		resp.Return = uint32(joinlogic.ERROR_INVALID_PARAMETER)
	default:
		resp.Return = uint32(joinlogic.NERR_UseNotFound)
	}
	return resp, nil
}

// UseDelete is NetrUseDel (MS-WKST 3.2.4.9).
func (s *Server) UseDelete(ctx context.Context, req *wkst.UseDeleteRequest) (*wkst.UseDeleteResponse, error) {
	switch {
	case !canQuery(caller(ctx)):
		return &wkst.UseDeleteResponse{Return: errAccessDenied}, nil
	case req.ForceLevel > 2:
		return &wkst.UseDeleteResponse{Return: errInvalidLevel}, nil
	case strings.TrimRight(req.UseName, "\x00") == "":
		return &wkst.UseDeleteResponse{Return: uint32(joinlogic.ERROR_INVALID_PARAMETER)}, nil
	}
	return &wkst.UseDeleteResponse{Return: uint32(joinlogic.NERR_UseNotFound)}, nil
}

// UseEnum is NetrUseEnum (MS-WKST 3.2.4.10): no entry for the caller, so
// TotalEntries 0 and NERR_Success.
func (s *Server) UseEnum(ctx context.Context, req *wkst.UseEnumRequest) (*wkst.UseEnumResponse, error) {
	resp := &wkst.UseEnumResponse{Info: emptyUseEnum(req.Info), Resume: 0}
	switch {
	case !canQuery(caller(ctx)):
		resp.Return = errAccessDenied
	case req.Info == nil || req.Info.Level > 2:
		resp.Return = errInvalidLevel
	default:
		resp.Return = errSuccess
	}
	return resp, nil
}
