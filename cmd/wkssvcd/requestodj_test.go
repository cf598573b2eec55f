package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wkssvcd/wkssvcd/joinlogic"
	"github.com/wkssvcd/wkssvcd/odj"
)

// The Windows Server 2019 vector (machine wurst2, domain
// w2k19dom.ber.redhat.com, made with /defpwd) and a Samba 4.17 savefile
// (machine NEWPC1, domain odj.test): requestodj applies both with no
// network, and refuses bad files with nothing written.

func requestODJIn(t *testing.T, state, name string, stdin []byte, args ...string) (int, string, string) {
	t.Helper()
	var o, e bytes.Buffer
	// --keytab: as root the default is the host's /etc/krb5.keytab.
	all := append([]string{"requestodj", "--state-dir", state, "--keytab", filepath.Join(state, "krb5.keytab"), "--netbios-name", name, "--log-level", "warn"}, args...)
	code := run(context.Background(), all, env{stdin: bytes.NewReader(stdin), stdout: &o, stderr: &e, getenv: noEnv})
	return code, o.String(), e.String()
}

func readMembership(t *testing.T, state string) joinlogic.Membership {
	t.Helper()
	s, err := joinlogic.OpenStore(filepath.Join(state, membershipFile))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := s.Load()
	return m
}

func TestRequestODJWindowsAndSambaFiles(t *testing.T) {
	for _, c := range []struct {
		file, name, domain, netbios, sid string
		rid                              uint32
	}{
		{"windows2019-provision.bin", "WURST2", "w2k19dom.ber.redhat.com", "W2K19DOM", "S-1-5-21-306967272-1096148586-1957995587", 1605},
		{"samba417-provision-newpc1.txt", "NEWPC1", "odj.test", "ODJ", "S-1-5-21-3070927447-2750013856-1874614257", 1103},
	} {
		state := t.TempDir()
		code, out, errOut := requestODJIn(t, state, c.name, nil, "--loadfile", "testdata/"+c.file)
		if code != 0 {
			t.Fatalf("%s: exit %d\n%s%s", c.file, code, out, errOut)
		}
		m := readMembership(t, state)
		if !m.Joined() || m.DomainFQDN != c.domain || m.DomainNetBIOS != c.netbios || m.DomainSID != c.sid || m.AccountRID != c.rid ||
			m.ClientName != c.name+"$" || m.DNSHostName != strings.ToLower(c.name)+"."+c.domain || !strings.HasPrefix(m.OfflineJoinFile, "sha256:") {
			t.Errorf("%s: membership %+v", c.file, m)
		}
		if c.name == "WURST2" && m.Password.Reveal() != "wurst2" {
			t.Errorf("%s: the default password did not arrive", c.file)
		}
		fi, err := os.Stat(filepath.Join(state, "krb5.keytab"))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: keytab %v %v", c.file, fi, err)
		}
		if !strings.Contains(out, "joined "+c.netbios+" ("+c.domain+") offline as "+c.name+"$") || !strings.Contains(out, "key version 1") {
			t.Errorf("%s: output\n%s", c.file, out)
		}
	}
}

func TestRequestODJFromStandardInput(t *testing.T) {
	state := t.TempDir()
	b, _ := os.ReadFile("testdata/samba417-provision-newpc1.txt")
	if code, out, errOut := requestODJIn(t, state, "NEWPC1", b, "--loadfile", "-", "--kvno", "7"); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if !readMembership(t, state).Joined() {
		t.Fatal("not joined")
	}
}

