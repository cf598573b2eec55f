package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
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
		{[]string{"floor-server"}, 2, "--listen is required"},
		{[]string{"calls", "--pid", "1", "--floor-goroutine", "127.0.0.1:1"}, 2, "--floor-goroutine-pid is required"},
		{[]string{"floor-server", "--listen", "127.0.0.1:0", "--mode", "fork"}, 2, "neither goroutine nor thread"},
		{[]string{"bench", "--wkssvcd-pid", "1", "--peer-pid", "1", "--floor-thread", "127.0.0.1:1"}, 2, "--floor-thread-pid is required"},
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

// Passwords come from a file or the environment, never from a flag.
func TestPasswordSources(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"soak", "--pid", "1", "--password", "x"}, &stdout, &stderr); code != 2 ||
		!strings.Contains(stderr.String(), "flag provided but not defined: -password") {
		t.Fatalf("--password accepted: exit %d, %s", code, stderr.String())
	}
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	tg := targetFlags(fs, "peer-", "smbd", "127.0.0.4", "root")
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	if err := tg.resolvePassword(getenv); err == nil || !strings.Contains(err.Error(), "--peer-password-file or set $WKLOAD_PEER_PASSWORD") {
		t.Fatalf("no password: %v", err)
	}
	env["WKLOAD_PEER_PASSWORD"] = "from-env"
	if err := tg.resolvePassword(getenv); err != nil || tg.Password != "from-env" {
		t.Fatalf("environment: %q %v", tg.Password, err)
	}
	f := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(f, []byte("from-file\r\nsecond line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := fs.Parse([]string{"--peer-password-file", f}); err != nil {
		t.Fatal(err)
	}
	if err := tg.resolvePassword(getenv); err != nil || tg.Password != "from-file" {
		t.Fatalf("file: %q %v", tg.Password, err)
	}
}

// The case flags select among the default throughput cases.
func TestCaseSelection(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	sel := caseFlags(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	all, err := sel.cases(64)
	if err != nil || len(all) != 16 {
		t.Fatalf("default: %d cases, %v", len(all), err)
	}
	if err := fs.Parse([]string{"--generators", "lean", "--protections", "sealed", "--pipe-io", "transceive", "--conns", "1,8"}); err != nil {
		t.Fatal(err)
	}
	got, err := sel.cases(64)
	if err != nil || len(got) != 2 || got[0].Key() != "lean/sealed/TRANSCEIVE/1" || got[1].Key() != "lean/sealed/TRANSCEIVE/8" {
		t.Fatalf("selection: %+v %v", got, err)
	}
	if err := fs.Parse([]string{"--pipe-io", "pipelined", "--conns", "64"}); err != nil {
		t.Fatal(err)
	}
	if got, err = sel.cases(64); err != nil || len(got) != 1 || got[0].Key() != "lean/sealed/WRITE+READ pipelined/64" {
		t.Fatalf("pipelined: %+v %v", got, err)
	}
	for _, bad := range [][]string{{"--generators", "nope"}, {"--conns", "0"}, {"--protections", ","}} {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		sel := caseFlags(fs)
		if err := fs.Parse(bad); err != nil {
			t.Fatal(err)
		}
		if _, err := sel.cases(64); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
