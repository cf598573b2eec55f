package wkssvc

import (
	"context"
	"log/slog"
	"strings"
	"time"

	wkst "github.com/oiweiwei/go-msrpc/msrpc/wkst/wkssvc/v1"
	"github.com/oiweiwei/go-msrpc/ndr"

	msrpc "github.com/oiweiwei/go-msrpc/dcerpc"

	"github.com/wkssvcd/wkssvcd/joinlogic"
	"github.com/wkssvcd/wkssvcd/server/dcerpc"
	"github.com/wkssvcd/wkssvcd/server/ipc"
)

// Win32 results of the methods, from the one table in joinlogic
// (MS-ERREF 2.2).
const (
	errSuccess             = uint32(joinlogic.NERR_Success)
	errAccessDenied        = uint32(joinlogic.ERROR_ACCESS_DENIED)
	errNotSupported        = uint32(joinlogic.ERROR_NOT_SUPPORTED)
	errInvalidLevel        = uint32(joinlogic.ERROR_INVALID_LEVEL)
	errProtseqNotSupported = uint32(joinlogic.RPC_S_PROTSEQ_NOT_SUPPORTED)
	errInternalError       = uint32(joinlogic.ERROR_INTERNAL_ERROR)
)

// Values of the workstation ADM (MS-WKST 3.2.1, 3.2.3).
const (
	platformIDNT          uint32 = 500 // PLATFORM_ID_NT (MS-WKST 2.2.5.1)
	defaultVersionMajor          = 10
	defaultVersionMinor          = 0
	defaultKeepConnection        = 600 // MS-WKST 3.2.3 <16>
	defaultMaxCommands           = 50  // MS-WKST 3.2.3 <17>
	defaultSessionTimeout        = 60  // MS-WKST 3.2.3 <19>
	levelInfo100                 = 100
	levelInfo101                 = 101
	levelInfo102                 = 102
	levelInfo502                 = 502
)

// Config describes the workstation the interface reports.
type Config struct {
	// Names reports the computer's names (ComputerName, MS-WKST 3.2.1.2);
	// they are read on every call, so a rename shows at once. Default:
	// ipc.HostNames().
	Names ipc.ComputerNames
	// VersionMajor and VersionMinor are Ver_Major and Ver_Minor (MS-WKST
	// 3.2.1). Default 10 and 0, as current Windows servers report.
	VersionMajor, VersionMinor uint32
	// Settings keeps Keep_Connection, Max_Commands, Session_TimeOut and
	// DormantFileLimit, which NetrWkstaSetInfo changes and level 502
	// reports. Default: MemorySettings(DefaultSettings()) (600, 50, 60
	// and 0, MS-WKST 3.2.3).
	Settings SettingsStore
	// Users lists the users logged on (NetrWkstaUserEnum, the
	// logged-on-users count of level 102). Default: none.
	Users UserSource
	// Transports lists the transports (NetrWkstaTransportEnum). Default:
	// none.
	Transports TransportSource
	// Statistics reads the redirector's counters
	// (NetrWorkstationStatisticsGet). Default: zero counters since New.
	Statistics StatisticsSource
	// Join serves the membership methods: NetrGetJoinInformation (and
	// the langroup of NetrWkstaGetInfo), joins, unjoins and name
	// validation. Default: StaticMembership{Name: "WORKGROUP", Status:
	// joinlogic.NetSetupWorkgroupName}, which changes nothing.
	Join Joiner
	// AllowAnonymousLevel100 lets anonymous callers read
	// NetrWkstaGetInfo level 100. Default false: the NetSecurityDescriptor
	// of MS-WKST 3.2.1.1 grants query rights to authenticated users only.
	AllowAnonymousLevel100 bool
	// AllowAnyProtocolSequence lets NetrGetJoinInformation answer on
	// transports other than ncacn_np. Default false: MS-WKST 3.2.4.12
	// returns RPC_S_PROTSEQ_NOT_SUPPORTED there.
	AllowAnyProtocolSequence bool
	// Logger receives diagnostics. Default slog.Default().
	Logger *slog.Logger
}

// Server implements go-msrpc's wkssvc.WkssvcServer.
type Server struct {
	cfg     Config
	log     *slog.Logger
	started time.Time    // StatisticsStartTime without a Statistics source
	logons  logonNumbers // NetrWkstaUserEnum's logon numbers (<36>)
}

var _ wkst.WkssvcServer = (*Server)(nil)

