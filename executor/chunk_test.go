package executor_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/b2plan/b2plan/b2client"
	"github.com/b2plan/b2plan/emulator"
	"github.com/b2plan/b2plan/executor"
	"github.com/b2plan/b2plan/planner"
)

// TestChunkedMoves runs the adversarial move tests again with every move
// planned and applied in chunks of 7 versions (B2PLAN_MOVE_CHUNK): hide
// markers and histories, sources without SHA-1, nested prefixes,
// concurrent applies, saved plans with destinations appearing after the
// plan, locks, faults after commit, time budgets and shards. The whole
// executor suite passes the same way: B2PLAN_MOVE_CHUNK=7 go test ./executor.
func TestChunkedMoves(t *testing.T) {
	t.Setenv("B2PLAN_MOVE_CHUNK", "7")
	for name, f := range map[string]func(*testing.T){
		"HistoriesExact":              TestHistoriesExact,
		"HideDuringMove":              TestHideDuringMove,
		"MoveAllVersionsHide":         TestMoveAllVersionsHideAndCrossBucket,
		"NoSHA1IsNotSameContent":      TestNoSHA1IsNotSameContent,
		"AbandonedCopiesCancelled":    TestAbandonedCopiesCancelled,
		"OverlappingPrefixes":         TestOverlappingPrefixes,
		"ConcurrentApplies":           TestConcurrentApplies,
		"SavedPlanDestinationRecheck": TestSavedPlanDestinationRecheck,
		"SavedPlanFingerprints":       TestSavedPlanFingerprints,
		"MoveLockedObjects":           TestMoveLockedObjects,
		"LockedCopiesKeepProtection":  TestLockedCopiesKeepProtection,
		"CopyFailsAfterCommit":        TestCopyFailsAfterCommit,
		"DeadlineStartsNothingAfter":  TestDeadlineStartsNothingAfter,
		"ShardsPartitionTheMove":      TestShardsPartitionTheMove,
		"S3MoveAllVersionsHide":       TestS3MoveAllVersionsHideCrossBucket,
	} {
		t.Run(name, f)
	}
}

// TestChunkChangedBetweenPlanAndApply: in a saved chunked plan, one chunk's
// source changes after the plan (a new version of a name, a name deleted,
// a name hidden). Apply re-plans that chunk only, under the same policy,
// and reports it by its names; every other chunk is applied as planned.
// Checked with raw listings and downloaded hashes: every history is at the
// destination exactly, nothing is left at the source, nothing is lost.
func TestChunkChangedBetweenPlanAndApply(t *testing.T) {
	t.Setenv("B2PLAN_MOVE_CHUNK", "7")
	e := newEnv(t, emulator.Options{})
	b := e.bucket("acme-data", b2client.BucketSpec{})
	ctx := context.Background()
	// want: each name's expected destination history, newest first.
	want := map[string][]string{}
	for i := 0; i < 40; i++ {
		name := fmt.Sprintf("n%02d", i)
		for j := 0; j <= i%3; j++ { // 1 to 3 versions
			data := fmt.Sprintf("%s v%d", name, j)
			e.put("acme-data", "in/"+name, data)
			want[name] = append([]string{name + ":upload:" + sha(data)}, want[name]...)
		}
	}
	hcl := moveHCL("acme-data", "in/", "out/", `versions = "all"`)
	p := savedPlan(t, e.plan(hcl))
	m := p.Moves[0]
	if len(m.Chunks) < 5 || m.Objects != 40 {
		t.Fatalf("want a chunked plan of 40 objects: %d chunks, %d objects", len(m.Chunks), m.Objects)
	}
	// Three names of one chunk in the middle.
	k := m.ChunkOf("n20")
	var names []string
	for i := 0; i < 40; i++ {
		if n := fmt.Sprintf("n%02d", i); m.ChunkOf(n) == k {
			names = append(names, n)
		}
	}
	if len(names) < 3 {
		t.Fatalf("chunk %d holds %v", k, names)
	}
	up, del, hide := names[0], names[1], names[2]
	e.put("acme-data", "in/"+up, "uploaded after the plan")
	want[up] = append([]string{up + ":upload:" + sha("uploaded after the plan")}, want[up]...)
	for _, v := range e.versions("acme-data", "in/"+del) {
		if err := e.m.DeleteVersion(ctx, v.Name, v.ID, false); err != nil {
			t.Fatal(err)
		}
	}
	delete(want, del)
	if _, err := e.m.HideFile(ctx, b.ID, "in/"+hide); err != nil {
		t.Fatal(err)
	}
	want[hide] = append([]string{hide + ":hide:"}, want[hide]...)

	res := e.mustApply(p, executor.Options{})
	if len(res.Replanned) != 1 || res.Replanned[0].Chunk != k {
		t.Fatalf("want chunk %d re-planned, got %+v", k, res.Replanned)
	}
	msg := res.Replanned[0].Message
	for _, s := range []string{"in/" + up, "in/" + hide, "1 names gone", "re-planned under the same policy"} {
		if !strings.Contains(msg, s) {
			t.Errorf("the report does not say %q: %s", s, msg)
		}
	}
	if len(res.Skipped) != 0 || len(res.Failures) != 0 {
		t.Errorf("skipped %v, failures %v", res.Skipped, res.Failures)
	}
	var wantAll []string
	keys := make([]string, 0, len(want))
	for n := range want {
		keys = append(keys, n)
	}
	sort.Strings(keys)
	for _, n := range keys {
		wantAll = append(wantAll, want[n]...)
	}
	if got := e.rawHistory(b.ID, "out/"); strings.Join(got, "\n") != strings.Join(wantAll, "\n") {
		t.Errorf("destination history:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantAll, "\n"))
	}
	if left := e.rawVersions(b.ID, "in/"); len(left) != 0 {
		t.Errorf("source left: %+v", left)
	}
	if p := e.plan(hcl); p.HasChanges() {
		t.Errorf("re-plan: %s", p.SummaryLine())
	}
}

// TestChunkedListsBounded: a chunked move keeps the first 1,000 conflicts
// (and hidden names) with their exact totals, says so in the plan, counts
// the remaining names exactly, and never splits a name's versions between
// chunks; apply leaves every conflicting name alone (on_conflict = skip).
func TestChunkedListsBounded(t *testing.T) {
	t.Setenv("B2PLAN_MOVE_CHUNK", "50")
	e := newEnv(t, emulator.Options{})
	b := e.bucket("acme-data", b2client.BucketSpec{})
	const n = 1100
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("c%04d", i)
		e.put("acme-data", "in/"+name, "new "+name)
		e.put("acme-data", "in/"+name, "newer "+name) // two versions a name
		e.put("acme-data", "out/"+name, "other "+name)
	}
	e.put("acme-data", "in/zz-free", "free")
	p := e.plan(moveHCL("acme-data", "in/", "out/", `on_conflict = "skip"`))
	m := p.Moves[0]
	if !m.Chunked() || len(m.Conflicts) != 1000 || m.NConflicts() != n || m.Remaining() != n || m.Objects != 1 {
		t.Fatalf("chunked %v, %d conflicts listed of %d, remaining %d, objects %d", m.Chunked(), len(m.Conflicts), m.NConflicts(), m.Remaining(), m.Objects)
	}
	names, versions := 0, 0
	for _, c := range m.Chunks {
		names += c.Names
		versions += c.Versions
	}
	if names != n+1 || versions != 2*n+1 {
		t.Errorf("chunks hold %d names and %d versions, want %d and %d (a name split between chunks is counted twice)", names, versions, n+1, 2*n+1)
	}
	var buf strings.Builder
	if err := planner.RenderHuman(&buf, p, planner.RenderOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), fmt.Sprintf("conflicts (%d, the first 1,000 shown)", n)) {
		t.Errorf("the plan does not say the list is cut:\n%.2000s", buf.String())
	}
	res := e.mustApply(savedPlan(t, p), executor.Options{})
	if res.Moved != 1 {
		t.Errorf("moved %d", res.Moved)
	}
	src := e.contentOf(b.ID, "in/")
	if len(src) != n || len(src["in/c0000"]) != 2 {
		t.Errorf("%d names left at the source, want %d with both versions", len(src), n)
	}
}

