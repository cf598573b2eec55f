package main

import (
	"testing"

	"github.com/wkssvcd/wkssvcd/internal/testsmbd"
)

// startSmbd runs a standalone Samba smbd (which serves wkssvc) on
// testnet.Peer():445 for the calling test (internal/testsmbd) and returns
// its address, a user holding SeMachineAccountPrivilege and the user's
// password.
func startSmbd(t *testing.T) (server, user, password string) {
	t.Helper()
	s := testsmbd.Start(t, testsmbd.Options{MachineAccountPrivilege: true})
	return s.HostPort(), s.Workgroup + `\` + s.User, s.Password
}
