package main

import (
	"errors"
	"strings"
	"time"
)

// groupMember holds the options of a domain member: who administers it,
// how often its machine password changes.
const groupMember = "member"

// DefaultMachinePasswordMaxAge is how old the machine password may grow
// before the daemon changes it: 30 days, as Windows members do
// (Domain member: Maximum machine account password age).
const DefaultMachinePasswordMaxAge = 30 * 24 * time.Hour

// memberSettings are the settings of a domain member.
type memberSettings struct {
	// AdminGroups are domain groups or accounts, by name or SID, whose
	// members are local administrators while the host is joined, beside
	// the domain's Domain Admins (its SID + 512). Default none.
	AdminGroups stringList
	// MachinePasswordMaxAge is the age at which the daemon changes the
	// machine password; 0 never. Default DefaultMachinePasswordMaxAge.
	MachinePasswordMaxAge time.Duration
	// RotationRetry is how long the daemon waits after a failed password
	// change (the DC away) before it tries again. Default 10 minutes.
	RotationRetry time.Duration
}

// DefaultRotationRetry is the wait after a failed password change.
const DefaultRotationRetry = 10 * time.Minute

// memberOptions are the options of group "member".
func memberOptions() []*option {
	return []*option{
		{name: "admin-group", arg: "NAME|SID", group: groupMember,
			usage: "domain group or account (sAMAccountName or SID) whose members administer this host while it is joined, beside Domain Admins (repeatable)",
			bind:  func(c *config) value { return &principalList{&c.Member.AdminGroups} }},
		{name: "machine-password-max-age", arg: "DURATION", group: groupMember, def: DefaultMachinePasswordMaxAge.String(),
			defText: "720h (30 days, as Windows)",
			usage:   "change the machine password once it is this old (0: never); `wkssvcd rotate-password` changes it now",
			bind:    func(c *config) value { return &durationValue{p: &c.Member.MachinePasswordMaxAge} }},
		{name: "machine-password-retry", arg: "DURATION", group: groupMember, def: DefaultRotationRetry.String(),
			usage: "wait this long after a failed machine password change (the DC away) before trying again",
			bind:  func(c *config) value { return &durationValue{p: &c.Member.RotationRetry} }},
	}
}

// principalList is a repeatable NAME|SID option.
type principalList struct{ l *stringList }

func (p *principalList) Set(s string) error {
	s = strings.TrimSpace(s)
	if isSID(s) || strings.HasPrefix(strings.ToUpper(s), "S-1-") {
		if !isSID(s) {
			return errors.New("not a valid SID (S-1-5-21-...-512)")
		}
	} else if s == "" || strings.ContainsAny(s, "\"/[]:;|=+*?<>,") {
		return errors.New("want a group or account name (e.g. 'EXAMPLE\\Server Admins') or a SID")
	}
	return p.l.Set(s)
}
func (p *principalList) get() any { return p.l.get() }
func (p *principalList) reset()   { p.l.reset() }

// isSID reports whether s is a SID in string form (MS-DTYP 2.4.2.1).
func isSID(s string) bool {
	parts := strings.Split(strings.ToUpper(s), "-")
	if len(parts) < 3 || parts[0] != "S" || parts[1] != "1" {
		return false
	}
	for _, p := range parts[2:] {
		if p == "" || len(p) > 10 {
			return false
		}
		for _, r := range p {
			if r < '0' || r > '9' {
				return false
			}
		}
	}
	return true
}
