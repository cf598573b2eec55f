package netlogon

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/oiweiwei/go-msrpc/dcerpc"
	"github.com/oiweiwei/go-msrpc/msrpc/nrpc/logon/v1"
	"github.com/oiweiwei/go-msrpc/ssp"
	"github.com/oiweiwei/go-msrpc/ssp/credential"
	"github.com/oiweiwei/go-msrpc/ssp/gssapi"
	nl "github.com/oiweiwei/go-msrpc/ssp/netlogon"

	_ "github.com/oiweiwei/go-msrpc/msrpc/erref/ntstatus"
)

// Machine is the machine account the channel authenticates as.
type Machine struct {
	// Domain is the domain's NetBIOS name, DomainFQDN its DNS name.
	Domain, DomainFQDN string
	// Computer is this computer's NetBIOS name (without '$').
	Computer string
	// Account is the computer account's sAMAccountName ("NAME$").
	Account string
	// Password is the current machine password; Previous the one before
	// the last change ("" when unknown).
	Password, Previous string
}

// DC is the domain controller to talk to.
type DC struct {
	Name    string // its host name; "\\Name" is the LogonServer
	Address string // the address to connect to
}

// Config configures a Client.
type Config struct {
	// Machine returns the machine account of the saved membership; ok is
	// false while the host is not joined. Required.
	Machine func() (m Machine, ok bool)
	// Locate finds a domain controller of domain. Required.
	Locate func(ctx context.Context, domain string) (DC, error)
	// Timeout bounds one attempt to build a channel or make a call.
	// Default 30 s.
	Timeout time.Duration
	// Logger receives channel records; never passwords or keys. Default:
	// discard.
	Logger *slog.Logger
}

// Negotiate flags the channel asks for (MS-NRPC 3.1.4.2): AES (required
// since the 2020-2023 hardening), strong keys, secure RPC, password set 2,
// validation levels other than 2 (G), and the trust flags of a member.
const wantFlags = nl.CapAES_SHA2 | nl.CapStrongKey | nl.CapSecureRPC | nl.CapNetrServerPasswordSet2 |
	nl.CapNotReqValidationLevel2 | nl.CapCrossForestTrust | nl.CapTransitiveTrust | nl.CapNetrLogonGetDomainInfo |
	nl.CapConcurrentRPC | nl.CapGenericPassthrough | nl.CapRODCPassThrough

// Errors.
var (
	ErrNotJoined = errors.New("netlogon: the host is not joined to a domain")
	// ErrAccessDenied: the DC refused the machine account's password.
	ErrAccessDenied = errors.New("netlogon: the domain controller refused the machine account's credentials")
	// ErrUnreachable: no channel could be built or used (network, DC down).
	ErrUnreachable = errors.New("netlogon: domain controller unreachable")
)

// Client keeps the secure channel. It is safe for concurrent use; calls
// on the channel are made one at a time.
type Client struct {
	cfg Config
	log *slog.Logger

	mu sync.Mutex // guards ch and serializes calls
	ch *channel
}

// channel is one established secure channel.
type channel struct {
	conn     dcerpc.Conn
	cli      logon.LogonClient
	cred     *nl.SecureCredential
	dc       DC
	machine  Machine // as it was when the channel was built
	password string  // the password that worked
	flags    uint32  // negotiated
	// sctx is the security context the connection was dialled with; calls
	// run in contexts derived from it. stop ends the connection's life.
	sctx context.Context
	stop context.CancelFunc
}

// stepContext returns a context carrying the values of base (go-msrpc's
// security context) that ends when deadline's context ends.
func stepContext(base, deadline context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(base)
	stop := context.AfterFunc(deadline, cancel)
	return ctx, func() { stop(); cancel() }
}

// New returns a Client for cfg.
func New(cfg Config) *Client {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Client{cfg: cfg, log: cfg.Logger}
}

// Close drops the channel.
func (c *Client) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropLocked()
}

// Reset drops the channel so that the next call builds a new one (after a
// password change or an unjoin).
func (c *Client) Reset() { c.Close() }

func (c *Client) dropLocked() {
	if c.ch != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c.ch.conn.Close(ctx)
		cancel()
		c.ch.stop()
		c.ch = nil
	}
}

