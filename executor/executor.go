package executor

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/b2plan/b2plan/live"
	"github.com/b2plan/b2plan/planner"
)

// DefaultParallelism is the default number of concurrent operations, chosen
// by measurement with bench/ against the emulator on a loopback listener
// (docs/moves.md, "Parallelism"): with no added latency the move is
// CPU-bound on a 2-core machine and 16, 32 and 64 workers perform the same
// within noise; with 2 ms per call (a fast network) throughput grows almost
// linearly with workers (5,000 objects: 4 → 809, 16 → 2,638, 32 → 4,442,
// 64 → 8,182 objects/s). Real B2 calls take tens of milliseconds, so more
// workers help until B2 answers 429 (which the client honours); 32 doubles
// 16's throughput there and stays well below rate-limit territory.
const DefaultParallelism = 32

// DefaultGrace is how long operations in flight may go on after an
// interrupt (ctx cancelled) before their calls are cancelled too.
const DefaultGrace = 10 * time.Second

// Options tune Apply. The zero value is usable.
type Options struct {
	// Parallelism bounds concurrent operations (default DefaultParallelism).
	Parallelism int
	// List resolves ambiguous copies (see Lister). Optional but recommended.
	List Lister
	// Current, when set, is a listing made at apply start of every move's
	// source and destination prefixes (a saved plan, StaleRequest): each
	// source name is checked against it before anything is copied, and
	// skipped when its versions changed; a destination that appeared or
	// changed since the plan is a conflict under the move's on_conflict.
	Current *live.Live
	// MaxCopyFileSize is the largest object copied with one b2_copy_file
	// (default 5 GB). Larger ones, and any whose b2_copy_file is refused as
	// too large, are copied as large files even when the plan said OpCopy.
	MaxCopyFileSize int64
	// PartSize is the copy_part size of large copies (0 = B2's recommended
	// part size).
	PartSize int64
	// Now is the clock for events (default time.Now).
	Now func() time.Time
	// Grace bounds how long operations in flight run on once ctx is
	// cancelled (nothing new starts then); after it their calls are
	// cancelled. 0 = DefaultGrace; negative = cancel them at once.
	Grace time.Duration
	// Abort, when closed, cancels the calls in flight at once (a second
	// interrupt). nil = never.
	Abort <-chan struct{}
	// Deadline, when set, is the time budget of the run (apply
	// -max-duration): from then on nothing new is started, and what is in
	// flight is finished (not cancelled, unlike an interrupt). When work
	// was left unstarted, Result.Incomplete is set and Apply returns
	// ErrIncomplete; a re-plan carries on from where it stopped.
	Deadline time.Time
	// Shard, when set, applies only that shard of every move's objects
	// (apply -shard=K/N).
	Shard *planner.Shard
	// Accounts are the mutators of other providers' accounts (alias → mutator), for
	// replication, which writes to buckets and keys of several accounts (replication.go).
	Accounts map[string]Mutator
	// ListRange lists name ranges of move prefixes: a chunked move
	// (planner.Move.Chunked) lists, expands and applies its chunks one
	// after another through it (move_chunk.go).
	ListRange planner.RangeLister
	// ForgetListed, when set, is called with a chunk's listings once the
	// chunk is done (b2client.Conn.ForgetListed).
	ForgetListed func([]live.Version)
}

// Failure is one failed resource or object.
type Failure struct {
	Address string
	Object  string // source name for a move object; "" for a resource
	Err     error
}

func (f Failure) String() string {
	if f.Object != "" {
		return fmt.Sprintf("%s: %s: %v", f.Address, f.Object, f.Err)
	}
	return fmt.Sprintf("%s: %v", f.Address, f.Err)
}

// Skip is an object left alone because it changed since the plan.
type Skip struct {
	Address, Object, Reason string
}

