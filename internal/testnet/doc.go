// Package testnet names the loopback addresses the test suite uses. They
// all come from here: scripts/test adds the ones that must be assigned to
// lo (it asks cmd/testnet), internal/testdc runs its domain controller on
// DC(), and the end-to-end tests run the daemon on Daemon().
//
// $WKSSVCD_TEST_NET moves the whole set: it is the first three octets of
// a 127/8 network (default "127.0.0"), so two runs of the suite on one
// machine use, say, 127.0.0.x and 127.0.7.x and never meet.
//
// It is imported only by tests and test tools, never by the product.
package testnet
