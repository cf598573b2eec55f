package joinlogic

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"strconv"
	"strings"

	wkcrypto "github.com/wkssvcd/wkssvcd/crypto"
)

// Provisioning an offline domain join (djoin /provision,
// NetProvisionComputerAccount): the computer account of another machine is
// created (or, asked to, reset) through the same phases as an online
// join's, and what that machine needs to join without a network is
// returned; the caller writes it into a provisioning file. Nothing local
// changes here.

// The directory methods provisioning needs besides Session's. The LDAP
// directory implements them; a Session without them makes the request
// that needs them fail with ERROR_NOT_SUPPORTED.

// AccountIdentityReader reads the identity of a directory object.
type AccountIdentityReader interface {
	// AccountIdentity returns objectSid and objectGUID of dn, in their
	// string forms.
	AccountIdentity(ctx context.Context, dn string) (sid, guid string, err error)
}

// GroupMembership adds accounts to groups and takes them out again.
type GroupMembership interface {
	// AddGroupMember adds memberDN to the group named group: a DN, or the
	// group's sAMAccountName. It returns the group's DN, and added=false
	// when memberDN was a member already. A missing group is
	// NERR_GroupNotFound.
	AddGroupMember(ctx context.Context, group, memberDN string) (groupDN string, added bool, err error)
	// RemoveGroupMember takes memberDN out of groupDN (rollback); a
	// member already gone is not an error.
	RemoveGroupMember(ctx context.Context, groupDN, memberDN string) error
}

// GPO is a group policy object (MS-GPOL 2.3) as the directory lists it.
type GPO struct {
	DN          string
	Name        string // the GPO's GUID in braces (its cn)
	DisplayName string
	FileSysPath string // gPCFileSysPath, the UNC path of its files on SYSVOL
}

// PolicyFinder finds group policy objects.
type PolicyFinder interface {
	// FindGPO returns the GPO whose displayName is name, under
	// CN=Policies,CN=System of the domain. None is ERROR_FILE_NOT_FOUND;
	// several are ERROR_DUP_NAME.
	FindGPO(ctx context.Context, name string) (GPO, error)
}

// CACertificateReader reads the certification authorities the enterprise
// publishes.
type CACertificateReader interface {
	// RootCACertificates returns the DER cACertificate values of the
	// objects under CN=Certification Authorities,CN=Public Key
	// Services,CN=Services of the configuration naming context (the
	// enterprise's trusted root CAs, MS-ADTS 6.1.1.2.1.1.3); none is an
	// empty list.
	RootCACertificates(ctx context.Context) ([][]byte, error)
}

// SysvolReader reads files of a domain's SYSVOL share (a GPO's
// Registry.pol).
type SysvolReader interface {
	// ReadFile reads the file at path, a UNC path under a GPO's
	// gPCFileSysPath, from the controller dc as cred. A missing file is
	// an error wrapping fs.ErrNotExist.
	ReadFile(ctx context.Context, dc DCInfo, cred Credentials, path string) ([]byte, error)
}

// ProvisionConfig configures a Provisioner.
type ProvisionConfig struct {
	// Directory reaches the domain. Required.
	Directory Directory
	// Sysvol reads policy files for MachinePolicy. Default nil:
	// MachinePolicy answers ERROR_NOT_SUPPORTED.
	Sysvol SysvolReader
	// Rand is the source of machine passwords. Default crypto/rand.Reader.
	Rand io.Reader
	// Logger receives a record per provisioned machine and the causes of
	// failures; it never sees a password. Default slog.Default().
	Logger *slog.Logger
}

// Provisioner provisions offline domain joins.
type Provisioner struct {
	cfg ProvisionConfig
	log *slog.Logger
}

