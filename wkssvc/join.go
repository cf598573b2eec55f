package wkssvc

import (
	"context"

	wkst "github.com/oiweiwei/go-msrpc/msrpc/wkst/wkssvc/v1"
)

// JoinHandler serves the domain membership methods of wkssvc: join,
// unjoin, rename, name validation and joinable OUs. Server delegates
// these opnums to Config.Join unchanged; the call's context carries the
// pipe's ipc.OpenInfo (caller identity and session key).
type JoinHandler interface {
	// JoinDomain2 serves NetrJoinDomain2 (MS-WKST 3.2.4.13).
	JoinDomain2(context.Context, *wkst.JoinDomain2Request) (*wkst.JoinDomain2Response, error)
	// UnjoinDomain2 serves NetrUnjoinDomain2 (MS-WKST 3.2.4.14).
	UnjoinDomain2(context.Context, *wkst.UnjoinDomain2Request) (*wkst.UnjoinDomain2Response, error)
	// RenameMachineInDomain2 serves NetrRenameMachineInDomain2 (MS-WKST 3.2.4.15).
	RenameMachineInDomain2(context.Context, *wkst.RenameMachineInDomain2Request) (*wkst.RenameMachineInDomain2Response, error)
	// ValidateName2 serves NetrValidateName2 (MS-WKST 3.2.4.16).
	ValidateName2(context.Context, *wkst.ValidateName2Request) (*wkst.ValidateName2Response, error)
	// GetJoinableOUs2 serves NetrGetJoinableOUs2 (MS-WKST 3.2.4.17).
	GetJoinableOUs2(context.Context, *wkst.GetJoinableOUs2Request) (*wkst.GetJoinableOUs2Response, error)
	// JoinDomain3 serves NetrJoinDomain3 (MS-WKST 3.2.4.22).
	JoinDomain3(context.Context, *wkst.JoinDomain3Request) (*wkst.JoinDomain3Response, error)
	// UnjoinDomain3 serves NetrUnjoinDomain3 (MS-WKST 3.2.4.23).
	UnjoinDomain3(context.Context, *wkst.UnjoinDomain3Request) (*wkst.UnjoinDomain3Response, error)
	// RenameMachineInDomain3 serves NetrRenameMachineInDomain3 (MS-WKST 3.2.4.24).
	RenameMachineInDomain3(context.Context, *wkst.RenameMachineInDomain3Request) (*wkst.RenameMachineInDomain3Response, error)
	// ValidateName3 serves NetrValidateName3 (MS-WKST 3.2.4.25).
	ValidateName3(context.Context, *wkst.ValidateName3Request) (*wkst.ValidateName3Response, error)
}

// NotSupportedJoin is a JoinHandler for a server that does not change its
// membership: every method returns ERROR_NOT_SUPPORTED.
type NotSupportedJoin struct{}

var _ JoinHandler = NotSupportedJoin{}

// JoinDomain2 returns ERROR_NOT_SUPPORTED.
func (NotSupportedJoin) JoinDomain2(context.Context, *wkst.JoinDomain2Request) (*wkst.JoinDomain2Response, error) {
	return &wkst.JoinDomain2Response{Return: errNotSupported}, nil
}

// UnjoinDomain2 returns ERROR_NOT_SUPPORTED.
func (NotSupportedJoin) UnjoinDomain2(context.Context, *wkst.UnjoinDomain2Request) (*wkst.UnjoinDomain2Response, error) {
	return &wkst.UnjoinDomain2Response{Return: errNotSupported}, nil
}

// RenameMachineInDomain2 returns ERROR_NOT_SUPPORTED.
func (NotSupportedJoin) RenameMachineInDomain2(context.Context, *wkst.RenameMachineInDomain2Request) (*wkst.RenameMachineInDomain2Response, error) {
	return &wkst.RenameMachineInDomain2Response{Return: errNotSupported}, nil
}

// ValidateName2 returns ERROR_NOT_SUPPORTED.
func (NotSupportedJoin) ValidateName2(context.Context, *wkst.ValidateName2Request) (*wkst.ValidateName2Response, error) {
	return &wkst.ValidateName2Response{Return: errNotSupported}, nil
}

// GetJoinableOUs2 returns ERROR_NOT_SUPPORTED.
func (NotSupportedJoin) GetJoinableOUs2(context.Context, *wkst.GetJoinableOUs2Request) (*wkst.GetJoinableOUs2Response, error) {
	return &wkst.GetJoinableOUs2Response{Return: errNotSupported}, nil
}

