package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oiweiwei/go-msrpc/msrpc/wkst/wkssvc/v1"
	"github.com/oiweiwei/go-msrpc/smb2"

	"github.com/wkssvcd/wkssvcd/internal/testdc"
)

// startRename3 starts NetrRenameMachineInDomain3 (ACCT_CREATE) to name
// as the domain administrator, as startJoin3 does a join.
func startRename3(t *testing.T, d *daemon, dc *testdc.DC, name string) *startedCall {
	t.Helper()
	c, err := dialMSRPC(t, d.host(), adminUser, adminPass, smb2.SMB311, false)
	if err != nil {
		t.Fatal(err)
	}
	req := &wkssvc.RenameMachineInDomain3Request{MachineName: name, AccountName: adminAccount(),
		Password: aesBlob(t, c.sessionKey(), dc.AdminPassword), Options: optAcctCreate}
	sc := &startedCall{done: make(chan struct{}), began: time.Now()}
	go func() {
		defer close(sc.done)
		resp, err := c.cli.RenameMachineInDomain3(c.ctx, req)
		sc.took = time.Since(sc.began)
		if resp != nil {
			sc.code = resp.Return
		}
		sc.err = err
	}()
	return sc
}

// checkRenameAgree verifies the invariant after a restart: no intent is
// left, and the machine is wholly OLD or wholly NEW — the name it reports,
// the saved membership, the one account in the directory with that
// sAMAccountName, dNSHostName and SPNs and none of the other name's, and
// a keytab that gets tickets for it and holds no key of the other name. It returns the name and whether the
// object's relative name follows it.
func checkRenameAgree(t *testing.T, dc *testdc.DC, d *daemon, stateDir, old, renamed string) (string, bool) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(stateDir, "membership.json.intent")); !os.IsNotExist(err) {
		t.Errorf("intent left after start-up recovery: %v", err)
	}
	cur := computerName(t, d)
	other := renamed
	if cur == renamed {
		other = old
	} else if cur != old {
		t.Fatalf("the daemon reports the computer name %q", cur)
	}
	if _, status := joinInfo(t, d); status != wkssvc.NetSetupJoinStatusDomainName {
		t.Errorf("%s is not joined after the restart (%v)", cur, status)
	}
	saved, err := os.ReadFile(filepath.Join(stateDir, "membership.json"))
	if err != nil || !strings.Contains(string(saved), `"`+cur+`$"`) {
		t.Errorf("the saved membership does not name %s$: %v\n%s", cur, err, saved)
	}
	if namesOf(t, dc, other) != nil {
		t.Errorf("the directory holds %s$ as well as %s$", other, cur)
	}
	o := namesOf(t, dc, cur)
	if o == nil {
		t.Fatalf("the daemon is %s, the directory holds no %s$", cur, cur)
	}
	fqdn := func(n string) string { return strings.ToLower(n) + "." + testdc.DNSDomain }
	if !strings.EqualFold(o.DNSHostName, fqdn(cur)) {
		t.Errorf("%s$ has dNSHostName %s", cur, o.DNSHostName)
	}
	wantSPNs(t, o.SPNs, []string{fqdn(cur), cur}, []string{fqdn(other), other})
	keytabWorks(t, dc, d, cur, fqdn(cur))
	wantKeytab(t, filepath.Join(stateDir, "krb5.keytab"), []string{fqdn(cur), cur}, []string{fqdn(other), other})
	return cur, strings.EqualFold(o.DN, computersDN(cur))
}

// TestKillDuringRename: kill -9 at random moments of a
// NetrRenameMachineInDomain3 with NETSETUP_ACCT_CREATE the daemon carries
// out against the DC (one modify of the account's names and password,
// then the modify DN of its relative name), restart: the machine is
// wholly the old name or wholly the new one (checkRenameAgree). When the
// recovery completes a rename whose modify was applied and whose modify DN
// was not, the object keeps its former relative name (the machine
// account may not rename its own object; a warning says so) — counted.
func TestKillDuringRename(t *testing.T) {
	const old, renamed = "WKKREN", "WKKREN2"
	dc := testdc.Start(t, testdc.Options{})
	rnd := faultRand(t)
	clean := func() {
		deleteComputer(t, dc, old)
		deleteComputer(t, dc, renamed)
	}
	clean()
	t.Cleanup(clean)
	joined := func(stateDir string) *daemon {
		t.Helper()
		d := domainDaemon(t, dc, old, "--state-dir", stateDir)
		if ok, code := startJoin3(t, d, dc).wait(t); !ok || code != 0 {
			t.Fatalf("join before the rename: %#x\n%s", code, d.Output())
		}
		return d
	}

	// Measure a rename.
	d := joined(t.TempDir())
	sc := startRename3(t, d, dc, renamed)
	if ok, code := sc.wait(t); !ok || code != 0 {
		t.Fatalf("measuring the rename: %#x %v\n%s", code, sc.err, d.Output())
	}
	renameTime := sc.took
	d.stop(t)
	clean()
	t.Logf("a rename takes %v", renameTime)

	// 14 runs (a quarter of $WKSSVCD_KILL_RUNS when set, at least 10);
	// a rename and the join before it take about 2.5 s.
	runs := 14
	if n := faultRuns(0); n > 0 {
		runs = max(n/4, 10)
	}
	const minRuns, budget = 10, 80 * time.Second
	counts := map[string]int{}
	start := time.Now()
	for run := 0; run < runs && !t.Failed(); run++ {
		if run >= minRuns && time.Since(start) > budget {
			t.Logf("time budget spent after %d runs", run)
			break
		}
		stateDir := t.TempDir()
		d := joined(stateDir)
		delay := time.Duration(rnd.Int64N(int64(renameTime) * 13 / 10))
		sc := startRename3(t, d, dc, renamed)
		time.Sleep(time.Until(sc.began.Add(delay)))
		d.kill9(t)
		finished, code := sc.wait(t)
		answered := "killed-mid-call"
		if finished {
			answered = fmt.Sprintf("answered-%#x", code)
		}
		d2 := domainDaemon(t, dc, old, "--state-dir", stateDir)
		rec := recoveryOutcome(d2.Output())
		cur, cnFollows := checkRenameAgree(t, dc, d2, stateDir, old, renamed)
		outcome := "old"
		if cur == renamed {
			outcome = "new"
			if !cnFollows {
				counts["cn-kept"]++
				if !strings.Contains(d2.Output(), "keeps its former relative name") {
					t.Error("the object keeps its former relative name and no warning says so")
				}
			}
		}
		if finished && code == 0 && outcome != "new" {
			t.Errorf("the rename was acknowledged, yet after the restart the machine is %s", cur)
		}
		counts[outcome]++
		counts["recovery:"+rec]++
		counts["call:"+answered]++
		t.Logf("run %d: kill after %v (call %s): recovery %s, outcome %s (relative name follows: %v)", run, delay, answered, rec, outcome, cnFollows)
		d2.stop(t)
		clean()
	}
	failures := 0
	if t.Failed() {
		failures = 1
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	t.Logf("FAULTS kill-rename runs=%d new=%d old=%d failures=%d rename=%v elapsed=%v details=%v",
		counts["new"]+counts["old"], counts["new"], counts["old"], failures, renameTime.Round(time.Millisecond),
		time.Since(start).Round(time.Second), counts)
	if n := counts["new"] + counts["old"]; n < min(runs, minRuns) {
		t.Errorf("only %d runs completed", n)
	}
}
