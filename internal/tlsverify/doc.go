// Package tlsverify checks the certificate a domain controller presents
// for LDAPS or StartTLS the way OpenSSL, libldap and so ldapsearch do:
// the chain must lead to a trusted root, and the certificate must name
// the host the client meant — by a subjectAltName when it carries one,
// else by its subject common name (RFC 6125 6.4.4). Go's crypto/x509
// refuses the common-name fallback, yet the certificate Samba generates
// for a new domain controller has no subjectAltName at all, so without it
// a Go client cannot verify a DC as it comes.
//
// It does no I/O and keeps no state.
package tlsverify
