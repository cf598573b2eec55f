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
	// The closing line "tests: N passed, N failed, N skipped" is the last
	// line printed, whatever the outcome.
	sum.WriteTable(os.Stdout)
	if _, ok := sum.Verdict(); !ok {
		os.Exit(1)
	}
}
