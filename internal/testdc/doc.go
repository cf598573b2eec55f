// Package testdc runs a throwaway Samba Active Directory domain controller
// on Addr() (127.0.0.2; internal/testnet moves it) for tests that need a real domain: LDAP/LDAPS, Kerberos, DNS
// and SMB of the domain EXAMPLE.TEST (NetBIOS EXAMPLE, host dc1).
//
// It owns only the files under its own temporary directories (a provisioned
// template cached in os.TempDir and one copy per run) and the samba process
// group it starts; it never touches the host's Samba configuration,
// /run/samba or /var/lib/samba, and it stops only the processes it started,
// by their process id. It needs root, the samba and samba-tool binaries, and
// the address on an interface (scripts/test adds it to lo).
// Without them, Start fails the test, saying what to install (never a skip).
//
// Relay forwards one of the controller's TCP ports and can cut it off and
// bring it back in microseconds, for fault injection without restarting
// samba. A test binary shares one controller through Main; test binaries
// running at the same time take turns on that address through a file lock.
package testdc
