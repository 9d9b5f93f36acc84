package executor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/b2plan/b2plan/b2client"
	"github.com/b2plan/b2plan/live"
	"github.com/b2plan/b2plan/planner"
)

// maxCopyAttempts bounds copies of one version after ambiguous outcomes
// (each one after a look at the destination).
const maxCopyAttempts = 5

type moveRun struct {
	mv           *planner.Move
	srcID, dstID string
	// cur and curDst are the apply-start listings of the source and
	// destination prefixes (saved plans).
	cur, curDst []live.Version
	// checkCur says cur must be consulted.
	checkCur bool
	// batch gathers source deletions when the Mutator deletes in batches.
	batch *deleteBatcher
}

func (r *run) move(mv *planner.Move) {
	if !mv.HasOps() && len(mv.Abandoned) == 0 {
		return
	}
	for _, b := range []string{mv.Bucket, mv.ToBucket} {
		if r.bucketFailed(b) {
			err := fmt.Errorf("not moved: bucket %q failed", b)
			r.fail(mv.Address, "", err)
			r.emit(Event{Kind: ResourceFailed, Address: mv.Address, Action: planner.MoveObjects, Err: err})
			return
		}
	}
	mr := &moveRun{mv: mv, srcID: mv.BucketID, dstID: mv.ToBucketID}
	if mr.srcID == "" {
		mr.srcID, _ = r.lookupBucket(mv.Bucket)
	}
	if mr.dstID == "" {
		mr.dstID, _ = r.lookupBucket(mv.ToBucket)
	}
	if mr.srcID == "" || mr.dstID == "" {
		err := fmt.Errorf("not moved: the bucket ids of %q and %q are not known", mv.Bucket, mv.ToBucket)
		r.fail(mv.Address, "", err)
		r.emit(Event{Kind: ResourceFailed, Address: mv.Address, Action: planner.MoveObjects, Err: err})
		return
	}
	if mv.Chunked() && r.opts.ListRange == nil {
		err := errors.New("not moved: a chunked move needs a range lister (executor.Options.ListRange)")
		r.fail(mv.Address, "", err)
		r.emit(Event{Kind: ResourceFailed, Address: mv.Address, Action: planner.MoveObjects, Err: err})
		return
	}
	if r.opts.Current != nil && !mv.Chunked() {
		l := r.opts.Current.Listing(mv.Bucket, mv.From)
		if l == nil {
			err := fmt.Errorf("not moved: the source %s/%s was not listed at apply start", mv.Bucket, mv.From)
			r.fail(mv.Address, "", err)
			r.emit(Event{Kind: ResourceFailed, Address: mv.Address, Action: planner.MoveObjects, Err: err})
			return
		}
		mr.cur, mr.checkCur = l.Versions, true
		if d := r.opts.Current.Listing(mv.ToBucket, mv.To); d != nil {
			mr.curDst = d.Versions
		}
	}
	r.emit(Event{Kind: MoveStart, Address: mv.Address, Action: planner.MoveObjects, Objects: int64(mv.Objects), Bytes: mv.Bytes})
	// Copies a killed apply started and never finished (they carry the
	// source id marker): cancel them. Not fatal: they hold no data that is
	// not at the source, and a later apply tries again.
	for _, u := range mv.Abandoned {
		if rel, ok := strings.CutPrefix(u.Name, mv.To); ok && !r.inShard(mv, rel) {
			continue // another shard's
		}
		msg := fmt.Sprintf("cancelled the abandoned copy %s (%s)", u.Name, u.FileID)
		if err := r.m.CancelLargeFile(r.work, u.FileID, u.Name); err != nil {
			msg = fmt.Sprintf("could not cancel the abandoned copy %s (%s): %v", u.Name, u.FileID, err)
		}
		r.emit(Event{Kind: Note, Address: mv.Address, Object: u.Name, Message: msg})
	}

	var moved, bytes int64
	var cmu sync.Mutex
	tally := func(n int64) {
		cmu.Lock()
		moved++
		bytes += n
		cmu.Unlock()
	}
	newBatch := func(mr *moveRun) *deleteBatcher {
		if bd, ok := r.m.(BatchDeleter); ok && bd.DeleteBatchSize() > 1 && mv.Source == "delete" {
			return &deleteBatcher{r: r, mr: mr, bd: bd, size: bd.DeleteBatchSize(), done: tally}
		}
		return nil
	}
	jobs := make(chan moveJob, r.opts.Parallelism)
	var wg sync.WaitGroup
	for w := 0; w < r.opts.Parallelism; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.catchPanic()
			for j := range jobs {
				func() {
					if j.done != nil {
						defer j.done() // also after a panic (catchPanic)
					}
					if r.stopped() {
						r.leave(1) // queued before the stop: not started
					} else if n, ok := r.moveObject(j.mr, j.ops); ok {
						tally(n)
					}
				}()
			}
		}()
	}
	if mv.Chunked() {
		finished := r.feedChunks(mr, jobs, newBatch)
		close(jobs)
		wg.Wait()
		finished.Wait()
	} else {
		mr.batch = newBatch(mr)
		r.feedGroups(mr, jobs, nil)
		close(jobs)
		wg.Wait()
		if mr.batch != nil {
			// The objects whose copies are verified and whose source deletion
			// waits in a partial batch (also after an interruption: their
			// copies are done).
			mr.batch.flushAll()
			// A batched delete (S3 DeleteObjects) does not say whether a
			// version was already gone, so a concurrent apply of this move
			// goes unnoticed per object: settle every name from one listing
			// of the destination prefix (one call per 1,000 versions).
			r.sweep(mr)
		}
	}
	r.mu.Lock()
	r.res.Moved += moved
	r.res.MovedBytes += bytes
	r.mu.Unlock()
	done := Event{Kind: MoveDone, Address: mv.Address, Action: planner.MoveObjects, Objects: moved, Bytes: bytes}
	if r.stopped() {
		done.Message = "interrupted"
		if r.stop.Err() == context.DeadlineExceeded && r.work.Err() == nil {
			done.Message = "time budget ran out"
		}
	}
	r.emit(done)
}