// Result is what Apply did.
type Result struct {
	Added, Changed, Replaced, Destroyed int
	// Moved counts source names moved; MovedBytes the bytes copied.
	Moved      int64
	MovedBytes int64
	Skipped    []Skip
	// Replanned lists the chunks of chunked moves whose source changed
	// since the plan: applied as planned again under the same policy.
	Replanned []Replan
	Failures  []Failure
	// Interrupted is set when ctx was cancelled: scheduling stopped, and
	// the operations in flight were finished or, after Options.Grace or
	// Options.Abort, cancelled.
	Interrupted bool
	// Cancelled counts the operations whose calls were cancelled after the
	// interrupt (each is also in Failures, its error wrapping
	// ErrCancelled). A re-run of apply completes them.
	Cancelled int
	// Incomplete is set when Options.Deadline stopped the run with work
	// not started (NotStarted counts the objects and resources left); run
	// plan and apply again to carry on.
	Incomplete bool
	NotStarted int64
	// Secrets lists the secret files written (paths only).
	SecretFiles []string
}

// ErrInterrupted is returned (wrapped) when ctx was cancelled.
var ErrInterrupted = errors.New("apply interrupted")

// ErrIncomplete is returned (wrapped) when Options.Deadline stopped the run
// before everything was started.
var ErrIncomplete = errors.New("apply incomplete: the time budget ran out")

// ErrCancelled is wrapped by the Failure of an operation in flight whose
// calls were cancelled after an interrupt.
var ErrCancelled = errors.New("cancelled after the interrupt")

// PanicError is a panic raised by an operation, carried to the caller's
// goroutine: Apply stops scheduling, lets the other operations in flight
// finish, and panics with it, so that the program's top level reports it.
type PanicError struct {
	Value any
	Stack []byte // of the goroutine that panicked
}

func (p *PanicError) Error() string { return fmt.Sprintf("panic: %v", p.Value) }

// Apply runs p with default options.
func Apply(ctx context.Context, p *planner.Plan, m Mutator, obs Observer) (Result, error) {
	return Options{}.Apply(ctx, p, m, obs)
}

type run struct {
	opts Options
	p    *planner.Plan
	m    Mutator
	// stop is done when the caller's context is (or an operation
	// panicked): nothing new is scheduled.
	stop context.Context
	halt context.CancelFunc
	// work is the context of operations: not cancelled by stop, so that
	// operations in flight finish (drain), but cancelled after
	// Options.Grace or on Options.Abort.
	work context.Context

	panicOnce sync.Once
	panicked  *PanicError

	obsMu sync.Mutex
	obs   Observer

	mu       sync.Mutex
	res      Result
	ids      map[string]string // address → id (bucket.x, key.y) for deferred values
	bucketID map[string]string // lowercased bucket name → id
	failed   map[string]bool   // lowercased names of buckets whose change failed
	newKeys  map[string]bool   // addresses whose new key (replacement) exists with its secret written
	// plannedKeys are the ids of the live keys the plan knows (to replace,
	// delete, or keep); read-only after seedIDs.
	plannedKeys map[string]bool
}

