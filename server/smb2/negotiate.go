package smb2

import (
	"crypto/rand"
	"slices"
	"time"

	"github.com/wkssvcd/wkssvcd/server/smb2/smbcrypto"
)

// filetime converts t to a Windows FILETIME (MS-DTYP 2.3.3).
func filetime(t time.Time) uint64 {
	return uint64(t.UnixNano()/100) + 116444736000000000
}

func (c *conn) baseNegotiateResponse(dialect uint16) *negotiateResponse {
	r := &negotiateResponse{
		SecurityMode:    secModeSigningEnabled,
		Dialect:         dialect,
		ServerGUID:      c.cfg.ServerGUID,
		MaxTransactSize: c.cfg.MaxTransactSize,
		MaxReadSize:     c.cfg.MaxReadSize,
		MaxWriteSize:    c.cfg.MaxWriteSize,
		SystemTime:      filetime(time.Now()),
		SecurityBuffer:  c.cfg.Auth.NegotiateToken(),
	}
	if !c.cfg.SigningOptional {
		r.SecurityMode |= secModeSigningRequired
	}
	if dialect != smbcrypto.Dialect202 {
		r.Capabilities |= capLargeMTU
	}
	return r
}

// handleSMB1Negotiate answers an SMB_COM_NEGOTIATE with an SMB2 NEGOTIATE
// response (MS-SMB2 3.3.5.3.1, 3.3.5.3.2).
func (c *conn) handleSMB1Negotiate(frame []byte) error {
	if c.dialect != dialectNone {
		return errDisconnect // MS-SMB2 3.3.5.3
	}
	dialects, err := smb1Negotiate(frame)
	if err != nil {
		return errDisconnect
	}
	var chosen uint16
	switch {
	case slices.Contains(dialects, "SMB 2.???") && c.cfg.MaxDialect > smbcrypto.Dialect202:
		chosen = dialectWildcard
	case slices.Contains(dialects, "SMB 2.002") && c.cfg.MinDialect == smbcrypto.Dialect202:
		chosen = smbcrypto.Dialect202
	default:
		return errDisconnect
	}
	if !c.credits.consume(0, 1) {
		return errDisconnect
	}
	r := c.baseNegotiateResponse(chosen)
	if chosen == dialectWildcard {
		r.Capabilities = 0
		if c.cfg.MaxDialect > smbcrypto.Dialect202 {
			r.Capabilities |= capLargeMTU
		}
	}
	c.dialect = chosen
	c.serverSecMode = r.SecurityMode
	c.serverCaps = r.Capabilities
	h := header{Command: cmdNegotiate, Flags: flagServerToRedir, Credit: c.credits.grant(1)}
	b := r.encode()
	f := newTxFrame(headerSize + len(b))
	h.put(f.msg)
	copy(f.msg[headerSize:], b)
	return c.send(f, nil, true)
}

// handleNegotiate is MS-SMB2 3.3.5.4.
func (c *conn) handleNegotiate(req *request) (result, error) {
	if c.negotiated() {
		return result{}, errDisconnect
	}
	if req.hdr.Flags&flagSigned != 0 {
		return errResult(statusInvalidParameter), nil
	}
	nr, err := decodeNegotiate(req.msg)
	if err != nil || len(nr.Dialects) == 0 {
		return errResult(statusInvalidParameter), nil
	}
	var dialect uint16
	for _, d := range nr.Dialects {
		if knownDialect(d) && d >= c.cfg.MinDialect && d <= c.cfg.MaxDialect && d > dialect {
			dialect = d
		}
	}
	if dialect == 0 {
		return errResult(statusNotSupported), nil
	}
	r := c.baseNegotiateResponse(dialect)
	cipher, signing := uint16(0), smbcrypto.SigningAESCMAC
	if dialect == smbcrypto.Dialect202 || dialect == smbcrypto.Dialect210 {
		signing = smbcrypto.SigningHMACSHA256
	}
	if dialect == smbcrypto.Dialect300 || dialect == smbcrypto.Dialect302 {
		if nr.Capabilities&capEncryption != 0 && slices.Contains(c.cfg.Ciphers, smbcrypto.AES128CCM) {
			cipher = smbcrypto.AES128CCM
			r.Capabilities |= capEncryption
		}
	}
	if dialect == smbcrypto.Dialect311 {
		ctxs, err := decodeNegotiateContexts(req.msg, nr.ContextOffset, nr.ContextCount)
		if err != nil {
			return errResult(statusInvalidParameter), nil
		}
		var st uint32
		r.Contexts, cipher, signing, st = c.negotiateContexts(ctxs)
		if st != statusSuccess {
			return errResult(st), nil
		}
	}
	c.dialect = dialect
	c.clientGUID = nr.ClientGUID
	c.clientSecMode = nr.SecurityMode
	c.clientCaps = nr.Capabilities
	c.clientDialects = nr.Dialects
	c.serverSecMode = r.SecurityMode
	c.serverCaps = r.Capabilities
	c.cipher = cipher
	c.signingAlg = signing
	res := result{body: r.encode()}
	if dialect == smbcrypto.Dialect311 {
		c.preauth = smbcrypto.PreauthHash(make([]byte, 64), req.msg)
		res.after = func(m []byte) { c.preauth = smbcrypto.PreauthHash(c.preauth, m) }
	}
	return res, nil
}

