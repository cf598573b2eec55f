package wkssvc

import (
	"context"

	wkst "github.com/oiweiwei/go-msrpc/msrpc/wkst/wkssvc/v1"

	"github.com/wkssvcd/wkssvcd/crypto"
	"github.com/wkssvcd/wkssvcd/joinlogic"
	"github.com/wkssvcd/wkssvcd/server/dcerpc"
	"github.com/wkssvcd/wkssvcd/server/ipc"
)

// Joiner is the join state machine as this interface sees it: joinlogic's
// transport-neutral requests in, MS-ERREF codes out. The wire types of
// go-msrpc stop here; *joinlogic.Joiner implements it.
type Joiner interface {
	// JoinInformation reports the workgroup or domain and the
	// NETSETUP_JOIN_STATUS (MS-WKST 3.2.4.12); name is empty when
	// unjoined.
	JoinInformation(ctx context.Context) (name string, status uint32, err error)
	// Join serves NetrJoinDomain2/3 (MS-WKST 3.2.4.13, 3.2.4.22).
	Join(ctx context.Context, r joinlogic.JoinRequest) joinlogic.Code
	// Unjoin serves NetrUnjoinDomain2/3 (MS-WKST 3.2.4.14, 3.2.4.23).
	Unjoin(ctx context.Context, r joinlogic.UnjoinRequest) joinlogic.Code
	// ValidateName serves NetrValidateName2/3 (MS-WKST 3.2.4.16, 3.2.4.25).
	ValidateName(ctx context.Context, r joinlogic.ValidateNameRequest) joinlogic.Code
	// JoinableOUs serves NetrGetJoinableOUs2 (MS-WKST 3.2.4.17).
	JoinableOUs(ctx context.Context, r joinlogic.JoinableOUsRequest) ([]string, joinlogic.Code)
	// Rename serves NetrRenameMachineInDomain2/3 (MS-WKST 3.2.4.15,
	// 3.2.4.24).
	Rename(ctx context.Context, r joinlogic.RenameRequest) joinlogic.Code
	// AddAlternateName, RemoveAlternateName and SetPrimaryName serve
	// NetrAddAlternateComputerName(2), NetrRemoveAlternateComputerName(2)
	// and NetrSetPrimaryComputerName(2) (MS-WKST 3.2.4.18–3.2.4.20,
	// 3.2.4.26–3.2.4.28).
	AddAlternateName(ctx context.Context, r joinlogic.AlternateNameRequest) joinlogic.Code
	RemoveAlternateName(ctx context.Context, r joinlogic.AlternateNameRequest) joinlogic.Code
	SetPrimaryName(ctx context.Context, r joinlogic.AlternateNameRequest) joinlogic.Code
	// ComputerNames serves NetrEnumerateComputerNames (MS-WKST 3.2.4.21).
	ComputerNames(ctx context.Context, r joinlogic.ComputerNamesRequest) ([]string, joinlogic.Code)
}

var _ Joiner = (*joinlogic.Joiner)(nil)

// StaticMembership is a Joiner for a server whose membership never
// changes: it reports Name and Status, and every change answers
// ERROR_NOT_SUPPORTED.
type StaticMembership struct {
	Name   string
	Status uint32 // NETSETUP_JOIN_STATUS (joinlogic.NetSetup*)
}

var _ Joiner = StaticMembership{}

// JoinInformation returns the fixed name and status.
func (m StaticMembership) JoinInformation(context.Context) (string, uint32, error) {
	return m.Name, m.Status, nil
}

// Join returns ERROR_NOT_SUPPORTED.
func (StaticMembership) Join(context.Context, joinlogic.JoinRequest) joinlogic.Code {
	return joinlogic.ERROR_NOT_SUPPORTED
}

// Unjoin returns ERROR_NOT_SUPPORTED.
func (StaticMembership) Unjoin(context.Context, joinlogic.UnjoinRequest) joinlogic.Code {
	return joinlogic.ERROR_NOT_SUPPORTED
}

// ValidateName returns ERROR_NOT_SUPPORTED.
func (StaticMembership) ValidateName(context.Context, joinlogic.ValidateNameRequest) joinlogic.Code {
	return joinlogic.ERROR_NOT_SUPPORTED
}

// JoinableOUs returns ERROR_NOT_SUPPORTED.
func (StaticMembership) JoinableOUs(context.Context, joinlogic.JoinableOUsRequest) ([]string, joinlogic.Code) {
	return nil, joinlogic.ERROR_NOT_SUPPORTED
}

// staticChange is StaticMembership's answer to a change of names:
// access denied for all but administrators (WKSTA_NETAPI_CHANGE_CONFIG,
// MS-WKST 3.2.1.1), ERROR_NOT_SUPPORTED for them.
func staticChange(c joinlogic.Caller) joinlogic.Code {
	if c.Anonymous || !c.Admin {
		return joinlogic.ERROR_ACCESS_DENIED
	}
	return joinlogic.ERROR_NOT_SUPPORTED
}

