package smb2

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wkssvcd/wkssvcd/internal/logsafe"
	"github.com/wkssvcd/wkssvcd/server/ipc"
	"github.com/wkssvcd/wkssvcd/server/smb2/smbcrypto"
)

const (
	sessionFlagIsNull      = 0x0002
	sessionFlagEncryptData = 0x0004
	treeMaximalAccess      = 0x001F01FF
)

func (c *conn) newSessionID() uint64 {
	for {
		var b [8]byte
		rand.Read(b[:])
		id := le.Uint64(b[:])
		if id == 0 || id == ^uint64(0) {
			continue
		}
		if _, ok := c.sessions[id]; !ok {
			return id
		}
	}
}

// handleSessionSetup is MS-SMB2 3.3.5.5.
func (c *conn) handleSessionSetup(req *request, s *session) (result, error) {
	r, err := decodeSessionSetup(req.msg)
	if err != nil {
		return errResult(statusInvalidParameter), nil
	}
	if r.Flags&sessionFlagBinding != 0 && c.dialect >= smbcrypto.Dialect300 {
		return errResult(statusRequestNotAccepted), nil // no multichannel
	}
	// MS-SMB2 3.3.5.5: with EncryptData and RejectUnencryptedAccess (the
	// RequireEncryption setting), a client that cannot encrypt is refused.
	if c.cfg.RequireEncryption && (c.dialect < smbcrypto.Dialect300 || c.cipher == 0) {
		return errResult(statusAccessDenied), nil
	}
	// Pre-authentication state is bounded (no MS-SMB2 rule): a token
	// above MaxTokenSize is refused before any exchange sees it.
	if len(r.SecurityBuffer) > c.cfg.MaxTokenSize {
		c.log.Debug("session setup refused: security token too large", "bytes", len(r.SecurityBuffer), "max", c.cfg.MaxTokenSize)
		return errResult(statusInvalidParameter), nil
	}
	// Authentication-failure throttling (no MS-SMB2 rule; see
	// authThrottle): a blocked address is refused before the
	// Authenticator sees its token. A session in its first exchange ends
	// as on any failed authentication (MS-SMB2 3.3.5.5.3); an established
	// session being re-authenticated stays as it was, since no
	// authentication took place.
	if c.srv.throttle.blocked(c.nc.RemoteAddr()) {
		c.refuseBlocked(req, s)
		c.log.Debug("logon refused", "reason", "throttled: too many failed logons from this address")
		return errResult(statusLogonFailure), nil
	}
	now := time.Now()
	c.sweepLogons(now)
	is311 := c.dialect == smbcrypto.Dialect311
	if req.hdr.SessionID == 0 {
		c.mu.Lock()
		if len(c.sessions) >= c.cfg.MaxSessions || c.logons >= c.cfg.MaxPendingLogons || !c.buffered.TryReserve(sessionCharge) {
			c.mu.Unlock()
			return errResult(statusInsufficientResources), nil
		}
		s = &session{
			id:    c.newSessionID(),
			trees: make(map[uint32]*tree),
		}
		c.startExchangeLocked(s, now)
		if is311 {
			s.preauth = append([]byte(nil), c.preauth...)
		}
		c.sessions[s.id] = s
		c.mu.Unlock()
		req.hdr.SessionID = s.id
	} else {
		if s == nil {
			return errResult(statusUserSessionDeleted), nil
		}
		if s.state == sessionValid && s.exch == nil {
			// Re-authentication (MS-SMB2 3.3.5.5.2): keys stay unchanged.
			c.mu.Lock()
			if c.logons >= c.cfg.MaxPendingLogons {
				c.mu.Unlock()
				return errResult(statusInsufficientResources), nil
			}
			c.startExchangeLocked(s, now)
			c.mu.Unlock()
			s.reauth = true
		}
	}
	req.sess = s
	if is311 && !s.reauth {
		s.preauth = smbcrypto.PreauthHash(s.preauth, req.msg)
	}
	// The step runs inside the throttle's accounting, so that parallel
	// connections from one address cannot evaluate more guesses than the
	// limit allows.
	if !c.srv.throttle.begin(c.nc.RemoteAddr()) {
		c.refuseBlocked(req, s)
		c.log.Debug("logon refused", "reason", "throttled: too many failed logons from this address")
		return errResult(statusLogonFailure), nil
	}
	out, done, err := s.exch.Step(r.SecurityBuffer)
	c.srv.throttle.end(c.nc.RemoteAddr(), errors.Is(err, ipc.ErrLogonFailure))
	if err != nil {
		c.removeSession(s)
		req.sess = nil
		if errors.Is(err, ipc.ErrLogonFailure) {
			c.logLogonFailure(s.id, err)
			return errResult(statusLogonFailure), nil
		}
		c.log.Debug("bad security token", "err", err)
		return errResult(statusInvalidParameter), nil
	}
	if !done {
		res := result{status: statusMoreProcessingRequired, body: encodeSessionSetupResponse(0, out)}
		if is311 && !s.reauth {
			res.after = func(m []byte) { s.preauth = smbcrypto.PreauthHash(s.preauth, m) }
		}
		return res, nil
	}
	id := s.exch.Identity()
	key := s.exch.SessionKey()
	c.endExchange(s)
	if s.reauth {
		s.reauth = false
		if id.Anonymous != s.identity.Anonymous || !strings.EqualFold(id.User, s.identity.User) {
			c.removeSession(s)
			req.sess = nil
			return errResult(statusLogonFailure), nil
		}
		s.identity = id
		return result{body: encodeSessionSetupResponse(0, out), forceSig: s.signer != nil}, nil
	}
	s.identity = id
	var flags uint16
	if id.Anonymous || len(key) == 0 {
		// Null session: no keys, never signed (MS-SMB2 3.3.5.5.3).
		s.identity.Anonymous = true
		flags = sessionFlagIsNull
	} else {
		sk := make([]byte, 16)
		copy(sk, key)
		keys := smbcrypto.DeriveSessionKeys(c.dialect, sk, key, s.preauth, c.cipher)
		s.sessionKey = sk
		s.appKey = keys.Application
		if s.signer, err = smbcrypto.NewSigner(c.signingAlg, keys.Signing); err != nil {
			return result{}, err
		}
		s.signingRequired = !c.cfg.SigningOptional || r.SecurityMode&uint8(secModeSigningRequired) != 0
		if c.dialect >= smbcrypto.Dialect300 && c.cipher != 0 && keys.Encryption != nil && keys.Decryption != nil {
			if s.enc, err = smbcrypto.NewAEAD(c.cipher, keys.Encryption); err != nil {
				return result{}, err
			}
			if s.dec, err = smbcrypto.NewAEAD(c.cipher, keys.Decryption); err != nil {
				return result{}, err
			}
			if s.nonces, err = smbcrypto.NewNonceSource(s.enc.NonceSize()); err != nil {
				return result{}, err
			}
		}
	}
	if c.cfg.RequireEncryption {
		// MS-SMB2 3.3.5.5.3: Session.EncryptData; the client is told with
		// SMB2_SESSION_FLAG_ENCRYPT_DATA. The spec also clears
		// Session.SigningRequired; it stays set here, so that the only
		// unencrypted requests the session accepts (SESSION_SETUP, which
		// MS-SMB2 3.3.5.2.9 does not cover) must be signed. A null session
		// has no keys: it can neither encrypt nor use any share.
		s.encryptData = true
		if !s.identity.Anonymous {
			flags |= sessionFlagEncryptData
			s.signingRequired = true
		}
	}
	s.state = sessionValid
	c.noteLogon(s)
	c.authenticated = true // the handshake is complete (HandshakeTimeout)
	c.log.Info("session established", "session", s.id, logsafe.String("user", id.User), logsafe.String("domain", id.Domain),
		"anonymous", s.identity.Anonymous, "dialect", dialectName(c.dialect))
	return result{body: encodeSessionSetupResponse(flags, out), forceSig: s.signer != nil, signWith: s}, nil
}

