package wkssvc

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf16"

	wkst "github.com/oiweiwei/go-msrpc/msrpc/wkst/wkssvc/v1"

	"github.com/wkssvcd/wkssvcd/joinlogic"
	"github.com/wkssvcd/wkssvcd/wkssvc/hostinfo"
)

// ActiveUser is one user logged on to this computer: an entry of the
// "user list" of MS-WKST 3.2.1.
type ActiveUser struct {
	// Key identifies the logon for as long as it lasts.
	Key string
	// Name is the account name the user authenticated with (<7>).
	Name string
	// Domain is the logon domain; "" means this computer (local accounts).
	Domain string
	// Since is when the logon began; it orders the logon numbers.
	Since time.Time
}

// UserSource lists the users logged on now.
type UserSource interface {
	ActiveUsers(ctx context.Context) ([]ActiveUser, error)
}

// HostUsers is the UserSource of this host: the logins utmp records
// (terminals, ssh) and the users of the SMB sessions this server holds.
type HostUsers struct {
	// Utmp is the utmp file. Default hostinfo.DefaultUtmp.
	Utmp string
	// Sessions lists the users of the established SMB sessions; nil for
	// none. Anonymous sessions are not users and are left out here.
	Sessions func() []ActiveUser
}

// ActiveUsers reads utmp and the sessions.
func (h HostUsers) ActiveUsers(ctx context.Context) ([]ActiveUser, error) {
	path := h.Utmp
	if path == "" {
		path = hostinfo.DefaultUtmp
	}
	logins, err := hostinfo.ReadUtmp(path)
	if err != nil {
		return nil, err
	}
	users := make([]ActiveUser, 0, len(logins))
	for _, l := range logins {
		users = append(users, ActiveUser{Key: l.Key(), Name: l.User, Since: l.Time})
	}
	if h.Sessions != nil {
		users = append(users, h.Sessions()...)
	}
	return users, ctx.Err()
}

// logonNumbers gives every active user a logon number, as Windows does
// (MS-WKST <36>): numbers increase in the order the logons are first
// seen (by logon time among those seen together), and a user keeps its
// number for as long as it stays logged on, so a ResumeHandle holding
// the number of the last user returned stays meaningful between calls.
type logonNumbers struct {
	mu   sync.Mutex
	next uint32
	byID map[string]uint32
}

// numbered is an active user and its logon number.
type numbered struct {
	ActiveUser
	n uint32
}

