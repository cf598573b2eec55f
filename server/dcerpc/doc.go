// Package dcerpc is the connection-oriented DCE/RPC runtime (C706 chapter
// 12 with the MS-RPCE extensions) that serves RPC interfaces over named
// pipes and over ncacn_ip_tcp-style byte streams.
//
// It owns the PDU codec, presentation-context negotiation (bind and
// alter_context, with the NDR and NDR64 transfer syntaxes: NDR64 is
// preferred, as 64-bit Windows servers do, MS-RPCE 3.3.1.5.6), the coding
// of every call's stub in its context's syntax, request reassembly,
// response fragmentation, faults and the per-pipe dispatch goroutine
// (started only while calls wait), the accounting of what a pipe holds for
// its client against the connection's ipc.Budget, and the bounds on
// decoding (NDR counts against the bytes left, Config.MaxDecodes). It
// implements ipc.Handler, ipc.Pipe and
// ipc.MessageTryReader and hands decoded calls to go-msrpc generated server handles; it knows
// nothing of any particular interface and must not touch the SMB layer,
// the authentication mechanisms or interface semantics.
//
// RPC-level authentication (MS-RPCE 3.3.1.5.2) runs through the
// ipc.RPCAuthenticator seam: the runtime carries the tokens of bind,
// alter_context and rpc_auth_3 PDUs to the security context the seam
// gives for the sec_trailer's auth_type, runs the association's calls as
// its identity, and signs, verifies, seals and unseals request and
// response fragments with its ipc.PDUProtection at the negotiated level.
package dcerpc