// Bad files: each a clear error, exit 1, nothing written.
func TestRequestODJRefusesBadFiles(t *testing.T) {
	bin, err := os.ReadFile("testdata/windows2019-provision.bin")
	if err != nil {
		t.Fatal(err)
	}
	encode := func(mod func(p *odj.Provision)) []byte {
		p, err := odj.DecodeProvision(bin)
		if err != nil {
			t.Fatal(err)
		}
		mod(p)
		b, err := p.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return odj.EncodeSavefile(b)
	}
	text := odj.EncodeText(bin)
	var wrapped string
	for i := 0; i < len(text); i += 76 {
		wrapped += text[i:min(i+76, len(text))] + "\r\n"
	}
	for _, c := range []struct {
		name, machine string
		file          []byte
		msg           string
	}{
		{"truncated", "WURST2", odj.EncodeSavefile(bin[:len(bin)-200]), "truncated"},
		{"wrong version", "WURST2", encode(func(p *odj.Provision) { p.Version = 2 }), "ulVersion 2"},
		{"encrypted", "WURST2", encode(func(p *odj.Provision) {
			pk := p.Blobs[1].Package
			pk.EncryptionType, pk.Wrapped, pk.Parts = odj.MustParseGUID("0a0b0c0d-0000-0000-0000-000000000001"), []byte("secret"), nil
		}), "encrypted"},
		{"unknown essential part", "WURST2", encode(func(p *odj.Provision) {
			pk := p.Blobs[1].Package
			pk.Parts = append(pk.Parts, odj.Part{Type: odj.MustParseGUID("0a0b0c0d-0000-0000-0000-000000000002"), Flags: 1, Raw: []byte{1}})
		}), "flagged essential"},
		{"another machine", "OTHERPC", odj.EncodeSavefile(bin), `is for the computer "wurst2"; this computer is OTHERPC`},
		{"UTF-8 with BOM", "WURST2", append([]byte{0xEF, 0xBB, 0xBF}, text...), "UTF-8 byte-order mark"},
		{"line-wrapped", "WURST2", []byte(wrapped), "broken into lines"},
		{"empty", "WURST2", nil, "empty"},
	} {
		state := t.TempDir()
		f := filepath.Join(t.TempDir(), "file.txt")
		if err := os.WriteFile(f, c.file, 0o600); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := requestODJIn(t, state, c.machine, nil, "--loadfile", f)
		if code != 1 || !strings.Contains(errOut, c.msg) {
			t.Errorf("%s: exit %d, %q; want 1 and %q", c.name, code, errOut, c.msg)
		}
		if out != "" {
			t.Errorf("%s: output %q", c.name, out)
		}
		for _, p := range []string{membershipFile, "krb5.keytab", odjDir, odjNewDir, membershipFile + ".intent"} {
			if _, err := os.Stat(filepath.Join(state, p)); err == nil {
				t.Errorf("%s: %s written", c.name, p)
			}
		}
	}
	if code, _, errOut := requestODJIn(t, t.TempDir(), "WURST2", nil); code != 2 || !strings.Contains(errOut, "--loadfile is required") {
		t.Errorf("no --loadfile: %d %s", code, errOut)
	}
}

// The DirectAccess parts land in the state directory: the policy
// settings as JSON, the root CA certificates as PEM; a second application
// (replacing the membership) replaces them.
func TestRequestODJKeepsDirectAccessParts(t *testing.T) {
	bin, _ := os.ReadFile("testdata/windows2019-provision.bin")
	p, _ := odj.DecodeProvision(bin)
	certDER := testCertificate(t)
	pk := p.Blobs[1].Package
	pk.Parts = append(pk.Parts,
		odj.ContentPart(&odj.PolicyPart{Lists: []odj.PolicyElementList{odj.PolicyList(`\\d\SysVol\d\Policies\{X}\Machine\Registry.pol`, []odj.RegistryValue{
			{Key: `Software\Policies\Example`, ValueName: "Number", Type: 4, Data: []byte{42, 0, 0, 0}},
			{Key: `Software\Policies\Example`, ValueName: "Text", Type: 1, Data: []byte{'h', 0, 'i', 0, 0, 0}},
		})}}, 0),
		odj.ContentPart(&odj.CertPart{SSTStores: []odj.CertSSTStore{{StoreLocation: odj.CertSystemStoreLocalMachine, StoreName: "Root", SST: odj.EncodeSST([][]byte{certDER})}}}, 0))
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "da.txt")
	os.WriteFile(f, odj.EncodeSavefile(b), 0o600)
	state := t.TempDir()
	code, out, errOut := requestODJIn(t, state, "WURST2", nil, "--loadfile", f)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	var doc struct {
		Policies []struct {
			Source string `json:"source"`
			Values []struct {
				Key, Name, TypeName string
				Number              *uint64
				Text                string
			} `json:"values"`
		} `json:"policies"`
	}
	raw, err := os.ReadFile(filepath.Join(state, odjDir, policyFile))
	if err != nil {
		t.Fatalf("policy.json: %v\n%s", err, out)
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Policies) != 1 || len(doc.Policies[0].Values) != 2 || doc.Policies[0].Values[0].Number == nil || *doc.Policies[0].Values[0].Number != 42 ||
		doc.Policies[0].Values[1].Text != "hi" {
		t.Fatalf("policy.json:\n%s", raw)
	}
	pemData, err := os.ReadFile(filepath.Join(state, odjDir, rootCAFile))
	if err != nil || !bytes.Contains(pemData, []byte("BEGIN CERTIFICATE")) {
		t.Fatalf("root-cas.pem: %v\n%s", err, pemData)
	}
	for _, n := range []string{policyFile, rootCAFile} {
		if fi, _ := os.Stat(filepath.Join(state, odjDir, n)); fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v", n, fi.Mode())
		}
	}
	// The file again, replacing the membership, without parts this time:
	// the old parts go.
	os.WriteFile(f, odj.EncodeSavefile(bin), 0o600)
	if code, out, errOut := requestODJIn(t, state, "WURST2", nil, "--loadfile", f, "--replace-membership"); code != 0 {
		t.Fatalf("replace: exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(state, odjDir, policyFile)); err == nil {
		t.Error("the previous file's policy settings stayed")
	}
}

