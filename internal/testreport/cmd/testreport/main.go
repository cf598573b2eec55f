// Command testreport reads `go test -json` on standard input, prints the
// output of failed and skipped tests and one line per package as they
// finish, then a table of tests run, passed, failed and skipped per
// package and the closing line "tests: N passed, N failed, N skipped".
// It exits 1 when any test failed or was skipped, a package failed outside
// its tests, or no test ran at all. scripts/test pipes the suite through it.
package main

import (
	"fmt"
	"os"

	"github.com/wkssvcd/wkssvcd/internal/testreport"
)

func main() {
	sum, err := testreport.Read(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(2)
	}
	fmt.Println()
	sum.WriteTable(os.Stdout)
	p, f, s := sum.Totals()
	switch {
	case p+f+s == 0:
		fmt.Println("testreport: FAIL: no test ran")
		os.Exit(1)
	case len(sum.Skipped) > 0 && len(sum.Failed) == 0:
		fmt.Println("testreport: FAIL: skipped tests count as failures (a missing prerequisite must fail, saying what to install)")
		os.Exit(1)
	case !sum.OK():
		fmt.Println("testreport: FAIL")
		os.Exit(1)
	}
	fmt.Println("testreport: PASS")
}
