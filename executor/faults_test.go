package executor_test

import (
	"fmt"
	"testing"

	"github.com/b2plan/b2plan/b2client"
	"github.com/b2plan/b2plan/emulator"
	"github.com/b2plan/b2plan/executor"
)

// TestCopyFailsAfterCommit: B2 answers 500/503 to copies it did make
// (emulator fault injected after the copy is committed). The executor looks
// at the destination before copying again; no duplicate version survives,
// with versions = "latest" and "all" (histories holding identical content
// twice included). Checked with raw listings and downloads.
func TestCopyFailsAfterCommit(t *testing.T) {
	for _, tc := range []struct{ versions, api string }{{"latest", "native"}, {"all", "native"}, {"latest", "s3"}, {"all", "s3"}} {
		versions := tc.versions
		t.Run(versions+"/"+tc.api, func(t *testing.T) {
			opts := emulator.Options{Seed: 11, AbsoluteMinimumPartSize: 1000, RecommendedPartSize: 3000, MaxCopySize: 5_000}
			ops := []string{"b2_copy_file", "b2_finish_large_file"}
			var e *env
			if tc.api == "s3" {
				e, _ = newS3Env(t, opts)
				ops = []string{"s3_CopyObject", "s3_CompleteMultipartUpload"}
			} else {
				e = newEnv(t, opts)
			}
			b := e.bucket("acme-data", b2client.BucketSpec{})
			want := map[string][]string{}
			for i := 0; i < 120; i++ {
				name := fmt.Sprintf("in/%03d", i)
				hist := []string{fmt.Sprintf("v1 of %d", i)}
				switch i % 4 {
				case 1:
					hist = append(hist, fmt.Sprintf("v2 of %d", i))
				case 2:
					hist = append(hist, fmt.Sprintf("v2 of %d", i), hist[0]) // identical content twice
				case 3:
					hist = []string{string(blob(name, 7_000))} // a large copy
				}
				for _, h := range hist {
					e.put("acme-data", name, h)
				}
				dest := "out/" + name[3:]
				if versions == "latest" {
					want[dest] = []string{sha(hist[len(hist)-1])}
					continue
				}
				for j := len(hist) - 1; j >= 0; j-- {
					want[dest] = append(want[dest], sha(hist[j]))
				}
			}
			hcl := moveHCL("acme-data", "in/", "out/", fmt.Sprintf("versions = %q", versions))
			p := e.plan(hcl)
			e.s.SetFaultsAfterCommit(0.4, ops, 500, 503)
			ev := &events{}
			res, err := e.apply(p, executor.Options{Parallelism: 8}, ev)
			faults := e.stats().Faults
			e.s.SetFaultsAfterCommit(0, nil)
			if err != nil {
				t.Fatalf("apply: %v %v", err, res.Failures)
			}
			if faults < 20 {
				t.Fatalf("only %d faults injected", faults)
			}
			if got := e.contentOf(b.ID, "in/"); len(got) != 0 {
				t.Errorf("source left: %v", got)
				for n := range got {
					for _, x := range ev.list {
						if x.Object == n {
							t.Logf("%v %s %s %v", x.Kind, x.Object, x.Message, x.Err)
						}
					}
					for _, v := range e.rawVersions(b.ID, n) {
						t.Logf("raw %+v", v)
					}
				}
			}
			got := e.contentOf(b.ID, "out/")
			for name, w := range want {
				if fmt.Sprint(got[name]) != fmt.Sprint(w) {
					t.Errorf("%s: %v, want %v", name, got[name], w)
				}
			}
			if len(got) != len(want) {
				t.Errorf("destination has %d names, want %d", len(got), len(want))
			}
			if p := e.plan(hcl); p.HasChanges() {
				t.Errorf("re-plan: %s", p.SummaryLine())
			}
		})
	}
}
