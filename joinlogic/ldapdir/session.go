package ldapdir

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/wkssvcd/wkssvcd/joinlogic"
)

// userAccountControl bits (MS-ADTS 2.2.16).
const (
	uacAccountDisable     = 0x00000002 // ADS_UF_ACCOUNTDISABLE
	uacPasswdNotReqd      = 0x00000020 // ADS_UF_PASSWD_NOTREQD
	uacTempDuplicate      = 0x00000100 // ADS_UF_TEMP_DUPLICATE_ACCOUNT
	uacNormalAccount      = 0x00000200 // ADS_UF_NORMAL_ACCOUNT
	uacInterdomainTrust   = 0x00000800 // ADS_UF_INTERDOMAIN_TRUST_ACCOUNT
	uacWorkstationTrust   = 0x00001000 // ADS_UF_WORKSTATION_TRUST_ACCOUNT
	uacServerTrust        = 0x00002000 // ADS_UF_SERVER_TRUST_ACCOUNT
	uacAccountTypeMask    = uacTempDuplicate | uacNormalAccount | uacInterdomainTrust | uacWorkstationTrust | uacServerTrust
	uacPartialSecretsAcct = 0x04000000 // ADS_UF_PARTIAL_SECRETS_ACCOUNT (RODC)
)

// snapshotAttrs are the attributes a join or unjoin changes and a
// rollback puts back (unicodePwd cannot be read).
var snapshotAttrs = []string{
	"userAccountControl", "dNSHostName", "servicePrincipalName",
	"msDS-SupportedEncryptionTypes", "operatingSystem", "operatingSystemVersion",
}

// Session implements joinlogic.Session on one authenticated connection
// (sealed SASL, LDAPS or StartTLS; see Transport). Its methods must not be
// called concurrently.
type Session struct {
	d    *Directory
	dc   joinlogic.DCInfo
	addr string
	conn *ldap.Conn
	desc string // the transport, for logs

	defaultNC, configNC, rootNC string
}

var _ joinlogic.Session = (*Session)(nil)