// moveJob is the operations of one source name, queued for a worker; done
// (optional) is called when they are carried out or left.
type moveJob struct {
	mr   *moveRun
	ops  []planner.ObjectOp
	done func()
}

// feedGroups queues the operations of mr's move name by name (the names of
// this shard; a chunked move's chunk is in the shard as a whole), calling
// add before each job it queues. It stops queueing when the run stops.
func (r *run) feedGroups(mr *moveRun, jobs chan<- moveJob, add func() func()) {
	mv := mr.mv
	ops := mv.Ops
	for i := 0; i < len(ops); {
		name := mv.Sources[ops[i].Src].Name
		j := i + 1
		for j < len(ops) && mv.Sources[ops[j].Src].Name == name {
			j++
		}
		g := ops[i:j:j]
		i = j
		if add == nil && !r.opts.Shard.Has(name[len(mv.From):]) {
			continue // another shard's
		}
		if r.stopped() {
			r.leave(1)
			continue
		}
		job := moveJob{mr: mr, ops: g}
		if add != nil {
			job.done = add()
		}
		select {
		case jobs <- job:
		case <-r.stop.Done():
			r.leave(1)
			if job.done != nil {
				job.done()
			}
		}
	}
}

// inShard says whether the relative name rel of move mv is this run's
// (-shard): by name, or for a chunked move by its chunk.
func (r *run) inShard(mv *planner.Move, rel string) bool {
	if mv.Chunked() {
		return r.opts.Shard.HasChunk(mv.ChunkOf(rel))
	}
	return r.opts.Shard.Has(rel)
}

