package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/wkssvcd/wkssvcd/bench"
)

// joinOpts are the flags that configure the join benchmark, shared by
// `wkload join` and `wkload bench --join`.
type joinOpts struct {
	cfg        bench.JoinConfig
	contenders string
	pwFile     string
}

func joinFlags(fs *flag.FlagSet) *joinOpts {
	o := &joinOpts{}
	dc := &o.cfg.DC
	fs.StringVar(&dc.Addr, "dc-addr", "127.0.0.2", "IP `ADDRESS` of the domain controller")
	fs.StringVar(&dc.HostFQDN, "dc-fqdn", "dc1.example.test", "DNS `NAME` of the domain controller (its LDAPS certificate's name)")
	fs.StringVar(&dc.Realm, "dc-realm", "EXAMPLE.TEST", "Kerberos `REALM` of the domain")
	fs.StringVar(&dc.Domain, "dc-domain", "EXAMPLE", "NetBIOS `NAME` of the domain")
	fs.StringVar(&dc.AdminUser, "dc-admin", "Administrator", "domain administrator `USER`")
	fs.StringVar(&o.pwFile, "dc-password-file", "", "`FILE` holding the domain administrator's password (required)")
	fs.StringVar(&dc.CAFile, "dc-ca", "", "PEM `FILE` of the CA of the DC's LDAPS certificate (required)")
	fs.StringVar(&dc.Krb5Conf, "dc-krb5-conf", "", "krb5.conf `FILE` naming the DC as KDC, for adcli and net (required for them)")
	fs.IntVar(&o.cfg.Rounds, "join-rounds", 10, "`N` timed joins per contender")
	fs.IntVar(&o.cfg.Warmup, "join-warmup", 1, "`N` untimed rounds first (0 for the default, -1 for none)")
	fs.StringVar(&o.contenders, "join-contenders", strings.Join([]string{bench.JoinWkssvcd, bench.JoinAdcli, bench.JoinNet, bench.JoinFloor}, ","),
		"comma-separated `LIST` of contenders")
	fs.StringVar(&o.cfg.WkssvcdBin, "join-wkssvcd-bin", "", "wkssvcd `BINARY`, started once per round (required for the wkssvcd contender)")
	fs.StringVar(&o.cfg.WkssvcdAddr, "join-wkssvcd-addr", "127.0.0.5", "IP `ADDRESS` the per-round wkssvcd listens on (port 445)")
	fs.StringVar(&o.cfg.AdcliBin, "adcli", "adcli", "adcli `BINARY`")
	fs.StringVar(&o.cfg.NetBin, "net", "net", "Samba net `BINARY` (must resolve the domain to the DC through /etc/resolv.conf)")
	fs.DurationVar(&o.cfg.JoinTimeout, "join-timeout", 2*time.Minute, "limit for one join")
	return o
}

// config returns the join configuration once the flags are parsed.
func (o *joinOpts) config(progress io.Writer) (bench.JoinConfig, error) {
	cfg := o.cfg
	cfg.Progress = progress
	cfg.Contenders = nil
	for _, c := range strings.Split(o.contenders, ",") {
		if c = strings.TrimSpace(c); c != "" {
			cfg.Contenders = append(cfg.Contenders, c)
		}
	}
	if o.pwFile == "" || cfg.DC.CAFile == "" {
		return cfg, usageError{errors.New("join: --dc-password-file and --dc-ca are required")}
	}
	b, err := os.ReadFile(o.pwFile)
	if err != nil {
		return cfg, err
	}
	cfg.DC.AdminPassword = strings.TrimRight(string(b), "\r\n")
	if cfg.DC.AdminPassword == "" {
		return cfg, fmt.Errorf("join: %s is empty", o.pwFile)
	}
	return cfg, nil
}

func runJoin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("wkload join", flag.ContinueOnError)
	fs.SetOutput(stderr)
	opts := joinFlags(fs)
	limit := fs.Duration("timeout", 30*time.Minute, "hard limit for the whole run")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := opts.config(stdout)
	if err != nil {
		return err
	}
	ctx, stop := withDeadline(ctx, *limit, stderr)
	defer stop()
	res, err := bench.RunJoin(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	fmt.Fprint(stdout, res.JoinMarkdown())
	fmt.Fprintln(stdout)
	fmt.Fprint(stdout, bench.TextTable("wkssvcd", "peer", res.JoinRows()))
	return nil
}
