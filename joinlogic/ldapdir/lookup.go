package ldapdir

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// LookupSID returns the objectSid of the account or group whose
// sAMAccountName is name ("DOMAIN\name" and "name@domain" are accepted;
// the domain part is not checked). It lets the daemon turn a group named
// by the operator into the SID that logons carry.
func (s *Session) LookupSID(ctx context.Context, name string) (string, error) {
	if _, after, ok := strings.Cut(name, `\`); ok {
		name = after
	} else if before, _, ok := strings.Cut(name, "@"); ok {
		name = before
	}
	if name == "" {
		return "", fmt.Errorf("ldapdir: empty account name")
	}
	res, err := s.search(ctx, ldap.NewSearchRequest(s.defaultNC, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 2, 0, false,
		"(sAMAccountName="+ldap.EscapeFilter(name)+")", []string{"objectSid"}, nil))
	if err != nil {
		return "", opError(err, "searching for "+name)
	}
	switch len(res.Entries) {
	case 0:
		return "", fmt.Errorf("ldapdir: no account or group named %s", name)
	case 1:
	default:
		return "", fmt.Errorf("ldapdir: %d objects named %s", len(res.Entries), name)
	}
	return sidString(res.Entries[0].GetRawAttributeValue("objectSid"))
}