// Rename returns ERROR_NOT_SUPPORTED to administrators.
func (StaticMembership) Rename(_ context.Context, r joinlogic.RenameRequest) joinlogic.Code {
	return staticChange(r.Caller)
}

// AddAlternateName returns ERROR_NOT_SUPPORTED to administrators.
func (StaticMembership) AddAlternateName(_ context.Context, r joinlogic.AlternateNameRequest) joinlogic.Code {
	return staticChange(r.Caller)
}

// RemoveAlternateName returns ERROR_NOT_SUPPORTED to administrators.
func (StaticMembership) RemoveAlternateName(_ context.Context, r joinlogic.AlternateNameRequest) joinlogic.Code {
	return staticChange(r.Caller)
}

// SetPrimaryName returns ERROR_NOT_SUPPORTED to administrators.
func (StaticMembership) SetPrimaryName(_ context.Context, r joinlogic.AlternateNameRequest) joinlogic.Code {
	return staticChange(r.Caller)
}

// ComputerNames returns ERROR_NOT_SUPPORTED to administrators.
func (StaticMembership) ComputerNames(_ context.Context, r joinlogic.ComputerNamesRequest) ([]string, joinlogic.Code) {
	return nil, staticChange(r.Caller)
}

// call is what the state machine needs to know about the pipe a call
// arrived on: the caller, the protocol sequence and the key that opens
// JOINPR password blobs (MS-WKST 2.2.5.18.3, 2.2.5.19.2).
type call struct {
	caller  joinlogic.Caller
	protseq string
	key     []byte
}

func callOf(ctx context.Context) call {
	// The request is decoded; what follows may wait on domain
	// controllers for seconds, so the decode slot goes to other calls.
	dcerpc.DecodeDone(ctx)
	c := call{protseq: dcerpc.ProtocolSequence(ctx)}
	info, ok := ipc.FromContext(ctx)
	if !ok {
		c.caller = joinlogic.Caller{Anonymous: true}
		return c
	}
	id := info.Identity
	c.caller = joinlogic.Caller{User: id.User, Domain: id.Domain, Admin: id.Admin, Anonymous: id.Anonymous, SIDs: id.SIDs}
	c.key = info.SessionKey
	return c
}

// optional maps an optional [unique, string] parameter. The NDR layer
// gives NULL and "" alike as ""; both mean "not supplied" here.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// rc4Password decrypts a JOINPR_ENCRYPTED_USER_PASSWORD on demand.
func rc4Password(key []byte, p *wkst.EncryptedUserPassword) joinlogic.PasswordSource {
	if p == nil {
		return nil
	}
	return func() (string, bool, joinlogic.Code) {
		pw, err := crypto.DecryptRC4(key, p.Buffer)
		if err != nil {
			// MS-WKST 3.2.4.13.1: a blob that does not decrypt, or
			// decrypts to 513 bytes or more, is ERROR_INVALID_PASSWORD.
			return "", true, joinlogic.ERROR_INVALID_PASSWORD
		}
		return pw, true, joinlogic.NERR_Success
	}
}

// aesPassword decrypts a JOINPR_ENCRYPTED_USER_PASSWORD_AES on demand.
func aesPassword(key []byte, p *wkst.EncryptedUserPasswordAES) joinlogic.PasswordSource {
	if p == nil {
		return nil
	}
	return func() (string, bool, joinlogic.Code) {
		var b crypto.AESBlob
		if len(p.AuthData) != len(b.AuthData) || len(p.Salt) != len(b.Salt) || int(p.CipherLength) != len(p.Cipher) {
			return "", true, joinlogic.ERROR_INVALID_PASSWORD
		}
		copy(b.AuthData[:], p.AuthData)
		copy(b.Salt[:], p.Salt)
		b.Cipher = p.Cipher
		pw, err := crypto.DecryptAES(key, b)
		if err != nil {
			// MS-WKST 3.2.4.22.1: same rule for the AES blob.
			return "", true, joinlogic.ERROR_INVALID_PASSWORD
		}
		return pw, true, joinlogic.NERR_Success
	}
}

// join builds the JoinRequest of NetrJoinDomain2/3; only the password
// blob differs between the two.
func (s *Server) join(ctx context.Context, method int, domain, ou, account string, pw func([]byte) joinlogic.PasswordSource, options uint32) uint32 {
	c := callOf(ctx)
	return uint32(s.cfg.Join.Join(ctx, joinlogic.JoinRequest{
		Method: method, Protseq: c.protseq, Caller: c.caller,
		DomainName: &domain, MachineAccountOU: optional(ou), AccountName: optional(account),
		Password: pw(c.key), Options: options,
	}))
}

