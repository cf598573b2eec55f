package main

import (
	"log/slog"

	"github.com/wkssvcd/wkssvcd/joinlogic/ldapdir"
)

// directorySettings are the settings of how joins reach a domain
// controller's directory, beside the locator's (--dns-server, --dc) and
// --ldap-ca in options.go.
type directorySettings struct {
	// Transport is ldapdir's Transport: auto (the default: sealed SASL on
	// port 389, LDAPS only if the DC refuses it), sasl, ldaps, starttls.
	Transport ldapdir.Transport
}

// directoryOptions are the options of directorySettings (group
// "directory").
func directoryOptions() []*option {
	return []*option{
		{name: "ldap-transport", arg: "MODE", group: groupDirectory, def: string(ldapdir.TransportAuto),
			usage: "how to reach a DC's directory: auto (sealed SASL on 389 — Kerberos, else NTLM — and LDAPS only if the DC refuses it), sasl, ldaps or starttls (these two check the certificate with --ldap-ca)",
			bind:  func(c *config) value { return &transportValue{&c.Directory.Transport} }},
	}
}

// transportValue is an ldapdir.Transport option.
type transportValue struct{ p *ldapdir.Transport }

func (v *transportValue) Set(s string) error {
	t, err := ldapdir.ParseTransport(s)
	if err != nil {
		return err
	}
	*v.p = t
	return nil
}

func (v *transportValue) get() any { return string(*v.p) }

// directoryConfig is the configuration of the LDAP directory the joins
// use.
func (c *config) directoryConfig(logger *slog.Logger) ldapdir.Config {
	return ldapdir.Config{
		DNSServer:         c.DNSServer,
		DomainControllers: c.DomainControllers,
		Transport:         c.Directory.Transport,
		CAFile:            c.LDAPCAFile,
		OperatingSystem:   "wkssvcd",
		Logger:            logger.With("component", "ldap"),
	}
}
