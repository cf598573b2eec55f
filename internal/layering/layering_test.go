package layering

import (
	"go/build"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/wkssvcd/wkssvcd"

// rule is what one doc.go says about imports. deny lists import path
// prefixes the package must not reach (module packages transitively,
// others directly); allow lists prefixes that are exempt from deny. says
// is a phrase of the package's doc.go the rule enforces.
type rule struct {
	pkg   string
	says  string
	deny  []string
	allow []string
}

// Import path prefixes by role.
var (
	network   = []string{module + "/server/"}
	joining   = []string{module + "/joinlogic", module + "/wkssvc", module + "/crypto"}
	everyPkg  = []string{module + "/"}
	wireTypes = []string{"github.com/oiweiwei/go-msrpc"}
	ioPkgs    = []string{"net", "os", "syscall"}
)

func cat(lists ...[]string) []string { return slices.Concat(lists...) }

var rules = []rule{
	{pkg: "server/ipc", says: "It must not import the SMB, NTLM or RPC packages", deny: everyPkg},
	{pkg: "server/smb2", says: "It does not implement authentication (ipc.Authenticator), the pipes",
		deny: cat(joining, []string{module + "/server/ntlm", module + "/server/dcerpc", module + "/server/srvsvc"})},
	{pkg: "server/smb2/smbcrypto", says: "It performs no I/O", deny: cat(everyPkg, ioPkgs)},
	{pkg: "server/ntlm", says: "no transport I/O", deny: cat(joining, []string{module + "/server/smb2", module + "/server/dcerpc", "net"})},
	{pkg: "server/spnego", says: "must not know any mechanism's internals",
		deny: cat(joining, []string{module + "/server/smb2", module + "/server/ntlm", module + "/server/kerberos", module + "/server/dcerpc", "net"})},
	{pkg: "server/kerberos", says: "must not write them, touch the transport",
		deny: cat(joining, []string{module + "/server/smb2", module + "/server/ntlm", module + "/server/dcerpc", "net"})},
	{pkg: "server/dcerpc", says: "must not touch the SMB layer", deny: cat(joining, []string{module + "/server/smb2", module + "/server/ntlm", module + "/server/kerberos", module + "/server/spnego", module + "/server/srvsvc"})},
	{pkg: "server/srvsvc", says: "must not import the SMB layer", deny: cat(joining, []string{module + "/server/smb2", module + "/server/ntlm"})},
	{pkg: "wkssvc", says: "It must not parse PDUs, touch the SMB layer", deny: []string{module + "/server/smb2", module + "/server/ntlm", module + "/server/srvsvc"}},
	{pkg: "wkssvc/hostinfo", says: "It only reads", deny: cat(everyPkg, wireTypes)},
	{pkg: "crypto", says: "The package is pure: it performs no I/O", deny: cat(everyPkg, ioPkgs)},
	{pkg: "joinlogic", says: "It must not touch SMB, NDR or RPC wire types",
		deny: cat(network, wireTypes, []string{module + "/wkssvc", module + "/joinlogic/ldapdir"}), allow: []string{"github.com/oiweiwei/go-msrpc/msrpc/erref/"}},
	{pkg: "joinlogic/ldapdir", says: "It owns no local state", deny: cat(network, []string{module + "/wkssvc", module + "/joinlogic/keytab"})},
	{pkg: "joinlogic/netlogon", says: "It must not import the SMB, NTLM or RPC server packages",
		deny: cat(network, []string{module + "/wkssvc", module + "/joinlogic/keytab", module + "/joinlogic/ldapdir"})},
	{pkg: "joinlogic/keytab", says: "It owns only the keytab file", deny: cat(network, wireTypes, []string{module + "/wkssvc", module + "/joinlogic/ldapdir"})},
	{pkg: "internal/atomicfile", says: "It does no other I/O and keeps no state", deny: everyPkg},
	{pkg: "server/budget", says: "It must not import the SMB, RPC or authentication packages", deny: everyPkg},
	{pkg: "internal/logsafe", says: "It owns no I/O and no global state", deny: cat(everyPkg, ioPkgs)},
	{pkg: "cmd/wkst", says: "It keeps no local state: no keytab, no membership.", deny: cat(network, []string{module + "/wkssvc", module + "/joinlogic/keytab"})},
	{pkg: "odj", says: "The package is pure: no I/O", deny: cat(everyPkg, ioPkgs)},
	{pkg: "joinlogic/sysvol", says: "It reads only", deny: cat(network, []string{module + "/wkssvc", module + "/joinlogic/keytab", module + "/joinlogic/ldapdir"})},
	{pkg: "internal/smbraw", says: "imports no other server package",
		deny: network, allow: []string{module + "/server/smb2/smbcrypto"}},
	{pkg: "bench", says: "it must not import or change the product packages",
		deny: cat(network, []string{module + "/wkssvc", module + "/joinlogic", module + "/cmd/"}), allow: []string{module + "/joinlogic/keytab", module + "/server/smb2/smbcrypto"}},
}

// Packages that only tests and test tools may import.
var testOnly = []string{module + "/e2e", module + "/internal/testdc", module + "/internal/testnet", module + "/internal/layering", module + "/internal/smbprobe",
	module + "/internal/testenv", module + "/internal/smbtap", module + "/internal/testreport", module + "/internal/mutation", module + "/internal/testsmbd"}

// packages returns the module's package directories (relative, slash
// separated) and their non-test imports.
func packages(t *testing.T, root string) map[string][]string {
	t.Helper()
	pkgs := map[string][]string{}
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if n := d.Name(); path != root && (strings.HasPrefix(n, ".") || n == "testdata") {
			return filepath.SkipDir
		}
		p, err := build.Default.ImportDir(path, 0)
		if err != nil {
			if _, ok := err.(*build.NoGoError); ok {
				return nil
			}
			return err
		}
		rel, _ := filepath.Rel(root, path)
		pkgs[filepath.ToSlash(rel)] = p.Imports
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

// reach returns everything pkg imports: module packages transitively,
// with the module package through which each import is reached.
func reach(pkgs map[string][]string, pkg string) map[string]string {
	seen := map[string]string{}
	var walk func(p, via string)
	walk = func(p, via string) {
		for _, imp := range pkgs[p] {
			if _, ok := seen[imp]; ok {
				continue
			}
			seen[imp] = via
			if rel, ok := strings.CutPrefix(imp, module+"/"); ok {
				walk(rel, rel)
			}
		}
	}
	walk(pkg, pkg)
	return seen
}

func matches(imp string, prefixes []string) bool {
	for _, p := range prefixes {
		// "a/b/" matches a/b and everything under it; "a/b" matches a/b
		// and its subpackages, not a/bc.
		p = strings.TrimSuffix(p, "/")
		if imp == p || strings.HasPrefix(imp, p+"/") {
			return true
		}
	}
	return false
}

func root(t *testing.T) string {
	t.Helper()
	r, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(r, "go.mod")); err != nil {
		t.Fatalf("module root not found from %s: %v", r, err)
	}
	return r
}

// TestEveryPackageHasDocGo: the layering is stated where a reader looks
// first.
func TestEveryPackageHasDocGo(t *testing.T) {
	r := root(t)
	comment := regexp.MustCompile(`(?m)^// (Package|Command) \w+`)
	for pkg := range packages(t, r) {
		b, err := os.ReadFile(filepath.Join(r, pkg, "doc.go"))
		if err != nil {
			t.Errorf("%s: no doc.go saying what the package owns and must not touch", pkg)
			continue
		}
		if !comment.Match(b) {
			t.Errorf("%s/doc.go has no package comment", pkg)
		}
	}
}

// TestImportRules checks every rule against the imports, transitively
// within the module.
func TestImportRules(t *testing.T) {
	r := root(t)
	pkgs := packages(t, r)
	for _, ru := range rules {
		if _, ok := pkgs[ru.pkg]; !ok {
			t.Errorf("rule for %s: no such package", ru.pkg)
			continue
		}
		doc, _ := os.ReadFile(filepath.Join(r, ru.pkg, "doc.go"))
		if !strings.Contains(strings.Join(strings.Fields(strings.ReplaceAll(string(doc), "//", "")), " "), ru.says) {
			t.Errorf("%s/doc.go no longer says %q: update the rule with the prose", ru.pkg, ru.says)
		}
		var bad []string
		for imp, via := range reach(pkgs, ru.pkg) {
			internal := strings.HasPrefix(imp, module+"/")
			if via != ru.pkg && (!internal || matches(module+"/"+via, ru.allow)) {
				// Another module package's external imports, and what an
				// allowed package reaches, are covered by their own rules.
				continue
			}
			if matches(imp, ru.deny) && !matches(imp, ru.allow) && imp != module+"/"+ru.pkg {
				if via != ru.pkg {
					imp += " (through " + via + ")"
				}
				bad = append(bad, imp)
			}
		}
		sort.Strings(bad)
		for _, b := range bad {
			t.Errorf("%s imports %s; its doc.go says: %q", ru.pkg, b, ru.says)
		}
	}
}

// TestTestOnlyPackages: the product never imports the test harness.
func TestTestOnlyPackages(t *testing.T) {
	pkgs := packages(t, root(t))
	for pkg, imps := range pkgs {
		if pkg == "e2e" || strings.HasPrefix(pkg, "internal/test") || pkg == "internal/layering" || strings.HasPrefix(pkg, "internal/mutation") {
			continue
		}
		for _, imp := range imps {
			if matches(imp, testOnly) {
				t.Errorf("%s imports the test-only package %s", pkg, imp)
			}
		}
	}
}

// TestRulesCatchViolations runs the checker on made-up packages, so that
// a rule table that matches nothing is noticed.
func TestRulesCatchViolations(t *testing.T) {
	pkgs := map[string][]string{
		"a": {module + "/b", "fmt"},
		"b": {module + "/server/smb2", "net"},
	}
	got := reach(pkgs, "a")
	if got[module+"/server/smb2"] != "b" || got["net"] != "b" || got["fmt"] != "a" {
		t.Fatalf("reach: %v", got)
	}
	if !matches(module+"/server/smb2", network) || matches(module+"/serverx", network) ||
		!matches("github.com/oiweiwei/go-msrpc/ndr", wireTypes) || !matches("net", ioPkgs) ||
		!matches("os/exec", ioPkgs) || matches("osx", ioPkgs) {
		t.Fatal("matches")
	}
}
