package buildinfo

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	for _, tc := range []struct {
		bi   debug.BuildInfo
		want string
	}{
		{debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}, "v1.2.3"},
		{debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "devel"},
		{debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef0123"},
			{Key: "vcs.time", Value: "2026-01-02T03:04:05Z"},
			{Key: "vcs.modified", Value: "true"},
		}}, "devel-0123456789ab (2026-01-02T03:04:05Z) with local changes"},
	} {
		if got := fromBuildInfo(&tc.bi); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

func TestStringNamesProgramAndGo(t *testing.T) {
	s := String("wkst")
	if !strings.HasPrefix(s, "wkst ") || !strings.Contains(s, "go1") {
		t.Errorf("%q", s)
	}
	version = "v9.9.9"
	defer func() { version = "" }()
	if !strings.HasPrefix(String("wkst"), "wkst v9.9.9 ") {
		t.Errorf("linker-set version ignored: %q", String("wkst"))
	}
}
