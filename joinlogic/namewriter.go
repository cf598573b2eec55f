package joinlogic

import (
	"context"
	"log/slog"
	"slices"
	"strings"
)

// NameWriter is implemented by a Session that can change the names of a
// computer object: the directory side of NetrRenameMachineInDomain2/3
// (MS-WKST 3.2.4.15, 3.2.4.24) and of the alternate-name methods
// (3.2.4.18–3.2.4.20, 3.2.4.26–3.2.4.28). A Session without it answers
// those methods ERROR_NOT_SUPPORTED for a joined machine.
type NameWriter interface {
	// ReadNames reads the names of the computer object whose
	// sAMAccountName is sam. A session bound as the machine account may
	// read its own (recovery does). No object is ERROR_NONE_MAPPED.
	ReadNames(ctx context.Context, sam string) (ObjectNames, error)
	// ChangeNames writes ch to the object dn in ONE LDAP modify, applied
	// atomically by the controller, with the permissive-modify control
	// (adding a value that is there or removing one that is not is no
	// error, MS-ADTS 3.1.1.3.4.1.8).
	ChangeNames(ctx context.Context, dn string, ch NameChange) error
	// RenameObject gives the object dn the relative name CN=cn (an LDAP
	// modify DN, in place) and returns its new DN.
	RenameObject(ctx context.Context, dn, cn string) (string, error)
	// SetDisplayName gives the object dn the displayName name unless it
	// has it already, compared without regard to case: "Update Display
	// Name Using SAMR" (MS-WKST 3.2.4.29.5; SAMR's FullName is the
	// displayName attribute), whose result a rename ignores.
	SetDisplayName(ctx context.Context, dn, name string) error
}

// ObjectNames are the names a computer object carries.
type ObjectNames struct {
	DN             string
	SAMAccountName string
	DNSHostName    string
	AdditionalDNS  []string // msDS-AdditionalDnsHostName
	// AdditionalSAM is msDS-AdditionalSamAccountName, which a Windows
	// controller keeps: one label$ per msDS-AdditionalDnsHostName
	// (MS-ADTS 3.1.1.5.3.3). Samba's does not.
	AdditionalSAM []string
	SPNs          []string // servicePrincipalName
}

// NameChange is one change of a computer object's names. Empty fields
// keep what the object has.
type NameChange struct {
	// SAMAccountName replaces sAMAccountName.
	SAMAccountName string
	// DNSHostName replaces dNSHostName.
	DNSHostName string
	// SPNs, when not nil, replace servicePrincipalName (an implementation
	// adds the RestrictedKrbHost/ aliases of the HOST/ ones, as AD does).
	SPNs []string
	// Password replaces unicodePwd: a rename sets a new machine password
	// in the same write, so that the keys are derived again under the new
	// account name and recovery can tell whether the write happened.
	Password string
	// AddDNS and RemoveDNS change msDS-AdditionalDnsHostName. Its
	// companion msDS-AdditionalSamAccountName is the controller's to
	// write: a Windows controller adds and removes label$ with each
	// value (MS-ADTS 3.1.1.5.3.3); Samba (4.x) neither does that nor lets
	// a client write it ("can only be modified as system"). Kerberos
	// finds the account of an alternate name by its SPNs either way.
	AddDNS, RemoveDNS []string
}

// LogValue keeps the password out of logs.
func (c NameChange) LogValue() slog.Value {
	return slog.GroupValue(slog.String("sam", c.SAMAccountName), slog.String("dns_host_name", c.DNSHostName),
		slog.Any("spns", c.SPNs), slog.Bool("password", c.Password != ""), slog.Any("add_dns", c.AddDNS),
		slog.Any("remove_dns", c.RemoveDNS))
}

// revert is the change that puts the object back to before, as it was
// read: every field the change sets goes back to before's value.
func (c NameChange) revert(before ObjectNames, password string) NameChange {
	r := NameChange{Password: password}
	if c.SAMAccountName != "" {
		r.SAMAccountName = before.SAMAccountName
	}
	if c.DNSHostName != "" {
		r.DNSHostName = before.DNSHostName
	}
	if c.SPNs != nil {
		r.SPNs = slices.Clone(before.SPNs)
		if r.SPNs == nil {
			r.SPNs = []string{}
		}
	}
	had := func(vals []string, v string) bool {
		return slices.ContainsFunc(vals, func(x string) bool { return strings.EqualFold(x, v) })
	}
	for _, v := range c.AddDNS {
		if !had(before.AdditionalDNS, v) {
			r.RemoveDNS = append(r.RemoveDNS, v)
		}
	}
	for _, v := range c.RemoveDNS {
		if had(before.AdditionalDNS, v) {
			r.AddDNS = append(r.AddDNS, v)
		}
	}
	return r
}

// hostSPNs are the HOST/ SPNs of the computer's names: the primary
// (NetBIOS and DNS) and every alternate, as AD registers them for
// renamed and multi-named computers (MS-WKST 3.2.4.15; MS-ADTS
// 3.1.1.5.3.1.1.4).
func hostSPNs(n ComputerName) []string {
	out := hostNames(strings.ToUpper(n.NetBIOS), strings.ToLower(n.FQDN))
	for _, a := range n.Alternates {
		out = append(out, "HOST/"+strings.ToLower(a.FQDN), "HOST/"+strings.ToUpper(a.NetBIOS))
	}
	return dedupFold(out)
}

// otherSPNs are the SPNs of services other than HOST and
// RestrictedKrbHost, which a rename keeps as they are.
func otherSPNs(spns []string) []string {
	var out []string
	for _, s := range spns {
		svc, _, _ := strings.Cut(s, "/")
		if !strings.EqualFold(svc, "HOST") && !strings.EqualFold(svc, "RestrictedKrbHost") {
			out = append(out, s)
		}
	}
	return out
}

// dedupFold drops values equal to an earlier one regardless of case.
func dedupFold(vals []string) []string {
	var out []string
	for _, v := range vals {
		if v != "" && !slices.ContainsFunc(out, func(x string) bool { return strings.EqualFold(x, v) }) {
			out = append(out, v)
		}
	}
	return out
}

// changeNames writes ch to the object dn, whose sAMAccountName is then
// sam, and makes sure every SPN ch sets is there. A controller may
// rewrite, in the same modify, the SPN values that name the object's
// former sAMAccountName or dNSHostName to the new ones — Samba does —
// which drops the SPNs of a former primary name that stays an alternate
// (NetrSetPrimaryComputerName2). A second modify then writes the SPNs
// again; undoing the first undoes both.
func changeNames(ctx context.Context, w NameWriter, dn, sam string, ch NameChange) error {
	if err := w.ChangeNames(ctx, dn, ch); err != nil {
		return err
	}
	if ch.SPNs == nil || (ch.SAMAccountName == "" && ch.DNSHostName == "") {
		return nil
	}
	got, err := w.ReadNames(ctx, sam)
	if err != nil {
		return err
	}
	for _, s := range ch.SPNs {
		if !slices.ContainsFunc(got.SPNs, func(x string) bool { return strings.EqualFold(x, s) }) {
			return w.ChangeNames(ctx, got.DN, NameChange{SPNs: ch.SPNs})
		}
	}
	return nil
}