// refuseBlocked ends the exchange of a session setup that the throttle
// refused without consulting the Authenticator: a session in its first
// exchange is removed; an established session keeps its state and only
// loses the re-authentication it had begun.
func (c *conn) refuseBlocked(req *request, s *session) {
	if req.hdr.SessionID == 0 || s == nil {
		return
	}
	if s.state == sessionValid {
		c.endExchange(s)
		s.reauth = false
		return
	}
	c.removeSession(s)
	req.sess = nil
}

// startExchangeLocked gives s a new security exchange with its deadline.
// Caller holds c.mu.
func (c *conn) startExchangeLocked(s *session, now time.Time) {
	s.exch = c.cfg.Auth.NewExchange()
	s.exchExpires = time.Time{}
	if c.cfg.HandshakeTimeout > 0 {
		s.exchExpires = now.Add(c.cfg.HandshakeTimeout)
	}
	c.logons++
}

// endExchange drops the security exchange of s, finished or not.
func (c *conn) endExchange(s *session) {
	c.mu.Lock()
	c.endExchangeLocked(s)
	c.mu.Unlock()
}

func (c *conn) endExchangeLocked(s *session) {
	if s.exch != nil {
		s.exch = nil
		c.logons--
	}
}

// sweepLogons drops the security exchanges whose HandshakeTimeout passed:
// a session in its first exchange is removed, an established one only
// loses its re-authentication. Each counts as a failed logon for the
// throttle. Reader goroutine only.
func (c *conn) sweepLogons(now time.Time) {
	var expired []*session
	c.mu.Lock()
	if c.logons > 0 {
		for _, s := range c.sessions {
			if s.exch != nil && !s.exchExpires.IsZero() && !now.Before(s.exchExpires) {
				expired = append(expired, s)
			}
		}
	}
	c.mu.Unlock()
	for _, s := range expired {
		c.log.Debug("unfinished session setup dropped after the handshake timeout", "session", s.id)
		if s.state == sessionValid {
			c.endExchange(s)
			s.reauth = false
		} else {
			c.removeSession(s)
		}
		c.srv.throttle.abandoned(c.nc.RemoteAddr())
	}
}

