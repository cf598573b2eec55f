package smbtap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
)

// Stats counts what the proxy saw over all connections.
type Stats struct {
	Connections        int
	EncryptedRequests  int // transform messages from clients
	EncryptedResponses int // transform messages from the server
	DecryptedRequests  int // client transform messages the proxy decrypted and authenticated
	DecryptedResponses int // server transform messages the proxy decrypted and authenticated
	EncryptedAnswers   int // responses found inside decrypted server messages
	PlainResponses     int // plaintext response messages (compound elements)
	SignedVerified     int // plaintext responses whose signature the proxy verified
	Sessions           int // sessions whose signing key the proxy derived
	Violations         []string
}

// Proxy forwards connections from its listener to a target address.
type Proxy struct {
	ln        net.Listener
	target    string
	passwords map[string]string // lower-case user name -> password

	mu    sync.Mutex
	stats Stats
	conns []net.Conn
	wg    sync.WaitGroup
}

// Start listens on listen (host:port) and forwards to target. passwords
// maps user names (any case, without domain) to their passwords, so that
// the proxy can derive signing keys. The proxy stops when the test ends.
func Start(t testing.TB, listen, target string, passwords map[string]string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		t.Fatalf("smbtap: listen on %s: %v", listen, err)
	}
	p := &Proxy{ln: ln, target: target, passwords: map[string]string{}}
	for u, pw := range passwords {
		p.passwords[strings.ToLower(u)] = pw
	}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// Addr is the address clients connect to.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Close stops accepting, closes every connection and waits for them.
func (p *Proxy) Close() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// Stats returns a copy of the counts so far.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Violations = append([]string(nil), s.Violations...)
	return s
}

// Reset clears the counts and violations (between subtests).
func (p *Proxy) Reset() {
	p.mu.Lock()
	p.stats = Stats{}
	p.mu.Unlock()
}

// Check fails t with every violation recorded so far.
func (p *Proxy) Check(t testing.TB) Stats {
	t.Helper()
	s := p.Stats()
	for _, v := range s.Violations {
		t.Errorf("on the wire: %s", v)
	}
	return s
}

func (p *Proxy) violation(format string, args ...any) {
	p.mu.Lock()
	p.stats.Violations = append(p.stats.Violations, fmt.Sprintf(format, args...))
	p.mu.Unlock()
}

func (p *Proxy) count(f func(s *Stats)) {
	p.mu.Lock()
	f(&p.stats)
	p.mu.Unlock()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			p.violation("cannot reach %s: %v", p.target, err)
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.stats.Connections++
		id := p.stats.Connections
		p.mu.Unlock()
		cs := newConnState(p, id)
		p.wg.Add(2)
		go func() {
			defer p.wg.Done()
			p.pump(c, s, cs.fromClient)
			s.(*net.TCPConn).CloseWrite()
		}()
		go func() {
			defer p.wg.Done()
			p.pump(s, c, cs.fromServer)
			c.Close()
			s.Close()
		}()
	}
}

// pump copies src to dst one Direct TCP transport message (MS-SMB2 2.1)
// at a time, handing each to inspect before it is forwarded, so the
// request a response answers is always recorded first.
func (p *Proxy) pump(src, dst net.Conn, inspect func([]byte)) {
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(src, hdr[:]); err != nil {
			return
		}
		n := int(hdr[1])<<16 | int(hdr[2])<<8 | int(hdr[3])
		buf := make([]byte, 4+n)
		copy(buf, hdr[:])
		if _, err := io.ReadFull(src, buf[4:]); err != nil {
			return
		}
		if hdr[0] == 0 {
			inspect(buf[4:])
		}
		if _, err := dst.Write(buf); err != nil {
			return
		}
	}
}

