// Package bench measures wkssvcd against a peer SMB/RPC server over
// loopback: call throughput and latency, connection establishment rate,
// resident memory per idle connection, and long-running soak load.
//
// It owns the load generator (a go-msrpc client over ncacn_np, SMB 3.1.1,
// signed), the /proc readers that attribute memory and threads to a server
// process tree, and the Markdown reports written by scripts/bench and
// scripts/soak through bench/cmd/wkload. It only drives servers from the
// outside: it must not import or change the product packages, except in
// its _test.go benchmark, which composes an in-process server from them.
package bench
