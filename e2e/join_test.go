package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oiweiwei/go-msrpc/msrpc/wkst/wkssvc/v1"
	"github.com/oiweiwei/go-msrpc/smb2"

	"github.com/wkssvcd/wkssvcd/crypto"
	"github.com/wkssvcd/wkssvcd/internal/testenv"
	"github.com/wkssvcd/wkssvcd/joinlogic"
)

// Win32 codes the join tests expect, from the table the server uses.
const (
	codeSuccess          = uint32(joinlogic.NERR_Success)
	codeAccessDenied     = uint32(joinlogic.ERROR_ACCESS_DENIED)
	codeInvalidPassword  = uint32(joinlogic.ERROR_INVALID_PASSWORD)
	codeInvalidParameter = uint32(joinlogic.ERROR_INVALID_PARAMETER)
	codeSetupNotJoined   = uint32(joinlogic.NERR_SetupNotJoined)
)

// joinInfo asks the daemon for its membership with go-msrpc.
func joinInfo(t *testing.T, d *daemon) (string, wkssvc.NetSetupJoinStatus) {
	t.Helper()
	c, err := dialMSRPC(t, d.host(), adminUser, adminPass, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.cli.GetJoinInformation(c.ctx, &wkssvc.GetJoinInformationRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return resp.NameBuffer, resp.BufferType
}

func wantWorkgroup(t *testing.T, d *daemon, name string) {
	t.Helper()
	got, status := joinInfo(t, d)
	if got != name || status != wkssvc.NetSetupJoinStatusWorkgroupName {
		t.Fatalf("membership %q %v, want workgroup %q", got, status, name)
	}
}

// aesBlob encrypts pw for NetrJoinDomain3 with key. The blob comes from
// crypto/testdata/joinpr_aes.py, an implementation of MS-WKST 2.2.5.19
// written with Python's cryptography package that shares no code with the
// daemon, so a join proves the daemon reads the specification's layout and
// not merely its own. The MAC input order is the MS-WKST one.
func aesBlob(t *testing.T, key []byte, pw string) *wkssvc.EncryptedUserPasswordAES {
	t.Helper()
	return aesBlobOrder(t, key, pw, "wkst")
}

// aesBlobOrder is aesBlob with the MAC input order: "wkst" (MS-WKST
// 2.2.5.19.4) or "aead" (MS-SAMR 3.2.2.4, MS-LSAD 5.1.5).
func aesBlobOrder(t *testing.T, key []byte, pw, order string) *wkssvc.EncryptedUserPasswordAES {
	t.Helper()
	py := testenv.PythonModules(t, "python3-cryptography", "cryptography.hazmat.primitives.ciphers")
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		t.Fatal(err)
	}
	req, _ := json.Marshal(map[string]string{"op": "seal", "key": hex.EncodeToString(key), "salt": hex.EncodeToString(salt),
		"password": pw, "order": order, "pad": "pkcs7"})
	cmd := exec.Command(py, filepath.Join("..", "crypto", "testdata", "joinpr_aes.py"))
	cmd.Stdin = bytes.NewReader(append(req, '\n'))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("joinpr_aes.py: %v\n%s", err, out)
	}
	var r struct{ Auth, Salt, Cipher string }
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("joinpr_aes.py output %q: %v", out, err)
	}
	auth, _ := hex.DecodeString(r.Auth)
	ct, _ := hex.DecodeString(r.Cipher)
	if len(auth) != 64 || len(ct) == 0 || len(ct)%16 != 0 {
		t.Fatalf("joinpr_aes.py blob: %q", out)
	}
	return &wkssvc.EncryptedUserPasswordAES{AuthData: auth, Salt: salt, CipherLength: uint32(len(ct)), Cipher: ct}
}

// returnCode is the method's return value: go-msrpc reports a non-zero one
// as an error that names it.
func returnCode(t *testing.T, ret uint32, err error) uint32 {
	t.Helper()
	if err == nil {
		return ret
	}
	for _, c := range []uint32{codeAccessDenied, codeInvalidPassword, codeInvalidParameter, codeSetupNotJoined} {
		if strings.Contains(err.Error(), fmt.Sprintf("(0x%08x)", c)) || strings.Contains(err.Error(), fmt.Sprintf("code: 0x%08x", c)) {
			return c
		}
	}
	t.Fatalf("call failed: %v", err)
	return 0
}

// NetrJoinDomain3 with go-msrpc at 3.1.1 and 3.0.2: workgroup join,
// re-join, and the password blob keyed with the dialect's session key; at
// NDR and NDR64.
func TestGoMSRPCJoinDomain3Workgroup(t *testing.T) {
	d := startDaemon(t)
	eachSyntax(t, func(t *testing.T, s syntax) { goMSRPCJoinWorkgroup(t, d, s) })
}

