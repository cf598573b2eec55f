// Command wkload is the load generator of scripts/bench and scripts/soak:
// it measures wkssvcd against a peer server on loopback and writes the
// reports. It drives the servers with two clients: a lean one (raw SMB
// 3.1.1 messages encoded once, package bench's LeanClient, a few
// microseconds of CPU per call) and go-msrpc's (ncacn_np, NTLM), a
// realistic client that costs about as much per call as the servers.
//
//	wkload bench      [flags]   throughput, latency, cost per call, connection rate, memory; both servers
//	wkload calls      [flags]   one server's cost per call, for profiling it meanwhile
//	wkload soak       [flags]   many connections for a while; growth checks on the daemon
//	wkload goroutines [flags]   goroutine count of an idle daemon (stops it)
//	wkload join       [flags]   online domain join latency: wkssvcd, adcli, net ads join, LDAP floor
//	wkload floor-server [flags] the floor: a bare TCP server answering each frame with a frame of a given length
//
// Passwords are never flags: each server's comes from a file
// (--password-file, --wkssvcd-password-file, --peer-password-file) or the
// environment ($WKLOAD_PASSWORD, $WKLOAD_WKSSVCD_PASSWORD,
// $WKLOAD_PEER_PASSWORD). Every run is bounded in time and stops by
// itself.
//
// It owns only the command line and the report files; the measuring code
// is package bench, and nothing of the product imports either.
package main
