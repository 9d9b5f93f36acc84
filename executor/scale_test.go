package executor_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/b2plan/b2plan/b2client"
	"github.com/b2plan/b2plan/emulator"
	"github.com/b2plan/b2plan/executor"
	"github.com/b2plan/b2plan/planner"
)

// A deadline that passes while an operation is in flight does not cancel
// it (unlike an interrupt, even with Grace < 0): the bucket is created and
// nothing is left, so the run is complete.
func TestDeadlineLetsInFlightFinish(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	p := e.plan(twoBuckets)
	h := &heldBuckets{Mutator: e.m, entered: make(chan struct{}), release: make(chan struct{})}
	go func() {
		<-h.entered
		time.Sleep(100 * time.Millisecond) // past the deadline
		close(h.release)
	}()
	res, err := executor.Options{Grace: -1, Deadline: time.Now().Add(20 * time.Millisecond)}.Apply(context.Background(), p, h, nil)
	if err != nil || res.Added != 1 || res.Incomplete || res.Cancelled != 0 {
		t.Fatalf("err %v, result %+v: want the bucket created, complete", err, res)
	}
}

// A deadline already past starts nothing: every name is left, counted, and
// the error says to run again; the source is untouched.
func TestDeadlineStartsNothingAfter(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	e.bucket("scale-src", b2client.BucketSpec{})
	for i := 0; i < 20; i++ {
		e.put("scale-src", fmt.Sprintf("a/%02d", i), fmt.Sprint(i))
	}
	p := e.plan(moveHCL("scale-src", "a/", "b/"))
	res, err := e.apply(p, executor.Options{Deadline: time.Now().Add(-time.Second)}, nil)
	if !errors.Is(err, executor.ErrIncomplete) || !res.Incomplete || res.NotStarted != 20 || res.Moved != 0 {
		t.Fatalf("err %v, result %+v: want incomplete, 20 not started", err, res)
	}
	if vis, _ := e.visible("scale-src", "a/"); len(vis) != 20 {
		t.Fatalf("%d names left at the source, want 20", len(vis))
	}
}

// Shards 1..3 of one plan, applied one after the other, move disjoint sets
// of names that together are the whole move: one copy per name.
func TestShardsPartitionTheMove(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	e.bucket("scale-src", b2client.BucketSpec{})
	const n = 90
	for i := 0; i < n; i++ {
		e.put("scale-src", fmt.Sprintf("a/%02d", i), fmt.Sprint(i))
	}
	p := e.plan(moveHCL("scale-src", "a/", "b/"))
	e.s.ResetStats()
	var total int64
	for k := 1; k <= 3; k++ {
		res := e.mustApply(p, executor.Options{Shard: &planner.Shard{K: k, N: 3}})
		if res.Moved == 0 || res.Moved == n {
			t.Errorf("shard %d/3 moved %d of %d names: not a useful partition", k, res.Moved, n)
		}
		total += res.Moved
	}
	if st := e.stats(); total != n || st.Calls["b2_copy_file"] != n {
		t.Fatalf("shards moved %d names with %d copies, want %d each", total, st.Calls["b2_copy_file"], n)
	}
	if vis, _ := e.visible("scale-src", "a/"); len(vis) != 0 {
		t.Fatalf("%d names left at the source", len(vis))
	}
	if vis, _ := e.visible("scale-src", "b/"); len(vis) != n {
		t.Fatalf("%d names at the destination, want %d", len(vis), n)
	}
}
