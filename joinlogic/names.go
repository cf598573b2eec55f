package joinlogic

import (
	"strings"
	"unicode/utf8"
)

// maxNetBIOSNameLen is the length limit of NetBIOS computer, workgroup and
// domain names checked by NetrValidateName2 (MS-WKST 3.2.4.16).
const maxNetBIOSNameLen = 15

// builtinDomainName is the name of the built-in domain, which no domain
// may take (MS-WKST 3.2.4.16, MS-LSAT 3.1.1.1.3).
const builtinDomainName = "BUILTIN"

// isControl reports a character of octal value 000..037. The specification
// lists 001..037; NUL is included because it cannot occur in a wire string
// and must not slip through from a Go caller.
func isControl(r rune) bool { return r >= 0 && r < 0x20 }

// onlyDotsAndSpaces reports whether name consists entirely of '.' and ' '
// (an empty name counts, having nothing else in it).
func onlyDotsAndSpaces(name string) bool {
	return strings.Trim(name, ". ") == ""
}

// workgroupSyntaxOK applies the NetSetupWorkgroup syntax rules of MS-WKST
// 3.2.4.16. The specification measures the name in the OEM character set;
// a rune count is used here, which agrees for every single-byte OEM code
// page.
func workgroupSyntaxOK(name string) bool {
	if !utf8.ValidString(name) {
		return false
	}
	n := utf8.RuneCountInString(name)
	if n < 1 || n > maxNetBIOSNameLen {
		return false
	}
	for _, r := range name {
		if isControl(r) || strings.ContainsRune(`"/\[]:|<>+=;,?`, r) {
			return false
		}
	}
	return !onlyDotsAndSpaces(name)
}

// machineSyntax applies the NetSetupMachine syntax rules (MS-WKST 3.2.4.16).
func machineSyntax(name string) Code {
	if !workgroupSyntaxOK(name) || strings.ContainsRune(name, '*') ||
		strings.HasPrefix(name, " ") || strings.HasSuffix(name, " ") {
		return NERR_InvalidComputer
	}
	return NERR_Success
}

// dnsMachineSyntax applies the NetSetupDnsMachine rules of MS-WKST
// 3.2.4.16, in the order the specification gives them.
func dnsMachineSyntax(name string) Code {
	if name == "" || !utf8.ValidString(name) {
		return ERROR_INVALID_NAME
	}
	for _, r := range name {
		if isControl(r) {
			return ERROR_INVALID_NAME
		}
	}
	if len(name) > 255 {
		return ERROR_INVALID_NAME
	}
	for _, label := range strings.Split(name, ".") {
		if len(label) > 63 {
			return ERROR_INVALID_NAME
		}
	}
	if strings.Contains(name, "..") || strings.HasPrefix(name, ".") {
		return ERROR_INVALID_NAME
	}
	for _, r := range name {
		if r == ' ' || strings.ContainsRune("{|}~[\\]^':;<=>?@!\"#$%`()+/,*", r) {
			return DNS_ERROR_INVALID_NAME_CHAR
		}
	}
	return NERR_Success
}

// domainSyntax applies the NetSetupDomain syntax rules (MS-WKST 3.2.4.16):
// a name made only of dots and spaces is ERROR_INVALID_NAME; a name that
// passes the workgroup rules is accepted as a NetBIOS domain name; any other
// name must pass the DNS rules.
func domainSyntax(name string) Code {
	if onlyDotsAndSpaces(name) {
		return ERROR_INVALID_NAME
	}
	if workgroupSyntaxOK(name) {
		return NERR_Success
	}
	return dnsMachineSyntax(name)
}

// rfc1035Chars reports whether name holds only the characters of RFC 1035
// host names: letters, digits, hyphen, and the dot separating labels.
func rfc1035Chars(name string) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '.':
		default:
			return false
		}
	}
	return true
}

