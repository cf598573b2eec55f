package smb2

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/oiweiwei/go-msrpc/smb2"
)

// Connections reports each connection with its established sessions and
// who they are; a logoff removes the session.
func TestConnectionsListsSessions(t *testing.T) {
	ts := startServer(t, nil)
	if got := ts.srv.Connections(); len(got) != 0 {
		t.Fatalf("before any client: %+v", got)
	}
	before := time.Now()
	p := goMSRPCPipe(ts, "echo", testUser, testPassword, smb2.WithSign())
	if err := p.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	conns := ts.srv.Connections()
	if len(conns) != 1 || len(conns[0].Sessions) != 1 {
		t.Fatalf("connections %+v", conns)
	}
	c := conns[0]
	s := c.Sessions[0]
	if !strings.EqualFold(s.Identity.User, testUser) || !s.Identity.Admin || s.ID == 0 || s.Since.Before(before.Add(-time.Second)) {
		t.Errorf("session %+v", s)
	}
	if c.Local.(*net.TCPAddr).Port != ts.addr.Port {
		t.Errorf("local address %v", c.Local)
	}
	p.Close()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		n := 0
		for _, c := range ts.srv.Connections() {
			n += len(c.Sessions)
		}
		if n == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("sessions after the client left: %+v", ts.srv.Connections())
}
