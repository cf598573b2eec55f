package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/wkssvcd/wkssvcd/internal/atomicfile"
	"github.com/wkssvcd/wkssvcd/joinlogic"
	"github.com/wkssvcd/wkssvcd/joinlogic/ldapdir"
	"github.com/wkssvcd/wkssvcd/joinlogic/sysvol"
	"github.com/wkssvcd/wkssvcd/odj"
)

// wkst provision: djoin /provision from Linux. The computer account is
// created (or with --reuse reset) through joinlogic's provisioning, which
// shares its phases with the daemon's online join, and the offline join
// file is written in djoin's format.

// provisionCmd is a parsed provision command line.
type provisionCmd struct {
	domain, machine, ou, dcName string
	reuse, defaultPassword      bool
	savefile                    string
	printBlob                   bool
	policyNames, policyPaths    string
	rootCACerts                 bool
	certTemplate                string
	groups                      stringList
	machinesFile                string
	netbios, primaryDNS         string
	persistentSite, dynamicSite string

	account, passwordFile string

	dnsServer     string
	dcs           stringList
	ldapCA        string
	ldapTransport string

	timeout time.Duration
	verbose bool
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(s string) error {
	if s == "" {
		return errors.New("empty value")
	}
	*l = append(*l, s)
	return nil
}

func newProvisionFlagSet() (*flag.FlagSet, *provisionCmd) {
	c := &provisionCmd{}
	fs := flag.NewFlagSet("provision", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&c.domain, "domain", "", "`DOMAIN` (DNS name, or NetBIOS name with --dc) of the account (djoin /domain)")
	fs.StringVar(&c.machine, "machine", "", "`NAME` of the computer to provision: its NetBIOS name, or with --netbios its host name (djoin /machine)")
	fs.StringVar(&c.machinesFile, "machines-file", "", "`FILE` of computer names, one a line, to provision in one session; --savefile is then a directory")
	fs.StringVar(&c.ou, "machine-ou", "", "`DN` of the OU for the account (djoin /machineou; default the domain's Computers container)")
	fs.StringVar(&c.dcName, "dc-name", "", "domain controller `HOST` to use, which must be a writable DC of the domain (djoin /dcname)")
	fs.BoolVar(&c.reuse, "reuse", false, "reset an existing account instead of failing with NERR_UserExists (djoin /reuse)")
	fs.BoolVar(&c.defaultPassword, "default-password", false, "set the machine password to the computer name in lower case (djoin /defpwd)")
	fs.StringVar(&c.savefile, "savefile", "", "`FILE` to write (djoin /savefile; - for standard output); a directory with --machines-file")
	fs.BoolVar(&c.printBlob, "print-blob", false, "print the base64 text of the file to standard output (djoin /printblob)")
	fs.StringVar(&c.policyNames, "policy-names", "", "display `NAMES` of GPOs, separated by ';', whose computer registry settings go into the file (djoin /policynames)")
	fs.StringVar(&c.policyPaths, "policy-paths", "", "`FILES` (Registry.pol), separated by ';', whose settings go into the file (djoin /policypaths)")
	fs.BoolVar(&c.rootCACerts, "root-ca-certs", false, "add the enterprise's root CA certificates, published in the directory (djoin /rootcacerts)")
	fs.StringVar(&c.certTemplate, "cert-template", "", "`TEMPLATE` of djoin /certtemplate: refused, as certificate enrollment is not supported")
	fs.StringVar(&c.netbios, "netbios", "", "NetBIOS `NAME` of the computer, when --machine is a longer host name (djoin /netbios): the account is NAME$")
	fs.StringVar(&c.persistentSite, "persistent-site", "", "AD `SITE` the computer stays in (djoin /psite)")
	fs.StringVar(&c.dynamicSite, "dynamic-site", "", "AD `SITE` the computer starts in, until the locator finds its own (djoin /dsite)")
	fs.StringVar(&c.primaryDNS, "primary-dns", "", "primary DNS `SUFFIX` of the computer, when not the domain's DNS name (djoin /primarydns): its dNSHostName is MACHINE.SUFFIX")
	fs.Var(&c.groups, "add-to-group", "add the account to the `GROUP` (sAMAccountName or DN; repeatable)")
	fs.StringVar(&c.account, "account", "", "domain `ACCOUNT` that creates the computer account: DOMAIN\\user, user@domain or user")
	fs.StringVar(&c.passwordFile, "password-file", "", "`FILE` (- for standard input) holding the password of --account (default: a prompt on a terminal)")
	fs.StringVar(&c.dnsServer, "dns-server", "", "DNS server `ADDR[:PORT]` that locates domain controllers (default: the system resolver)")
	fs.Var(&c.dcs, "dc", "domain controller `HOST` to try before DNS (repeatable)")
	fs.StringVar(&c.ldapTransport, "ldap-transport", "auto", "how to reach the DC's directory: auto (sealed SASL on 389), sasl, ldaps or starttls")
	fs.StringVar(&c.ldapCA, "ldap-ca", "", "PEM `FILE` of the CAs that sign the DCs' certificates, for ldaps and starttls (default: system roots)")
	fs.DurationVar(&c.timeout, "timeout", defaultTimeout, "time limit for reaching the DC, and for each computer")
	fs.BoolVar(&c.verbose, "v", false, "log progress to standard error")
	return fs, c
}

func parseProvision(args []string) (*provisionCmd, error) {
	fs, c := newProvisionFlagSet()
	const name = "provision"
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, cmdUsagef(name, "%s: %v", name, err)
	}
	switch {
	case fs.NArg() > 0:
		return nil, cmdUsagef(name, "%s: unexpected argument %q", name, fs.Arg(0))
	case c.domain == "":
		return nil, cmdUsagef(name, "provision: --domain is required")
	case c.machine == "" && c.machinesFile == "":
		return nil, cmdUsagef(name, "provision: --machine or --machines-file is required")
	case c.machine != "" && c.machinesFile != "":
		return nil, cmdUsagef(name, "provision: --machine and --machines-file exclude each other")
	case c.account == "":
		return nil, cmdUsagef(name, "provision: --account is required (the domain account that creates computer accounts)")
	case c.certTemplate != "":
		return nil, cmdUsagef(name, "provision: --cert-template (djoin /certtemplate) is not supported: it enrolls a certificate for the new computer at an enterprise CA (AD CS), which wkst does not do; use --root-ca-certs for the CA certificates, and enroll the computer's certificate once it is up")
	case c.savefile == "" && !c.printBlob:
		return nil, cmdUsagef(name, "provision: --savefile or --print-blob is required")
	case c.machinesFile != "" && (c.savefile == "" || c.savefile == "-" || c.printBlob):
		return nil, cmdUsagef(name, "provision: --machines-file writes one file per computer into the directory --savefile names")
	case c.savefile == "-" && c.printBlob:
		return nil, cmdUsagef(name, "provision: --savefile - and --print-blob both write to standard output")
	case c.netbios == "" && len(c.machine) > 15:
		return nil, cmdUsagef(name, "provision: the machine name %q is longer than a NetBIOS name (15 characters): give the computer's NetBIOS name with --netbios", c.machine)
	case c.netbios != "" && c.machinesFile != "":
		return nil, cmdUsagef(name, "provision: --netbios names one computer; it does not go with --machines-file")
	case c.persistentSite != "" && c.dynamicSite != "":
		return nil, cmdUsagef(name, "provision: --persistent-site and --dynamic-site exclude each other")
	case c.passwordFile == "-" && c.machinesFile == "-":
		return nil, cmdUsagef(name, "provision: --password-file and --machines-file cannot both be standard input")
	case c.timeout <= 0:
		return nil, cmdUsagef(name, "provision: --timeout must be positive")
	}
	if _, err := joinlogic.ParseAccountName(c.account); err != nil {
		return nil, cmdUsagef(name, "provision: --account: %v", err)
	}
	for flagName, v := range map[string]string{"--persistent-site": c.persistentSite, "--dynamic-site": c.dynamicSite} {
		// An AD site is a relative distinguished name value under
		// CN=Sites (MS-ADTS 6.1.1.2.2.1), at most 63 characters.
		if v != "" && (len(v) > 63 || strings.ContainsAny(v, `,+"\<>;=/#`) || strings.TrimSpace(v) != v) {
			return nil, cmdUsagef(name, "provision: %s: %q is not a site name", flagName, v)
		}
	}
	if d := strings.TrimSuffix(c.primaryDNS, "."); c.primaryDNS != "" && (d == "" || strings.ContainsAny(d, " \\/:*?\"<>|") || strings.HasPrefix(d, ".") || strings.Contains(d, "..")) {
		return nil, cmdUsagef(name, "provision: --primary-dns: %q is not a DNS suffix", c.primaryDNS)
	}
	if c.dnsServer != "" {
		if _, _, err := net.SplitHostPort(c.dnsServer); err != nil {
			c.dnsServer = net.JoinHostPort(c.dnsServer, "53")
		}
	}
	return c, nil
}

