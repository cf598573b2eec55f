package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"

	smb2fork "github.com/oiweiwei/go-smb2.fork"

	"github.com/oiweiwei/go-msrpc/dcerpc"
	dcerrors "github.com/oiweiwei/go-msrpc/dcerpc/errors"
	"github.com/oiweiwei/go-msrpc/smb2"
	"github.com/oiweiwei/go-msrpc/ssp"
	"github.com/oiweiwei/go-msrpc/ssp/credential"
	"github.com/oiweiwei/go-msrpc/ssp/gssapi"

	wkssvc "github.com/oiweiwei/go-msrpc/msrpc/wkst/wkssvc/v1"

	"github.com/wkssvcd/wkssvcd/crypto"
)

// smbDialect maps a --dialect value to go-msrpc's dialect; "" means
// "negotiate the highest both sides support" (0).
func smbDialect(s string) (smb2.Dialect, error) {
	switch s {
	case "":
		return 0, nil
	case "2.0.2":
		return smb2.SMB202, nil
	case "2.1":
		return smb2.SMB210, nil
	case "3.0":
		return smb2.SMB300, nil
	case "3.0.2":
		return smb2.SMB302, nil
	case "3.1.1":
		return smb2.SMB311, nil
	}
	return 0, fmt.Errorf("unknown dialect %q (want 2.0.2, 2.1, 3.0, 3.0.2 or 3.1.1)", s)
}

// rpcSession is a wkssvc client bound over \PIPE\wkssvc.
type rpcSession struct {
	cc  dcerpc.Conn
	cli wkssvc.WkssvcClient
	// key is the JOINPR key: the SMB session key for SMB 2.x, the SMB
	// application key for SMB 3.x (MS-WKST 2.2.5.18.3, 2.2.5.19.2).
	key  []byte
	rand io.Reader
	log  *slog.Logger
}

// dialWkssvc connects to ncacn_np:HOST[\PIPE\wkssvc] over SMB2/3 with NTLM
// (inside SPNEGO) and binds the wkssvc interface without RPC-level
// authentication: the pipe is protected by SMB signing or sealing, and the
// JOINPR key is then the SMB key rather than go-msrpc's constant for
// authenticated binds.
func dialWkssvc(ctx context.Context, cfg connConfig, log *slog.Logger) (session, error) {
	dialect, err := smbDialect(cfg.Dialect)
	if err != nil {
		return nil, err
	}
	cred := credential.NewFromPassword(cfg.User.User, cfg.Password, credential.Domain(cfg.User.Domain))
	dopts := []smb2.DialerOption{
		smb2.WithSecurity(
			gssapi.WithCredential(cred),
			gssapi.WithMechanismFactory(ssp.SPNEGO),
			gssapi.WithMechanismFactory(ssp.NTLM),
		),
	}
	if dialect != 0 {
		dopts = append(dopts, smb2.WithDialect(dialect))
	}
	if cfg.Seal {
		dopts = append(dopts, smb2.WithSeal())
	}

	// A fresh security context carries the SMB keys that go-msrpc exports
	// at bind time.
	ctx = gssapi.NewSecurityContext(ctx)
	addr := "ncacn_np:" + bindingHost(cfg.Host) + "[wkssvc]"
	log.Debug("dialing", "binding", addr, "port", cfg.Port, "dialect", cfg.Dialect, "seal", cfg.Seal)
	cc, err := dcerpc.Dial(ctx, addr,
		dcerpc.WithSMBDialer(smb2.NewDialer(dopts...)),
		dcerpc.WithSMBPort(cfg.Port),
		dcerpc.WithTimeout(cfg.Timeout),
	)
	if err != nil {
		return nil, explainConnectError(cfg, fmt.Errorf("connecting to %s: %w", cfg.Host, err))
	}
	cli, err := wkssvc.NewWkssvcClient(ctx, cc, dcerpc.WithInsecure())
	if err != nil {
		cc.Close(context.WithoutCancel(ctx))
		return nil, explainConnectError(cfg, fmt.Errorf("binding wkssvc on %s: %w", cfg.Host, err))
	}
	s := &rpcSession{cc: cc, cli: cli, rand: rand.Reader, log: log}
	if v, ok := gssapi.GetAttribute(cli.Conn().Context(), gssapi.AttributeSMBEffectiveSessionKey); ok {
		if k, ok := v.([]byte); ok {
			s.key = append([]byte(nil), k...)
		}
	}
	log.Debug("bound wkssvc", "joinpr_key_len", len(s.key))
	return s, nil
}

