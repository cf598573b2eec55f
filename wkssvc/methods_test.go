package wkssvc

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	wkst "github.com/oiweiwei/go-msrpc/msrpc/wkst/wkssvc/v1"

	"github.com/oiweiwei/go-msrpc/ndr"

	"github.com/wkssvcd/wkssvcd/joinlogic"
	"github.com/wkssvcd/wkssvcd/server/dcerpc"
	"github.com/wkssvcd/wkssvcd/server/ipc"
	"github.com/wkssvcd/wkssvcd/wkssvc/hostinfo"
)

// Codes by name, for the rule tables.
const (
	cSuccess     = uint32(joinlogic.NERR_Success)
	cDenied      = uint32(joinlogic.ERROR_ACCESS_DENIED)
	cLevel       = uint32(joinlogic.ERROR_INVALID_LEVEL)
	cParam       = uint32(joinlogic.ERROR_INVALID_PARAMETER)
	cMoreData    = uint32(joinlogic.ERROR_MORE_DATA)
	cBufTooSmall = uint32(joinlogic.NERR_BufTooSmall)
	cFunction    = uint32(joinlogic.ERROR_INVALID_FUNCTION)
	cUseNotFound = uint32(joinlogic.NERR_UseNotFound)
	cNotImpl     = uint32(joinlogic.ERROR_CALL_NOT_IMPLEMENTED)
)

func info502(keep, cmds, sess, dormant uint32) *wkst.WorkstationInfo {
	return &wkst.WorkstationInfo{Value: &wkst.WorkstationInfo_502{WorkstationInfo502: &wkst.WorkstationInfo502{
		KeepConn: keep, MaxCmds: cmds, SessTimeout: sess, DormantFileLimit: dormant, CharWait: 99999999}}}
}