// provisionError turns a provisioning failure into the error wkst reports:
// a domain that cannot be reached or a refused logon exit with 3, like a
// server that cannot be reached; every other code the directory gave
// exits with 1 and is named, with its cause.
func provisionError(what string, err error) error {
	var c joinlogic.Code
	if !errors.As(err, &c) {
		return fmt.Errorf("%s: %w", what, err)
	}
	switch c {
	case joinlogic.ERROR_NO_SUCH_DOMAIN, joinlogic.ERROR_LOGON_FAILURE, joinlogic.ERROR_TIMEOUT:
		return fmt.Errorf("%s: %s: %w", what, c, err)
	}
	return fmt.Errorf("%w (%v)", &callError{Op: what, Code: uint32(c)}, err)
}

func runProvision(ctx context.Context, args []string, e env) error {
	c, err := parseProvision(args)
	if err != nil {
		return err
	}
	acct, _ := joinlogic.ParseAccountName(c.account)
	secrets := &secretSource{stdin: e.stdin, prompt: e.prompt, ctx: ctx}
	var pw string
	if c.passwordFile != "" {
		pw, err = secrets.read(c.passwordFile, "Password for "+c.account+" (--account)")
	} else {
		pw, err = secrets.ask("Password for " + c.account + " (--account)")
	}
	if err != nil {
		return err
	}
	level := slog.LevelWarn
	if c.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))

	machines := []string{c.machine}
	if c.machinesFile != "" {
		if machines, err = readMachines(c.machinesFile, e.stdin); err != nil {
			return err
		}
	}
	// What the files will hold besides the join, read before anything is
	// created: local policy files first.
	var policies []odj.PolicyElementList
	for _, p := range splitList(c.policyPaths) {
		b, err := readBoundedFile(p, odj.MaxSavefileSize)
		if err != nil {
			return fmt.Errorf("--policy-paths: %w", err)
		}
		vals, err := odj.DecodePReg(b)
		if err != nil {
			return fmt.Errorf("--policy-paths: %s: %w", p, err)
		}
		policies = append(policies, odj.PolicyList(p, vals))
	}
	// The outputs must be writable before accounts are created.
	outputs := make(map[string]string, len(machines))
	for _, m := range machines {
		if outputs[m], err = outputPath(c, m); err != nil {
			return err
		}
	}

	transport, err := ldapdir.ParseTransport(c.ldapTransport)
	if err != nil {
		return cmdUsagef("provision", "provision: --ldap-transport: %v", err)
	}
	dir := ldapdir.New(ldapdir.Config{
		DNSServer:         c.dnsServer,
		DomainControllers: c.dcs,
		Transport:         transport,
		CAFile:            c.ldapCA,
		Logger:            log.With("component", "ldap"),
	})
	prov, err := joinlogic.NewProvisioner(joinlogic.ProvisionConfig{
		Directory: dir,
		Sysvol:    &sysvol.Reader{Timeout: c.timeout, Logger: log.With("component", "sysvol")},
		Logger:    log.With("component", "provision"),
	})
	if err != nil {
		return err
	}
	octx, cancel := context.WithTimeout(ctx, c.timeout)
	ps, err := prov.Open(octx, c.domain, c.dcName, joinlogic.Credentials{Account: acct, Password: pw})
	cancel()
	if err != nil {
		return provisionError("reaching "+c.domain, err)
	}
	defer ps.Close(context.WithoutCancel(ctx))

	octx, cancel = context.WithTimeout(ctx, c.timeout)
	extra, err := directAccessParts(octx, ps, c, policies, e.stderr)
	cancel()
	if err != nil {
		return err
	}

	var failed []string
	for i, m := range machines {
		if err := ctx.Err(); err != nil {
			return errInterrupted
		}
		mctx, cancel := context.WithTimeout(ctx, c.timeout)
		line, err := provisionOne(mctx, ps, c, m, outputs[m], extra, e)
		cancel()
		prefix := ""
		if len(machines) > 1 {
			prefix = fmt.Sprintf("[%d/%d] ", i+1, len(machines))
		}
		if err != nil {
			if len(machines) == 1 {
				return err
			}
			fmt.Fprintf(e.stderr, "wkst: %s%s: %v\n", prefix, m, err)
			failed = append(failed, m)
			continue
		}
		out := e.stdout
		if c.savefile == "-" || c.printBlob {
			out = e.stderr // standard output carries the file
		}
		fmt.Fprintf(out, "%s%s\n", prefix, line)
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d computers not provisioned: %s", len(failed), len(machines), strings.Join(failed, ", "))
	}
	return nil
}