// TestParallelListingSamePlan: listing a source by sub-prefix ranges
// concurrently (B2PLAN_PARALLEL_LISTING) gives the very chunks (ranges,
// counts, digests) of the sequential listing.
func TestParallelListingSamePlan(t *testing.T) {
	t.Setenv("B2PLAN_MOVE_CHUNK", "9")
	e := newEnv(t, emulator.Options{})
	e.bucket("acme-data", b2client.BucketSpec{})
	for i := 0; i < 300; i++ {
		e.put("acme-data", fmt.Sprintf("in/d%02d/f%04d", i%23, i), fmt.Sprint("x", i))
		if i%7 == 0 {
			e.put("acme-data", fmt.Sprintf("in/top%03d", i), "top")
		}
	}
	hcl := moveHCL("acme-data", "in/", "out/")
	seq := e.plan(hcl).Moves[0]
	t.Setenv("B2PLAN_PARALLEL_LISTING", "1")
	par := e.plan(hcl).Moves[0]
	if len(seq.Chunks) < 10 || fmt.Sprint(seq.Chunks) != fmt.Sprint(par.Chunks) || seq.Objects != par.Objects {
		t.Fatalf("chunks differ:\nsequential %v\nparallel   %v", seq.Chunks, par.Chunks)
	}
}

// TestChunkLockLiftedAfterPlan: a name left in place by a chunked plan because
// of a legal hold is reported, not moved silently, when the hold is lifted
// between plan and apply: Object Lock state is part of the chunk digest, so
// the chunk is re-planned and its report names it.
func TestChunkLockLiftedAfterPlan(t *testing.T) {
	t.Setenv("B2PLAN_MOVE_CHUNK", "7")
	e := newEnv(t, emulator.Options{})
	e.bucket("acme-src", b2client.BucketSpec{ObjectLock: true})
	held := e.put("acme-src", "in/held", "h")
	e.put("acme-src", "in/free", "f")
	e.raw("b2_update_file_legal_hold", map[string]any{"fileName": held.Name, "fileId": held.ID, "legalHold": "on"})
	p, _ := e.planD(e.load(moveHCL("acme-src", "in/", "out/")))
	if m := p.Moves[0]; !m.Chunked() || m.Remaining() != 1 {
		t.Fatalf("chunked %v, remaining %d", m.Chunked(), m.Remaining())
	}
	e.raw("b2_update_file_legal_hold", map[string]any{"fileName": held.Name, "fileId": held.ID, "legalHold": "off"})
	res := e.mustApply(p, executor.Options{})
	if len(res.Replanned) != 1 {
		t.Fatalf("the lifted hold was not reported: re-planned %+v", res.Replanned)
	}
	if vs := e.versions("acme-src", "in/"); len(vs) != 0 {
		t.Errorf("left at the source: %+v", vs)
	}
	if vs := e.versions("acme-src", "out/"); len(vs) != 2 {
		t.Errorf("at the destination: %+v", vs)
	}
}