// NetrWkstaSetInfo, rule by rule (MS-WKST 3.2.4.2), and level 502 of
// NetrWkstaGetInfo reading the values back from the state directory.
func TestSetInfoRules(t *testing.T) {
	path := filepath.Join(t.TempDir(), "settings.json")
	store, err := OpenSettings(path)
	if err != nil {
		t.Fatal(err)
	}
	s := New(Config{Names: ipc.StaticNames{NetBIOS: "H"}, Settings: store, Logger: quietLogger()})
	admin, user := callCtx(adminIdentity), callCtx(userIdentity)
	cases := []struct {
		rule     string
		ctx      context.Context
		level    uint32
		info     *wkst.WorkstationInfo
		want     uint32
		wantParm uint32
	}{
		{"<31> a level SetInfo does not take is ERROR_INVALID_PARAMETER", admin, 100,
			&wkst.WorkstationInfo{Value: &wkst.WorkstationInfo_100{WorkstationInfo100: &wkst.WorkstationInfo100{}}}, cParam, 0},
		{"<33> administrators only", user, 502, info502(100, 60, 120, 7), cDenied, 0},
		{"anonymous callers too", callCtx(anonIdentity), 1013, &wkst.WorkstationInfo{Value: &wkst.WorkstationInfo_1013{WorkstationInfo1013: &wkst.WorkstationInfo1013{KeepConn: 5}}}, cDenied, 0},
		{"keep_conn 1-65535 (ParmErr 13)", admin, 502, info502(0, 60, 120, 7), cParam, 13},
		{"max_cmds 50-65535 (ParmErr 15)", admin, 502, info502(100, 49, 120, 7), cParam, 15},
		{"sess_timeout 60-65535 (ParmErr 18)", admin, 502, info502(100, 60, 59, 7), cParam, 18},
		{"dormant_file_limit 1-0xFFFFFFFF (ParmErr 46)", admin, 502, info502(100, 60, 120, 0), cParam, 46},
		{"level 1013 keep_conn out of range", admin, 1013, &wkst.WorkstationInfo{Value: &wkst.WorkstationInfo_1013{WorkstationInfo1013: &wkst.WorkstationInfo1013{KeepConn: 70000}}}, cParam, 13},
		{"level 1018 sess_timeout out of range", admin, 1018, &wkst.WorkstationInfo{Value: &wkst.WorkstationInfo_1018{WorkstationInfo1018: &wkst.WorkstationInfo1018{SessTimeout: 10}}}, cParam, 18},
		{"level 1046 dormant_file_limit 0", admin, 1046, &wkst.WorkstationInfo{Value: &wkst.WorkstationInfo_1046{WorkstationInfo1046: &wkst.WorkstationInfo1046{}}}, cParam, 46},
		{"a structure of another level", admin, 1013, info502(100, 60, 120, 7), cParam, 0},
		{"level 502 stores all four; unused members are ignored", admin, 502, info502(100, 60, 120, 7), cSuccess, 0},
	}
	for _, c := range cases {
		r, err := s.SetInfo(c.ctx, &wkst.SetInfoRequest{Level: c.level, WorkstationInfo: c.info})
		if err != nil || r.Return != c.want || r.ErrorParameter != c.wantParm {
			t.Errorf("%s: 0x%x ParmErr %d, want 0x%x ParmErr %d (%v)", c.rule, r.Return, r.ErrorParameter, c.want, c.wantParm, err)
		}
	}
	if got := store.Settings(); got != (Settings{100, 60, 120, 7}) {
		t.Fatalf("stored %+v", got)
	}
	for _, c := range []struct {
		level uint32
		info  *wkst.WorkstationInfo
	}{
		{1013, &wkst.WorkstationInfo{Value: &wkst.WorkstationInfo_1013{WorkstationInfo1013: &wkst.WorkstationInfo1013{KeepConn: 1}}}},
		{1018, &wkst.WorkstationInfo{Value: &wkst.WorkstationInfo_1018{WorkstationInfo1018: &wkst.WorkstationInfo1018{SessTimeout: 65535}}}},
		{1046, &wkst.WorkstationInfo{Value: &wkst.WorkstationInfo_1046{WorkstationInfo1046: &wkst.WorkstationInfo1046{DormantFileLimit: 0xFFFFFFFF}}}},
	} {
		if r, _ := s.SetInfo(admin, &wkst.SetInfoRequest{Level: c.level, WorkstationInfo: c.info}); r.Return != 0 {
			t.Fatalf("level %d: 0x%x", c.level, r.Return)
		}
	}
	// Level 502 of NetrWkstaGetInfo reads them back, also after a restart.
	reopened, err := OpenSettings(path)
	if err != nil {
		t.Fatal(err)
	}
	s2 := New(Config{Names: ipc.StaticNames{NetBIOS: "H"}, Settings: reopened, Logger: quietLogger()})
	r, _ := s2.GetInfo(admin, &wkst.GetInfoRequest{Level: 502})
	i := r.WorkstationInfo.GetValue().(*wkst.WorkstationInfo502)
	if i.KeepConn != 1 || i.MaxCmds != 60 || i.SessTimeout != 65535 || i.DormantFileLimit != 0xFFFFFFFF {
		t.Fatalf("level 502 after restart: %+v", i)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("settings file: %v %v", fi, err)
	}
	for _, bad := range []string{"{", `{"version":2,"settings":{}}`, `{"version":1,"settings":{"keep_connection":0,"max_commands":50,"session_timeout":60}}`} {
		os.WriteFile(path, []byte(bad), 0o600)
		if _, err := OpenSettings(path); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// staticUsers is a UserSource with fixed users.
type staticUsers []ActiveUser

func (u staticUsers) ActiveUsers(context.Context) ([]ActiveUser, error) {
	return append([]ActiveUser(nil), u...), nil
}

type failingUsers struct{}

func (failingUsers) ActiveUsers(context.Context) ([]ActiveUser, error) {
	return nil, errors.New("utmp unreadable")
}

func userEnumReq(level, prefMax, resume uint32) *wkst.UserEnumRequest {
	return &wkst.UserEnumRequest{UserInfo: emptyUserEnum(&wkst.WorkstationUserEnum{Level: level}), PreferredMaximumLength: prefMax, Resume: resume}
}

func userNames(t *testing.T, r *wkst.UserEnumResponse) []string {
	t.Helper()
	var out []string
	switch v := r.UserInfo.WorkstationUserInfo.GetValue().(type) {
	case *wkst.WorkstationUserInfo0Container:
		for _, u := range v.Buffer {
			out = append(out, u.UserName)
		}
		if int(v.EntriesRead) != len(v.Buffer) {
			t.Errorf("EntriesRead %d for %d entries", v.EntriesRead, len(v.Buffer))
		}
	case *wkst.WorkstationUserInfo1Container:
		for _, u := range v.Buffer {
			out = append(out, u.UserName+"@"+u.LogonDomain+"/"+u.LogonServer)
		}
	}
	return out
}

// NetrWkstaUserEnum (MS-WKST 3.2.4.3): administrators only, levels 0 and
// 1, users in logon-number order, pagination with ERROR_MORE_DATA and a
// ResumeHandle holding the logon number of the last user returned.
func TestUserEnumRules(t *testing.T) {
	t0 := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	users := staticUsers{
		{Key: "c", Name: "carol", Since: t0.Add(2 * time.Minute)},
		{Key: "a", Name: "alice", Since: t0},
		{Key: "b", Name: "bob", Domain: "EXAMPLE", Since: t0.Add(time.Minute)},
	}
	s := New(Config{Names: ipc.StaticNames{NetBIOS: "wkhost"}, Users: users, Logger: quietLogger()})
	admin := callCtx(adminIdentity)
	if r, _ := s.UserEnum(callCtx(userIdentity), userEnumReq(0, maxPreferredLength, 0)); r.Return != cDenied {
		t.Errorf("<35> non-administrator: 0x%x", r.Return)
	}
	if r, _ := s.UserEnum(callCtx(anonIdentity), userEnumReq(0, maxPreferredLength, 0)); r.Return != cDenied {
		t.Errorf("anonymous: 0x%x", r.Return)
	}
	if r, _ := s.UserEnum(admin, &wkst.UserEnumRequest{UserInfo: &wkst.WorkstationUserEnum{Level: 2}}); r.Return != cLevel {
		t.Errorf("level 2: 0x%x", r.Return)
	}
	r, _ := s.UserEnum(admin, userEnumReq(0, maxPreferredLength, 0))
	if got := fmt.Sprint(userNames(t, r)); r.Return != 0 || r.TotalEntries != 3 || got != "[alice bob carol]" || r.Resume != 0 {
		t.Fatalf("MAX_PREFERRED_LENGTH: 0x%x total %d %s resume %d", r.Return, r.TotalEntries, got, r.Resume)
	}
	r, _ = s.UserEnum(admin, userEnumReq(1, maxPreferredLength, 0))
	if got := fmt.Sprint(userNames(t, r)); got != "[alice@WKHOST/WKHOST bob@EXAMPLE/WKHOST carol@WKHOST/WKHOST]" {
		t.Fatalf("level 1: %s", got)
	}
	// A buffer for one entry at a time: ERROR_MORE_DATA, one user, the
	// resume handle moving on; TotalEntries counts from the resume
	// position.
	var seen []string
	resume := uint32(0)
	for i := 0; i < 5; i++ {
		r, _ := s.UserEnum(admin, userEnumReq(0, 20, resume))
		seen = append(seen, userNames(t, r)...)
		if r.TotalEntries != uint32(3-i) {
			t.Errorf("page %d: TotalEntries %d", i, r.TotalEntries)
		}
		if r.Return == 0 {
			break
		}
		if r.Return != cMoreData || r.Resume <= resume {
			t.Fatalf("page %d: 0x%x resume %d", i, r.Return, r.Resume)
		}
		resume = r.Resume
	}
	if fmt.Sprint(seen) != "[alice bob carol]" {
		t.Fatalf("paged: %v", seen)
	}
	// A buffer too small for even one entry still returns one, so the
	// enumeration makes progress.
	if r, _ := s.UserEnum(admin, userEnumReq(1, 1, 0)); r.Return != cMoreData || len(userNames(t, r)) != 1 {
		t.Errorf("tiny buffer: 0x%x %v", r.Return, userNames(t, r))
	}
	// Logon numbers are kept while the users stay (<36>): alice leaving
	// does not make bob's number point elsewhere; a new logon gets a
	// higher number.
	first, _ := s.UserEnum(admin, userEnumReq(0, 20, 0))
	s.cfg.Users = staticUsers{users[0], users[2], {Key: "d", Name: "dave", Since: t0}}
	r, _ = s.UserEnum(admin, userEnumReq(0, maxPreferredLength, first.Resume))
	if got := fmt.Sprint(userNames(t, r)); got != "[bob carol dave]" {
		t.Fatalf("after a change, resuming after alice: %s", got)
	}
	// Level 102 counts the same users.
	g, _ := s.GetInfo(admin, &wkst.GetInfoRequest{Level: 102})
	if n := g.WorkstationInfo.GetValue().(*wkst.WorkstationInfo102).LoggedOnUsers; n != 3 {
		t.Errorf("logged-on users at level 102: %d", n)
	}
	s.cfg.Users = failingUsers{}
	if r, _ := s.UserEnum(admin, userEnumReq(0, maxPreferredLength, 0)); r.Return != errInternalError {
		t.Errorf("failing source: 0x%x", r.Return)
	}
}

// HostUsers reads a utmp file written by util-linux's utmpdump and the
// SMB sessions it is given.
func TestHostUsers(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "utmp")
	if err := writeUtmp(path, "[7] [01234] [ts/0] [alice   ] [pts/0       ] [10.1.2.3            ] [10.1.2.3       ] [2024-05-01T10:20:30,123456+00:00]\n"); err != nil {
		t.Fatal(err)
	}
	h := HostUsers{Utmp: path, Sessions: func() []ActiveUser { return []ActiveUser{{Key: "smb:1", Name: "bob"}} }}
	users, err := h.ActiveUsers(context.Background())
	if err != nil || len(users) != 2 || users[0].Name != "alice" || users[1].Name != "bob" {
		t.Fatalf("%+v %v", users, err)
	}
	users, err = HostUsers{Utmp: filepath.Join(dir, "none")}.ActiveUsers(context.Background())
	if err != nil || len(users) != 0 {
		t.Fatalf("no utmp: %+v %v", users, err)
	}
}

func transportEnumReq(level, prefMax, resume uint32) *wkst.TransportEnumRequest {
	return &wkst.TransportEnumRequest{TransportInfo: &wkst.WorkstationTransportEnum{Level: level,
		WorkstationTransportInfo: &wkst.WorkstationTransportEnum_WorkstationTransportInfo{Value: &wkst.WorkstationTransportInfo_Level0{Level0: &wkst.WorkstationTransportInfo0Container{}}}},
		PreferredMaximumLength: prefMax, Resume: resume}
}

func transports(r *wkst.TransportEnumResponse) []*wkst.WorkstationTransportInfo0 {
	return r.TransportInfo.WorkstationTransportInfo.GetValue().(*wkst.WorkstationTransportInfo0Container).Buffer
}

// NetrWkstaTransportEnum (MS-WKST 3.2.4.4) over fixed interfaces.
func TestTransportEnumRules(t *testing.T) {
	ifs := []hostinfo.Interface{
		{Name: "lo", Loopback: true, Addrs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/8")}},
		{Name: "eth0", MAC: []byte{0x02, 0xfc, 0, 0, 0, 1}, Addrs: []netip.Prefix{netip.MustParsePrefix("192.0.2.2/24")}},
		{Name: "eth1", MAC: []byte{0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}, Addrs: []netip.Prefix{netip.MustParsePrefix("198.51.100.7/24")}},
	}
	src := HostTransports{
		Interfaces: func() ([]hostinfo.Interface, error) { return ifs, nil },
		Connections: func() []netip.Addr {
			return []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("192.0.2.2")}
		},
	}
	s := New(Config{Names: ipc.StaticNames{NetBIOS: "H"}, Transports: src, Logger: quietLogger()})
	if r, _ := s.TransportEnum(callCtx(userIdentity), transportEnumReq(1, maxPreferredLength, 0)); r.Return != cLevel {
		t.Errorf("level 1: 0x%x", r.Return)
	}
	// <38>: no access check, anonymous callers included.
	r, _ := s.TransportEnum(callCtx(anonIdentity), transportEnumReq(0, maxPreferredLength, 0))
	ts := transports(r)
	if r.Return != 0 || r.TotalEntries != 3 || len(ts) != 3 {
		t.Fatalf("all: 0x%x %d %d", r.Return, r.TotalEntries, len(ts))
	}
	if ts[0].TransportAddress != "000000000000" || ts[1].TransportAddress != "02FC00000001" || ts[2].TransportAddress != "AABBCCDDEEFF" {
		t.Errorf("addresses %q %q %q", ts[0].TransportAddress, ts[1].TransportAddress, ts[2].TransportAddress)
	}
	if ts[0].NumberOfVCS != 1 || ts[1].NumberOfVCS != 1 || ts[2].NumberOfVCS != 0 || ts[0].WANIsh != 1 {
		t.Errorf("VCs/wan_ish %+v %+v %+v", ts[0], ts[1], ts[2])
	}
	if ts[1].TransportName != TransportName("eth0") || !strings.HasPrefix(ts[1].TransportName, `\Device\NetBT_Tcpip_{`) || len(ts[1].TransportName) != len(`\Device\NetBT_Tcpip_{00000000-0000-0000-0000-000000000000}`) {
		t.Errorf("name %q", ts[1].TransportName)
	}
	if TransportName("eth0") == TransportName("eth1") || TransportName("eth0") != TransportName("eth0") {
		t.Error("transport names not stable and distinct")
	}
	// Paging: NERR_BufTooSmall, TotalEntries 0 (<40>), the resume handle
	// the index of the next transport (<37>, <39>).
	var names []string
	resume := uint32(0)
	for i := 0; i < 5; i++ {
		r, _ := s.TransportEnum(callCtx(userIdentity), transportEnumReq(0, 100, resume))
		for _, t := range transports(r) {
			names = append(names, t.TransportAddress)
		}
		if r.Return == 0 {
			if r.TotalEntries != 1 {
				t.Errorf("last page TotalEntries %d", r.TotalEntries)
			}
			break
		}
		if r.Return != cBufTooSmall || r.TotalEntries != 0 || r.Resume != resume+1 {
			t.Fatalf("page %d: 0x%x total %d resume %d", i, r.Return, r.TotalEntries, r.Resume)
		}
		resume = r.Resume
	}
	if fmt.Sprint(names) != "[000000000000 02FC00000001 AABBCCDDEEFF]" {
		t.Fatalf("paged: %v", names)
	}
	if r, _ := s.TransportEnum(callCtx(userIdentity), transportEnumReq(0, maxPreferredLength, 99)); r.Return != 0 || len(transports(r)) != 0 {
		t.Errorf("resume past the end: 0x%x %d", r.Return, len(transports(r)))
	}
}

// NetrWkstaTransportAdd/Del (MS-WKST 3.2.4.5, 3.2.4.6; <41>, <43>).
func TestTransportAddDelRules(t *testing.T) {
	s := New(Config{Names: ipc.StaticNames{NetBIOS: "H"}, Logger: quietLogger()})
	for _, c := range []struct {
		rule string
		id   ipc.Identity
		lvl  uint32
		want uint32
	}{
		{"level other than 0", adminIdentity, 1, cLevel},
		{"<41> administrator", adminIdentity, 0, cFunction},
		{"non-administrator", userIdentity, 0, cDenied},
		{"anonymous", anonIdentity, 0, cDenied},
	} {
		r, _ := s.TransportAdd(callCtx(c.id), &wkst.TransportAddRequest{Level: c.lvl, TransportInfo: &wkst.WorkstationTransportInfo0{TransportName: "x"}, ErrorParameter: 7})
		if r.Return != c.want || r.ErrorParameter != 7 {
			t.Errorf("TransportAdd %s: 0x%x %d", c.rule, r.Return, r.ErrorParameter)
		}
	}
	for _, c := range []struct {
		rule  string
		id    ipc.Identity
		force uint32
		want  uint32
	}{
		{"ForceLevel 3", adminIdentity, 3, cParam},
		{"<43> administrator", adminIdentity, 2, cFunction},
		{"non-administrator", userIdentity, 0, cDenied},
	} {
		if r, _ := s.TransportDelete(callCtx(c.id), &wkst.TransportDeleteRequest{TransportName: "x", ForceLevel: c.force}); r.Return != c.want {
			t.Errorf("TransportDel %s: 0x%x", c.rule, r.Return)
		}
	}
}

// The Use methods answer as for a network caller, who has no entry in the
// UseTable (MS-WKST 3.2.4.7–3.2.4.10).
func TestUseRules(t *testing.T) {
	s := New(Config{Names: ipc.StaticNames{NetBIOS: "H"}, Logger: quietLogger()})
	admin, user, anon := callCtx(adminIdentity), callCtx(userIdentity), callCtx(anonIdentity)
	use1 := func(remote string) *wkst.UseInfo {
		return &wkst.UseInfo{Value: &wkst.UseInfo_1{UseInfo1: &wkst.UseInfo1{Local: "X:", Remote: remote}}}
	}
	for _, c := range []struct {
		rule string
		ctx  context.Context
		lvl  uint32
		info *wkst.UseInfo
		want uint32
	}{
		{"anonymous", anon, 1, use1(`\\srv\share`), cDenied},
		{"level 0, as Windows answers a remote caller", user, 0, &wkst.UseInfo{Value: &wkst.UseInfo_0{UseInfo0: &wkst.UseInfo0{Local: "X:", Remote: `\\srv\share`}}}, cLevel},
		{"level 4", admin, 4, use1(`\\srv\share`), cLevel},
		{"not a UNC path", user, 1, use1(`srv\share`), cParam},
		{"remote call", user, 1, use1(`\\srv\share`), cNotImpl},
	} {
		if r, _ := s.UseAdd(c.ctx, &wkst.UseAddRequest{Level: c.lvl, Info: c.info}); r.Return != c.want {
			t.Errorf("NetrUseAdd %s: 0x%x, want 0x%x", c.rule, r.Return, c.want)
		}
	}
	for _, c := range []struct {
		rule string
		ctx  context.Context
		lvl  uint32
		name string
		want uint32
	}{
		{"anonymous", anon, 0, "X:", cDenied},
		{"level 4", user, 4, "X:", cLevel},
		{"empty UseName", user, 0, "", cParam},
		{"no connection of the caller", admin, 3, `\\srv\IPC$`, cUseNotFound},
	} {
		if r, _ := s.UseGetInfo(c.ctx, &wkst.UseGetInfoRequest{UseName: c.name, Level: c.lvl}); r.Return != c.want {
			t.Errorf("NetrUseGetInfo %s: 0x%x, want 0x%x", c.rule, r.Return, c.want)
		}
		force := c.lvl
		if c.lvl == 3 {
			force = 2
		}
		if r, _ := s.UseDelete(c.ctx, &wkst.UseDeleteRequest{UseName: c.name, ForceLevel: force}); r.Return != c.want {
			t.Errorf("NetrUseDel %s: 0x%x, want 0x%x", c.rule, r.Return, c.want)
		}
	}
	for _, c := range []struct {
		ctx  context.Context
		lvl  uint32
		want uint32
	}{{anon, 0, cDenied}, {user, 3, cLevel}, {user, 2, cSuccess}, {admin, 0, cSuccess}} {
		r, _ := s.UseEnum(c.ctx, &wkst.UseEnumRequest{Info: &wkst.UseEnum{Level: c.lvl}, PreferredMaximumLength: maxPreferredLength})
		if r.Return != c.want || r.TotalEntries != 0 {
			t.Errorf("NetrUseEnum level %d: 0x%x total %d", c.lvl, r.Return, r.TotalEntries)
		}
	}
}

type fixedStats Statistics

func (f fixedStats) Statistics(context.Context) (Statistics, error) { return Statistics(f), nil }

// NetrWorkstationStatisticsGet (MS-WKST 3.2.4.11).
func TestStatisticsGetRules(t *testing.T) {
	start := time.Unix(1700000000, 0)
	s := New(Config{Names: ipc.StaticNames{NetBIOS: "H"}, Statistics: fixedStats{Start: start, BytesReceived: 1024, SMBsReceived: 9,
		BytesTransmitted: 512, SMBsTransmitted: 9, ReadOperations: 3, WriteOperations: 2, Sessions: 1, UseCount: 2}, Logger: quietLogger()})
	for _, c := range []struct {
		rule          string
		id            ipc.Identity
		level, option uint32
		want          uint32
	}{
		{"Level other than 0", adminIdentity, 1, 0, cLevel},
		{"Options other than 0", adminIdentity, 0, 1, cParam},
		{"<54> anonymous", anonIdentity, 0, 0, cDenied},
		{"<54> standard user", userIdentity, 0, 0, cSuccess},
	} {
		if r, _ := s.WorkstationStatisticsGet(callCtx(c.id), &wkst.WorkstationStatisticsGetRequest{ServiceName: "ignored", Level: c.level, Options: c.option}); r.Return != c.want {
			t.Errorf("%s: 0x%x", c.rule, r.Return)
		}
	}
	r, _ := s.WorkstationStatisticsGet(callCtx(adminIdentity), &wkst.WorkstationStatisticsGetRequest{})
	b := r.Buffer
	if b.StatisticsStartTime.QuadPart != 1700000000 || b.BytesReceived.QuadPart != 1024 || b.SMBsTransmitted.QuadPart != 9 ||
		b.ReadOperations != 3 || b.WriteOperations != 2 || b.Sessions != 1 || b.UseCount != 2 || b.PagingReadBytesRequested.QuadPart != 0 {
		t.Errorf("buffer %+v", b)
	}
	// Without a source: the start of the service, zero counters.
	s2 := New(Config{Names: ipc.StaticNames{NetBIOS: "H"}, Logger: quietLogger()})
	r, _ = s2.WorkstationStatisticsGet(callCtx(userIdentity), &wkst.WorkstationStatisticsGetRequest{})
	if r.Return != 0 || r.Buffer.StatisticsStartTime.QuadPart < time.Now().Add(-time.Minute).Unix() || r.Buffer.BytesReceived.QuadPart != 0 {
		t.Errorf("default: %+v", r.Buffer)
	}
	// HostStatistics reads the kernel client's file.
	path := filepath.Join(t.TempDir(), "Stats")
	os.WriteFile(path, []byte("CIFS Session: 1\nShare (unique mount targets): 1\n1) \\\\fs\\s\nSMBs: 5\nBytes read: 100  Bytes written: 50\nReads: 2 sent 0 failed\n"), 0o644)
	st, err := HostStatistics{Start: start, CIFSStats: path}.Statistics(context.Background())
	if err != nil || st.SMBsReceived != 5 || st.BytesReceived != 100 || st.BytesTransmitted != 50 || st.ReadOperations != 2 || st.Sessions != 1 || !st.Start.Equal(start) {
		t.Errorf("HostStatistics: %+v %v", st, err)
	}
}

// writeUtmp writes a utmp file with util-linux's utmpdump -r from its
// text form: records as login(1) and sshd write them, by a tool nobody
// here wrote.
func writeUtmp(path, text string) error {
	tool, err := exec.LookPath("utmpdump")
	if err != nil {
		return fmt.Errorf("utmpdump (util-linux) not installed: %w", err)
	}
	cmd := exec.Command(tool, "-r")
	cmd.Stdin = strings.NewReader(text)
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("utmpdump -r: %w", err)
	}
	return os.WriteFile(path, out, 0o644)
}

