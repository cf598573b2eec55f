// Package smbraw is a raw SMB2/3 client: it builds, signs, encrypts, sends
// and parses messages one at a time, so that a caller controls every byte
// a server sees. The SMB front's tests use it to send what real clients
// never do (through internal/smbprobe too), and the load generator of
// package bench uses it to establish a session once and then send
// pre-encoded requests without a client library's per-call machinery.
//
// It owns the client side of Direct TCP framing, NEGOTIATE (dialect,
// preauth integrity, cipher and signing contexts), SESSION_SETUP with
// go-msrpc's SPNEGO/NTLM initiator and the key derivation that follows,
// TREE_CONNECT, CREATE, WRITE, READ, IOCTL and CANCEL bodies, and the
// DCE/RPC bind and request PDUs a pipe client sends. It takes the
// cryptographic primitives from the pure server/smb2/smbcrypto package and
// imports no other server package: it talks to servers only over a socket.
package smbraw
