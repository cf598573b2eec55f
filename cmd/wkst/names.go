package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"unicode/utf16"

	wkssvc "github.com/oiweiwei/go-msrpc/msrpc/wkst/wkssvc/v1"

	"github.com/wkssvcd/wkssvcd/joinlogic"
)

// The rename and names commands: NetrRenameMachineInDomain2/3 and the
// alternate computer names (MS-WKST 3.2.4.15, 3.2.4.18–3.2.4.21,
// 3.2.4.24, 3.2.4.26–3.2.4.28).

const renameAbout = `Options default to ACCT_CREATE: the computer account in the domain is
renamed too (sAMAccountName, dNSHostName, SPNs, its relative name, a new
machine password); without it (--options 0) the name changes on the server
only. DNS_NAME_CHANGES_ONLY keeps the NetBIOS name and the account name and
changes the DNS name. --name empty keeps the current name (the server
writes its host names again). --account and its password as for join.`

const namesAbout = `Without --add, --remove or --primary, lists the names (--type all, primary
or alternate). --add gives the server another name (a DNS host name): on a
domain member, msDS-AdditionalDnsHostName and its SPNs on the computer
account, and the keytab, follow. --remove takes one away. --primary makes
an alternate name the primary one, renaming the computer account; the
former primary name becomes an alternate. --account and its password as
for join; without --account the server uses the connecting user's.`

// namesFlags are the flags of rename and names.
type namesFlags struct {
	newName              string // rename --name
	add, remove, primary string // names
	listType             string // names --type
}

// nameTypes are NET_COMPUTER_NAME_TYPE's values (MS-WKST 2.2.2.2).
var nameTypes = map[string]uint32{
	"primary":   joinlogic.NetPrimaryComputerName,
	"alternate": joinlogic.NetAlternateComputerNames,
	"all":       joinlogic.NetAllComputerNames,
}

func defineNamesFlags(fs *flag.FlagSet, name string, f *namesFlags) {
	if name == "rename" {
		fs.StringVar(&f.newName, "name", "", "the new computer `NAME` (a NetBIOS name or a DNS host name; empty keeps the current one)")
		return
	}
	fs.StringVar(&f.add, "add", "", "add the alternate `NAME` (a DNS host name)")
	fs.StringVar(&f.remove, "remove", "", "remove the alternate `NAME`")
	fs.StringVar(&f.primary, "primary", "", "make the alternate `NAME` the primary computer name")
	fs.StringVar(&f.listType, "type", "all", "`TYPE` of names to list: all, primary or alternate")
}

// check validates the combination of flags.
func (f namesFlags) check(name string) error {
	if name == "rename" {
		return nil
	}
	set := 0
	for _, v := range []string{f.add, f.remove, f.primary} {
		if v != "" {
			set++
		}
	}
	if set > 1 {
		return cmdUsagef(name, "names: give one of --add, --remove and --primary")
	}
	if _, ok := nameTypes[f.listType]; !ok {
		return cmdUsagef(name, "names: --type: %q is not all, primary or alternate", f.listType)
	}
	return nil
}

// renameRequest is one NetrRenameMachineInDomain call.
type renameRequest struct {
	Method   int
	Name     string // MachineName; "" sends NULL
	Account  string
	Password *string
	Options  uint32
}

// nameOp is one of the alternate-name methods.
type nameOp string

const (
	nameAdd     nameOp = "add"
	nameRemove  nameOp = "remove"
	namePrimary nameOp = "primary"
)

// nameRequest is one alternate-name call.
type nameRequest struct {
	Op       nameOp
	Method   int
	Name     string
	Account  string
	Password *string
}

func renameOpName(method int) string {
	if method == methodRC4 {
		return "NetrRenameMachineInDomain2"
	}
	return "NetrRenameMachineInDomain3"
}

func nameOpName(op nameOp, method int) string {
	n := map[nameOp]string{nameAdd: "NetrAddAlternateComputerName", nameRemove: "NetrRemoveAlternateComputerName",
		namePrimary: "NetrSetPrimaryComputerName"}[op]
	if method == methodAES {
		n += "2"
	}
	return n
}

// runNames carries out rename or names on s.
func runNames(ctx context.Context, s session, out io.Writer, c *command, password *string) error {
	host := c.conn.Host
	if c.name == "rename" {
		req := renameRequest{Method: c.method, Name: c.names.newName, Account: c.account, Password: password, Options: c.options}
		if err := s.Rename(ctx, req); err != nil {
			return err
		}
		to := c.names.newName
		if to == "" {
			to = "its current name"
		}
		fmt.Fprintf(out, "%s renamed to %s (%s, options %s)\n", host, to, renameOpName(c.method), formatOptions(c.options))
		return nil
	}
	var req *nameRequest
	switch {
	case c.names.add != "":
		req = &nameRequest{Op: nameAdd, Name: c.names.add}
	case c.names.remove != "":
		req = &nameRequest{Op: nameRemove, Name: c.names.remove}
	case c.names.primary != "":
		req = &nameRequest{Op: namePrimary, Name: c.names.primary}
	}
	if req != nil {
		req.Method, req.Account, req.Password = c.method, c.account, password
		if err := s.ChangeName(ctx, *req); err != nil {
			return err
		}
		fmt.Fprintf(out, "%s: %s %s (%s)\n", host, map[nameOp]string{nameAdd: "added", nameRemove: "removed",
			namePrimary: "made primary"}[req.Op], req.Name, nameOpName(req.Op, req.Method))
		return nil
	}
	names, err := s.ComputerNames(ctx, nameTypes[c.names.listType])
	if err != nil {
		return err
	}
	for _, n := range names {
		fmt.Fprintln(out, n)
	}
	return nil
}

