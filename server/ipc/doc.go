// Package ipc holds the seams of the network front: the caller identity
// and session key the SMB layer hands to a pipe open (MS-SMB2 3.3.4.5),
// the Pipe and Handler interfaces the RPC runtime implements (with the
// optional MessageTryReader, a non-blocking read), and the
// Authenticator interface the SMB layer drives during SESSION_SETUP.
//
// It owns no behaviour. It must not import the SMB, NTLM or RPC packages;
// they import it.
package ipc
