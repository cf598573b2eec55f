package main

import (
	"net/netip"
	"path/filepath"
	"strconv"
	"time"

	"github.com/wkssvcd/wkssvcd/joinlogic"
	"github.com/wkssvcd/wkssvcd/server/smb2"
	"github.com/wkssvcd/wkssvcd/wkssvc"
	"github.com/wkssvcd/wkssvcd/wkssvc/hostinfo"
)

// workstation holds the settings of the workstation interface that are
// not about joining: what it reports of the host and how far it lets
// remote callers make it check names.
type workstation struct {
	// AllowRemoteNameChecks lets remote callers use NetrValidateName2/3
	// and NetrGetJoinableOUs2, which Windows refuses them
	// (RPC_E_REMOTE_DISABLED, MS-WKST <89>, <97>, <153>). Default false.
	AllowRemoteNameChecks bool
	// NameCheckBurst and NameCheckInterval limit the checks that reach
	// the network (joinlogic.NameCheckConfig).
	NameCheckBurst    int
	NameCheckInterval time.Duration
	// Utmp is the file of the logins NetrWkstaUserEnum lists, with the
	// users of the SMB sessions. Default /var/run/utmp.
	Utmp string
}

// settingsFile keeps what NetrWkstaSetInfo changes.
const settingsFile = "workstation-settings.json"

// workstationOptions are the workstation settings as options.
func workstationOptions() []*option {
	return []*option{
		{name: "allow-remote-name-checks", group: groupServer, def: "false",
			usage: "serve NetrValidateName2/3 and NetrGetJoinableOUs2 to remote callers, which Windows refuses (RPC_E_REMOTE_DISABLED); the checks that reach the network (DNS and LDAP) are then for administrators only and rate-limited",
			bind:  func(c *config) value { return (*boolFlag)(&c.Workstation.AllowRemoteNameChecks) }},
		{name: "name-check-burst", arg: "N", group: groupServer, def: strconv.Itoa(joinlogic.DefaultNameCheckBurst),
			usage: "with --allow-remote-name-checks: at most N name checks that reach the network back to back, then one per --name-check-interval",
			bind:  func(c *config) value { return &intValue{p: &c.Workstation.NameCheckBurst, min: 1, max: 1 << 20} }},
		{name: "name-check-interval", arg: "DURATION", group: groupServer, def: joinlogic.DefaultNameCheckInterval.String(),
			usage: "with --allow-remote-name-checks: one more network name check allowed per DURATION after the burst",
			bind:  func(c *config) value { return &durationValue{p: &c.Workstation.NameCheckInterval} }},
		{name: "utmp", arg: "FILE", group: groupServer, def: hostinfo.DefaultUtmp,
			usage: "utmp `FILE` of the logins NetrWkstaUserEnum lists, with the users of the SMB sessions",
			bind:  func(c *config) value { return (*stringValue)(&c.Workstation.Utmp) }},
	}
}

// nameChecks is the joinlogic configuration of the name checks.
func (w workstation) nameChecks() joinlogic.NameCheckConfig {
	return joinlogic.NameCheckConfig{AllowRemote: w.AllowRemoteNameChecks, Burst: w.NameCheckBurst, Interval: w.NameCheckInterval}
}

// hostSources are the wkssvc sources of host facts. smb is filled in once
// the SMB server exists (it is built after the interfaces it serves).
type hostSources struct {
	smb *smb2.Server
}

// sessionUsers lists the users of the established, non-anonymous SMB
// sessions: local accounts, so their logon domain is this computer.
func (h *hostSources) sessionUsers() []wkssvc.ActiveUser {
	if h.smb == nil {
		return nil
	}
	var out []wkssvc.ActiveUser
	for _, c := range h.smb.Connections() {
		for _, s := range c.Sessions {
			if s.Identity.Anonymous || s.Identity.User == "" {
				continue
			}
			out = append(out, wkssvc.ActiveUser{Key: "smb:" + strconv.FormatUint(s.ID, 16) + ":" + c.Remote.String(),
				Name: s.Identity.User, Since: s.Since})
		}
	}
	return out
}

// connectionAddrs are the local addresses of the SMB connections.
func (h *hostSources) connectionAddrs() []netip.Addr {
	if h.smb == nil {
		return nil
	}
	var out []netip.Addr
	for _, c := range h.smb.Connections() {
		if ap, err := netip.ParseAddrPort(c.Local.String()); err == nil {
			out = append(out, ap.Addr())
		}
	}
	return out
}

// workstationConfig fills the host-facing parts of the wkssvc
// configuration.
func (w workstation) apply(cfg *config, wk *wkssvc.Config, h *hostSources, started time.Time) error {
	settings, err := wkssvc.OpenSettings(filepath.Join(cfg.StateDir, settingsFile))
	if err != nil {
		return err
	}
	wk.Settings = settings
	wk.Users = wkssvc.HostUsers{Utmp: w.Utmp, Sessions: h.sessionUsers}
	wk.Transports = wkssvc.HostTransports{Connections: h.connectionAddrs}
	wk.Statistics = wkssvc.HostStatistics{Start: started}
	return nil
}
