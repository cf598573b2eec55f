package main

import (
	"bufio"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/wkssvcd/wkssvcd/joinlogic"
	"github.com/wkssvcd/wkssvcd/joinlogic/ldapdir"
)

// directorySettings are the settings of how joins reach a domain
// controller's directory, beside the locator's (--dns-server, --dc) and
// --ldap-ca in options.go.
type directorySettings struct {
	// Transport is ldapdir's Transport: auto (the default: sealed SASL on
	// port 389, LDAPS only if the DC refuses it), sasl, ldaps, starttls.
	Transport ldapdir.Transport
	// OSName and OSVersion are written to operatingSystem and
	// operatingSystemVersion of the computer object (adcli's --os-name
	// and --os-version). Default: NAME of /etc/os-release, and its
	// VERSION_ID with the kernel release in parentheses (the form of
	// Windows' "10.0 (20348)").
	OSName, OSVersion string
}

// directoryOptions are the options of directorySettings (group
// "directory").
func directoryOptions() []*option {
	return []*option{
		{name: "ldap-transport", arg: "MODE", group: groupDirectory, def: string(ldapdir.TransportAuto),
			usage: "how to reach a DC's directory: auto (sealed SASL on 389 — Kerberos, else NTLM — and LDAPS only if the DC refuses it), sasl, ldaps or starttls (these two check the certificate with --ldap-ca)",
			bind:  func(c *config) value { return &transportValue{&c.Directory.Transport} }},
		{name: "os-name", arg: "NAME", group: groupDirectory, defText: "NAME of /etc/os-release",
			usage: "operatingSystem of the computer object a join writes",
			bind:  func(c *config) value { return (*stringValue)(&c.Directory.OSName) }},
		{name: "os-version", arg: "VERSION", group: groupDirectory, defText: "VERSION_ID of /etc/os-release and the kernel release",
			usage: "operatingSystemVersion of the computer object a join writes",
			bind:  func(c *config) value { return (*stringValue)(&c.Directory.OSVersion) }},
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
		DNSServer:              c.DNSServer,
		DomainControllers:      c.DomainControllers,
		Transport:              c.Directory.Transport,
		CAFile:                 c.LDAPCAFile,
		OperatingSystem:        c.Directory.OSName,
		OperatingSystemVersion: c.Directory.OSVersion,
		Logger:                 logger.With("component", "ldap"),
	}
}

// defaultKeytab is where a join writes the machine's keys without
// --keytab: for root the host's keytab, /etc/krb5.keytab, which kinit,
// sssd and winbind read (the keys are merged into it, joinlogic/keytab);
// for anyone else krb5.keytab in the state directory.
func defaultKeytab(stateDir string) string {
	if os.Geteuid() == 0 {
		return "/etc/krb5.keytab"
	}
	return filepath.Join(stateDir, "krb5.keytab")
}

// fillOSDefaults fills OSName and OSVersion from the host when not given.
func (d *directorySettings) fillOSDefaults() {
	name, version := hostOS("/etc/os-release", "/proc/sys/kernel/osrelease")
	if d.OSName == "" {
		d.OSName = name
	}
	if d.OSVersion == "" {
		d.OSVersion = version
	}
}

// hostOS describes the host's operating system from its os-release file
// (NAME, VERSION_ID) and its kernel release: ("Debian GNU/Linux",
// "12 (6.1.0-18-amd64)"). Without an os-release file it is ("Linux", the
// kernel release).
func hostOS(osRelease, kernelRelease string) (name, version string) {
	kernel := ""
	if b, err := os.ReadFile(kernelRelease); err == nil {
		kernel = strings.TrimSpace(string(b))
	}
	fields := map[string]string{}
	if f, err := os.Open(osRelease); err == nil {
		fields = parseOSRelease(io.LimitReader(f, 64<<10))
		f.Close()
	}
	name = fields["NAME"]
	if name == "" {
		name = "Linux"
	}
	version = fields["VERSION_ID"]
	switch {
	case version == "":
		version = kernel
	case kernel != "":
		version += " (" + kernel + ")"
	}
	return name, version
}

// parseOSRelease reads the KEY=value lines of os-release(5), values
// optionally in quotes.
func parseOSRelease(r io.Reader) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		if u, err := strconv.Unquote(v); err == nil {
			v = u
		} else {
			v = strings.Trim(v, `"'`)
		}
		out[strings.TrimSpace(k)] = v
	}
	return out
}

// warnShortDNSName warns at start when the computer's DNS name has no
// domain part: a join then writes NAME.<domain's DNS name>.
func warnShortDNSName(names joinlogic.NameStore, logger *slog.Logger) {
	if fqdn := names.Names().FQDN; fqdn != "" && !strings.Contains(strings.TrimSuffix(fqdn, "."), ".") {
		logger.Warn("the DNS host name has no domain part; a domain join will write dNSHostName and the HOST/ SPN as this name followed by the domain's DNS name, as Samba does (give --dns-hostname FQDN to choose)", "dns_hostname", fqdn)
	}
}
