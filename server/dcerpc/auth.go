package dcerpc

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/wkssvcd/wkssvcd/server/ipc"
)

// statusAccessDenied is the fault of a request on a security context that
// failed or is not established yet, and of a PDU that fails its integrity
// check (MS-RPCE 3.3.1.5.2.1, 3.3.3.5.3: ERROR_ACCESS_DENIED, as Windows
// answers).
const statusAccessDenied uint32 = 0x00000005

// pfcSupportHeaderSign is PFC_SUPPORT_HEADER_SIGN on bind-type PDUs
// (MS-RPCE 2.2.2.3).
const pfcSupportHeaderSign = pfcPendingCancel

// authPadAlign is the alignment of the stub of protected responses, as
// Windows and Samba pad it (MS-RPCE 2.2.2.11).
const authPadAlign = 16

// rpcSecuritySessionKey is the session key calls see on an association
// with RPC-level security above the connect level.
var rpcSecuritySessionKey = []byte("SystemLibraryDTC")

var (
	errAuthType       = errors.New("dcerpc: authentication service not offered")
	errAuthLevel      = errors.New("dcerpc: authentication level not supported")
	errAuthMismatch   = errors.New("dcerpc: sec_trailer does not match the security context")
	errAuthNoVerifier = errors.New("dcerpc: request without the verifier its authentication level requires")
	errAuthRelogon    = errors.New("dcerpc: a new token on an established security context")
)

// security is the RPC-level security context of an association
// (MS-RPCE 3.3.1.5.2). Only one exists per association: security context
// multiplexing is not offered. Its fields change under assoc.mu until
// done; after that they are fixed, except the protection's outbound
// state, which only the worker uses, and its inbound state, used under
// assoc.mu.
type security struct {
	authType   uint8
	level      uint8
	contextID  uint32
	headerSign bool
	exch       ipc.RPCExchange
	done       bool // established
	failed     bool // a leg failed: requests are refused until a new context
	prot       ipc.PDUProtection
	ctx        context.Context // the calls' context, with the context's identity
	identity   ipc.Identity
}

// protects reports whether request and response PDUs carry a verifier.
// RPC_C_AUTHN_LEVEL_CALL and _PKT are given integrity, as connection-
// oriented RPC upgrades them (Windows, Samba and go-msrpc sign them).
func (s *security) protects() bool { return s.level >= levelCall }

func (s *security) seals() bool { return s.level == levelPrivacy }

func (s *security) trailer(pad uint8) secTrailer {
	return secTrailer{Type: s.authType, Level: s.level, PadLen: pad, ContextID: s.contextID}
}

// authLeg runs one leg of the association's security context with the
// token of a bind, alter_context or rpc_auth_3 PDU, starting a context
// when there is none or the last one failed (bind and alter_context
// only). It returns the token to send back; a failed leg is logged and
// leaves the context failed. Caller holds mu.
func (a *assoc) authLeg(p *pdu) ([]byte, error) {
	tr := p.trailer
	s := a.sec
	switch {
	case s == nil || s.failed:
		if p.Type == ptAuth3 {
			return nil, fmt.Errorf("%w: rpc_auth_3 without a security context", errAuthMismatch)
		}
		if tr.Level < levelConnect || tr.Level > levelPrivacy {
			return nil, fmt.Errorf("%w: %d", errAuthLevel, tr.Level)
		}
		var exch ipc.RPCExchange
		if a.cfg.Auth != nil {
			exch = a.cfg.Auth.NewRPCExchange(tr.Type)
		}
		if exch == nil {
			return nil, fmt.Errorf("%w: auth_type %d", errAuthType, tr.Type)
		}
		s = &security{authType: tr.Type, level: tr.Level, contextID: tr.ContextID, exch: exch,
			headerSign: p.Flags&pfcSupportHeaderSign != 0}
		a.sec = s
	case tr.Type != s.authType || tr.Level != s.level || tr.ContextID != s.contextID:
		return nil, fmt.Errorf("%w: auth_type %d level %d context %d", errAuthMismatch, tr.Type, tr.Level, tr.ContextID)
	case s.done:
		// An alter_context adding presentation contexts repeats the
		// sec_trailer; it may not re-authenticate.
		if len(p.authValue) > 0 {
			return nil, errAuthRelogon
		}
		return nil, nil
	}
	out, done, err := s.exch.Step(p.authValue)
	if err == nil && done {
		err = a.establish(s)
	}
	if err != nil {
		s.failed = true
		var le *ipc.LogonError
		if errors.As(err, &le) {
			a.log.Warn("dcerpc: RPC-level logon failed", "user", le.User, "domain", le.Domain, "reason", le.Reason,
				"auth_type", s.authType, "auth_level", s.level, "remote", addrString(a.info.Remote))
		} else {
			a.log.Warn("dcerpc: RPC-level logon failed", "err", err, "auth_type", s.authType, "auth_level", s.level,
				"remote", addrString(a.info.Remote))
		}
		return out, err
	}
	if !done && p.Type == ptAuth3 {
		// rpc_auth_3 is the last leg: nothing can answer a further token.
		s.failed = true
		return nil, fmt.Errorf("%w: the context needs another leg after rpc_auth_3", errAuthMismatch)
	}
	return out, nil
}