// A JOIN_PROVIDER2 part (djoin /netbios /dsite /primarydns) is applied:
// the DNS name takes the primary DNS suffix, the site is kept.
func TestRequestODJJoinProvider2(t *testing.T) {
	bin, _ := os.ReadFile("testdata/windows2019-provision.bin")
	p, _ := odj.DecodeProvision(bin)
	pk := p.Blobs[1].Package
	pk.Parts = append(pk.Parts, odj.ContentPart(&odj.JoinProv2{NetbiosName: "WURST2", SiteName: "Branch", PrimaryDNSDomain: "corp.example"}, 0))
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	if code, out, errOut := requestODJIn(t, state, "WURST2", odj.EncodeSavefile(b), "--loadfile", "-"); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	m := readMembership(t, state)
	if m.DNSHostName != "wurst2.corp.example" || m.SiteName != "Branch" || m.PersistentSite {
		t.Fatalf("membership: %+v", m)
	}
}

func testCertificate(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ODJ Test Root"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// One writer of a state directory: a second lock is refused and names the
// holder; once released, it can be taken again. A daemon refuses to start
// on a state directory another process writes.
func TestStateLockOneWriter(t *testing.T) {
	dir := t.TempDir()
	l, err := lockStateDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lockStateDir(dir); !errors.Is(err, errStateLocked) || !strings.Contains(err.Error(), "by process ") {
		t.Fatalf("second lock: %v", err)
	}
	code, _, errOut := runCmd("serve", "--state-dir", dir, "--listen", "127.0.0.1:0", "--admin", "a:b")
	if code != 1 || !strings.Contains(errOut, "is locked") {
		t.Fatalf("a daemon on a locked state directory: exit %d\n%s", code, errOut)
	}
	l.release()
	l2, err := lockStateDir(dir)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	l2.release()
}

// A crash between staging the offline join files and saving the join is
// settled at the next start: the staged files are kept when the
// membership names their file, and dropped otherwise. The files in place
// (here without a marker, as written before the marker stayed) stay while
// the host is joined.
func TestSettleODJArtifacts(t *testing.T) {
	for _, c := range []struct {
		name        string
		memberFile  string
		marker      string
		wantCurrent bool
		want        string
	}{
		{"join saved", "sha256:aa", "sha256:aa", true, "new"},
		{"join never saved", "", "sha256:aa", false, ""},
		{"another file's join", "sha256:bb", "sha256:aa", false, "old"},
		{"staging cut short", "sha256:aa", "", false, "old"},
	} {
		state := t.TempDir()
		store, err := joinlogic.OpenStore(filepath.Join(state, membershipFile))
		if err != nil {
			t.Fatal(err)
		}
		if c.memberFile != "" {
			m := joinlogic.Membership{DomainNetBIOS: "EXAMPLE", DomainFQDN: "example.test", DomainSID: "S-1-5-21-1-2-3", ClientName: "PC$",
				Password: "pw", OfflineJoinFile: c.memberFile}
			if err := store.Save(context.Background(), m); err != nil {
				t.Fatal(err)
			}
		}
		os.MkdirAll(filepath.Join(state, odjDir), 0o700)
		os.WriteFile(filepath.Join(state, odjDir, policyFile), []byte("old"), 0o600)
		os.MkdirAll(filepath.Join(state, odjNewDir), 0o700)
		os.WriteFile(filepath.Join(state, odjNewDir, policyFile), []byte("new"), 0o600)
		if c.marker != "" {
			os.WriteFile(filepath.Join(state, odjNewDir, odjMarker), []byte(c.marker+"\n"), 0o600)
		}
		if err := settleODJArtifacts(state, store); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got, _ := os.ReadFile(filepath.Join(state, odjDir, policyFile))
		if string(got) != c.want {
			t.Errorf("%s: offline-join/policy.json holds %q, want %q", c.name, got, c.want)
		}
		for _, d := range []string{odjNewDir, odjOldDir} {
			if _, err := os.Stat(filepath.Join(state, d)); err == nil {
				t.Errorf("%s: %s left", c.name, d)
			}
		}
		marker, _ := os.ReadFile(filepath.Join(state, odjDir, odjMarker))
		if c.wantCurrent && strings.TrimSpace(string(marker)) != c.marker {
			t.Errorf("%s: the directory's marker holds %q", c.name, marker)
		}
	}
}

// The offline join's files follow the membership: a save that keeps the
// offline join (a password change) keeps them, an unjoin or another join
// removes them, whole, also when the unjoin was saved before a crash; a
// directory written before the marker stayed in it goes with the
// membership's offline join too.
func TestODJArtifactsFollowMembership(t *testing.T) {
	joined := joinlogic.Membership{DomainNetBIOS: "EXAMPLE", DomainFQDN: "example.test", DomainSID: "S-1-5-21-1-2-3", ClientName: "PC$",
		Password: "pw", OfflineJoinFile: "sha256:aa"}
	rotated := joined
	rotated.Password, rotated.PreviousPassword = "pw2", "pw"
	online := joined
	online.OfflineJoinFile = ""
	other := joined
	other.OfflineJoinFile = "sha256:bb"
	for _, c := range []struct {
		name     string
		marker   string // "" for none
		next     joinlogic.Membership
		wantKept bool
	}{
		{"password change", "sha256:aa", rotated, true},
		{"unjoin", "sha256:aa", joinlogic.Membership{}, false},
		{"unjoin to a workgroup", "sha256:aa", joinlogic.Membership{Workgroup: "WG"}, false},
		{"online join", "sha256:aa", online, false},
		{"another file", "sha256:aa", other, false},
		{"no marker, still the offline join", "", rotated, true},
		{"no marker, unjoin", "", joinlogic.Membership{}, false},
		{"no marker, online join", "", online, false},
	} {
		state := t.TempDir()
		store, err := joinlogic.OpenStore(filepath.Join(state, membershipFile))
		if err != nil {
			t.Fatal(err)
		}
		if err := store.Save(context.Background(), joined); err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Join(state, odjDir), 0o700)
		os.WriteFile(filepath.Join(state, odjDir, policyFile), []byte("{}"), 0o600)
		if c.marker != "" {
			os.WriteFile(filepath.Join(state, odjDir, odjMarker), []byte(c.marker+"\n"), 0o600)
		}
		var logs bytes.Buffer
		followMembership(state, store, slog.New(slog.NewTextHandler(&logs, nil)))
		if err := store.Save(context.Background(), c.next); err != nil {
			t.Fatal(err)
		}
		_, err = os.Stat(filepath.Join(state, odjDir, policyFile))
		if kept := err == nil; kept != c.wantKept {
			t.Errorf("%s: files kept %v, want %v", c.name, kept, c.wantKept)
		}
		if _, err := os.Stat(filepath.Join(state, odjOldDir)); err == nil {
			t.Errorf("%s: %s left", c.name, odjOldDir)
		}
		if !c.wantKept && !strings.Contains(logs.String(), "its files are removed") {
			t.Errorf("%s: nothing logged:\n%s", c.name, logs.String())
		}

		// The same change saved by a process that crashed before removing
		// the files: the next start settles it.
		state2 := t.TempDir()
		store2, _ := joinlogic.OpenStore(filepath.Join(state2, membershipFile))
		store2.Save(context.Background(), c.next)
		os.MkdirAll(filepath.Join(state2, odjOldDir), 0o700) // a removal cut short
		os.MkdirAll(filepath.Join(state2, odjDir), 0o700)
		os.WriteFile(filepath.Join(state2, odjDir, policyFile), []byte("{}"), 0o600)
		if c.marker != "" {
			os.WriteFile(filepath.Join(state2, odjDir, odjMarker), []byte(c.marker+"\n"), 0o600)
		}
		if err := settleODJArtifacts(state2, store2); err != nil {
			t.Fatalf("%s: settle: %v", c.name, err)
		}
		_, err = os.Stat(filepath.Join(state2, odjDir, policyFile))
		if kept := err == nil; kept != c.wantKept {
			t.Errorf("%s, at the next start: files kept %v, want %v", c.name, kept, c.wantKept)
		}
		if _, err := os.Stat(filepath.Join(state2, odjOldDir)); err == nil {
			t.Errorf("%s, at the next start: %s left", c.name, odjOldDir)
		}
	}
}
