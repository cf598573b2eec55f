package hostinfo

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// Interface is a network interface that has at least one address.
type Interface struct {
	Name     string
	Index    int
	MAC      net.HardwareAddr // empty for loopback and point-to-point links
	Addrs    []netip.Prefix
	Loopback bool
	Up       bool
}

// MACString is the hardware address as Windows writes a transport
// address: 12 upper-case hex digits without separators (MS-WKST <6>),
// "000000000000" for an interface without one.
func (i Interface) MACString() string {
	if len(i.MAC) == 0 {
		return "000000000000"
	}
	return strings.ToUpper(strings.ReplaceAll(i.MAC.String(), ":", ""))
}

// Contains reports whether addr is one of the interface's addresses.
func (i Interface) Contains(addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, p := range i.Addrs {
		if p.Addr().Unmap() == addr {
			return true
		}
	}
	return false
}

// Interfaces lists the host's interfaces that have an address, in the
// kernel's index order.
func Interfaces() ([]Interface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("hostinfo: listing interfaces: %w", err)
	}
	var out []Interface
	for _, nif := range ifs {
		addrs, err := nif.Addrs()
		if err != nil {
			return nil, fmt.Errorf("hostinfo: addresses of %s: %w", nif.Name, err)
		}
		it := Interface{Name: nif.Name, Index: nif.Index, MAC: nif.HardwareAddr,
			Loopback: nif.Flags&net.FlagLoopback != 0, Up: nif.Flags&net.FlagUp != 0}
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				if p, ok := netipPrefix(ipn); ok {
					it.Addrs = append(it.Addrs, p)
				}
			}
		}
		if len(it.Addrs) > 0 {
			out = append(out, it)
		}
	}
	return out, nil
}

func netipPrefix(n *net.IPNet) (netip.Prefix, bool) {
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones), true
}
