package command

import (
	"runtime/debug"
	"testing"
)

func TestVersionOf(t *testing.T) {
	for v, want := range map[string]string{
		"v1.2.3":                               "v1.2.3",
		"v0.4.0-rc.1":                          "v0.4.0-rc.1",
		"v2.0.0+incompatible":                  "v2.0.0+incompatible",
		"":                                     "dev",
		"(devel)":                              "dev",
		"v0.0.0-20261130093500-9a1b2d0c3e4f":   "dev",
		"v1.2.4-0.20261130093500-9a1b2d0c3e4f": "dev",
		"v1.2.3-pre.0.20261130093500-9a1b2d0c3e4f": "dev",
		"v0.0.0-20261130093500-9a1b2d0c3e4f+dirty": "dev",
		"v1.2.3+dirty": "dev",
	} {
		if got := versionOf(&debug.BuildInfo{Main: debug.Module{Path: "github.com/b2plan/b2plan", Version: v}}); got != want {
			t.Errorf("versionOf(%q) = %q, want %q", v, got, want)
		}
	}
	if got := versionOf(nil); got != "dev" {
		t.Errorf("no build info: %q", got)
	}
}
