package main

import (
	"strings"
	"testing"
)

// FuzzParseArgs feeds the command-line parsers arbitrary text: they must
// not panic, and what they accept must satisfy their invariants.
func FuzzParseArgs(f *testing.F) {
	for _, s := range []string{
		"0x23", "JOIN_DOMAIN,ACCT_CREATE", "netsetup_join_domain|ACCT_DELETE", "",
		`EXAMPLE\admin`, "admin@example.test", "[::1]:445", "host:4455", "::1", "a@b@c", `\`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if v, err := parseOptions(s); err == nil {
			// formatOptions starts with the hex value, which parses back.
			hexPart, _, _ := strings.Cut(formatOptions(v), " ")
			if back, err := parseOptions(hexPart); err != nil || back != v {
				t.Fatalf("%q: %#x does not round-trip through %q: %#x %v", s, v, hexPart, back, err)
			}
		}
		if a, err := parseUser(s); err == nil {
			if a.User == "" || strings.ContainsAny(a.User, `\`) {
				t.Fatalf("%q: bad user %+v", s, a)
			}
		}
		if h, p, err := parseServer(s); err == nil {
			if h == "" || p < 1 || p > 65535 {
				t.Fatalf("%q: bad server %q %d", s, h, p)
			}
		}
		_, _ = smbDialect(s)
		_, _ = parseCommand("join", strings.Fields(s))
	})
}
