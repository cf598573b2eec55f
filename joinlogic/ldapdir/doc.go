// Package ldapdir is the domain side of a join (MS-WKST 3.2.4.13.3,
// 3.2.4.14): it implements joinlogic.Directory and joinlogic.Session over
// LDAP against Active Directory domain controllers.
//
// It locates controllers by DNS SRV records (MS-NRPC 3.5.4.3,
// _ldap._tcp.dc._msdcs.<domain>) and validates them with an LDAP ping
// (MS-ADTS 6.3.3, NETLOGON_SAM_LOGON_RESPONSE_EX), binds over LDAPS with the
// controller's certificate verified against its DNS host name, and reads and
// writes the domain's identity, the computers container and computer
// objects. Each change to a computer object is ONE LDAP operation, which
// the controller applies atomically: a join's add or modify carries the
// password, the enabled userAccountControl and the host names together,
// an unjoin's modify the disabled bit. Failures carry the joinlogic.Code
// the join must report.
//
// It owns no local state: the membership store, the keytab and the join
// state machine live in other packages, and it never logs passwords.
package ldapdir