// JoinDomain3 returns ERROR_NOT_SUPPORTED.
func (NotSupportedJoin) JoinDomain3(context.Context, *wkst.JoinDomain3Request) (*wkst.JoinDomain3Response, error) {
	return &wkst.JoinDomain3Response{Return: errNotSupported}, nil
}

// UnjoinDomain3 returns ERROR_NOT_SUPPORTED.
func (NotSupportedJoin) UnjoinDomain3(context.Context, *wkst.UnjoinDomain3Request) (*wkst.UnjoinDomain3Response, error) {
	return &wkst.UnjoinDomain3Response{Return: errNotSupported}, nil
}

// RenameMachineInDomain3 returns ERROR_NOT_SUPPORTED.
func (NotSupportedJoin) RenameMachineInDomain3(context.Context, *wkst.RenameMachineInDomain3Request) (*wkst.RenameMachineInDomain3Response, error) {
	return &wkst.RenameMachineInDomain3Response{Return: errNotSupported}, nil
}

// ValidateName3 returns ERROR_NOT_SUPPORTED.
func (NotSupportedJoin) ValidateName3(context.Context, *wkst.ValidateName3Request) (*wkst.ValidateName3Response, error) {
	return &wkst.ValidateName3Response{Return: errNotSupported}, nil
}

// JoinDomain2 is NetrJoinDomain2 (MS-WKST 3.2.4.13), served by Config.Join.
func (s *Server) JoinDomain2(ctx context.Context, req *wkst.JoinDomain2Request) (*wkst.JoinDomain2Response, error) {
	return s.cfg.Join.JoinDomain2(ctx, req)
}

// UnjoinDomain2 is NetrUnjoinDomain2 (MS-WKST 3.2.4.14), served by Config.Join.
func (s *Server) UnjoinDomain2(ctx context.Context, req *wkst.UnjoinDomain2Request) (*wkst.UnjoinDomain2Response, error) {
	return s.cfg.Join.UnjoinDomain2(ctx, req)
}

// RenameMachineInDomain2 is NetrRenameMachineInDomain2 (MS-WKST 3.2.4.15), served by Config.Join.
func (s *Server) RenameMachineInDomain2(ctx context.Context, req *wkst.RenameMachineInDomain2Request) (*wkst.RenameMachineInDomain2Response, error) {
	return s.cfg.Join.RenameMachineInDomain2(ctx, req)
}

// ValidateName2 is NetrValidateName2 (MS-WKST 3.2.4.16), served by Config.Join.
func (s *Server) ValidateName2(ctx context.Context, req *wkst.ValidateName2Request) (*wkst.ValidateName2Response, error) {
	return s.cfg.Join.ValidateName2(ctx, req)
}

// GetJoinableOUs2 is NetrGetJoinableOUs2 (MS-WKST 3.2.4.17), served by Config.Join.
func (s *Server) GetJoinableOUs2(ctx context.Context, req *wkst.GetJoinableOUs2Request) (*wkst.GetJoinableOUs2Response, error) {
	return s.cfg.Join.GetJoinableOUs2(ctx, req)
}

// JoinDomain3 is NetrJoinDomain3 (MS-WKST 3.2.4.22), served by Config.Join.
func (s *Server) JoinDomain3(ctx context.Context, req *wkst.JoinDomain3Request) (*wkst.JoinDomain3Response, error) {
	return s.cfg.Join.JoinDomain3(ctx, req)
}

// UnjoinDomain3 is NetrUnjoinDomain3 (MS-WKST 3.2.4.23), served by Config.Join.
func (s *Server) UnjoinDomain3(ctx context.Context, req *wkst.UnjoinDomain3Request) (*wkst.UnjoinDomain3Response, error) {
	return s.cfg.Join.UnjoinDomain3(ctx, req)
}

// RenameMachineInDomain3 is NetrRenameMachineInDomain3 (MS-WKST 3.2.4.24), served by Config.Join.
func (s *Server) RenameMachineInDomain3(ctx context.Context, req *wkst.RenameMachineInDomain3Request) (*wkst.RenameMachineInDomain3Response, error) {
	return s.cfg.Join.RenameMachineInDomain3(ctx, req)
}

// ValidateName3 is NetrValidateName3 (MS-WKST 3.2.4.25), served by Config.Join.
func (s *Server) ValidateName3(ctx context.Context, req *wkst.ValidateName3Request) (*wkst.ValidateName3Response, error) {
	return s.cfg.Join.ValidateName3(ctx, req)
}