// provisionOne provisions machine m and writes its file; a file that
// cannot be written takes the account back out of the directory.
func provisionOne(ctx context.Context, ps *joinlogic.ProvisionSession, c *provisionCmd, m, out string, extra []odj.Part, e env) (string, error) {
	req := joinlogic.MachineRequest{Name: m, OU: c.ou, Reuse: c.reuse, DefaultPassword: c.defaultPassword, Groups: c.groups}
	if c.netbios != "" {
		// The account is named after the NetBIOS name; the machine name
		// is the host name of its DNS name.
		req.Name, req.DNSHostName = c.netbios, strings.ToLower(m)
	}
	if c.primaryDNS != "" {
		req.DNSHostName = strings.ToLower(m) + "." + strings.ToLower(strings.TrimSuffix(c.primaryDNS, "."))
	}
	pm, undo, err := ps.Provision(ctx, req)
	if err != nil {
		return "", provisionError("provisioning "+m, err)
	}
	pm.Name = m // the file names the machine as asked (djoin /machine)
	file, err := provisioningFile(pm, c.reuse, c.defaultPassword, c.joinProv2(), extra)
	if err == nil {
		err = writeOutput(c, out, file, e.stdout)
	}
	if err != nil {
		if uerr := undo(context.WithoutCancel(ctx)); uerr != nil {
			return "", fmt.Errorf("%s: %w; and putting the directory back failed: %v", m, err, uerr)
		}
		if !pm.Created {
			// unicodePwd cannot be read back: the reset stays.
			return "", fmt.Errorf("%s: %w (the account's attributes were put back, but its password was reset and is lost: provision it again with --reuse)", m, err)
		}
		return "", fmt.Errorf("%s: %w (the account was taken back)", m, err)
	}
	verb := "created"
	if !pm.Created {
		verb = "reset"
	}
	where := out
	switch {
	case c.printBlob:
		where = "printed"
	case out == "-":
		where = "standard output"
	}
	s := fmt.Sprintf("%s: %s %s (RID %d, key version %d)", m, verb, pm.DN, pm.RID, pm.KVNO)
	if len(pm.Groups) > 0 {
		s += ", member of " + strings.Join(pm.Groups, "; ")
	}
	return s + " -> " + where, nil
}

