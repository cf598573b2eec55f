package main

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/wkssvcd/wkssvcd/joinlogic"
)

func (f *fakeSession) Rename(_ context.Context, r renameRequest) error {
	f.renames = append(f.renames, r)
	return f.err
}

func (f *fakeSession) ChangeName(_ context.Context, r nameRequest) error {
	f.changes = append(f.changes, r)
	return f.err
}

func (f *fakeSession) ComputerNames(_ context.Context, typ uint32) ([]string, error) {
	f.listed = append(f.listed, typ)
	return f.names, f.err
}

func TestRunRename(t *testing.T) {
	h := &harness{sess: &fakeSession{}}
	code := h.run(t, "acct-pw\n", "conn-pw", "rename", "--server", "wkhost", "--user", "admin", "--name", "WKNEW",
		"--account", `EXAMPLE\joiner`, "--password-file", "-")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, h.stderr.String())
	}
	r := h.sess.renames[0]
	if r.Method != methodAES || r.Name != "WKNEW" || r.Account != `EXAMPLE\joiner` || r.Password == nil || *r.Password != "acct-pw" ||
		r.Options != joinlogic.NETSETUP_ACCT_CREATE {
		t.Errorf("request %+v", r)
	}
	if !strings.Contains(h.stdout.String(), "renamed to WKNEW (NetrRenameMachineInDomain3") {
		t.Errorf("output %q", h.stdout.String())
	}
	// Local only, RC4, DNS name only.
	if code := h.run(t, "", "conn-pw", "rename", "--server", "wkhost", "--user", "admin", "--name", "web.example.test",
		"--options", "DNS_NAME_CHANGES_ONLY", "--method", "2"); code != 0 {
		t.Fatalf("exit %d: %s", code, h.stderr.String())
	}
	if r := h.sess.renames[1]; r.Method != methodRC4 || r.Password != nil || r.Options != joinlogic.NETSETUP_DNS_NAME_CHANGES_ONLY {
		t.Errorf("request %+v", r)
	}
	h.sess.err = &callError{"NetrRenameMachineInDomain3", uint32(joinlogic.NERR_SetupNotJoined)}
	if code := h.run(t, "", "conn-pw", "rename", "--server", "wkhost", "--user", "admin", "--name", "X"); code != 1 ||
		!strings.Contains(h.stderr.String(), "NERR_SetupNotJoined") {
		t.Errorf("exit %d: %s", code, h.stderr.String())
	}
}

func TestRunNames(t *testing.T) {
	h := &harness{sess: &fakeSession{names: []string{"wkhost.example.test", "web.example.test"}}}
	if code := h.run(t, "", "conn-pw", "names", "--server", "wkhost", "--user", "admin"); code != 0 {
		t.Fatalf("exit %d: %s", code, h.stderr.String())
	}
	if h.stdout.String() != "wkhost.example.test\nweb.example.test\n" || !slices.Equal(h.sess.listed, []uint32{joinlogic.NetAllComputerNames}) {
		t.Errorf("output %q, listed %v", h.stdout.String(), h.sess.listed)
	}
	if code := h.run(t, "", "conn-pw", "names", "--server", "wkhost", "--user", "admin", "--type", "alternate"); code != 0 ||
		h.sess.listed[1] != joinlogic.NetAlternateComputerNames {
		t.Errorf("exit %d, listed %v", code, h.sess.listed)
	}
	for i, c := range []struct {
		args []string
		op   nameOp
	}{
		{[]string{"--add", "web.example.test"}, nameAdd},
		{[]string{"--remove", "web.example.test", "--method", "2"}, nameRemove},
		{[]string{"--primary", "web.example.test", "--account", `EXAMPLE\joiner`, "--password-file", "-"}, namePrimary},
	} {
		args := append([]string{"names", "--server", "wkhost", "--user", "admin"}, c.args...)
		if code := h.run(t, "acct-pw\n", "conn-pw", args...); code != 0 {
			t.Fatalf("%v: exit %d: %s", c.args, code, h.stderr.String())
		}
		r := h.sess.changes[i]
		if r.Op != c.op || r.Name != "web.example.test" {
			t.Errorf("%v: request %+v", c.args, r)
		}
	}
	if r := h.sess.changes[1]; r.Method != methodRC4 || r.Password != nil {
		t.Errorf("remove: %+v", r)
	}
	if r := h.sess.changes[2]; r.Method != methodAES || r.Password == nil || *r.Password != "acct-pw" {
		t.Errorf("primary: %+v", r)
	}
	if !strings.Contains(h.stdout.String(), "made primary web.example.test (NetrSetPrimaryComputerName2)") {
		t.Errorf("output %q", h.stdout.String())
	}
	for _, args := range [][]string{{"--add", "a", "--remove", "b"}, {"--type", "some"}} {
		h.dialed = false
		if code := h.run(t, "", "conn-pw", append([]string{"names", "--server", "wkhost", "--user", "admin"}, args...)...); code != 2 || h.dialed {
			t.Errorf("%v: exit %d, dialed %v", args, code, h.dialed)
		}
	}
	if code := h.run(t, "", "", "help", "names"); code != 0 || !strings.Contains(h.stdout.String(), "--primary NAME") {
		t.Errorf("help names: %d %s", code, h.stdout.String())
	}
	if code := h.run(t, "", "", "rename", "--help"); code != 0 || !strings.Contains(h.stdout.String(), "DNS_NAME_CHANGES_ONLY") {
		t.Errorf("rename --help: %d %s", code, h.stdout.String())
	}
}
