package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/wkssvcd/wkssvcd/internal/testdc"
	"github.com/wkssvcd/wkssvcd/odj"
)

// The DirectAccess parts of the offline join guide, end to end: a GPO
// with registry settings on the test DC and a root CA certificate
// published in its configuration NC go into the file wkst provision
// writes; wkssvcd requestodj keeps them in the state directory and
// installs the CA into the system trust store.

// createGPO makes a GPO named name on the DC (samba-tool gpo create) and
// puts a Registry.pol written by Samba's own PReg encoder under its
// Machine folder on SYSVOL (smbclient). It returns the GPO's GUID and the
// file's bytes.
func createGPO(t *testing.T, dc *testdc.DC, name string, settings ...string) (string, []byte) {
	t.Helper()
	out := dc.MustSambaTool(t, "gpo", "create", name, "-H", "ldap://"+dc.Addr, "-U", dc.AdminUser+"%"+dc.AdminPassword)
	guid := regexp.MustCompile(`\{[0-9A-Fa-f-]{36}\}`).FindString(out)
	if guid == "" {
		t.Fatalf("samba-tool gpo create printed no GUID:\n%s", out)
	}
	t.Cleanup(func() {
		dc.SambaTool(context.Background(), "gpo", "del", guid, "-H", "ldap://"+dc.Addr, "-U", dc.AdminUser+"%"+dc.AdminPassword)
	})
	pol := filepath.Join(t.TempDir(), "Registry.pol")
	if out, err := python(t, "write_registry_pol.py", append([]string{pol}, settings...)...); err != nil {
		t.Fatalf("writing Registry.pol: %v\n%s", err, out)
	}
	data, err := os.ReadFile(pol)
	if err != nil {
		t.Fatal(err)
	}
	remote := testdc.DNSDomain + `\Policies\` + guid + `\Machine\Registry.pol`
	if out, err := dc.SMBClient(context.Background(), "sysvol", "put "+pol+" "+remote); err != nil {
		t.Fatalf("uploading Registry.pol: %v\n%s", err, out)
	}
	return guid, data
}

// publishRootCA adds a certificationAuthority object holding a new
// self-signed CA certificate under CN=Certification Authorities of the
// configuration NC (what certutil -dspublish -f FILE RootCA does) and
// returns the certificate.
func publishRootCA(t *testing.T, dc *testdc.DC, cn string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn, Organization: []string{"Example"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	dn := "CN=" + cn + ",CN=Certification Authorities,CN=Public Key Services,CN=Services,CN=Configuration," + dc.BaseDN
	add := ldap.NewAddRequest(dn, nil)
	add.Attribute("objectClass", []string{"top", "certificationAuthority"})
	add.Attribute("cACertificate", []string{string(der)})
	add.Attribute("authorityRevocationList", []string{"\x00"})
	add.Attribute("certificateRevocationList", []string{"\x00"})
	l := ldapConn(t, dc)
	if err := l.Add(add); err != nil {
		t.Fatalf("publishing %s: %v", dn, err)
	}
	t.Cleanup(func() { ldapConn(t, dc).Del(ldap.NewDelRequest(dn, nil)) })
	return der
}

func TestProvisionDirectAccessParts(t *testing.T) {
	requireE2E(t)
	dc := testdc.Start(t, testdc.Options{})
	const gpoName = "DA Client GPO"
	guid, pol := createGPO(t, dc, gpoName,
		`Software\Policies\Microsoft\Windows NT\DNSClient`, "EnableMulticast", "dword", "0",
		`Software\Policies\Microsoft\Windows\NetworkConnectivityStatusIndicator\CorporateResources`, "DnsProbeHost", "sz", "directaccess-WebProbeHost.example.test",
		`Software\Policies\Microsoft\Windows\TCPIP\v6Transition`, "Teredo_State", "sz", "Enterprise Client")
	want, err := odj.DecodePReg(pol)
	if err != nil || len(want) != 3 {
		t.Fatalf("the Registry.pol Samba wrote: %v %v", want, err)
	}
	ca := publishRootCA(t, dc, "ODJ Test Root CA")

	const name = "ODJDACLIENT"
	f := mustProvision(t, dc, name, "--policy-names", gpoName, "--root-ca-certs")
	j := readJoin(t, f)
	if len(j.Policies) != 1 || len(j.Policies[0].Lists) != 1 {
		t.Fatalf("policy parts: %+v", j.Policies)
	}
	l := j.Policies[0].Lists[0]
	if !strings.HasSuffix(strings.ToLower(l.Source), strings.ToLower(`\Policies\`+guid+`\Machine\Registry.pol`)) || l.RootKeyID != odj.HKeyLocalMachine {
		t.Errorf("policy list source %q, root 0x%x", l.Source, l.RootKeyID)
	}
	var got []odj.RegistryValue
	for _, e := range l.Elements {
		got = append(got, odj.RegistryValue{Key: e.KeyPath, ValueName: e.ValueName, Type: e.ValueType, Data: e.Data})
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("the POLICY part holds\n%+v\nthe GPO holds\n%+v", got, want)
	}
	if len(j.Certs) != 1 || len(j.Certs[0].SSTStores) != 1 {
		t.Fatalf("cert parts: %+v", j.Certs)
	}
	st := j.Certs[0].SSTStores[0]
	certs, _, err := odj.DecodeSST(st.SST)
	if err != nil || st.StoreName != "Root" || st.StoreLocation != odj.CertSystemStoreLocalMachine || len(certs) != 1 || !bytes.Equal(certs[0], ca) {
		t.Fatalf("SST store %s/0x%x: %d certificates (%v), want the published CA", st.StoreName, st.StoreLocation, len(certs), err)
	}

	// Samba's ndrdump reads the same values out of the file.
	raw, _ := os.ReadFile(f)
	bin, err := odj.DecodeSavefile(raw)
	if err != nil {
		t.Fatal(err)
	}
	dump := ndrdumpODJ(t, bin)
	for _, w := range []string{"pValueName: 'EnableMulticast'", "pValueName: 'DnsProbeHost'", "pValueName: 'Teredo_State'",
		"cElements: 0x00000003 (3)", "pStoreName: 'Root'", "StoreLocation: 0x00020000 (131072)", "cSstStores: 0x00000001 (1)",
		"PartType: 68fb602a-0c09-48ce-b75f-07b7bd58f7ec", "PartType: 9c0971e9-832f-4873-8e87-ef1419d4781e"} {
		if !strings.Contains(dump, w) {
			t.Errorf("ndrdump shows no %q", w)
		}
	}

	// requestodj keeps them: the policy settings as JSON, the CA as PEM.
	state := t.TempDir()
	if out, err := requestODJ(t, state, name, "--loadfile", f); err != nil {
		t.Fatalf("requestodj: %v\n%s", err, out)
	}
	js, err := os.ReadFile(filepath.Join(state, "offline-join", "policy.json"))
	if err != nil || !strings.Contains(string(js), `"text": "directaccess-WebProbeHost.example.test"`) || !strings.Contains(string(js), `"name": "EnableMulticast"`) {
		t.Fatalf("policy.json: %v\n%s", err, js)
	}
	pemData, err := os.ReadFile(filepath.Join(state, "offline-join", "root-cas.pem"))
	if b, _ := pem.Decode(pemData); err != nil || b == nil || !bytes.Equal(b.Bytes, ca) {
		t.Fatalf("root-cas.pem does not hold the published CA: %v", err)
	}

	// --install-root-cas puts the CA into the system trust store. It runs
	// in a private mount namespace whose /usr/local/share/ca-certificates,
	// /etc/ssl/certs and /etc/ca-certificates/update.d are copies, so the
	// host's trust store stays as it is; the script prints the bundle
	// update-ca-certificates built.
	lookPath(t, "update-ca-certificates")
	sandbox := t.TempDir()
	for _, d := range []string{"local", "hooks"} {
		os.MkdirAll(filepath.Join(sandbox, d), 0o755)
	}
	if out, err := exec.Command("cp", "-a", "/etc/ssl/certs/.", filepath.Join(sandbox, "certs")).CombinedOutput(); err != nil {
		t.Fatalf("copying /etc/ssl/certs: %v %s", err, out)
	}
	state2 := t.TempDir()
	script := `set -e
mount --bind "$1/local" /usr/local/share/ca-certificates
mount --bind "$1/certs" /etc/ssl/certs
mount --bind "$1/hooks" /etc/ca-certificates/update.d
shift
"$@" >&2
cat /etc/ssl/certs/ca-certificates.crt`
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", sandbox,
		filepath.Join(binDir, "wkssvcd"), "requestodj", "--state-dir", state2, "--netbios-name", name, "--loadfile", f, "--install-root-cas")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("requestodj --install-root-cas: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "into the system trust store") {
		t.Errorf("requestodj said:\n%s", stderr.String())
	}
	if !bytes.Contains(stdout.Bytes(), bytes.TrimSpace(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca}))) {
		t.Fatalf("the system bundle lacks the CA after --install-root-cas")
	}
	if _, err := os.Stat(filepath.Join(sandbox, "local")); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(filepath.Join(sandbox, "local")); len(entries) != 1 || !strings.HasPrefix(entries[0].Name(), "wkssvcd-example_test-") {
		t.Errorf("local CA files: %v", entries)
	}
}

// ndrdumpODJ runs Samba's ndrdump on a provisioning file's binary form and
// returns its lines normalised to "name: value".
func ndrdumpODJ(t *testing.T, bin []byte) string {
	t.Helper()
	lookPath(t, "ndrdump")
	f := filepath.Join(t.TempDir(), "odj.bin")
	os.WriteFile(f, bin, 0o600)
	out, err := exec.Command("ndrdump", "ODJ", "ODJ_PROVISION_DATA_serialized_ptr", "struct", f).CombinedOutput()
	s := string(out)
	if err != nil || !strings.Contains(s, "pull returned Success") || !strings.HasSuffix(strings.TrimSpace(s), "dump OK") {
		t.Fatalf("ndrdump: %v\n%s", err, s)
	}
	re := regexp.MustCompile(`\s+:\s+`)
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		lines = append(lines, re.ReplaceAllString(strings.TrimSpace(l), ": "))
	}
	return strings.Join(lines, "\n")
}
