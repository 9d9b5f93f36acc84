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
	"github.com/b2plan/b2plan/live"
	"github.com/b2plan/b2plan/planner"
)

func TestMoveLatestDeletesEveryVersion(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	e.bucket("acme-data", b2client.BucketSpec{})
	want := map[string]string{}
	for i := 0; i < 30; i++ {
		name := fmt.Sprintf("in/f%02d", i)
		n := 1 + i%3 // up to three versions per name
		var last string
		for j := 0; j < n; j++ {
			last = fmt.Sprintf("content %d v%d", i, j)
			e.put("acme-data", name, last)
		}
		want["out/"+name[3:]] = sha(last)
	}
	e.put("acme-data", "in/sub/.bzEmpty", "")
	want["out/sub/.bzEmpty"] = sha("")
	e.put("acme-data", "other/keep", "x")
	p := e.plan(moveHCL("acme-data", "in/", "out/"))
	e.s.ResetStats()
	res := e.mustApply(p, executor.Options{})
	if res.Moved != 31 {
		t.Errorf("moved %d", res.Moved)
	}
	st := e.stats()
	if st.Calls["b2_copy_file"] != 31 || st.Calls["b2_delete_file_version"] != 61 || st.Calls["b2_get_file_info"] != 0 {
		t.Errorf("calls %v", st.Calls)
	}
	src, srcN := e.visible("acme-data", "in/")
	if len(src) != 0 || len(srcN) != 0 {
		t.Fatalf("source keeps versions: %v", srcN) // no older version may resurface
	}
	dst, dstN := e.visible("acme-data", "out/")
	for n, s := range want {
		if dst[n] != s {
			t.Errorf("%s: sha %q, want %q", n, dst[n], s)
		}
		if dstN[n] != 1 {
			t.Errorf("%s: %d versions at the destination", n, dstN[n])
		}
	}
	if len(dst) != len(want) {
		t.Errorf("destination has %d names, want %d", len(dst), len(want))
	}
	if vs := e.versions("acme-data", "other/"); len(vs) != 1 {
		t.Errorf("unrelated object touched")
	}
	// Metadata is kept by the copy.
	for _, v := range e.versions("acme-data", "out/f00") {
		if v.Info["src_last_modified_millis"] != "1700000000000" || v.ContentType != "text/plain" {
			t.Errorf("metadata not kept: %q %v", v.ContentType, v.Info)
		}
	}
	if p := e.plan(moveHCL("acme-data", "in/", "out/")); p.HasChanges() {
		t.Errorf("a completed move still plans changes: %s", p.SummaryLine())
	}
}

// allHideHCL is the versions = "all", source = "hide", cross-bucket move of
// seedAllHide's objects.
var allHideHCL = moveHCL("acme-src", "a/", "b/", `to_bucket = "acme-dst"`, `versions = "all"`, `source = "hide"`)

// seedAllHide writes the all+hide scenario through nat (the native API):
// a/one with two versions, a/gone hidden, a/two.
func seedAllHide(t *testing.T, nat *env) {
	t.Helper()
	src := nat.bucket("acme-src", b2client.BucketSpec{})
	nat.bucket("acme-dst", b2client.BucketSpec{})
	nat.put("acme-src", "a/one", "1a")
	nat.put("acme-src", "a/one", "1b")
	nat.put("acme-src", "a/gone", "g1")
	if _, err := nat.m.HideFile(context.Background(), src.ID, "a/gone"); err != nil {
		t.Fatal(err)
	}
	nat.put("acme-src", "a/two", "2")
}

