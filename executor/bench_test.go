package executor_test

import (
	"context"
	"crypto/sha1"
	"fmt"
	"testing"

	"github.com/b2plan/b2plan/b2client"
	"github.com/b2plan/b2plan/executor"
	"github.com/b2plan/b2plan/live"
	"github.com/b2plan/b2plan/planner"
)

// nullMutator answers every call at once: it measures the executor's own
// cost per moved object (scheduling, verification, events).
type nullMutator struct{ executor.Mutator }

func (nullMutator) CopyFile(_ context.Context, r b2client.CopyRequest) (live.Version, error) {
	v := live.Version{Name: r.DestName, Size: 10}
	v.SHA1 = sha1.Sum([]byte("0123456789"))
	v.Flags = live.FlagSHA1
	return v, nil
}

func (nullMutator) DeleteVersion(context.Context, string, string, bool) error { return nil }

// BenchmarkMoveOverhead reports the executor's cost per object (one copy +
// one delete) with a mutator that does nothing.
func BenchmarkMoveOverhead(b *testing.B) {
	const n = 10000
	sum := sha1.Sum([]byte("0123456789"))
	srcs := make([]live.Version, n)
	ops := make([]planner.ObjectOp, 0, 2*n)
	for i := range srcs {
		srcs[i] = live.Version{Name: fmt.Sprintf("in/%06d", i), ID: fmt.Sprint("id", i), Size: 10, SHA1: sum, Flags: live.FlagSHA1}
		ops = append(ops, planner.ObjectOp{Src: int32(i), Kind: planner.OpCopy}, planner.ObjectOp{Src: int32(i), Kind: planner.OpDelete})
	}
	mv := &planner.Move{Address: "move.m", Bucket: "b", BucketID: "bid", ToBucket: "b", ToBucketID: "bid",
		From: "in/", To: "out/", Versions: "latest", Source: "delete", Sources: srcs, Ops: ops, Objects: n}
	p := &planner.Plan{Moves: []*planner.Move{mv}}
	obs := executor.ObserverFunc(func(executor.Event) {})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := executor.Options{Parallelism: 32}.Apply(context.Background(), p, nullMutator{}, obs)
		if err != nil || res.Moved != n {
			b.Fatal(err, res.Moved)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/object")
}
