// Package budget counts the bytes the server holds on behalf of remote
// clients (partial RPC input, reassembled requests, queued results, read
// remainders) against nested limits: one budget per connection inside one
// for the whole server, so that no client can hold more than its share
// and all of them together no more than the server's.
//
// It owns only the arithmetic. It must not import the SMB, RPC or
// authentication packages; they hand a *Budget around as an ipc.Budget.
package budget
