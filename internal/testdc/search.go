package testdc

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

// Search returns the objects of the controller's database that match
// filter, with attrs, read directly from its sam.ldb with ldbsearch — not
// over the network, so the same inspection works whatever transports the
// controller serves and whatever the code under test does with them.
// Constructed attributes (msDS-KeyVersionNumber) are computed as over LDAP.
func (dc *DC) Search(ctx context.Context, filter string, attrs ...string) ([]*ldap.Entry, error) {
	out, err := dc.ldbsearch(ctx, filter, attrs...)
	if err != nil {
		return nil, err
	}
	return parseLDIF(out)
}

// MustSearch is Search that fails the test on error.
func (dc *DC) MustSearch(t testing.TB, filter string, attrs ...string) []*ldap.Entry {
	t.Helper()
	es, err := dc.Search(context.Background(), filter, attrs...)
	if err != nil {
		t.Fatalf("testdc: %v", err)
	}
	return es
}

// parseLDIF reads the records of ldbsearch's LDIF output (RFC 2849):
// "attr: value" and "attr:: base64" lines, continuation lines starting
// with a space, comments, referrals skipped.
func parseLDIF(s string) ([]*ldap.Entry, error) {
	var out []*ldap.Entry
	var dn string
	attrs := map[string][]string{}
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, " ") && len(lines) > 0 {
			lines[len(lines)-1] += l[1:]
			continue
		}
		lines = append(lines, l)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	flush := func() {
		if dn != "" {
			out = append(out, ldap.NewEntry(dn, attrs))
		}
		dn, attrs = "", map[string][]string{}
	}
	for _, l := range lines {
		if l == "" || strings.HasPrefix(l, "#") {
			if l == "" {
				flush()
			}
			continue
		}
		name, val, ok := strings.Cut(l, ":")
		if !ok {
			return nil, fmt.Errorf("LDIF line without a colon: %q", l)
		}
		if strings.HasPrefix(val, ":") {
			b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(val[1:]))
			if err != nil {
				return nil, fmt.Errorf("LDIF %s: %v", name, err)
			}
			val = string(b)
		} else {
			val = strings.TrimPrefix(val, " ")
		}
		switch strings.ToLower(name) {
		case "dn":
			flush()
			dn = val
		case "ref":
		default:
			attrs[name] = append(attrs[name], val)
		}
	}
	flush()
	return out, nil
}
