package smb2

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"github.com/wkssvcd/wkssvcd/internal/testenv"
	"os/exec"
	"strconv"
	"testing"
)

type impacketResult struct {
	Dialect    int      `json:"dialect"`
	SessionKey string   `json:"session_key"`
	Replies    []string `json:"replies"`
	OK         bool     `json:"ok"`
	Error      uint32   `json:"error"`
	Exception  string   `json:"exception"`
}

func runImpacket(t *testing.T, ts *testServer, dialect uint16, user, password, pipe, share string) impacketResult {
	t.Helper()
	py := testenv.Impacket(t)
	cmd := exec.Command(py, "testdata/impacket_client.py", strconv.Itoa(ts.addr.Port),
		fmt.Sprintf("%x", dialect), user, password, testDomain, pipe, share)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("impacket client: %v\n%s", err, out)
	}
	var r impacketResult
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("impacket output %q: %v", out, err)
	}
	return r
}

func TestImpacket(t *testing.T) {
	// 0 lets impacket start with an SMB1 multi-protocol negotiate.
	for _, d := range []uint16{0, 0x0202, 0x0210, 0x0300} {
		for _, signingOptional := range []bool{false, true} {
			t.Run(fmt.Sprintf("%04x-optional=%v", d, signingOptional), func(t *testing.T) {
				ts := startServer(t, func(c *Config) { c.SigningOptional = signingOptional })
				// "slow" makes every READ go async (interim STATUS_PENDING).
				r := runImpacket(t, ts, d, testUser, testPassword, "slow", "IPC$")
				if !r.OK {
					t.Fatalf("impacket failed: %+v", r)
				}
				want := d
				if d == 0 {
					want = 0x0300 // the highest impacket 0.10 speaks
				}
				if r.Dialect != int(want) {
					t.Fatalf("dialect %x", r.Dialect)
				}
				for i, got := range r.Replies {
					if want := fmt.Sprintf("echo:hello %d", i); got != want {
						t.Fatalf("reply %q, want %q", got, want)
					}
				}
				info := ts.pipes.lastOpen()
				if hex.EncodeToString(info.SessionKey) != r.SessionKey || len(info.SessionKey) != 16 {
					t.Fatalf("server key %x, impacket key %s", info.SessionKey, r.SessionKey)
				}
				if want == 0x0300 && (ts.tap.clientTransforms.Load() == 0 || ts.tap.serverTransforms.Load() == 0) {
					t.Fatalf("3.0 was not encrypted")
				}
			})
		}
	}
}

func TestImpacketErrors(t *testing.T) {
	ts := startServer(t, nil)
	if r := runImpacket(t, ts, 0x0210, testUser, "wrong", "echo", "IPC$"); r.Error != statusLogonFailure {
		t.Errorf("wrong password: %+v", r)
	}
	if r := runImpacket(t, ts, 0x0300, testUser, testPassword, "echo", "C$"); r.Error != statusBadNetworkName {
		t.Errorf("other share: %+v", r)
	}
	if r := runImpacket(t, ts, 0x0210, testUser, testPassword, "nosuch", "IPC$"); r.Error != statusObjectNameNotFound {
		t.Errorf("unknown pipe: %+v", r)
	}
}
