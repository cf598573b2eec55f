package ldapdir

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/wkssvcd/wkssvcd/joinlogic"
)

// The directory reads and writes that provisioning an offline join needs
// besides a join's: the new account's identity, group memberships
// (djoin's documented manual step for DirectAccess clients), group policy
// objects and the enterprise's root CA certificates.

var (
	_ joinlogic.AccountIdentityReader = (*Session)(nil)
	_ joinlogic.GroupMembership       = (*Session)(nil)
	_ joinlogic.PolicyFinder          = (*Session)(nil)
	_ joinlogic.CACertificateReader   = (*Session)(nil)
)

// AccountIdentity implements joinlogic.AccountIdentityReader.
func (s *Session) AccountIdentity(ctx context.Context, dn string) (sid, guid string, err error) {
	e, err := s.read(ctx, dn, []string{"objectSid", "objectGUID"})
	if err != nil {
		return "", "", err
	}
	sid, err = sidString(e.GetRawAttributeValue("objectSid"))
	if err != nil {
		return "", "", fmt.Errorf("ldapdir: objectSid of %s: %w", dn, err)
	}
	raw := e.GetRawAttributeValue("objectGUID")
	if len(raw) != 16 {
		return "", "", fmt.Errorf("ldapdir: %s has no objectGUID", dn)
	}
	return sid, guidString(raw), nil
}

// AddGroupMember implements joinlogic.GroupMembership with one modify
// adding member (MS-ADTS 3.1.1.3.1.2.2 attribute "member").
func (s *Session) AddGroupMember(ctx context.Context, group, memberDN string) (string, bool, error) {
	gdn, err := s.findGroup(ctx, group)
	if err != nil {
		return "", false, err
	}
	mod := ldap.NewModifyRequest(gdn, nil)
	mod.Add("member", []string{memberDN})
	err = s.do(ctx, func() error { return s.conn.Modify(mod) })
	switch {
	case err == nil:
		return gdn, true, nil
	case ldap.IsErrorWithCode(err, ldap.LDAPResultAttributeOrValueExists), ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists):
		return gdn, false, nil
	}
	return "", false, opError(err, "adding "+memberDN+" to "+gdn)
}

// RemoveGroupMember implements joinlogic.GroupMembership.
func (s *Session) RemoveGroupMember(ctx context.Context, groupDN, memberDN string) error {
	mod := ldap.NewModifyRequest(groupDN, nil)
	mod.Delete("member", []string{memberDN})
	err := s.do(ctx, func() error { return s.conn.Modify(mod) })
	if err == nil || ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchAttribute) || ldap.IsErrorWithCode(err, ldap.LDAPResultUnwillingToPerform) {
		return nil
	}
	return opError(err, "removing "+memberDN+" from "+groupDN)
}

// findGroup resolves a group given by DN or sAMAccountName.
func (s *Session) findGroup(ctx context.Context, group string) (string, error) {
	if strings.Contains(group, "=") {
		if _, err := s.read(ctx, group, []string{"1.1"}); err != nil {
			return "", codeError(joinlogic.NERR_GroupNotFound, "ldapdir: group %s: %w", group, err)
		}
		return group, nil
	}
	filter := "(&(objectClass=group)(sAMAccountName=" + ldap.EscapeFilter(group) + "))"
	res, err := s.search(ctx, ldap.NewSearchRequest(s.defaultNC, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 2, 0, false,
		filter, []string{"1.1"}, nil))
	if err != nil {
		return "", opError(err, "searching for the group "+group)
	}
	switch len(res.Entries) {
	case 0:
		return "", codeError(joinlogic.NERR_GroupNotFound, "ldapdir: no group named %s in %s", group, s.defaultNC)
	case 1:
		return res.Entries[0].DN, nil
	}
	return "", codeError(joinlogic.ERROR_DUP_NAME, "ldapdir: several groups named %s", group)
}

// FindGPO implements joinlogic.PolicyFinder: a one-level search of
// CN=Policies,CN=System for the groupPolicyContainer (MS-GPOL 2.3.1) of
// that displayName.
func (s *Session) FindGPO(ctx context.Context, name string) (joinlogic.GPO, error) {
	base := "CN=Policies,CN=System," + s.defaultNC
	filter := "(&(objectClass=groupPolicyContainer)(displayName=" + ldap.EscapeFilter(name) + "))"
	res, err := s.search(ctx, ldap.NewSearchRequest(base, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 2, 0, false,
		filter, []string{"cn", "displayName", "gPCFileSysPath"}, nil))
	if err != nil {
		return joinlogic.GPO{}, opError(err, "searching "+base)
	}
	switch len(res.Entries) {
	case 0:
		return joinlogic.GPO{}, codeError(joinlogic.ERROR_FILE_NOT_FOUND, "ldapdir: no group policy object is named %q (displayName under %s)", name, base)
	case 1:
	default:
		return joinlogic.GPO{}, codeError(joinlogic.ERROR_DUP_NAME, "ldapdir: several group policy objects are named %q", name)
	}
	e := res.Entries[0]
	return joinlogic.GPO{
		DN:          e.DN,
		Name:        e.GetAttributeValue("cn"),
		DisplayName: e.GetAttributeValue("displayName"),
		FileSysPath: e.GetAttributeValue("gPCFileSysPath"),
	}, nil
}

// RootCACertificates implements joinlogic.CACertificateReader.
func (s *Session) RootCACertificates(ctx context.Context) ([][]byte, error) {
	if s.configNC == "" {
		return nil, codeError(joinlogic.ERROR_FILE_NOT_FOUND, "ldapdir: %s names no configuration naming context", s.dc.DCName)
	}
	base := "CN=Certification Authorities,CN=Public Key Services,CN=Services," + s.configNC
	res, err := s.search(ctx, ldap.NewSearchRequest(base, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=certificationAuthority)", []string{"cACertificate"}, nil))
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return nil, nil
	}
	if err != nil {
		return nil, opError(err, "searching "+base)
	}
	var out [][]byte
	for _, e := range res.Entries {
		for _, v := range e.GetRawAttributeValues("cACertificate") {
			if len(v) > 0 {
				out = append(out, v)
			}
		}
	}
	return out, nil
}
