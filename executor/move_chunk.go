package executor

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/b2plan/b2plan/live"
	"github.com/b2plan/b2plan/planner"
)

// Chunked moves (planner/move_chunk.go; docs/moves.md, "Memory and chunked
// plans"). The plan holds per chunk a name range, counts and digests; apply
// takes the chunks of its shard in order, lists each one's source and
// destination ranges, expands them under the move's policy (the planner's
// own expansion) and applies the result. One chunk is listed ahead while
// the one before runs, so at most about two chunks are held.

// listedChunk is one chunk of a move as listed at apply.
type listedChunk struct {
	k        int
	src, dst []live.Version
	err      error
}

// feedChunks lists, expands and queues the chunks of mr's move that belong
// to this shard. It returns when every chunk is queued (or the run
// stopped); the WaitGroup is done when the queued work is finished and each
// chunk's delete batch is sent and settled.
func (r *run) feedChunks(mr *moveRun, jobs chan<- moveJob, newBatch func(*moveRun) *deleteBatcher) *sync.WaitGroup {
	mv := mr.mv
	finished := &sync.WaitGroup{}
	listed := make(chan listedChunk) // unbuffered: one chunk listed ahead
	go func() {
		defer close(listed)
		defer r.catchPanic()
		for k := range mv.Chunks {
			if !r.opts.Shard.HasChunk(k) || mv.Chunks[k].Objects == 0 {
				// Another shard's, or nothing planned: as with a plan of
				// per-object operations, apply does what the plan shows
				// (names added since are moved by the next plan).
				continue
			}
			if r.stopped() {
				r.leave(int64(mv.Chunks[k].Objects))
				continue
			}
			lc := listedChunk{k: k}
			lc.src, lc.dst, lc.err = r.listChunk(mr, &mv.Chunks[k])
			select {
			case listed <- lc:
			case <-r.stop.Done():
				r.leave(int64(mv.Chunks[k].Objects))
			}
		}
	}()
	lim := r.p.CopyLimits()
	if r.opts.MaxCopyFileSize > 0 {
		lim.MaxCopyFileSize = r.opts.MaxCopyFileSize
	}
	for lc := range listed {
		c := &mv.Chunks[lc.k]
		if lc.err != nil {
			err := fmt.Errorf("names %s: listing failed, nothing of them was moved: %w", chunkRange(mv, c), lc.err)
			r.fail(mv.Address, "", err)
			r.emit(Event{Kind: ResourceFailed, Address: mv.Address, Action: planner.MoveObjects, Err: err})
			continue
		}
		if r.stopped() {
			r.leave(int64(c.Objects))
			continue
		}
		exp := mv.ExpandChunk(lc.src, lc.dst, r.opts.Now().UnixMilli(), lim)
		srcChanged := planner.Digest(lc.src) != c.Digest
		dstChanged := planner.Digest(lc.dst) != c.DestDigest
		if srcChanged {
			r.replanned(mv, lc.k, c, lc.src, exp)
		}
		r.chunkConflicts(mr, exp, srcChanged || dstChanged)
		r.newlyLocked(mr, exp, c)
		cmr := &moveRun{mv: exp, srcID: mr.srcID, dstID: mr.dstID}
		cmr.batch = newBatch(cmr)
		var cwg sync.WaitGroup
		r.feedGroups(cmr, jobs, func() func() { cwg.Add(1); return cwg.Done })
		finished.Add(1)
		go func(src, dst []live.Version) {
			defer finished.Done()
			cwg.Wait()
			var after []live.Version
			if cmr.batch != nil {
				cmr.batch.flushAll()
			}
			if cmr.batch != nil && len(cmr.mv.Ops) > 0 { // nothing copied: nothing to settle (as sweep)
				after = r.chunkDest(cmr, c)
				r.sweepVersions(cmr, after, true)
			}
			if f := r.opts.ForgetListed; f != nil {
				f(src)
				f(dst)
				f(after) // the copies, listed by the sweep
			}
		}(lc.src, lc.dst)
	}
	return finished
}

// chunkBounds returns the name range [lo, hi) of chunk c under prefix.
func chunkBounds(prefix string, c *planner.Chunk) (lo, hi string) {
	lo = prefix + c.Lo
	if c.Hi != "" {
		hi = prefix + c.Hi
	}
	return lo, hi
}

// chunkRange describes a chunk's source names for messages.
func chunkRange(mv *planner.Move, c *planner.Chunk) string {
	lo, hi := chunkBounds(mv.From, c)
	if hi == "" {
		return fmt.Sprintf("from %q to the end of %q", lo, mv.From)
	}
	return fmt.Sprintf("from %q up to %q", lo, hi)
}

// listChunk lists chunk c's source and destination ranges.
func (r *run) listChunk(mr *moveRun, c *planner.Chunk) (src, dst []live.Version, err error) {
	mv := mr.mv
	lo, hi := chunkBounds(mv.From, c)
	if src, err = r.collect(mv.Bucket, mr.srcID, mv.From, lo, hi); err != nil {
		return nil, nil, err
	}
	lo, hi = chunkBounds(mv.To, c)
	if dst, err = r.collect(mv.ToBucket, mr.dstID, mv.To, lo, hi); err != nil {
		return nil, nil, err
	}
	return src, dst, nil
}

// collect lists the versions of (bucket, prefix) in [lo, hi).
func (r *run) collect(bucket, bucketID, prefix, lo, hi string) ([]live.Version, error) {
	pg := r.opts.ListRange(bucket, bucketID, prefix, lo, hi)
	var out []live.Version
	for {
		vs, err := pg.Next(r.work)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, vs...)
	}
}