// SMB2 constants (MS-SMB2 2.2.1, 2.2.3, 2.2.6).
const (
	hdrSize          = 64
	flagResponse     = 0x00000001
	flagAsync        = 0x00000002
	flagRelated      = 0x00000004
	flagSigned       = 0x00000008
	cmdNegotiate     = 0x0000
	cmdSessionSetup  = 0x0001
	cmdLogoff        = 0x0002
	cmdCancel        = 0x000C
	statusSuccess    = 0x00000000
	statusPending    = 0x00000103
	statusMoreProc   = 0xC0000016
	sessFlagIsGuest  = 0x0001
	sessFlagIsNull   = 0x0002
	sessFlagEncrypt  = 0x0004
	secModeSignReq   = 0x0002
	ctxSigning       = 0x0008
	algHMACSHA256    = 0xFFFF // not on the wire: below 3.0
	algAESCMAC       = 0x0001
	algAESGMAC       = 0x0002
	dialect300       = 0x0300
	dialect311       = 0x0311
	transformHdrSize = 52
)

var (
	protoSMB2      = []byte{0xFE, 'S', 'M', 'B'}
	protoTransform = []byte{0xFD, 'S', 'M', 'B'}
)

type request struct {
	cmd       uint16
	sessionID uint64
	signed    bool
	encrypted bool // came inside a transform message
}

type session struct {
	id          uint64
	preauth     []byte // 3.1.1 preauthentication hash of this session's setup
	signingKey  []byte
	anonymous   bool
	established bool
	encryptData bool
	loggedOff   bool
	pendingAuth []byte          // NTLM AUTHENTICATE of the setup in progress
	c2sKey      []byte          // client-to-server cipher key (nil: no encryption)
	s2cKey      []byte          // server-to-client cipher key
	nonces      map[string]bool // nonces of the server's transform messages
}

// connState follows one connection.
type connState struct {
	p  *Proxy
	id int

	mu          sync.Mutex
	dialect     uint16
	signAlg     uint16
	cipher      uint16 // negotiated cipher; 0 when none
	signReq     bool
	connPreauth []byte
	negReq      []byte
	reqs        map[uint64]request // requests by MessageId, until answered
	sessions    map[uint64]*session
	setupByMsg  map[uint64]*session // SESSION_SETUP requests of new sessions, by MessageId
}

func newConnState(p *Proxy, id int) *connState {
	return &connState{p: p, id: id, reqs: map[uint64]request{}, sessions: map[uint64]*session{}, setupByMsg: map[uint64]*session{}}
}

// elements splits a (compounded) SMB2 message into its elements, each with
// its padding (the bytes a signature covers).
func elements(b []byte) ([][]byte, error) {
	var out [][]byte
	for len(b) > 0 {
		if len(b) < hdrSize || !bytes.Equal(b[:4], protoSMB2) {
			return nil, errors.New("not an SMB2 message")
		}
		next := binary.LittleEndian.Uint32(b[20:])
		if next == 0 {
			out = append(out, b)
			break
		}
		if int(next) < hdrSize || int(next) > len(b) {
			return nil, errors.New("bad NextCommand")
		}
		out = append(out, b[:next])
		b = b[next:]
	}
	return out, nil
}

func (c *connState) fromClient(b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	encrypted := false
	if bytes.HasPrefix(b, protoTransform) {
		c.p.count(func(s *Stats) { s.EncryptedRequests++ })
		pt, err := c.decrypt(b, false)
		if err != nil {
			c.p.violation("conn %d: cannot decrypt a client's transform message: %v", c.id, err)
			return
		}
		c.p.count(func(s *Stats) { s.DecryptedRequests++ })
		b, encrypted = pt, true
	} else if !bytes.HasPrefix(b, protoSMB2) {
		return // SMB1 negotiate
	}
	els, err := elements(b)
	if err != nil {
		c.p.violation("conn %d: client sent a malformed message: %v", c.id, err)
		return
	}
	var prevSID uint64
	for i, m := range els {
		cmd := binary.LittleEndian.Uint16(m[12:])
		flags := binary.LittleEndian.Uint32(m[16:])
		msgID := binary.LittleEndian.Uint64(m[24:])
		sid := binary.LittleEndian.Uint64(m[40:])
		if i > 0 && flags&flagRelated != 0 {
			sid = prevSID
		}
		prevSID = sid
		if cmd == cmdCancel {
			continue
		}
		c.reqs[msgID] = request{cmd: cmd, sessionID: sid, signed: flags&flagSigned != 0, encrypted: encrypted}
		switch cmd {
		case cmdNegotiate:
			c.negReq = append([]byte(nil), m...)
		case cmdSessionSetup:
			c.sessionSetupRequest(m, msgID, sid)
		case cmdLogoff:
			if s := c.sessions[sid]; s != nil {
				s.loggedOff = true
			}
		}
	}
}

