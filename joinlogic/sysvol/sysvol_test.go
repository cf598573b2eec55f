package sysvol

import (
	"context"
	"strings"
	"testing"

	"github.com/wkssvcd/wkssvcd/joinlogic"
)

// The end-to-end test (e2e TestProvisionDirectAccessParts) reads a GPO's
// Registry.pol from the test DC; these are the checks made before any
// connection.
func TestSplitUNC(t *testing.T) {
	host, share, rest, err := splitUNC(`\\example.test\SysVol\example.test\Policies\{31B2F340-016D-11D2-945F-00C04FB984F9}\Machine\Registry.pol`)
	if err != nil || host != "example.test" || share != "SysVol" || rest != `example.test\Policies\{31B2F340-016D-11D2-945F-00C04FB984F9}\Machine\Registry.pol` {
		t.Fatalf("%q %q %q %v", host, share, rest, err)
	}
	if _, _, rest, err := splitUNC("//dc/sysvol/a/b.pol"); err != nil || rest != `a\b.pol` {
		t.Fatalf("slashes: %q %v", rest, err)
	}
	for _, bad := range []string{"", `C:\Windows\x.pol`, `\\host`, `\\host\share`, `\\host\share\`, `\\\share\x`, `\\h\s\a\..\b`, `\\h\s\a\\b`, `\\h\s\.`} {
		if _, _, _, err := splitUNC(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestReadFileRefusals(t *testing.T) {
	r := &Reader{}
	dc := joinlogic.DCInfo{DCName: "dc1.example.test", DCAddress: "127.0.0.1"}
	if _, err := r.ReadFile(context.Background(), dc, joinlogic.Credentials{Anonymous: true}, `\\d\SysVol\x.pol`); err == nil || !strings.Contains(err.Error(), "anonymous") {
		t.Fatalf("anonymous: %v", err)
	}
	if _, err := r.ReadFile(context.Background(), dc, joinlogic.Credentials{}, `relative\x.pol`); err == nil {
		t.Fatal("a relative path was accepted")
	}
}
