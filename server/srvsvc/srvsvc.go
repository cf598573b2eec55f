package srvsvc

import (
	"context"
	"strings"

	msrpc "github.com/oiweiwei/go-msrpc/dcerpc"
	"github.com/oiweiwei/go-msrpc/msrpc/dtyp"
	srvs "github.com/oiweiwei/go-msrpc/msrpc/srvs/srvsvc/v3"
	"github.com/oiweiwei/go-msrpc/ndr"

	"github.com/wkssvcd/wkssvcd/server/dcerpc"
	"github.com/wkssvcd/wkssvcd/server/ipc"
)

// Win32 codes returned here (MS-ERREF 2.2).
const (
	errorSuccess        = 0
	errorInvalidLevel   = 0x7c
	nerrNetNameNotFound = 0x906
)

// opShareEnum is NetrShareEnum's opnum (MS-SRVS 3.1.4.8).
const opShareEnum = 15

// MS-SRVS 2.2.2.4: share types.
const (
	stypeIPC     = 0x00000003
	stypeSpecial = 0x80000000
)

const (
	ipcShare  = "IPC$"
	ipcRemark = "Remote IPC"
)

// Config names the server in NetrServerGetInfo answers.
type Config struct {
	// Names reports this computer's NetBIOS name, read on every call so
	// that a rename shows at once. Default: ipc.HostNames().
	Names ipc.ComputerNames
	// Comment is the server comment; default empty.
	Comment string
}

// Server implements the MS-SRVS methods listed in the package comment;
// the RPC runtime answers every other opnum with nca_op_rng_error.
type Server struct {
	srvs.UnimplementedSrvsvcServer
	cfg Config
}

// New returns a Server.
func New(cfg Config) *Server {
	if cfg.Names == nil {
		cfg.Names = ipc.HostNames()
	}
	return &Server{cfg: cfg}
}

// Interfaces is the registration of srvsvc v3.0 for the RPC runtime.
func Interfaces(s *Server) []dcerpc.Interface {
	return []dcerpc.Interface{{
		Name:         "srvsvc",
		UUID:         *srvs.SrvsvcSyntaxUUID,
		VersionMajor: 3,
		VersionMinor: 0,
		Handle: func(ctx context.Context, opnum int, r ndr.Reader) (msrpc.Operation, error) {
			op, err := srvs.SrvsvcServerHandle(ctx, s, opnum, r)
			if err == nil && op != nil && opnum == opShareEnum && dcerpc.LastPointerNull(r) {
				// NetrShareEnum's ResumeHandle was NULL: so is the
				// response's.
				op = dcerpc.NullTailPointer(op, r)
			}
			return op, err
		},
	}}
}

func ipcInfo1() *srvs.ShareInfo1 {
	return &srvs.ShareInfo1{NetworkName: ipcShare, Type: stypeIPC | stypeSpecial, Remark: ipcRemark}
}

// ShareEnum is NetrShareEnum (MS-SRVS 3.1.4.8): IPC$ at levels 0 and 1.
func (s *Server) ShareEnum(ctx context.Context, req *srvs.ShareEnumRequest) (*srvs.ShareEnumResponse, error) {
	if req.Info == nil {
		return &srvs.ShareEnumResponse{Return: errorInvalidLevel}, nil
	}
	resp := &srvs.ShareEnumResponse{Info: &srvs.ShareEnum{Level: req.Info.Level}, TotalEntries: 1}
	switch req.Info.Level {
	case 0:
		resp.Info.ShareInfo = &srvs.ShareEnumUnion{Value: &srvs.ShareEnumUnion_Level0{
			Level0: &srvs.ShareInfo0Container{EntriesRead: 1, Buffer: []*srvs.ShareInfo0{{NetworkName: ipcShare}}},
		}}
	case 1:
		resp.Info.ShareInfo = &srvs.ShareEnumUnion{Value: &srvs.ShareEnumUnion_Level1{
			Level1: &srvs.ShareInfo1Container{EntriesRead: 1, Buffer: []*srvs.ShareInfo1{ipcInfo1()}},
		}}
	default:
		// The [in, out] structure goes back with the level and no
		// entries; echoing the client's container could make the
		// encoder write the entry count it claimed.
		return &srvs.ShareEnumResponse{Info: &srvs.ShareEnum{Level: req.Info.Level}, Return: errorInvalidLevel}, nil
	}
	return resp, nil
}

// ShareGetInfo is NetrShareGetInfo (MS-SRVS 3.1.4.10) for IPC$.
func (s *Server) ShareGetInfo(ctx context.Context, req *srvs.ShareGetInfoRequest) (*srvs.ShareGetInfoResponse, error) {
	if !strings.EqualFold(strings.TrimRight(req.NetName, "\x00"), ipcShare) {
		return &srvs.ShareGetInfoResponse{Level: req.Level, Info: &srvs.ShareInfo{}, Return: nerrNetNameNotFound}, nil
	}
	switch req.Level {
	case 0:
		return &srvs.ShareGetInfoResponse{Level: 0, Info: &srvs.ShareInfo{Value: &srvs.ShareInfo_0{ShareInfo0: &srvs.ShareInfo0{NetworkName: ipcShare}}}}, nil
	case 1:
		return &srvs.ShareGetInfoResponse{Level: 1, Info: &srvs.ShareInfo{Value: &srvs.ShareInfo_1{ShareInfo1: ipcInfo1()}}}, nil
	}
	return &srvs.ShareGetInfoResponse{Level: req.Level, Info: &srvs.ShareInfo{}, Return: errorInvalidLevel}, nil
}

// MS-SRVS 2.2.4.41: platform and server types.
const (
	platformIDNT       = 500
	svTypeWorkstation  = 0x00000001
	svTypeServer       = 0x00000002
	svTypeNT           = 0x00001000
	svTypeServerNT     = 0x00008000
	serverVersionMajor = 10
	serverVersionMinor = 0
)

// GetInfo is NetrServerGetInfo (MS-SRVS 3.1.4.17) at levels 100 and 101.
func (s *Server) GetInfo(ctx context.Context, req *srvs.GetInfoRequest) (*srvs.GetInfoResponse, error) {
	switch req.Level {
	case 100:
		return &srvs.GetInfoResponse{Level: 100, Info: &srvs.ServerInfo{Value: &srvs.ServerInfo_100{
			ServerInfo100: &dtyp.ServerInfo100{PlatformID: platformIDNT, Name: s.cfg.Names.NetBIOSName()},
		}}}, nil
	case 101:
		return &srvs.GetInfoResponse{Level: 101, Info: &srvs.ServerInfo{Value: &srvs.ServerInfo_101{
			ServerInfo101: &dtyp.ServerInfo101{
				PlatformID:   platformIDNT,
				Name:         s.cfg.Names.NetBIOSName(),
				VersionMajor: serverVersionMajor,
				VersionMinor: serverVersionMinor,
				VersionType:  svTypeWorkstation | svTypeServer | svTypeNT | svTypeServerNT,
				Comment:      s.cfg.Comment,
			},
		}}}, nil
	}
	return &srvs.GetInfoResponse{Level: req.Level, Info: &srvs.ServerInfo{}, Return: errorInvalidLevel}, nil
}