func (c *connState) sessionSetupRequest(m []byte, msgID, sid uint64) {
	var s *session
	if sid == 0 {
		s = &session{preauth: c.connPreauth}
		c.setupByMsg[msgID] = s
	} else if s = c.sessions[sid]; s == nil || s.established {
		// A re-authentication or binding keeps the keys of the first
		// authentication; nothing to follow.
		return
	}
	if c.dialect == dialect311 && s.preauth != nil {
		s.preauth = preauthHash(s.preauth, m)
	}
	if len(m) >= hdrSize+16 {
		off := int(binary.LittleEndian.Uint16(m[hdrSize+12:]))
		n := int(binary.LittleEndian.Uint16(m[hdrSize+14:]))
		if off >= hdrSize && off+n <= len(m) {
			if i := bytes.Index(m[off:off+n], []byte("NTLMSSP\x00\x03\x00\x00\x00")); i >= 0 {
				s.pendingAuth = append([]byte(nil), m[off+i:off+n]...)
			}
		}
	}
}

func (c *connState) fromServer(b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if bytes.HasPrefix(b, protoTransform) {
		c.p.count(func(s *Stats) { s.EncryptedResponses++ })
		c.encryptedResponse(b)
		return
	}
	if !bytes.HasPrefix(b, protoSMB2) {
		c.p.violation("conn %d: server sent a message that is neither SMB2 nor a transform: % x", c.id, b[:min(8, len(b))])
		return
	}
	els, err := elements(b)
	if err != nil {
		c.p.violation("conn %d: server sent a malformed message: %v", c.id, err)
		return
	}
	for _, m := range els {
		c.response(m)
	}
}

func (c *connState) response(m []byte) {
	cmd := binary.LittleEndian.Uint16(m[12:])
	flags := binary.LittleEndian.Uint32(m[16:])
	status := binary.LittleEndian.Uint32(m[8:])
	msgID := binary.LittleEndian.Uint64(m[24:])
	sid := binary.LittleEndian.Uint64(m[40:])
	c.p.count(func(s *Stats) { s.PlainResponses++ })
	interim := flags&flagAsync != 0 && status == statusPending
	req, seen := c.reqs[msgID]
	if !seen || req.encrypted {
		c.p.violation("conn %d: plaintext response (command %#x, MessageId %d, status %#08x) to a request that was encrypted (MS-SMB2 3.3.4.1.4)",
			c.id, cmd, msgID, status)
		return
	}
	if !interim {
		delete(c.reqs, msgID)
	}
	switch cmd {
	case cmdNegotiate:
		c.negotiateResponse(m)
		return
	case cmdSessionSetup:
		if c.sessionSetupResponse(m, msgID, sid, status) {
			return // the final response, checked in sessionSetupResponse
		}
	}
	s := c.sessions[sid]
	if s == nil || !s.established {
		return
	}
	if s.encryptData && !interim {
		c.p.violation("conn %d: plaintext response (command %#x, MessageId %d) on session %#x whose data must be encrypted",
			c.id, cmd, msgID, sid)
	}
	if interim || s.anonymous || s.signingKey == nil {
		return
	}
	mustSign := c.signReq || req.signed
	signed := flags&flagSigned != 0
	switch {
	case signed:
		c.verify(s, m, cmd, msgID)
	case mustSign:
		c.p.violation("conn %d: unsigned response (command %#x, MessageId %d, status %#08x) on signed session %#x (MS-SMB2 3.3.4.1.1)",
			c.id, cmd, msgID, status, sid)
	}
}

