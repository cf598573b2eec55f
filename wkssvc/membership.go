package wkssvc

import (
	"context"

	wkst "github.com/oiweiwei/go-msrpc/msrpc/wkst/wkssvc/v1"

	"github.com/wkssvcd/wkssvcd/crypto"
	"github.com/wkssvcd/wkssvcd/joinlogic"
	"github.com/wkssvcd/wkssvcd/server/dcerpc"
	"github.com/wkssvcd/wkssvcd/server/ipc"
)

// Membership serves the join methods through the join state machine: it
// turns NDR requests into joinlogic requests, supplies the caller's
// identity and protocol sequence from the pipe, and decrypts the password
// blobs with the pipe's session key when the state machine asks for them
// (MS-WKST 3.2.4.13.1, 3.2.4.22.1). It also reports the membership for
// NetrGetJoinInformation.
type Membership struct {
	NotSupportedJoin // NetrRenameMachineInDomain2/3 and NetrGetJoinableOUs2
	joiner           *joinlogic.Joiner
}

var (
	_ JoinHandler      = (*Membership)(nil)
	_ MembershipSource = (*Membership)(nil)
)

// NewMembership returns the join methods backed by j.
func NewMembership(j *joinlogic.Joiner) *Membership { return &Membership{joiner: j} }

// JoinInformation reports the stored membership (MS-WKST 3.2.4.16).
func (m *Membership) JoinInformation(ctx context.Context) (string, JoinStatus, error) {
	name, status, err := m.joiner.JoinInformation(ctx)
	return name, JoinStatus(status), err
}

// callContext is what the state machine needs to know about the pipe.
func callContext(ctx context.Context) (caller joinlogic.Caller, protseq string, key []byte) {
	protseq = dcerpc.ProtocolSequence(ctx)
	info, ok := ipc.FromContext(ctx)
	if !ok {
		return joinlogic.Caller{Anonymous: true}, protseq, nil
	}
	id := info.Identity
	return joinlogic.Caller{User: id.User, Domain: id.Domain, Admin: id.Admin, Anonymous: id.Anonymous}, protseq, info.SessionKey
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

// JoinDomain2 is NetrJoinDomain2 (MS-WKST 3.2.4.13).
func (m *Membership) JoinDomain2(ctx context.Context, req *wkst.JoinDomain2Request) (*wkst.JoinDomain2Response, error) {
	caller, protseq, key := callContext(ctx)
	domain := req.DomainNameParam
	code := m.joiner.Join(ctx, joinlogic.JoinRequest{
		Method: 2, Protseq: protseq, Caller: caller,
		DomainName: &domain, MachineAccountOU: optional(req.MachineAccountOU), AccountName: optional(req.AccountName),
		Password: rc4Password(key, req.Password), Options: req.Options,
	})
	return &wkst.JoinDomain2Response{Return: uint32(code)}, nil
}

// JoinDomain3 is NetrJoinDomain3 (MS-WKST 3.2.4.22).
func (m *Membership) JoinDomain3(ctx context.Context, req *wkst.JoinDomain3Request) (*wkst.JoinDomain3Response, error) {
	caller, protseq, key := callContext(ctx)
	domain := req.DomainNameParam
	code := m.joiner.Join(ctx, joinlogic.JoinRequest{
		Method: 3, Protseq: protseq, Caller: caller,
		DomainName: &domain, MachineAccountOU: optional(req.MachineAccountOU), AccountName: optional(req.AccountName),
		Password: aesPassword(key, req.Password), Options: req.Options,
	})
	return &wkst.JoinDomain3Response{Return: uint32(code)}, nil
}

// UnjoinDomain2 is NetrUnjoinDomain2 (MS-WKST 3.2.4.14).
func (m *Membership) UnjoinDomain2(ctx context.Context, req *wkst.UnjoinDomain2Request) (*wkst.UnjoinDomain2Response, error) {
	caller, protseq, key := callContext(ctx)
	code := m.joiner.Unjoin(ctx, joinlogic.UnjoinRequest{
		Method: 2, Protseq: protseq, Caller: caller, AccountName: optional(req.AccountName),
		Password: rc4Password(key, req.Password), Options: req.Options,
	})
	return &wkst.UnjoinDomain2Response{Return: uint32(code)}, nil
}

// UnjoinDomain3 is NetrUnjoinDomain3 (MS-WKST 3.2.4.23).
func (m *Membership) UnjoinDomain3(ctx context.Context, req *wkst.UnjoinDomain3Request) (*wkst.UnjoinDomain3Response, error) {
	caller, protseq, key := callContext(ctx)
	code := m.joiner.Unjoin(ctx, joinlogic.UnjoinRequest{
		Method: 3, Protseq: protseq, Caller: caller, AccountName: optional(req.AccountName),
		Password: aesPassword(key, req.Password), Options: req.Options,
	})
	return &wkst.UnjoinDomain3Response{Return: uint32(code)}, nil
}

// ValidateName2 is NetrValidateName2 (MS-WKST 3.2.4.16).
func (m *Membership) ValidateName2(ctx context.Context, req *wkst.ValidateName2Request) (*wkst.ValidateName2Response, error) {
	caller, protseq, key := callContext(ctx)
	name := req.NameToValidate
	code := m.joiner.ValidateName(ctx, joinlogic.ValidateNameRequest{
		Method: 2, Protseq: protseq, Caller: caller, Name: &name, AccountName: optional(req.AccountName),
		Password: rc4Password(key, req.Password), NameType: uint32(req.NameType),
	})
	return &wkst.ValidateName2Response{Return: uint32(code)}, nil
}

// ValidateName3 is NetrValidateName3 (MS-WKST 3.2.4.25).
func (m *Membership) ValidateName3(ctx context.Context, req *wkst.ValidateName3Request) (*wkst.ValidateName3Response, error) {
	caller, protseq, key := callContext(ctx)
	name := req.NameToValidate
	code := m.joiner.ValidateName(ctx, joinlogic.ValidateNameRequest{
		Method: 3, Protseq: protseq, Caller: caller, Name: &name, AccountName: optional(req.AccountName),
		Password: aesPassword(key, req.Password), NameType: uint32(req.NameType),
	})
	return &wkst.ValidateName3Response{Return: uint32(code)}, nil
}
