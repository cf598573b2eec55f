package e2e

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oiweiwei/go-msrpc/msrpc/wkst/wkssvc/v1"
	"github.com/oiweiwei/go-msrpc/smb2"

	"github.com/wkssvcd/wkssvcd/joinlogic"
)

// writeUtmp writes a utmp file as login(1) and sshd leave it, with
// util-linux's utmpdump -r (a writer nobody here wrote).
func writeUtmp(t *testing.T, path string, records ...string) {
	t.Helper()
	cmd := exec.Command(lookPath(t, "utmpdump"), "-r")
	cmd.Stdin = strings.NewReader(strings.Join(records, "\n") + "\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("utmpdump -r: %v", err)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

func userEnumRequest(level, prefMax, resume uint32) *wkssvc.UserEnumRequest {
	info := &wkssvc.WorkstationUserEnum{Level: level, WorkstationUserInfo: &wkssvc.WorkstationUserEnum_WorkstationUserInfo{
		Value: &wkssvc.WorkstationUserInfo_Level0{Level0: &wkssvc.WorkstationUserInfo0Container{}}}}
	if level == 1 {
		info.WorkstationUserInfo.Value = &wkssvc.WorkstationUserInfo_Level1{Level1: &wkssvc.WorkstationUserInfo1Container{}}
	}
	return &wkssvc.UserEnumRequest{UserInfo: info, PreferredMaximumLength: prefMax, Resume: resume}
}

// NetrWkstaUserEnum lists the users logged on to the host: the logins of
// utmp (one written here as login(1) would) and the users of the SMB
// sessions the server holds; it paginates with a small
// PreferredMaximumLength, ERROR_MORE_DATA and the ResumeHandle; at NDR
// and NDR64, with go-msrpc and impacket.
func TestUserEnum(t *testing.T) {
	utmp := filepath.Join(t.TempDir(), "utmp")
	writeUtmp(t, utmp,
		"[7] [01234] [ts/0] [carol   ] [pts/0       ] [10.1.2.3            ] [10.1.2.3       ] [2024-05-01T10:20:30,000000+00:00]",
		"[7] [01240] [tty1] [dave    ] [tty1        ] [                    ] [0.0.0.0        ] [2024-05-01T10:21:00,000000+00:00]",
		"[8] [01300] [ts/1] [        ] [pts/1       ] [                    ] [0.0.0.0        ] [2024-05-01T10:22:00,000000+00:00]")
	d := startDaemon(t, "--utmp", utmp)
	eachSyntax(t, func(t *testing.T, s syntax) {
		c, err := dialMSRPC(t, d.host(), adminUser, adminPass, smb2.SMB311, false, s)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.cli.UserEnum(c.ctx, userEnumRequest(1, 0xFFFFFFFF, 0))
		if err != nil {
			t.Fatal(err)
		}
		all := resp.UserInfo.WorkstationUserInfo.GetValue().(*wkssvc.WorkstationUserInfo1Container).Buffer
		var names []string
		for _, u := range all {
			names = append(names, u.UserName)
			if u.LogonDomain != netbios || u.LogonServer != netbios {
				t.Errorf("user %+v: logon domain and server should be %s", u, netbios)
			}
		}
		// utmp's logins (older) come first: logon numbers follow logon time.
		if len(names) < 3 || names[0] != "carol" || names[1] != "dave" || !slices.Contains(names, adminUser) || resp.TotalEntries != uint32(len(names)) {
			t.Fatalf("level 1: %v total %d", names, resp.TotalEntries)
		}
		// A buffer for one entry a page.
		var paged []string
		resume := uint32(0)
		for i := 0; i < 20; i++ {
			r, err := c.cli.UserEnum(c.ctx, userEnumRequest(0, 16, resume))
			if r == nil {
				t.Fatalf("page %d: %v", i, err)
			}
			for _, u := range r.UserInfo.WorkstationUserInfo.GetValue().(*wkssvc.WorkstationUserInfo0Container).Buffer {
				paged = append(paged, u.UserName)
			}
			if r.Return == 0 {
				break
			}
			if r.Return != uint32(joinlogic.ERROR_MORE_DATA) || r.Resume <= resume || r.TotalEntries != uint32(len(names)-len(paged)+1) {
				t.Fatalf("page %d: %v resume %d total %d", i, joinlogic.Code(r.Return), r.Resume, r.TotalEntries)
			}
			resume = r.Resume
		}
		if !slices.Equal(paged, names) {
			t.Fatalf("paged %v, want %v", paged, names)
		}
		// Level 102 counts them.
		g, err := c.cli.GetInfo(c.ctx, &wkssvc.GetInfoRequest{Level: 102})
		if err != nil || g.WorkstationInfo.GetValue().(*wkssvc.WorkstationInfo102).LoggedOnUsers < 3 {
			t.Fatalf("level 102: %v %+v", err, g)
		}
	})
	// impacket 0.10's hNetrWkstaUserEnum, at NDR and NDR64.
	eachSyntax(t, func(t *testing.T, s syntax) {
		out, err := python(t, "impacket_wkst.py", d.host(), "445", "2.1", adminUser, adminPass, s.String())
		if err != nil {
			t.Fatalf("impacket: %v\n%s", err, out)
		}
		kv := parseKV(out)
		for _, level := range []string{"0", "1"} {
			users := strings.Split(strings.Fields(kv["users/"+level])[0], ",")
			if !slices.Contains(users, "carol") || !slices.Contains(users, "dave") || !slices.Contains(users, adminUser) {
				t.Errorf("impacket level %s: %v", level, users)
			}
		}
	})
}

// macs reads the hardware address of every interface from sysfs, the
// kernel's own account of them.
func macs(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	dirs, err := os.ReadDir("/sys/class/net")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join("/sys/class/net", d.Name(), "address"))
		if err != nil {
			continue
		}
		out[d.Name()] = strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(string(b)), ":", ""))
	}
	return out
}