// statusLogonFailure is STATUS_LOGON_FAILURE (MS-ERREF 2.3.1).
const statusLogonFailure = 0xC000006D

// logonFailureText is how go-smb2 words STATUS_LOGON_FAILURE.
const logonFailureText = "The attempted logon is invalid"

// explainConnectError turns the SMB client's report of a refused logon
// into what the operator needs to know. A STATUS_LOGON_FAILURE answer to
// the last step of the logon means a wrong user name or password; the same
// status to the first step, before the client sent any credential, means
// the server refused to evaluate a logon at all, which wkssvcd does for a
// while after repeated failures from one address.
func explainConnectError(cfg connConfig, err error) error {
	var ie *smb2fork.InvalidResponseError
	var re *smb2fork.ResponseError
	switch {
	case errors.As(err, &ie) && strings.Contains(ie.Message, "got "+logonFailureText):
		return &logonError{msg: fmt.Sprintf("%s refused to start a logon (STATUS_LOGON_FAILURE before any password was checked): "+
			"after repeated failed logons from one address wkssvcd refuses that address for a while "+
			"(--auth-fail-limit, --auth-fail-window; its log says reason=throttled); wait, then try again with the right password", cfg.Host), err: err}
	case errors.As(err, &re) && re.Code == statusLogonFailure:
		return &logonError{msg: fmt.Sprintf("logon to %s as %s failed (STATUS_LOGON_FAILURE): unknown user name or wrong password", cfg.Host, cfg.User), err: err}
	}
	return err
}

// logonError is a logon the server refused.
type logonError struct {
	msg string
	err error
}

func (e *logonError) Error() string { return e.msg }
func (e *logonError) Unwrap() error { return e.err }

// bindingHost renders host for a string binding; IPv6 literals are not
// bracketed there.
func bindingHost(host string) string {
	if ip := net.ParseIP(host); ip != nil {
		return ip.String()
	}
	return host
}

// returnCode extracts the Win32 result of a call that go-msrpc reported as
// failed. ok is false when the call did not complete (transport failure).
func returnCode(ret uint32, respOK bool, err error) (uint32, bool) {
	if err == nil || !respOK {
		return 0, false
	}
	return ret, ret != 0
}

