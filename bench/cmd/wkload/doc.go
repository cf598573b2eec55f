// Command wkload is the load generator of scripts/bench and scripts/soak:
// a go-msrpc client (ncacn_np, SMB 3.1.1, signed, NTLM) that measures
// wkssvcd against a peer server on loopback and writes the reports.
//
//	wkload bench      [flags]   throughput, latency, connection rate, memory; both servers
//	wkload soak       [flags]   many connections for a while; growth checks on the daemon
//	wkload goroutines [flags]   goroutine count of an idle daemon (stops it)
//	wkload join       [flags]   online domain join latency: wkssvcd, adcli, net ads join, LDAP floor
//
// Every run is bounded in time and stops by itself.
//
// It owns only the command line and the report files; the measuring code
// is package bench, and nothing of the product imports either.
package main