// Apply carries out p. It returns an error when anything failed (every
// failure is in Result.Failures) or when ctx was cancelled (errors.Is(err,
// ErrInterrupted)); the Result is complete either way.
func (o Options) Apply(ctx context.Context, p *planner.Plan, m Mutator, obs Observer) (Result, error) {
	if o.Parallelism <= 0 {
		o.Parallelism = DefaultParallelism
	}
	// Limits not set here come from the plan, which recorded the endpoint's
	// when it was made with them (a saved plan applies with the limits it
	// was planned with).
	if o.MaxCopyFileSize <= 0 {
		o.MaxCopyFileSize = p.CopyLimits().MaxCopyFileSize
	}
	if o.PartSize <= 0 {
		o.PartSize = p.PartSize // 0: the connection's recommended size
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Grace == 0 {
		o.Grace = DefaultGrace
	}
	if obs == nil {
		obs = nopObserver{}
	}
	stop, halt := context.WithCancel(ctx)
	defer halt()
	if !o.Deadline.IsZero() {
		var cancelStop context.CancelFunc
		stop, cancelStop = context.WithDeadline(stop, o.Deadline)
		defer cancelStop()
	}
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	finished := make(chan struct{})
	defer close(finished)
	go cancelAfterGrace(ctx, o.Grace, o.Abort, finished, cancelWork)
	r := &run{opts: o, p: p, m: m, obs: obs, stop: stop, halt: halt, work: work,
		ids: map[string]string{}, bucketID: map[string]string{}, failed: map[string]bool{}, newKeys: map[string]bool{}, plannedKeys: map[string]bool{}}
	r.seedIDs()

	var bucketsCU, keysC, folders, foldersD, objects, objectsD, keysD, bucketsD []*planner.Change
	for _, ch := range p.Changes {
		switch {
		case ch.Type == "bucket" && (ch.Action == planner.Create || ch.Action == planner.Update):
			bucketsCU = append(bucketsCU, ch)
		case ch.Type == "bucket" && ch.Action == planner.Delete:
			bucketsD = append(bucketsD, ch)
		case ch.Type == "key" && (ch.Action == planner.Create || ch.Action == planner.Replace):
			keysC = append(keysC, ch)
			if ch.Action == planner.Replace {
				keysD = append(keysD, ch)
			}
		case ch.Type == "key" && ch.Action == planner.Delete:
			keysD = append(keysD, ch)
		case ch.Type == "folder" && ch.Action == planner.Create:
			folders = append(folders, ch)
		case ch.Type == "folder" && ch.Action == planner.Delete:
			foldersD = append(foldersD, ch)
		case ch.Type == "object" && (ch.Action == planner.Create || ch.Action == planner.Update):
			objects = append(objects, ch)
		case ch.Type == "object" && ch.Action == planner.Delete:
			objectsD = append(objectsD, ch)
		}
	}
	r.phase(bucketsCU, r.applyBucket)
	r.phase(keysC, r.createKey)
	// Info values that needed new ids (only the buckets that have some:
	// after a stop, only those are work left).
	var deferred []*planner.Change
	for _, ch := range bucketsCU {
		if ch.Bucket != nil && len(ch.Bucket.Deferred) > 0 {
			deferred = append(deferred, ch)
		}
	}
	r.phase(deferred, r.bucketDeferredInfo)
	// Replication (replication.go) once its buckets exist, before anything is uploaded (so
	// that objects of this apply are replicated) and before buckets are deleted (so that no
	// configuration names a deleted bucket).
	r.replicate()
	r.phase(folders, r.createFolder)
	r.phase(objects, r.uploadObject) // objects.go
	for _, mv := range p.Moves {
		if r.stopped() {
			r.leave(mv.Names(r.opts.Shard))
			continue
		}
		r.move(mv)
	}
	r.phase(keysD, r.deleteKey)
	r.phase(foldersD, r.deleteFolder) // destroy.go
	r.phase(objectsD, r.deleteObject)
	r.phase(bucketsD, r.deleteBucket)

	if r.panicked != nil {
		panic(r.panicked)
	}
	r.mu.Lock()
	res := r.res
	r.mu.Unlock()
	if ctx.Err() != nil {
		res.Interrupted = true
	} else if res.NotStarted > 0 {
		res.Incomplete = true
	}
	sort.SliceStable(res.Failures, func(i, j int) bool {
		if res.Failures[i].Address != res.Failures[j].Address {
			return res.Failures[i].Address < res.Failures[j].Address
		}
		return res.Failures[i].Object < res.Failures[j].Object
	})
	switch {
	case res.Interrupted:
		return res, fmt.Errorf("%w: %d operations failed before the interrupt", ErrInterrupted, len(res.Failures))
	case len(res.Failures) == 1:
		return res, fmt.Errorf("apply failed: %s", res.Failures[0])
	case len(res.Failures) > 1:
		return res, fmt.Errorf("apply failed: %d operations failed (first: %s)", len(res.Failures), res.Failures[0])
	case res.Incomplete:
		return res, fmt.Errorf("%w: %d objects or resources not started; run plan and apply again to carry on", ErrIncomplete, res.NotStarted)
	}
	return res, nil
}

func (r *run) stopped() bool { return r.stop.Err() != nil }

// leave records n objects or resources not started because the run was
// stopped.
func (r *run) leave(n int64) {
	if n <= 0 {
		return
	}
	r.mu.Lock()
	r.res.NotStarted += n
	r.mu.Unlock()
}

// cancelAfterGrace cancels the operations in flight (cancel) Grace after
// ctx is done, or at once on abort; it returns when Apply finishes.
func cancelAfterGrace(ctx context.Context, grace time.Duration, abort <-chan struct{}, finished <-chan struct{}, cancel context.CancelFunc) {
	select {
	case <-ctx.Done():
	case <-abort:
		cancel()
		return
	case <-finished:
		return
	}
	if grace < 0 {
		cancel()
		return
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-t.C:
		cancel()
	case <-abort:
		cancel()
	case <-finished:
	}
}

// catchPanic, deferred by every goroutine of Apply, turns a panic into a
// PanicError for the caller and stops scheduling.
func (r *run) catchPanic() {
	if v := recover(); v != nil {
		r.panicOnce.Do(func() { r.panicked = &PanicError{Value: v, Stack: debug.Stack()} })
		r.halt()
	}
}

func (r *run) emit(e Event) {
	e.Time = r.opts.Now()
	r.obsMu.Lock()
	r.obs.Event(e)
	r.obsMu.Unlock()
}

// seedIDs records the ids the plan already knows.
func (r *run) seedIDs() {
	for _, ch := range r.p.Changes {
		if ch.Bucket != nil && ch.Bucket.ID != "" {
			r.ids[ch.Address] = ch.Bucket.ID
			r.bucketID[strings.ToLower(bucketName(ch))] = ch.Bucket.ID
		}
		if ch.Key != nil && ch.Key.OldID != "" {
			r.plannedKeys[ch.Key.OldID] = true
		}
		if ch.Key != nil && ch.Key.OldID != "" && ch.Action == planner.NoOp {
			r.ids[ch.Address] = ch.Key.OldID
		}
		if ch.Key != nil {
			for i, n := range ch.Key.BucketNames {
				if len(ch.Key.BucketIDs) == len(ch.Key.BucketNames) {
					r.bucketID[strings.ToLower(n)] = ch.Key.BucketIDs[i]
				}
			}
		}
	}
	for _, mv := range r.p.Moves {
		if mv.BucketID != "" {
			r.bucketID[strings.ToLower(mv.Bucket)] = mv.BucketID
		}
		if mv.ToBucketID != "" {
			r.bucketID[strings.ToLower(mv.ToBucket)] = mv.ToBucketID
		}
	}
}

func (r *run) lookupBucket(name string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id, ok := r.bucketID[strings.ToLower(name)]
	return id, ok
}

func (r *run) bucketFailed(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed[strings.ToLower(name)]
}

func (r *run) idsSnapshot() map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]string, len(r.ids))
	for k, v := range r.ids {
		out[k] = v
	}
	return out
}

