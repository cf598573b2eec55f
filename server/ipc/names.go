package ipc

import (
	"os"
	"strings"
)

// ComputerNames reports this computer's current names (the ComputerName
// element of MS-WKST 3.2.1.2). A rename changes them while the server
// runs, so the layers that show them (NTLM target information, the
// srvsvc and wkssvc answers) read them on use instead of copying them at
// start-up.
type ComputerNames interface {
	// NetBIOSName is ComputerName.NetBIOS: upper case, at most 15
	// characters.
	NetBIOSName() string
	// DNSHostName is ComputerName.FQDN; it may be empty.
	DNSHostName() string
}

// StaticNames is a ComputerNames that never changes.
type StaticNames struct {
	NetBIOS, DNS string
}

// NetBIOSName returns s.NetBIOS.
func (s StaticNames) NetBIOSName() string { return s.NetBIOS }

// DNSHostName returns s.DNS.
func (s StaticNames) DNSHostName() string { return s.DNS }

// HostNames returns the names derived from the host name (os.Hostname):
// the NetBIOS name is its first label, upper-cased and cut to 15
// characters; the DNS name is the host name in lower case. It is the
// default of the packages that show the computer's names when none are
// configured.
func HostNames() StaticNames {
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	nb, _, _ := strings.Cut(host, ".")
	nb = strings.ToUpper(nb)
	if len(nb) > 15 {
		nb = nb[:15]
	}
	return StaticNames{NetBIOS: nb, DNS: strings.ToLower(host)}
}
