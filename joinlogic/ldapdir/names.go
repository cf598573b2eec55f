package ldapdir

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/wkssvcd/wkssvcd/joinlogic"
)

// Attributes of the names of a computer object (MS-ADA1, MS-ADA2,
// MS-ADA3).
const (
	attrAdditionalDNS = "msDS-AdditionalDnsHostName"
	attrAdditionalSAM = "msDS-AdditionalSamAccountName"
)

// oidPermissiveModify is LDAP_SERVER_PERMISSIVE_MODIFY_OID (MS-ADTS
// 3.1.1.3.4.1.8): adding a value that is present, or deleting one that is
// not, is no error. MS-WKST 3.2.4.18–3.2.4.20 send it with their modifies.
const oidPermissiveModify = "1.2.840.113556.1.4.1413"

var _ joinlogic.NameWriter = (*Session)(nil)

// ReadNames implements joinlogic.NameWriter.
func (s *Session) ReadNames(ctx context.Context, sam string) (joinlogic.ObjectNames, error) {
	filter := "(&(objectClass=computer)(sAMAccountName=" + ldap.EscapeFilter(sam) + "))"
	res, err := s.search(ctx, ldap.NewSearchRequest(s.defaultNC, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 2, 0, false,
		filter, []string{"sAMAccountName", "dNSHostName", attrAdditionalDNS, attrAdditionalSAM, "servicePrincipalName"}, nil))
	if err != nil {
		return joinlogic.ObjectNames{}, opError(err, "reading the names of "+sam)
	}
	switch len(res.Entries) {
	case 0:
		return joinlogic.ObjectNames{}, codeError(joinlogic.ERROR_NONE_MAPPED, "ldapdir: no computer account %s", sam)
	case 1:
	default:
		return joinlogic.ObjectNames{}, fmt.Errorf("ldapdir: %d computer accounts named %s", len(res.Entries), sam)
	}
	e := res.Entries[0]
	return joinlogic.ObjectNames{
		DN:             e.DN,
		SAMAccountName: e.GetEqualFoldAttributeValue("sAMAccountName"),
		DNSHostName:    e.GetEqualFoldAttributeValue("dNSHostName"),
		AdditionalDNS:  e.GetEqualFoldAttributeValues(attrAdditionalDNS),
		AdditionalSAM:  e.GetEqualFoldAttributeValues(attrAdditionalSAM),
		SPNs:           e.GetEqualFoldAttributeValues("servicePrincipalName"),
	}, nil
}

// ChangeNames implements joinlogic.NameWriter: one modify, permissive.
// A new password goes with it (unicodePwd, over the sealed or TLS
// connection the session has), so the controller derives the account's
// keys again under its new name.
func (s *Session) ChangeNames(ctx context.Context, dn string, ch joinlogic.NameChange) error {
	mod := ldap.NewModifyRequest(dn, []ldap.Control{ldap.NewControlString(oidPermissiveModify, false, "")})
	if ch.SAMAccountName != "" {
		mod.Replace("sAMAccountName", []string{ch.SAMAccountName})
	}
	if ch.DNSHostName != "" {
		mod.Replace("dNSHostName", []string{ch.DNSHostName})
	}
	// Values leave before others arrive: a name moving between
	// dNSHostName and msDS-AdditionalDnsHostName is never in both.
	if len(ch.RemoveDNS) > 0 {
		mod.Delete(attrAdditionalDNS, ch.RemoveDNS)
	}
	if len(ch.AddDNS) > 0 {
		mod.Add(attrAdditionalDNS, ch.AddDNS)
	}
	if ch.SPNs != nil {
		mod.Replace("servicePrincipalName", withRestrictedKrbHost(ch.SPNs))
	}
	if ch.Password != "" {
		mod.Replace("unicodePwd", []string{unicodePwd(ch.Password)})
	}
	if len(mod.Changes) == 0 {
		return nil
	}
	if err := s.do(ctx, func() error { return s.conn.Modify(mod) }); err != nil {
		if ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists) {
			// Another account has the sAMAccountName (MS-SAMR 3.1.1.8.4:
			// unique among sAMAccountName and msDS-AdditionalSamAccountName).
			return codeError(joinlogic.NERR_UserExists, "ldapdir: changing the names of %s: %w", dn, err)
		}
		return writeError(err, "changing the names of "+dn)
	}
	return nil
}

// RenameObject implements joinlogic.NameWriter with a modify DN that
// keeps the object in its container. A name another object of the
// container has is NERR_UserExists.
func (s *Session) RenameObject(ctx context.Context, dn, cn string) (string, error) {
	rdn := "CN=" + ldap.EscapeDN(cn)
	req := ldap.NewModifyDNRequest(dn, rdn, true, "")
	if err := s.do(ctx, func() error { return s.conn.ModifyDN(req) }); err != nil {
		if ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists) {
			// Another object of the container has the name.
			return "", codeError(joinlogic.NERR_UserExists, "ldapdir: renaming %s to %s: %w", dn, rdn, err)
		}
		return "", writeError(err, "renaming "+dn+" to "+rdn)
	}
	_, parent := splitRDN(dn)
	if parent == "" {
		return rdn, nil
	}
	return rdn + "," + parent, nil
}

// SetDisplayName implements joinlogic.NameWriter: the attribute is read,
// then replaced when it differs (MS-WKST 3.2.4.29.5 does the same
// through SAMR's FullName).
func (s *Session) SetDisplayName(ctx context.Context, dn, name string) error {
	res, err := s.search(ctx, ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
		"(objectClass=*)", []string{"displayName"}, nil))
	if err != nil {
		return opError(err, "reading the display name of "+dn)
	}
	if len(res.Entries) == 1 && strings.EqualFold(res.Entries[0].GetEqualFoldAttributeValue("displayName"), name) {
		return nil
	}
	mod := ldap.NewModifyRequest(dn, nil)
	mod.Replace("displayName", []string{name})
	if err := s.do(ctx, func() error { return s.conn.Modify(mod) }); err != nil {
		return writeError(err, "setting the display name of "+dn)
	}
	return nil
}