// moveObject carries out the operations of one source name: copies (each
// verified), the destination hide marker, then the removals, oldest version
// first. It reports the object and returns the bytes copied; an object whose
// one source version joined the move's delete batch returns (0, false) and
// is reported and counted by the batch (batch.go).
func (r *run) moveObject(mr *moveRun, ops []planner.ObjectOp) (int64, bool) {
	mv := mr.mv
	name := mv.Sources[ops[0].Src].Name
	dest := mv.To + name[len(mv.From):]
	if mr.checkCur {
		why := fingerprintMismatch(mv, ops, mr.cur)
		if why == "" {
			why = destinationGone(mv, ops, dest, mr.curDst)
		}
		if why != "" {
			return r.skip(mr, name, dest, why)
		}
		var copied bool
		if ops, copied, why = destinationChanged(mv, ops, dest, mr.curDst, r.p.CreatedAt); why != "" {
			switch mv.OnConflict {
			case "skip":
				return r.skip(mr, name, dest, why+": on_conflict = \"skip\"")
			default:
				err := fmt.Errorf("%s; the source was not removed. Re-run plan to see it, then set on_conflict = \"skip\" or \"overwrite\"", why)
				r.fail(mv.Address, name, err)
				r.emit(Event{Kind: ObjectFailed, Address: mv.Address, Action: planner.MoveObjects, Object: name, Dest: dest, Err: err})
				return 0, false
			}
		} else if copied {
			r.emit(Event{Kind: Note, Address: mv.Address, Object: name, Dest: dest,
				Message: "the destination holds the source's content since the plan: not copied again"})
		}
	}
	failf := func(err error) (int64, bool) {
		r.fail(mv.Address, name, err)
		r.emit(Event{Kind: ObjectFailed, Address: mv.Address, Action: planner.MoveObjects, Object: name, Dest: dest, Err: err})
		return 0, false
	}
	var copied int64
	var deletes []planner.ObjectOp
	var made []string // versions this run made at dest
	// concurrent: another apply of this move worked on the name too (a
	// source version was already deleted, a name already hidden).
	concurrent := false
	for _, op := range ops {
		switch op.Kind {
		case planner.OpCopy, planner.OpCopyLarge:
			if err := r.copyVersion(mr, op, dest, &made); err != nil {
				if errors.Is(err, b2client.NotFound) && r.opts.List != nil {
					// The source version is gone: moved by another apply of
					// this move (then done), or deleted by someone.
					return r.sourceGone(mr, ops, name, dest, &mv.Sources[op.Src], err)
				}
				return failf(err)
			}
			copied += mv.Sources[op.Src].Size
		case planner.OpVerify:
			same, why, err := r.verifyByDownload(mr, &mv.Sources[op.Src], dest)
			if err != nil {
				return failf(fmt.Errorf("verify = \"download\": %w; the source was not removed", err))
			}
			if !same {
				if mv.OnConflict == "skip" {
					return r.skip(mr, name, dest, "destination exists with other content ("+why+"): on_conflict = \"skip\"")
				}
				return failf(fmt.Errorf("destination %s exists with other content (%s); the source was not removed. Set on_conflict = \"skip\" to leave it, or \"overwrite\" to copy anyway", dest, why))
			}
		case planner.OpHideDest:
			if _, err := r.m.HideFile(r.work, mr.dstID, dest); err != nil {
				if !errors.Is(err, b2client.Conflict) {
					return failf(err)
				}
				concurrent = true // hidden by someone else meanwhile
			}
		case planner.OpDelete:
			deletes = append(deletes, op)
		case planner.OpHide:
			// Every copy of the name is verified (above): hide the source.
			if _, err := r.m.HideFile(r.work, mr.srcID, name); err != nil {
				if !errors.Is(err, b2client.Conflict) {
					return failf(fmt.Errorf("its copy at %s is in place and verified, but hiding the source failed: %w", dest, err))
				}
				concurrent = true // another apply of this move hid it first
			}
		}
	}
	// Every copy of the name is verified (above). Delete its versions
	// oldest first: if the apply stops half-way, the newest version is
	// still on top and a re-run sees the name as already copied, never an
	// older version resurfacing with other content.
	// The plan lists versions newest first: reverse, then order by upload
	// time (stable, so equal timestamps keep listing order reversed).
	if len(deletes) > 1 {
		for i, j := 0, len(deletes)-1; i < j; i, j = i+1, j-1 {
			deletes[i], deletes[j] = deletes[j], deletes[i]
		}
		sort.SliceStable(deletes, func(i, j int) bool {
			return mv.Sources[deletes[i].Src].Uploaded < mv.Sources[deletes[j].Src].Uploaded
		})
	}
	if mr.batch != nil && len(deletes) == 1 {
		// One version to remove: it joins a batch, and the object is
		// reported when its batch has been sent. Names with several
		// versions are deleted here one by one, oldest first, so that a
		// failure never leaves an older version on top.
		v := &mv.Sources[deletes[0].Src]
		mr.batch.add(pendingDelete{name: name, dest: dest, id: v.ID, copied: copied, ops: ops})
		return 0, false
	}
	for _, op := range deletes {
		v := &mv.Sources[op.Src]
		if err := r.m.DeleteVersion(r.work, v.Name, v.ID, false); err != nil {
			if !errors.Is(err, b2client.NotFound) {
				return failf(fmt.Errorf("its copy at %s is in place and verified, but removing the source failed: %w", dest, err))
			}
			concurrent = true // deleted by another apply of this move
		}
	}
	if !concurrent && mv.Source == "hide" {
		// A name already hidden at the source gets no source change, so
		// nothing tells this apply whether another one copied it too:
		// always settle (one list call per such name).
		hides := false
		for _, op := range ops {
			hides = hides || op.Kind == planner.OpHide
		}
		concurrent = !hides
	}
	if concurrent {
		r.settle(mr, ops, dest)
	}
	r.emit(Event{Kind: ObjectDone, Address: mv.Address, Action: planner.MoveObjects, Object: name, Dest: dest, Bytes: copied, Objects: 1})
	return copied, true
}

// sourceGone handles a copy refused because source version v is gone. When
// the destination holds v's content, another apply of this move moved it:
// the name is done (its duplicates settled), not a failure. Otherwise v
// was deleted by someone since the plan: the name is skipped.
func (r *run) sourceGone(mr *moveRun, ops []planner.ObjectOp, name, dest string, v *live.Version, cause error) (int64, bool) {
	fail := func(err error) (int64, bool) {
		r.fail(mr.mv.Address, name, err)
		r.emit(Event{Kind: ObjectFailed, Address: mr.mv.Address, Action: planner.MoveObjects, Object: name, Dest: dest, Err: err})
		return 0, false
	}
	// "Not found" must be about the source version: look that it is gone.
	l, err := r.opts.List.List(r.work, live.Request{Prefixes: []live.PrefixRequest{{BucketName: mr.mv.Bucket, Prefix: name}}})
	if err != nil {
		return fail(fmt.Errorf("%w (and listing the source to check failed: %v)", cause, err))
	}
	for _, li := range l.Listings {
		for i := range li.Versions {
			if li.Versions[i].ID == v.ID {
				return fail(cause) // still there: an ordinary failure
			}
		}
	}
	vs, err := r.destVersions(mr, dest)
	if err == nil {
		for i := range vs {
			if vs[i].Action == live.ActionUpload && live.SameContent(v, &vs[i]) {
				r.settle(mr, ops, dest)
				r.emit(Event{Kind: ObjectDone, Address: mr.mv.Address, Action: planner.MoveObjects, Object: name, Dest: dest,
					Objects: 1, Message: "moved by another apply of this move"})
				return 0, true
			}
		}
	}
	return r.skip(mr, name, dest, fmt.Sprintf("source version %s is gone since the plan and its content is not at the destination", v.ID))
}

