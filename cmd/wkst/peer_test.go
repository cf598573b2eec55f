package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"
)

// TestSambaPeer runs against a real SMB server exporting wkssvc: a
// standalone Samba smbd it starts on internal/testnet's peer address, or the
// server named by WKST_PEER_SERVER (HOST:PORT) with WKST_PEER_USER and
// WKST_PEER_PASSWORD; WKST_PEER_ACCOUNT (default: the user) is sent as
// AccountName. For each dialect it checks NetrWkstaGetInfo and that
// an RC4 JOINPR blob built with the dialect's key passes the server's
// password decoding (NetrUnjoinDomain2 must not fail with
// ERROR_INVALID_PASSWORD), while the same blob under a wrong key does fail
// with it. Samba checks the caller's SeMachineAccountPrivilege before
// decoding, so the user needs it.
func TestSambaPeer(t *testing.T) {
	server, user, pw := os.Getenv("WKST_PEER_SERVER"), os.Getenv("WKST_PEER_USER"), os.Getenv("WKST_PEER_PASSWORD")
	ownPeer := server == "" || user == "" || pw == ""
	if ownPeer {
		server, user, pw = startSmbd(t)
	}
	acct := os.Getenv("WKST_PEER_ACCOUNT")
	if acct == "" {
		acct = user
	}
	host, port, err := parseServer(server)
	if err != nil {
		t.Fatal(err)
	}
	u, err := parseUser(user)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	accountPW := "Account-Pässwörd-1"
	for _, dialect := range []string{"2.0.2", "2.1", "3.0", "3.0.2", "3.1.1"} {
		t.Run(dialect, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cfg := connConfig{Host: host, Port: port, User: u, Password: pw, Dialect: dialect, Timeout: time.Minute}
			s, err := dialWkssvc(ctx, cfg, log)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close(ctx)
			wi, err := s.WorkstationInfo(ctx)
			if err != nil || wi.ComputerName == "" {
				t.Fatalf("NetrWkstaGetInfo: %+v, %v", wi, err)
			}
			rs := s.(*rpcSession)
			if len(rs.key) != 16 {
				t.Fatalf("JOINPR key is %d bytes", len(rs.key))
			}

			var ce *callError
			err = s.Unjoin(ctx, unjoinRequest{Method: methodRC4, Account: acct, Password: &accountPW})
			if errors.As(err, &ce) && ce.Code == 0x56 {
				t.Fatalf("server could not decode the password blob: %v", err)
			}
			if err != nil && !errors.As(err, &ce) {
				t.Fatalf("NetrUnjoinDomain2: %v", err)
			}
			// The standalone smbd started here is a member of no domain:
			// with the password decoded, it answers NERR_SetupNotJoined.
			if ownPeer && (!errors.As(err, &ce) || ce.Code != 0x0A84) {
				t.Fatalf("right key: got %v, want NERR_SetupNotJoined", err)
			}

			rs.key[0] ^= 0xFF
			err = s.Unjoin(ctx, unjoinRequest{Method: methodRC4, Account: acct, Password: &accountPW})
			if !errors.As(err, &ce) || ce.Code != 0x56 {
				t.Fatalf("wrong key: got %v, want ERROR_INVALID_PASSWORD", err)
			}
		})
	}
}
