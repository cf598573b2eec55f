// Command testnet prints the loopback addresses of the test suite, for
// scripts/test:
//
//	testnet addrs   the addresses to assign to lo, one line, space separated
//	testnet ports   "ADDR PORT" lines the suite will listen on
package main