// NetrWkstaTransportEnum lists one transport per interface that has an
// address, with its MAC address (sysfs says which); the loopback one
// counts this connection; at NDR and NDR64, paginated.
func TestTransportEnum(t *testing.T) {
	d := startDaemon(t)
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	sys := macs(t)
	for _, i := range ifs {
		if addrs, _ := i.Addrs(); len(addrs) > 0 {
			mac := sys[i.Name]
			if i.Flags&net.FlagLoopback != 0 || mac == "" {
				mac = "000000000000"
			}
			want[mac] = true
		}
	}
	eachSyntax(t, func(t *testing.T, s syntax) {
		c, err := dialMSRPC(t, d.host(), plainUser, plainPass, smb2.SMB311, false, s)
		if err != nil {
			t.Fatal(err)
		}
		req := func(prefMax, resume uint32) *wkssvc.TransportEnumRequest {
			return &wkssvc.TransportEnumRequest{TransportInfo: &wkssvc.WorkstationTransportEnum{
				WorkstationTransportInfo: &wkssvc.WorkstationTransportEnum_WorkstationTransportInfo{Value: &wkssvc.WorkstationTransportInfo_Level0{Level0: &wkssvc.WorkstationTransportInfo0Container{}}}},
				PreferredMaximumLength: prefMax, Resume: resume}
		}
		resp, err := c.cli.TransportEnum(c.ctx, req(0xFFFFFFFF, 0))
		if err != nil {
			t.Fatal(err)
		}
		ts := resp.TransportInfo.WorkstationTransportInfo.GetValue().(*wkssvc.WorkstationTransportInfo0Container).Buffer
		got := map[string]bool{}
		loopVCs := uint32(0)
		for _, tr := range ts {
			got[tr.TransportAddress] = true
			if !strings.HasPrefix(tr.TransportName, `\Device\NetBT_Tcpip_{`) || tr.WANIsh != 1 {
				t.Errorf("transport %+v", tr)
			}
			if tr.TransportAddress == "000000000000" {
				loopVCs += tr.NumberOfVCS
			}
		}
		if len(ts) != len(ifs)-countNoAddr(ifs) || len(got) != len(want) || resp.TotalEntries != uint32(len(ts)) {
			t.Fatalf("transports %d (addresses %v), want one per interface with an address (%v)", len(ts), got, want)
		}
		for mac := range want {
			if !got[mac] {
				t.Errorf("no transport with address %s", mac)
			}
		}
		if loopVCs < 1 {
			t.Errorf("the loopback transport counts %d connections; this one goes over it", loopVCs)
		}
		// One transport a page: NERR_BufTooSmall, TotalEntries 0 (<40>).
		var n int
		resume := uint32(0)
		for i := 0; i < 20; i++ {
			r, _ := c.cli.TransportEnum(c.ctx, req(1, resume))
			if r == nil {
				t.Fatal("no answer")
			}
			n += len(r.TransportInfo.WorkstationTransportInfo.GetValue().(*wkssvc.WorkstationTransportInfo0Container).Buffer)
			if r.Return == 0 {
				break
			}
			if r.Return != uint32(joinlogic.NERR_BufTooSmall) || r.TotalEntries != 0 || r.Resume != resume+1 {
				t.Fatalf("page %d: %v total %d resume %d", i, joinlogic.Code(r.Return), r.TotalEntries, r.Resume)
			}
			resume = r.Resume
		}
		if n != len(ts) {
			t.Fatalf("paged %d transports, want %d", n, len(ts))
		}
	})
}