// provisioningFile builds the binary form of the file for pm in the shape
// djoin writes (odj.BuildProvision, proven against a Windows Server 2019
// file): the WIN7 blob, then a package with JOIN_PROVIDER (essential),
// JOIN_PROVIDER2 when prov2 is set, JOIN_PROVIDER3 and JOIN_PROVIDER4
// (RID, SID, objectGUID) and the extra parts.
func provisioningFile(pm *joinlogic.ProvisionedMachine, reuse, defpwd bool, prov2 *odj.JoinProv2, extra []odj.Part) ([]byte, error) {
	sid, err := odj.ParseSID(pm.Domain.SID)
	if err != nil {
		return nil, err
	}
	guid, err := odj.ParseGUID(firstNonEmpty(pm.Domain.GUID, pm.DC.DomainGUID))
	if err != nil {
		return nil, fmt.Errorf("domain GUID: %w", err)
	}
	acctGUID, err := odj.ParseGUID(pm.GUID)
	if err != nil {
		return nil, fmt.Errorf("account GUID: %w", err)
	}
	dc := pm.DC
	p, err := odj.BuildProvision(odj.FileSpec{
		DomainDNS: pm.Domain.DNSName, DomainNetBIOS: pm.Domain.NetBIOSName, ForestDNS: pm.Domain.ForestName,
		DomainSID: sid, DomainGUID: guid,
		MachineName: pm.Name, Password: odj.PasswordFromString(pm.Password.Reveal()),
		AccountRID: pm.RID, AccountSID: pm.SID, AccountGUID: acctGUID,
		DCName: dc.DCName, DCAddress: dc.DCAddress, DCFlags: dc.Flags, DCSiteName: dc.DCSiteName, ClientSiteName: dc.ClientSite,
		Reuse: reuse, DefaultPassword: defpwd,
		Prov2: prov2, Parts: extra,
	})
	if err != nil {
		return nil, err
	}
	return p.Encode()
}