// unjoin builds the UnjoinRequest of NetrUnjoinDomain2/3.
func (s *Server) unjoin(ctx context.Context, method int, account string, pw func([]byte) joinlogic.PasswordSource, options uint32) uint32 {
	c := callOf(ctx)
	return uint32(s.cfg.Join.Unjoin(ctx, joinlogic.UnjoinRequest{
		Method: method, Protseq: c.protseq, Caller: c.caller, AccountName: optional(account),
		Password: pw(c.key), Options: options,
	}))
}

// validateName builds the ValidateNameRequest of NetrValidateName2/3.
func (s *Server) validateName(ctx context.Context, method int, name, account string, pw func([]byte) joinlogic.PasswordSource, nameType wkst.NetSetupNameType) uint32 {
	c := callOf(ctx)
	// Every caller of this interface is remote: it reached the server
	// over the network (MS-WKST <89>, <153>).
	return uint32(s.cfg.Join.ValidateName(ctx, joinlogic.ValidateNameRequest{
		Method: method, Protseq: c.protseq, Caller: c.caller, Remote: true, Name: &name, AccountName: optional(account),
		Password: pw(c.key), NameType: uint32(nameType),
	}))
}

func rc4Of(p *wkst.EncryptedUserPassword) func([]byte) joinlogic.PasswordSource {
	return func(key []byte) joinlogic.PasswordSource { return rc4Password(key, p) }
}

func aesOf(p *wkst.EncryptedUserPasswordAES) func([]byte) joinlogic.PasswordSource {
	return func(key []byte) joinlogic.PasswordSource { return aesPassword(key, p) }
}

// JoinDomain2 is NetrJoinDomain2 (MS-WKST 3.2.4.13).
func (s *Server) JoinDomain2(ctx context.Context, req *wkst.JoinDomain2Request) (*wkst.JoinDomain2Response, error) {
	return &wkst.JoinDomain2Response{Return: s.join(ctx, 2, req.DomainNameParam, req.MachineAccountOU, req.AccountName, rc4Of(req.Password), req.Options)}, nil
}

// JoinDomain3 is NetrJoinDomain3 (MS-WKST 3.2.4.22).
func (s *Server) JoinDomain3(ctx context.Context, req *wkst.JoinDomain3Request) (*wkst.JoinDomain3Response, error) {
	return &wkst.JoinDomain3Response{Return: s.join(ctx, 3, req.DomainNameParam, req.MachineAccountOU, req.AccountName, aesOf(req.Password), req.Options)}, nil
}

// UnjoinDomain2 is NetrUnjoinDomain2 (MS-WKST 3.2.4.14).
func (s *Server) UnjoinDomain2(ctx context.Context, req *wkst.UnjoinDomain2Request) (*wkst.UnjoinDomain2Response, error) {
	return &wkst.UnjoinDomain2Response{Return: s.unjoin(ctx, 2, req.AccountName, rc4Of(req.Password), req.Options)}, nil
}

// UnjoinDomain3 is NetrUnjoinDomain3 (MS-WKST 3.2.4.23).
func (s *Server) UnjoinDomain3(ctx context.Context, req *wkst.UnjoinDomain3Request) (*wkst.UnjoinDomain3Response, error) {
	return &wkst.UnjoinDomain3Response{Return: s.unjoin(ctx, 3, req.AccountName, aesOf(req.Password), req.Options)}, nil
}

// ValidateName2 is NetrValidateName2 (MS-WKST 3.2.4.16).
func (s *Server) ValidateName2(ctx context.Context, req *wkst.ValidateName2Request) (*wkst.ValidateName2Response, error) {
	return &wkst.ValidateName2Response{Return: s.validateName(ctx, 2, req.NameToValidate, req.AccountName, rc4Of(req.Password), req.NameType)}, nil
}

// ValidateName3 is NetrValidateName3 (MS-WKST 3.2.4.25).
func (s *Server) ValidateName3(ctx context.Context, req *wkst.ValidateName3Request) (*wkst.ValidateName3Response, error) {
	return &wkst.ValidateName3Response{Return: s.validateName(ctx, 3, req.NameToValidate, req.AccountName, aesOf(req.Password), req.NameType)}, nil
}

// GetJoinableOUs2 is NetrGetJoinableOUs2 (MS-WKST 3.2.4.17). OUCount is
// ignored on input; the caller is remote (<97>).
func (s *Server) GetJoinableOUs2(ctx context.Context, req *wkst.GetJoinableOUs2Request) (*wkst.GetJoinableOUs2Response, error) {
	c := callOf(ctx)
	domain := req.DomainNameParam
	ous, code := s.cfg.Join.JoinableOUs(ctx, joinlogic.JoinableOUsRequest{
		Protseq: c.protseq, Caller: c.caller, Remote: true, Domain: &domain, AccountName: optional(req.AccountName),
		Password: rc4Password(c.key, req.Password),
	})
	if code != joinlogic.NERR_Success {
		ous = nil
	}
	return &wkst.GetJoinableOUs2Response{OUCount: uint32(len(ous)), OUs: ous, Return: uint32(code)}, nil
}