// New returns a Server with cfg's defaults applied.
func New(cfg Config) *Server {
	if cfg.Names == nil {
		cfg.Names = ipc.HostNames()
	}
	if cfg.VersionMajor == 0 && cfg.VersionMinor == 0 {
		cfg.VersionMajor, cfg.VersionMinor = defaultVersionMajor, defaultVersionMinor
	}
	if cfg.Settings == nil {
		cfg.Settings = MemorySettings(DefaultSettings())
	}
	if cfg.Join == nil {
		cfg.Join = StaticMembership{Name: joinlogic.DefaultWorkgroup, Status: joinlogic.NetSetupWorkgroupName}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Server{cfg: cfg, log: cfg.Logger.With("iface", "wkssvc"), started: time.Now()}
}

// nullTailOpnums are the methods whose last parameter before the return
// value is an [in, out, unique] pointer to a 32-bit value: NetrWkstaSetInfo,
// NetrWkstaTransportAdd and NetrUseAdd (ErrorParameter), NetrWkstaUserEnum,
// NetrWkstaTransportEnum and NetrUseEnum (ResumeHandle).
var nullTailOpnums = map[int]bool{1: true, 2: true, 5: true, 6: true, 8: true, 11: true}

// PipeName is the canonical name of the pipe wkssvc is served on.
const PipeName = "wkssvc"

// Interfaces returns the registration of s for server/dcerpc: the wkssvc
// interface 6BFFD098-A112-3610-9833-46C3F87E345A v1.0 (MS-WKST 2.1).
func Interfaces(s *Server) []dcerpc.Interface {
	return []dcerpc.Interface{{
		Name:         "wkssvc",
		UUID:         *wkst.WkssvcSyntaxUUID,
		VersionMajor: 1,
		VersionMinor: 0,
		Inline:       inline,
		Fast:         s.fast,
		Handle: func(ctx context.Context, opnum int, r ndr.Reader) (msrpc.Operation, error) {
			if _, ok := retiredMethods[opnum]; ok {
				// MS-WKST <27>: ERROR_NOT_SUPPORTED (retired.go).
				op, err := s.retired(ctx, opnum, r)
				if err != nil {
					return nil, err
				}
				return op, nil
			}
			op, err := wkst.WkssvcServerHandle(withRequest(ctx, r), s, opnum, r)
			if err == nil && op != nil && nullTailOpnums[opnum] && dcerpc.LastPointerNull(r) {
				// The request's ResumeHandle or ErrorParameter was NULL:
				// so is the response's.
				op = dcerpc.NullTailPointer(op, r)
			}
			return op, err
		},
	}}
}

// caller is the identity of the pipe the call arrived on. A call without
// one is treated as anonymous.
func caller(ctx context.Context) ipc.Identity {
	if info, ok := ipc.FromContext(ctx); ok {
		return info.Identity
	}
	return ipc.Identity{Anonymous: true}
}

// canQuery is the WKSTA_NETAPI_QUERY check of MS-WKST 3.2.1.1: the
// NetSecurityDescriptor grants it to authenticated users (AU) and
// administrators.
func canQuery(id ipc.Identity) bool {
	return !id.Anonymous && (id.User != "" || id.Admin)
}

// denied logs a refused access check with the caller's identity.
func (s *Server) denied(id ipc.Identity, op string, args ...any) {
	s.log.Info("wkssvc: access denied", append([]any{"op", op, "user", id.User, "domain", id.Domain,
		"user_sid", id.UserSID(), "anonymous", id.Anonymous, "admin", id.Admin}, args...)...)
}

// canChange is the WKSTA_NETAPI_CHANGE_CONFIG check of MS-WKST 3.2.1.1:
// granted to administrators (BA) only.
func canChange(id ipc.Identity) bool {
	return !id.Anonymous && id.Admin
}

// GetInfo is NetrWkstaGetInfo (MS-WKST 3.2.4.1). Levels 100 and 101 need
// query rights (level 100 also for anonymous callers when configured);
// levels 102 and 502 need administrator rights, as Windows requires
// (MS-WKST <29>) and Samba does too.
func (s *Server) GetInfo(ctx context.Context, req *wkst.GetInfoRequest) (*wkst.GetInfoResponse, error) {
	resp := &wkst.GetInfoResponse{Level: req.Level}
	id := caller(ctx)
	var allowed bool
	switch req.Level {
	case levelInfo100:
		allowed = canQuery(id) || (id.Anonymous && s.cfg.AllowAnonymousLevel100)
	case levelInfo101:
		allowed = canQuery(id)
	case levelInfo102, levelInfo502:
		allowed = canChange(id)
	default:
		resp.Return = errInvalidLevel
		return resp, nil
	}
	if !allowed {
		s.denied(id, "NetrWkstaGetInfo", "level", req.Level)
		resp.Return = errAccessDenied
		return resp, nil
	}
	var langroup string
	var loggedOn uint32
	if req.Level == levelInfo102 {
		users, err := s.activeUsers(ctx)
		if err != nil {
			s.log.Warn("wkssvc: listing the logged-on users", "err", err)
			resp.Return = errInternalError
			return resp, nil
		}
		loggedOn = uint32(len(users))
	}
	if req.Level != levelInfo502 {
		name, _, err := s.cfg.Join.JoinInformation(ctx)
		if err != nil {
			s.log.Warn("wkssvc: membership lookup failed", "err", err)
			resp.Return = errInternalError
			return resp, nil
		}
		langroup = name
	}
	computer := strings.ToUpper(s.cfg.Names.NetBIOSName())
	info := &wkst.WorkstationInfo{}
	switch req.Level {
	case levelInfo100:
		info.Value = &wkst.WorkstationInfo_100{WorkstationInfo100: &wkst.WorkstationInfo100{
			PlatformID:   platformIDNT,
			ComputerName: computer,
			LANGroup:     langroup,
			VerMajor:     s.cfg.VersionMajor,
			VerMinor:     s.cfg.VersionMinor,
		}}
	case levelInfo101:
		info.Value = &wkst.WorkstationInfo_101{WorkstationInfo101: &wkst.WorkstationInfo101{
			PlatformID:   platformIDNT,
			ComputerName: computer,
			LANGroup:     langroup,
			VerMajor:     s.cfg.VersionMajor,
			VerMinor:     s.cfg.VersionMinor,
			// wki101_lanroot MUST be NULL: the empty string marshals as NULL.
		}}
	case levelInfo102:
		info.Value = &wkst.WorkstationInfo_102{WorkstationInfo102: &wkst.WorkstationInfo102{
			PlatformID:   platformIDNT,
			ComputerName: computer,
			LANGroup:     langroup,
			VerMajor:     s.cfg.VersionMajor,
			VerMinor:     s.cfg.VersionMinor,
			// "the number of users who are currently active on the
			// computer": those NetrWkstaUserEnum lists.
			LoggedOnUsers: loggedOn,
		}}
	case levelInfo502:
		// What NetrWkstaSetInfo stored (<32>); DormantFileLimit stays 0
		// until set (<30>).
		st := s.cfg.Settings.Settings()
		info.Value = &wkst.WorkstationInfo_502{WorkstationInfo502: &wkst.WorkstationInfo502{
			KeepConn:         st.KeepConnection,
			MaxCmds:          st.MaxCommands,
			SessTimeout:      st.SessionTimeout,
			DormantFileLimit: st.DormantFileLimit,
		}}
	}
	resp.WorkstationInfo = info
	resp.Return = errSuccess
	return resp, nil
}

// GetJoinInformation is NetrGetJoinInformation (MS-WKST 3.2.4.12).
func (s *Server) GetJoinInformation(ctx context.Context, req *wkst.GetJoinInformationRequest) (*wkst.GetJoinInformationResponse, error) {
	resp := &wkst.GetJoinInformationResponse{}
	if ps := dcerpc.ProtocolSequence(ctx); ps != dcerpc.ProtseqNamedPipe && !s.cfg.AllowAnyProtocolSequence {
		resp.Return = errProtseqNotSupported
		return resp, nil
	}
	if !canQuery(caller(ctx)) {
		resp.Return = errAccessDenied
		return resp, nil
	}
	name, status, err := s.cfg.Join.JoinInformation(ctx)
	if err != nil {
		s.log.Warn("wkssvc: membership lookup failed", "err", err)
		resp.Return = errInternalError
		return resp, nil
	}
	switch status {
	case joinlogic.NetSetupUnjoined:
		resp.BufferType = wkst.NetSetupJoinStatusUnjoined
		resp.NameBuffer = ""
	case joinlogic.NetSetupWorkgroupName:
		resp.BufferType = wkst.NetSetupJoinStatusWorkgroupName
		resp.NameBuffer = name
	case joinlogic.NetSetupDomainName:
		resp.BufferType = wkst.NetSetupJoinStatusDomainName
		resp.NameBuffer = name
	default:
		resp.BufferType = wkst.NetSetupJoinStatusUnknownStatus
		resp.NameBuffer = name
	}
	resp.Return = errSuccess
	return resp, nil
}
