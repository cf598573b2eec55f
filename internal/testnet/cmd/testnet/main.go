package main

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/wkssvcd/wkssvcd/internal/testnet"
)

func main() {
	if _, err := testnet.Prefix(); err != nil {
		fmt.Fprintln(os.Stderr, "testnet:", err)
		os.Exit(2)
	}
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: testnet addrs|ports")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "addrs":
		fmt.Println(strings.Join(testnet.Assigned(), " "))
	case "ports":
		ports := testnet.Ports()
		addrs := make([]string, 0, len(ports))
		for a := range ports {
			addrs = append(addrs, a)
		}
		sort.Strings(addrs)
		for _, a := range addrs {
			for _, p := range ports[a] {
				fmt.Println(a, p)
			}
		}
	default:
		fmt.Fprintln(os.Stderr, "usage: testnet addrs|ports")
		os.Exit(2)
	}
}