// assign numbers users, forgets the logons that ended and returns the
// users in logon-number order.
func (l *logonNumbers) assign(users []ActiveUser) []numbered {
	slices.SortStableFunc(users, func(a, b ActiveUser) int {
		return cmp.Or(a.Since.Compare(b.Since), strings.Compare(a.Key, b.Key))
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byID == nil {
		l.byID = map[string]uint32{}
	}
	seen := make(map[string]bool, len(users))
	out := make([]numbered, 0, len(users))
	for _, u := range users {
		if seen[u.Key] {
			continue
		}
		seen[u.Key] = true
		n, ok := l.byID[u.Key]
		if !ok {
			l.next++
			n = l.next
			l.byID[u.Key] = n
		}
		out = append(out, numbered{u, n})
	}
	for k := range l.byID {
		if !seen[k] {
			delete(l.byID, k)
		}
	}
	slices.SortFunc(out, func(a, b numbered) int { return cmp.Compare(a.n, b.n) })
	return out
}

// maxPreferredLength is MAX_PREFERRED_LENGTH (MS-WKST 2.2.1.3): return
// everything.
const maxPreferredLength = 0xFFFFFFFF

// Sizes used to fill PreferredMaximumLength: what one entry takes in the
// buffer a Windows server allocates (the structure, 64-bit pointers,
// then its strings in UTF-16 with their terminators).
const ptrSize = 8

func wstrLen(s string) int { return 2 * (len(utf16.Encode([]rune(s))) + 1) }

// fit returns how many of the entries, whose buffer sizes are sizes,
// fit in prefMax bytes: all of them for MAX_PREFERRED_LENGTH, and at
// least one, so that an enumeration always makes progress.
func fit(sizes []int, prefMax uint32) int {
	if prefMax == maxPreferredLength {
		return len(sizes)
	}
	total, n := 0, 0
	for _, sz := range sizes {
		if total+sz > int(prefMax) && n > 0 {
			break
		}
		total += sz
		n++
	}
	return n
}

// UserEnum is NetrWkstaUserEnum (MS-WKST 3.2.4.3): administrators only
// (<35>), levels 0 and 1, the users logged on in logon-number order,
// PreferredMaximumLength honoured with ERROR_MORE_DATA, and ResumeHandle
// the logon number of the last user returned (<36>).
func (s *Server) UserEnum(ctx context.Context, req *wkst.UserEnumRequest) (*wkst.UserEnumResponse, error) {
	resp := &wkst.UserEnumResponse{UserInfo: emptyUserEnum(req.UserInfo), Resume: req.Resume}
	if !canChange(caller(ctx)) {
		resp.Return = errAccessDenied
		return resp, nil
	}
	if req.UserInfo == nil || req.UserInfo.Level > 1 {
		resp.Return = errInvalidLevel
		return resp, nil
	}
	users, err := s.activeUsers(ctx)
	if err != nil {
		s.log.Warn("wkssvc: listing the logged-on users", "err", err)
		resp.Return = errInternalError
		return resp, nil
	}
	// The users after the resume position (<36>).
	i := 0
	for i < len(users) && users[i].n <= req.Resume {
		i++
	}
	rest := users[i:]
	computer := strings.ToUpper(s.cfg.Names.NetBIOSName())
	level := req.UserInfo.Level
	sizes := make([]int, len(rest))
	for k, u := range rest {
		if level == 0 {
			sizes[k] = ptrSize + wstrLen(u.Name)
		} else {
			sizes[k] = 4*ptrSize + wstrLen(u.Name) + wstrLen(cmp.Or(u.Domain, computer)) + wstrLen("") + wstrLen(computer)
		}
	}
	n := fit(sizes, req.PreferredMaximumLength)
	page := rest[:n]
	if level == 0 {
		c := &wkst.WorkstationUserInfo0Container{EntriesRead: uint32(n)}
		for _, u := range page {
			c.Buffer = append(c.Buffer, &wkst.WorkstationUserInfo0{UserName: u.Name})
		}
		resp.UserInfo = &wkst.WorkstationUserEnum{Level: 0, WorkstationUserInfo: &wkst.WorkstationUserEnum_WorkstationUserInfo{
			Value: &wkst.WorkstationUserInfo_Level0{Level0: c}}}
	} else {
		c := &wkst.WorkstationUserInfo1Container{EntriesRead: uint32(n)}
		for _, u := range page {
			// OtherDomains is empty (<13>); the logon server of local
			// accounts is this computer.
			c.Buffer = append(c.Buffer, &wkst.WorkstationUserInfo1{UserName: u.Name,
				LogonDomain: cmp.Or(u.Domain, computer), LogonServer: computer})
		}
		resp.UserInfo = &wkst.WorkstationUserEnum{Level: 1, WorkstationUserInfo: &wkst.WorkstationUserEnum_WorkstationUserInfo{
			Value: &wkst.WorkstationUserInfo_Level1{Level1: c}}}
	}
	resp.TotalEntries = uint32(len(rest))
	if n < len(rest) {
		resp.Resume = page[n-1].n
		resp.Return = uint32(joinlogic.ERROR_MORE_DATA)
		return resp, nil
	}
	resp.Resume = 0
	resp.Return = errSuccess
	return resp, nil
}

// activeUsers lists the users with their logon numbers.
func (s *Server) activeUsers(ctx context.Context) ([]numbered, error) {
	if s.cfg.Users == nil {
		return nil, nil
	}
	users, err := s.cfg.Users.ActiveUsers(ctx)
	if err != nil {
		return nil, err
	}
	return s.logons.assign(users), nil
}