// nextLogonExpiry is the earliest deadline of an unfinished security
// exchange, or zero. Reader goroutine only.
func (c *conn) nextLogonExpiry() time.Time {
	var next time.Time
	c.mu.Lock()
	if c.logons > 0 {
		for _, s := range c.sessions {
			if s.exch != nil && !s.exchExpires.IsZero() && (next.IsZero() || s.exchExpires.Before(next)) {
				next = s.exchExpires
			}
		}
	}
	c.mu.Unlock()
	return next
}

// handleLogoff is MS-SMB2 3.3.5.6; the response is signed with the keys of
// the session it ends.
func (c *conn) handleLogoff(req *request) (result, error) {
	if err := decodeSimple(req.msg); err != nil {
		return errResult(statusInvalidParameter), nil
	}
	if req.sess.exch != nil {
		c.srv.throttle.abandoned(c.nc.RemoteAddr())
	}
	c.removeSession(req.sess)
	return result{body: encodeSimpleResponse()}, nil
}

// handleTreeConnect is MS-SMB2 3.3.5.7: only IPC$ exists.
func (c *conn) handleTreeConnect(req *request) (result, error) {
	s := req.sess
	if c.dialect == smbcrypto.Dialect311 && !s.identity.Anonymous && !req.signed && !req.encrypted {
		return result{}, errDisconnect
	}
	path, err := decodeTreeConnect(req.msg)
	if err != nil {
		return errResult(statusInvalidParameter), nil
	}
	share, ok := shareName(path)
	if !ok {
		return errResult(statusBadNetworkName), nil
	}
	if !strings.EqualFold(share, "IPC$") {
		return errResult(statusBadNetworkName), nil
	}
	c.mu.Lock()
	if len(s.trees) >= maxTreesPerSession || !c.buffered.TryReserve(treeCharge) {
		c.mu.Unlock()
		return errResult(statusInsufficientResources), nil
	}
	s.nextTreeID++
	t := &tree{id: s.nextTreeID}
	s.trees[t.id] = t
	c.mu.Unlock()
	req.hdr.TreeID = t.id
	return result{body: encodeTreeConnectResponse(shareTypePipe, shareFlagNoCache, 0, treeMaximalAccess)}, nil
}

// handleTreeDisconnect is MS-SMB2 3.3.5.8.
func (c *conn) handleTreeDisconnect(req *request) (result, error) {
	if err := decodeSimple(req.msg); err != nil {
		return errResult(statusInvalidParameter), nil
	}
	c.mu.Lock()
	if _, ok := req.sess.trees[req.tree.id]; ok {
		delete(req.sess.trees, req.tree.id)
		c.buffered.Release(treeCharge)
	}
	var closing []*open
	for k, o := range c.opens {
		if o.sessionID == req.sess.id && o.treeID == req.tree.id {
			closing = append(closing, o)
			delete(c.opens, k)
		}
	}
	c.mu.Unlock()
	for _, o := range closing {
		o.shut()
	}
	return result{body: encodeSimpleResponse()}, nil
}

// logLogonFailure writes the line an operator looks for after a failed
// logon: the user and domain the client gave, its address (in c.log) and
// the reason. Never the response or a hash.
//
// The user and domain are what the client sent: they are cut to
// logsafe.MaxText characters. A logon naming no known account is logged
// at info level, at most once a minute per remote address (with the
// number of such logons not logged): the name is chosen by whoever
// connects, and is sometimes a password typed into the wrong field.
func (c *conn) logLogonFailure(session uint64, err error) {
	var le *ipc.LogonError
	if !errors.As(err, &le) {
		c.log.Warn("logon failed", "session", session, logsafe.String("reason", err.Error()))
		return
	}
	if le.Reason == ipc.ReasonUnknownUser {
		key := c.nc.RemoteAddr().String()
		if k, ok := throttleKey(c.nc.RemoteAddr()); ok {
			key = k.String()
		}
		c.srv.unknownUsers.Do(key, func(suppressed int) {
			c.log.Info("logon failed", "session", session, logsafe.String("user", le.User), logsafe.String("domain", le.Domain),
				"reason", le.Reason, "unknown_users_not_logged", suppressed)
		})
		return
	}
	c.log.Warn("logon failed", "session", session, logsafe.String("user", le.User), logsafe.String("domain", le.Domain),
		logsafe.String("reason", le.Reason))
}

// dialectName renders a dialect revision as people write it: 0x0311 is
// "3.1.1" (MS-SMB2 2.2.3).
func dialectName(d uint16) string {
	switch d {
	case smbcrypto.Dialect202:
		return "2.0.2"
	case smbcrypto.Dialect210:
		return "2.1"
	case smbcrypto.Dialect300:
		return "3.0"
	case smbcrypto.Dialect302:
		return "3.0.2"
	case smbcrypto.Dialect311:
		return "3.1.1"
	}
	return fmt.Sprintf("0x%04x", d)
}
