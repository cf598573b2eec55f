package mutation

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMutantsApply keeps the campaign in step with the code: every edit's
// text occurs exactly once in its file, ids are unique, every mutant has
// tests, and fourteen are named.
func TestMutantsApply(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	named := 0
	for _, m := range All {
		if seen[m.ID] {
			t.Errorf("%s: duplicate id", m.ID)
		}
		seen[m.ID] = true
		if m.Named {
			named++
		}
		if len(m.Tests) == 0 || len(m.Edits) == 0 || m.What == "" {
			t.Errorf("%s: needs edits, tests and a description", m.ID)
		}
		for _, e := range m.Edits {
			b, err := os.ReadFile(filepath.Join(root, e.File))
			if err != nil {
				t.Errorf("%s: %v", m.ID, err)
				continue
			}
			if n := strings.Count(string(b), e.Old); n != 1 {
				t.Errorf("%s: %q occurs %d times in %s; update the mutant with the code", m.ID, e.Old, n, e.File)
			}
		}
	}
	if named != 14 {
		t.Errorf("%d named mutants, want 14", named)
	}
}
