package joinlogic

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func sampleMembership() Membership {
	return Membership{DomainNetBIOS: "EXAMPLE", DomainFQDN: "example.test", DomainSID: "S-1-5-21-1-2-3",
		DomainGUID: "11111111-2222-3333-4444-555555555555", ForestFQDN: "example.test", SiteName: "Default-First-Site-Name",
		ClientName: "WKS1$", DNSHostName: "wks1.example.test", Password: "p\"w\\ \u00e9\x01", PreviousPassword: "older",
		PasswordSetTime: time.Date(2026, 11, 22, 1, 2, 3, 456, time.UTC)}
}

func TestStoreMissingFileIsDefaultWorkgroup(t *testing.T) {
	path := filepath.Join(t.TempDir(), "membership.json")
	s, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := s.Load()
	if m != DefaultMembership() || m.Workgroup != "WORKGROUP" {
		t.Fatalf("default = %+v", m)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("OpenStore created the file")
	}
}

func TestStoreRoundTripAndMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "membership.json")
	s, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	want := sampleMembership()
	if err := s.Save(context.Background(), want); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode = %v, want 0600", st.Mode().Perm())
	}
	s2, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := s2.Load()
	if !equalMembership(got, want) {
		t.Fatalf("round trip:\n got  %+v\n want %+v", got, want)
	}
	// Overwrite with a workgroup state; no temporary files remain.
	if err := s2.Save(context.Background(), Membership{Workgroup: "TEAM"}); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("directory holds %d entries", len(entries))
	}
}

func TestStoreRejectsBadFiles(t *testing.T) {
	good, err := encodeState(sampleMembership())
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{
		"corrupt":             string(good[:len(good)/2]),
		"empty":               "",
		"not an object":       "[]",
		"unknown version":     strings.Replace(string(good), `"version": 1`, `"version": 2`, 1),
		"version missing":     `{"membership":{"workgroup":"X"}}`,
		"membership null":     `{"version":1,"membership":null}`,
		"unknown field":       `{"version":1,"membership":{"workgroup":"X","extra":1}}`,
		"trailing data":       string(good) + "{}",
		"joined, no password": `{"version":1,"membership":{"domain_netbios":"E","domain_sid":"S-1-5-21-1"}}`,
		"wrong type":          `{"version":1,"membership":{"workgroup":5}}`,
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "membership.json")
			if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := OpenStore(path); err == nil {
				t.Fatal("OpenStore accepted the file")
			}
			// The bad file is left for an administrator, never reset.
			if b, _ := os.ReadFile(path); string(b) != data {
				t.Fatal("file was changed")
			}
		})
	}
}

