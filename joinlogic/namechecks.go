package joinlogic

import (
	"context"
	"strings"
	"sync"
	"time"
)

// NameCheckConfig governs the name checks remote callers may ask for:
// NetrValidateName2/3 (MS-WKST 3.2.4.16, 3.2.4.25) and NetrGetJoinableOUs2
// (3.2.4.17). Windows refuses them to every caller that is not local
// (<89>, <97>, <153>: RPC_E_REMOTE_DISABLED), and every caller of this
// server is remote, so that is the default. With AllowRemote, the checks
// run as the specification describes; those that reach the network (a
// domain name's existence: DNS SRV and A queries and an LDAP ping to the
// servers they name; the joinable OUs: an LDAP bind and search) are for
// administrators only, at most Burst of them at once and then one per
// Interval, each bounded by Timeout, so that a caller cannot use the
// server to probe the network.
type NameCheckConfig struct {
	// AllowRemote turns remote name checks on. Default false.
	AllowRemote bool
	// Burst is how many network name checks may run back to back.
	// Default 5.
	Burst int
	// Interval is how often one more is allowed after the burst. Default
	// 6 s (10 a minute).
	Interval time.Duration
	// Timeout bounds one network name check. Default 10 s.
	Timeout time.Duration
}

// Defaults of NameCheckConfig.
const (
	DefaultNameCheckBurst    = 5
	DefaultNameCheckInterval = 6 * time.Second
	DefaultNameCheckTimeout  = 10 * time.Second
)

func (c NameCheckConfig) withDefaults() NameCheckConfig {
	if c.Burst <= 0 {
		c.Burst = DefaultNameCheckBurst
	}
	if c.Interval <= 0 {
		c.Interval = DefaultNameCheckInterval
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultNameCheckTimeout
	}
	return c
}

// RPC_S_SERVER_TOO_BUSY answers a network name check over the rate limit.
const RPC_S_SERVER_TOO_BUSY Code = 0x000006BB

// checkRemoteNameCheck is the "caller is not local" statement of MS-WKST
// 3.2.4.16 and 3.2.4.17.
func (j *Joiner) checkRemoteNameCheck(remote bool) Code {
	if remote && !j.cfg.NameChecks.AllowRemote {
		return RPC_E_REMOTE_DISABLED
	}
	return NERR_Success
}

// networkNameCheck admits one name check that reaches the network: for a
// remote caller, administrators only and within the rate limit. The
// returned context bounds it; cancel must be called when the code is
// NERR_Success.
func (j *Joiner) networkNameCheck(ctx context.Context, remote bool, c Caller) (context.Context, context.CancelFunc, Code) {
	if remote {
		if code := checkChangeConfig(c); code != NERR_Success {
			return nil, nil, code
		}
		if !j.nameChecks.take() {
			j.log.WarnContext(ctx, "joinlogic: network name check refused: rate limit", "caller", c.Domain+`\`+c.User)
			return nil, nil, RPC_S_SERVER_TOO_BUSY
		}
	}
	lctx, cancel := context.WithTimeout(ctx, j.cfg.NameChecks.Timeout)
	return lctx, cancel, NERR_Success
}

// tokenBucket allows burst events at once, then one per interval.
type tokenBucket struct {
	mu       sync.Mutex
	burst    float64
	interval time.Duration
	now      func() time.Time
	tokens   float64
	last     time.Time
}

func newTokenBucket(burst int, interval time.Duration, now func() time.Time) *tokenBucket {
	return &tokenBucket{burst: float64(burst), interval: interval, now: now, tokens: float64(burst)}
}

// take uses one token if there is one.
func (b *tokenBucket) take() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.now()
	if !b.last.IsZero() && t.After(b.last) {
		b.tokens = min(b.burst, b.tokens+float64(t.Sub(b.last))/float64(b.interval))
	}
	b.last = t
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// JoinableOUsRequest is NetrGetJoinableOUs2 (MS-WKST 3.2.4.17).
type JoinableOUsRequest struct {
	Protseq string
	Caller  Caller
	// Remote is true when the caller is not on this computer.
	Remote bool
	// Domain is DomainNameParam: the domain whose OUs are listed (nil for
	// NULL on the wire).
	Domain *string
	// AccountName is nil for NULL: the caller's own account.
	AccountName *string
	Password    PasswordSource
}

// OUSearcher is implemented by a Session that can list the organizational
// units its credentials may create computer objects in (MS-WKST
// 3.2.4.17: every organizationalUnit of the default naming context whose
// allowedChildClassesEffective holds "computer"). An OU search on a
// Session without it is ERROR_NOT_SUPPORTED.
type OUSearcher interface {
	JoinableOUs(ctx context.Context) ([]string, error)
}

// JoinableOUs processes NetrGetJoinableOUs2 (MS-WKST 3.2.4.17) in the
// specification's order.
func (j *Joiner) JoinableOUs(ctx context.Context, r JoinableOUsRequest) ([]string, Code) {
	ous, c := j.joinableOUs(ctx, r)
	j.log.InfoContext(ctx, "joinlogic: joinable OUs", r.Caller.logAttr(), "ous", len(ous), "result", c.String())
	return ous, c
}

func (j *Joiner) joinableOUs(ctx context.Context, r JoinableOUsRequest) ([]string, Code) {
	if !isNamedPipe(r.Protseq) {
		return nil, RPC_S_PROTSEQ_NOT_SUPPORTED
	}
	if c := j.checkRemoteNameCheck(r.Remote); c != NERR_Success {
		return nil, c
	}
	if c := checkQuery(r.Caller); c != NERR_Success {
		return nil, c
	}
	pw, _, c := decryptPassword(r.Password)
	if c != NERR_Success {
		// <95>: a password that does not decode is ERROR_INVALID_PARAMETER
		// here.
		return nil, ERROR_INVALID_PARAMETER
	}
	if j.cfg.IsDomainController {
		return nil, NERR_InvalidAPI // <98>
	}
	if r.Domain == nil || strings.TrimSpace(*r.Domain) == "" {
		return nil, ERROR_INVALID_PARAMETER
	}
	dir := j.cfg.Directory
	if dir == nil {
		return nil, ERROR_NO_SUCH_DOMAIN
	}
	ctx, cancel, c := j.networkNameCheck(ctx, r.Remote, r.Caller)
	if c != NERR_Success {
		return nil, c
	}
	defer cancel()
	domain, dcName := splitDomainParam(*r.Domain)
	dc, err := dir.Locate(ctx, LocateRequest{Domain: domain, DCName: dcName, Writable: true})
	if err != nil {
		return nil, codeOf(err, ERROR_NO_SUCH_DOMAIN)
	}
	acct, c := callerAccount(r.AccountName, r.Caller)
	if c != NERR_Success {
		return nil, c
	}
	sess, err := dir.Bind(ctx, dc, Credentials{Account: acct, Password: pw})
	if err != nil {
		// "If this fails, the server MUST return NERR_DefaultJoinRequired."
		j.log.InfoContext(ctx, "joinlogic: joinable OUs: bind refused", "err", err)
		return nil, NERR_DefaultJoinRequired
	}
	defer func() {
		if err := sess.Close(); err != nil {
			j.log.WarnContext(ctx, "joinlogic: closing directory session", "err", err)
		}
	}()
	s, ok := sess.(OUSearcher)
	if !ok {
		return nil, ERROR_NOT_SUPPORTED
	}
	ous, err := s.JoinableOUs(ctx)
	if err != nil {
		return nil, codeOf(err, ERROR_GEN_FAILURE)
	}
	return ous, NERR_Success
}