// settle removes the duplicates two applies of the same move leave when
// they move one name at the same time (docs/moves.md, "Concurrent
// applies"). It is lock-free and deterministic, so both applies may run it:
//
//   - the reference history is what the move puts at dest: the copied
//     version (versions = "latest"), or the name's referenced uploads and
//     hide markers, oldest first (versions = "all");
//   - dest versions uploaded since the plan (its creation minus a minute)
//     are matched oldest first against it, an upload by content
//     (live.SameContent), a hide marker by being one; each step keeps its
//     first match, so the oldest copy wins;
//   - every other such version after the first match that holds content
//     of the reference history, or is a hide marker, is a duplicate and is
//     deleted. A version matching nothing (someone else's upload) and
//     anything older are never touched.
func (r *run) settle(mr *moveRun, ops []planner.ObjectOp, dest string) {
	ref := settleRef(mr.mv, ops)
	if len(ref) == 0 || r.opts.List == nil {
		return
	}
	vs, err := r.destVersions(mr, dest)
	if err != nil {
		r.emit(Event{Kind: Note, Address: mr.mv.Address, Object: ref[0].Name, Dest: dest,
			Message: "could not list the destination to settle a concurrent apply: " + err.Error()})
		return
	}
	r.settleVersions(mr, ref, dest, vs)
}

// sweep settles every name of the move from one listing of the
// destination prefix (see settle).
func (r *run) sweep(mr *moveRun) {
	mv := mr.mv
	if r.opts.List == nil || len(mv.Ops) == 0 {
		return
	}
	l, err := r.opts.List.List(r.work, live.Request{Prefixes: []live.PrefixRequest{{BucketName: mv.ToBucket, Prefix: mv.To}}})
	if err != nil || len(l.Listings) == 0 {
		r.emit(Event{Kind: Note, Address: mv.Address, Message: fmt.Sprintf("could not list the destination to check for duplicates of a concurrent apply: %v", err)})
		return
	}
	r.sweepVersions(mr, l.Listings[0].Versions, false)
}

// sweepVersions is sweep with the destination's versions dst given; all
// says every name of mr's move is this run's (a chunk of this shard).
func (r *run) sweepVersions(mr *moveRun, dst []live.Version, all bool) {
	mv := mr.mv
	ops := mv.Ops
	for i := 0; i < len(ops); {
		name := mv.Sources[ops[i].Src].Name
		j := i + 1
		for j < len(ops) && mv.Sources[ops[j].Src].Name == name {
			j++
		}
		if !all && !r.opts.Shard.Has(name[len(mv.From):]) {
			i = j
			continue // another shard's
		}
		dest := mv.To + name[len(mv.From):]
		lo := sort.Search(len(dst), func(k int) bool { return dst[k].Name >= dest })
		hi := lo
		for hi < len(dst) && dst[hi].Name == dest {
			hi++
		}
		if ref := settleRef(mv, ops[i:j]); len(ref) > 0 && hi-lo > len(ref) {
			r.settleVersions(mr, ref, dest, dst[lo:hi])
		}
		i = j
	}
}

// settleRef is the reference history of settle: what the move puts at the
// destination for one name's operations.
func settleRef(mv *planner.Move, ops []planner.ObjectOp) []*live.Version {
	var ref []*live.Version
	if mv.Versions == "all" {
		idx := map[int32]bool{}
		for _, op := range ops {
			if a := mv.Sources[op.Src].Action; (a == live.ActionUpload || a == live.ActionHide) && op.Kind != planner.OpHide {
				idx[op.Src] = true
			}
		}
		for i := range idx {
			ref = append(ref, &mv.Sources[i])
		}
		// Sources list a name newest first: a higher index is older.
		sort.Slice(ref, func(i, j int) bool {
			if ref[i].Uploaded != ref[j].Uploaded {
				return ref[i].Uploaded < ref[j].Uploaded
			}
			return ref[i].ID > ref[j].ID
		})
	} else {
		for _, op := range ops {
			if op.Kind == planner.OpCopy || op.Kind == planner.OpCopyLarge {
				ref = append(ref, &mv.Sources[op.Src])
			}
		}
	}
	return ref
}

// settleVersions is settle with the reference history ref and the
// destination's versions vs (newest first) given.
func (r *run) settleVersions(mr *moveRun, ref []*live.Version, dest string, vs []live.Version) {
	mv := mr.mv
	floor := r.p.CreatedAt.Add(-time.Minute).UnixMilli()
	matches := func(h, d *live.Version) bool {
		if h.Action == live.ActionHide {
			return d.Action == live.ActionHide
		}
		return d.Action == live.ActionUpload && live.SameContent(h, d)
	}
	next := 0
	for i := len(vs) - 1; i >= 0; i-- { // oldest first
		d := &vs[i]
		if d.Uploaded < floor {
			continue
		}
		if next < len(ref) && matches(ref[next], d) {
			next++
			continue
		}
		if next == 0 {
			continue // before the first match: not this move's
		}
		dup := false
		for _, h := range ref {
			if matches(h, d) {
				dup = true
				break
			}
		}
		if !dup {
			continue
		}
		if err := r.m.DeleteVersion(r.work, d.Name, d.ID, false); err != nil && !errors.Is(err, b2client.NotFound) {
			r.emit(Event{Kind: Note, Address: mv.Address, Object: ref[0].Name, Dest: dest,
				Message: fmt.Sprintf("could not delete the duplicate %s left by a concurrent apply: %v", d.ID, err)})
			continue
		}
		r.emit(Event{Kind: Note, Address: mv.Address, Object: ref[0].Name, Dest: dest,
			Message: fmt.Sprintf("deleted duplicate %s left by a concurrent apply of this move", d.ID)})
	}
}

