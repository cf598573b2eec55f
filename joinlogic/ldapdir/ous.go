package ldapdir

import (
	"context"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/wkssvcd/wkssvcd/joinlogic"
)

// maxJoinableOUs bounds the answer of one search: a directory with more
// organizational units than that is cut, not allowed to make the server
// hold all of them.
const maxJoinableOUs = 10000

var _ joinlogic.OUSearcher = (*Session)(nil)

// JoinableOUs implements joinlogic.OUSearcher as MS-WKST 3.2.4.17 says:
// a subtree search of the default naming context for organizational
// units, asking for the constructed attribute allowedChildClassesEffective
// (MS-ADTS 3.1.1.4.5.25), which the controller computes for the bound
// account; an OU whose value holds "computer" is one where it may create
// computer objects. The search is paged, so large directories are read
// whole.
func (s *Session) JoinableOUs(ctx context.Context) ([]string, error) {
	req := ldap.NewSearchRequest(s.defaultNC, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=organizationalUnit)", []string{"allowedChildClassesEffective"}, nil)
	var res *ldap.SearchResult
	err := s.do(ctx, func() error {
		var err error
		res, err = s.conn.SearchWithPaging(req, 500)
		return err
	})
	if err != nil {
		return nil, opError(err, "searching organizational units")
	}
	var ous []string
	for _, e := range res.Entries {
		for _, c := range e.GetEqualFoldAttributeValues("allowedChildClassesEffective") {
			if strings.EqualFold(c, "computer") {
				ous = append(ous, e.DN)
				break
			}
		}
		if len(ous) == maxJoinableOUs {
			break
		}
	}
	return ous, nil
}