// Bind implements joinlogic.Directory: a connection to dc.DCAddress over
// the configured Transport, authenticated as cred, the controller itself
// authenticated by Kerberos, the NTLM session key or its certificate for
// dc.DCName, and the rootDSE read over it.
func (d *Directory) Bind(ctx context.Context, dc joinlogic.DCInfo, cred joinlogic.Credentials) (joinlogic.Session, error) {
	s, err := d.bind(ctx, dc, cred)
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (d *Directory) bind(ctx context.Context, dc joinlogic.DCInfo, cred joinlogic.Credentials) (*Session, error) {
	addr := dc.DCAddress
	if addr == "" {
		_, addrs, err := d.resolveHost(ctx, dc.DCName, dc.DomainDNS)
		if err != nil {
			return nil, codeError(joinlogic.ERROR_NO_SUCH_DOMAIN, "ldapdir: resolving %s: %w", dc.DCName, err)
		}
		addr = addrs[0]
	}
	conn, desc, err := d.open(ctx, dc, addr, cred)
	if err != nil {
		return nil, err
	}
	s := &Session{d: d, dc: dc, addr: addr, conn: conn, desc: desc}
	// Over SASL with NTLM this is the first message the controller must
	// seal with the session key: the proof it is the controller.
	if err := s.readRootDSE(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	d.log.DebugContext(ctx, "ldapdir: bound", "dc", dc.DCName, "addr", addr, "transport", desc, "cred", cred)
	return s, nil
}

// bindName forms the simple-bind name: User@Domain for a UPN, else
// DOMAIN\User with the domain's NetBIOS name when none was given.
func bindName(a joinlogic.Account, dc joinlogic.DCInfo) string {
	if a.UPN {
		dom := a.Domain
		if dom == "" {
			dom = dc.DomainDNS
		}
		return a.User + "@" + dom
	}
	dom := a.Domain
	if dom == "" {
		dom = dc.DomainFlat
	}
	if dom == "" {
		return a.User
	}
	return dom + `\` + a.User
}

func bindError(err error, dc joinlogic.DCInfo, who string) error {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials):
		return codeError(joinlogic.ERROR_LOGON_FAILURE, "ldapdir: bind %s: %w", who, err)
	case ldap.IsErrorWithCode(err, ldap.LDAPResultBusy), ldap.IsErrorWithCode(err, ldap.LDAPResultUnavailable),
		ldap.IsErrorWithCode(err, ldap.LDAPResultOther):
		// The controller cannot serve now; not a verdict on the
		// credentials (start-up recovery relies on the difference).
		return codeError(joinlogic.ERROR_NO_SUCH_DOMAIN, "ldapdir: bind %s to %s: %w", who, dc.DCName, err)
	case isNetworkError(err):
		return codeError(joinlogic.ERROR_NO_SUCH_DOMAIN, "ldapdir: bind %s to %s: %w", who, dc.DCName, err)
	}
	return codeError(joinlogic.ERROR_LOGON_FAILURE, "ldapdir: bind %s: %w", who, err)
}

// opError maps a failed request to the code the interface documents:
// transport failures to ERROR_NO_SUCH_DOMAIN, refused access to
// ERROR_ACCESS_DENIED; others stay uncoded (the caller's fallback).
func opError(err error, what string) error {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("ldapdir: %s: %w", what, err)
	case ldap.IsErrorWithCode(err, ldap.LDAPResultInsufficientAccessRights):
		return codeError(joinlogic.ERROR_ACCESS_DENIED, "ldapdir: %s: %w", what, err)
	case isNetworkError(err):
		return codeError(joinlogic.ERROR_NO_SUCH_DOMAIN, "ldapdir: %s: %w", what, err)
	}
	return fmt.Errorf("ldapdir: %s: %w", what, err)
}

func (s *Session) do(ctx context.Context, fn func() error) error {
	return withConn(ctx, s.d.opTimeout(ctx), s.conn, fn)
}

func (s *Session) search(ctx context.Context, req *ldap.SearchRequest) (*ldap.SearchResult, error) {
	var res *ldap.SearchResult
	err := s.do(ctx, func() error {
		var err error
		res, err = s.conn.Search(req)
		return err
	})
	return res, err
}

func (s *Session) readRootDSE(ctx context.Context) error {
	req := ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
		"(objectClass=*)", []string{"defaultNamingContext", "configurationNamingContext", "rootDomainNamingContext"}, nil)
	res, err := s.search(ctx, req)
	if err != nil {
		return opError(err, "reading rootDSE")
	}
	if len(res.Entries) != 1 {
		return codeError(joinlogic.ERROR_NO_SUCH_DOMAIN, "ldapdir: rootDSE of %s has %d entries", s.dc.DCName, len(res.Entries))
	}
	e := res.Entries[0]
	s.defaultNC = e.GetAttributeValue("defaultNamingContext")
	s.configNC = e.GetAttributeValue("configurationNamingContext")
	s.rootNC = e.GetAttributeValue("rootDomainNamingContext")
	if s.defaultNC == "" {
		return codeError(joinlogic.ERROR_NO_SUCH_DOMAIN, "ldapdir: %s names no default naming context", s.dc.DCName)
	}
	return nil
}

// Close implements joinlogic.Session.
func (s *Session) Close() error {
	return s.conn.Close()
}

// DomainInfo implements joinlogic.DomainQuerier: objectSid and objectGUID
// of the domain NC head, nETBIOSName and dnsRoot of its crossRef in
// CN=Partitions (MS-ADTS 6.1.1.2.1.1.5), the forest from the root domain
// NC.
func (s *Session) DomainInfo(ctx context.Context) (joinlogic.DomainInfo, error) {
	res, err := s.search(ctx, ldap.NewSearchRequest(s.defaultNC, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
		"(objectClass=*)", []string{"objectSid", "objectGUID"}, nil))
	if err != nil {
		return joinlogic.DomainInfo{}, opError(err, "reading the domain object")
	}
	if len(res.Entries) != 1 {
		return joinlogic.DomainInfo{}, codeError(joinlogic.ERROR_NO_SUCH_DOMAIN, "ldapdir: domain object %s not readable", s.defaultNC)
	}
	sid, err := sidString(res.Entries[0].GetRawAttributeValue("objectSid"))
	if err != nil {
		return joinlogic.DomainInfo{}, codeError(joinlogic.ERROR_NO_SUCH_DOMAIN, "ldapdir: domain objectSid: %w", err)
	}
	info := joinlogic.DomainInfo{
		SID:  sid,
		GUID: guidString(res.Entries[0].GetRawAttributeValue("objectGUID")),
	}
	info.DNSName, _ = dnsNameFromDN(s.defaultNC)
	info.ForestName, _ = dnsNameFromDN(s.rootNC)
	if s.configNC != "" {
		res, err := s.search(ctx, ldap.NewSearchRequest("CN=Partitions,"+s.configNC, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false,
			"(&(objectClass=crossRef)(nETBIOSName=*))", []string{"nCName", "nETBIOSName", "dnsRoot"}, nil))
		if err != nil {
			return joinlogic.DomainInfo{}, opError(err, "reading CN=Partitions")
		}
		for _, e := range res.Entries {
			nc := e.GetAttributeValue("nCName")
			switch {
			case strings.EqualFold(nc, s.defaultNC):
				info.NetBIOSName = e.GetAttributeValue("nETBIOSName")
				if r := e.GetAttributeValue("dnsRoot"); r != "" {
					info.DNSName = r
				}
			case strings.EqualFold(nc, s.rootNC):
				if r := e.GetAttributeValue("dnsRoot"); r != "" {
					info.ForestName = r
				}
			}
		}
	}
	if info.ForestName == "" {
		info.ForestName = info.DNSName
	}
	if info.NetBIOSName == "" {
		info.NetBIOSName = s.dc.DomainFlat
	}
	return info, nil
}

// ComputersContainer implements joinlogic.ContainerResolver through the
// domain's wellKnownObjects (GUID_COMPUTERS_CONTAINER_W, MS-ADTS 6.1.1.4).
func (s *Session) ComputersContainer(ctx context.Context) (string, error) {
	res, err := s.search(ctx, ldap.NewSearchRequest(s.defaultNC, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
		"(objectClass=*)", []string{"wellKnownObjects"}, nil))
	if err != nil {
		return "", opError(err, "reading wellKnownObjects")
	}
	for _, e := range res.Entries {
		for _, v := range e.GetAttributeValues("wellKnownObjects") {
			bin, dn, err := parseDNBinary(v)
			if err != nil || len(bin) != 16 {
				continue
			}
			if strings.EqualFold(fmt.Sprintf("%X", bin), wkGUIDComputers) {
				return dn, nil
			}
		}
	}
	return "", codeError(joinlogic.ERROR_FILE_NOT_FOUND, "ldapdir: %s has no well-known computers container", s.defaultNC)
}

// ContainerExists implements joinlogic.ContainerResolver.
func (s *Session) ContainerExists(ctx context.Context, dn string) (bool, error) {
	if dn == "" {
		return false, nil
	}
	res, err := s.search(ctx, ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
		"(objectClass=*)", []string{"1.1"}, nil))
	switch {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject), ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidDNSyntax):
		return false, nil
	case err != nil:
		return false, opError(err, "looking up "+dn)
	}
	return len(res.Entries) == 1, nil
}

// FindComputer implements joinlogic.ComputerAccounts.
func (s *Session) FindComputer(ctx context.Context, sam string) (joinlogic.ComputerAccount, bool, error) {
	filter := "(&(objectClass=computer)(sAMAccountName=" + ldap.EscapeFilter(sam) + "))"
	res, err := s.search(ctx, ldap.NewSearchRequest(s.defaultNC, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 2, 0, false,
		filter, []string{"sAMAccountName", "userAccountControl"}, nil))
	if err != nil {
		return joinlogic.ComputerAccount{}, false, opError(err, "searching for "+sam)
	}
	if len(res.Entries) == 0 {
		return joinlogic.ComputerAccount{}, false, nil
	}
	if len(res.Entries) > 1 {
		return joinlogic.ComputerAccount{}, false, fmt.Errorf("ldapdir: %d objects named %s", len(res.Entries), sam)
	}
	return accountFromEntry(res.Entries[0]), true, nil
}

func accountFromEntry(e *ldap.Entry) joinlogic.ComputerAccount {
	_, parent := splitRDN(e.DN)
	uac, _ := strconv.ParseUint(e.GetAttributeValue("userAccountControl"), 10, 32)
	return joinlogic.ComputerAccount{
		DN:                 e.DN,
		ParentDN:           parent,
		SAMAccountName:     e.GetAttributeValue("sAMAccountName"),
		UserAccountControl: uint32(uac),
	}
}

// CreateComputer implements joinlogic.ComputerAccounts with ONE LDAP add
// carrying the whole object: objectClass, sAMAccountName, an enabled
// workstation-trust userAccountControl, unicodePwd, dNSHostName and
// servicePrincipalName (unless nc.HostNames is false),
// msDS-SupportedEncryptionTypes and operatingSystem*. The controller
// applies an add atomically, so the object exists complete or not at all;
// there is no moment at which it exists without a password this machine
// knows. AD accepts unicodePwd in an add over an encrypted connection
// (MS-ADTS 3.1.1.3.1.5.2, 3.1.1.5.2.2); Samba 4.17 does too, and derives
// the Kerberos keys and msDS-KeyVersionNumber from it
// (TestComputerLifecycleAndKeytab).
func (s *Session) CreateComputer(ctx context.Context, nc joinlogic.NewComputer) (joinlogic.ComputerAccount, error) {
	if nc.CommonName == "" || nc.ContainerDN == "" || nc.SAMAccountName == "" || nc.Password == "" {
		return joinlogic.ComputerAccount{}, codeError(joinlogic.ERROR_INVALID_PARAMETER, "ldapdir: incomplete new computer %s in %s", nc.SAMAccountName, nc.ContainerDN)
	}
	dn := "CN=" + ldap.EscapeDN(nc.CommonName) + "," + nc.ContainerDN
	uac := uint32(uacWorkstationTrust)
	add := ldap.NewAddRequest(dn, nil)
	add.Attribute("objectClass", []string{"top", "person", "organizationalPerson", "user", "computer"})
	add.Attribute("cn", []string{nc.CommonName})
	add.Attribute("sAMAccountName", []string{nc.SAMAccountName})
	add.Attribute("userAccountControl", []string{strconv.FormatUint(uint64(uac), 10)})
	add.Attribute("unicodePwd", []string{unicodePwd(nc.Password)})
	if nc.HostNames {
		if nc.DNSHostName != "" {
			add.Attribute("dNSHostName", []string{nc.DNSHostName})
		}
		if spns := withRestrictedKrbHost(nc.SPNs); len(spns) > 0 {
			add.Attribute("servicePrincipalName", spns)
		}
	}
	for _, a := range s.d.extraAttrs() {
		add.Attribute(a.name, a.vals)
	}
	err := s.do(ctx, func() error { return s.conn.Add(add) })
	switch {
	case err == nil:
	case ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists):
		return joinlogic.ComputerAccount{}, codeError(joinlogic.NERR_UserExists, "ldapdir: adding %s: %w", dn, err)
	case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
		return joinlogic.ComputerAccount{}, codeError(joinlogic.ERROR_FILE_NOT_FOUND, "ldapdir: adding %s: %w", dn, err)
	default:
		return joinlogic.ComputerAccount{}, writeError(err, "adding "+dn)
	}
	s.d.log.DebugContext(ctx, "ldapdir: created computer", "dn", dn, "attrs", nc.ComputerUpdate)
	return joinlogic.ComputerAccount{DN: dn, ParentDN: nc.ContainerDN, SAMAccountName: nc.SAMAccountName, UserAccountControl: uac}, nil
}

type attrVals struct {
	name string
	vals []string
}

// extraAttrs are the configured attributes every joined object carries.
func (d *Directory) extraAttrs() []attrVals {
	var out []attrVals
	if et := d.cfg.SupportedEncryptionTypes; et > 0 {
		out = append(out, attrVals{"msDS-SupportedEncryptionTypes", []string{strconv.Itoa(et)}})
	}
	if v := d.cfg.OperatingSystem; v != "" {
		out = append(out, attrVals{"operatingSystem", []string{v}})
	}
	if v := d.cfg.OperatingSystemVersion; v != "" {
		out = append(out, attrVals{"operatingSystemVersion", []string{v}})
	}
	return out
}

// DeleteComputer implements joinlogic.ComputerAccounts; an object that is
// already gone is not an error.
func (s *Session) DeleteComputer(ctx context.Context, dn string) error {
	err := s.do(ctx, func() error { return s.conn.Del(ldap.NewDelRequest(dn, nil)) })
	if err == nil || ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return nil
	}
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNotAllowedOnNonLeaf) {
		// Objects that services created below the computer.
		err = s.do(ctx, func() error {
			return s.conn.Del(ldap.NewDelRequest(dn, []ldap.Control{ldap.NewControlSubtreeDelete()}))
		})
		if err == nil {
			return nil
		}
	}
	return opError(err, "deleting "+dn)
}

// Snapshot implements joinlogic.ComputerAccounts. Absent attributes are
// recorded with no values so that Restore removes them again.
func (s *Session) Snapshot(ctx context.Context, dn string) (joinlogic.AccountSnapshot, error) {
	e, err := s.read(ctx, dn, snapshotAttrs)
	if err != nil {
		return joinlogic.AccountSnapshot{}, err
	}
	snap := joinlogic.AccountSnapshot{DN: dn, Attributes: make(map[string][]string, len(snapshotAttrs))}
	for _, a := range snapshotAttrs {
		snap.Attributes[a] = e.GetEqualFoldAttributeValues(a)
	}
	return snap, nil
}

// Restore implements joinlogic.ComputerAccounts.
func (s *Session) Restore(ctx context.Context, snap joinlogic.AccountSnapshot) error {
	if snap.DN == "" || len(snap.Attributes) == 0 {
		return nil
	}
	mod := ldap.NewModifyRequest(snap.DN, nil)
	for _, a := range snapshotAttrs {
		if vals, ok := snap.Attributes[a]; ok {
			mod.Replace(a, vals)
		}
	}
	if err := s.do(ctx, func() error { return s.conn.Modify(mod) }); err != nil {
		return opError(err, "restoring "+snap.DN)
	}
	return nil
}

func (s *Session) read(ctx context.Context, dn string, attrs []string) (*ldap.Entry, error) {
	res, err := s.search(ctx, ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
		"(objectClass=*)", attrs, nil))
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return nil, codeError(joinlogic.ERROR_NONE_MAPPED, "ldapdir: %s does not exist: %w", dn, err)
	}
	if err != nil {
		return nil, opError(err, "reading "+dn)
	}
	if len(res.Entries) != 1 {
		return nil, codeError(joinlogic.ERROR_NONE_MAPPED, "ldapdir: %s not found", dn)
	}
	return res.Entries[0], nil
}

func (s *Session) uac(ctx context.Context, dn string) (uint32, error) {
	e, err := s.read(ctx, dn, []string{"userAccountControl"})
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(e.GetAttributeValue("userAccountControl"), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("ldapdir: userAccountControl of %s: %w", dn, err)
	}
	return uint32(v), nil
}

// ResetComputer implements joinlogic.ComputerUpdater with ONE LDAP modify
// replacing unicodePwd, userAccountControl (an enabled workstation trust
// account, its other bits kept), dNSHostName and servicePrincipalName
// (when u.HostNames) and the configured msDS-SupportedEncryptionTypes and
// operatingSystem*. The controller applies a modify atomically (RFC 4511
// 4.6), so the object is never enabled without the new password nor left
// with half of the join's attributes. The read of userAccountControl
// before it changes nothing. An administrator may replace unicodePwd
// over LDAPS (MS-ADTS 3.1.1.3.1.5.2).
func (s *Session) ResetComputer(ctx context.Context, dn string, u joinlogic.ComputerUpdate) error {
	if u.Password == "" {
		return codeError(joinlogic.ERROR_INVALID_PARAMETER, "ldapdir: resetting %s without a password", dn)
	}
	cur, err := s.uac(ctx, dn)
	if err != nil {
		return err
	}
	if cur&uacServerTrust != 0 || cur&uacPartialSecretsAcct != 0 {
		return codeError(joinlogic.NERR_SetupDomainController, "ldapdir: %s is a domain controller account", dn)
	}
	uac := cur&^(uacAccountTypeMask|uacAccountDisable|uacPasswdNotReqd) | uacWorkstationTrust
	mod := ldap.NewModifyRequest(dn, nil)
	mod.Replace("unicodePwd", []string{unicodePwd(u.Password)})
	mod.Replace("userAccountControl", []string{strconv.FormatUint(uint64(uac), 10)})
	if u.HostNames {
		if u.DNSHostName == "" {
			mod.Replace("dNSHostName", nil)
		} else {
			mod.Replace("dNSHostName", []string{u.DNSHostName})
		}
		mod.Replace("servicePrincipalName", withRestrictedKrbHost(u.SPNs))
	}
	for _, a := range s.d.extraAttrs() {
		mod.Replace(a.name, a.vals)
	}
	if err := s.do(ctx, func() error { return s.conn.Modify(mod) }); err != nil {
		return writeError(err, "resetting "+dn)
	}
	return nil
}

// KeyVersionNumber implements joinlogic.KeyVersionReader. The attribute
// is constructed (MS-ADTS 3.1.1.4.5.16), so it is asked for by name.
func (s *Session) KeyVersionNumber(ctx context.Context, dn string) (uint32, error) {
	e, err := s.read(ctx, dn, []string{"msDS-KeyVersionNumber"})
	if err != nil {
		return 0, err
	}
	v := e.GetEqualFoldAttributeValue("msDS-KeyVersionNumber")
	if v == "" {
		return 0, fmt.Errorf("ldapdir: %s has no msDS-KeyVersionNumber", dn)
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("ldapdir: msDS-KeyVersionNumber of %s: %w", dn, err)
	}
	return uint32(n), nil
}

// writeError maps a refused add or modify that carried unicodePwd. AD
// answers a password its policy rejects with constraintViolation or
// unwillingToPerform (MS-ADTS 3.1.1.3.1.5.2) and a diagnostic message
// that starts with the Win32 code in hexadecimal ("0000052D: Constraint
// violation - check_password_restrictions: ..."). As the same LDAP codes
// may answer other attributes of the one operation (a duplicate SPN, for
// instance), the diagnostic decides: 0000052D, or a message about the
// password, is ERROR_PASSWORD_RESTRICTION; other refusals keep the codes
// of opError.
func writeError(err error, what string) error {
	if ldap.IsErrorWithCode(err, ldap.LDAPResultConstraintViolation) || ldap.IsErrorWithCode(err, ldap.LDAPResultUnwillingToPerform) {
		var le *ldap.Error
		if errors.As(err, &le) && passwordDiagnostic(le.Err) {
			return codeError(joinlogic.ERROR_PASSWORD_RESTRICTION, "ldapdir: %s: %w", what, err)
		}
	}
	return opError(err, what)
}

// passwordDiagnostic reports whether an LDAP diagnostic message is about
// the password.
func passwordDiagnostic(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	if len(msg) >= 9 && msg[8] == ':' {
		if v, perr := strconv.ParseUint(msg[:8], 16, 32); perr == nil && joinlogic.Code(v) == joinlogic.ERROR_PASSWORD_RESTRICTION {
			return true
		}
	}
	l := strings.ToLower(msg)
	return strings.Contains(l, "password") || strings.Contains(l, "unicodepwd")
}

// withRestrictedKrbHost returns spns, deduplicated case-insensitively,
// with RestrictedKrbHost/x added for every HOST/x.
func withRestrictedKrbHost(spns []string) []string {
	out := make([]string, 0, 2*len(spns))
	seen := make(map[string]bool, 2*len(spns))
	add := func(v string) {
		if k := strings.ToLower(v); v != "" && !seen[k] {
			seen[k] = true
			out = append(out, v)
		}
	}
	for _, v := range spns {
		add(v)
	}
	for _, v := range spns {
		if svc, host, ok := strings.Cut(v, "/"); ok && strings.EqualFold(svc, "HOST") {
			add("RestrictedKrbHost/" + host)
		}
	}
	return out
}

// DisableComputer implements joinlogic.ComputerUpdater (MS-WKST 3.2.4.14).
func (s *Session) DisableComputer(ctx context.Context, dn string) error {
	cur, err := s.uac(ctx, dn)
	if err != nil {
		return err
	}
	mod := ldap.NewModifyRequest(dn, nil)
	mod.Replace("userAccountControl", []string{strconv.FormatUint(uint64(cur|uacAccountDisable), 10)})
	if err := s.do(ctx, func() error { return s.conn.Modify(mod) }); err != nil {
		return opError(err, "disabling "+dn)
	}
	return nil
}

// VerifyMachinePassword implements joinlogic.MachineVerifier with a bind
// as DOMAIN\NAME$ on a separate connection over the same transport.
func (s *Session) VerifyMachinePassword(ctx context.Context, sam, password string) error {
	if password == "" {
		// An empty password would be an unauthenticated bind (RFC 4513 5.1.2).
		return codeError(joinlogic.ERROR_LOGON_FAILURE, "ldapdir: empty machine password for %s", sam)
	}
	conn, _, err := s.d.open(ctx, s.dc, s.addr, joinlogic.Credentials{Account: joinlogic.Account{User: sam}, Password: password})
	if err != nil {
		return err
	}
	return conn.Close()
}
