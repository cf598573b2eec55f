// Package e2e holds the end-to-end tests: they build the real binaries,
// run the daemon on a loopback address at port 445 and drive it with
// clients nobody here wrote — go-msrpc, impacket 0.10 (Debian's, through
// /usr/bin/python3), Samba's rpcclient, smbclient and net — and, for
// domain joins, a throwaway Samba AD DC (internal/testdc).
//
// They need root, the loopback addresses and the Debian packages that
// scripts/test installs; scripts/test sets WKSSVCD_E2E=1, without which
// the package only prints how to run it. The addresses come from
// internal/testnet ($WKSSVCD_TEST_NET moves them all); $WKSSVCD_E2E_ADDR
// moves only the daemon's.
//
// Nothing here is imported by the product.
package e2e
