package wkssvc

import (
	"context"
	"crypto/sha1"
	"fmt"
	"net/netip"

	wkst "github.com/oiweiwei/go-msrpc/msrpc/wkst/wkssvc/v1"

	"github.com/wkssvcd/wkssvcd/joinlogic"
	"github.com/wkssvcd/wkssvcd/wkssvc/hostinfo"
)

// Transport is one entry of TransportList (MS-WKST 3.2.1.4).
type Transport struct {
	Name    string // Transport.Name
	Address string // Transport.Address
	VCs     uint32 // Transport.VC_Count
	WANish  bool   // Transport.Wannish
}

// TransportSource lists the transports.
type TransportSource interface {
	Transports(ctx context.Context) ([]Transport, error)
}

// HostTransports is the TransportSource of this host: one transport per
// network interface that has an address (MS-WKST 3.2.3: "based on the
// list of network interfaces on the system"), named as Windows names its
// NetBT transports (\Device\NetBT_Tcpip_{GUID}, <5>, <23>; the GUID is
// derived from the interface name, so it is stable across restarts), its
// address the interface's MAC address in 12 hex digits (<6>, <22>), its
// VC count the connections this server holds on one of the interface's
// addresses, and wannish true (<25>).
type HostTransports struct {
	// Connections returns the local address of every connection this
	// server holds; nil counts none.
	Connections func() []netip.Addr
	// Interfaces lists the interfaces. Default hostinfo.Interfaces.
	Interfaces func() ([]hostinfo.Interface, error)
}

// Transports lists the interfaces.
func (h HostTransports) Transports(ctx context.Context) ([]Transport, error) {
	list := h.Interfaces
	if list == nil {
		list = hostinfo.Interfaces
	}
	ifs, err := list()
	if err != nil {
		return nil, err
	}
	var conns []netip.Addr
	if h.Connections != nil {
		conns = h.Connections()
	}
	out := make([]Transport, 0, len(ifs))
	for _, i := range ifs {
		t := Transport{Name: TransportName(i.Name), Address: i.MACString(), WANish: true}
		for _, a := range conns {
			if i.Contains(a) {
				t.VCs++
			}
		}
		out = append(out, t)
	}
	return out, ctx.Err()
}

// TransportName is the transport device name of the interface called
// ifname: \Device\NetBT_Tcpip_{GUID}, with a name-based (version 5) UUID
// of the interface name.
func TransportName(ifname string) string {
	// RFC 9562 5.5, with a namespace UUID of this program's own.
	ns := [16]byte{0x6b, 0x77, 0x6b, 0x73, 0x73, 0x76, 0x63, 0x64, 0x2d, 0x74, 0x72, 0x61, 0x6e, 0x73, 0x70, 0x74}
	h := sha1.New()
	h.Write(ns[:])
	h.Write([]byte(ifname))
	u := h.Sum(nil)[:16]
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf(`\Device\NetBT_Tcpip_{%08X-%04X-%04X-%04X-%012X}`, u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// TransportEnum is NetrWkstaTransportEnum (MS-WKST 3.2.4.4): level 0, no
// access check (<38>), PreferredMaximumLength honoured with
// NERR_BufTooSmall, ResumeHandle the zero-based index of the next
// transport (<37>, <39>), TotalEntries the entries left from the resume
// position, and 0 with NERR_BufTooSmall, as Windows sets it (<40>).
func (s *Server) TransportEnum(ctx context.Context, req *wkst.TransportEnumRequest) (*wkst.TransportEnumResponse, error) {
	resp := &wkst.TransportEnumResponse{TransportInfo: emptyTransportEnum(), Resume: req.Resume}
	if req.TransportInfo == nil || req.TransportInfo.Level != 0 {
		resp.Return = errInvalidLevel
		return resp, nil
	}
	var ts []Transport
	if s.cfg.Transports != nil {
		var err error
		if ts, err = s.cfg.Transports.Transports(ctx); err != nil {
			s.log.Warn("wkssvc: listing the transports", "err", err)
			resp.Return = errInternalError
			return resp, nil
		}
	}
	start := min(int(req.Resume), len(ts))
	rest := ts[start:]
	sizes := make([]int, len(rest))
	for i, t := range rest {
		sizes[i] = 4 + 4 + 2*ptrSize + 4 + wstrLen(t.Name) + wstrLen(t.Address)
	}
	n := fit(sizes, req.PreferredMaximumLength)
	c := &wkst.WorkstationTransportInfo0Container{EntriesRead: uint32(n)}
	for _, t := range rest[:n] {
		wan := uint32(0)
		if t.WANish {
			wan = 1
		}
		c.Buffer = append(c.Buffer, &wkst.WorkstationTransportInfo0{NumberOfVCS: t.VCs, TransportName: t.Name,
			TransportAddress: t.Address, WANIsh: wan})
	}
	resp.TransportInfo = &wkst.WorkstationTransportEnum{WorkstationTransportInfo: &wkst.WorkstationTransportEnum_WorkstationTransportInfo{
		Value: &wkst.WorkstationTransportInfo_Level0{Level0: c}}}
	if n < len(rest) {
		resp.Resume = uint32(start + n)
		resp.TotalEntries = 0 // <40>
		resp.Return = uint32(joinlogic.NERR_BufTooSmall)
		return resp, nil
	}
	resp.Resume = 0
	resp.TotalEntries = uint32(len(rest))
	resp.Return = errSuccess
	return resp, nil
}

// TransportAdd is NetrWkstaTransportAdd (MS-WKST 3.2.4.5): a level other
// than 0 is ERROR_INVALID_LEVEL; the method is deprecated, and Windows
// answers administrators ERROR_INVALID_FUNCTION without further
// processing (<41>) and others ERROR_ACCESS_DENIED.
func (s *Server) TransportAdd(ctx context.Context, req *wkst.TransportAddRequest) (*wkst.TransportAddResponse, error) {
	resp := &wkst.TransportAddResponse{ErrorParameter: req.ErrorParameter}
	switch {
	case req.Level != 0:
		resp.Return = errInvalidLevel
	case !canChange(caller(ctx)):
		resp.Return = errAccessDenied
	default:
		resp.Return = uint32(joinlogic.ERROR_INVALID_FUNCTION)
	}
	return resp, nil
}

// TransportDelete is NetrWkstaTransportDel (MS-WKST 3.2.4.6): a
// ForceLevel other than 0, 1 or 2 is ERROR_INVALID_PARAMETER; the method
// is deprecated, and Windows answers administrators
// ERROR_INVALID_FUNCTION (<43>) and others ERROR_ACCESS_DENIED.
func (s *Server) TransportDelete(ctx context.Context, req *wkst.TransportDeleteRequest) (*wkst.TransportDeleteResponse, error) {
	switch {
	case req.ForceLevel > 2:
		return &wkst.TransportDeleteResponse{Return: uint32(joinlogic.ERROR_INVALID_PARAMETER)}, nil
	case !canChange(caller(ctx)):
		return &wkst.TransportDeleteResponse{Return: errAccessDenied}, nil
	}
	return &wkst.TransportDeleteResponse{Return: uint32(joinlogic.ERROR_INVALID_FUNCTION)}, nil
}
