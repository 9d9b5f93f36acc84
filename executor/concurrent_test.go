package executor_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/b2plan/b2plan/b2client"
	"github.com/b2plan/b2plan/emulator"
	"github.com/b2plan/b2plan/executor"
	"github.com/b2plan/b2plan/planner"
)

// TestConcurrentApplies runs two applies of the same move at the same time
// against one emulator (both planned before either starts, the worst
// case): both must succeed (a source moved by the other is done, not a
// failure) and every version must end at the destination exactly once.
// Checked with raw listings and downloads.
func TestConcurrentApplies(t *testing.T) {
	for _, tc := range []struct{ versions, source, api string }{
		{"latest", "delete", "native"}, {"all", "delete", "native"}, {"latest", "hide", "native"}, {"all", "hide", "native"},
		{"latest", "delete", "s3"},
	} {
		t.Run(tc.versions+"-"+tc.source+"-"+tc.api, func(t *testing.T) {
			var skew atomic.Int64
			clock := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
			opts := emulator.Options{Latency: time.Millisecond, Now: clock, Seed: 3}
			var e *env
			if tc.api == "s3" {
				e, _ = newS3Env(t, opts) // batched source deletes
			} else {
				e = newEnv(t, opts)
			}
			b := e.bucket("acme-data", b2client.BucketSpec{})
			ctx := context.Background()
			for i := 0; i < 100; i++ {
				name := fmt.Sprintf("in/%03d", i)
				e.put("acme-data", name, name+" a")
				if i%3 == 0 {
					e.put("acme-data", name, name+" b")
				}
				if tc.versions == "all" && i%10 == 0 {
					if _, err := e.m.HideFile(ctx, b.ID, name); err != nil {
						t.Fatal(err)
					}
					if i%20 == 0 {
						e.put("acme-data", name, name+" c") // a middle-of-history hide
					}
				}
			}
			want := e.rawHistory(b.ID, "in/")
			skew.Store(int64(2 * time.Second)) // hide markers clearly older than the copies
			if tc.versions == "latest" {
				// Only the newest version of each name moves.
				var w []string
				last := ""
				for _, h := range want {
					n := h[:strings.Index(h, ":")]
					if n != last {
						w = append(w, h)
						last = n
					}
				}
				want = w
			}
			hcl := moveHCL("acme-data", "in/", "out/", fmt.Sprintf("versions = %q", tc.versions), fmt.Sprintf("source = %q", tc.source))
			p1, p2 := e.plan(hcl), e.plan(hcl)
			var wg sync.WaitGroup
			var errs [2]error
			var res [2]executor.Result
			for i, p := range []*planner.Plan{p1, p2} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					res[i], errs[i] = e.apply(p, executor.Options{Parallelism: 4}, nil)
				}()
			}
			wg.Wait()
			for i := range errs {
				if errs[i] != nil || len(res[i].Skipped) != 0 {
					t.Errorf("apply %d: %v %v skipped %v", i+1, errs[i], res[i].Failures, res[i].Skipped)
				}
			}
			if got := e.rawHistory(b.ID, "out/"); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("destination:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if tc.source == "delete" {
				if left := e.rawVersions(b.ID, "in/"); len(left) != 0 {
					t.Errorf("source left: %d versions", len(left))
				}
			}
			if p := e.plan(hcl); p.HasChanges() {
				t.Errorf("re-plan: %s", p.SummaryLine())
			}
		})
	}
}
