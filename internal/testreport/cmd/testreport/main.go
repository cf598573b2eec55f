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