// withChannel runs fn on the channel, building one first when needed, and
// once more on a fresh channel when fn fails on a channel that may be
// stale (a transport error, or STATUS_ACCESS_DENIED, MS-NRPC 3.4.5.3.2).
func (c *Client) withChannel(ctx context.Context, fn func(ctx context.Context, ch *channel) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, ok := c.cfg.Machine()
	if !ok {
		c.dropLocked()
		return ErrNotJoined
	}
	if c.ch != nil && (c.ch.machine.Account != m.Account || c.ch.machine.Password != m.Password ||
		!strings.EqualFold(c.ch.machine.Domain, m.Domain)) {
		c.dropLocked() // the membership changed under the channel
	}
	fresh := false
	for attempt := 0; attempt < 2; attempt++ {
		if c.ch == nil {
			ch, err := c.build(ctx, m)
			if err != nil {
				return err
			}
			c.ch, fresh = ch, true
		}
		tctx, cancelT := context.WithTimeout(ctx, c.cfg.Timeout)
		cctx, cancel := stepContext(c.ch.sctx, tctx)
		err := fn(cctx, c.ch)
		cancel()
		cancelT()
		if err == nil || !retryable(err) || fresh {
			if err != nil && retryable(err) {
				c.dropLocked()
			}
			return err
		}
		c.log.Info("netlogon: the secure channel failed; building a new one", "err", err)
		c.dropLocked()
	}
	return nil
}

// retryable reports errors after which a new channel may succeed.
func retryable(err error) bool {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Status == statusAccessDenied
	}
	return errors.Is(err, ErrUnreachable)
}

// build establishes a channel to a DC of m's domain (MS-NRPC 3.1.4.1),
// with m's password and then, if the DC refuses it, the previous one.
func (c *Client) build(ctx context.Context, m Machine) (*channel, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	domain := m.DomainFQDN
	if domain == "" {
		domain = m.Domain
	}
	dc, err := c.cfg.Locate(ctx, domain)
	if err != nil {
		return nil, fmt.Errorf("%w: locating a DC of %s: %v", ErrUnreachable, domain, err)
	}
	return c.buildAt(ctx, m, dc)
}

// buildAt establishes a channel to dc.
func (c *Client) buildAt(ctx context.Context, m Machine, dc DC) (*channel, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	ch, err := c.connect(ctx, m, dc, m.Password)
	if errors.Is(err, ErrAccessDenied) && m.Previous != "" && m.Previous != m.Password {
		c.log.Warn("netlogon: the DC refused the current machine password; trying the previous one", "dc", dc.Name)
		ch, err = c.connect(ctx, m, dc, m.Previous)
	}
	if err != nil {
		return nil, err
	}
	c.log.Info("netlogon: secure channel established", "dc", dc.Name, "addr", dc.Address,
		"account", m.Account, "flags", fmt.Sprintf("0x%08x", ch.flags), "previous_password", ch.password != m.Password)
	return ch, nil
}

// connect binds to the DC's Netlogon endpoint, authenticates with
// password and switches the association to sealed schannel.
func (c *Client) connect(ctx context.Context, m Machine, dc DC, password string) (*channel, error) {
	cred := credential.NewFromPassword(m.Account, password, credential.Workstation(strings.ToUpper(m.Computer)), credential.Domain(m.Domain))
	// The connection lives as long as the channel, not as long as ctx:
	// go-msrpc ties its sender and receiver to the context it was dialled
	// with. Each step below is bounded by ctx's deadline instead.
	life, stop := context.WithCancel(context.Background())
	sctx := gssapi.NewSecurityContext(life, gssapi.WithCredential(cred), gssapi.WithMechanismFactory(ssp.Netlogon))
	step, cancel := stepContext(sctx, ctx)
	defer cancel()
	addr := dc.Address
	if addr == "" {
		addr = dc.Name
	}
	port, err := netlogonPort(step, addr)
	if err != nil {
		stop()
		return nil, fmt.Errorf("%w: %s: endpoint mapper: %v", ErrUnreachable, addr, err)
	}
	conn, err := dcerpc.Dial(sctx, "ncacn_ip_tcp:"+addr+"["+port+"]")
	if err != nil {
		stop()
		return nil, fmt.Errorf("%w: %s: %v", ErrUnreachable, addr, err)
	}
	// go-msrpc binds with the context it is given for the connection's
	// life too, so the bind and the schannel switch run in sctx; a
	// watchdog closes the connection when ctx's deadline passes first.
	watch := context.AfterFunc(step, func() { conn.Close(context.Background()) })
	ch, err := c.authenticate(sctx, step, conn, m, dc, cred)
	if !watch() && err == nil {
		err = fmt.Errorf("%w: %s: timed out", ErrUnreachable, addr)
	}
	if err != nil {
		conn.Close(context.Background())
		stop()
		return nil, err
	}
	ch.password, ch.sctx, ch.stop = password, sctx, stop
	return ch, nil
}

