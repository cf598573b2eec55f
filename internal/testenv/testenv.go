package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/wkssvcd/wkssvcd/internal/testnet"
)

// Python is the interpreter Debian's python3-impacket and
// python3-cryptography are installed for (the python3 first on PATH may be
// another one).
const Python = "/usr/bin/python3"

// Missing fails t: prerequisite what is absent; fix says how to get it.
// Every check of this package ends here, so the wording is the same
// everywhere.
func Missing(t testing.TB, what, fix string) {
	t.Helper()
	t.Fatalf("missing prerequisite: %s; %s (sudo ./scripts/test installs and prepares everything the suite needs)", what, fix)
}

// Root fails t unless the test runs as root; why says what needs it.
func Root(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "root ("+why+")", "run the tests as root")
	}
}

// Tool returns the path of program name, which Debian package pkg
// installs, or fails t.
func Tool(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, name+" is not installed", "apt-get install "+pkg)
	}
	return p
}

var pyMods sync.Map // module list -> error string ("" when importable)

// PythonModules returns Python after checking that it imports every
// module (e.g. "impacket.smbconnection"), which Debian package pkg
// provides; otherwise it fails t. Results are cached per process.
func PythonModules(t testing.TB, pkg string, modules ...string) string {
	t.Helper()
	if _, err := os.Stat(Python); err != nil {
		Missing(t, Python+" is not installed", "apt-get install python3 "+pkg)
	}
	key := strings.Join(modules, ",")
	v, ok := pyMods.Load(key)
	if !ok {
		out, err := exec.Command(Python, "-c", "import "+key).CombinedOutput()
		msg := ""
		if err != nil {
			msg = fmt.Sprintf("%v: %s", err, strings.TrimSpace(string(out)))
		}
		v, _ = pyMods.LoadOrStore(key, msg)
	}
	if msg := v.(string); msg != "" {
		Missing(t, Python+" cannot import "+key+" ("+msg+")", "apt-get install "+pkg)
	}
	return Python
}

// Impacket returns Python after checking that it imports impacket and the
// given impacket modules (default impacket.smbconnection).
func Impacket(t testing.TB, modules ...string) string {
	t.Helper()
	if len(modules) == 0 {
		modules = []string{"impacket.smbconnection"}
	}
	return PythonModules(t, "python3-impacket", modules...)
}

// Addr fails t unless ip is assigned to an interface of this host.
func Addr(t testing.TB, ip string) {
	t.Helper()
	if !testnet.IsAssigned(ip) {
		Missing(t, "loopback address "+ip+" is not assigned",
			"run: for a in $(go run ./internal/testnet/cmd/testnet addrs); do ip addr add $a/8 dev lo; done")
	}
}

// Net fails t unless every address of the suite's test network
// (internal/testnet, moved by $WKSSVCD_TEST_NET) is assigned.
func Net(t testing.TB) {
	t.Helper()
	if _, err := testnet.Prefix(); err != nil {
		Missing(t, "a valid test network", err.Error())
	}
	for _, a := range testnet.Assigned() {
		Addr(t, a)
	}
}

// Env returns the value of the environment variable name, or fails t
// saying what sets it.
func Env(t testing.TB, name, setBy string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		Missing(t, "$"+name+" is not set", setBy)
	}
	return v
}