// negotiateContexts processes the 3.1.1 request contexts and builds the
// response contexts (MS-SMB2 3.3.5.4).
func (c *conn) negotiateContexts(ctxs []negotiateContext) ([]negotiateContext, uint16, uint16, uint32) {
	var preauth, encryption, signing []byte
	seen := map[uint16]bool{}
	for _, x := range ctxs {
		switch x.Type {
		case ctxPreauth, ctxEncryption, ctxSigning, ctxCompression, ctxNetname, ctxTransport, ctxRDMA:
			if seen[x.Type] && x.Type != ctxNetname {
				return nil, 0, 0, statusInvalidParameter
			}
			seen[x.Type] = true
		}
		switch x.Type {
		case ctxPreauth:
			preauth = x.Data
		case ctxEncryption:
			encryption = x.Data
		case ctxSigning:
			signing = x.Data
		}
	}
	if preauth == nil {
		return nil, 0, 0, statusInvalidParameter
	}
	pc, err := decodePreauthContext(preauth)
	if err != nil {
		return nil, 0, 0, statusInvalidParameter
	}
	if !slices.Contains(pc.Hashes, hashSHA512) {
		return nil, 0, 0, statusNoPreauthOverlap
	}
	salt := make([]byte, 32)
	if _, err := rand.Read(salt); err != nil {
		return nil, 0, 0, statusInsufficientResources
	}
	pd := make([]byte, 6+len(salt))
	le.PutUint16(pd, 1)
	le.PutUint16(pd[2:], uint16(len(salt)))
	le.PutUint16(pd[4:], hashSHA512)
	copy(pd[6:], salt)
	out := []negotiateContext{{Type: ctxPreauth, Data: pd}}

	var cipher uint16
	if encryption != nil {
		offered, err := decodeIDList(encryption)
		if err != nil {
			return nil, 0, 0, statusInvalidParameter
		}
		for _, want := range c.cfg.Ciphers {
			if slices.Contains(offered, want) {
				cipher = want
				break
			}
		}
		// With no common cipher the context is omitted (clients treat a
		// zero cipher as an error).
		if cipher != 0 {
			d := make([]byte, 4)
			le.PutUint16(d, 1)
			le.PutUint16(d[2:], cipher)
			out = append(out, negotiateContext{Type: ctxEncryption, Data: d})
		}
	}
	alg := smbcrypto.SigningAESCMAC
	if signing != nil {
		offered, err := decodeIDList(signing)
		if err != nil {
			return nil, 0, 0, statusInvalidParameter
		}
		chosen := false
		for _, want := range []uint16{smbcrypto.SigningAESGMAC, smbcrypto.SigningAESCMAC} {
			if slices.Contains(offered, want) {
				alg, chosen = want, true
				break
			}
		}
		if chosen {
			d := make([]byte, 4)
			le.PutUint16(d, 1)
			le.PutUint16(d[2:], alg)
			out = append(out, negotiateContext{Type: ctxSigning, Data: d})
		}
	}
	return out, cipher, alg, statusSuccess
}