func (c *Client) authenticate(life, ctx context.Context, conn dcerpc.Conn, m Machine, dc DC, cred credential.Credential) (*channel, error) {
	cli, err := logon.NewLogonClient(life, conn, dcerpc.WithInsecure())
	if err != nil {
		return nil, fmt.Errorf("%w: binding to Netlogon: %v", ErrUnreachable, err)
	}
	cfg := &nl.Config{Capabilities: wantFlags, Credential: cred, ClientChallenge: make([]byte, 8)}
	if _, err := rand.Read(cfg.ClientChallenge); err != nil {
		return nil, err
	}
	primary := `\\` + dc.Name
	computer := strings.ToUpper(m.Computer)
	// MS-NRPC 3.1.4.1: the client challenge, then the server's.
	chal, err := cli.RequestChallenge(ctx, &logon.RequestChallengeRequest{
		PrimaryName: primary, ComputerName: computer, ClientChallenge: &logon.Credential{Data: cfg.ClientChallenge},
	})
	if err != nil {
		return nil, callError("NetrServerReqChallenge", nil, err)
	}
	cfg.ServerChallenge = chal.ServerChallenge.Data
	sc, err := nl.NewSecureCredential(ctx, cfg)
	if err != nil {
		return nil, err
	}
	clientCred, err := sc.Encrypt(ctx, cfg.ClientChallenge)
	if err != nil {
		return nil, err
	}
	auth, err := cli.Authenticate3(ctx, &logon.Authenticate3Request{
		PrimaryName:       primary,
		AccountName:       m.Account,
		SecureChannelType: logon.SecureChannelTypeWorkstationSecureChannel,
		ComputerName:      computer,
		ClientCredential:  &logon.Credential{Data: clientCred},
		NegotiateFlags:    uint32(cfg.Capabilities),
	})
	if err != nil {
		var ret int32
		if auth != nil {
			ret = auth.Return
		}
		if se := statusOf(ret, err); se != nil && (se.Status == statusAccessDenied || se.Status == statusNoTrustSAMAccount) {
			return nil, fmt.Errorf("%w (%s)", ErrAccessDenied, se.Error())
		}
		return nil, callError("NetrServerAuthenticate3", nil, err)
	}
	if nl.Cap(auth.NegotiateFlags)&nl.CapAES_SHA2 == 0 {
		return nil, fmt.Errorf("netlogon: the DC does not offer AES on the secure channel (flags 0x%08x)", auth.NegotiateFlags)
	}
	// The server's credential proves the DC knows the same password.
	want, err := sc.Encrypt(ctx, cfg.ServerChallenge)
	if err != nil {
		return nil, err
	}
	if auth.ServerCredential == nil || !bytes.Equal(want, auth.ServerCredential.Data) {
		return nil, fmt.Errorf("%w: the DC's server credential does not verify", ErrAccessDenied)
	}
	cfg.Capabilities = nl.Cap(auth.NegotiateFlags)
	// Sealed schannel from here on (MS-NRPC 3.3): every call is encrypted.
	if err := cli.AlterContext(life, dcerpc.WithSeal(), dcerpc.WithSecurityConfig(cfg)); err != nil {
		return nil, fmt.Errorf("%w: switching to a sealed schannel association: %v", ErrUnreachable, err)
	}
	return &channel{conn: conn, cli: cli, cred: sc, dc: dc, machine: m, flags: auth.NegotiateFlags}, nil
}
