package joinlogic

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// sameJSON reports whether a and b encode alike (nil and empty lists are
// one value in the files).
func sameJSON(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

// FuzzParseState feeds arbitrary bytes to the membership-file parser: it
// must never panic, and whatever it accepts must survive a re-encode.
func FuzzParseState(f *testing.F) {
	for _, m := range []Membership{DefaultMembership(), sampleMembership(), {}, crashState(7)} {
		b, err := encodeState(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"version":1,"membership":{}}`))
	f.Add([]byte(`{"version":2,"membership":{}}`))
	f.Add([]byte(`{"version":1,"membership":null}`))
	f.Add([]byte(`{"version":1,"membership":{"password_set_time":"not a time"}}`))
	f.Add([]byte(`{"version":1}{"version":1}`))
	f.Add([]byte("\xff\xfe{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseState(data)
		if err != nil {
			return
		}
		b, err := encodeState(m)
		if err != nil {
			t.Fatalf("accepted state does not encode: %v", err)
		}
		m2, err := parseState(b)
		if err != nil {
			t.Fatalf("re-encoded state rejected: %v\n%s", err, b)
		}
		if !equalMembership(m, m2) {
			t.Fatalf("round trip changed the state:\n%+v\n%+v", m.LogValue(), m2.LogValue())
		}
	})
}

var validateCodes = []Code{NERR_Success, ERROR_INVALID_PARAMETER, ERROR_INVALID_NAME, NERR_InvalidComputer,
	NERR_InvalidWorkgroupName, DNS_ERROR_NON_RFC_NAME, DNS_ERROR_INVALID_NAME_CHAR}

// FuzzNameSyntax checks that the name rules of MS-WKST 3.2.4.16 never
// panic and only answer codes the method's table lists.
func FuzzNameSyntax(f *testing.F) {
	for _, s := range []string{"", "WORKGROUP", "example.test", ". .", "a..b", "BUILTIN", "a b", "\x00", "\xff", "ñandú"} {
		for nt := uint32(0); nt <= 6; nt++ {
			f.Add(s, nt)
		}
	}
	f.Fuzz(func(t *testing.T, name string, nameType uint32) {
		c := nameSyntax(name, nameType)
		if !slices.Contains(validateCodes, c) {
			t.Fatalf("nameSyntax(%q, %d) = %v", name, nameType, c)
		}
		if nameType == NetSetupWorkgroup && c == NERR_Success && !workgroupSyntaxOK(name) {
			t.Fatal("inconsistent workgroup verdict")
		}
	})
}

// FuzzParseAccountName checks the AccountName parser: no panic, and an
// accepted name always has a user part and no control characters.
func FuzzParseAccountName(f *testing.F) {
	for _, s := range []string{`EXAMPLE\admin`, "admin@example.test", "admin", `\`, "@", `a\b\c`, "a@", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, ok := parseAccountName(s)
		if ok && a.User == "" {
			t.Fatalf("accepted %q without a user", s)
		}
	})
}

// FuzzNormalizeDN checks that DN normalisation is idempotent and never
// panics.
func FuzzNormalizeDN(f *testing.F) {
	for _, s := range []string{"CN=Computers,DC=example,DC=test", `OU=a\,b, DC=x`, `\`, ",,", "=", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := normalizeDN(s)
		if normalizeDN(n) != n {
			t.Fatalf("normalizeDN not idempotent on %q: %q then %q", s, n, normalizeDN(n))
		}
	})
}

// FuzzParseIntent feeds arbitrary bytes to the intent-file parser: it must
// never panic, and whatever it accepts must be valid and survive a
// re-encode.
func FuzzParseIntent(f *testing.F) {
	unjoin := sampleIntent()
	unjoin.Op, unjoin.Previous, unjoin.Next = IntentUnjoin, sampleMembership(), Membership{}
	local := unjoin
	local.DirectoryWrite, local.DC = false, DCInfo{}
	rename := sampleIntent()
	rename.Op, rename.Previous = IntentRename, sampleMembership()
	rename.Names = &NamesIntent{Previous: ComputerName{NetBIOS: "WKS1", FQDN: "wks1.example.test"},
		Next: ComputerName{NetBIOS: "WKS2", FQDN: "wks2.example.test", Alternates: []AlternateName{{NetBIOS: "WEB", FQDN: "web.example.test"}}}, CN: "WKS2"}
	alt := rename
	alt.Op, alt.Names = IntentNames, &NamesIntent{Next: rename.Names.Next, Alternate: "web.example.test", Present: true}
	for _, in := range []Intent{sampleIntent(), unjoin, local, rename, alt} {
		b, err := encodeIntent(in)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"version":1,"intent":{}}`))
	f.Add([]byte(`{"version":1,"intent":{"op":"join","next":{"domain_sid":"S-1"}}}`))
	f.Add([]byte(`{"version":1,"intent":null}`))
	f.Add([]byte(`{"version":1,"intent":{"started":"not a time"}}`))
	f.Add([]byte("\x00{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := parseIntent(data)
		if err != nil {
			return
		}
		if err := in.validate(); err != nil {
			t.Fatalf("accepted an invalid intent: %v", err)
		}
		b, err := encodeIntent(in)
		if err != nil {
			t.Fatalf("accepted intent does not encode: %v", err)
		}
		in2, err := parseIntent(b)
		if err != nil {
			t.Fatalf("re-encoded intent rejected: %v\n%s", err, b)
		}
		if in2.Op != in.Op || in2.DC != in.DC || in2.SAMAccountName != in.SAMAccountName ||
			!equalMembership(in2.Next, in.Next) || !equalMembership(in2.Previous, in.Previous) || !in2.Started.Equal(in.Started) ||
			!sameJSON(in2.Names, in.Names) {
			t.Fatalf("round trip changed the intent:\n%+v\n%+v", in.LogValue(), in2.LogValue())
		}
	})
}

// FuzzAlternateNameSyntax checks the AlternateName / PrimaryName rules
// (MS-WKST 3.2.4.18): no panic, one of the three codes, and an accepted
// name has a valid NetBIOS form.
func FuzzAlternateNameSyntax(f *testing.F) {
	for _, s := range []string{"web.example.test", "a..b", ".a", "a b", "a*b", "x", strings.Repeat("a", 64) + ".b", "ñandú.test", "a_b", "\x00", "-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		c := alternateNameSyntax(name)
		switch c {
		case NERR_Success:
			if nb := NetBIOSNameOf(name); nb == "" || machineSyntax(nb) != NERR_Success {
				t.Fatalf("accepted %q with NetBIOS form %q", name, nb)
			}
		case ERROR_INVALID_NAME, DNS_ERROR_INVALID_NAME_CHAR:
		default:
			t.Fatalf("alternateNameSyntax(%q) = %v", name, c)
		}
	})
}
