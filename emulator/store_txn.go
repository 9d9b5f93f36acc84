package emulator

import (
	"errors"
	"fmt"
	"log"
	"time"
)

// Transactions: every change of the store goes through st.mutate. The
// function given to it runs under the write lock, validates against the
// state and changes it only through the txn methods below, each of which
// records the journal record and how to undo the change in memory. mutate
// then journals the records and waits, without the lock, until they are
// committed. If the commit fails (disk full, I/O error) the writer undoes,
// newest first, the change and every change journaled after it (they were
// built on it), so memory is again exactly the committed state, and every
// caller concerned gets 503: nothing is acknowledged that is not on disk.
// Content a change stops referring to is released only after the change is
// committed, so no content file is removed before its removal is durable.

// txn is one change being built (store.mu held).
type txn struct {
	st      *store
	ops     []dbOp
	undo    []func()
	release [][]seg // unpinned once committed

	events    []storeEvent // reported once committed (store_notify.go)
	lifecycle bool         // the change is a lifecycle rule's
}

// jentry is a change handed to the persister.
type jentry struct {
	ops      []dbOp
	undo     []func()
	release  [][]seg
	finished bool
	err      error
}

// read runs f under the read lock.
func (st *store) read(f func() error) error {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return f()
}

// mutate runs f under the write lock and makes its change durable (see the
// top of this file). It returns f's error (the change undone) or the commit
// error (503, the change undone); nil means the change is committed.
func (st *store) mutate(f func(tx *txn) error) error {
	e, evs, err := st.apply(f)
	if err != nil {
		return err
	}
	if e != nil {
		if err := st.p.wait(e); err != nil {
			return err
		}
	}
	st.afterCommit(evs)
	return nil
}

// apply is mutate's locked part. A panic in f undoes f's changes and
// releases the lock before it goes on (net/http recovers it), so one bad
// request cannot freeze the store.
func (st *store) apply(f func(tx *txn) error) (e *jentry, evs []storeEvent, err error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	tx := txn{st: st}
	done := false
	defer func() {
		if !done {
			tx.rollback()
		}
	}()
	if err := f(&tx); err != nil {
		return nil, nil, err // the deferred rollback undoes what f changed
	}
	done = true
	return tx.commit(), tx.events, nil
}

// rollback undoes tx's changes (store.mu held): f refused after changing.
func (tx *txn) rollback() {
	for i := len(tx.undo) - 1; i >= 0; i-- {
		tx.undo[i]()
	}
}

// commit hands tx to the journal (store.mu held); in memory mode the change
// is final at once.
func (tx *txn) commit() *jentry {
	if !tx.disk() || len(tx.ops) == 0 {
		for _, s := range tx.release {
			tx.st.unpinSegs(s)
		}
		return nil
	}
	e := &jentry{ops: tx.ops, undo: tx.undo, release: tx.release}
	tx.st.p.append(e)
	return e
}

// disk tells whether changes are journaled (there are no records to build
// in memory mode).
func (tx *txn) disk() bool { return tx.st.p != nil }

// onUndo records how to take back a change: used when the function given
// to mutate refuses after changing, and when the commit fails.
func (tx *txn) onUndo(f func()) { tx.undo = append(tx.undo, f) }

// ---- versions ----

// insert adds v (its segments already pinned) under name.
func (tx *txn) insert(b *bucket, name string, v *version) *nameEntry {
	e := b.insertVersion(name, v)
	if tx.disk() {
		tx.ops = append(tx.ops, tx.st.opVersion(b, name, v, false))
	}
	st := tx.st
	tx.onUndo(func() {
		b.removeVersion(b.entry(name), v)
		st.unpinSegs(v.segs)
	})
	return e
}

// remove unlinks v; its content is released once the removal is committed.
func (tx *txn) remove(b *bucket, e *nameEntry, v *version) {
	name := e.name
	b.removeVersion(e, v)
	if tx.disk() {
		tx.ops = append(tx.ops, opDelVersion(v.id))
	}
	tx.release = append(tx.release, v.segs)
	tx.onUndo(func() { b.insertVersion(name, v) })
}

// update journals v after change (retention, legal hold, finishing a large
// file) has modified it; undo restores every field.
func (tx *txn) update(b *bucket, name string, v *version, change func()) {
	old := *v
	change()
	if tx.disk() {
		tx.ops = append(tx.ops, tx.st.opVersion(b, name, v, false))
	}
	tx.onUndo(func() { *v = old })
}

// ---- large files ----

// startLarge registers the unfinished large file of the "start" version v.
func (tx *txn) startLarge(b *bucket, name string, v *version) *largeFile {
	e := tx.insert(b, name, v)
	lf := &largeFile{b: b, e: e, v: v, sse: v.flags&fSSE != 0, parts: map[int]*part{}}
	tx.st.large[v.id] = lf
	tx.onUndo(func() { delete(tx.st.large, v.id) })
	return lf
}

// putPart stores pt (segments pinned) in lf, releasing a part it replaces.
func (tx *txn) putPart(lf *largeFile, pt *part) {
	old := lf.parts[pt.n]
	if old != nil {
		tx.release = append(tx.release, old.segs)
	}
	lf.parts[pt.n] = pt
	if tx.disk() {
		tx.ops = append(tx.ops, opPart(lf.v.id, pt))
	}
	st := tx.st
	tx.onUndo(func() {
		if old != nil {
			lf.parts[pt.n] = old
		} else {
			delete(lf.parts, pt.n)
		}
		st.unpinSegs(pt.segs)
	})
}

