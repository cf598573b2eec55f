package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/wkssvcd/wkssvcd/internal/mutation"
)

type outcome struct {
	m        mutation.Mutant
	status   string // killed, survived, not built
	killedBy string
	elapsed  time.Duration
}

func main() {
	only := flag.String("only", "", "run only the mutants whose id matches this regular expression")
	out := flag.String("out", "", "write the report (markdown) to this file")
	list := flag.Bool("list", false, "list the mutants and exit")
	timeout := flag.Duration("timeout", 10*time.Minute, "time limit of one go test run")
	flag.Parse()

	var ms []mutation.Mutant
	re, err := regexp.Compile(*only)
	if err != nil {
		fatal(err)
	}
	for _, m := range mutation.All {
		if re.MatchString(m.ID) {
			ms = append(ms, m)
		}
	}
	if *list {
		for _, m := range ms {
			fmt.Printf("%-36s %-15s %s\n", m.ID, m.Area, m.What)
		}
		return
	}
	root, err := os.Getwd()
	if err != nil {
		fatal(err)
	}
	work, err := os.MkdirTemp("", "wkssvcd-mutants-")
	if err != nil {
		fatal(err)
	}
	defer os.RemoveAll(work)
	fmt.Printf("mutants: copying the tree to %s\n", work)
	if err := copyTree(root, work); err != nil {
		fatal(err)
	}
	commit := strings.TrimSpace(output(root, "git", "rev-parse", "--short", "HEAD"))
	if strings.TrimSpace(output(root, "git", "status", "--porcelain")) != "" {
		commit += " with uncommitted changes"
	}

	// The tests must pass on the unchanged tree, or every mutant would
	// look killed.
	fmt.Println("mutants: baseline (every test run on the unchanged tree)")
	done := map[string]bool{}
	for _, m := range ms {
		for _, r := range m.Tests {
			key := r.Pkg + " " + r.Run
			if done[key] {
				continue
			}
			done[key] = true
			if failed, msg := goTest(work, r, *timeout); failed {
				fatal(fmt.Errorf("baseline %s -run %q fails; fix the tests first:\n%s", r.Pkg, r.Run, msg))
			}
		}
	}

	var results []outcome
	for i, m := range ms {
		fmt.Printf("mutants: [%d/%d] %s: %s ... ", i+1, len(ms), m.ID, m.What)
		start := time.Now()
		res := outcome{m: m, status: "survived"}
		restore, err := apply(work, m)
		if err != nil {
			fatal(fmt.Errorf("%s: %v", m.ID, err))
		}
		for _, r := range m.Tests {
			failed, msg := goTest(work, r, *timeout)
			if !failed {
				continue
			}
			if strings.Contains(msg, "[build failed]") || strings.Contains(msg, "[setup failed]") {
				res.status = "not built"
				res.killedBy = firstLine(msg)
			} else {
				res.status = "killed"
				res.killedBy = r.Pkg + " " + failedTests(msg)
			}
			break
		}
		restore()
		res.elapsed = time.Since(start)
		fmt.Printf("%s (%s)\n", res.status, res.elapsed.Round(time.Second))
		results = append(results, res)
	}
	report := render(results, commit)
	if *out != "" {
		if err := os.WriteFile(*out, []byte(report), 0o644); err != nil {
			fatal(err)
		}
		fmt.Printf("mutants: wrote %s\n", *out)
	} else {
		fmt.Print(report)
	}
	for _, r := range results {
		if r.status != "killed" && r.m.Reason == "" {
			fmt.Fprintf(os.Stderr, "mutants: %s %s without a written reason\n", r.m.ID, r.status)
			os.Exit(1)
		}
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "mutants:", err)
	os.Exit(2)
}

func output(dir, name string, args ...string) string {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	b, _ := cmd.Output()
	return string(b)
}

// copyTree copies the files git knows of, tracked or not ignored, as they
// are on disk.
func copyTree(root, dst string) error {
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = root
	b, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("git ls-files: %v", err)
	}
	for _, f := range strings.Split(strings.TrimRight(string(b), "\x00"), "\x00") {
		src := filepath.Join(root, f)
		fi, err := os.Lstat(src)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // deleted in the work tree
			}
			return err
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		to := filepath.Join(dst, f)
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return err
		}
		if err := copyFile(src, to, fi.Mode().Perm()); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// apply makes m's edits in the copy and returns a function that undoes
