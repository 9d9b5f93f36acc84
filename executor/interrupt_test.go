package executor_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/b2plan/b2plan/b2client"
	"github.com/b2plan/b2plan/emulator"
	"github.com/b2plan/b2plan/executor"
	"github.com/b2plan/b2plan/live"
)

// heldBuckets holds CreateBucket until release is closed (then it creates
// the bucket) or its context is cancelled (then it returns the context's
// error without creating anything). entered is closed when the call starts.
type heldBuckets struct {
	*b2client.Mutator
	entered, release chan struct{}
}

func (h *heldBuckets) CreateBucket(ctx context.Context, s b2client.BucketSpec) (live.Bucket, error) {
	close(h.entered)
	select {
	case <-h.release:
		return h.Mutator.CreateBucket(ctx, s)
	case <-ctx.Done():
		return live.Bucket{}, ctx.Err()
	}
}

const twoBuckets = `bucket "a" {
  name = "acme-a"
}
`

// interruptWhileHeld applies twoBuckets with the bucket call held, and
// cancels ctx (the first interrupt) once the call is in flight; then
// after runs (it may release the call or abort).
func interruptWhileHeld(t *testing.T, e *env, opts executor.Options, after func(h *heldBuckets)) (executor.Result, error) {
	t.Helper()
	p := e.plan(twoBuckets)
	h := &heldBuckets{Mutator: e.m, entered: make(chan struct{}), release: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-h.entered
		cancel()
		after(h)
	}()
	return opts.Apply(ctx, p, h, nil)
}

// Within the grace period an operation in flight finishes: its bucket
// exists and nothing is reported cancelled.
func TestInterruptGraceLetsInFlightFinish(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	res, err := interruptWhileHeld(t, e, executor.Options{Grace: time.Hour}, func(h *heldBuckets) { close(h.release) })
	if !errors.Is(err, executor.ErrInterrupted) || !res.Interrupted || res.Cancelled != 0 || len(res.Failures) != 0 || res.Added != 1 {
		t.Fatalf("err %v, result %+v", err, res)
	}
	if l := e.observe(live.Request{Buckets: true}); l.Bucket("acme-a") == nil {
		t.Error("the bucket in flight was not created")
	}
}

// After the grace period the call in flight is cancelled and reported so.
func TestInterruptGraceCancelsInFlight(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	res, err := interruptWhileHeld(t, e, executor.Options{Grace: time.Millisecond}, func(*heldBuckets) {})
	if !errors.Is(err, executor.ErrInterrupted) || res.Cancelled != 1 || len(res.Failures) != 1 || !errors.Is(res.Failures[0].Err, executor.ErrCancelled) {
		t.Fatalf("err %v, result %+v", err, res)
	}
}

// Abort (a second interrupt) cancels the call in flight at once: with a
// grace period of an hour, only Abort can end this apply.
func TestInterruptAbortCancelsAtOnce(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	abort := make(chan struct{})
	res, err := interruptWhileHeld(t, e, executor.Options{Grace: time.Hour, Abort: abort}, func(*heldBuckets) { close(abort) })
	if !errors.Is(err, executor.ErrInterrupted) || res.Cancelled != 1 {
		t.Fatalf("err %v, result %+v", err, res)
	}
	if l := e.observe(live.Request{Buckets: true}); l.Bucket("acme-a") != nil {
		t.Error("the cancelled bucket exists")
	}
}

type panickyKeys struct{ *b2client.Mutator }

func (panickyKeys) CreateKey(context.Context, b2client.KeySpec) (b2client.CreatedKey, error) {
	panic("boom in CreateKey")
}

// A panic in an operation's goroutine reaches the caller of Apply as a
// *PanicError with the stack of the goroutine that panicked.
func TestPanicReachesTheCaller(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	p := e.plan(keyV1)
	defer func() {
		v := recover()
		pe, ok := v.(*executor.PanicError)
		if !ok || pe.Value != "boom in CreateKey" || !strings.Contains(string(pe.Stack), "panickyKeys.CreateKey") {
			t.Fatalf("recovered %#v", v)
		}
	}()
	(executor.Options{}).Apply(context.Background(), p, panickyKeys{e.m}, nil)
	t.Fatal("Apply returned after a panic")
}
