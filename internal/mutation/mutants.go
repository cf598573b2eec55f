package mutation

// Edit replaces Old, which must occur exactly once in File, with New.
type Edit struct {
	File string
	Old  string
	New  string
}

// Run is one `go test` run: the packages, a -run pattern (empty: all
// tests) and whether it needs the end-to-end environment.
type Run struct {
	Pkg string
	Run string
	E2E bool
}

// Mutant is one planted bug.
type Mutant struct {
	ID    string
	Area  string // what kind of check it breaks
	What  string // the bug, in words
	Edits []Edit
	// Tests are run in order until one fails; all of them are part of
	// scripts/test.
	Tests []Run
	// Named: one of the fourteen mutants the review that started this
	// campaign planted or described (unverified signatures, unsigned
	// commands, plaintext answers, length bounds, NTLMv1, MAC, access and
	// rollback checks); scripts/test must keep killing them.
	Named bool
	// Reason, when not empty, explains why the mutant is allowed to
	// survive (an equivalent mutant, or a behaviour no test can observe).
	Reason string
}

const (
	conn     = "server/smb2/conn.go"
	assoc    = "server/dcerpc/assoc.go"
	sign     = "server/smb2/smbcrypto/sign.go"
	trans    = "server/smb2/smbcrypto/transform.go"
	acceptor = "server/ntlm/acceptor.go"
	aesGo    = "crypto/aes.go"
	rc4Go    = "crypto/rc4.go"
	wkssvcGo = "wkssvc/wkssvc.go"
	joiner   = "joinlogic/joiner.go"
	phases   = "joinlogic/phases.go"
)

var (
	smb2Unit   = Run{Pkg: "./server/smb2/"}
	signTable  = Run{Pkg: "./server/smb2/", Run: "TestSigningEnforcementTable|TestSigningRules"}
	e2eWire    = Run{Pkg: "./e2e/", Run: "TestGoMSRPCGetInfoEveryDialect|TestImpacketGetInfo|TestRpcclientWkstaGetInfo", E2E: true}
	e2eLevels  = Run{Pkg: "./e2e/", Run: "TestGoMSRPCGetInfoLevels|TestImpacketNonAdminLevel502Denied|TestRpcclientWkstaGetInfo", E2E: true}
	ntlmUnit   = Run{Pkg: "./server/ntlm/"}
	cryptoUnit = Run{Pkg: "./crypto/"}
	dcerpcUnit = Run{Pkg: "./server/dcerpc/"}
	smbcUnit   = Run{Pkg: "./server/smb2/smbcrypto/"}
	wkssvcUnit = Run{Pkg: "./wkssvc/"}
	joinUnit   = Run{Pkg: "./joinlogic/"}
)

const verifyLine = `if !s.signer.Verify(req.msg) {`
const requiredBlock = "\t\t\tif s.signingRequired {\n\t\t\t\treturn errResult(statusAccessDenied), nil"