// establish completes an established security context: its protection
// (for levels that protect PDUs) and the identity its calls run as.
// Caller holds mu.
func (a *assoc) establish(s *security) error {
	id := s.exch.Identity()
	if s.protects() {
		prot, err := s.exch.Protection()
		if err != nil {
			return err
		}
		s.prot = prot
	}
	info := a.info
	info.Identity = id
	if s.level > levelConnect {
		// The session key that protects application data (the JOINPR
		// password blobs) is then a constant, as Windows has it and
		// clients (go-msrpc) expect: RPC-level security does not
		// export its key, and the SMB session's is not used.
		info.SessionKey = rpcSecuritySessionKey
	}
	s.identity = id
	s.ctx = context.WithValue(ipc.NewContext(a.ctx, &info), protseqKey{}, a.protseq)
	s.done = true
	a.log.Info("dcerpc: RPC-level logon", "user", id.User, "domain", id.Domain, "user_sid", id.UserSID(),
		"admin", id.Admin, "anonymous", id.Anonymous, "mechanism", id.Mechanism, "auth_type", s.authType,
		"auth_level", s.level, "header_sign", s.headerSign, "remote", addrString(a.info.Remote))
	return nil
}

// unprotect checks the verifier of a request fragment on an established
// context, decrypts its body when sealed and cuts the padding off p.body.
// raw is the fragment, writable. Caller holds mu.
func (a *assoc) unprotect(s *security, p *pdu, raw []byte) error {
	if !p.hasAuth {
		if s.protects() {
			return errAuthNoVerifier
		}
		return nil
	}
	tr := p.trailer
	if tr.Type != s.authType || tr.Level != s.level || tr.ContextID != s.contextID {
		return fmt.Errorf("%w: auth_type %d level %d context %d", errAuthMismatch, tr.Type, tr.Level, tr.ContextID)
	}
	hdr := requestHdrLen
	if p.Flags&pfcObjectUUID != 0 {
		hdr += 16
	}
	if p.trailerAt < hdr || int(tr.PadLen) > p.trailerAt-hdr {
		return fmt.Errorf("%w: auth_pad_length %d", errMalformed, tr.PadLen)
	}
	if s.protects() {
		header, body, trailer := raw[:hdr], raw[hdr:p.trailerAt], raw[p.trailerAt:p.trailerAt+secTrailerLen]
		var err error
		if s.seals() {
			err = s.prot.Unseal(header, body, trailer, p.authValue, s.headerSign)
		} else {
			err = s.prot.Verify(header, body, trailer, p.authValue, s.headerSign)
		}
		if err != nil {
			return err
		}
	}
	p.body = p.body[:len(p.body)-int(tr.PadLen)]
	return nil
}

