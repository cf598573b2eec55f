// Package ldapdir is the domain side of a join (MS-WKST 3.2.4.13.3,
// 3.2.4.14): it implements joinlogic.Directory and joinlogic.Session over
// LDAP against Active Directory domain controllers.
//
// It locates controllers by DNS SRV records (MS-NRPC 3.5.4.3,
// _ldap._tcp.dc._msdcs.<domain>) and validates them with an LDAP ping
// (MS-ADTS 6.3.3, NETLOGON_SAM_LOGON_RESPONSE_EX, random message IDs). A
// controller is known from then on by the name this side resolved — the
// SRV target, which must lie inside the domain, or the name the operator
// or caller gave — never by the name its unauthenticated ping answers
// with.
//
// It reaches the directory over one of the Transports: by default LDAP on
// port 389 with a GSS-SPNEGO SASL bind (Kerberos with mutual
// authentication, NTLM when Kerberos is not possible; GSSAPI with its
// RFC 4752 layer negotiation when the DC refuses GSS-SPNEGO, never NTLM
// then) and every message signed and sealed afterwards (sasl.go, on
// go-msrpc's ssp mechanisms);
// LDAPS or StartTLS on request, the certificate verified for that name
// (internal/tlsverify) before a simple bind. Every transport authenticates
// the controller before a password is written to it; none sends one in
// clear text.
//
// It reads and writes the domain's identity, the computers container and
// computer objects. Each change to a computer object is ONE LDAP
// operation, which the controller applies atomically: a join's add or
// modify carries the password, the enabled userAccountControl and the
// host names together, an unjoin's modify the disabled bit. Failures carry
// the joinlogic.Code the join must report and say why.
//
// It owns no local state: the membership store, the keytab and the join
// state machine live in other packages, and it never logs passwords.
package ldapdir
