// Package bench measures wkssvcd against a peer SMB/RPC server over
// loopback: call throughput and latency, connection establishment rate,
// resident memory per idle connection, long-running soak load, and online
// domain join latency against a Samba AD DC (wkssvcd's NetrJoinDomain3
// against `adcli join`, `net ads join` and the bare LDAP operations).
//
// It owns the load generator (a go-msrpc client over ncacn_np, SMB 3.1.1,
// signed), the /proc readers that attribute memory and threads to a server
// process tree, and the Markdown reports written by scripts/bench and
// scripts/soak through bench/cmd/wkload. It only drives servers from the
// outside: it must not import or change the product packages, except in
// its _test.go benchmark, which composes an in-process server from them,
// and the join benchmark, which uses crypto (to encrypt the JOINPR password
// as a client does) and joinlogic/keytab (the floor's keytab). It creates
// and deletes computer accounts only in the domain it is pointed at.
package bench
