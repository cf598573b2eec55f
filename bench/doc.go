// Package bench measures wkssvcd against a peer SMB/RPC server over
// loopback: call throughput and latency, connection establishment rate,
// resident memory per idle connection, long-running soak load, and online
// domain join latency against a Samba AD DC (wkssvcd's NetrJoinDomain3
// against `adcli join`, `net ads join` and the bare LDAP operations).
//
// It owns the load generators — the lean one (LeanClient: the session set
// up once through internal/smbraw, then per call one request encoded in
// advance, signed or sealed per message, over WRITE then READ, WRITE and
// READ pipelined in one send, or FSCTL_PIPE_TRANSCEIVE) and go-msrpc's
// client over ncacn_np — the floor server (ServeFloor: a bare TCP server
// answering each frame with a frame of the measured server's length, per
// goroutine or per thread, what any server pays for the same messages),
// the /proc
// readers that attribute CPU time, context switches, memory and threads to
// a server process tree, the goals, and the Markdown reports written by
// scripts/bench and scripts/soak through bench/cmd/wkload. It only drives
// servers from the outside: it must not import or change the product
// packages, except in its _test.go benchmarks, which compose an in-process
// server from them, the lean generator, which signs and seals with the pure
// server/smb2/smbcrypto, and the join benchmark, which uses crypto (to
// encrypt the JOINPR password as a client does) and joinlogic/keytab (the
// floor's keytab). It creates and deletes computer accounts only in the
// domain it is pointed at.
package bench
