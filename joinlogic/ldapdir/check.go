package ldapdir

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/wkssvcd/wkssvcd/joinlogic"
)

// CheckStep is one step of Check and its outcome.
type CheckStep struct {
	// Step names what was tried ("DNS SRV ...", "locate", "sasl/Kerberos").
	Step string
	// OK is the outcome; Skipped marks a step that could not be tried.
	OK, Skipped bool
	// Detail is what the step found, or why it failed. It never holds a
	// password.
	Detail string
}

// CheckRequest is what Check examines.
type CheckRequest struct {
	// Domain is the DNS or NetBIOS name of the domain. Required.
	Domain string
	// DC, when set, is the controller to check instead of the located one.
	DC string
	// Cred, when set, is bound with on every transport; without it only
	// what needs no credentials is checked.
	Cred *joinlogic.Credentials
}

// Check runs what a join does before it writes anything, step by step,
// and reports each step with its outcome: the DNS SRV lookup, the LDAP
// ping of the locator, then every transport — sealed SASL GSS-SPNEGO with
// Kerberos and with NTLM, GSSAPI, LDAPS and StartTLS — each with its bind (with req.Cred) and a
// read of the rootDSE (and of the domain's identity when bound). It is
// the diagnosis `adcli info` and `net ads testjoin` give, for this
// daemon's own code paths. It returns whether the configured Transport
// works: connects, authenticates the controller and, with req.Cred,
// binds.
func (d *Directory) Check(ctx context.Context, req CheckRequest, report func(CheckStep)) bool {
	domain := strings.TrimSuffix(strings.TrimSpace(req.Domain), ".")
	resolver := "the system resolver"
	if d.cfg.DNSServer != "" {
		resolver = d.cfg.DNSServer
	}
	if strings.Contains(domain, ".") {
		q := "_ldap._tcp.dc._msdcs." + domain
		lctx, cancel := context.WithTimeout(ctx, d.opTimeout(ctx))
		_, srvs, err := d.resolver.LookupSRV(lctx, "ldap", "tcp", "dc._msdcs."+domain)
		cancel()
		err = d.dnsError(err)
		step := CheckStep{Step: "DNS SRV " + q + " via " + resolver}
		if err != nil {
			step.Detail = err.Error()
		} else {
			sortSRV(srvs)
			step.OK, step.Detail = true, strings.Join(srvTargets(srvs), ", ")
		}
		report(step)
	}
	dc, err := d.Locate(ctx, joinlogic.LocateRequest{Domain: domain, DCName: req.DC, Writable: true})
	if err != nil {
		report(CheckStep{Step: "locate a writable domain controller", Detail: err.Error()})
		return false
	}
	report(CheckStep{Step: "locate a writable domain controller", OK: true, Detail: describeDC(dc)})

	type transport struct {
		name    string
		tr      Transport
		methods []saslMethod
	}
	checks := []transport{
		{"sasl/Kerberos", TransportSASL, []saslMethod{{mechGSSSPNEGO, authKerberos}}},
		{"sasl/NTLM", TransportSASL, []saslMethod{{mechGSSSPNEGO, authNTLM}}},
		{"sasl/GSSAPI", TransportSASL, []saslMethod{{mechGSSAPI, authKerberos}}},
		{"ldaps", TransportLDAPS, nil},
		{"starttls", TransportStartTLS, nil},
	}
	works := map[string]bool{}
	for _, c := range checks {
		step := CheckStep{Step: c.name}
		if req.Cred == nil && c.tr == TransportSASL {
			if c.name != "sasl/Kerberos" {
				continue // the anonymous check of port 389 is reported once
			}
			step.Step = "sasl (port 389, without credentials)"
			step.OK, step.Detail = d.checkAnonymous(ctx, dc)
			step.Detail += "; give --account and --password-file to check the Kerberos and NTLM binds"
			works[c.name], works["sasl/NTLM"], works["sasl/GSSAPI"] = step.OK, step.OK, step.OK
			report(step)
			continue
		}
		if c.tr == TransportStartTLS {
			// A Samba DC with `tls enabled = no` (4.17) crashes on a
			// StartTLS request; one that serves no TLS on 636 is not sent
			// one.
			probe, err := d.dialTCP(ctx, dc.DCAddress, d.cfg.LDAPSPort)
			if err != nil {
				step.Skipped = true
				step.Detail = fmt.Sprintf("not tried: nothing answers on port %d, so the DC serves no TLS (and a Samba DC without TLS crashes on a StartTLS request)", d.cfg.LDAPSPort)
				report(step)
				continue
			}
			probe.Close()
		}
		cred := joinlogic.Credentials{Anonymous: true}
		if req.Cred != nil {
			cred = *req.Cred
		}
		var conn *ldap.Conn
		var desc string
		switch c.tr {
		case TransportSASL:
			conn, desc, err = d.openSASLWith(ctx, dc, dc.DCAddress, cred, c.methods)
		default:
			conn, desc, err = d.openTLS(ctx, dc, dc.DCAddress, cred, c.tr == TransportStartTLS)
		}
		if err != nil {
			step.Detail = err.Error()
			report(step)
			continue
		}
		s := &Session{d: d, dc: dc, addr: dc.DCAddress, conn: conn, desc: desc}
		if err := s.readRootDSE(ctx); err != nil {
			step.Detail = desc + ": reading the rootDSE: " + err.Error()
			conn.Close()
			report(step)
			continue
		}
		step.Detail = desc
		if req.Cred != nil {
			step.Detail = "bound as " + accountString(cred.Account) + " over " + desc
			if info, err := s.DomainInfo(ctx); err != nil {
				step.Detail += "; reading the domain: " + err.Error()
				conn.Close()
				report(step)
				continue
			} else {
				step.Detail += fmt.Sprintf("; domain %s (%s), SID %s", info.DNSName, info.NetBIOSName, info.SID)
			}
		}
		step.Detail += "; rootDSE defaultNamingContext " + s.defaultNC
		step.OK = true
		works[c.name] = true
		conn.Close()
		report(step)
	}
	switch d.cfg.Transport {
	case TransportLDAPS:
		return works["ldaps"]
	case TransportStartTLS:
		return works["starttls"]
	case TransportSASL:
		return works["sasl/Kerberos"] || works["sasl/NTLM"] || works["sasl/GSSAPI"]
	}
	return works["sasl/Kerberos"] || works["sasl/NTLM"] || works["sasl/GSSAPI"] || works["ldaps"]
}

