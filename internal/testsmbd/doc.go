// Package testsmbd runs a standalone Samba smbd, which serves the wkssvc
// pipe, as a peer for tests: on testnet.Peer(), in private mount and PID
// namespaces with empty directories over Samba's run, state and cache
// directories, so that it never meets the test domain controller's
// winbindd or the host's own Samba, and nothing of it outlives the test.
//
// It is a test tool: the product never imports it.
package testsmbd
