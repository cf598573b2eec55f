// Package smb2 is an SMB 2.0.2 – 3.1.1 server (MS-SMB2) that exposes only
// the IPC$ share and its named pipes.
//
// It owns the transport (Direct TCP framing, MS-SMB2 2.1), the wire codec
// (wire.go, codec.go: pure decoders and encoders, fuzzed), the
// per-connection state machine (conn.go: framing, MessageId window and
// credits, compounding, signing, encryption, dispatch), and the command
// handlers (negotiate.go, session.go, pipe.go, ioctl.go). One goroutine
// reads each connection (through a small buffer); writes are serialized; a
// READ or FSCTL_PIPE_TRANSCEIVE is answered on that goroutine when the pipe
// message is queued or arrives within syncWait, and one that must wait
// longer runs in a bounded goroutine that ends with the connection and is
// counted in the connection's byte budget while it waits. Every
// resource a client can take is bounded by a Config field (connections in
// all and per address, the time to a first session, credits, sessions,
// unfinished logons and their token size, opens, compound length, pending
// reads, idle and slow-client timeouts, and the bytes held for a
// connection and for all of them, as a server/budget handed to the pipes),
// and throttle.go refuses the session setups of a remote address after
// repeated logon failures or abandoned logons. Every request of a session
// that signs, CANCEL included, is verified before it acts; RequireEncryption
// refuses unencrypted ones (MS-SMB2 3.3.5.2.4, 3.3.5.2.9).
//
// It does not implement authentication (ipc.Authenticator), the pipes
// themselves (ipc.Handler) or the cryptographic primitives (package
// smbcrypto); it serves no disk share and never touches the file system.
package smb2
