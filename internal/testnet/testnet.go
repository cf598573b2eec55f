package testnet

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
)

// Env is the environment variable that moves the addresses.
const Env = "WKSSVCD_TEST_NET"

// DefaultPrefix is the network used when Env is unset.
const DefaultPrefix = "127.0.0"

// Host numbers inside the network, one per role.
const (
	hostDC     = 2  // the Samba AD DC (internal/testdc)
	hostDaemon = 3  // the daemon under test (e2e)
	hostPeer   = 4  // a peer server for comparisons (bench)
	hostBench  = 5  // the join benchmark's own daemon (bench)
	hostProbe  = 6  // source of the attack probes of the end-to-end tests
	hostDC2    = 7  // a Samba AD DC without TLS (internal/testdc)
	hostTap    = 8  // a recording proxy in front of the daemon under test (e2e, internal/smbtap)
	hostRemote = 9  // routed to lo but never assigned: a "remote" host for Samba's net
	hostProbe2 = 10 // a second probe source, for probes that get their address throttled
	hostFakeDC = 11 // a man in the middle posing as the DC (internal/testdc.Impostor)
)

// Prefix returns the first three octets in use, from Env or the default.
// An Env value that does not name a 127/8 network is an error.
func Prefix() (string, error) {
	p := os.Getenv(Env)
	if p == "" {
		return DefaultPrefix, nil
	}
	parts := strings.Split(p, ".")
	if len(parts) != 3 || parts[0] != "127" {
		return "", fmt.Errorf("%s=%q: want the first three octets of a 127/8 network, e.g. 127.0.7", Env, p)
	}
	for _, s := range parts[1:] {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 255 || strconv.Itoa(n) != s {
			return "", fmt.Errorf("%s=%q: %q is not an octet", Env, p, s)
		}
	}
	return p, nil
}

func host(n int) string {
	p, err := Prefix()
	if err != nil {
		// Tests cannot run in the wrong place; say why loudly.
		panic(err)
	}
	return p + "." + strconv.Itoa(n)
}

// DC is the address of the test domain controller.
func DC() string { return host(hostDC) }

// DCNoTLS is the address of the test domain controller that serves no
// TLS at all (no LDAPS, no StartTLS).
func DCNoTLS() string { return host(hostDC2) }

// Impostor is the address of the man in the middle that poses as the DC
// in the tests of the daemon's trust rules.
func Impostor() string { return host(hostFakeDC) }

// Daemon is the address the end-to-end tests run wkssvcd on (port 445).
func Daemon() string { return host(hostDaemon) }

// Peer is the address of a peer server that benchmarks compare against.
func Peer() string { return host(hostPeer) }

// Bench is the address of the join benchmark's own daemon.
func Bench() string { return host(hostBench) }

// Probe is the source address of the attack probes of the end-to-end
// tests, so that the daemon's per-address limits single them out while
// legitimate clients connect from another address (the kernel's default
// source, 127.0.0.1). It need not be assigned to lo: any 127/8 address can
// be bound.
func Probe() string { return host(hostProbe) }

// Probe2 is a second probe source address, for probes whose address ends
// up throttled and must not spoil the others.
func Probe2() string { return host(hostProbe2) }

// Tap is the address of the recording proxy (internal/smbtap) that the
// end-to-end tests put between real clients and the daemon (port 445).
func Tap() string { return host(hostTap) }

// Remote is an address routed to lo that is never assigned to an
// interface: tools that treat this host's own addresses as "local" (Samba's
// net) see it as another machine.
func Remote() string { return host(hostRemote) }

// Assigned lists the addresses that must be assigned to lo for the suite.
func Assigned() []string {
	return []string{DC(), Daemon(), Peer(), Bench(), DCNoTLS(), Tap(), Impostor()}
}

// Ports lists, for each assigned address, the TCP ports the suite listens
// on there; something else listening on one of them makes the run fail.
func Ports() map[string][]int {
	return map[string][]int{
		DC():       {53, 88, 389, 445, 464, 636},
		DCNoTLS():  {53, 88, 389, 445, 464},
		Daemon():   {445},
		Peer():     {445},
		Bench():    {445},
		Tap():      {445},
		Impostor(): {53, 88, 389, 636},
	}
}

// IsAssigned reports whether ip is assigned to an interface of this host.
func IsAssigned(ip string) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.String() == ip {
			return true
		}
	}
	return false
}
