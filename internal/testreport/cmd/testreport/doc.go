// Command testreport reads `go test -json` on standard input, prints the
// output of failed and skipped tests and one line per package as they
// finish, then a table of tests run, passed, failed and skipped per
// package and the closing line "tests: N passed, N failed, N skipped".
// It exits 1 when any test failed or was skipped, a package failed outside
// its tests, or no test ran at all. scripts/test pipes the suite through it.
package main