// skip reports a source name left alone (not a failure).
func (r *run) skip(mr *moveRun, name, dest, why string) (int64, bool) {
	r.mu.Lock()
	r.res.Skipped = append(r.res.Skipped, Skip{Address: mr.mv.Address, Object: name, Reason: why})
	r.mu.Unlock()
	r.emit(Event{Kind: ObjectSkipped, Address: mr.mv.Address, Action: planner.MoveObjects, Object: name, Dest: dest, Message: why})
	return 0, false
}

// verifyByDownload compares source version v with the newest version of
// dest by downloading and hashing both (verify = "download"). It reports
// whether they hold the same bytes, and why not.
func (r *run) verifyByDownload(mr *moveRun, v *live.Version, dest string) (bool, string, error) {
	if r.opts.List == nil {
		return false, "", errors.New("no lister to read the destination")
	}
	vs, err := r.destVersions(mr, dest)
	if err != nil {
		return false, "", fmt.Errorf("list the destination: %w", err)
	}
	if len(vs) == 0 || vs[0].Action != live.ActionUpload {
		return false, "", fmt.Errorf("the destination %s is gone or hidden since the plan", dest)
	}
	d := &vs[0]
	if id, why := live.Compare(v, d); id != live.Unproven {
		return id == live.Same, why, nil // proven either way without a download
	}
	sh, err := r.m.HashVersion(r.work, v.ID, v.Name)
	if err != nil {
		return false, "", err
	}
	dh, err := r.m.HashVersion(r.work, d.ID, d.Name)
	if err != nil {
		return false, "", err
	}
	switch {
	case sh.Size != v.Size:
		return false, "", fmt.Errorf("the source downloaded as %d bytes, listed as %d", sh.Size, v.Size)
	case sh != dh:
		return false, "different SHA-1s of the downloaded bytes", nil
	}
	return true, "", nil
}

// copyVersion copies one source version to dest and verifies the copy.
// made holds the ids of the versions this run already made at dest for
// this name (versions = "all" copies several); the new one is added.
//
// An ambiguous outcome (no reply, a timeout, a 5xx: the copy may exist) is
// resolved by listing dest before copying again: a version with the
// source's content that this run did not make before is the copy. After a
// repeated copy, dest is listed once more and every version with the
// source's content that appeared since the first look, except the oldest,
// is deleted: a late or committed-but-failed request leaves no duplicate.
func (r *run) copyVersion(mr *moveRun, op planner.ObjectOp, dest string, made *[]string) error {
	mv := mr.mv
	v := &mv.Sources[op.Src]
	req := b2client.CopyRequest{SourceFileID: v.ID, SourceName: v.Name, SourceBucket: mv.Bucket,
		DestBucketID: mr.dstID, DestBucket: mv.ToBucket, DestName: dest}
	if !v.HasSHA1() {
		// Without a SHA-1 nothing else can prove later that the copy holds
		// this version's bytes: record the source's file id in the copy.
		req.Mark = v
	}
	if mv.DestObjectLock {
		req.Lock = copyLock(v, r.opts.Now().UnixMilli())
	}
	large := op.Kind == planner.OpCopyLarge || v.Size > r.opts.MaxCopyFileSize
	restarted := false
	var seen map[string]bool // dest versions at the first look after an unknown outcome
	var madeID string
	for attempt := 1; ; attempt++ {
		var err error
		if !large {
			var got live.Version
			got, err = r.m.CopyFile(r.work, req)
			if err == nil {
				if verr := verifyCopy(v, &got, dest, req.Mark != nil); verr != nil {
					return verr
				}
				madeID = got.ID
				break
			}
			var be *b2client.Error
			if errors.As(err, &be) && be.Code == "source_too_large" {
				large = true
				attempt--
				continue
			}
		} else {
			var res b2client.LargeCopyResult
			res, err = r.m.CopyLargeFile(r.work, b2client.LargeCopyRequest{CopyRequest: req, Source: *v, PartSize: r.opts.PartSize})
			if errors.Is(err, b2client.NotFound) && !restarted {
				// Another apply of the same move may have cancelled this
				// unfinished copy as abandoned: start it once more (a source
				// that is gone fails again the same way).
				restarted = true
				attempt--
				continue
			}
			if err == nil {
				if verr := verifyLargeCopy(v, &res, dest, req.Mark != nil); verr != nil {
					return verr
				}
				madeID = res.Version.ID
				break
			}
		}
		if !errors.Is(err, b2client.Ambiguous) || attempt >= maxCopyAttempts || r.opts.List == nil {
			return err
		}
		// The copy may or may not exist: look before copying again.
		vs, ferr := r.destVersions(mr, dest)
		if ferr != nil {
			return fmt.Errorf("%w (and listing the destination to check failed: %v)", err, ferr)
		}
		if id := findCopy(v, vs, *made, seen); id != "" {
			madeID = id
			break
		}
		if seen == nil {
			seen = map[string]bool{}
			for i := range vs {
				seen[vs[i].ID] = true
			}
		}
	}
	*made = append(*made, madeID)
	if seen != nil {
		r.dedupe(mr, v, dest, seen, *made)
	}
	return nil
}

