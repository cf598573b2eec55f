package testenv

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const repoRoot = "../.."

// scriptPackages is the packages=(...) list of scripts/test.
func scriptPackages(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "scripts/test"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^packages=\(([^)]*)\)`).FindSubmatch(b)
	if m == nil {
		t.Fatal("scripts/test has no packages=(...) line")
	}
	return strings.Fields(string(m[1]))
}

// dpkgOwners asks dpkg once which packages own each of paths.
func dpkgOwners(paths []string) map[string][]string {
	out, _ := exec.Command("dpkg", append([]string{"-S"}, paths...)...).Output()
	owners := map[string][]string{}
	for _, l := range strings.Split(string(out), "\n") {
		names, path, ok := strings.Cut(l, ": ")
		if !ok || strings.HasPrefix(names, "diversion by") {
			continue
		}
		for _, n := range strings.Split(names, ", ") {
			n, _, _ = strings.Cut(n, ":") // an architecture qualifier
			owners[path] = append(owners[path], n)
		}
	}
	return owners
}

// candidates are the names dpkg may know path by: itself, the file a
// symbolic link leads to, and both without the merged /usr prefix (dpkg
// knows /usr/bin/ip as /bin/ip).
func candidates(path string) []string {
	c := []string{path}
	if r, err := filepath.EvalSymlinks(path); err == nil && r != path {
		c = append(c, r)
	}
	for _, p := range slices.Clone(c) {
		if rest, ok := strings.CutPrefix(p, "/usr"); ok {
			c = append(c, rest)
		}
	}
	return c
}

// checkOwner fails t unless pkg owns one of path's candidates.
func checkOwner(t *testing.T, owners map[string][]string, what, path, pkg string) {
	t.Helper()
	var got []string
	for _, c := range candidates(path) {
		if slices.Contains(owners[c], pkg) {
			return
		}
		got = append(got, owners[c]...)
	}
	t.Errorf("%s (%s) is not from %s but from %q", what, path, pkg, got)
}

// Every program and Python module the tests use comes from a package that
// scripts/test installs, and that package really provides it here.
func TestPackagesComplete(t *testing.T) {
	Tool(t, "dpkg", "dpkg (the suite runs on Debian)")
	listed := scriptPackages(t)
	paths := map[string]string{} // what -> path
	for name, pkg := range Programs {
		if !slices.Contains(listed, pkg) {
			t.Errorf("%s comes from %s, which scripts/test does not install", name, pkg)
		}
		path, err := exec.LookPath(name)
		if err != nil {
			t.Errorf("%s is not installed (apt-get install %s)", name, pkg)
			continue
		}
		paths[name] = path
	}
	for mod, pkg := range PythonPackages {
		if !slices.Contains(listed, pkg) {
			t.Errorf("Python module %s comes from %s, which scripts/test does not install", mod, pkg)
		}
		out, err := exec.Command(Python, "-c", "import "+mod+"; print("+mod+".__file__)").Output()
		if err != nil {
			t.Errorf("%s cannot import %s (apt-get install %s)", Python, mod, pkg)
			continue
		}
		paths["Python module "+mod] = strings.TrimSpace(string(out))
	}
	var all []string
	for _, p := range paths {
		all = append(all, candidates(p)...)
	}
	owners := dpkgOwners(all)
	for what, path := range paths {
		pkg, ok := Programs[what]
		if !ok {
			pkg = PythonPackages[strings.TrimPrefix(what, "Python module ")]
		}
		checkOwner(t, owners, what, path, pkg)
	}
}

var (
	execLiteral = regexp.MustCompile(`exec\.Command(?:Context)?\((?:c?ctx, )?"([^"]+)"`)
	lookLiteral = regexp.MustCompile(`\blookPath\((?:t, )?"([^"]+)"`)
	toolLiteral = regexp.MustCompile(`\bTool\(t, (?:"([^"]+)"|(\w+)), "([^"]+)"\)`)
	pyModLit    = regexp.MustCompile(`PythonModules\(t, "([^"]+)", "([^".]+)`)
	pyImport    = regexp.MustCompile(`(?m)^\s*(?:from|import)\s+([A-Za-z_]\w*)`)
)

// The programs the code executes by name, and the modules its Python
// imports, are all in Programs and PythonPackages (so that the list above
// cannot silently fall behind the tests).
func TestPackagesCoverTheTests(t *testing.T) {
	stdlib := map[string]bool{}
	isStdlib := func(mod string) bool {
		if v, ok := stdlib[mod]; ok {
			return v
		}
		out, err := exec.Command(Python, "-c", "import "+mod+", sys; print(getattr("+mod+", '__file__', 'built-in'))").Output()
		v := err == nil && !strings.Contains(string(out), "-packages/")
		stdlib[mod] = v
		return v
	}
	err := filepath.WalkDir(repoRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata" && strings.Contains(p, "/fuzz/")) {
			return filepath.SkipDir
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(repoRoot, p)
		switch filepath.Ext(p) {
		case ".go":
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			src := string(b)
			var names []string
			for _, m := range execLiteral.FindAllStringSubmatch(src, -1) {
				names = append(names, m[1])
			}
			for _, m := range lookLiteral.FindAllStringSubmatch(src, -1) {
				names = append(names, m[1])
			}
			for _, m := range toolLiteral.FindAllStringSubmatch(src, -1) {
				if m[1] == "" {
					continue // a constant path, checked where it is defined
				}
				if want, ok := Programs[m[1]]; ok && want != m[3] && m[1] != "dpkg" {
					t.Errorf("%s: Tool(%q, %q), but Programs says %s", rel, m[1], m[3], want)
				}
			}
			for _, m := range pyModLit.FindAllStringSubmatch(src, -1) {
				if want := PythonPackages[m[2]]; want != m[1] {
					t.Errorf("%s: PythonModules(%q, %q...), but PythonPackages says %q", rel, m[1], m[2], want)
				}
			}
			for _, n := range names {
				base := filepath.Base(n)
				if strings.HasPrefix(n, ".") || base == "go" || base == "dpkg" || base == "update-ca-trust" {
					continue // the repository's own scripts, Go itself, Fedora's tool (never in a test)
				}
				if _, ok := Programs[base]; !ok {
					t.Errorf("%s executes %s, which testenv.Programs does not name (add it and its package, and the package to scripts/test)", rel, n)
				}
			}
		case ".py":
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			for _, m := range pyImport.FindAllStringSubmatch(string(b), -1) {
				if _, ok := PythonPackages[m[1]]; !ok && !isStdlib(m[1]) {
					t.Errorf("%s imports %s, which testenv.PythonPackages does not name", rel, m[1])
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