// checkAllHide verifies, through nat, the result of applying allHideHCL.
func checkAllHide(t *testing.T, nat *env) {
	t.Helper()
	// History at the destination: oldest first, so the newest is on top.
	var got []string
	for _, v := range nat.versions("acme-dst", "b/") {
		got = append(got, fmt.Sprintf("%s:%s:%s", v.Name, v.Action, v.SHA1Hex()))
	}
	want := []string{
		"b/gone:hide:", "b/gone:upload:" + sha("g1"),
		"b/one:upload:" + sha("1b"), "b/one:upload:" + sha("1a"),
		"b/two:upload:" + sha("2"),
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("destination history:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// source = hide: versions stay, hidden.
	vis, counts := nat.visible("acme-src", "a/")
	if len(vis) != 0 || counts["a/one"] != 3 || counts["a/two"] != 2 {
		t.Errorf("source after hide: visible %v, counts %v", vis, counts)
	}
}

func TestMoveAllVersionsHideAndCrossBucket(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	seedAllHide(t, e)
	e.mustApply(e.plan(allHideHCL), executor.Options{})
	checkAllHide(t, e)
	// A re-plan of the completed move is a no-op: the hide markers the move
	// added at the source must not be carried to the destination.
	if p := e.plan(allHideHCL); p.HasActions() {
		for _, op := range p.Moves[0].Ops {
			t.Errorf("re-plan op %s %s", op.Kind, p.Moves[0].Sources[op.Src].Name)
		}
		t.Errorf("a completed versions=all/source=hide move must re-plan as a no-op: %s", p.SummaryLine())
	}
}

func TestMoveConflicts(t *testing.T) {
	for _, policy := range []string{"skip", "overwrite"} {
		t.Run(policy, func(t *testing.T) {
			e := newEnv(t, emulator.Options{})
			e.bucket("acme-data", b2client.BucketSpec{})
			e.put("acme-data", "in/same", "S")
			e.put("acme-data", "out/same", "S") // already copied: only the source is removed
			e.put("acme-data", "in/diff", "new")
			e.put("acme-data", "out/diff", "old") // a conflict
			e.put("acme-data", "in/free", "F")
			p := e.plan(moveHCL("acme-data", "in/", "out/", `on_conflict = "`+policy+`"`))
			e.mustApply(p, executor.Options{})
			src, _ := e.visible("acme-data", "in/")
			dst, dstN := e.visible("acme-data", "out/")
			if dst["out/same"] != sha("S") || dstN["out/same"] != 1 || dst["out/free"] != sha("F") {
				t.Errorf("dst %v %v", dst, dstN)
			}
			switch policy {
			case "skip":
				if dst["out/diff"] != sha("old") || src["in/diff"] != sha("new") || len(src) != 1 {
					t.Errorf("skip: src %v dst %v", src, dst)
				}
			case "overwrite":
				if dst["out/diff"] != sha("new") || dstN["out/diff"] != 2 || len(src) != 0 {
					t.Errorf("overwrite: src %v dst %v %v", src, dst, dstN)
				}
			}
		})
	}
	t.Run("fail", func(t *testing.T) {
		e := newEnv(t, emulator.Options{})
		e.bucket("acme-data", b2client.BucketSpec{})
		e.put("acme-data", "in/diff", "new")
		e.put("acme-data", "out/diff", "old")
		_, diags := e.planD(e.load(moveHCL("acme-data", "in/", "out/")))
		if !diags.HasErrors() {
			t.Errorf("on_conflict = fail must be a plan error")
		}
	})
}

func TestMoveLockedObjects(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	e.bucket("acme-lock", b2client.BucketSpec{ObjectLock: true})
	e.put("acme-lock", "in/free1", "f1")
	e.put("acme-lock", "in/free2", "f2")
	held := e.put("acme-lock", "in/held", "h")
	locked := e.put("acme-lock", "in/locked", "l")
	e.raw("b2_update_file_legal_hold", map[string]any{"fileName": held.Name, "fileId": held.ID, "legalHold": "on"})
	e.raw("b2_update_file_retention", map[string]any{"fileName": locked.Name, "fileId": locked.ID,
		"fileRetention": map[string]any{"mode": "governance", "retainUntilTimestamp": time.Now().Add(24 * time.Hour).UnixMilli()}})
	// Locked at plan time: reported, neither copied nor deleted.
	d := e.load(moveHCL("acme-lock", "in/", "out/"))
	p, _ := e.planD(d)
	if len(p.Moves[0].Locked) != 2 {
		t.Fatalf("locked in plan: %+v", p.Moves[0].Locked)
	}
	// Locked after planning: free2 gets a legal hold before apply.
	free2 := e.versions("acme-lock", "in/free2")[0]
	e.raw("b2_update_file_legal_hold", map[string]any{"fileName": free2.Name, "fileId": free2.ID, "legalHold": "on"})
	res, err := e.apply(p, executor.Options{}, nil)
	if chunkSize(t) > 0 {
		// A chunked move expands its chunk at apply: the newly locked name
		// is left in place (neither copied nor deleted) and reported.
		if err != nil || len(res.Skipped) != 1 || res.Skipped[0].Object != "in/free2" || res.Moved != 1 {
			t.Fatalf("want exactly in/free2 skipped: %v %+v %+v moved %d", err, res.Failures, res.Skipped, res.Moved)
		}
		if dst, _ := e.visible("acme-lock", "out/"); len(dst) != 1 || dst["out/free1"] != sha("f1") {
			t.Errorf("destination %v", dst)
		}
		return
	}
	if err == nil || len(res.Failures) != 1 || res.Failures[0].Object != "in/free2" || res.Moved != 1 {
		t.Fatalf("want exactly in/free2 to fail: %v %+v moved %d", err, res.Failures, res.Moved)
	}
	t.Logf("failure: %s", res.Failures[0])
	if !strings.Contains(res.Failures[0].Err.Error(), "legal") && !strings.Contains(strings.ToLower(res.Failures[0].Err.Error()), "lock") {
		t.Logf("lock failure message: %v", res.Failures[0].Err)
	}
	src, _ := e.visible("acme-lock", "in/")
	dst, _ := e.visible("acme-lock", "out/")
	if len(src) != 3 || src["in/held"] == "" || src["in/locked"] == "" || src["in/free2"] == "" {
		t.Errorf("source after apply: %v", src)
	}
	if dst["out/free1"] != sha("f1") || dst["out/free2"] != sha("f2") || dst["out/held"] != "" {
		t.Errorf("destination after apply: %v", dst)
	}
	// source = hide works on locked objects (hiding deletes nothing).
	p = e.plan(moveHCL("acme-lock", "in/", "out/", `source = "hide"`))
	e.mustApply(p, executor.Options{})
	if src, _ := e.visible("acme-lock", "in/"); len(src) != 0 {
		t.Errorf("visible after hide: %v", src)
	}
}

func TestMoveLargeFilesThroughCopyPart(t *testing.T) {
	e := newEnv(t, emulator.Options{AbsoluteMinimumPartSize: 1000, RecommendedPartSize: 2000, MaxCopySize: 5000})
	e.bucket("acme-big", b2client.BucketSpec{})
	big := strings.Repeat("0123456789abcdef", 800) // 12,800 bytes: 7 parts of 2,000
	e.put("acme-big", "in/big1", big)
	e.put("acme-big", "in/big2", big+"x")
	e.put("acme-big", "in/small", "small")
	for _, mode := range []string{"fallback", "option"} {
		t.Run(mode, func(t *testing.T) {
			from, to := "in/", "mid/"
			if mode == "option" {
				from, to = "mid/", "out/"
			}
			p := e.plan(moveHCL("acme-big", from, to))
			// The planner sizes copies by B2's 5 GB limit: it plans OpCopy here.
			for _, op := range p.Moves[0].Ops {
				if op.Kind == planner.OpCopyLarge {
					t.Logf("planner planned a large copy")
				}
			}
			opts := executor.Options{}
			if mode == "option" {
				opts.MaxCopyFileSize = 5000
			}
			e.s.ResetStats()
			e.mustApply(p, opts)
			st := e.stats()
			if st.Calls["b2_copy_part"] < 14 || st.Calls["b2_finish_large_file"] != 2 {
				t.Errorf("calls %v", st.Calls)
			}
			if mode == "option" && st.Calls["b2_copy_file"] != 1 {
				t.Errorf("with MaxCopyFileSize no b2_copy_file should be refused: %v", st.Calls)
			}
			dst := e.versions("acme-big", to)
			if len(dst) != 3 {
				t.Fatalf("destination: %+v", dst)
			}
			for _, v := range dst {
				want := map[string]string{"big1": sha(big), "big2": sha(big + "x"), "small": sha("small")}[v.Name[len(to):]]
				if v.SHA1Hex() != want {
					t.Errorf("%s: sha %s want %s", v.Name, v.SHA1Hex(), want)
				}
			}
			if src, n := e.visible("acme-big", from); len(src)+len(n) != 0 {
				t.Errorf("source left: %v", n)
			}
		})
	}
}

func TestMoveUnderFaults(t *testing.T) {
	e := newEnv(t, emulator.Options{Seed: 7})
	e.bucket("acme-data", b2client.BucketSpec{})
	const n = 300
	want := map[string]string{}
	for i := 0; i < n; i++ {
		data := fmt.Sprintf("object %d", i)
		e.put("acme-data", fmt.Sprintf("in/%03d", i), data)
		if i%10 == 0 {
			e.put("acme-data", fmt.Sprintf("in/%03d", i), data+" v2")
			data += " v2"
		}
		want[fmt.Sprintf("out/%03d", i)] = sha(data)
	}
	p := e.plan(moveHCL("acme-data", "in/", "out/"))
	e.s.SetFaults(0.15, 503, 429, 500)
	var done atomic.Int32
	var once sync.Once
	ev := &events{on: func(x executor.Event) {
		if x.Kind == executor.ObjectDone && done.Add(1) == n/3 {
			once.Do(e.s.ExpireTokens)
		}
	}}
	res, err := e.apply(p, executor.Options{Parallelism: 8}, ev)
	e.s.SetFaults(0)
	if err != nil {
		t.Fatalf("apply under faults: %v %v", err, res.Failures)
	}
	if e.stats().Faults == 0 {
		t.Fatalf("no faults were injected")
	}
	src, srcN := e.visible("acme-data", "in/")
	dst, dstN := e.visible("acme-data", "out/")
	if len(src)+len(srcN) != 0 {
		t.Errorf("source left: %d", len(srcN))
	}
	for name, s := range want {
		if dst[name] != s || dstN[name] != 1 {
			t.Errorf("%s: sha %s (want %s), %d versions", name, dst[name], s, dstN[name])
		}
	}
}

// lateCopies simulates a b2_copy_file whose reply is lost and whose effect
// lands only after the executor looked: the first call per name reports
// Ambiguous without copying; the next call copies twice (the late request
// and the new one).
type lateCopies struct {
	*b2client.Mutator
	mu   sync.Mutex
	seen map[string]bool
}

func (l *lateCopies) CopyFile(ctx context.Context, r b2client.CopyRequest) (live.Version, error) {
	l.mu.Lock()
	first := !l.seen[r.DestName]
	l.seen[r.DestName] = true
	l.mu.Unlock()
	if first {
		return live.Version{}, &b2client.Error{Op: "copy", Class: b2client.Ambiguous, Message: "connection reset"}
	}
	if _, err := l.Mutator.CopyFile(ctx, r); err != nil {
		return live.Version{}, err
	}
	return l.Mutator.CopyFile(ctx, r)
}

// lostReplies copies but reports Ambiguous on the first call per name.
type lostReplies struct {
	*b2client.Mutator
	mu   sync.Mutex
	seen map[string]bool
}

func (l *lostReplies) CopyFile(ctx context.Context, r b2client.CopyRequest) (live.Version, error) {
	v, err := l.Mutator.CopyFile(ctx, r)
	l.mu.Lock()
	first := !l.seen[r.DestName]
	l.seen[r.DestName] = true
	l.mu.Unlock()
	if err == nil && first {
		return live.Version{}, &b2client.Error{Op: "copy", Class: b2client.Ambiguous, Message: "reply lost"}
	}
	return v, err
}

func TestAmbiguousCopies(t *testing.T) {
	for _, tc := range []struct {
		name string
		wrap func(*b2client.Mutator) executor.Mutator
	}{
		{"reply-lost", func(m *b2client.Mutator) executor.Mutator { return &lostReplies{Mutator: m, seen: map[string]bool{}} }},
		{"late-duplicate", func(m *b2client.Mutator) executor.Mutator { return &lateCopies{Mutator: m, seen: map[string]bool{}} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, emulator.Options{})
			e.bucket("acme-data", b2client.BucketSpec{})
			for i := 0; i < 20; i++ {
				e.put("acme-data", fmt.Sprintf("in/%02d", i), fmt.Sprint("c", i))
			}
			p := e.plan(moveHCL("acme-data", "in/", "out/"))
			res, err := executor.Options{Parallelism: 4, List: e.lister(), ListRange: e.rangeLister()}.Apply(context.Background(), p, tc.wrap(e.m), nil)
			if err != nil {
				t.Fatalf("%v %v", err, res.Failures)
			}
			src, srcN := e.visible("acme-data", "in/")
			dst, dstN := e.visible("acme-data", "out/")
			if len(src)+len(srcN) != 0 || len(dst) != 20 {
				t.Fatalf("src %v dst %d", srcN, len(dst))
			}
			for n, c := range dstN {
				if c != 1 {
					t.Errorf("%s has %d versions: a duplicate copy was left", n, c)
				}
			}
		})
	}
}

func TestSavedPlanFingerprints(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	e.bucket("acme-data", b2client.BucketSpec{})
	for i := 0; i < 5; i++ {
		e.put("acme-data", fmt.Sprintf("in/%d", i), fmt.Sprint(i))
	}
	e.put("acme-data", "in/done", "D") // already copied: the plan only deletes it
	e.put("acme-data", "out/done", "D")
	p := e.plan(moveHCL("acme-data", "in/", "out/"))
	var buf strings.Builder
	if err := planner.Encode(&buf, p); err != nil {
		t.Fatal(err)
	}
	saved, err := planner.Decode(strings.NewReader(buf.String()))
	if err != nil {
		t.Fatal(err)
	}
	// After the plan: in/1 gets a new version, in/2 is deleted.
	e.put("acme-data", "in/1", "changed")
	v2 := e.versions("acme-data", "in/2")[0]
	if err := e.m.DeleteVersion(context.Background(), v2.Name, v2.ID, false); err != nil {
		t.Fatal(err)
	}
	// ... and the copy of in/done disappears from the destination.
	od := e.versions("acme-data", "out/done")[0]
	if err := e.m.DeleteVersion(context.Background(), od.Name, od.ID, false); err != nil {
		t.Fatal(err)
	}
	cur := e.observe(executor.StaleRequest(saved))
	if err := executor.CheckStale(saved, cur); err != nil {
		t.Fatalf("CheckStale: %v", err)
	}
	res, err := e.apply(saved, executor.Options{Current: cur}, nil)
	if err != nil {
		t.Fatalf("%v %v", err, res.Failures)
	}
	if chunkSize(t) > 0 {
		// Chunked: the changed chunks are listed, planned again under the
		// same policy and reported; everything there is now is moved.
		if len(res.Replanned) == 0 || len(res.Skipped) != 0 {
			t.Fatalf("replanned %+v, skipped %+v", res.Replanned, res.Skipped)
		}
		src, _ := e.visible("acme-data", "in/")
		dst, _ := e.visible("acme-data", "out/")
		if len(src) != 0 || dst["out/1"] != sha("changed") || dst["out/done"] != sha("D") || dst["out/2"] != "" {
			t.Errorf("source %v, destination %v", src, dst)
		}
		return
	}
	if res.Moved != 3 || len(res.Skipped) != 3 {
		t.Fatalf("moved %d, skipped %+v", res.Moved, res.Skipped)
	}
	src, _ := e.visible("acme-data", "in/")
	if src["in/1"] != sha("changed") || src["in/done"] != sha("D") || len(src) != 2 {
		t.Errorf("source: %v", src)
	}
}

func TestMoveIntoBucketCreatedBySameApply(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	e.bucket("acme-src", b2client.BucketSpec{})
	e.put("acme-src", "a/x", "x")
	p := e.plan(`bucket "dst" {
  name = "acme-newdst"
}
` + moveHCL("acme-src", "a/", "b/", "to_bucket = bucket.dst.name"))
	e.mustApply(p, executor.Options{})
	if dst, _ := e.visible("acme-newdst", "b/"); dst["b/x"] != sha("x") {
		t.Errorf("dst %v", dst)
	}
}