// copyLock is the Object Lock protection of source version v that its copy
// repeats: an unexpired governance or compliance retention (same mode and
// retain-until time) and a legal hold that is on. nil when v has neither.
func copyLock(v *live.Version, nowMs int64) *b2client.CopyLock {
	var l b2client.CopyLock
	if (v.Retention == live.RetentionGovernance || v.Retention == live.RetentionCompliance) && v.RetainUntil > nowMs {
		l.Mode, l.RetainUntil = v.Retention.String(), v.RetainUntil
	}
	l.LegalHold = v.LegalHold == live.LegalHoldOn
	if l.Mode == "" && !l.LegalHold {
		return nil
	}
	return &l
}

// findCopy returns the id of a version of dest (vs, newest first) that
// holds v's content and is neither one this run made before for the name
// (made) nor one present at the first look (seen), or "".
func findCopy(v *live.Version, vs []live.Version, made []string, seen map[string]bool) string {
	for i := range vs {
		d := &vs[i]
		if d.Action != live.ActionUpload || seen[d.ID] || slices.Contains(made, d.ID) {
			continue
		}
		if live.SameContent(v, d) {
			return d.ID
		}
	}
	return ""
}

// verifyMark checks that a marked copy carries the source id marker.
func verifyMark(src, got *live.Version, dest string, marked bool) error {
	if marked && b2client.Marked(src) && got.Info[live.SourceIDKey] != src.ID {
		return fmt.Errorf("copy verification failed: the copy %s does not carry the source id %s in its file info (%s = %q); the source was not removed", dest, src.ID, live.SourceIDKey, got.Info[live.SourceIDKey])
	}
	return nil
}

// verifyCopy checks a b2_copy_file reply against the source version.
func verifyCopy(src, got *live.Version, dest string, marked bool) error {
	if got.Name != "" && got.Name != dest {
		return fmt.Errorf("copy verification failed: B2 reports the copy as %q, want %q; the source was not removed", got.Name, dest)
	}
	if err := verifyMark(src, got, dest, marked); err != nil {
		return err
	}
	if got.Size != src.Size {
		return fmt.Errorf("copy verification failed: copy of %s has %d bytes, source %d; the source was not removed", dest, got.Size, src.Size)
	}
	if src.HasSHA1() {
		if !got.HasSHA1() {
			return fmt.Errorf("copy verification failed: B2 reported no SHA-1 for the copy %s (source %s); the source was not removed", dest, src.SHA1Hex())
		}
		if got.SHA1 != src.SHA1 {
			return fmt.Errorf("copy verification failed: copy %s has SHA-1 %s, source %s; the source was not removed", dest, got.SHA1Hex(), src.SHA1Hex())
		}
	}
	return nil
}

// verifyLargeCopy checks a large-file copy: total size, one 40-hex SHA-1 per
// part (B2 checked them against the parts at finish), and the whole-file
// SHA-1 when both sides carry one.
func verifyLargeCopy(src *live.Version, res *b2client.LargeCopyResult, dest string, marked bool) error {
	got := &res.Version
	if got.Name != "" && got.Name != dest {
		return fmt.Errorf("copy verification failed: B2 reports the copy as %q, want %q; the source was not removed", got.Name, dest)
	}
	if err := verifyMark(src, got, dest, marked); err != nil {
		return err
	}
	if got.Size != src.Size {
		return fmt.Errorf("copy verification failed: large copy %s has %d bytes, source %d; the source was not removed", dest, got.Size, src.Size)
	}
	if len(res.PartSHA1s) == 0 {
		return fmt.Errorf("copy verification failed: large copy %s reported no parts; the source was not removed", dest)
	}
	for i, s := range res.PartSHA1s {
		var tmp live.Version
		if !tmp.SetSHA1Hex(s, false) {
			return fmt.Errorf("copy verification failed: part %d of %s has no valid SHA-1 (%q); the source was not removed", i+1, dest, s)
		}
	}
	if src.HasSHA1() && got.HasSHA1() && got.SHA1 != src.SHA1 {
		return fmt.Errorf("copy verification failed: large copy %s has SHA-1 %s, source %s; the source was not removed", dest, got.SHA1Hex(), src.SHA1Hex())
	}
	return nil
}

// destVersions lists the versions of exactly one destination name.
func (r *run) destVersions(mr *moveRun, dest string) ([]live.Version, error) {
	l, err := r.opts.List.List(r.work, live.Request{Prefixes: []live.PrefixRequest{{BucketName: mr.mv.ToBucket, Prefix: dest}}})
	if err != nil {
		return nil, err
	}
	var out []live.Version
	for _, li := range l.Listings {
		for _, v := range li.Versions {
			if v.Name == dest && v.Action != live.ActionStart {
				out = append(out, v)
			}
		}
	}
	return out, nil
}

