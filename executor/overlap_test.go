package executor_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/b2plan/b2plan/b2client"
	"github.com/b2plan/b2plan/emulator"
	"github.com/b2plan/b2plan/executor"
)

// TestOverlappingPrefixes: a/b/ → a/ converges (a re-plan after the apply
// is empty); names whose destination would fall under a/b/ again
// (a/b/b/…) are refused at plan time, by name, and nothing is touched.
func TestOverlappingPrefixes(t *testing.T) {
	for _, versions := range []string{"latest", "all"} {
		t.Run(versions, func(t *testing.T) {
			e := newEnv(t, emulator.Options{})
			b := e.bucket("acme-data", b2client.BucketSpec{})
			e.put("acme-data", "a/b/x", "x")
			e.put("acme-data", "a/b/c/y", "y")
			e.put("acme-data", "a/keep", "k")
			hcl := moveHCL("acme-data", "a/b/", "a/", fmt.Sprintf("versions = %q", versions))
			e.mustApply(e.plan(hcl), executor.Options{})
			if p := e.plan(hcl); p.HasChanges() {
				t.Errorf("re-plan after apply: %s", p.SummaryLine())
			}
			want := map[string][]string{"a/x": {sha("x")}, "a/c/y": {sha("y")}, "a/keep": {sha("k")}}
			if got := e.contentOf(b.ID, ""); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("after apply %v, want %v", got, want)
			}

			e.put("acme-data", "a/b/b/z", "z")
			_, diags := e.planD(e.load(hcl))
			if !diags.HasErrors() || !strings.Contains(diags.Error(), "a/b/b/z") || !strings.Contains(diags.Error(), "under the source prefix") {
				t.Errorf("nested name not refused by name: %v", diags)
			}
		})
	}
}