func countNoAddr(ifs []net.Interface) int {
	n := 0
	for _, i := range ifs {
		if addrs, _ := i.Addrs(); len(addrs) == 0 {
			n++
		}
	}
	return n
}

// NetrWkstaSetInfo keeps its values in the state directory: level 502 of
// NetrWkstaGetInfo reads them back, also after a restart; out-of-range
// values get ERROR_INVALID_PARAMETER and the member's ParmErr.
func TestSetInfoPersists(t *testing.T) {
	d := startDaemon(t)
	eachSyntax(t, func(t *testing.T, s syntax) {
		c, err := dialMSRPC(t, d.host(), adminUser, adminPass, smb2.SMB311, false, s)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.cli.SetInfo(c.ctx, &wkssvc.SetInfoRequest{Level: 502, WorkstationInfo: &wkssvc.WorkstationInfo{Value: &wkssvc.WorkstationInfo_502{
			WorkstationInfo502: &wkssvc.WorkstationInfo502{KeepConn: 300, MaxCmds: 64, SessTimeout: 90, DormantFileLimit: 500}}}})
		if err != nil {
			t.Fatal(err)
		}
		r, err := c.cli.SetInfo(c.ctx, &wkssvc.SetInfoRequest{Level: 1018, WorkstationInfo: &wkssvc.WorkstationInfo{Value: &wkssvc.WorkstationInfo_1018{
			WorkstationInfo1018: &wkssvc.WorkstationInfo1018{SessTimeout: 59}}}, ErrorParameter: 99})
		if returnCodeAny(t, 0, err) != codeInvalidParameter || (r != nil && r.ErrorParameter != 18) {
			t.Fatalf("sess_timeout 59: %v %+v", err, r)
		}
	})
	d.stop(t)
	state := d.stateDir
	d = startDaemon(t, "--state-dir", state)
	c, err := dialMSRPC(t, d.host(), adminUser, adminPass, 0, false, ndr64)
	if err != nil {
		t.Fatal(err)
	}
	g, err := c.cli.GetInfo(c.ctx, &wkssvc.GetInfoRequest{Level: 502})
	if err != nil {
		t.Fatal(err)
	}
	if i := g.WorkstationInfo.GetValue().(*wkssvc.WorkstationInfo502); i.KeepConn != 300 || i.MaxCmds != 64 || i.SessTimeout != 90 || i.DormantFileLimit != 500 {
		t.Fatalf("level 502 after a restart: %+v", i)
	}
	if fi, err := os.Stat(filepath.Join(state, "workstation-settings.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("settings file: %v %v", fi, err)
	}
}

// NetrWorkstationStatisticsGet: the start of the service and zero
// counters on a host without the kernel SMB client.
func TestStatisticsGet(t *testing.T) {
	before := time.Now().Add(-2 * time.Second)
	d := startDaemon(t)
	eachSyntax(t, func(t *testing.T, s syntax) {
		c, err := dialMSRPC(t, d.host(), plainUser, plainPass, smb2.SMB311, false, s)
		if err != nil {
			t.Fatal(err)
		}
		r, err := c.cli.WorkstationStatisticsGet(c.ctx, &wkssvc.WorkstationStatisticsGetRequest{ServiceName: "LanmanWorkstation"})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Unix(r.Buffer.StatisticsStartTime.QuadPart, 0)
		if start.Before(before) || start.After(time.Now()) {
			t.Fatalf("StatisticsStartTime %v, the daemon started after %v", start, before)
		}
		if _, err := os.Stat("/proc/fs/cifs/Stats"); os.IsNotExist(err) && r.Buffer.BytesReceived.QuadPart != 0 {
			t.Errorf("BytesReceived %d without a kernel SMB client", r.Buffer.BytesReceived.QuadPart)
		}
	})
}