// dedupe deletes duplicate copies of v at dest left by a copy that was
// repeated after an unknown outcome: among the versions with v's content
// that appeared since the first look (not in seen), the oldest is kept (it
// is the one recorded in made when it was found) and the others deleted.
func (r *run) dedupe(mr *moveRun, v *live.Version, dest string, seen map[string]bool, made []string) {
	vs, err := r.destVersions(mr, dest)
	if err != nil {
		r.emit(Event{Kind: Note, Address: mr.mv.Address, Object: v.Name, Dest: dest,
			Message: "could not list the destination to check for a duplicate copy: " + err.Error()})
		return
	}
	var ours []*live.Version // newest first
	for i := range vs {
		d := &vs[i]
		if d.Action == live.ActionUpload && !seen[d.ID] && live.SameContent(v, d) {
			ours = append(ours, d)
		}
	}
	if len(ours) < 2 {
		return
	}
	keep := ours[len(ours)-1]
	made[len(made)-1] = keep.ID
	for _, d := range ours[:len(ours)-1] {
		if err := r.m.DeleteVersion(r.work, d.Name, d.ID, false); err != nil && !errors.Is(err, b2client.NotFound) {
			r.emit(Event{Kind: Note, Address: mr.mv.Address, Object: v.Name, Dest: dest,
				Message: fmt.Sprintf("could not delete the duplicate copy %s: %v", d.ID, err)})
			continue
		}
		r.emit(Event{Kind: Note, Address: mr.mv.Address, Object: v.Name, Dest: dest,
			Message: fmt.Sprintf("deleted duplicate copy %s left by a retried copy", d.ID)})
	}
}

// fingerprintMismatch checks one source name against the apply-start
// listing: every version the plan refers to must still be there with the
// same size and SHA-1, the newest live version must be one the plan knows,
// and with source = "delete" no version may have been added.
func fingerprintMismatch(mv *planner.Move, ops []planner.ObjectOp, cur []live.Version) string {
	name := mv.Sources[ops[0].Src].Name
	lo := sort.Search(len(cur), func(i int) bool { return cur[i].Name >= name })
	hi := lo
	for hi < len(cur) && cur[hi].Name == name {
		hi++
	}
	var live_ []*live.Version
	for i := lo; i < hi; i++ {
		if a := cur[i].Action; a == live.ActionUpload || a == live.ActionHide {
			live_ = append(live_, &cur[i])
		}
	}
	ref := map[string]*live.Version{}
	for _, op := range ops {
		v := &mv.Sources[op.Src]
		ref[v.ID] = v
	}
	for id, v := range ref {
		var found *live.Version
		for _, c := range live_ {
			if c.ID == id {
				found = c
				break
			}
		}
		if found == nil {
			return fmt.Sprintf("version %s is gone since the plan", id)
		}
		if found.Size != v.Size || found.HasSHA1() != v.HasSHA1() || found.SHA1 != v.SHA1 || found.Action != v.Action {
			return fmt.Sprintf("version %s changed since the plan", id)
		}
	}
	if len(live_) > 0 && ref[live_[0].ID] == nil {
		return "a newer version (or hide marker) was added since the plan"
	}
	if mv.Source == "delete" {
		for _, c := range live_ {
			if ref[c.ID] == nil {
				return fmt.Sprintf("version %s was added since the plan", c.ID)
			}
		}
	}
	return ""
}

// destinationGone guards a name whose plan has removals but no copy (the
// planner found its content at the destination already): in a saved plan,
// that destination copy must still be there, with the content of the
// newest source version, before the source is removed.
func destinationGone(mv *planner.Move, ops []planner.ObjectOp, dest string, curDst []live.Version) string {
	newest := int32(-1)
	for _, op := range ops {
		switch op.Kind {
		case planner.OpCopy, planner.OpCopyLarge, planner.OpVerify:
			return "" // copied and verified, or compared, in this run
		case planner.OpDelete, planner.OpHide:
			if v := &mv.Sources[op.Src]; v.Action == live.ActionUpload && (newest < 0 || op.Src < newest) {
				newest = op.Src
			}
		}
	}
	if newest < 0 {
		return ""
	}
	src := &mv.Sources[newest]
	lo := sort.Search(len(curDst), func(i int) bool { return curDst[i].Name >= dest })
	for i := lo; i < len(curDst) && curDst[i].Name == dest; i++ {
		v := &curDst[i]
		if v.Action != live.ActionUpload {
			if mv.Versions != "all" {
				break // hidden at the destination
			}
			continue
		}
		if live.SameContent(src, v) {
			return ""
		}
		if mv.Versions != "all" {
			break // only the newest destination version counts
		}
	}
	return "its copy at the destination is gone or changed since the plan: the source was not removed"
}

