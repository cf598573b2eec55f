// Package logsafe keeps what remote clients send from taking over the
// logs: Text truncates a client-supplied string for a log line (saying how
// long it was), and Limiter lets at most one line per key and interval
// through, counting the rest.
//
// It owns no I/O and no global state; the network front and the
// authentication mechanisms use it for every value a client chose.
package logsafe