// callResult turns go-msrpc's (response, error) pair into nil, a
// *callError carrying the server's Win32 code, or a transport error.
func callResult(op string, ret uint32, respOK bool, err error) error {
	if code, ok := returnCode(ret, respOK, err); ok {
		return &callError{Op: op, Code: code}
	}
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

func (s *rpcSession) WorkstationInfo(ctx context.Context) (wkstaInfo, error) {
	resp, err := s.cli.GetInfo(ctx, &wkssvc.GetInfoRequest{Level: 100})
	var ret uint32
	if resp != nil {
		ret = resp.Return
	}
	if err := callResult("NetrWkstaGetInfo", ret, resp != nil, err); err != nil {
		return wkstaInfo{}, err
	}
	v, ok := resp.WorkstationInfo.GetValue().(*wkssvc.WorkstationInfo100)
	if !ok || v == nil {
		return wkstaInfo{}, errors.New("NetrWkstaGetInfo: server returned no level 100 information")
	}
	return wkstaInfo{
		PlatformID:   v.PlatformID,
		ComputerName: v.ComputerName,
		LANGroup:     v.LANGroup,
		VerMajor:     v.VerMajor,
		VerMinor:     v.VerMinor,
	}, nil
}

func (s *rpcSession) JoinInformation(ctx context.Context) (joinInfo, error) {
	resp, err := s.cli.GetJoinInformation(ctx, &wkssvc.GetJoinInformationRequest{})
	if errors.Is(err, dcerrors.OperationRangeError) {
		// Samba's wkssvc answers calls it lacks with this fault.
		return joinInfo{}, fmt.Errorf("NetrGetJoinInformation: %w: %v", errServerLacksOp, err)
	}
	var ret uint32
	if resp != nil {
		ret = resp.Return
	}
	if err := callResult("NetrGetJoinInformation", ret, resp != nil, err); err != nil {
		return joinInfo{}, err
	}
	return joinInfo{Name: resp.NameBuffer, Status: uint16(resp.BufferType)}, nil
}

// errServerLacksOp reports an RPC fault nca_op_rng_error: the server does
// not implement the method.
var errServerLacksOp = errors.New("method not implemented by the server")

// sealed is an encrypted password in the form one method needs.
type sealed struct {
	rc4 *wkssvc.EncryptedUserPassword
	aes *wkssvc.EncryptedUserPasswordAES
}

// sealPassword encrypts pw for method with the JOINPR key; a nil pw gives
// NULL pointers.
func sealPassword(method int, key []byte, pw *string, rnd io.Reader) (sealed, error) {
	if pw == nil {
		return sealed{}, nil
	}
	if len(key) != crypto.SessionKeySize {
		return sealed{}, fmt.Errorf("no usable SMB session key to encrypt the password (got %d bytes)", len(key))
	}
	switch method {
	case methodRC4:
		b, err := crypto.EncryptRC4(key, *pw, rnd)
		if err != nil {
			return sealed{}, err
		}
		return sealed{rc4: &wkssvc.EncryptedUserPassword{Buffer: b}}, nil
	default:
		b, err := crypto.EncryptAES(key, *pw, rnd)
		if err != nil {
			return sealed{}, err
		}
		return sealed{aes: &wkssvc.EncryptedUserPasswordAES{
			AuthData:     b.AuthData[:],
			Salt:         b.Salt[:],
			CipherLength: uint32(len(b.Cipher)),
			Cipher:       b.Cipher,
		}}, nil
	}
}

func (s *rpcSession) Join(ctx context.Context, req joinRequest) error {
	p, err := sealPassword(req.Method, s.key, req.Password, s.rand)
	if err != nil {
		return err
	}
	s.log.Debug("calling", "op", joinOpName(req.Method), "domain", req.Domain, "ou", req.OU,
		"account", req.Account, "password_sent", req.Password != nil, "options", formatOptions(req.Options))
	if req.Method == methodRC4 {
		resp, err := s.cli.JoinDomain2(ctx, &wkssvc.JoinDomain2Request{
			DomainNameParam: req.Domain, MachineAccountOU: req.OU, AccountName: req.Account,
			Password: p.rc4, Options: req.Options,
		})
		var ret uint32
		if resp != nil {
			ret = resp.Return
		}
		return callResult("NetrJoinDomain2", ret, resp != nil, err)
	}
	resp, err := s.cli.JoinDomain3(ctx, &wkssvc.JoinDomain3Request{
		DomainNameParam: req.Domain, MachineAccountOU: req.OU, AccountName: req.Account,
		Password: p.aes, Options: req.Options,
	})
	var ret uint32
	if resp != nil {
		ret = resp.Return
	}
	return callResult("NetrJoinDomain3", ret, resp != nil, err)
}

func (s *rpcSession) Unjoin(ctx context.Context, req unjoinRequest) error {
	p, err := sealPassword(req.Method, s.key, req.Password, s.rand)
	if err != nil {
		return err
	}
	s.log.Debug("calling", "op", unjoinOpName(req.Method), "account", req.Account,
		"password_sent", req.Password != nil, "options", formatOptions(req.Options))
	if req.Method == methodRC4 {
		resp, err := s.cli.UnjoinDomain2(ctx, &wkssvc.UnjoinDomain2Request{
			AccountName: req.Account, Password: p.rc4, Options: req.Options,
		})
		var ret uint32
		if resp != nil {
			ret = resp.Return
		}
		return callResult("NetrUnjoinDomain2", ret, resp != nil, err)
	}
	resp, err := s.cli.UnjoinDomain3(ctx, &wkssvc.UnjoinDomain3Request{
		AccountName: req.Account, Password: p.aes, Options: req.Options,
	})
	var ret uint32
	if resp != nil {
		ret = resp.Return
	}
	return callResult("NetrUnjoinDomain3", ret, resp != nil, err)
}

func (s *rpcSession) Close(ctx context.Context) error {
	crypto.Wipe(s.key)
	return s.cc.Close(ctx)
}
