package smb2

import (
	"fmt"
	"testing"

	"github.com/wkssvcd/wkssvcd/server/smb2/smbcrypto"
)

// signingAlgs are the signing algorithms a session can use, with a dialect
// that selects each (MS-SMB2 3.3.5.5.3: HMAC-SHA256 below 3.0, AES-CMAC at
// 3.0 and 3.0.2 and by default at 3.1.1, AES-GMAC at 3.1.1 when both
// sides offer it).
var signingAlgs = []struct {
	name    string
	dialect uint16
	gmac    bool
	alg     uint16
}{
	{"HMAC-SHA256", smbcrypto.Dialect210, false, smbcrypto.SigningHMACSHA256},
	{"AES-CMAC/3.0.2", smbcrypto.Dialect302, false, smbcrypto.SigningAESCMAC},
	{"AES-CMAC/3.1.1", smbcrypto.Dialect311, false, smbcrypto.SigningAESCMAC},
	{"AES-GMAC", smbcrypto.Dialect311, true, smbcrypto.SigningAESGMAC},
}

// signedCommand is a request of one command on an open "echo" pipe, valid
// in every respect but its signature.
type signedCommand struct {
	name string
	cmd  uint16
	body func(id fileID) []byte
	// prep runs (correctly signed) before the request.
	prep func(r *rawClient, id fileID)
	// noControl: no correctly signed control case (a re-authentication
	// needs a whole security exchange; TestSigningRules covers it).
	noControl bool
}

func signedCommands() []signedCommand {
	e := func(fileID) []byte { return []byte{4, 0, 0, 0} }
	queryInfo := func(id fileID) []byte {
		q := make([]byte, 40)
		le.PutUint16(q, 41)
		q[2], q[3] = infoFile, fileStandardInformation
		le.PutUint32(q[4:], 100)
		putFileID(q[24:], id)
		return q
	}
	setInfo := func(id fileID) []byte {
		s := make([]byte, 33)
		le.PutUint16(s, 33)
		putFileID(s[16:], id)
		return s
	}
	fixed := func(size int) func(fileID) []byte {
		return func(id fileID) []byte {
			b := make([]byte, size)
			le.PutUint16(b, uint16(size))
			return b
		}
	}
	queueMessage := func(r *rawClient, id fileID) {
		r.t.Helper()
		if h, _ := r.call(cmdWrite, writeBody(id, []byte("queued"))); h.Status != statusSuccess {
			r.t.Fatalf("write: %08x", h.Status)
		}
	}
	return []signedCommand{
		{name: "SESSION_SETUP", cmd: cmdSessionSetup, body: func(fileID) []byte { return sessionSetupBody([]byte("NTLMSSP\x00")) }, noControl: true},
		{name: "LOGOFF", cmd: cmdLogoff, body: e},
		{name: "TREE_CONNECT", cmd: cmdTreeConnect, body: func(fileID) []byte { return treeConnectBody(`\\testsrv\IPC$`) }},
		{name: "TREE_DISCONNECT", cmd: cmdTreeDisconnect, body: e},
		{name: "CREATE", cmd: cmdCreate, body: func(fileID) []byte { return createBody("echo") }},
		{name: "CLOSE", cmd: cmdClose, body: fileIDBody},
		{name: "FLUSH", cmd: cmdFlush, body: fileIDBody},
		{name: "READ", cmd: cmdRead, body: func(id fileID) []byte { return readBody(id, 100) }, prep: queueMessage},
		{name: "WRITE", cmd: cmdWrite, body: func(id fileID) []byte { return writeBody(id, []byte("forged")) }},
		{name: "LOCK", cmd: cmdLock, body: fixed(48)},
		{name: "IOCTL", cmd: cmdIoctl, body: func(id fileID) []byte { return ioctlBody(fsctlPipeTransceive, id, []byte("forged"), 1024) }},
		{name: "ECHO", cmd: cmdEcho, body: e},
		{name: "QUERY_DIRECTORY", cmd: cmdQueryDirectory, body: fixed(33)},
		{name: "CHANGE_NOTIFY", cmd: cmdChangeNotify, body: fixed(32)},
		{name: "QUERY_INFO", cmd: cmdQueryInfo, body: queryInfo},
		{name: "SET_INFO", cmd: cmdSetInfo, body: setInfo},
		{name: "OPLOCK_BREAK", cmd: cmdOplockBreak, body: fixed(24)},
	}
	// NEGOTIATE (a second one disconnects whatever its signature) and
	// CANCEL (never answered, MS-SMB2 3.3.5.16) have no response to check.
}