// endLarge forgets the unfinished large file id and deletes its part
// records; the content of parts not in keep is released.
func (tx *txn) endLarge(lf *largeFile, keep map[int]bool) {
	id := lf.v.id
	delete(tx.st.large, id)
	for n, pt := range lf.parts {
		if tx.disk() {
			tx.ops = append(tx.ops, opDelPart(id, n))
		}
		if !keep[n] {
			tx.release = append(tx.release, pt.segs)
		}
	}
	tx.onUndo(func() { tx.st.large[id] = lf })
}

// cancelLarge removes an unfinished large file, its start version and parts.
func (tx *txn) cancelLarge(lf *largeFile) {
	tx.endLarge(lf, nil)
	name := lf.e.name
	lf.b.removeVersion(lf.e, lf.v)
	if tx.disk() {
		tx.ops = append(tx.ops, opDelVersion(lf.v.id))
	}
	// the start version has no content; undo re-links it (maybe under a
	// new entry, which lf must point at)
	tx.onUndo(func() { lf.e = lf.b.insertVersion(name, lf.v) })
}

// finishLarge turns lf into an uploaded version made of the parts listed
// in nums (in order); other parts are released.
func (tx *txn) finishLarge(lf *largeFile, nums []int) {
	keep := make(map[int]bool, len(nums))
	var segs []seg
	var size int64
	for _, n := range nums {
		pt := lf.parts[n]
		keep[n] = true
		segs = append(segs, pt.segs...)
		size += pt.size
	}
	tx.endLarge(lf, keep)
	tx.update(lf.b, lf.e.name, lf.v, func() {
		v := lf.v
		v.kind, v.size, v.segs = kindUpload, size, segs
		v.flags &^= fSHA1 | fMD5
	})
}

// ---- buckets and keys ----

// addBucket registers a new bucket.
func (tx *txn) addBucket(b *bucket) {
	st := tx.st
	st.buckets[b.ID] = b
	st.bucketNames[lower(b.Name)] = b
	if tx.disk() {
		tx.ops = append(tx.ops, opBucket(b), st.p.opExt(b))
	}
	tx.onUndo(func() {
		delete(st.buckets, b.ID)
		delete(st.bucketNames, lower(b.Name))
	})
}

// updateBucket journals b after change modified its settings.
func (tx *txn) updateBucket(b *bucket, change func()) {
	old := *b
	change()
	if tx.disk() {
		tx.ops = append(tx.ops, opBucket(b), tx.st.p.opExt(b))
	}
	tx.onUndo(func() {
		files, byID, lastTS, count := b.files, b.byID, b.lastTS, b.count
		*b = old
		b.files, b.byID, b.lastTS, b.count = files, byID, lastTS, count
	})
}

// deleteBucket removes an empty bucket.
func (tx *txn) deleteBucket(b *bucket) {
	st := tx.st
	delete(st.buckets, b.ID)
	delete(st.bucketNames, lower(b.Name))
	if tx.disk() {
		tx.ops = append(tx.ops, opDelBucket(b.ID))
	}
	tx.onUndo(func() {
		st.buckets[b.ID] = b
		st.bucketNames[lower(b.Name)] = b
	})
	if tx.disk() && (b.ext.notify != nil || b.ext.repl != nil) {
		tx.ops = append(tx.ops, dbOp{bkt: bktExt, key: []byte(b.ID)})
	}
}

// addKey registers a new application key.
func (tx *txn) addKey(k *appKey) {
	st := tx.st
	st.keys[k.ID] = k
	if st.p != nil {
		tx.ops = append(tx.ops, st.p.opKey(k))
	}
	tx.onUndo(func() { delete(st.keys, k.ID) })
}

// deleteKey removes an application key.
func (tx *txn) deleteKey(k *appKey) {
	st := tx.st
	delete(st.keys, k.ID)
	if tx.disk() {
		tx.ops = append(tx.ops, opDelKey(k.ID))
	}
	tx.onUndo(func() { st.keys[k.ID] = k })
}

// ---- storage errors ----

// diskError marks a failure to write the state directory (as opposed to a
// client's body ending early).
type diskError struct{ err error }

func (e *diskError) Error() string { return e.err.Error() }
func (e *diskError) Unwrap() error { return e.err }

func isDiskError(err error) bool {
	var d *diskError
	return errors.As(err, &d)
}

// errStorage is the answer to a change that could not be made durable: 503,
// which B2 and S3 clients retry; nothing was changed.
func errStorage(err error) *apiError {
	return &apiError{status: 503, code: "service_unavailable", retryAfter: time.Second,
		msg: fmt.Sprintf("b2local could not write its state directory (%v); nothing was changed, retry later", err)}
}

// contentFailed is the answer to an upload whose content could not be
// written: logged like a failed commit, 503.
func (st *store) contentFailed(err error) error {
	st.logStorage(fmt.Errorf("write content: %w", err))
	return errStorage(err)
}

// logStorage reports a failed write (err) or, after failures, the first
// successful commit (nil). Repeats of the same failure are logged once, so a
// full disk does not flood the log.
func (st *store) logStorage(err error) {
	st.logMu.Lock()
	msg := ""
	switch {
	case err != nil:
		msg = fmt.Sprintf("b2local: saving state failed: %v; the changes that could not be saved were refused with 503 and undone (b2local recovers by itself once writes succeed again)", err)
		if msg == st.lastLog {
			msg = ""
		} else {
			st.lastLog = msg
		}
	case st.lastLog != "":
		msg = "b2local: saving state works again"
		st.lastLog = ""
	}
	st.logMu.Unlock()
	if msg == "" {
		return
	}
	if st.opts.Logf != nil {
		st.opts.Logf("%s", msg)
		return
	}
	log.Print(msg)
}