// NewProvisioner returns a Provisioner for cfg.
func NewProvisioner(cfg ProvisionConfig) (*Provisioner, error) {
	if cfg.Directory == nil {
		return nil, errors.New("joinlogic: ProvisionConfig.Directory is required")
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Provisioner{cfg: cfg, log: cfg.Logger}, nil
}

// ProvisionSession is one bound session with a controller, for provisioning
// one machine or many.
type ProvisionSession struct {
	p  *Provisioner
	ds *domainSession
}

// Open locates a writable controller of domain (dcName, when not empty,
// names the one to use, as djoin /dcname does) and binds to it as cred.
// Its errors wrap the Code they surface as.
func (p *Provisioner) Open(ctx context.Context, domain, dcName string, cred Credentials) (*ProvisionSession, error) {
	domain = strings.TrimSpace(domain)
	if c := domainSyntax(domain); c != NERR_Success {
		return nil, fmt.Errorf("%w: domain %q", c, domain)
	}
	if strings.EqualFold(domain, builtinDomainName) {
		return nil, fmt.Errorf("%w: %s is not a domain", NERR_InvalidComputer, domain)
	}
	dc, err := locateDomain(ctx, p.cfg.Directory, LocateRequest{Domain: domain, DCName: dcName, Writable: true})
	if err != nil {
		return nil, err
	}
	ds, err := bindDomain(ctx, p.cfg.Directory, dc, cred)
	if err != nil {
		return nil, err
	}
	p.log.DebugContext(ctx, "joinlogic: provisioning session", "dc", dc.DCName, "domain", ds.info.DNSName)
	return &ProvisionSession{p: p, ds: ds}, nil
}

// Close ends the session.
func (s *ProvisionSession) Close(ctx context.Context) { s.ds.close(ctx, s.p.log) }

// Domain is the domain's identity as the controller reported it.
func (s *ProvisionSession) Domain() DomainInfo { return s.ds.info }

// DC is the controller the session is bound to.
func (s *ProvisionSession) DC() DCInfo { return s.ds.dc }

// MachineRequest is one machine to provision (djoin /provision's
// per-machine options).
type MachineRequest struct {
	// Name is the computer's NetBIOS name (djoin /machine).
	Name string
	// OU is the container of the account (djoin /machineou); "" means the
	// domain's computers container.
	OU string
	// Reuse resets an existing account instead of failing with
	// NERR_UserExists (djoin /reuse, NETSETUP_PROVISION_REUSE_ACCOUNT).
	Reuse bool
	// DefaultPassword sets the machine password to the name in lower case
	// (djoin /defpwd, NETSETUP_PROVISION_USE_DEFAULT_PASSWORD) instead of
	// a random one.
	DefaultPassword bool
	// DNSHostName is the computer's dNSHostName. Default: the name in
	// lower case, ".", the DNS name of the domain; a single label is
	// followed by the domain's DNS name too.
	DNSHostName string
	// Groups are groups (sAMAccountName or DN) the account is added to.
	Groups []string
}

// ProvisionedMachine is what a provisioned machine needs to join.
type ProvisionedMachine struct {
	Name           string // as requested
	SAMAccountName string
	DN             string
	DNSHostName    string
	Created        bool // false when an existing account was reset
	Password       Secret
	Domain         DomainInfo
	DC             DCInfo
	SID            string // the account's objectSid
	RID            uint32
	GUID           string // the account's objectGUID
	// KVNO is msDS-KeyVersionNumber after the password was set: the key
	// version a keytab of the account needs.
	KVNO   uint32
	Groups []string // DNs of the groups the account was added to
}

// LogValue keeps the password out of logs.
func (m *ProvisionedMachine) LogValue() slog.Value {
	return slog.GroupValue(slog.String("dn", m.DN), slog.Bool("created", m.Created), slog.String("sid", m.SID),
		slog.Uint64("kvno", uint64(m.KVNO)), slog.Any("groups", m.Groups))
}

// Provision creates (or with r.Reuse resets) the computer account of r
// and returns what the machine needs, with undo, which puts the directory
// back (the account deleted, or its attributes restored, and the group
// memberships taken out) for a caller that cannot deliver the result. A
// reset account's former password cannot be restored. On failure nothing
// is left changed. Errors wrap the Code they surface as.
func (s *ProvisionSession) Provision(ctx context.Context, r MachineRequest) (*ProvisionedMachine, func(context.Context) error, error) {
	m, undo, err := s.provision(ctx, r)
	if err != nil {
		c := codeOf(err, ERROR_GEN_FAILURE)
		s.p.log.InfoContext(ctx, "joinlogic: provisioning failed", "machine", r.Name, "code", c.String(), "cause", err)
		return nil, nil, err
	}
	s.p.log.InfoContext(ctx, "joinlogic: provisioned", "machine", r.Name, "account", m)
	return m, undo, nil
}

func (s *ProvisionSession) provision(ctx context.Context, r MachineRequest) (*ProvisionedMachine, func(context.Context) error, error) {
	name := strings.ToUpper(strings.TrimSuffix(r.Name, "$"))
	if c := machineSyntax(name); c != NERR_Success {
		return nil, nil, fmt.Errorf("%w: machine name %q", c, r.Name)
	}
	ds := s.ds
	if strings.EqualFold(name, ds.info.NetBIOSName) || strings.EqualFold(name, ds.dc.DomainFlat) {
		return nil, nil, fmt.Errorf("%w: the machine name %s is the domain's name", ERROR_INVALID_DOMAINNAME, name)
	}
	ids, ok := ds.sess.(AccountIdentityReader)
	if !ok {
		return nil, nil, fmt.Errorf("%w: the directory cannot read account identities", ERROR_NOT_SUPPORTED)
	}
	var groups GroupMembership
	if len(r.Groups) > 0 {
		if groups, ok = ds.sess.(GroupMembership); !ok {
			return nil, nil, fmt.Errorf("%w: the directory cannot change group memberships", ERROR_NOT_SUPPORTED)
		}
	}
	var pw string
	if r.DefaultPassword {
		pw = strings.ToLower(name)
	} else {
		var err error
		if pw, err = wkcrypto.GenerateMachinePassword(s.p.cfg.Rand); err != nil {
			return nil, nil, fmt.Errorf("%w: generating a machine password: %w", ERROR_INTERNAL_ERROR, err)
		}
	}
	dnsName := joinedDNSHostName(r.DNSHostName, name, ds.domainDNSName())
	if c := dnsMachineSyntax(dnsName); c != NERR_Success {
		return nil, nil, fmt.Errorf("%w: DNS host name %q", c, dnsName)
	}

	var undo undoStack
	rb := ds.rollback()
	done := false
	defer func() {
		if !done {
			undo.run(ctx, s.p.log)
			rb.close(ctx, s.p.log)
		}
	}()
	req := accountRequest{
		Name:     name,
		OU:       r.OU,
		Existing: refuseExisting,
		Update:   ComputerUpdate{Password: pw, HostNames: true, DNSHostName: dnsName, SPNs: hostNames(name, dnsName)},
	}
	if r.Reuse {
		req.Existing = reuseExisting
	}
	acct, err := provisionAccount(ctx, ds, rb, &undo, req, nil)
	if err != nil {
		return nil, nil, err
	}
	sid, guid, err := ids.AccountIdentity(ctx, acct.DN)
	if err != nil {
		return nil, nil, causeErr(err, ERROR_GEN_FAILURE)
	}
	rid, ok := ridOf(sid, ds.info.SID)
	if !ok {
		return nil, nil, fmt.Errorf("%w: the account's SID %s is not in the domain %s", ERROR_GEN_FAILURE, sid, ds.info.SID)
	}
	kvno, err := ds.sess.KeyVersionNumber(ctx, acct.DN)
	if err != nil {
		return nil, nil, causeErr(err, ERROR_GEN_FAILURE)
	}
	m := &ProvisionedMachine{
		Name: r.Name, SAMAccountName: acct.SAMAccountName, DN: acct.DN, DNSHostName: dnsName, Created: acct.Created,
		Password: Secret(pw), Domain: ds.info, DC: ds.dc, SID: sid, RID: rid, GUID: guid, KVNO: kvno,
	}
	if m.SAMAccountName == "" {
		m.SAMAccountName = req.sam()
	}
	for _, g := range r.Groups {
		gdn, added, err := groups.AddGroupMember(ctx, g, acct.DN)
		if err != nil {
			return nil, nil, causeErr(err, ERROR_GEN_FAILURE)
		}
		if added {
			member := acct.DN
			undo.push("take the account out of "+gdn, func(ctx context.Context) error {
				return rb.do(ctx, func(s Session) error {
					gm, ok := s.(GroupMembership)
					if !ok {
						return ERROR_NOT_SUPPORTED
					}
					return gm.RemoveGroupMember(ctx, gdn, member)
				})
			})
		}
		m.Groups = append(m.Groups, gdn)
	}
	done = true
	revert := func(ctx context.Context) error {
		defer rb.close(ctx, s.p.log)
		if !undo.run(ctx, s.p.log) {
			return fmt.Errorf("%w: the directory could not be put back entirely for %s (see the log)", ERROR_GEN_FAILURE, acct.DN)
		}
		return nil
	}
	return m, revert, nil
}

// ridOf returns the last sub-authority of sid when sid is an account of
// the domain domainSID.
func ridOf(sid, domainSID string) (uint32, bool) {
	n := len(domainSID)
	if n == 0 || len(sid) <= n+1 || !strings.EqualFold(sid[:n], domainSID) || sid[n] != '-' {
		return 0, false
	}
	v, err := strconv.ParseUint(sid[n+1:], 10, 32)
	return uint32(v), err == nil
}

// PolicySettings are the registry settings of a GPO's computer part, read
// from its Machine\Registry.pol on SYSVOL.
type PolicySettings struct {
	GPO    GPO
	Source string // UNC path of the Registry.pol
	Data   []byte // the file; nil when the GPO has none
}

// MachinePolicy finds the GPO displayed as name and reads its computer
// registry settings file, <gPCFileSysPath>\Machine\Registry.pol, from the
// session's controller. A GPO without that file has no settings (Data
// nil).
func (s *ProvisionSession) MachinePolicy(ctx context.Context, name string) (*PolicySettings, error) {
	pf, ok := s.ds.sess.(PolicyFinder)
	if !ok {
		return nil, fmt.Errorf("%w: the directory cannot find group policy objects", ERROR_NOT_SUPPORTED)
	}
	if s.p.cfg.Sysvol == nil {
		return nil, fmt.Errorf("%w: no SYSVOL reader is configured", ERROR_NOT_SUPPORTED)
	}
	gpo, err := pf.FindGPO(ctx, name)
	if err != nil {
		return nil, causeErr(err, ERROR_FILE_NOT_FOUND)
	}
	if gpo.FileSysPath == "" {
		return nil, fmt.Errorf("%w: the GPO %q has no gPCFileSysPath", ERROR_FILE_NOT_FOUND, name)
	}
	src := strings.TrimRight(gpo.FileSysPath, `\`) + `\Machine\Registry.pol`
	data, err := s.p.cfg.Sysvol.ReadFile(ctx, s.ds.dc, s.ds.cred, src)
	if errors.Is(err, fs.ErrNotExist) {
		return &PolicySettings{GPO: gpo, Source: src}, nil
	}
	if err != nil {
		return nil, causeErr(err, ERROR_GEN_FAILURE)
	}
	return &PolicySettings{GPO: gpo, Source: src, Data: data}, nil
}

// RootCACertificates returns the enterprise's published root CA
// certificates (DER).
func (s *ProvisionSession) RootCACertificates(ctx context.Context) ([][]byte, error) {
	cr, ok := s.ds.sess.(CACertificateReader)
	if !ok {
		return nil, fmt.Errorf("%w: the directory cannot read CA certificates", ERROR_NOT_SUPPORTED)
	}
	certs, err := cr.RootCACertificates(ctx)
	if err != nil {
		return nil, causeErr(err, ERROR_GEN_FAILURE)
	}
	return certs, nil
}

// ParseAccountName reads an account given as DOMAIN\user, user@domain
// (a UPN) or user (the domain being joined).
func ParseAccountName(s string) (Account, error) {
	a, ok := parseAccountName(s)
	if !ok {
		return Account{}, fmt.Errorf("%w: account %q: want DOMAIN\\user, user@domain or user", ERROR_INVALID_PARAMETER, s)
	}
	return a, nil
}
