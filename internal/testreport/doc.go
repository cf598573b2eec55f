// Package testreport reads the event stream of `go test -json` and says,
// per package, how many tests ran, passed, failed and were skipped. A run
// is good only when nothing failed and nothing was skipped: scripts/test
// uses it so that a test that skips itself (a missing peer, a forgotten
// environment variable) cannot hide in a green run.
//
// It is a test tool: the product never imports it.
package testreport