// nameSyntax runs the syntactic part of NetrValidateName2 for nameType.
// ERROR_INVALID_PARAMETER answers an unknown type.
func nameSyntax(name string, nameType uint32) Code {
	switch nameType {
	case NetSetupWorkgroup:
		if !workgroupSyntaxOK(name) {
			return NERR_InvalidWorkgroupName
		}
		return NERR_Success
	case NetSetupMachine:
		return machineSyntax(name)
	case NetSetupDomain:
		return domainSyntax(name)
	case NetSetupNonExistentDomain:
		if c := domainSyntax(name); c != NERR_Success {
			return c
		}
		if !rfc1035Chars(name) {
			return DNS_ERROR_NON_RFC_NAME
		}
		return NERR_Success
	case NetSetupDnsMachine:
		return dnsMachineSyntax(name)
	}
	return ERROR_INVALID_PARAMETER
}

// splitDomainParam splits DomainNameParam at its first '\' into the domain
// to join and the optional domain controller (MS-WKST 3.2.4.13.3).
func splitDomainParam(s string) (domain, dc string) {
	domain, dc, _ = strings.Cut(s, `\`)
	return domain, dc
}

// Account is a parsed AccountName: one of NetBIOSDomain\User,
// FQDN\User or User@FQDN (MS-WKST 3.2.4.13). Domain is empty for a bare
// user name; the domain being joined is then meant.
type Account struct {
	User   string
	Domain string
	// UPN is true for the User@FQDN form.
	UPN bool
}

// parseAccountName parses AccountName. ok is false for a string of none of
// the forms the specification allows.
func parseAccountName(s string) (Account, bool) {
	if s == "" || strings.ContainsFunc(s, isControl) {
		return Account{}, false
	}
	if d, u, found := strings.Cut(s, `\`); found {
		if d == "" || u == "" || strings.ContainsRune(u, '\\') {
			return Account{}, false
		}
		return Account{User: u, Domain: d}, true
	}
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		u, d := s[:i], s[i+1:]
		if u == "" || d == "" {
			return Account{}, false
		}
		return Account{User: u, Domain: d, UPN: true}, true
	}
	return Account{User: s}, true
}

// legacyMachinePassword is the password of an unsecure join without
// NETSETUP_MACHINE_PWD_PASSED: the first 14 characters of
// ComputerName.NetBIOS in lower case (MS-WKST 3.2.4.13.3).
func legacyMachinePassword(computerName string) string {
	r := []rune(strings.ToLower(computerName))
	if len(r) > 14 {
		r = r[:14]
	}
	return string(r)
}

// normalizeDN puts a distinguished name into a form in which two spellings
// of the same DN compare equal: attribute types and values are compared
// case-insensitively (AD's DN matching) and blanks around the separators are
// dropped. Escaped separators are kept as they are.
func normalizeDN(dn string) string {
	var rdns []string
	start := 0
	for i := 0; i < len(dn); i++ {
		switch dn[i] {
		case '\\':
			i++ // skip the escaped character
		case ',':
			rdns = append(rdns, dn[start:i])
			start = i + 1
		}
	}
	rdns = append(rdns, dn[start:])
	for i, rdn := range rdns {
		t, v, _ := strings.Cut(rdn, "=")
		rdns[i] = strings.ToLower(trimDNSpace(t)) + "=" + strings.ToLower(trimDNSpace(v))
	}
	return strings.Join(rdns, ",")
}

// trimDNSpace drops unescaped leading and trailing blanks (RFC 4514 2.4:
// an escaped trailing space is part of the value).
func trimDNSpace(s string) string {
	s = strings.TrimLeft(s, " ")
	t := strings.TrimRight(s, " ")
	if len(t) < len(s) {
		bs := len(t) - len(strings.TrimRight(t, `\`))
		if bs%2 == 1 {
			t = s[:len(t)+1] // keep the escaped space
		}
	}
	return t
}

// sameDN reports whether a and b name the same object.
func sameDN(a, b string) bool { return normalizeDN(a) == normalizeDN(b) }
