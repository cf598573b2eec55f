package smb2

import (
	"net"
	"time"

	"github.com/wkssvcd/wkssvcd/server/ipc"
)

// SessionInfo describes one established session (MS-SMB2 3.3.1.8).
type SessionInfo struct {
	// ID is Session.SessionId.
	ID uint64
	// Identity is the authenticated caller.
	Identity ipc.Identity
	// Since is when the session was first established.
	Since time.Time
}

// ConnInfo describes one open connection and its established sessions.
type ConnInfo struct {
	Local, Remote net.Addr
	Sessions      []SessionInfo
}

// Connections returns a snapshot of the open connections and their
// established sessions, for the interfaces that report who uses this
// host (NetrWkstaUserEnum) and over which transport (NetrWkstaTransportEnum).
func (s *Server) Connections() []ConnInfo {
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	out := make([]ConnInfo, 0, len(conns))
	for _, c := range conns {
		ci := ConnInfo{Local: c.nc.LocalAddr(), Remote: c.nc.RemoteAddr()}
		c.mu.Lock()
		for _, ss := range c.sessions {
			if ss.logon != nil {
				ci.Sessions = append(ci.Sessions, *ss.logon)
			}
		}
		c.mu.Unlock()
		out = append(out, ci)
	}
	return out
}

// noteLogon records that s is established, for Connections; a
// re-authentication keeps the first logon time.
func (c *conn) noteLogon(s *session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.logon == nil {
		s.logon = &SessionInfo{ID: s.id, Since: time.Now()}
	}
	s.logon.Identity = s.identity
}
