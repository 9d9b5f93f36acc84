package executor

import (
	"errors"
	"fmt"
	"sync"

	"github.com/b2plan/b2plan/b2client"
	"github.com/b2plan/b2plan/planner"
)

// pendingDelete is a moved object whose copy is verified and whose one
// source version waits for its batch.
type pendingDelete struct {
	name, dest, id string
	copied         int64
	ops            []planner.ObjectOp // the name's operations (to settle)
}

// deleteBatcher gathers the source deletions of one move into
// DeleteVersions requests of up to size versions (S3 DeleteObjects: one
// request per 1,000 moved objects instead of one per object). Only objects
// whose every copy is verified are added, so the rule "never delete a source
// before its copy is verified" holds as for single deletes. An object is
// reported done (or failed) when its batch has been sent.
type deleteBatcher struct {
	r    *run
	mr   *moveRun
	bd   BatchDeleter
	size int
	done func(copied int64)

	mu    sync.Mutex
	items []pendingDelete
}

// add queues p and sends the batch, from the calling worker, once full.
func (b *deleteBatcher) add(p pendingDelete) {
	b.mu.Lock()
	b.items = append(b.items, p)
	var full []pendingDelete
	if len(b.items) >= b.size {
		full, b.items = b.items, nil
	}
	b.mu.Unlock()
	if full != nil {
		b.send(full)
	}
}

// flushAll sends what is left.
func (b *deleteBatcher) flushAll() {
	b.mu.Lock()
	rest := b.items
	b.items = nil
	b.mu.Unlock()
	for len(rest) > 0 {
		n := min(len(rest), b.size)
		b.send(rest[:n])
		rest = rest[n:]
	}
}

func (b *deleteBatcher) send(items []pendingDelete) {
	mv := b.mr.mv
	refs := make([]b2client.VersionRef, len(items))
	for i, p := range items {
		refs[i] = b2client.VersionRef{Name: p.name, ID: p.id}
	}
	errs := b.bd.DeleteVersions(b.r.work, mv.Bucket, refs)
	for i, p := range items {
		var err error
		if i < len(errs) {
			err = errs[i]
		} else {
			err = fmt.Errorf("no result for %s (%s) from the batch delete", p.name, p.id)
		}
		if errors.Is(err, b2client.NotFound) {
			// Already deleted: by another apply of this move, which may
			// have copied it too (docs/moves.md, "Concurrent applies").
			b.r.settle(b.mr, p.ops, p.dest)
			err = nil
		}
		if err != nil {
			err = fmt.Errorf("its copy at %s is in place and verified, but removing the source failed: %w", p.dest, err)
			b.r.fail(mv.Address, p.name, err)
			b.r.emit(Event{Kind: ObjectFailed, Address: mv.Address, Action: planner.MoveObjects, Object: p.name, Dest: p.dest, Err: err})
			continue
		}
		b.r.emit(Event{Kind: ObjectDone, Address: mv.Address, Action: planner.MoveObjects, Object: p.name, Dest: p.dest, Bytes: p.copied, Objects: 1})
		b.done(p.copied)
	}
}