func goMSRPCJoinWorkgroup(t *testing.T, d *daemon, s syntax) {
	for _, dialect := range []smb2.Dialect{smb2.SMB311, smb2.SMB302} {
		t.Run(fmt.Sprintf("%#x", uint16(dialect)), func(t *testing.T) {
			c, err := dialMSRPC(t, daemonAddr, adminUser, adminPass, dialect, false, s)
			if err != nil {
				t.Fatal(err)
			}
			name := fmt.Sprintf("LAB%X", uint16(dialect))
			resp, err := c.cli.JoinDomain3(c.ctx, &wkssvc.JoinDomain3Request{
				DomainNameParam: name, AccountName: `WKHOST\admin`, Password: aesBlob(t, c.sessionKey(), "any password"),
			})
			if code := returnCode(t, ret3(resp), err); code != codeSuccess {
				t.Fatalf("workgroup join: %#x", code)
			}
			wantWorkgroup(t, d, name)
			// Re-join another workgroup: allowed, no password needed.
			resp, err = c.cli.JoinDomain3(c.ctx, &wkssvc.JoinDomain3Request{DomainNameParam: name + "B"})
			if code := returnCode(t, ret3(resp), err); code != codeSuccess {
				t.Fatalf("re-join: %#x", code)
			}
			wantWorkgroup(t, d, name+"B")
		})
	}
	t.Run("wrong key", func(t *testing.T) {
		c, err := dialMSRPC(t, daemonAddr, adminUser, adminPass, smb2.SMB311, false, s)
		if err != nil {
			t.Fatal(err)
		}
		wrong := make([]byte, 16)
		resp, err := c.cli.JoinDomain3(c.ctx, &wkssvc.JoinDomain3Request{DomainNameParam: "OTHER", Password: aesBlob(t, wrong, "pw")})
		if code := returnCode(t, ret3(resp), err); code != codeInvalidPassword {
			t.Fatalf("blob under a wrong key: %#x, want ERROR_INVALID_PASSWORD", code)
		}
		wantWorkgroup(t, d, "LAB302B")
	})
	t.Run("non-administrator", func(t *testing.T) {
		c, err := dialMSRPC(t, daemonAddr, plainUser, plainPass, smb2.SMB311, false, s)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.cli.JoinDomain3(c.ctx, &wkssvc.JoinDomain3Request{DomainNameParam: "OTHER"})
		if code := returnCode(t, ret3(resp), err); code != codeAccessDenied {
			t.Fatalf("non-administrator: %#x", code)
		}
		wantWorkgroup(t, d, "LAB302B")
	})
	data, err := os.ReadFile(filepath.Join(d.stateDir, "membership.json"))
	if err != nil || !strings.Contains(string(data), "LAB302B") {
		t.Fatalf("state file: %v %s", err, data)
	}
	fi, _ := os.Stat(filepath.Join(d.stateDir, "membership.json"))
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v", fi.Mode())
	}
}

// The membership survives a restart of the daemon.
func TestMembershipPersists(t *testing.T) {
	d := startDaemon(t)
	c, err := dialMSRPC(t, daemonAddr, adminUser, adminPass, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.cli.JoinDomain3(c.ctx, &wkssvc.JoinDomain3Request{DomainNameParam: "KEPT"})
	if code := returnCode(t, ret3(resp), err); code != codeSuccess {
		t.Fatalf("join: %#x", code)
	}
	d.stop(t)
	d = startDaemon(t, "--state-dir", d.stateDir)
	wantWorkgroup(t, d, "KEPT")
}

// A corrupt membership file stops the daemon with a clear message.
func TestCorruptStateStopsDaemon(t *testing.T) {
	requireE2E(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "membership.json"), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, 20*time.Second, filepath.Join(binDir, "wkssvcd"), "--listen", daemonAddr+":0", "--state-dir", dir, "--admin", "a:b")
	if err == nil || !strings.Contains(out, "membership") {
		t.Fatalf("corrupt state: err=%v\n%s", err, out)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "membership.json")); string(data) != "{not json" {
		t.Error("the corrupt file was rewritten")
	}
}