func (c *connState) verify(s *session, m []byte, cmd uint16, msgID uint64) {
	if !verifySignature(c.signAlg, s.signingKey, m) {
		c.p.violation("conn %d: bad signature on response (command %#x, MessageId %d) of session %#x", c.id, cmd, msgID, s.id)
		return
	}
	c.p.count(func(st *Stats) { st.SignedVerified++ })
}

func (c *connState) negotiateResponse(m []byte) {
	if len(m) < hdrSize+64 {
		return
	}
	body := m[hdrSize:]
	c.dialect = binary.LittleEndian.Uint16(body[4:])
	c.signReq = binary.LittleEndian.Uint16(body[2:])&secModeSignReq != 0
	c.signAlg = algAESCMAC
	if c.dialect < dialect300 {
		c.signAlg = algHMACSHA256
	}
	// 3.0 and 3.0.2 encrypt with AES-128-CCM when the server offers
	// SMB2_GLOBAL_CAP_ENCRYPTION (MS-SMB2 2.2.4); 3.1.1 names its cipher
	// in a negotiate context.
	const capEncryption = 0x00000040
	if c.dialect >= dialect300 && c.dialect < dialect311 && binary.LittleEndian.Uint32(body[24:])&capEncryption != 0 {
		c.cipher = cipherAES128CCM
	}
	if c.dialect != dialect311 {
		return
	}
	if c.negReq != nil {
		c.connPreauth = preauthHash(preauthHash(make([]byte, 64), c.negReq), m)
	}
	// Negotiate contexts (MS-SMB2 2.2.4): the signing algorithm.
	count := int(binary.LittleEndian.Uint16(body[6:]))
	off := int(binary.LittleEndian.Uint32(body[60:]))
	for i := 0; i < count && off+8 <= len(m); i++ {
		typ := binary.LittleEndian.Uint16(m[off:])
		n := int(binary.LittleEndian.Uint16(m[off+2:]))
		if off+8+n > len(m) {
			return
		}
		data := m[off+8 : off+8+n]
		if typ == ctxSigning && n >= 4 {
			c.signAlg = binary.LittleEndian.Uint16(data[2:])
		}
		if typ == ctxEncryption && n >= 4 && binary.LittleEndian.Uint16(data) == 1 {
			c.cipher = binary.LittleEndian.Uint16(data[2:])
		}
		off = (off + 8 + n + 7) &^ 7
	}
}

// sessionSetupResponse follows the session's setup; it reports whether m
// was the final response of a first authentication (checked here).
func (c *connState) sessionSetupResponse(m []byte, msgID, sid uint64, status uint32) bool {
	s := c.setupByMsg[msgID]
	if s != nil {
		delete(c.setupByMsg, msgID)
		s.id = sid
		if sid != 0 {
			c.sessions[sid] = s
		}
	} else if s = c.sessions[sid]; s == nil || s.established {
		return false
	}
	switch status {
	case statusMoreProc:
		if c.dialect == dialect311 && s.preauth != nil {
			s.preauth = preauthHash(s.preauth, m)
		}
		return true
	case statusSuccess:
	default:
		delete(c.sessions, sid)
		return true
	}
	var flags uint16
	if len(m) >= hdrSize+4 {
		flags = binary.LittleEndian.Uint16(m[hdrSize+2:])
	}
	s.established = true
	s.encryptData = flags&sessFlagEncrypt != 0
	s.anonymous = flags&(sessFlagIsNull|sessFlagIsGuest) != 0
	if s.anonymous {
		return true
	}
	key, err := c.p.sessionKey(s.pendingAuth)
	if err != nil {
		c.p.violation("conn %d: session %#x: cannot derive its key: %v", c.id, sid, err)
		return true
	}
	s.signingKey = signingKey(c.dialect, key, s.preauth)
	s.c2sKey, s.s2cKey = cipherKeys(c.dialect, c.cipher, key, s.preauth)
	c.p.count(func(st *Stats) { st.Sessions++ })
	// MS-SMB2 3.3.5.5.3: at 3.x the final response is signed.
	if binary.LittleEndian.Uint32(m[16:])&flagSigned == 0 {
		if c.dialect >= dialect300 {
			c.p.violation("conn %d: final SESSION_SETUP response of session %#x not signed", c.id, sid)
		}
		return true
	}
	c.verify(s, m, cmdSessionSetup, msgID)
	return true
}

