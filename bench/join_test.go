package bench

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wkssvcd/wkssvcd/joinlogic/keytab"
)

func TestComputerNameFitsNetBIOS(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range []string{JoinWkssvcd, JoinAdcli, JoinNet, JoinFloor} {
		for round := range 120 {
			n := computerName(c, "AB12", round)
			if len(n) > 15 {
				t.Fatalf("%q is longer than a NetBIOS name", n)
			}
			if round < 100 {
				if seen[n] {
					t.Fatalf("%q repeats", n)
				}
				seen[n] = true
			}
		}
	}
	if got := computerName(JoinAdcli, "AB12", 7); got != "BJAAB1207" {
		t.Errorf("computerName = %q", got)
	}
}

func TestDCDefaults(t *testing.T) {
	d := DC{}
	d.fill()
	if d.Addr != "127.0.0.2" || d.DNSDomain != "example.test" || d.BaseDN != "DC=example,DC=test" || d.AdminUser != "Administrator" {
		t.Errorf("defaults: %+v", d)
	}
	d = DC{Realm: "CORP.EXAMPLE.COM"}
	d.fill()
	if d.BaseDN != "DC=corp,DC=example,DC=com" {
		t.Errorf("BaseDN %q", d.BaseDN)
	}
}

func TestJoinConfigDefaults(t *testing.T) {
	var c JoinConfig
	c.fill()
	if c.Rounds != 10 || c.Warmup != 1 || len(c.Contenders) != 4 || c.WkssvcdAddr != "127.0.0.5" || c.JoinTimeout != 2*time.Minute {
		t.Errorf("defaults: %+v", c)
	}
	c = JoinConfig{Warmup: -1}
	c.fill()
	if c.Warmup != -1 {
		t.Errorf("Warmup -1 became %d", c.Warmup)
	}
}

func TestRunJoinRejectsBadConfig(t *testing.T) {
	ctx := context.Background()
	if _, err := RunJoin(ctx, JoinConfig{}); err == nil || !strings.Contains(err.Error(), "password") {
		t.Errorf("no password: %v", err)
	}
	base := JoinConfig{DC: DC{AdminPassword: "x", CAFile: "/nonexistent"}, WorkDir: t.TempDir()}
	c := base
	c.Contenders = []string{"bogus"}
	if _, err := RunJoin(ctx, c); err == nil || !strings.Contains(err.Error(), "unknown join contender") {
		t.Errorf("bogus contender: %v", err)
	}
	c = base
	c.Contenders = []string{JoinWkssvcd}
	if _, err := RunJoin(ctx, c); err == nil || !strings.Contains(err.Error(), "binary") {
		t.Errorf("no wkssvcd binary: %v", err)
	}
	c = base
	c.Contenders = []string{JoinFloor}
	if _, err := RunJoin(ctx, c); err == nil || !strings.Contains(err.Error(), "LDAPS") {
		t.Errorf("unreadable CA: %v", err)
	}
}

func TestNetSMBConf(t *testing.T) {
	d := DC{}
	d.fill()
	conf := netSMBConf(&d, "BJN00", "/w/BJN00")
	for _, want := range []string{
		"[global]\n", "\tworkgroup = EXAMPLE\n", "\trealm = EXAMPLE.TEST\n", "\tsecurity = ads\n", "\tnetbios name = BJN00\n",
		"\tprivate dir = /w/BJN00/private\n", "\tkerberos method = dedicated keytab\n",
		"\tdedicated keytab file = FILE:/w/BJN00/krb5.keytab\n",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("smb.conf lacks %q:\n%s", want, conf)
		}
	}
}

func TestAdcliArgs(t *testing.T) {
	d := DC{AdminPassword: "secret"}
	d.fill()
	args := strings.Join(adcliArgs(&d, "BJA00", "/w/kt"), " ")
	for _, want := range []string{"join ", "--domain=example.test", "--domain-controller=127.0.0.2", "--computer-name=BJA00",
		"--host-fqdn=bja00.example.test", "--host-keytab=/w/kt", "--login-user=Administrator", "--stdin-password"} {
		if !strings.Contains(args, want) {
			t.Errorf("args lack %q: %s", want, args)
		}
	}
	if strings.Contains(args, "secret") {
		t.Error("the password is on adcli's command line")
	}
}