// A client that sends no ResumeHandle (a NULL [unique] pointer, as
// impacket's hNetrWkstaUserEnum does) gets none back, at NDR and NDR64:
// the response ends with a NULL pointer and the return value, and the
// client's decoder finds the return value where it looks for it.
func TestNullResumeHandleStaysNull(t *testing.T) {
	s := New(Config{Names: ipc.StaticNames{NetBIOS: "WKHOST"}, Users: staticUsers{{Key: "a", Name: "admin"}}, Logger: quietLogger()})
	h := Interfaces(s)[0].Handle
	for _, ndr64 := range []bool{false, true} {
		resp := map[bool][]byte{}
		ptr := 4
		if ndr64 {
			ptr = 8
		}
		for _, resumeNull := range []bool{false, true} {
			req := userEnumReq(1, maxPreferredLength, 0)
			var stub []byte
			if ndr64 {
				stub, _ = ndr.Marshal64(req)
			} else {
				stub, _ = ndr.Marshal(req)
			}
			if resumeNull {
				// The request ends with the pointer and its uint32 referent.
				stub = append(stub[:len(stub)-ptr-4], make([]byte, ptr)...)
			}
			r := dcerpc.NewStubReader(stub, nil)
			if ndr64 {
				r = dcerpc.NewNDR64StubReader(stub)
			}
			op, err := h(callCtx(adminIdentity), 2, r)
			if err != nil {
				t.Fatalf("NDR64 %v null %v: %v", ndr64, resumeNull, err)
			}
			if resp[resumeNull], err = dcerpc.MarshalResponse(op, ndr64); err != nil {
				t.Fatal(err)
			}
		}
		with, without := resp[false], resp[true]
		// [pointer][uint32][return] against [NULL][return].
		if len(without) != len(with)-4 || string(without[:len(without)-ptr-4]) != string(with[:len(with)-ptr-8]) ||
			string(without[len(without)-ptr-4:len(without)-4]) != string(make([]byte, ptr)) ||
			string(with[len(with)-ptr-8:len(with)-8]) == string(make([]byte, ptr)) ||
			string(without[len(without)-4:]) != string(with[len(with)-4:]) {
			t.Errorf("NDR64 %v:\n with a ResumeHandle    % x\n without a ResumeHandle % x", ndr64, with[len(with)-20:], without[len(without)-16:])
		}
	}
}
