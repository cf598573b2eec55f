package smb2

import (
	"context"
	"crypto/cipher"
	"strings"
	"sync"
	"time"

	"github.com/wkssvcd/wkssvcd/server/budget"
	"github.com/wkssvcd/wkssvcd/server/ipc"
	"github.com/wkssvcd/wkssvcd/server/smb2/smbcrypto"
)

// maxTreesPerSession bounds the tree connects of one session; only IPC$
// exists, so a client needs one or two.
const maxTreesPerSession = 64

// sessionCharge and treeCharge are what a session and a tree connect are
// counted for in the connection's budget (MaxConnBuffered), so that
// MaxBuffered bounds them for the whole server: a null session measured
// about 1 KiB with its place in the tables, a signing or sealing one
// holds keys and ciphers besides; a tree connect about 42 bytes. The
// counts are bounded per connection too (MaxSessions, maxTreesPerSession).
const (
	sessionCharge = 2048
	treeCharge    = 64
)

// creditWindow is the set of usable MessageIds (MS-SMB2 3.3.1.1, 3.3.1.2):
// ids in [low, high) not yet in used.
type creditWindow struct {
	low, high uint64
	used      map[uint64]struct{}
	max       uint64
}

func newCreditWindow(maxCredits int) *creditWindow {
	return &creditWindow{low: 0, high: 1, used: make(map[uint64]struct{}), max: uint64(maxCredits)}
}

// consume takes ids [mid, mid+n) out of the window (MS-SMB2 3.3.5.2.3).
func (w *creditWindow) consume(mid uint64, n uint64) bool {
	if n == 0 {
		n = 1
	}
	end := mid + n
	if end < mid || mid < w.low || end > w.high {
		return false
	}
	for id := mid; id < end; id++ {
		if _, ok := w.used[id]; ok {
			return false
		}
	}
	for id := mid; id < end; id++ {
		w.used[id] = struct{}{}
	}
	for {
		if _, ok := w.used[w.low]; !ok {
			break
		}
		delete(w.used, w.low)
		w.low++
	}
	return true
}

func (w *creditWindow) outstanding() uint64 {
	return w.high - w.low - uint64(len(w.used))
}

// grant extends the window by up to req credits, bounded by max
// outstanding credits and a window span of 4*max, and never leaves the
// client without a credit (MS-SMB2 3.3.1.2).
func (w *creditWindow) grant(req uint16) uint16 {
	out := w.outstanding()
	g := uint64(max(req, 1))
	if out+g > w.max {
		g = w.max - min(out, w.max)
	}
	if span := w.high - w.low; span+g > 4*w.max {
		g = 4*w.max - min(span, 4*w.max)
	}
	if g == 0 && out == 0 {
		g = 1
	}
	w.high += g
	return uint16(min(g, 0xFFFF))
}

type sessionState int

const (
	sessionInProgress sessionState = iota
	sessionValid
)

// session is MS-SMB2 3.3.1.8 restricted to what a pipe server needs.
type session struct {
	id     uint64
	state  sessionState
	exch   ipc.AuthExchange // the security exchange in progress, if any
	reauth bool
	// exchExpires is when exch is dropped (HandshakeTimeout after it
	// began); zero for never.
	exchExpires time.Time
	preauth     []byte // Session.PreauthIntegrityHashValue (3.1.1)
	identity    ipc.Identity
	logon       *SessionInfo // set once established; guarded by conn.mu

	// Immutable once the session is valid.
	sessionKey      []byte // Session.SessionKey (16 bytes); nil when anonymous
	appKey          []byte
	signer          *smbcrypto.Signer // Session.SigningKey with its algorithm; nil when anonymous
	signingRequired bool
	encryptData     bool // Session.EncryptData: unencrypted requests are refused (MS-SMB2 3.3.5.2.9)
	enc, dec        cipher.AEAD

	nonces *smbcrypto.NonceSource

	trees      map[uint32]*tree
	nextTreeID uint32
}

// tree is one TreeConnect on IPC$ (MS-SMB2 3.3.1.10).
type tree struct {
	id uint32
}

// open is one named pipe open (MS-SMB2 3.3.1.10 Open).
type open struct {
	id        fileID
	sessionID uint64
	treeID    uint32
	pipe      ipc.Pipe
	ctx       context.Context
	cancel    context.CancelFunc

	budget *budget.Budget // the connection's

	mu        sync.Mutex
	remainder []byte // rest of a message returned with STATUS_BUFFER_OVERFLOW
}

// canonicalPipe strips an optional "\", "PIPE\" or "\PIPE\" prefix and
// lower-cases the name (ipc.OpenInfo.Pipe).
func canonicalPipe(name string) string {
	n := strings.ToLower(name)
	n = strings.TrimPrefix(n, `\`)
	n = strings.TrimPrefix(n, `pipe\`)
	return n
}

// shareName returns the share part of a UNC path \\host\share.
func shareName(path string) (string, bool) {
	if !strings.HasPrefix(path, `\\`) {
		return "", false
	}
	rest := path[2:]
	i := strings.IndexByte(rest, '\\')
	if i < 0 {
		return "", false
	}
	share := rest[i+1:]
	if share == "" || strings.ContainsRune(share, '\\') {
		return "", false
	}
	return share, true
}
