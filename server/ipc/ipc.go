package ipc

import (
	"context"
	"errors"
	"net"
	"strings"
)

// Identity is the caller of a pipe open, as the SMB session established it.
type Identity struct {
	// User is the account name as stored in the account database
	// (empty for an anonymous session).
	User string
	// Domain is the domain name the client sent with its credentials.
	Domain string
	// Anonymous is true for a null session (MS-SMB2 SMB2_SESSION_FLAG_IS_NULL).
	Anonymous bool
	// Admin is true when the caller holds local administrator rights: a
	// local administrator account, or a domain account one of whose SIDs
	// is in the local Administrators group (Domain Admins after a join).
	Admin bool
	// SIDs are the security identifiers of a domain logon, as the domain
	// controller vouched for them (the PAC of a Kerberos ticket, the
	// validation information of an NTLM pass-through): the user's SID
	// first, then its primary group and other groups. Empty for local
	// accounts and anonymous sessions.
	SIDs []string
	// Mechanism names how the caller authenticated: "NTLM" or
	// "Kerberos"; empty for a session this layer did not authenticate.
	Mechanism string
}

// UserSID returns the user's own SID, or "" for a caller without SIDs.
func (id Identity) UserSID() string {
	if len(id.SIDs) == 0 {
		return ""
	}
	return id.SIDs[0]
}

// HasSID reports whether sid (string form, compared case-insensitively)
// is one of the caller's SIDs.
func (id Identity) HasSID(sid string) bool {
	for _, s := range id.SIDs {
		if strings.EqualFold(s, sid) {
			return true
		}
	}
	return false
}

// Equal reports whether id and o describe the same caller.
func (id Identity) Equal(o Identity) bool {
	if id.User != o.User || id.Domain != o.Domain || id.Anonymous != o.Anonymous ||
		id.Admin != o.Admin || id.Mechanism != o.Mechanism || len(id.SIDs) != len(o.SIDs) {
		return false
	}
	for i := range id.SIDs {
		if id.SIDs[i] != o.SIDs[i] {
			return false
		}
	}
	return true
}

// OpenInfo is what the transport knows about one open of a named pipe.
type OpenInfo struct {
	// Pipe is the canonical pipe name: lower case, without any "\", "PIPE\"
	// or "\PIPE\" prefix, e.g. "wkssvc".
	Pipe string
	// Identity is the authenticated caller.
	Identity Identity
	// SessionKey is the 16-byte key a higher layer is entitled to (MS-SMB2
	// 3.3.4.5): Session.SessionKey for dialects 2.0.2 and 2.1,
	// Session.ApplicationKey for 3.x. Nil for anonymous sessions.
	SessionKey []byte
	// Dialect is the negotiated SMB2 dialect revision (0x0202 ... 0x0311).
	Dialect uint16
	// Remote and Local are the transport addresses of the connection.
	Remote, Local net.Addr
	// Budget is what the bytes a pipe holds for its client are counted
	// against: input not yet processed, reassembled requests and output
	// not yet read. It is shared by the pipes of one connection (and
	// nested in the server's); nil means unbounded.
	Budget Budget
}

// Budget is a byte limit shared by the pipes of one connection. It is safe
// for concurrent use.
type Budget interface {
	// TryReserve takes n bytes if they fit and reports whether it did.
	TryReserve(n int) bool
	// Charge takes n bytes even beyond the limit (small control messages,
	// bytes that replace ones just released).
	Charge(n int)
	// Release gives back bytes taken by TryReserve or Charge.
	Release(n int)
	// Over reports whether Charge took the budget past its limit.
	Over() bool
}

// Handler serves named pipes. The SMB front calls it for every CREATE on
// IPC$ and for FSCTL_PIPE_WAIT.
type Handler interface {
	// OpenPipe opens a new instance of the named pipe for the caller. It
	// returns ErrNoSuchPipe for an unknown name and ErrAccessDenied when the
	// caller may not open it.
	OpenPipe(ctx context.Context, info OpenInfo) (Pipe, error)
	// HasPipe reports whether a pipe with this canonical name is served.
	HasPipe(name string) bool
}

// Pipe is one open instance of a message-mode named pipe.
//
// Input is a byte stream (the data of SMB WRITE requests and the input of
// FSCTL_PIPE_TRANSCEIVE, in order); output is a queue of whole messages.
// All methods are safe for concurrent use.
type Pipe interface {
	// Write appends p to the pipe's input stream. It must not block on the
	// processing of a call, and must not keep p once it returns: the
	// transport reuses that memory for the next message. It returns ErrPipeBusy when the pipe's bounded
	// buffers (or the OpenInfo.Budget) are full, having taken nothing, and
	// ErrPipeClosed after Close or a fatal protocol error.
	Write(ctx context.Context, p []byte) error
	// ReadMessage blocks until one output message is queued and returns it
	// whole. It returns ctx.Err() when ctx ends first, and ErrPipeClosed
	// once the pipe is closed and no message remains.
	ReadMessage(ctx context.Context) ([]byte, error)
	// Close releases the pipe: pending ReadMessage calls return
	// ErrPipeClosed and calls in flight see their context cancelled.
	Close() error
}

// MessageTryReader is an optional interface of a Pipe: ReadMessage
// without waiting. A transport that finds it (with a type assertion) can
// answer a read inline when a message is already queued.
type MessageTryReader interface {
	// TryReadMessage returns the next queued output message whole and
	// true. When none is queued it returns nil, false and a nil error, or
	// ErrPipeClosed once the pipe is closed and no message remains.
	TryReadMessage() ([]byte, bool, error)
}

// Errors shared by the SMB front and the pipe servers.
var (
	ErrNoSuchPipe   = errors.New("ipc: no such pipe")
	ErrAccessDenied = errors.New("ipc: access denied")
	ErrPipeClosed   = errors.New("ipc: pipe closed")
	ErrPipeBusy     = errors.New("ipc: pipe buffers full")
	ErrLogonFailure = errors.New("ipc: logon failure")
)

// LogonError is a failed authentication as the operator needs it in the
// log: the user and domain the client claimed and why the logon failed.
// It never holds a response, a hash or a key. It wraps ErrLogonFailure
// (through Err).
type LogonError struct {
	User, Domain string
	// Reason is a short phrase: "unknown user", "wrong password",
	// "NTLMv1 refused", ...
	Reason string
	// Err is the underlying error, which wraps ErrLogonFailure.
	Err error
}

// ReasonUnknownUser is the LogonError.Reason of a logon naming no known
// account. The name is whatever the client typed (sometimes a password),
// so it is logged at info level and rate-limited.
const ReasonUnknownUser = "unknown user"

func (e *LogonError) Error() string { return e.Err.Error() }

func (e *LogonError) Unwrap() error { return e.Err }

type openInfoKey struct{}

// NewContext returns a context carrying info, for the calls made on a pipe.
func NewContext(ctx context.Context, info *OpenInfo) context.Context {
	return context.WithValue(ctx, openInfoKey{}, info)
}

// FromContext returns the OpenInfo of the pipe a call arrived on.
func FromContext(ctx context.Context) (*OpenInfo, bool) {
	info, ok := ctx.Value(openInfoKey{}).(*OpenInfo)
	return info, ok && info != nil
}