func TestStoreCancelledSaveKeepsOldState(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.json")
	s, _ := OpenStore(path)
	if err := s.Save(context.Background(), Membership{Workgroup: "A"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Save(ctx, Membership{Workgroup: "B"}); err == nil {
		t.Fatal("Save with a cancelled context succeeded")
	}
	if m, _ := s.Load(); m.Workgroup != "A" {
		t.Fatal("cached state changed")
	}
}

// OnSave hooks see every membership saved, and none that failed to save.
func TestStoreOnSave(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.json")
	s, _ := OpenStore(path)
	var seen []string
	s.OnSave(func(m Membership) {
		// The file is in place when the hook runs.
		if got, err := readMembershipFile(path); err != nil || got.Workgroup != m.Workgroup {
			t.Errorf("hook ran before the save: %+v, %v", got, err)
		}
		seen = append(seen, m.Workgroup)
	})
	s.Save(context.Background(), Membership{Workgroup: "A"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s.Save(ctx, Membership{Workgroup: "B"})
	s.Save(context.Background(), Membership{DomainSID: "S-1-5-21-1-2-3"}) // invalid: no name, no password
	s.Save(context.Background(), Membership{Workgroup: "C"})
	if strings.Join(seen, ",") != "A,C" {
		t.Fatalf("hook saw %v, want A,C", seen)
	}
}

func TestStoreRemovesStaleTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.json")
	stale := filepath.Join(dir, ".m.json.tmp-123")
	if err := os.WriteFile(stale, []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenStore(path); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatal("stale temporary file kept")
	}
}

func TestSecretsAreRedacted(t *testing.T) {
	m := sampleMembership()
	m.Password = "TopSecretMachinePw"
	m.PreviousPassword = "OlderSecretPw"
	var buf bytes.Buffer
	l := slog.New(slog.NewJSONHandler(&buf, nil))
	l.Info("m", "membership", m, "pw", m.Password, "cred", Credentials{Account: Account{User: "a", Domain: "B"}, Password: "BindSecretPw"})
	l.Info("s", "struct", fmt.Sprintf("%v %+v %#v %s", m, m, m, m.Password))
	cred := Credentials{Password: "BindSecretPw"}
	out := buf.String() + fmt.Sprintf("%v %+v %#v", cred, cred, cred)
	for _, secret := range []string{"TopSecretMachinePw", "OlderSecretPw", "BindSecretPw"} {
		if strings.Contains(out, secret) {
			t.Fatalf("%q leaked: %s", secret, out)
		}
	}
	if m.Password.Reveal() != "TopSecretMachinePw" {
		t.Fatal("Reveal")
	}
}

// crashState is the state number i written by the crash child; every
// field is derived from i so that a torn mixture would be detected.
func crashState(i int) Membership {
	return Membership{
		DomainNetBIOS: "EXAMPLE", DomainFQDN: "example.test",
		DomainSID:  fmt.Sprintf("S-1-5-21-1-2-%d", i),
		ClientName: fmt.Sprintf("C%d$", i),
		SiteName:   fmt.Sprintf("site-%d", i),
		// Large enough that one write spans many pages.
		Password: Secret(strings.Repeat(fmt.Sprintf("%d-", i), 4000)),
	}
}

func crashIndex(m Membership) (int, bool) {
	if !m.Joined() {
		return 0, m == DefaultMembership()
	}
	i, err := strconv.Atoi(strings.TrimPrefix(m.DomainSID, "S-1-5-21-1-2-"))
	if err != nil {
		return 0, false
	}
	return i, equalMembership(m, crashState(i))
}

const crashEnv = "JOINLOGIC_STORE_CRASH_CHILD"

// TestMain runs the child half of TestStoreCrash when the test binary is
// started as that child, and the tests otherwise.
func TestMain(m *testing.M) {
	if path := os.Getenv(crashEnv); path != "" {
		storeCrashChild(path)
	}
	os.Exit(m.Run())
}

// storeCrashChild is the child half of TestStoreCrash: it saves numbered
// states in a loop, printing each number once it is saved.
func storeCrashChild(path string) {
	s, err := OpenStore(path)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(3)
	}
	m, _ := s.Load()
	i, ok := crashIndex(m)
	if !ok {
		fmt.Println("inconsistent state at start")
		os.Exit(4)
	}
	deadline := time.Now().Add(10 * time.Second) // never outlive a lost parent for long
	for time.Now().Before(deadline) {
		i++
		if err := s.Save(context.Background(), crashState(i)); err != nil {
			fmt.Println("save:", err)
			os.Exit(5)
		}
		fmt.Println(i)
	}
	os.Exit(0)
}

// TestStoreCrash kills a child that is saving states with SIGKILL at
// random moments and checks that the file always opens and holds a
// complete state: the last one acknowledged or the one being written.
// In -short mode it kills ten times instead of fifty: shorter, never
// skipped.
func TestStoreCrash(t *testing.T) {
	maxKills, budgetTime := 50, 30*time.Second
	if testing.Short() {
		maxKills, budgetTime = 10, 10*time.Second
	}
	path := filepath.Join(t.TempDir(), "membership.json")
	budget := time.Now().Add(budgetTime)
	kills, ahead := 0, 0
	for ; kills < maxKills && time.Now().Before(budget); kills++ {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), crashEnv+"="+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		acks := make(chan int, 1<<16)
		readDone := make(chan []string)
		go func() {
			var other []string
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if n, err := strconv.Atoi(sc.Text()); err == nil {
					acks <- n
				} else {
					other = append(other, sc.Text())
				}
			}
			close(acks)
			readDone <- other
		}()
		// Wait for the child to be saving, then kill it at a random moment.
		last := -1
		if n, ok := <-acks; ok {
			last = n
		}
		time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		for n := range acks {
			last = n
		}
		other := <-readDone
		_ = cmd.Wait()
		if len(other) > 0 {
			t.Fatalf("child reported: %q", other)
		}
		s, err := OpenStore(path)
		if err != nil {
			t.Fatalf("kill %d: OpenStore after SIGKILL: %v", kills, err)
		}
		m, _ := s.Load()
		i, ok := crashIndex(m)
		if !ok {
			t.Fatalf("kill %d: torn state %+v", kills, m.LogValue())
		}
		if last >= 0 && i != last && i != last+1 {
			t.Fatalf("kill %d: state %d on disk, last acknowledged %d", kills, i, last)
		}
		if i == last+1 {
			ahead++ // killed between the rename and the acknowledgement
		}
	}
	if kills < min(10, maxKills) {
		t.Fatalf("only %d kills within the time budget", kills)
	}
	t.Logf("%d kills, file always complete (%d times one state past the last acknowledged)", kills, ahead)
}

