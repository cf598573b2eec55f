package wkssvc

import (
	"context"
	"math"
	"time"

	"github.com/oiweiwei/go-msrpc/msrpc/dtyp"
	wkst "github.com/oiweiwei/go-msrpc/msrpc/wkst/wkssvc/v1"

	"github.com/wkssvcd/wkssvcd/joinlogic"
	"github.com/wkssvcd/wkssvcd/wkssvc/hostinfo"
)

// Statistics are the counters NetrWorkstationStatisticsGet reports: those
// of this host's SMB redirector, which on Linux is the kernel's cifs
// client (MS-WKST 2.2.5.11). A counter the host does not have is 0.
type Statistics struct {
	Start            time.Time // StatisticsStartTime
	BytesReceived    uint64
	SMBsReceived     uint64
	BytesTransmitted uint64
	SMBsTransmitted  uint64
	ReadOperations   uint64
	WriteOperations  uint64
	Sessions         uint64
	Reconnects       uint64
	UseCount         uint64
}

// StatisticsSource reads the Statistics.
type StatisticsSource interface {
	Statistics(ctx context.Context) (Statistics, error)
}

// HostStatistics is the StatisticsSource of this host: Start is when the
// service started, the counters come from the kernel SMB client's
// /proc/fs/cifs/Stats when the host has it, and are 0 otherwise.
type HostStatistics struct {
	// Start is StatisticsStartTime.
	Start time.Time
	// CIFSStats is the counters file. Default hostinfo.DefaultCIFSStats.
	CIFSStats string
}

// Statistics reads the counters.
func (h HostStatistics) Statistics(ctx context.Context) (Statistics, error) {
	path := h.CIFSStats
	if path == "" {
		path = hostinfo.DefaultCIFSStats
	}
	c, err := hostinfo.ReadCIFSStats(path)
	if err != nil {
		return Statistics{}, err
	}
	// Every SMB the client sent was answered by one it received; the
	// bytes read are what it received, the bytes written what it sent.
	return Statistics{Start: h.Start, BytesReceived: c.BytesRead, SMBsReceived: c.SMBs, BytesTransmitted: c.BytesWritten,
		SMBsTransmitted: c.SMBs, ReadOperations: c.Reads, WriteOperations: c.Writes, Sessions: c.Sessions,
		Reconnects: c.Reconnects, UseCount: c.Shares}, ctx.Err()
}

func large(v uint64) *dtyp.LargeInteger {
	return &dtyp.LargeInteger{QuadPart: int64(min(v, math.MaxInt64))}
}

func u32(v uint64) uint32 { return uint32(min(v, math.MaxUint32)) }

// WorkstationStatisticsGet is NetrWorkstationStatisticsGet (MS-WKST
// 3.2.4.11), in the specification's order: Level must be 0
// (ERROR_INVALID_LEVEL), Options 0 (ERROR_INVALID_PARAMETER); then the
// caller must be an administrator or a user (<54>: anonymous callers are
// refused). ServiceName is ignored. StatisticsStartTime is in seconds
// since 1970 as 2.2.5.11 says; members that do not apply are 0.
func (s *Server) WorkstationStatisticsGet(ctx context.Context, req *wkst.WorkstationStatisticsGetRequest) (*wkst.WorkstationStatisticsGetResponse, error) {
	resp := &wkst.WorkstationStatisticsGetResponse{}
	switch {
	case req.Level != 0:
		resp.Return = errInvalidLevel
		return resp, nil
	case req.Options != 0:
		resp.Return = uint32(joinlogic.ERROR_INVALID_PARAMETER)
		return resp, nil
	case !canQuery(caller(ctx)):
		resp.Return = errAccessDenied
		return resp, nil
	}
	st := Statistics{Start: s.started}
	if s.cfg.Statistics != nil {
		var err error
		if st, err = s.cfg.Statistics.Statistics(ctx); err != nil {
			s.log.Warn("wkssvc: reading the redirector statistics", "err", err)
			resp.Return = errInternalError
			return resp, nil
		}
	}
	start := int64(0)
	if !st.Start.IsZero() {
		start = st.Start.Unix()
	}
	resp.Buffer = &wkst.StatWorkstation0{
		StatisticsStartTime: &dtyp.LargeInteger{QuadPart: start},
		BytesReceived:       large(st.BytesReceived), SMBsReceived: large(st.SMBsReceived),
		BytesTransmitted: large(st.BytesTransmitted), SMBsTransmitted: large(st.SMBsTransmitted),
		PagingReadBytesRequested: large(0), NonPagingReadBytesRequested: large(0), CacheReadBytesRequested: large(0),
		NetworkReadBytesRequested: large(st.BytesReceived), PagingWriteBytesRequested: large(0),
		NonPagingWriteBytesRequested: large(0), CacheWriteBytesRequested: large(0), NetworkWriteBytesRequested: large(st.BytesTransmitted),
		ReadOperations: u32(st.ReadOperations), ReadSMBs: u32(st.ReadOperations),
		WriteOperations: u32(st.WriteOperations), WriteSMBs: u32(st.WriteOperations),
		Sessions: u32(st.Sessions), Reconnects: u32(st.Reconnects), UseCount: u32(st.UseCount),
	}
	resp.Return = errSuccess
	return resp, nil
}
