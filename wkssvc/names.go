package wkssvc

import (
	"context"
	"unicode/utf16"

	wkst "github.com/oiweiwei/go-msrpc/msrpc/wkst/wkssvc/v1"
	"github.com/oiweiwei/go-msrpc/ndr"

	"github.com/wkssvcd/wkssvcd/joinlogic"
	"github.com/wkssvcd/wkssvcd/server/dcerpc"
)

// The methods that change the computer's names: the rename of a domain
// member and its alternate names (MS-WKST 3.2.4.15, 3.2.4.18–3.2.4.21,
// 3.2.4.24, 3.2.4.26–3.2.4.28), served by the Joiner.

// requestKey carries the request's NDR reader into the method: the
// alternate-name methods' Reserved parameter, which go-msrpc's request
// types drop, is read from it.
type requestKey struct{}

func withRequest(ctx context.Context, r ndr.Reader) context.Context {
	return context.WithValue(ctx, requestKey{}, r)
}

// reserved is the request's final 32-bit parameter (Reserved). A call
// that arrived some other way (a test calling the method) has 0.
func reserved(ctx context.Context) uint32 {
	r, _ := ctx.Value(requestKey{}).(ndr.Reader)
	if r == nil {
		return 0
	}
	v, _ := dcerpc.LastUint32(r)
	return v
}

// rename builds the RenameRequest of NetrRenameMachineInDomain2/3.
func (s *Server) rename(ctx context.Context, method int, name, account string, pw func([]byte) joinlogic.PasswordSource, options uint32) uint32 {
	c := callOf(ctx)
	return uint32(s.cfg.Join.Rename(ctx, joinlogic.RenameRequest{
		Method: method, Protseq: c.protseq, Caller: c.caller, MachineName: optional(name), AccountName: optional(account),
		Password: pw(c.key), Options: options,
	}))
}

// RenameMachineInDomain2 is NetrRenameMachineInDomain2 (MS-WKST 3.2.4.15).
func (s *Server) RenameMachineInDomain2(ctx context.Context, req *wkst.RenameMachineInDomain2Request) (*wkst.RenameMachineInDomain2Response, error) {
	return &wkst.RenameMachineInDomain2Response{Return: s.rename(ctx, 2, req.MachineName, req.AccountName, rc4Of(req.Password), req.Options)}, nil
}

// RenameMachineInDomain3 is NetrRenameMachineInDomain3 (MS-WKST 3.2.4.24).
func (s *Server) RenameMachineInDomain3(ctx context.Context, req *wkst.RenameMachineInDomain3Request) (*wkst.RenameMachineInDomain3Response, error) {
	return &wkst.RenameMachineInDomain3Response{Return: s.rename(ctx, 3, req.MachineName, req.AccountName, aesOf(req.Password), req.Options)}, nil
}

// alternate builds the AlternateNameRequest of the six alternate-name
// methods and hands it to op.
func (s *Server) alternate(ctx context.Context, op func(context.Context, joinlogic.AlternateNameRequest) joinlogic.Code,
	name, account string, pw func([]byte) joinlogic.PasswordSource) uint32 {
	c := callOf(ctx)
	return uint32(op(ctx, joinlogic.AlternateNameRequest{
		Protseq: c.protseq, Caller: c.caller, Name: optional(name), DomainAccount: optional(account),
		Password: pw(c.key), Reserved: reserved(ctx),
	}))
}

// AddAlternateComputerName is NetrAddAlternateComputerName (MS-WKST
// 3.2.4.18).
func (s *Server) AddAlternateComputerName(ctx context.Context, req *wkst.AddAlternateComputerNameRequest) (*wkst.AddAlternateComputerNameResponse, error) {
	return &wkst.AddAlternateComputerNameResponse{Return: s.alternate(ctx, s.cfg.Join.AddAlternateName, req.AlternateName, req.DomainAccount, rc4Of(req.EncryptedPassword))}, nil
}