// All is the campaign, in the order docs/mutation.md lists it.
var All = []Mutant{
	// Signing (MS-SMB2 3.3.5.2.4).
	{ID: "smb2-write-signature", Area: "signing", Named: true,
		What:  "the signature of a WRITE is not verified",
		Edits: []Edit{{conn, verifyLine, `if h.Command != cmdWrite && !s.signer.Verify(req.msg) {`}},
		Tests: []Run{signTable, smb2Unit}},
	{ID: "smb2-ioctl-unsigned", Area: "signing", Named: true,
		What:  "an unsigned IOCTL is accepted while signing is required",
		Edits: []Edit{{conn, requiredBlock, "\t\t\tif s.signingRequired && h.Command != cmdIoctl {\n\t\t\t\treturn errResult(statusAccessDenied), nil"}},
		Tests: []Run{signTable, smb2Unit}},
	{ID: "smb2-flush-signature", Area: "signing", Named: true,
		What:  "the signature of a FLUSH is not verified",
		Edits: []Edit{{conn, verifyLine, `if h.Command != cmdFlush && !s.signer.Verify(req.msg) {`}},
		Tests: []Run{signTable, smb2Unit}},
	{ID: "smb2-echo-unsigned", Area: "signing", Named: true,
		What:  "an unsigned ECHO is accepted while signing is required",
		Edits: []Edit{{conn, requiredBlock, "\t\t\tif s.signingRequired && h.Command != cmdEcho {\n\t\t\t\treturn errResult(statusAccessDenied), nil"}},
		Tests: []Run{signTable, smb2Unit}},
	{ID: "smb2-read-signature", Area: "signing",
		What:  "the signature of a READ is not verified",
		Edits: []Edit{{conn, verifyLine, `if h.Command != cmdRead && !s.signer.Verify(req.msg) {`}},
		Tests: []Run{signTable, smb2Unit}},
	{ID: "smb2-logoff-unsigned", Area: "signing",
		What:  "an unsigned LOGOFF is accepted while signing is required",
		Edits: []Edit{{conn, requiredBlock, "\t\t\tif s.signingRequired && h.Command != cmdLogoff {\n\t\t\t\treturn errResult(statusAccessDenied), nil"}},
		Tests: []Run{signTable, smb2Unit}},
	{ID: "smb2-311-unsigned-tree-connect", Area: "signing", Named: true,
		What:  "at 3.1.1 an unsigned TREE_CONNECT of an authenticated session does not disconnect (MS-SMB2 3.3.5.7)",
		Edits: []Edit{{conn, `if h.Command == cmdTreeConnect && c.dialect == smbcrypto.Dialect311 && !s.identity.Anonymous {`, `if false && h.Command == cmdTreeConnect {`}},
		Tests: []Run{signTable, smb2Unit}},
	{ID: "smbcrypto-verify-always", Area: "signing",
		What:  "Verify (and a session's Signer) accepts any signature",
		Edits: []Edit{{sign, `return subtle.ConstantTimeCompare(mac[:], msg[sigOffset:sigOffset+sigSize]) == 1`, `return len(msg) > 0 || subtle.ConstantTimeCompare(mac[:], msg[sigOffset:sigOffset+sigSize]) == 1`}},
		Tests: []Run{smbcUnit, signTable}},

	// Encryption (MS-SMB2 3.3.4.1.4, 3.3.5.2.1.1, 3.3.5.2.9).
	{ID: "smb2-plaintext-replies", Area: "encryption", Named: true,
		What: "responses to encrypted requests go out signed but in plaintext",
		Edits: []Edit{
			{conn, `if enc == nil && res.async == nil {`, `if res.async == nil {`},
			{conn, `return c.sendChain(resps, enc)`, `return c.sendChain(resps, nil)`},
		},
		Tests: []Run{e2eWire, smb2Unit}},
	{ID: "smb2-nonce-reused", Area: "encryption",
		What:  "every encrypted response of a session uses the same (zero) nonce (MS-SMB2 2.2.41: a nonce is never reused with a key)",
		Edits: []Edit{{conn, `if err := enc.nonces.NextInto(nonce[:ns]); err != nil {`, `if err := enc.nonces.NextInto(make([]byte, ns)); err != nil {`}},
		Tests: []Run{e2eWire}},
	{ID: "smb2-encrypt-data-plaintext", Area: "encryption",
		What:  "a session that must encrypt accepts plaintext requests",
		Edits: []Edit{{conn, `s.encryptData && !req.encrypted && h.Command != cmdSessionSetup {`, `false && s.encryptData && !req.encrypted && h.Command != cmdSessionSetup {`}},
		Tests: []Run{smb2Unit}},
	{ID: "smbcrypto-transform-length", Area: "length bound", Named: true,
		What:  "a transform message of exactly 52 bytes (no inner message) passes the header check (MS-SMB2 3.3.5.2.1.1)",
		Edits: []Edit{{trans, `if len(b) <= TransformHeaderSize {`, `if len(b) < TransformHeaderSize {`}},
		Tests: []Run{smbcUnit}},

	// Authentication (MS-NLMP).
	{ID: "ntlm-v1-accepted", Area: "authentication", Named: true,
		What:  "an LM/NTLMv1 response logs on without verification",
		Edits: []Edit{{acceptor, "\t\treturn fail(\"LM/NTLMv1 response refused\", errNTLMv1)\n\t}\n\tblob := nt[16:]", "\t\treturn nil\n\t}\n\tblob := nt[16:]"}},
		Tests: []Run{ntlmUnit}},
	{ID: "ntlm-any-password", Area: "authentication", Named: true,
		What:  "the NTLMv2 proof is not compared: any password logs on",
		Edits: []Edit{{acceptor, `if subtle.ConstantTimeCompare(ntProofStr(k, c.challenge.ServerChallenge[:], blob), nt[:16]) == 1 {`, `if true {`}},
		Tests: []Run{ntlmUnit}},
	{ID: "ntlm-mic-ignored", Area: "authentication",
		What:  "a wrong MIC in AUTHENTICATE is accepted (MS-NLMP 3.2.5.1.2)",
		Edits: []Edit{{acceptor, `if subtle.ConstantTimeCompare(want, am.MIC) != 1 {`, `if subtle.ConstantTimeCompare(want, am.MIC) != 1 && false {`}},
		Tests: []Run{ntlmUnit}},

	// JOINPR password blobs (MS-WKST 2.2.5.18, 2.2.5.19).
	{ID: "crypto-aes-mac-ignored", Area: "MAC check", Named: true,
		What:  "AuthData of the AES blob is not checked",
		Edits: []Edit{{aesGo, `ok := subtle.ConstantTimeCompare(m1, b.AuthData[:]) | subtle.ConstantTimeCompare(m2, b.AuthData[:])`, `ok := subtle.ConstantTimeCompare(m1, b.AuthData[:]) | subtle.ConstantTimeCompare(m2, b.AuthData[:]) | 1`}},
		Tests: []Run{cryptoUnit}},
	{ID: "crypto-aes-mac-wkst-order-dropped", Area: "MAC check",
		What:  "only the AEAD MAC order is accepted, not the MS-WKST one",
		Edits: []Edit{{aesGo, `ok := subtle.ConstantTimeCompare(m1, b.AuthData[:]) | subtle.ConstantTimeCompare(m2, b.AuthData[:])`, `ok := subtle.ConstantTimeCompare(m2, b.AuthData[:]) | 0*subtle.ConstantTimeCompare(m1, b.AuthData[:])`}},
		Tests: []Run{cryptoUnit}},
	{ID: "crypto-rc4-length-513", Area: "length bound",
		What:  "an RC4 blob whose length field is 513 is not refused (MS-WKST 3.2.4.13.1: less than 513)",
		Edits: []Edit{{rc4Go, `if n > MaxPasswordBytes {`, `if n > MaxPasswordBytes+1 {`}},
		Tests: []Run{cryptoUnit}},
	{ID: "crypto-aes-length-unbounded", Area: "length bound",
		What:  "the AES plaintext's length field is not bounded by 512",
		Edits: []Edit{{aesGo, `if l > MaxPasswordBytes || int(l) > n-4 {`, `if int(l) > n-4 {`}},
		Tests: []Run{cryptoUnit},
		Reason: "equivalent: cbCipher is a multiple of 16 no larger than 524, so at most 512, and a length field " +
			"that fits the plaintext is at most 508; the bound of 512 stays as the spec's rule but never decides alone"},

	// Access checks (MS-WKST 3.2.1.1).
	{ID: "wkssvc-change-config-any-user", Area: "access check", Named: true,
		What:  "any authenticated user gets the administrators' levels (WKSTA_NETAPI_CHANGE_CONFIG)",
		Edits: []Edit{{wkssvcGo, "func canChange(id ipc.Identity) bool {\n\treturn !id.Anonymous && id.Admin", "func canChange(id ipc.Identity) bool {\n\treturn !id.Anonymous"}},
		Tests: []Run{wkssvcUnit, e2eLevels}},
	{ID: "wkssvc-query-anonymous", Area: "access check",
		What:  "anonymous callers may query (WKSTA_NETAPI_QUERY)",
		Edits: []Edit{{wkssvcGo, `return !id.Anonymous && (id.User != "" || id.Admin)`, `return true`}},
		Tests: []Run{wkssvcUnit}},
	{ID: "joinlogic-join-any-user", Area: "access check", Named: true,
		What:  "a non-administrator may join or unjoin",
		Edits: []Edit{{joiner, "if c.Anonymous || !c.Admin {\n\t\treturn ERROR_ACCESS_DENIED", "if c.Anonymous {\n\t\treturn ERROR_ACCESS_DENIED"}},
		Tests: []Run{joinUnit, wkssvcUnit}},

	// Rollback (MS-WKST 3.2.4.13.1: revert any state changes).
	{ID: "joinlogic-no-rollback", Area: "rollback", Named: true,
		What:  "a failed join reverts nothing",
		Edits: []Edit{{joiner, `for i := len(u) - 1; i >= 0; i-- {`, `for i := len(u) - 1; i >= len(u); i-- {`}},
		Tests: []Run{joinUnit}},
	{ID: "joinlogic-created-account-kept", Area: "rollback",
		What:  "a failed join leaves the computer account it created",
		Edits: []Edit{{phases, "undo.push(\"delete created computer account\", func(ctx context.Context) error {\n\t\t\treturn rb.do(ctx, func(s Session) error { return s.DeleteComputer(ctx, dn) })", "undo.push(\"delete created computer account\", func(ctx context.Context) error {\n\t\t\t_ = dn\n\t\t\treturn nil"}},
		Tests: []Run{joinUnit}},

	// Limits at their boundary (docs/limits.md).
	{ID: "dcerpc-reassembly-off-by-one", Area: "limit", Named: true,
		What:  "a fragmented request one byte over --max-rpc-request is reassembled",
		Edits: []Edit{{assoc, `if len(a.cur.stub)+len(q.Stub) > a.cfg.MaxReassembly {`, `if len(a.cur.stub)+len(q.Stub) > a.cfg.MaxReassembly+1 {`}},
		Tests: []Run{dcerpcUnit}},
	{ID: "dcerpc-reassembly-at-cap-refused", Area: "limit",
		What:  "a single-fragment request of exactly --max-rpc-request bytes is refused",
		Edits: []Edit{{assoc, `if len(q.Stub) > a.cfg.MaxReassembly || (`, `if len(q.Stub) >= a.cfg.MaxReassembly || (`}},
		Tests: []Run{dcerpcUnit}},
	{ID: "smb2-max-compound-off-by-one", Area: "limit",
		What:  "a compound of --max-compound + 1 requests is accepted",
		Edits: []Edit{{"server/smb2/wire.go", `if len(out) >= max {`, `if len(out) > max {`}},
		Tests: []Run{smb2Unit}},
	{ID: "smb2-max-sessions-off-by-one", Area: "limit",
		What:  "one session more than --max-sessions is set up",
		Edits: []Edit{{"server/smb2/session.go", `if len(c.sessions) >= c.cfg.MaxSessions ||`, `if len(c.sessions) > c.cfg.MaxSessions ||`}},
		Tests: []Run{smb2Unit}},
	{ID: "smb2-max-opens-off-by-one", Area: "limit",
		What:  "one open more than --max-opens is created",
		Edits: []Edit{{"server/smb2/pipe.go", `if n >= c.cfg.MaxOpens {`, `if n > c.cfg.MaxOpens {`}},
		Tests: []Run{smb2Unit}},
	{ID: "smb2-credit-window-off-by-one", Area: "limit",
		What:  "a MessageId one past the granted window is accepted (MS-SMB2 3.3.5.2.3)",
		Edits: []Edit{{"server/smb2/state.go", `if end < mid || mid < w.low || end > w.high {`, `if end < mid || mid < w.low || end > w.high+1 {`}},
		Tests: []Run{smb2Unit}},
	{ID: "smb2-tree-connects-off-by-one", Area: "limit",
		What:  "a 65th tree connect of one session is accepted",
		Edits: []Edit{{"server/smb2/session.go", `if len(s.trees) >= maxTreesPerSession || !c.buffered.TryReserve(treeCharge) {`, `if len(s.trees) > maxTreesPerSession || !c.buffered.TryReserve(treeCharge) {`}},
		Tests: []Run{smb2Unit}},
	{ID: "smb2-write-size-off-by-one", Area: "limit",
		What:  "a WRITE of MaxWriteSize + 1 bytes is accepted",
		Edits: []Edit{{"server/smb2/pipe.go", `uint32(len(r.Data)) > c.cfg.MaxWriteSize`, `uint32(len(r.Data)) > c.cfg.MaxWriteSize+1`}},
		Tests: []Run{smb2Unit}},
	{ID: "smb2-frame-size-off-by-one", Area: "limit",
		What:  "a transport frame one byte over the largest allowed is read",
		Edits: []Edit{{conn, `if n < 4 || n > c.maxFrame() {`, `if n < 4 || n > c.maxFrame()+1 {`}},
		Tests: []Run{smb2Unit}},
	{ID: "dcerpc-contexts-off-by-one", Area: "limit",
		What:  "a 4001st presentation context is accepted",
		Edits: []Edit{{assoc, `if n > maxContextsPerInterface*len(a.ifaces) {`, `if n > maxContextsPerInterface*len(a.ifaces)+1 {`}},
		Tests: []Run{dcerpcUnit}},
	{ID: "dcerpc-queue-off-by-one", Area: "limit",
		What:  "a WRITE is taken with --max-rpc-queue responses already queued",
		Edits: []Edit{{assoc, `if len(a.outq) >= a.cfg.MaxQueued || len(a.items)+max(n, 1) > a.cfg.MaxQueued || a.budget.Over() {`, `if len(a.outq) > a.cfg.MaxQueued || len(a.items)+max(n, 1) > a.cfg.MaxQueued+1 || a.budget.Over() {`}},
		Tests: []Run{dcerpcUnit}},
	{ID: "ntlm-clock-skew-widened", Area: "limit",
		What:  "an NTLMv2 timestamp just past the 36-hour skew is accepted",
		Edits: []Edit{{acceptor, `if d > uint64(skew/100) {`, `if d > uint64(skew/100)+10000000 {`}},
		Tests: []Run{ntlmUnit}},
	{ID: "smb2-auth-throttle-off-by-one", Area: "limit",
		What:  "an address is blocked only after --auth-fail-limit + 1 failures",
		Edits: []Edit{{"server/smb2/throttle.go", `newlyBlocked := f.count >= t.limit && f.blockedUntil.IsZero()`, `newlyBlocked := f.count > t.limit && f.blockedUntil.IsZero()`}},
		Tests: []Run{smb2Unit}},
}