// joinProv2 is the JOIN_PROVIDER2 part of djoin /netbios, /psite, /dsite
// and /primarydns; nil when none of them is given.
func (c *provisionCmd) joinProv2() *odj.JoinProv2 {
	if c.netbios == "" && c.persistentSite == "" && c.dynamicSite == "" && c.primaryDNS == "" {
		return nil
	}
	p := &odj.JoinProv2{NetbiosName: strings.ToUpper(c.netbios), SiteName: c.dynamicSite, PrimaryDNSDomain: strings.TrimSuffix(c.primaryDNS, ".")}
	if c.persistentSite != "" {
		p.SiteName, p.Flags = c.persistentSite, odj.OpJP2FlagPersistentSite
	}
	return p
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// directAccessParts reads the GPOs and CA certificates the command line
// asks for and returns the POLICY_PROVIDER and CERT_PROVIDER parts.
func directAccessParts(ctx context.Context, ps *joinlogic.ProvisionSession, c *provisionCmd, policies []odj.PolicyElementList, stderr io.Writer) ([]odj.Part, error) {
	for _, name := range splitList(c.policyNames) {
		s, err := ps.MachinePolicy(ctx, name)
		if err != nil {
			return nil, provisionError("--policy-names "+name, err)
		}
		var vals []odj.RegistryValue
		if s.Data != nil {
			if vals, err = odj.DecodePReg(s.Data); err != nil {
				return nil, fmt.Errorf("--policy-names %s: %s: %w", name, s.Source, err)
			}
		} else {
			fmt.Fprintf(stderr, "wkst: the GPO %q has no computer registry settings (%s)\n", name, s.Source)
		}
		policies = append(policies, odj.PolicyList(s.Source, vals))
	}
	var parts []odj.Part
	if len(policies) > 0 {
		parts = append(parts, odj.ContentPart(&odj.PolicyPart{Lists: policies}, 0))
	}
	if c.rootCACerts {
		certs, err := ps.RootCACertificates(ctx)
		if err != nil {
			return nil, provisionError("--root-ca-certs", err)
		}
		if len(certs) == 0 {
			fmt.Fprintf(stderr, "wkst: --root-ca-certs: the directory publishes no root CA certificate; the file has none\n")
		} else {
			parts = append(parts, odj.ContentPart(&odj.CertPart{SSTStores: []odj.CertSSTStore{{
				StoreLocation: odj.CertSystemStoreLocalMachine, StoreName: "Root", SST: odj.EncodeSST(certs),
			}}}, 0))
		}
	}
	return parts, nil
}

// splitList splits djoin's ';'-separated lists.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ";") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// maxMachinesFile bounds --machines-file.
const maxMachinesFile = 1 << 20

// readMachines reads computer names, one a line; blank lines and lines
// starting with '#' are skipped, and a name may appear once.
func readMachines(path string, stdin io.Reader) ([]string, error) {
	var b []byte
	var err error
	if path == "-" {
		b, err = io.ReadAll(io.LimitReader(stdin, maxMachinesFile+1))
	} else {
		b, err = readBoundedFile(path, maxMachinesFile)
	}
	if err != nil {
		return nil, fmt.Errorf("--machines-file: %w", err)
	}
	if len(b) > maxMachinesFile {
		return nil, fmt.Errorf("--machines-file: larger than %d bytes", maxMachinesFile)
	}
	var out []string
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		name := strings.TrimSpace(sc.Text())
		if name == "" || strings.HasPrefix(name, "#") {
			continue
		}
		if strings.ContainsAny(name, ` \/:*?"<>|`) {
			return nil, fmt.Errorf("--machines-file: line %d: %q is not a computer name", n, name)
		}
		if seen[strings.ToUpper(name)] {
			return nil, fmt.Errorf("--machines-file: line %d: %s appears twice", n, name)
		}
		seen[strings.ToUpper(name)] = true
		out = append(out, name)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--machines-file: no computer names in %s", path)
	}
	return out, nil
}

func readBoundedFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return b, nil
}

// outputPath returns where machine m's file goes, checking that it can be
// written there and that no earlier file is overwritten (an earlier file
// may hold the only copy of another machine's password).
func outputPath(c *provisionCmd, m string) (string, error) {
	if c.savefile == "" || c.savefile == "-" {
		return c.savefile, nil
	}
	path := c.savefile
	if c.machinesFile != "" {
		if err := os.MkdirAll(c.savefile, 0o700); err != nil {
			return "", fmt.Errorf("--savefile: %w", err)
		}
		path = filepath.Join(c.savefile, m+".txt")
	}
	if _, err := os.Lstat(path); err == nil {
		return "", fmt.Errorf("%s exists; provisioning files are never overwritten (remove it or choose another name)", path)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".wkst-provision-check-")
	if err != nil {
		return "", fmt.Errorf("cannot write %s: %w", path, err)
	}
	f.Close()
	os.Remove(f.Name())
	return path, nil
}

// writeOutput delivers the binary form bin: as a savefile (mode 0600,
// written atomically, never over an existing file), to standard output,
// or as the printed base64 text.
func writeOutput(c *provisionCmd, path string, bin []byte, stdout io.Writer) error {
	if c.printBlob {
		if _, err := fmt.Fprintln(stdout, odj.EncodeText(bin)); err != nil {
			return err
		}
		if path == "" {
			return nil
		}
	}
	file := odj.EncodeSavefile(bin)
	if path == "-" {
		_, err := stdout.Write(file)
		return err
	}
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%s appeared while provisioning; not overwritten", path)
	}
	return atomicfile.Write(path, file, 0o600)
}