// decrypt opens a transform message of either direction with the key of
// the session it names.
func (c *connState) decrypt(b []byte, fromServer bool) ([]byte, error) {
	if len(b) < transformHdrSize {
		return nil, errors.New("shorter than a transform header")
	}
	sid := binary.LittleEndian.Uint64(b[44:])
	s := c.sessions[sid]
	if s == nil {
		return nil, fmt.Errorf("unknown session %#x", sid)
	}
	key := s.c2sKey
	if fromServer {
		key = s.s2cKey
	}
	if key == nil {
		return nil, fmt.Errorf("no cipher key for session %#x (dialect %#x, cipher %#x)", sid, c.dialect, c.cipher)
	}
	// Flags (3.1.1) or EncryptionAlgorithm (3.0, 3.0.2): 0x0001 both.
	if f := binary.LittleEndian.Uint16(b[42:]); f != 1 {
		return nil, fmt.Errorf("Flags/EncryptionAlgorithm %#x, want 0x0001 (MS-SMB2 2.2.41)", f)
	}
	return decryptTransform(c.cipher, key, b)
}

// encryptedResponse decrypts a server's transform message and checks what
// it holds: responses to requests of this connection on the session the
// header names, under a nonce the server has not used before with that
// key.
func (c *connState) encryptedResponse(b []byte) {
	pt, err := c.decrypt(b, true)
	if err != nil {
		c.p.violation("conn %d: cannot decrypt the server's transform message: %v", c.id, err)
		return
	}
	c.p.count(func(s *Stats) { s.DecryptedResponses++ })
	sid := binary.LittleEndian.Uint64(b[44:])
	s := c.sessions[sid]
	nonce := string(b[20:36])
	if s.nonces == nil {
		s.nonces = map[string]bool{}
	}
	if s.nonces[nonce] {
		c.p.violation("conn %d: the server reused a nonce on session %#x (MS-SMB2 3.1.4.3)", c.id, sid)
	}
	s.nonces[nonce] = true
	els, err := elements(pt)
	if err != nil {
		c.p.violation("conn %d: the server encrypted a malformed message: %v", c.id, err)
		return
	}
	var prevSID uint64
	for i, m := range els {
		flags := binary.LittleEndian.Uint32(m[16:])
		msgID := binary.LittleEndian.Uint64(m[24:])
		esid := binary.LittleEndian.Uint64(m[40:])
		if i > 0 && flags&flagRelated != 0 {
			esid = prevSID
		}
		prevSID = esid
		if flags&flagResponse == 0 {
			c.p.violation("conn %d: the server encrypted a message that is not a response (MessageId %d)", c.id, msgID)
			continue
		}
		req, seen := c.reqs[msgID]
		if !seen {
			c.p.violation("conn %d: encrypted response to MessageId %d, which no request used", c.id, msgID)
			continue
		}
		if esid != sid {
			c.p.violation("conn %d: response of session %#x encrypted with the key of session %#x", c.id, esid, sid)
		}
		status := binary.LittleEndian.Uint32(m[8:])
		if !(flags&flagAsync != 0 && status == statusPending) {
			delete(c.reqs, msgID)
		}
		if req.cmd == cmdLogoff && status == statusSuccess {
			delete(c.sessions, esid)
		}
		c.p.count(func(st *Stats) { st.EncryptedAnswers++ })
	}
}