func TestCheckKeytab(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	if err := keytab.Write(good, keytab.Entries{ComputerName: "BJF00", Realm: "EXAMPLE.TEST", Password: "pw", KVNO: 2}); err != nil {
		t.Fatal(err)
	}
	if err := checkKeytab(good); err != nil {
		t.Errorf("keytab.Write output rejected: %v", err)
	}
	for name, content := range map[string]string{"empty": "", "short": "\x05", "text": "not a keytab"} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o600)
		if checkKeytab(p) == nil {
			t.Errorf("%s accepted", name)
		}
	}
	if checkKeytab(filepath.Join(dir, "missing")) == nil {
		t.Error("missing file accepted")
	}
}

func TestQuotedUTF16(t *testing.T) {
	if got := quotedUTF16("ab"); got != "\"\x00a\x00b\x00\"\x00" {
		t.Errorf("quotedUTF16 = %q", got)
	}
}

func TestMedianOf(t *testing.T) {
	for _, tc := range []struct {
		in   []time.Duration
		want time.Duration
	}{
		{nil, 0},
		{[]time.Duration{3}, 3},
		{[]time.Duration{5, 1, 3}, 3},
		{[]time.Duration{4, 1, 3, 2}, 2},
	} {
		in := append([]time.Duration(nil), tc.in...)
		if got := medianOf(tc.in); got != tc.want {
			t.Errorf("medianOf(%v) = %v, want %v", tc.in, got, tc.want)
		}
		for i := range in {
			if in[i] != tc.in[i] {
				t.Errorf("medianOf reordered its input")
			}
		}
	}
}

func joinResult() *JoinResult {
	ms := time.Millisecond
	var c JoinConfig
	c.fill()
	c.Rounds = 3
	return &JoinResult{Config: c, NetKeytab: "keytab create", Samples: map[string]*JoinSample{
		JoinWkssvcd: {Times: []time.Duration{200 * ms, 250 * ms, 300 * ms}, Connect: []time.Duration{2 * ms, 3 * ms, 4 * ms}},
		JoinAdcli:   {Times: []time.Duration{2500 * ms, 2600 * ms, 2700 * ms}},
		JoinNet:     {Times: []time.Duration{6 * time.Second, 7 * time.Second, 8 * time.Second}},
		JoinFloor:   {Times: []time.Duration{140 * ms, 150 * ms, 160 * ms}},
	}}
}

func TestJoinRows(t *testing.T) {
	rows := joinResult().JoinRows()
	if len(rows) != 3 {
		t.Fatalf("%d rows: %+v", len(rows), rows)
	}
	adcli, net, floor := rows[0], rows[1], rows[2]
	if adcli.Subject != "250.0 ms" || adcli.Peer != "2.60 s" || adcli.Ratio != "0.10×" || adcli.Met != "yes" {
		t.Errorf("adcli row %+v", adcli)
	}
	if !strings.Contains(net.Metric, "keytab create") || net.Goal != "" || net.Met != "" {
		t.Errorf("net row %+v", net)
	}
	if floor.Peer != "150.0 ms" || floor.Ratio != "1.67×" || floor.Met != "no" {
		t.Errorf("floor row %+v", floor)
	}
	r := joinResult()
	delete(r.Samples, JoinWkssvcd)
	if rows := r.JoinRows(); len(rows) != 1 || !strings.Contains(rows[0].Subject, "not measured") {
		t.Errorf("without wkssvcd: %+v", rows)
	}
}

func TestJoinMarkdown(t *testing.T) {
	md := joinResult().JoinMarkdown()
	for _, want := range []string{
		"3 timed round(s) after 1 warm-up round(s)",
		"| wkssvcd (NetrJoinDomain3 call) | 250.0 ms | 200.0 ms | 300.0 ms | 3 | 1.00× |",
		"| wkssvcd: SMB connection + RPC bind before the call (not in the line above) | 3000 µs |",
		"| adcli join | 2.60 s | 2.50 s | 2.70 s | 3 | 0.10× |",
		"| net ads join + net ads keytab create | 7.00 s |",
		"| LDAP floor | 150.0 ms |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}