// LoadRecent, used by the queries, looks at the file at most once per
// maxAge: within it another process's change is not seen (no stat(2) per
// call), after it it is; this process's own saves show at once, and Load
// always looks.
func TestStoreLoadRecent(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "membership.json")
	s, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := s.LoadRecent(time.Hour); m.Workgroup != DefaultMembership().Workgroup {
		t.Fatalf("first LoadRecent %+v", m.LogValue())
	}
	if err := s.Save(ctx, Membership{Workgroup: "OURS"}); err != nil {
		t.Fatal(err)
	}
	if m, _ := s.LoadRecent(time.Hour); m.Workgroup != "OURS" {
		t.Fatalf("own save not seen: %+v", m.LogValue())
	}
	other, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Save(ctx, Membership{Workgroup: "THEIRS"}); err != nil {
		t.Fatal(err)
	}
	if m, _ := s.LoadRecent(time.Hour); m.Workgroup != "OURS" {
		t.Fatalf("LoadRecent looked at the file within maxAge: %+v", m.LogValue())
	}
	if m, _ := s.LoadRecent(0); m.Workgroup != "THEIRS" {
		t.Fatalf("LoadRecent past maxAge missed the other process's save: %+v", m.LogValue())
	}
	if err := other.Save(ctx, Membership{Workgroup: "AGAIN"}); err != nil {
		t.Fatal(err)
	}
	if m, _ := s.Load(); m.Workgroup != "AGAIN" {
		t.Fatalf("Load missed the other process's save: %+v", m.LogValue())
	}
}

// NetrGetJoinInformation (and NetrWkstaGetInfo, which asks the same)
// answers from memory between looks at the file: a workgroup change saved
// by another process shows after queryStaleness, not on every call.
func TestJoinInformationLooksAtTheFileAtMostOncePerSecond(t *testing.T) {
	ctx := context.Background()
	e := newRecoveryEnv(t)
	j, _ := e.start(t, nil)
	if name, _, err := j.JoinInformation(ctx); err != nil || name != DefaultMembership().Workgroup {
		t.Fatalf("JoinInformation = %q, %v", name, err)
	}
	other, err := OpenStore(e.path)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Save(ctx, Membership{Workgroup: "THEIRS"}); err != nil {
		t.Fatal(err)
	}
	if name, _, _ := j.JoinInformation(ctx); name != DefaultMembership().Workgroup {
		t.Fatalf("JoinInformation looked at the file again at once: %q", name)
	}
	time.Sleep(queryStaleness)
	if name, _, _ := j.JoinInformation(ctx); name != "THEIRS" {
		t.Fatalf("JoinInformation after %v = %q, want the other process's workgroup", queryStaleness, name)
	}
}
