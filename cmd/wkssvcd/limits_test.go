package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/wkssvcd/wkssvcd/server/dcerpc"
	"github.com/wkssvcd/wkssvcd/server/ntlm"
	"github.com/wkssvcd/wkssvcd/server/smb2"
)

func TestLimitFlagsApply(t *testing.T) {
	cfg, err := parseFlags([]string{
		"--max-connections", "5",
		"--max-conns-per-addr", "4",
		"--require-encryption",
		"--handshake-timeout", "3s",
		"--max-pending-reads", "6",
		"--max-credits", "65535",
		"--max-sessions", "8",
		"--max-opens", "9",
		"--max-compound", "10",
		"--max-pending-logons", "2",
		"--max-logon-token", "1000",
		"--max-conn-buffered", "5000",
		"--max-buffered", "50000",
		"--max-rpc-request", "0x800",
		"--max-rpc-queue", "12",
		"--max-rpc-decodes", "3",
		"--idle-timeout", "1s",
		"--read-timeout", "250ms",
		"--auth-fail-limit", "3",
		"--auth-fail-window", "2m",
		"--auth-fail-addrs", "100",
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var s smb2.Config
	var r dcerpc.Config
	cfg.Limits.apply(&s, &r)
	want := smb2.Config{
		RequireEncryption: true, MaxConnections: 5, MaxConnsPerAddr: 4, HandshakeTimeout: 3 * time.Second, MaxPendingReads: 6, MaxCredits: 65535, MaxSessions: 8, MaxOpens: 9,
		MaxCompound: 10, MaxPendingLogons: 2, MaxTokenSize: 1000, MaxConnBuffered: 5000, MaxBuffered: 50000, IdleTimeout: time.Second, ReadTimeout: 250 * time.Millisecond,
		AuthFailLimit: 3, AuthFailWindow: 2 * time.Minute, AuthFailAddrs: 100,
	}
	if fmt.Sprintf("%+v", s) != fmt.Sprintf("%+v", want) {
		t.Errorf("smb2.Config\n got %+v\nwant %+v", s, want)
	}
	if r.MaxReassembly != 2048 || r.MaxQueued != 12 || r.MaxDecodes != 3 {
		t.Errorf("dcerpc.Config %+v", r)
	}
	// The servers accept what the flags produce.
	s.Auth, s.Pipes = ntlm.NewAuthenticator(ntlm.Config{}), dcerpc.NewServer(r)
	if _, err := smb2.NewServer(s); err != nil {
		t.Fatal(err)
	}
}

func TestLimitFlagsZeroAndDisabled(t *testing.T) {
	cfg, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var s smb2.Config
	var r dcerpc.Config
	cfg.Limits.apply(&s, &r)
	want := smb2.Config{
		MaxConnections: smb2.DefaultMaxConnections, MaxConnsPerAddr: smb2.DefaultMaxConnsPerAddr,
		HandshakeTimeout: smb2.DefaultHandshakeTimeout, MaxPendingReads: smb2.DefaultMaxPendingReads,
		MaxCredits: smb2.DefaultMaxCredits, MaxSessions: smb2.DefaultMaxSessions, MaxOpens: smb2.DefaultMaxOpens,
		MaxCompound: smb2.DefaultMaxCompound, MaxPendingLogons: smb2.DefaultMaxPendingLogons, MaxTokenSize: smb2.DefaultMaxTokenSize,
		MaxConnBuffered: smb2.DefaultMaxConnBuffered, MaxBuffered: smb2.DefaultMaxBuffered,
		IdleTimeout: smb2.DefaultIdleTimeout, ReadTimeout: smb2.DefaultReadTimeout,
		AuthFailLimit: smb2.DefaultAuthFailLimit, AuthFailWindow: smb2.DefaultAuthFailWindow, AuthFailAddrs: smb2.DefaultAuthFailAddrs,
	}
	if fmt.Sprintf("%+v", s) != fmt.Sprintf("%+v", want) ||
		r != (dcerpc.Config{MaxReassembly: dcerpc.DefaultMaxReassembly, MaxQueued: dcerpc.DefaultMaxQueued, MaxDecodes: dcerpc.DefaultMaxDecodes}) {
		t.Errorf("no flags must give the package defaults: %+v %+v", s, r)
	}
	// Negative idle timeout and failure limit mean "off" and are accepted.
	cfg, err = parseFlags([]string{"--idle-timeout", "-1s", "--auth-fail-limit", "-1", "--handshake-timeout", "-1s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Limits.apply(&s, &r)
	if s.IdleTimeout != -time.Second || s.AuthFailLimit != -1 || s.HandshakeTimeout != -time.Second {
		t.Errorf("disabled limits: %+v", s)
	}
	s.Auth, s.Pipes = ntlm.NewAuthenticator(ntlm.Config{}), dcerpc.NewServer(r)
	if _, err := smb2.NewServer(s); err != nil {
		t.Fatal(err)
	}
}

func TestLimitFlagsRejected(t *testing.T) {
	for _, bad := range [][]string{
		{"--max-connections", "-1"},
		{"--max-conns-per-addr", "-1"},
		{"--handshake-timeout", "10"},
		{"--max-pending-reads", "-1"},
		{"--max-credits", "-1"},
		{"--max-credits", "65536"},
		{"--max-sessions", "-2"},
		{"--max-opens", "-1"},
		{"--max-compound", "-1"},
		{"--max-pending-logons", "-1"},
		{"--max-logon-token", "-1"},
		{"--max-conn-buffered", "-1"},
		{"--max-buffered", "1MiB"},
		{"--max-rpc-request", "-1"},
		{"--max-rpc-request", "4MiB"},
		{"--max-rpc-queue", "-1"},
		{"--max-rpc-decodes", "-1"},
		{"--read-timeout", "-1s"},
		{"--read-timeout", "30"},
		{"--idle-timeout", "soon"},
		{"--auth-fail-limit", "many"},
		{"--auth-fail-window", "-5m"},
		{"--auth-fail-addrs", "-1"},
		{"--max-connections", "99999999999999999999999"},
	} {
		var stderr bytes.Buffer
		_, err := parseFlags(bad, &stderr)
		if err == nil {
			t.Errorf("%q accepted", bad)
			continue
		}
		// The message names the flag and the reason.
		if !strings.Contains(err.Error(), bad[0][2:]) {
			t.Errorf("%q: error %q does not name the flag", bad, err)
		}
	}
}

func TestLimitFlagsHelpStatesDefaults(t *testing.T) {
	var stdout bytes.Buffer
	if code := run(context.Background(), []string{"-h"}, env{stdout: &stdout, stderr: io.Discard, getenv: noEnv}); code != 0 {
		t.Fatalf("-h exit status %d", code)
	}
	help := stdout.String()
	for flagName, def := range map[string]string{
		"max-connections":    fmt.Sprint(smb2.DefaultMaxConnections),
		"max-conns-per-addr": fmt.Sprint(smb2.DefaultMaxConnsPerAddr),
		"handshake-timeout":  smb2.DefaultHandshakeTimeout.String(),
		"max-pending-reads":  fmt.Sprint(smb2.DefaultMaxPendingReads),
		"max-credits":        fmt.Sprint(smb2.DefaultMaxCredits),
		"max-sessions":       fmt.Sprint(smb2.DefaultMaxSessions),
		"max-opens":          fmt.Sprint(smb2.DefaultMaxOpens),
		"max-compound":       fmt.Sprint(smb2.DefaultMaxCompound),
		"max-rpc-request":    fmt.Sprint(dcerpc.DefaultMaxReassembly),
		"max-rpc-decodes":    fmt.Sprint(dcerpc.DefaultMaxDecodes),
		"max-rpc-queue":      fmt.Sprint(dcerpc.DefaultMaxQueued),
		"idle-timeout":       smb2.DefaultIdleTimeout.String(),
		"read-timeout":       smb2.DefaultReadTimeout.String(),
		"auth-fail-limit":    fmt.Sprint(smb2.DefaultAuthFailLimit),
		"auth-fail-window":   smb2.DefaultAuthFailWindow.String(),
		"auth-fail-addrs":    fmt.Sprint(smb2.DefaultAuthFailAddrs),
	} {
		i := strings.Index(help, "\n  --"+flagName+" ")
		if i < 0 {
			t.Errorf("help lacks --%s", flagName)
			continue
		}
		entry := help[i+1:]
		if j := strings.Index(entry[1:], "\n  --"); j >= 0 {
			entry = entry[:j+1]
		}
		if !strings.Contains(entry, "(default "+def+")") {
			t.Errorf("help of --%s does not state the default %s: %q", flagName, def, entry)
		}
		if strings.Count(entry, "(default") != 1 {
			t.Errorf("help of --%s states a default twice: %q", flagName, entry)
		}
	}
}