// destinationChanged re-checks, for a saved plan, the destination name of a
// source name with planned copies against the apply-start listing curDst
// (the plan was made when no conflicting version was there, or with
// on_conflict = "overwrite"). A newest destination version that is visible
// and not proven (live.Compare) to hold the content of one of the name's
// planned source versions appeared or changed since the plan: it is a
// conflict (why != ""), decided by on_conflict like one found at plan time;
// "overwrite" copies anyway. With versions = "latest", a destination that
// now holds exactly the planned content is not copied again, whatever
// on_conflict says (copied = true, the copy operations are dropped).
func destinationChanged(mv *planner.Move, ops []planner.ObjectOp, dest string, curDst []live.Version, planned time.Time) (out []planner.ObjectOp, copied bool, why string) {
	var copies []*live.Version
	for _, op := range ops {
		if op.Kind == planner.OpCopy || op.Kind == planner.OpCopyLarge {
			copies = append(copies, &mv.Sources[op.Src])
		}
	}
	if len(copies) == 0 {
		return ops, false, ""
	}
	lo := sort.Search(len(curDst), func(i int) bool { return curDst[i].Name >= dest })
	var top *live.Version
	for i := lo; i < len(curDst) && curDst[i].Name == dest; i++ {
		if a := curDst[i].Action; a == live.ActionUpload || a == live.ActionHide {
			top = &curDst[i]
			break
		}
	}
	if top == nil || top.Action != live.ActionUpload {
		return ops, false, ""
	}
	newest := copies[len(copies)-1] // copies run oldest first
	if mv.Versions != "all" {
		id, reason := live.Compare(newest, top)
		if id != live.Same {
			if mv.OnConflict == "overwrite" {
				return ops, false, ""
			}
			return ops, false, fmt.Sprintf("destination %s appeared or changed since the plan (version %s: %s)", dest, top.ID, reason)
		}
		kept := ops[:0:0]
		for _, op := range ops {
			if op.Kind != planner.OpCopy && op.Kind != planner.OpCopyLarge {
				kept = append(kept, op)
			}
		}
		return kept, true, ""
	}
	// versions = "all": the newest destination version may be history this
	// move copied before the plan (the plan accepted it), or one of the
	// name's planned versions; anything uploaded since the plan (with a
	// minute's slack for clock differences) is a change.
	if mv.OnConflict == "overwrite" || top.Uploaded < planned.Add(-time.Minute).UnixMilli() {
		return ops, false, ""
	}
	for _, op := range ops {
		if v := &mv.Sources[op.Src]; v.Action == live.ActionUpload && live.SameContent(v, top) {
			return ops, false, ""
		}
	}
	_, reason := live.Compare(newest, top)
	return ops, false, fmt.Sprintf("destination %s appeared or changed since the plan (version %s: %s)", dest, top.ID, reason)
}

// StaleRequest is what to observe at apply start for a saved plan: buckets,
// keys, and every move's source and destination prefixes.
func StaleRequest(p *planner.Plan) live.Request {
	req := live.Request{Buckets: true}
	for _, ch := range p.Changes {
		if ch.Type == "key" && ch.Action != planner.NoOp {
			req.Keys = true
		}
	}
	for _, mv := range p.Moves {
		if len(mv.Ops) > 0 { // chunked moves list each chunk when they apply it
			req.Prefixes = append(req.Prefixes, live.PrefixRequest{BucketName: mv.Bucket, Prefix: mv.From},
				live.PrefixRequest{BucketName: mv.ToBucket, Prefix: mv.To})
		}
	}
	return req
}

// CheckStale compares a saved plan's resource fingerprints with the account
// as observed now (StaleRequest): a bucket to update or delete must still
// exist at the planned revision, a bucket to create must not exist, a key
// to replace or delete must still exist under the planned id, a key to
// create must not exist. Object fingerprints are checked per object during
// Apply (Options.Current). The error lists every mismatch.
func CheckStale(p *planner.Plan, l *live.Live) error {
	var why []string
	// Keys the plan deletes (deposed keys of an interrupted replacement
	// share the name of the key it replaces).
	deleted := map[string]bool{}
	for _, ch := range p.Changes {
		if ch.Type == "key" && ch.Key != nil && ch.Action == planner.Delete {
			deleted[ch.Key.OldID] = true
		}
	}
	for _, ch := range p.Changes {
		switch {
		case ch.Type == "bucket" && ch.Bucket != nil:
			name := bucketName(ch)
			b := l.Bucket(name)
			switch ch.Action {
			case planner.Create:
				if b != nil {
					why = append(why, fmt.Sprintf("%s: bucket %q exists now", ch.Address, name))
				}
			case planner.Update, planner.Delete:
				if b == nil || b.ID != ch.Bucket.ID {
					why = append(why, fmt.Sprintf("%s: bucket %q is gone or was recreated", ch.Address, name))
				} else if b.Revision != ch.Bucket.Revision {
					why = append(why, fmt.Sprintf("%s: bucket %q is at revision %d, the plan was made at revision %d", ch.Address, name, b.Revision, ch.Bucket.Revision))
				}
			}
		case ch.Type == "key" && ch.Key != nil:
			ks := l.KeysNamed(ch.Key.Name)
			switch ch.Action {
			case planner.Create:
				if len(ks) > 0 {
					why = append(why, fmt.Sprintf("%s: a key named %q exists now", ch.Address, ch.Key.Name))
				}
			case planner.Replace, planner.Delete:
				found, others := false, false
				for _, k := range ks {
					if k.ID == ch.Key.OldID {
						found = true
					} else if !deleted[k.ID] {
						others = true
					}
				}
				if !found || (ch.Action == planner.Replace && others) {
					why = append(why, fmt.Sprintf("%s: key %q is no longer %s", ch.Address, ch.Key.Name, ch.Key.OldID))
				}
			}
		}
	}
	if len(why) > 0 {
		return fmt.Errorf("saved plan is stale: re-run plan (%s)", strings.Join(why, "; "))
	}
	return nil
}