// them.
func apply(work string, m mutation.Mutant) (func(), error) {
	orig := map[string][]byte{}
	restore := func() {
		for f, b := range orig {
			os.WriteFile(f, b, 0o644)
		}
	}
	for _, e := range m.Edits {
		f := filepath.Join(work, e.File)
		b, err := os.ReadFile(f)
		if err != nil {
			restore()
			return nil, err
		}
		if _, ok := orig[f]; !ok {
			orig[f] = b
		}
		if n := bytes.Count(b, []byte(e.Old)); n != 1 {
			restore()
			return nil, fmt.Errorf("%q occurs %d times in %s", e.Old, n, e.File)
		}
		if err := os.WriteFile(f, bytes.Replace(b, []byte(e.Old), []byte(e.New), 1), 0o644); err != nil {
			restore()
			return nil, err
		}
	}
	return restore, nil
}

// goTest runs one test set in the copy and reports whether it failed,
// with its output.
func goTest(work string, r mutation.Run, timeout time.Duration) (bool, string) {
	args := []string{"test", "-count=1", "-timeout", timeout.String()}
	if r.Run != "" {
		args = append(args, "-run", r.Run)
	}
	args = append(args, r.Pkg)
	ctx, cancel := context.WithTimeout(context.Background(), timeout+time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = work
	cmd.Env = os.Environ()
	if r.E2E {
		cmd.Env = append(cmd.Env, "WKSSVCD_E2E=1")
	}
	b, err := cmd.CombinedOutput()
	return err != nil, string(b)
}

var failRE = regexp.MustCompile(`(?m)^\s*--- FAIL: (\S+)`)

// failedTests names up to three failed tests of a go test output.
func failedTests(out string) string {
	var names []string
	for _, m := range failRE.FindAllStringSubmatch(out, -1) {
		if strings.Contains(m[1], "/") {
			continue // a subtest; its parent is listed too
		}
		if len(names) == 3 {
			names = append(names, "…")
			break
		}
		names = append(names, m[1])
	}
	if len(names) == 0 {
		return "(" + firstLine(out) + ")"
	}
	return strings.Join(names, ", ")
}

func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "=== ") {
			if len(l) > 120 {
				l = l[:120] + "…"
			}
			return l
		}
	}
	return ""
}

func render(rs []outcome, commit string) string {
	var b strings.Builder
	killed, named, namedKilled := 0, 0, 0
	for _, r := range rs {
		if r.status == "killed" {
			killed++
		}
		if r.m.Named {
			named++
			if r.status == "killed" {
				namedKilled++
			}
		}
	}
	fmt.Fprintf(&b, "# Mutation campaign\n\n")
	fmt.Fprintf(&b, "Written by `scripts/mutants` on %s at commit %s. Each mutant is a small bug planted in\n", time.Now().UTC().Format("2006-01-02"), commit)
	fmt.Fprintf(&b, "security-relevant code (signature, encryption and access checks, MAC checks, length bounds and\n")
	fmt.Fprintf(&b, "limits, rollback), applied alone to a copy of the tree; the tests listed for it (all part of\n")
	fmt.Fprintf(&b, "`scripts/test`) must fail. The list lives in `internal/mutation/mutants.go`.\n\n")
	fmt.Fprintf(&b, "**Kill rate: %d of %d (%.0f %%)**; the fourteen named mutants: %d of %d killed.\n\n", killed, len(rs), 100*float64(killed)/float64(max(len(rs), 1)), namedKilled, named)
	fmt.Fprintf(&b, "| mutant | area | bug | result | first failing tests | time |\n|---|---|---|---|---|---|\n")
	for _, r := range rs {
		id := "`" + r.m.ID + "`"
		if r.m.Named {
			id += " (named)"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", id, r.m.Area, escape(r.m.What), r.status, escape(r.killedBy), r.elapsed.Round(time.Second))
	}
	var surv []outcome
	for _, r := range rs {
		if r.status != "killed" {
			surv = append(surv, r)
		}
	}
	fmt.Fprintf(&b, "\n## Survivors\n\n")
	if len(surv) == 0 {
		fmt.Fprintf(&b, "None.\n")
	}
	for _, r := range surv {
		reason := r.m.Reason
		if reason == "" {
			reason = "**no reason written: a test is missing**"
		}
		fmt.Fprintf(&b, "- `%s` (%s): %s\n", r.m.ID, r.status, reason)
	}
	return b.String()
}

func escape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
