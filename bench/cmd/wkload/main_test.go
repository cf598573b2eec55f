package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestRunUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{nil, 2, "usage: wkload"},
		{[]string{"help"}, 0, "soak"},
		{[]string{"nope"}, 2, `unknown command "nope"`},
		{[]string{"bench"}, 2, "--wkssvcd-pid and --peer-pid are required"},
		{[]string{"bench", "--bogus"}, 2, "flag provided but not defined"},
		{[]string{"soak"}, 2, "--pid is required"},
		{[]string{"goroutines", "--pid", "1"}, 2, "--pid and --log are required"},
		{[]string{"soak", "-h"}, 0, "-conns"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), tc.args, &stdout, &stderr)
		if code != tc.code {
			t.Errorf("%v: exit %d, want %d (stderr %q)", tc.args, code, tc.code, stderr.String())
		}
		if all := stdout.String() + stderr.String(); !strings.Contains(all, tc.out) {
			t.Errorf("%v: output lacks %q:\n%s", tc.args, tc.out, all)
		}
	}
}

func TestJoinCommand(t *testing.T) {
	// scripts/bench looks for this command with `wkload join -h`.
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"join", "-h"}, 0, "-join-rounds"},
		{[]string{"join"}, 2, "--dc-password-file and --dc-ca are required"},
		{[]string{"bench", "--wkssvcd-pid", "1", "--peer-pid", "1", "--join"}, 2, "--dc-password-file and --dc-ca are required"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), tc.args, &stdout, &stderr)
		if code != tc.code {
			t.Errorf("%v: exit %d, want %d (stderr %q)", tc.args, code, tc.code, stderr.String())
		}
		if all := stdout.String() + stderr.String(); !strings.Contains(all, tc.out) {
			t.Errorf("%v: output lacks %q:\n%s", tc.args, tc.out, all)
		}
	}
}
