// Package testenv checks the prerequisites of tests that need something
// outside the Go toolchain: root, a Debian package's program, impacket,
// a Python module, a loopback address. A missing prerequisite fails the
// test with a message that names what to install or run; it is never a
// skip, so a machine without the real peers cannot pass the suite by
// running less of it.
//
// scripts/test installs every package named here (its packages=(...)
// list) and adds the loopback addresses, so a run of scripts/test never
// meets these failures. It is imported only by tests and test tools.
package testenv
