package e2e

// Fault campaigns against the real daemon binary and the Samba AD DC: the
// daemon is killed with SIGKILL at random moments of a domain join (and
// unjoin) it is carrying out for a go-msrpc client, then restarted; its
// start-up recovery settles the interrupted operation before it serves.
// Afterwards the state file must be valid and the machine and the
// directory must agree. Each test prints a "FAULTS" line with its counts,
// which scripts/faults collects into docs/faults.md.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/oiweiwei/go-msrpc/msrpc/wkst/wkssvc/v1"
	"github.com/oiweiwei/go-msrpc/smb2"

	"github.com/wkssvcd/wkssvcd/internal/testdc"
)

// faultRuns is the number of kill -9 runs: $WKSSVCD_KILL_RUNS, else def.
func faultRuns(def int) int {
	if n, err := strconv.Atoi(os.Getenv("WKSSVCD_KILL_RUNS")); err == nil && n > 0 {
		return n
	}
	return def
}

// faultRand is seeded from $WKSSVCD_FAULT_SEED when set (to replay a
// campaign), else from the clock; the seed is logged.
func faultRand(t *testing.T) *rand.Rand {
	seed := uint64(time.Now().UnixNano())
	if s, err := strconv.ParseUint(os.Getenv("WKSSVCD_FAULT_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Logf("fault seed %d (WKSSVCD_FAULT_SEED replays it)", seed)
	return rand.New(rand.NewPCG(seed, seed^0x5eed))
}

// deleteComputer removes NAME$ over LDAP as the domain administrator
// (what `samba-tool computer delete` does, without its second of Python
// start-up per run).
func deleteComputer(t *testing.T, dc *testdc.DC, name string) {
	t.Helper()
	if e := computer(t, dc, name); e != nil {
		if err := ldapConn(t, dc).Del(ldap.NewDelRequest(e.DN, nil)); err != nil {
			t.Fatalf("deleting %s: %v", e.DN, err)
		}
	}
}

// startedCall is a wkssvc call running on its own goroutine.
type startedCall struct {
	done  chan struct{}
	code  uint32
	err   error
	began time.Time
	took  time.Duration
}

// startJoin3 dials the daemon, then starts NetrJoinDomain3 (ACCT_CREATE)
// as the domain administrator; the clock starts with the call itself.
func startJoin3(t *testing.T, d *daemon, dc *testdc.DC) *startedCall {
	t.Helper()
	c, err := dialMSRPC(t, d.host(), adminUser, adminPass, smb2.SMB311, false)
	if err != nil {
		t.Fatal(err)
	}
	req := &wkssvc.JoinDomain3Request{DomainNameParam: testdc.DNSDomain, AccountName: adminAccount(),
		Password: aesBlob(t, c.sessionKey(), dc.AdminPassword), Options: optJoinDomain | optAcctCreate}
	sc := &startedCall{done: make(chan struct{}), began: time.Now()}
	go func() {
		defer close(sc.done)
		resp, err := c.cli.JoinDomain3(c.ctx, req)
		sc.took = time.Since(sc.began)
		sc.code, sc.err = ret3(resp), err
	}()
	return sc
}

// startUnjoin3 starts NetrUnjoinDomain3 with NETSETUP_ACCT_DELETE.
func startUnjoin3(t *testing.T, d *daemon, dc *testdc.DC) *startedCall {
	t.Helper()
	c, err := dialMSRPC(t, d.host(), adminUser, adminPass, smb2.SMB311, false)
	if err != nil {
		t.Fatal(err)
	}
	req := &wkssvc.UnjoinDomain3Request{AccountName: adminAccount(), Password: aesBlob(t, c.sessionKey(), dc.AdminPassword), Options: optAcctDelete}
	sc := &startedCall{done: make(chan struct{}), began: time.Now()}
	go func() {
		defer close(sc.done)
		resp, err := c.cli.UnjoinDomain3(c.ctx, req)
		sc.took = time.Since(sc.began)
		if resp != nil {
			sc.code = resp.Return
		}
		sc.err = err
	}()
	return sc
}

// wait returns the call's outcome once it has ended.
func (sc *startedCall) wait(t *testing.T) (finished bool, code uint32) {
	t.Helper()
	select {
	case <-sc.done:
	case <-time.After(40 * time.Second):
		t.Fatal("the call did not end")
	}
	if sc.err == nil {
		return true, sc.code
	}
	// go-msrpc reports a non-zero return value as an error naming it.
	s := sc.err.Error()
	if i := strings.Index(s, "(0x"); i >= 0 && len(s) >= i+11 {
		if v, err := strconv.ParseUint(s[i+3:i+11], 16, 32); err == nil {
			return true, uint32(v)
		}
	}
	return false, 0
}

// kill9 sends SIGKILL and waits for the process to be gone.
func (d *daemon) kill9(t *testing.T) {
	t.Helper()
	if err := d.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-d.done
}

// recoveryOutcome classifies what the restarted daemon's start-up
// recovery logged.
func recoveryOutcome(out string) string {
	switch {
	case strings.Contains(out, "directory write was applied"):
		return "rolled-forward"
	case strings.Contains(out, "directory write was not applied"):
		return "dropped"
	case strings.Contains(out, "finishing an interrupted local"):
		return "finished-locally"
	case strings.Contains(out, "awaits the domain controller"):
		return "pending"
	}
	return "nothing-to-recover"
}

// checkAgree verifies the invariant after a restart: the daemon serves
// (its state file parsed), no intent is left, and either it reports the
// domain and the directory holds the complete, enabled account its keytab
// authenticates as (checkJoined), or it does not, and the account is
// absent (join campaign) or disabled (unjoin campaign) with no keytab.
func checkAgree(t *testing.T, dc *testdc.DC, d *daemon, stateDir, name string, unjoin bool) string {
	t.Helper()
	if _, err := os.Stat(filepath.Join(stateDir, "membership.json.intent")); !os.IsNotExist(err) {
		t.Errorf("intent left after start-up recovery: %v", err)
	}
	_, status := joinInfo(t, d)
	e := computer(t, dc, name)
	keytab := filepath.Join(stateDir, "krb5.keytab")
	if status == wkssvc.NetSetupJoinStatusDomainName {
		if e == nil {
			t.Fatal("the daemon reports the domain, the directory holds no account")
		}
		uac, _ := strconv.Atoi(e.GetAttributeValue("userAccountControl"))
		fqdn := strings.ToLower(name) + "." + testdc.DNSDomain
		spns := e.GetAttributeValues("servicePrincipalName")
		if uac != 0x1000 || !strings.EqualFold(e.GetAttributeValue("dNSHostName"), fqdn) ||
			!slices.ContainsFunc(spns, func(s string) bool { return strings.EqualFold(s, "HOST/"+fqdn) }) ||
			!slices.ContainsFunc(spns, func(s string) bool { return strings.EqualFold(s, "HOST/"+name) }) {
			t.Errorf("joined, but the account is incomplete: uac %#x dNSHostName %q SPNs %v", uac, e.GetAttributeValue("dNSHostName"), spns)
		}
		if out, err := dc.Kinit(context.Background(), keytab, name+"$@"+testdc.Realm); err != nil {
			t.Errorf("joined, but kinit -k with the daemon's keytab fails: %v\n%s", err, out)
		}
		return "joined"
	}
	if _, err := os.Stat(keytab); !os.IsNotExist(err) {
		t.Errorf("not joined, but a keytab is there: %v", err)
	}
	if !unjoin {
		if e != nil {
			t.Errorf("not joined, but the directory holds %s (uac %s): an account whose password nobody knows",
				e.DN, e.GetAttributeValue("userAccountControl"))
		}
		return "absent"
	}
	if e != nil {
		if uac, _ := strconv.Atoi(e.GetAttributeValue("userAccountControl")); uac&0x2 == 0 {
			t.Errorf("unjoined, but the account is enabled (uac %#x)", uac)
		}
	}
	return "unjoined"
}

// TestKillDuringDomainJoin: 80 runs ($WKSSVCD_KILL_RUNS), at least 50
// within a budget of about two minutes of kill -9 at a random moment of a
// NetrJoinDomain3 the daemon carries out against the DC. The delays are
// spread over 0 … 1.3 × the measured duration of a join, so some land
// before the directory write, some around it, some after the answer.
func TestKillDuringDomainJoin(t *testing.T) {
	dc := testdc.Start(t, testdc.Options{})
	const name = "WKKILL"
	rnd := faultRand(t)
	deleteComputer(t, dc, name)
	t.Cleanup(func() { deleteComputer(t, dc, name) })

	// Measure a join: the median of three.
	var took []time.Duration
	for i := 0; i < 3; i++ {
		d := domainDaemon(t, dc, name)
		sc := startJoin3(t, d, dc)
		if ok, code := sc.wait(t); !ok || code != 0 {
			t.Fatalf("measuring join: %#x %v\n%s", code, sc.err, d.Output())
		}
		took = append(took, sc.took)
		d.stop(t)
		deleteComputer(t, dc, name)
	}
	slices.Sort(took)
	joinTime := took[1]
	t.Logf("a domain join takes %v (of %v)", joinTime, took)

	// At least 50 runs; more while the time budget lasts.
	runs := faultRuns(80)
	const minRuns, budget = 50, 135 * time.Second
	counts := map[string]int{}
	start := time.Now()
	for run := 0; run < runs && !t.Failed(); run++ {
		if run >= minRuns && time.Since(start) > budget {
			t.Logf("time budget spent after %d runs", run)
			break
		}
		stateDir := t.TempDir()
		d := domainDaemon(t, dc, name, "--state-dir", stateDir)
		delay := time.Duration(rnd.Int64N(int64(joinTime) * 13 / 10))
		sc := startJoin3(t, d, dc)
		time.Sleep(time.Until(sc.began.Add(delay)))
		d.kill9(t)
		finished, code := sc.wait(t)
		answered := "killed-mid-call"
		if finished {
			answered = fmt.Sprintf("answered-%#x", code)
		}
		d2 := domainDaemon(t, dc, name, "--state-dir", stateDir)
		rec := recoveryOutcome(d2.Output())
		outcome := checkAgree(t, dc, d2, stateDir, name, false)
		if finished && code == 0 && outcome != "joined" {
			t.Errorf("the join was acknowledged, yet after the restart the machine is %s", outcome)
		}
		counts[outcome]++
		counts["recovery:"+rec]++
		counts["call:"+answered]++
		t.Logf("run %d: kill after %v (call %s): recovery %s, outcome %s", run, delay, answered, rec, outcome)
		d2.stop(t)
		deleteComputer(t, dc, name)
	}
	failures := 0
	if t.Failed() {
		failures = 1
	}
	t.Logf("FAULTS kill-join runs=%d joined=%d absent=%d failures=%d join=%v elapsed=%v details=%v",
		counts["joined"]+counts["absent"], counts["joined"], counts["absent"], failures, joinTime.Round(time.Millisecond),
		time.Since(start).Round(time.Second), counts)
	if n := counts["joined"] + counts["absent"]; n < min(runs, minRuns) {
		t.Errorf("only %d runs completed", n)
	}
}

// TestKillDuringDomainUnjoin: kill -9 at a random moment of a
// NetrUnjoinDomain3 with NETSETUP_ACCT_DELETE (one disabling modify).
func TestKillDuringDomainUnjoin(t *testing.T) {
	dc := testdc.Start(t, testdc.Options{})
	const name = "WKKILLU"
	rnd := faultRand(t)
	deleteComputer(t, dc, name)
	t.Cleanup(func() { deleteComputer(t, dc, name) })

	joined := func(stateDir string) *daemon {
		d := domainDaemon(t, dc, name, "--state-dir", stateDir)
		if ok, code := startJoin3(t, d, dc).wait(t); !ok || code != 0 {
			t.Fatalf("join before the unjoin: %#x\n%s", code, d.Output())
		}
		return d
	}
	d := joined(t.TempDir())
	sc := startUnjoin3(t, d, dc)
	if ok, code := sc.wait(t); !ok || code != 0 {
		t.Fatalf("measuring unjoin: %#x %v\n%s", code, sc.err, d.Output())
	}
	unjoinTime := sc.took
	d.stop(t)
	deleteComputer(t, dc, name)
	t.Logf("a domain unjoin takes %v", unjoinTime)

	runs := max(faultRuns(80)*3/8, 10)
	counts := map[string]int{}
	start := time.Now()
	for run := 0; run < runs && !t.Failed(); run++ {
		stateDir := t.TempDir()
		d := joined(stateDir)
		delay := time.Duration(rnd.Int64N(int64(unjoinTime) * 13 / 10))
		sc := startUnjoin3(t, d, dc)
		time.Sleep(time.Until(sc.began.Add(delay)))
		d.kill9(t)
		finished, code := sc.wait(t)
		d2 := domainDaemon(t, dc, name, "--state-dir", stateDir)
		rec := recoveryOutcome(d2.Output())
		outcome := checkAgree(t, dc, d2, stateDir, name, true)
		if finished && code == 0 && outcome != "unjoined" {
			t.Errorf("the unjoin was acknowledged, yet after the restart the machine is %s", outcome)
		}
		counts[outcome]++
		counts["recovery:"+rec]++
		t.Logf("run %d: kill after %v (answered %v): recovery %s, outcome %s", run, delay, finished, rec, outcome)
		d2.stop(t)
		deleteComputer(t, dc, name)
	}
	failures := 0
	if t.Failed() {
		failures = 1
	}
	t.Logf("FAULTS kill-unjoin runs=%d joined=%d unjoined=%d failures=%d unjoin=%v elapsed=%v details=%v",
		counts["joined"]+counts["unjoined"], counts["joined"], counts["unjoined"], failures, unjoinTime.Round(time.Millisecond),
		time.Since(start).Round(time.Second), counts)
}
