package executor_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/b2plan/b2plan/b2client"
	"github.com/b2plan/b2plan/emulator"
	"github.com/b2plan/b2plan/executor"
	"github.com/b2plan/b2plan/planner"
)

// savedPlan round-trips p through the plan file format.
func savedPlan(t *testing.T, p *planner.Plan) *planner.Plan {
	t.Helper()
	var buf strings.Builder
	if err := planner.Encode(&buf, p); err != nil {
		t.Fatal(err)
	}
	saved, err := planner.Decode(strings.NewReader(buf.String()))
	if err != nil {
		t.Fatal(err)
	}
	return saved
}

// TestSavedPlanDestinationRecheck: a destination name that appears or
// changes between plan and apply of a saved plan is a conflict under the
// move's on_conflict, never silently overwritten; one that now holds the
// source's very content is not copied again.
func TestSavedPlanDestinationRecheck(t *testing.T) {
	for _, oc := range []string{"fail", "skip", "overwrite"} {
		for _, versions := range []string{"latest", "all"} {
			t.Run(oc+"/"+versions, func(t *testing.T) {
				e := newEnv(t, emulator.Options{})
				b := e.bucket("acme-data", b2client.BucketSpec{})
				e.put("acme-data", "in/new", "source new")
				e.put("acme-data", "in/same", "source same")
				e.put("acme-data", "in/plain", "plain")
				p := savedPlan(t, e.plan(moveHCL("acme-data", "in/", "out/", fmt.Sprintf("on_conflict = %q", oc), fmt.Sprintf("versions = %q", versions))))
				// After the plan: someone writes out/new (other content) and
				// out/same (the source's content).
				e.put("acme-data", "out/new", "someone else's")
				e.put("acme-data", "out/same", "source same")
				cur := e.observe(executor.StaleRequest(p))
				if err := executor.CheckStale(p, cur); err != nil {
					t.Fatal(err)
				}
				res, err := e.apply(p, executor.Options{Current: cur}, nil)
				src := e.contentOf(b.ID, "in/")
				dst := e.contentOf(b.ID, "out/")
				switch oc {
				case "fail":
					if err == nil || len(res.Failures) != 1 || res.Failures[0].Object != "in/new" || !strings.Contains(res.Failures[0].Err.Error(), "appeared or changed since the plan") {
						t.Fatalf("apply: %v %v", err, res.Failures)
					}
				case "skip":
					if err != nil || len(res.Skipped) != 1 || res.Skipped[0].Object != "in/new" {
						t.Fatalf("apply: %v %v %v", err, res.Failures, res.Skipped)
					}
				case "overwrite":
					if err != nil {
						t.Fatalf("apply: %v %v", err, res.Failures)
					}
				}
				if oc == "overwrite" {
					if len(src) != 0 || fmt.Sprint(dst["out/new"]) != fmt.Sprint([]string{sha("source new"), sha("someone else's")}) {
						t.Errorf("overwrite: source %v, destination %v", src, dst)
					}
				} else {
					// in/new untouched, out/new untouched.
					if fmt.Sprint(src) != fmt.Sprint(map[string][]string{"in/new": {sha("source new")}}) ||
						fmt.Sprint(dst["out/new"]) != fmt.Sprint([]string{sha("someone else's")}) {
						t.Errorf("source %v, destination %v", src, dst)
					}
				}
				if versions == "latest" || oc != "overwrite" {
					// The same content is not copied again (latest), or is
					// the name's history (all): never a conflict.
					want := []string{sha("source same")}
					if versions == "all" && chunkSize(t) == 0 {
						// (A chunked move plans its chunk again at apply:
						// the version is the name's history already.)
						want = append(want, sha("source same"))
					}
					if fmt.Sprint(dst["out/same"]) != fmt.Sprint(want) {
						t.Errorf("out/same: %v, want %v", dst["out/same"], want)
					}
				}
				if fmt.Sprint(dst["out/plain"]) != fmt.Sprint([]string{sha("plain")}) {
					t.Errorf("out/plain %v", dst["out/plain"])
				}
			})
		}
	}
}