// RemoveAlternateComputerName is NetrRemoveAlternateComputerName
// (MS-WKST 3.2.4.19).
func (s *Server) RemoveAlternateComputerName(ctx context.Context, req *wkst.RemoveAlternateComputerNameRequest) (*wkst.RemoveAlternateComputerNameResponse, error) {
	return &wkst.RemoveAlternateComputerNameResponse{Return: s.alternate(ctx, s.cfg.Join.RemoveAlternateName, req.AlternateName, req.DomainAccount, rc4Of(req.EncryptedPassword))}, nil
}

// SetPrimaryComputerName is NetrSetPrimaryComputerName (MS-WKST
// 3.2.4.20).
func (s *Server) SetPrimaryComputerName(ctx context.Context, req *wkst.SetPrimaryComputerNameRequest) (*wkst.SetPrimaryComputerNameResponse, error) {
	return &wkst.SetPrimaryComputerNameResponse{Return: s.alternate(ctx, s.cfg.Join.SetPrimaryName, req.PrimaryName, req.DomainAccount, rc4Of(req.EncryptedPassword))}, nil
}

// AddAlternateComputerName2 is NetrAddAlternateComputerName2 (MS-WKST
// 3.2.4.26).
func (s *Server) AddAlternateComputerName2(ctx context.Context, req *wkst.AddAlternateComputerName2Request) (*wkst.AddAlternateComputerName2Response, error) {
	return &wkst.AddAlternateComputerName2Response{Return: s.alternate(ctx, s.cfg.Join.AddAlternateName, req.AlternateName, req.DomainAccount, aesOf(req.EncryptedPassword))}, nil
}

// RemoveAlternateComputerName2 is NetrRemoveAlternateComputerName2
// (MS-WKST 3.2.4.27).
func (s *Server) RemoveAlternateComputerName2(ctx context.Context, req *wkst.RemoveAlternateComputerName2Request) (*wkst.RemoveAlternateComputerName2Response, error) {
	return &wkst.RemoveAlternateComputerName2Response{Return: s.alternate(ctx, s.cfg.Join.RemoveAlternateName, req.AlternateName, req.DomainAccount, aesOf(req.EncryptedPassword))}, nil
}

// SetPrimaryComputerName2 is NetrSetPrimaryComputerName2 (MS-WKST
// 3.2.4.28).
func (s *Server) SetPrimaryComputerName2(ctx context.Context, req *wkst.SetPrimaryComputerName2Request) (*wkst.SetPrimaryComputerName2Response, error) {
	return &wkst.SetPrimaryComputerName2Response{Return: s.alternate(ctx, s.cfg.Join.SetPrimaryName, req.PrimaryName, req.DomainAccount, aesOf(req.EncryptedPassword))}, nil
}

// EnumerateComputerNames is NetrEnumerateComputerNames (MS-WKST
// 3.2.4.21): the names as UNICODE_STRINGs. On failure ComputerNames is
// NULL.
func (s *Server) EnumerateComputerNames(ctx context.Context, req *wkst.EnumerateComputerNamesRequest) (*wkst.EnumerateComputerNamesResponse, error) {
	c := callOf(ctx)
	names, code := s.cfg.Join.ComputerNames(ctx, joinlogic.ComputerNamesRequest{
		Protseq: c.protseq, Caller: c.caller, NameType: uint32(req.NameType), Reserved: reserved(ctx),
	})
	resp := &wkst.EnumerateComputerNamesResponse{Return: uint32(code)}
	if code != joinlogic.NERR_Success {
		return resp, nil
	}
	arr := &wkst.NetComputerNameArray{EntryCount: uint32(len(names))}
	for _, n := range names {
		// As Windows writes them: Length without, MaximumLength with the
		// terminating NUL.
		u := utf16.Encode([]rune(n))
		arr.ComputerNames = append(arr.ComputerNames, &wkst.UnicodeString{
			Length: uint16(2 * len(u)), MaximumLength: uint16(2*len(u) + 2), Buffer: append(u, 0)})
	}
	resp.ComputerNames = arr
	return resp, nil
}
