package joinlogic

import (
	"context"
	"log/slog"
)

// The domain side of a join (MS-WKST 3.2.4.13.3, 3.2.4.14) is reached only
// through the interfaces below. Their methods return errors; an error that
// is (or wraps) a Code surfaces as that code, anything else as the code the
// state machine documents for the step. Every method takes a context and
// must honour its cancellation.

// Locator finds and validates domain controllers.
type Locator interface {
	// Locate finds a domain controller of req.Domain, as DsrGetDcNameEx2
	// does for MS-WKST 3.2.4.13.3. When req.DCName is set it validates that
	// named controller instead: asked first for a DNS-named and then for a
	// flat-named answer; if neither answer names req.DCName the error is
	// ERROR_INVALID_DOMAIN_ROLE. A domain that cannot be found or contacted
	// is ERROR_NO_SUCH_DOMAIN.
	Locate(ctx context.Context, req LocateRequest) (DCInfo, error)
}

// LocateRequest describes the controller a join needs.
type LocateRequest struct {
	// Domain is the NetBIOS or DNS name of the domain, as the caller gave it.
	Domain string
	// DCName, if not empty, is the controller the caller named
	// (DomainNameParam "DOMAIN\DC"); it is a NetBIOS or Internet host name.
	DCName string
	// Writable is true when the controller must be writable (flag J of
	// MS-NRPC 3.5.4.3.1); false for NETSETUP_JOIN_READONLY joins, which
	// accept a read-only DC.
	Writable bool
}

// DCInfo is what locating a controller yields (DOMAIN_CONTROLLER_INFOW,
// MS-NRPC 2.2.1.2.1, and the LDAP ping of MS-ADTS 6.3.3).
type DCInfo struct {
	DCName       string // host name of the controller (DNS form when known)
	DCAddress    string // address to connect to, e.g. "127.0.0.2"
	DomainDNS    string // DNS name of the domain
	DomainFlat   string // NetBIOS name of the domain
	ForestDNS    string // DNS name of the forest
	DomainGUID   string // GUID of the domain, in its string form
	DCSiteName   string // site of the controller
	ClientSite   string // site the controller places this client in
	ReadOnlyDC   bool   // the controller is an RODC
	GlobalCatlog bool   // the controller is a global catalog
	// Flags are the DS_* flags of the locator's answer (MS-ADTS 6.3.1.2,
	// the DOMAIN_CONTROLLER_INFOW Flags of MS-NRPC 2.2.1.2.1), which an
	// offline join file carries.
	Flags uint32 `json:",omitempty"`
}

// Credentials authenticate the join to the controller (MS-WKST 3.2.4.13.3:
// the security context of AccountName, with PasswordString). String and
// LogValue never show the password.
type Credentials struct {
	// Anonymous asks for an anonymous session (the NETSETUP_MACHINE_PWD_PASSED
	// fall-back of MS-WKST 3.2.4.13.3); the other fields are then empty.
	Anonymous bool
	// Account is the user to bind as. Account.Domain empty means the domain
	// being joined.
	Account Account
	// Password is PasswordString; empty when the wire pointer was NULL.
	Password string
}

