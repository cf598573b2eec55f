package main

import (
	"bufio"
	"os"
	"regexp"
	"strings"
	"testing"
)

// Every flag the README's tables name exists, with the default the README
// states (the help's wording, without the backquotes): the README cannot
// drift from the option table.
func TestReadmeFlagTable(t *testing.T) {
	f, err := os.Open("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	row := regexp.MustCompile("^\\| `--([a-z0-9-]+)[^`]*` \\| ([^|]*) \\|")
	all := options()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := row.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		n++
		o := lookupOption(all, m[1])
		if o == nil {
			t.Errorf("README names --%s, which wkssvcd does not have", m[1])
			continue
		}
		readme := strings.TrimSpace(strings.ReplaceAll(m[2], "`", ""))
		if readme == "none" {
			readme = ""
		}
		if want := o.helpDefault(); readme != want && !(o.def == "false" && readme == "") {
			t.Errorf("README: --%s defaults to %q; the daemon says %q", o.name, readme, want)
		}
	}
	if n < 10 {
		t.Fatalf("found %d flag rows in README.md", n)
	}
}