// describeDC says what the locator found.
func describeDC(dc joinlogic.DCInfo) string {
	var flags []string
	if !dc.ReadOnlyDC {
		flags = append(flags, "writable")
	}
	if dc.GlobalCatlog {
		flags = append(flags, "global catalog")
	}
	return fmt.Sprintf("%s at %s: domain %s (%s), forest %s, DC site %s, client site %s, %s",
		dc.DCName, dc.DCAddress, dc.DomainDNS, dc.DomainFlat, dc.ForestDNS, dc.DCSiteName, dc.ClientSite, strings.Join(flags, ", "))
}

// checkAnonymous connects to the LDAP port without credentials and reads
// what the rootDSE says about binding.
func (d *Directory) checkAnonymous(ctx context.Context, dc joinlogic.DCInfo) (bool, string) {
	conn, err := d.dial(ctx, "ldap", dc.DCAddress, d.cfg.LDAPPort, nil)
	if err != nil {
		return false, fmt.Sprintf("LDAP to %s: %v", net.JoinHostPort(dc.DCAddress, fmt.Sprint(d.cfg.LDAPPort)), err)
	}
	defer conn.Close()
	req := ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
		"(objectClass=*)", []string{"dnsHostName", "supportedSASLMechanisms", "defaultNamingContext"}, nil)
	var res *ldap.SearchResult
	err = withConn(ctx, d.opTimeout(ctx), conn, func() error {
		var err error
		res, err = conn.Search(req)
		return err
	})
	if err != nil || len(res.Entries) != 1 {
		return false, fmt.Sprintf("reading the rootDSE: %v", err)
	}
	e := res.Entries[0]
	mechs := e.GetAttributeValues("supportedSASLMechanisms")
	detail := fmt.Sprintf("rootDSE of %s: dnsHostName %s, defaultNamingContext %s, SASL mechanisms %s",
		dc.DCAddress, e.GetAttributeValue("dnsHostName"), e.GetAttributeValue("defaultNamingContext"), strings.Join(mechs, " "))
	for _, m := range mechs {
		if strings.EqualFold(m, mechGSSSPNEGO) {
			return true, detail
		}
	}
	return false, detail + " (no " + mechGSSSPNEGO + ": no sealed bind possible)"
}