func (r *run) fail(addr, object string, err error) {
	cancelled := r.work.Err() != nil
	if cancelled {
		err = fmt.Errorf("%w: %w", ErrCancelled, err)
	}
	r.mu.Lock()
	r.res.Failures = append(r.res.Failures, Failure{Address: addr, Object: object, Err: err})
	if cancelled {
		r.res.Cancelled++
	}
	r.mu.Unlock()
}

// phase runs f for every change, up to Parallelism at once, and stops
// scheduling when the caller's context is done.
func (r *run) phase(list []*planner.Change, f func(*planner.Change) error) {
	if len(list) == 0 {
		return
	}
	sem := make(chan struct{}, r.opts.Parallelism)
	var wg sync.WaitGroup
	for i, ch := range list {
		if r.stopped() {
			r.leave(int64(len(list) - i))
			break
		}
		sem <- struct{}{}
		if r.stopped() { // stopped while waiting for a slot
			<-sem
			r.leave(int64(len(list) - i))
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			defer r.catchPanic()
			if err := f(ch); err != nil {
				r.fail(ch.Address, "", err)
				r.emit(Event{Kind: ResourceFailed, Address: ch.Address, Action: ch.Action, Err: err})
			}
		}()
	}
	wg.Wait()
}

func (r *run) count(a planner.Action) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch a {
	case planner.Create:
		r.res.Added++
	case planner.Update:
		r.res.Changed++
	case planner.Replace:
		r.res.Replaced++
	case planner.Delete:
		r.res.Destroyed++
	}
}
