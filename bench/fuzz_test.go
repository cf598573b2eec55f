package bench

import (
	"bytes"
	"testing"
)

func FuzzParseSmapsRollup(f *testing.F) {
	f.Add([]byte(smapsRollupSample))
	f.Add([]byte("Rss: 1 kB\nRss: 2 kB\n"))
	f.Add([]byte("Rss: 18446744073709551615 kB\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseSmapsRollup(data)
		if err == nil && (m.RSS%1024 != 0 || m.PSS%1024 != 0) {
			t.Fatalf("not whole kB: %+v", m)
		}
	})
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte("1234 (smbd: client (x) ) S 77 1234 1234 0 -1 4194560 500 0 0 0 250 125 0 0\n"))
	f.Add([]byte("1 ()) R 0 0 0 0 0 0 0 0 0 0 0 0"))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := ParseStat(data)
		if err == nil && st.PPID < 0 {
			t.Fatalf("negative ppid: %+v", st)
		}
	})
}

func FuzzCountGoroutines(f *testing.F) {
	f.Add([]byte(dumpSample))
	f.Add([]byte("SIGQUIT: quit\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		n := CountGoroutines(data)
		if n < -1 || n > bytes.Count(data, []byte("goroutine ")) {
			t.Fatalf("count %d", n)
		}
	})
}

func FuzzReplaceGenerated(f *testing.F) {
	f.Add([]byte(""), "x")
	f.Add([]byte("a\n"+BeginGenerated+"\nold\n"+EndGenerated+"\nb\n"), "new")
	f.Add([]byte(EndGenerated+BeginGenerated), "y")
	f.Fuzz(func(t *testing.T, doc []byte, content string) {
		out := ReplaceGenerated(doc, "T", content)
		if !bytes.Contains(out, []byte(BeginGenerated)) || !bytes.Contains(out, []byte(EndGenerated)) {
			t.Fatal("section missing")
		}
		// Replacing twice with the same content is stable.
		if again := ReplaceGenerated(out, "T", content); !bytes.Equal(again, out) && bytes.Count(doc, []byte(BeginGenerated)) == 0 && bytes.Count(doc, []byte(EndGenerated)) == 0 && !bytes.Contains([]byte(content), []byte(BeginGenerated)) && !bytes.Contains([]byte(content), []byte(EndGenerated)) {
			t.Fatalf("not idempotent:\n%q\n%q", out, again)
		}
	})
}