// failSecurity answers a request that failed its security check with an
// access-denied fault and stops taking input: the sequence numbers and
// sealing state cannot be trusted any more. Caller holds mu.
func (a *assoc) failSecurity(callID uint32, err error) {
	a.log.Warn("dcerpc: request failed its security check, closing the association", "err", err,
		"call_id", callID, "remote", addrString(a.info.Remote))
	a.enqueue(encodeFault(callID, pfcDidNotExecute, 0, statusAccessDenied))
	a.dropCur()
	a.broken = true
	a.settle()
}

// protectedFragments splits a response stub into fragments that carry
// the context's verifier (MS-RPCE 3.3.1.5.2.2): each stub padded to 16
// bytes, the sec_trailer, the signature or seal.
func protectedFragments(s *security, frag int, callID uint32, ctxID uint16, stub []byte) ([][]byte, error) {
	seal := s.seals()
	sigSize := s.prot.SignatureSize(seal)
	maxStub := (frag - responseHdrLen - secTrailerLen - sigSize) &^ (authPadAlign - 1)
	if maxStub <= 0 {
		return nil, fmt.Errorf("dcerpc: fragment size %d leaves no room for a %d-byte verifier", frag, sigSize)
	}
	var frags [][]byte
	for off, first := 0, true; first || off < len(stub); first = false {
		n := min(maxStub, len(stub)-off)
		var flags uint8
		if first {
			flags |= pfcFirstFrag
		}
		if off+n == len(stub) {
			flags |= pfcLastFrag
		}
		m, err := encodeProtectedResponse(callID, flags, uint32(len(stub)-off), ctxID, stub[off:off+n], s, sigSize)
		if err != nil {
			return nil, err
		}
		frags = append(frags, m)
		off += n
	}
	return frags, nil
}

// encodeProtectedResponse builds one response fragment with a verifier.
func encodeProtectedResponse(callID uint32, flags uint8, allocHint uint32, ctxID uint16, stub []byte, s *security, sigSize int) ([]byte, error) {
	pad := (authPadAlign - len(stub)%authPadAlign) % authPadAlign
	w := &writer{b: make([]byte, 0, responseHdrLen+len(stub)+pad+secTrailerLen+sigSize)}
	w.start(ptResponse, flags, callID)
	w.u32(allocHint)
	w.u16(ctxID)
	w.u8(0) // cancel_count
	w.u8(0) // reserved
	w.b = append(w.b, stub...)
	w.b = append(w.b, make([]byte, pad)...)
	t := len(w.b)
	w.b = appendTrailer(w.b, s.trailer(uint8(pad)))
	binary.LittleEndian.PutUint16(w.b[8:], uint16(len(w.b)+sigSize))
	binary.LittleEndian.PutUint16(w.b[10:], uint16(sigSize))
	header, body, trailer := w.b[:responseHdrLen], w.b[responseHdrLen:t], w.b[t:]
	var sig []byte
	var err error
	if s.seals() {
		sig, err = s.prot.Seal(header, body, trailer, s.headerSign)
	} else {
		sig, err = s.prot.Sign(header, body, trailer, s.headerSign)
	}
	if err != nil {
		return nil, err
	}
	if len(sig) != sigSize {
		return nil, fmt.Errorf("dcerpc: verifier of %d bytes, %d announced", len(sig), sigSize)
	}
	return append(w.b, sig...), nil
}

// appendTrailer appends a little-endian sec_trailer.
func appendTrailer(b []byte, tr secTrailer) []byte {
	b = append(b, tr.Type, tr.Level, tr.PadLen, 0)
	return binary.LittleEndian.AppendUint32(b, tr.ContextID)
}

// withAuth adds a sec_trailer and token to an encoded bind_ack or
// alter_context_resp, and the header-signing flag when agreed.
func withAuth(msg []byte, s *security, token []byte) []byte {
	if s.headerSign {
		msg[3] |= pfcSupportHeaderSign
	}
	if len(token) == 0 {
		return msg
	}
	pad := (4 - len(msg)%4) % 4
	msg = append(msg, make([]byte, pad)...)
	msg = appendTrailer(msg, s.trailer(uint8(pad)))
	msg = append(msg, token...)
	binary.LittleEndian.PutUint16(msg[8:], uint16(len(msg)))
	binary.LittleEndian.PutUint16(msg[10:], uint16(len(token)))
	return msg
}