// chunkDest lists a chunk's destination range again (the sweep after
// batched deletes), or nil when that fails (noted).
func (r *run) chunkDest(cmr *moveRun, c *planner.Chunk) []live.Version {
	mv := cmr.mv
	lo, hi := chunkBounds(mv.To, c)
	dst, err := r.collect(mv.ToBucket, cmr.dstID, mv.To, lo, hi)
	if err != nil {
		r.emit(Event{Kind: Note, Address: mv.Address, Message: fmt.Sprintf("could not list the destination to check for duplicates of a concurrent apply: %v", err)})
		return nil
	}
	return dst
}

// chunkConflicts reports the conflicts of a chunk's expansion at apply: one
// that fails (on_conflict = "fail", or a name that cannot be moved) fails
// its object, the source untouched; with on_conflict = "skip" the name is
// skipped and reported when the chunk changed since the plan (otherwise
// the plan showed it).
func (r *run) chunkConflicts(mr *moveRun, exp *planner.Move, changed bool) {
	mv := mr.mv
	for _, c := range exp.Conflicts {
		switch c.Resolution {
		case "overwrite":
		case "skip":
			if changed {
				r.skip(mr, c.Source, c.Dest, c.Reason+": on_conflict = \"skip\"")
			}
		default:
			hint := "Re-run plan to see it, then set on_conflict = \"skip\" or \"overwrite\""
			if c.Resolution == "error" {
				hint = "Re-run plan to see it"
			}
			err := fmt.Errorf("destination %s appeared or changed since the plan (%s); the source was not removed. %s", c.Dest, strings.TrimPrefix(c.Reason, "destination exists: "), hint)
			r.fail(mv.Address, c.Source, err)
			r.emit(Event{Kind: ObjectFailed, Address: mv.Address, Action: planner.MoveObjects, Object: c.Source, Dest: c.Dest, Err: err})
		}
	}
}

// Replan is a chunk of a chunked move whose source changed between the
// plan and the apply: it was planned again under the same policy and
// applied as re-planned.
type Replan struct {
	Address string
	Chunk   int    // from 0
	Range   string // its source names
	Message string // what changed
}

// replanned reports a chunk whose source digest differs from the plan's:
// the names with versions uploaded (or hidden) since the plan, by name
// (newer than the newest version the plan listed in the chunk),
// and the names and versions that are gone, counted.
func (r *run) replanned(mv *planner.Move, k int, c *planner.Chunk, src []live.Version, exp *planner.Move) {
	// Versions newer than the newest the plan listed (both B2's clock).
	since := c.Newest + 1
	var changed []string
	names, newNames := 0, 0
	for i := 0; i < len(src); {
		j, fresh, all := i, false, true
		for ; j < len(src) && src[j].Name == src[i].Name; j++ {
			if src[j].Action == live.ActionStart {
				continue
			}
			if src[j].Uploaded >= since {
				fresh = true
			} else {
				all = false
			}
		}
		names++
		if fresh {
			changed = append(changed, src[i].Name)
			if all {
				newNames++
			}
		}
		i = j
	}
	var parts []string
	if len(changed) > 0 {
		shown := changed
		if len(shown) > 10 {
			shown = shown[:10]
		}
		s := fmt.Sprintf("%d names with versions or hide markers added since the plan (%s", len(changed), strings.Join(shown, ", "))
		if len(changed) > len(shown) {
			s += fmt.Sprintf(", … %d more", len(changed)-len(shown))
		}
		parts = append(parts, s+")")
	}
	if gone := c.Names - (names - newNames); gone > 0 {
		parts = append(parts, fmt.Sprintf("%d names gone", gone))
	}
	if len(parts) == 0 || len(src) != c.Versions {
		parts = append(parts, fmt.Sprintf("%d versions now, %d at the plan", len(src), c.Versions))
	}
	msg := fmt.Sprintf("the source names %s changed since the plan: %s; re-planned under the same policy: %d objects to move now, %d planned",
		chunkRange(mv, c), strings.Join(parts, "; "), exp.Objects, c.Objects)
	r.mu.Lock()
	r.res.Replanned = append(r.res.Replanned, Replan{Address: mv.Address, Chunk: k, Range: chunkRange(mv, c), Message: msg})
	r.mu.Unlock()
	r.emit(Event{Kind: Note, Address: mv.Address, Message: msg})
}

// newlyLocked reports the names of a chunk left in place because a version
// came under Object Lock since the plan (neither copied nor deleted: the
// expansion leaves locked names alone), as skipped.
func (r *run) newlyLocked(mr *moveRun, exp *planner.Move, c *planner.Chunk) {
	mv := mr.mv
	if len(exp.Locked) == 0 || exp.Remaining() <= c.Remaining {
		return
	}
	known := map[string]bool{}
	if len(mv.Locked) == mv.NLocked() { // the plan lists all of them
		for _, l := range mv.Locked {
			known[l.Name] = true
		}
	}
	seen := map[string]bool{}
	for _, l := range exp.Locked {
		if known[l.Name] || seen[l.Name] {
			continue
		}
		seen[l.Name] = true
		r.skip(mr, l.Name, mv.To+l.Name[len(mv.From):], "a version came under Object Lock (retention or legal hold) since the plan: left in place, neither copied nor deleted")
	}
}