// String describes the credentials without the password.
func (c Credentials) String() string {
	if c.Anonymous {
		return "anonymous"
	}
	if c.Account.UPN {
		return c.Account.User + "@" + c.Account.Domain + " password=[REDACTED]"
	}
	return c.Account.Domain + `\` + c.Account.User + " password=[REDACTED]"
}

// LogValue keeps the password out of structured logs.
func (c Credentials) LogValue() slog.Value { return slog.StringValue(c.String()) }

// GoString keeps the password out of %#v.
func (c Credentials) GoString() string { return "Credentials{" + c.String() + "}" }

// Directory opens authenticated sessions on located controllers.
type Directory interface {
	Locator
	// Bind authenticates to dc with cred. An authentication failure is
	// ERROR_LOGON_FAILURE; an unreachable controller ERROR_NO_SUCH_DOMAIN.
	Bind(ctx context.Context, dc DCInfo, cred Credentials) (Session, error)
}

// DomainInfo is the domain's identity as the controller reports it
// (MS-LSAD 3.1.4.4.3, PolicyDnsDomainInformation).
type DomainInfo struct {
	NetBIOSName string
	DNSName     string
	ForestName  string
	SID         string // string form, S-1-5-21-...
	GUID        string // string form
}

// ComputerAccount is a computer object found in or added to the domain.
type ComputerAccount struct {
	DN                 string
	ParentDN           string // the container or OU holding it
	SAMAccountName     string // with the trailing '$'
	UserAccountControl uint32
}

// ComputerUpdate is what a join writes to a computer object besides its
// identity: the whole of it goes to the controller in ONE LDAP operation
// (an add for a new object, a modify for an existing one), which the
// directory applies atomically. A process killed at any moment therefore
// leaves the object either as it was or complete and enabled — never a
// half-configured account that nobody holds the credentials to repair.
type ComputerUpdate struct {
	// Password is the new machine password (unicodePwd, MS-ADTS
	// 3.1.1.3.1.5.2). Required: the write also makes userAccountControl an
	// enabled workstation trust account (MS-WKST 3.2.4.13.3), which it must
	// never be without a password this machine knows.
	Password string
	// HostNames writes DNSHostName and SPNs; false for
	// NETSETUP_DEFER_SPN_SET, which leaves both attributes alone.
	HostNames bool
	// DNSHostName is ComputerNameFQDN, written to dNSHostName.
	DNSHostName string
	// SPNs are the servicePrincipalName values (Spn1, Spn2 of MS-WKST
	// 3.2.4.13.3); an implementation may add the aliases AD registers.
	SPNs []string
}

// LogValue keeps the password out of structured logs.
func (u ComputerUpdate) LogValue() slog.Value {
	return slog.GroupValue(slog.Bool("has_password", u.Password != ""), slog.Bool("host_names", u.HostNames),
		slog.String("dns_host_name", u.DNSHostName), slog.Any("spns", u.SPNs))
}

// NewComputer is the object to add with NETSETUP_ACCT_CREATE, complete.
type NewComputer struct {
	ContainerDN    string // MachineAccountOUString
	CommonName     string // ComputerNameNetBIOS
	SAMAccountName string // ComputerAccountString: CommonName + "$"
	ComputerUpdate
}

// AccountSnapshot is the restorable state of an existing computer object,
// taken before the join changes it. It is opaque to the state machine.
// unicodePwd cannot be read back, so a restore cannot bring back the
// object's former password.
type AccountSnapshot struct {
	DN         string
	Attributes map[string][]string
}

// DomainQuerier reads the identity of the domain.
type DomainQuerier interface {
	DomainInfo(ctx context.Context) (DomainInfo, error)
}

// ContainerResolver resolves the machine account OU (MS-WKST 3.2.4.13.3).
type ContainerResolver interface {
	// ComputersContainer returns the DN of the well-known computers
	// container (GUID_COMPUTERS_CONTAINER_W, MS-ADTS 6.1.1.4).
	ComputersContainer(ctx context.Context) (string, error)
	// ContainerExists reports whether dn names an existing object.
	ContainerExists(ctx context.Context, dn string) (bool, error)
}

// ComputerAccounts finds, adds and removes computer objects.
type ComputerAccounts interface {
	// FindComputer looks the object up by sAMAccountName; found is false
	// when there is none.
	FindComputer(ctx context.Context, samAccountName string) (acct ComputerAccount, found bool, err error)
	// CreateComputer adds the object in one operation, complete: enabled
	// workstation trust account, password, and (unless nc.HostNames is
	// false) dNSHostName and servicePrincipalName. A caller who may not
	// create computers gets ERROR_ACCESS_DENIED; an existing name
	// NERR_UserExists; a missing container ERROR_FILE_NOT_FOUND; a
	// password the domain's policy rejects ERROR_PASSWORD_RESTRICTION.
	CreateComputer(ctx context.Context, nc NewComputer) (ComputerAccount, error)
	// DeleteComputer removes an object this join created (rollback).
	DeleteComputer(ctx context.Context, dn string) error
	// Snapshot captures the attributes a join or unjoin changes.
	Snapshot(ctx context.Context, dn string) (AccountSnapshot, error)
	// Restore writes a snapshot back (rollback).
	Restore(ctx context.Context, snap AccountSnapshot) error
}

// ComputerUpdater changes the attributes of an existing computer object.
type ComputerUpdater interface {
	// ResetComputer writes u to the object dn in one operation: unicodePwd,
	// userAccountControl made an enabled workstation trust account (MS-WKST
	// 3.2.4.13.3), and the host names when u.HostNames. A password the
	// domain's policy rejects is ERROR_PASSWORD_RESTRICTION, a refused
	// write ERROR_ACCESS_DENIED, a domain controller's account
	// NERR_SetupDomainController.
	ResetComputer(ctx context.Context, dn string, u ComputerUpdate) error
	// DisableComputer sets USER_ACCOUNT_DISABLED (MS-WKST 3.2.4.14) in one
	// operation.
	DisableComputer(ctx context.Context, dn string) error
}

// MachineVerifier checks a machine password against the domain, as the
// Netlogon authentication of MS-WKST 3.2.4.13.3 does for unsecure joins.
type MachineVerifier interface {
	// VerifyMachinePassword returns ERROR_LOGON_FAILURE when password is
	// not the account's password.
	VerifyMachinePassword(ctx context.Context, samAccountName, password string) error
}

// KeyVersionReader reads the key version number of a computer object.
type KeyVersionReader interface {
	// KeyVersionNumber returns msDS-KeyVersionNumber of dn (MS-ADA2,
	// MS-ADTS 3.1.1.4.5.16): the version of the keys derived from the
	// account's current password, which a keytab must carry. It is read
	// after the password was written, which changes it; a session bound
	// as the machine account itself may read it (start-up recovery).
	KeyVersionNumber(ctx context.Context, dn string) (uint32, error)
}

// Session is an authenticated connection to one controller.
type Session interface {
	DomainQuerier
	ContainerResolver
	ComputerAccounts
	ComputerUpdater
	MachineVerifier
	KeyVersionReader
	// Close ends the session; it is called once, also after failures.
	Close() error
}
