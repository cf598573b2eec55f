package tlsverify

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// Config returns a client TLS configuration that verifies the server's
// certificate with Verify against roots (nil: the system roots) for
// host. host is also sent as the server name (SNI) unless it is an IP
// address.
func Config(roots *x509.CertPool, host string) *tls.Config {
	c := &tls.Config{
		// The standard verification cannot fall back to the common name;
		// VerifyConnection below does the whole verification instead, on
		// every handshake (also resumed ones).
		InsecureSkipVerify: true, //nolint:gosec // verified in VerifyConnection
		MinVersion:         tls.VersionTLS12,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return Verify(cs.PeerCertificates, roots, host, time.Now())
		},
	}
	if net.ParseIP(host) == nil {
		c.ServerName = host
	}
	return c
}

// Verify checks that certs (the leaf first, then the intermediates the
// server sent) chain to one of roots (nil: the system roots) at time now,
// that the leaf may authenticate a TLS server, and that it names host.
func Verify(certs []*x509.Certificate, roots *x509.CertPool, host string, now time.Time) error {
	if len(certs) == 0 {
		return errors.New("tlsverify: the server presented no certificate")
	}
	host = strings.TrimSuffix(host, ".")
	if host == "" {
		return errors.New("tlsverify: no host name to verify the certificate against")
	}
	leaf := certs[0]
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		return fmt.Errorf("tlsverify: certificate of %q (subject %q, issuer %q): %w", host, leaf.Subject, leaf.Issuer, err)
	}
	return VerifyName(leaf, host)
}

// VerifyName checks that leaf names host. A certificate with DNS or IP
// subjectAltNames is matched against them only (RFC 6125 6.4.4: when a
// DNS-ID is present the common name is not consulted); one without any
// is matched by its subject common name, exactly or with a wildcard as
// its whole left-most label, case-insensitively. An IP address is never
// matched by a common name.
func VerifyName(leaf *x509.Certificate, host string) error {
	host = strings.TrimSuffix(host, ".")
	ip := net.ParseIP(host)
	if len(leaf.DNSNames) > 0 || len(leaf.IPAddresses) > 0 || ip != nil {
		if err := leaf.VerifyHostname(host); err != nil {
			return fmt.Errorf("tlsverify: %w", err)
		}
		return nil
	}
	cn := strings.TrimSuffix(leaf.Subject.CommonName, ".")
	if cn != "" && matchName(cn, host) {
		return nil
	}
	return fmt.Errorf("tlsverify: the certificate names %q (subject common name, no subjectAltName), not %q", leaf.Subject.CommonName, host)
}

// matchName compares a DNS name from a certificate with host, allowing a
// "*" as the whole left-most label to stand for one label.
func matchName(pattern, host string) bool {
	if strings.EqualFold(pattern, host) {
		return true
	}
	rest, ok := strings.CutPrefix(pattern, "*.")
	if !ok || rest == "" || strings.Contains(rest, "*") {
		return false
	}
	_, hostRest, ok := strings.Cut(host, ".")
	return ok && strings.EqualFold(rest, hostRest) && strings.Count(rest, ".") >= 1
}