// Rename implements session.
func (s *rpcSession) Rename(ctx context.Context, req renameRequest) error {
	p, err := sealPassword(req.Method, s.key, req.Password, s.rand)
	if err != nil {
		return err
	}
	s.log.Debug("calling", "op", renameOpName(req.Method), "name", req.Name, "account", req.Account,
		"password_sent", req.Password != nil, "options", formatOptions(req.Options))
	var ret uint32
	if req.Method == methodRC4 {
		resp, err := s.cli.RenameMachineInDomain2(ctx, &wkssvc.RenameMachineInDomain2Request{
			MachineName: req.Name, AccountName: req.Account, Password: p.rc4, Options: req.Options})
		if resp != nil {
			ret = resp.Return
		}
		return callResult(renameOpName(req.Method), ret, resp != nil, err)
	}
	resp, err := s.cli.RenameMachineInDomain3(ctx, &wkssvc.RenameMachineInDomain3Request{
		MachineName: req.Name, AccountName: req.Account, Password: p.aes, Options: req.Options})
	if resp != nil {
		ret = resp.Return
	}
	return callResult(renameOpName(req.Method), ret, resp != nil, err)
}

// ChangeName implements session.
func (s *rpcSession) ChangeName(ctx context.Context, req nameRequest) error {
	p, err := sealPassword(req.Method, s.key, req.Password, s.rand)
	if err != nil {
		return err
	}
	op := nameOpName(req.Op, req.Method)
	s.log.Debug("calling", "op", op, "name", req.Name, "account", req.Account, "password_sent", req.Password != nil)
	var (
		ret    uint32
		respOK bool
	)
	switch {
	case req.Op == nameAdd && req.Method == methodRC4:
		resp, e := s.cli.AddAlternateComputerName(ctx, &wkssvc.AddAlternateComputerNameRequest{AlternateName: req.Name, DomainAccount: req.Account, EncryptedPassword: p.rc4})
		if resp != nil {
			ret, respOK = resp.Return, true
		}
		err = e
	case req.Op == nameAdd:
		resp, e := s.cli.AddAlternateComputerName2(ctx, &wkssvc.AddAlternateComputerName2Request{AlternateName: req.Name, DomainAccount: req.Account, EncryptedPassword: p.aes})
		if resp != nil {
			ret, respOK = resp.Return, true
		}
		err = e
	case req.Op == nameRemove && req.Method == methodRC4:
		resp, e := s.cli.RemoveAlternateComputerName(ctx, &wkssvc.RemoveAlternateComputerNameRequest{AlternateName: req.Name, DomainAccount: req.Account, EncryptedPassword: p.rc4})
		if resp != nil {
			ret, respOK = resp.Return, true
		}
		err = e
	case req.Op == nameRemove:
		resp, e := s.cli.RemoveAlternateComputerName2(ctx, &wkssvc.RemoveAlternateComputerName2Request{AlternateName: req.Name, DomainAccount: req.Account, EncryptedPassword: p.aes})
		if resp != nil {
			ret, respOK = resp.Return, true
		}
		err = e
	case req.Method == methodRC4:
		resp, e := s.cli.SetPrimaryComputerName(ctx, &wkssvc.SetPrimaryComputerNameRequest{PrimaryName: req.Name, DomainAccount: req.Account, EncryptedPassword: p.rc4})
		if resp != nil {
			ret, respOK = resp.Return, true
		}
		err = e
	default:
		resp, e := s.cli.SetPrimaryComputerName2(ctx, &wkssvc.SetPrimaryComputerName2Request{PrimaryName: req.Name, DomainAccount: req.Account, EncryptedPassword: p.aes})
		if resp != nil {
			ret, respOK = resp.Return, true
		}
		err = e
	}
	return callResult(op, ret, respOK, err)
}

// ComputerNames implements session.
func (s *rpcSession) ComputerNames(ctx context.Context, nameType uint32) ([]string, error) {
	resp, err := s.cli.EnumerateComputerNames(ctx, &wkssvc.EnumerateComputerNamesRequest{NameType: wkssvc.NetComputerNameType(nameType)})
	var ret uint32
	if resp != nil {
		ret = resp.Return
	}
	if err := callResult("NetrEnumerateComputerNames", ret, resp != nil, err); err != nil {
		return nil, err
	}
	var out []string
	if resp.ComputerNames != nil {
		for _, u := range resp.ComputerNames.ComputerNames {
			if u == nil {
				continue
			}
			n := int(u.Length / 2)
			if n > len(u.Buffer) {
				n = len(u.Buffer)
			}
			out = append(out, strings.TrimRight(string(utf16.Decode(u.Buffer[:n])), "\x00"))
		}
	}
	return out, nil
}