// The wkst CLI: workgroup join, info, unjoin refusal when not in a domain.
func TestWkstCLI(t *testing.T) {
	startDaemon(t)
	wkst := filepath.Join(binDir, "wkst")
	env := append(os.Environ(), "WKST_PASSWORD="+adminPass)
	runWkst := func(args ...string) (string, error) {
		cmd := exec.Command(wkst, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	for _, method := range []string{"3", "2"} {
		name := "CLI" + method
		out, err := runWkst("join", "--server", daemonAddr, "--user", `WKHOST\`+adminUser, "--domain", name, "--options", "0", "--method", method)
		if err != nil {
			t.Fatalf("wkst join --method %s: %v\n%s", method, err, out)
		}
		out, err = runWkst("info", "--server", daemonAddr, "--user", `WKHOST\`+adminUser)
		if err != nil || !strings.Contains(out, name) {
			t.Fatalf("wkst info: %v\n%s", err, out)
		}
	}
	out, err := runWkst("unjoin", "--server", daemonAddr, "--user", `WKHOST\`+adminUser)
	if err == nil || !strings.Contains(out, "NERR_SetupNotJoined") {
		t.Fatalf("unjoin from a workgroup: %v\n%s", err, out)
	}
	if strings.Contains(out, adminPass) {
		t.Error("wkst printed the password")
	}
}

// impacket 0.10: NetrJoinDomain3/NetrUnjoinDomain3 defined in the test
// script (impacket lacks them), and impacket's own NetrJoinDomain2; at
// NDR and NDR64.
func TestImpacketJoin(t *testing.T) {
	d := startDaemon(t)
	eachSyntax(t, func(t *testing.T, s syntax) { impacketJoin(t, d, s) })
}

func impacketJoin(t *testing.T, d *daemon, s syntax) {
	py := func(dialect, user, pass, method string, kv ...string) map[string]string {
		t.Helper()
		args := append([]string{daemonAddr, "445", dialect, user, pass, method, "syntax=" + s.String()}, kv...)
		out, err := python(t, "impacket_join.py", args...)
		if err != nil {
			t.Fatalf("impacket %s: %v\n%s", method, err, out)
		}
		return parseKV(out)
	}
	for _, dialect := range []string{"2.1", "3.0"} {
		if r := py(dialect, adminUser, adminPass, "join3", "domain=PYWG", "joinpw=secret"); r["code"] != "0x00000000" {
			t.Fatalf("%s join3 workgroup: %v", dialect, r)
		}
		wantWorkgroup(t, d, "PYWG")
		if r := py(dialect, adminUser, adminPass, "join2", "domain=PYWG2", "joinpw=secret"); r["code"] != "0x00000000" {
			t.Fatalf("%s join2 workgroup: %v", dialect, r)
		}
		wantWorkgroup(t, d, "PYWG2")
		if r := py(dialect, adminUser, adminPass, "join3", "domain=BAD", "joinpw=secret", "key=wrong"); r["code"] != "0x00000056" {
			t.Fatalf("%s join3 with a wrong key: %v", dialect, r)
		}
		if r := py(dialect, adminUser, adminPass, "join3", "domain=BAD", "joinpw=secret", "tamper=authdata"); r["code"] != "0x00000056" {
			t.Fatalf("%s join3 with tampered AuthData: %v", dialect, r)
		}
		if r := py(dialect, adminUser, adminPass, "join2", "domain=BAD", "joinpw=secret", "key=wrong"); r["code"] != "0x00000056" {
			t.Fatalf("%s join2 with a wrong key: %v", dialect, r)
		}
		if r := py(dialect, plainUser, plainPass, "join3", "domain=BAD"); r["code"] != "0x00000005" {
			t.Fatalf("%s join3 as non-administrator: %v", dialect, r)
		}
		if r := py(dialect, adminUser, adminPass, "unjoin3"); r["code"] != "0x00000a84" {
			t.Fatalf("%s unjoin3 from a workgroup: %v", dialect, r)
		}
		wantWorkgroup(t, d, "PYWG2")
	}
	// A null session may open the pipe but not change the membership.
	if r := py("2.1", "", "", "join3", "domain=BAD", "anonymous=1"); r["code"] != "0x00000005" {
		t.Fatalf("join3 over a null session: %v", r)
	}
	wantWorkgroup(t, d, "PYWG2")
}

func ret3(resp *wkssvc.JoinDomain3Response) uint32 {
	if resp == nil {
		return 0
	}
	return resp.Return
}

// rc4Blob builds a JOINPR_ENCRYPTED_USER_PASSWORD for pw under key.
func rc4Blob(t *testing.T, key []byte, pw string) *wkssvc.EncryptedUserPassword {
	t.Helper()
	b, err := crypto.EncryptRC4(key, pw, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &wkssvc.EncryptedUserPassword{Buffer: b}
}