// forgeRequest builds the next request of r signed as variant says:
// "valid", "unsigned", "bad" (a correct signature with one bit flipped) or
// "otherkey" (signed with the key of another session).
func (r *rawClient) forgeRequest(cmd uint16, body []byte, variant string, otherKey []byte) []byte {
	h := header{Command: cmd, CreditCharge: 1, Credit: 64, MessageID: r.MsgID, SessionID: r.SessionID, TreeID: r.TreeID}
	r.MsgID++
	m := make([]byte, headerSize+len(body))
	if variant != "unsigned" {
		h.Flags |= flagSigned
	}
	h.put(m)
	copy(m[headerSize:], body)
	switch variant {
	case "valid":
		smbcrypto.Sign(r.SignAlg, r.SignKey, m)
	case "bad":
		smbcrypto.Sign(r.SignAlg, r.SignKey, m)
		m[48+7] ^= 0x10
	case "otherkey":
		smbcrypto.Sign(r.SignAlg, otherKey, m)
	}
	return m
}

func setupSigned(t *testing.T, ts *testServer, dialect uint16, gmac bool, wantAlg uint16) (*rawClient, fileID) {
	t.Helper()
	r := dialRaw(t, ts)
	r.OfferGMAC = gmac
	r.negotiate(dialect)
	if st := r.login(testUser, testPassword); st != statusSuccess {
		t.Fatalf("login: %08x", st)
	}
	if r.SignAlg != wantAlg {
		t.Fatalf("signing algorithm %d, want %d", r.SignAlg, wantAlg)
	}
	if st := r.treeConnect("IPC$"); st != statusSuccess {
		t.Fatalf("tree connect: %08x", st)
	}
	st, id := r.create("echo")
	if st != statusSuccess {
		t.Fatalf("create: %08x", st)
	}
	return r, id
}

// TestSigningEnforcementTable sends every command, on a session whose
// signing is required, with each signing algorithm, unsigned, with a bad
// signature and signed with another session's key (MS-SMB2 3.3.5.2.4; a
// re-authenticating SESSION_SETUP of a session that requires signing too). Each
// is refused with STATUS_ACCESS_DENIED (an unsigned TREE_CONNECT at 3.1.1
// disconnects, 3.3.5.7) and changes nothing: the session, tree and open
// still work, and the pipe holds exactly what it held. The same request
// correctly signed is accepted, so the refusal is the signature's.
func TestSigningEnforcementTable(t *testing.T) {
	ts := startServer(t, nil)
	for _, alg := range signingAlgs {
		t.Run(alg.name, func(t *testing.T) {
			other, _ := setupSigned(t, ts, alg.dialect, alg.gmac, alg.alg)
			for _, sc := range signedCommands() {
				for _, variant := range []string{"valid", "unsigned", "bad", "otherkey"} {
					if variant == "valid" && sc.noControl {
						continue
					}
					t.Run(fmt.Sprintf("%s/%s", sc.name, variant), func(t *testing.T) {
						r, id := setupSigned(t, ts, alg.dialect, alg.gmac, alg.alg)
						defer r.Conn.Close()
						if sc.prep != nil {
							sc.prep(r, id)
						}
						r.writeFrame(r.forgeRequest(sc.cmd, sc.body(id), variant, other.SignKey))
						if variant == "unsigned" && sc.cmd == cmdTreeConnect && alg.dialect == smbcrypto.Dialect311 {
							r.expectClosed()
							return
						}
						h, resp := r.recv()
						if variant == "valid" {
							if h.Status == statusAccessDenied {
								t.Fatalf("correctly signed %s refused", sc.name)
							}
							if h.Flags&flagSigned == 0 || !smbcrypto.Verify(r.SignAlg, r.SignKey, resp) {
								t.Fatalf("response to a signed %s not signed with the session's key", sc.name)
							}
							return
						}
						if h.Status != statusAccessDenied {
							t.Fatalf("%s %s: status %08x, want STATUS_ACCESS_DENIED", variant, sc.name, h.Status)
						}
						checkUntouched(t, r, id, sc.prep != nil)
					})
				}
			}
		})
	}
}

// checkUntouched checks that the session, tree connect and open of r still
// work and that the pipe holds only what the test queued: a forged WRITE
// or IOCTL did not reach it, a forged READ did not take the queued message.
func checkUntouched(t *testing.T, r *rawClient, id fileID, queued bool) {
	t.Helper()
	if h, _ := r.call(cmdFlush, fileIDBody(id)); h.Status != statusSuccess {
		t.Fatalf("after the refused request, FLUSH of the open: %08x", h.Status)
	}
	if h, _ := r.call(cmdWrite, writeBody(id, []byte("after"))); h.Status != statusSuccess {
		t.Fatalf("after the refused request, WRITE: %08x", h.Status)
	}
	want := "echo:after"
	if queued {
		want = "echo:queued"
	}
	h, resp := r.call(cmdRead, readBody(id, 100))
	if h.Status != statusSuccess || string(readData(resp)) != want {
		t.Fatalf("pipe after the refused request: %08x %q, want %q", h.Status, readData(resp), want)
	}
}
