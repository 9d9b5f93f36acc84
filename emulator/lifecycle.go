package emulator

import (
	"strings"
	"time"
)

// Lifecycle rules, executed on the emulated clock (clock.go) and, as real
// time passes, every lifecycleEvery. For a name under a rule's
// fileNamePrefix:
//   - daysFromUploadingToHiding: the current version, an upload at least
//     that many days old, gets a hide marker;
//   - daysFromHidingToDeleting: a version that has been hidden (a newer
//     version or hide marker exists) for that many days, counted from the
//     timestamp of the version that hid it, is deleted; so is a hide marker
//     left with no older version once it is that old;
//   - daysFromStartingToCancelingUnfinishedLargeFiles: an unfinished large
//     file started that many days ago is cancelled with its parts.
//
// Versions Object Lock protects are kept. Changes go through store
// transactions (at most lifecycleBatch changes and names per commit, a run
// going on where the previous commit stopped) and emit the …:LifecycleRule
// events.

const (
	lifecycleBatch = 1000
	lifecycleEvery = 10 * time.Minute
	dayMs          = int64(24 * time.Hour / time.Millisecond)
)

type lifecycleStats struct {
	Hidden   int `json:"hidden"`
	Deleted  int `json:"deleted"`
	Canceled int `json:"canceled"`
}

func (a *lifecycleStats) add(b lifecycleStats) {
	a.Hidden += b.Hidden
	a.Deleted += b.Deleted
	a.Canceled += b.Canceled
}

// runLifecycle applies every bucket's rules once.
func (st *store) runLifecycle() (lifecycleStats, error) {
	var ids []string
	_ = st.read(func() error {
		for id, b := range st.buckets {
			if len(b.Lifecycle) > 0 {
				ids = append(ids, id)
			}
		}
		return nil
	})
	var total lifecycleStats
	for _, id := range ids {
		var cur lcCursor
		for more := true; more; {
			var ls lifecycleStats
			err := st.mutate(func(tx *txn) error {
				ls, more = lifecycleStats{}, false
				b := st.buckets[id]
				if b == nil {
					return nil
				}
				tx.lifecycle = true
				more = st.lifecycleTx(tx, b, &ls, &cur)
				return nil
			})
			if err != nil {
				return total, err
			}
			total.add(ls)
		}
	}
	return total, nil
}

// lcCursor is where the next transaction of a lifecycle run goes on: rule
// index, and the name to start at (one possibly half done: every step is
// idempotent).
type lcCursor struct {
	rule     int
	name     string
	canceled bool // the rule's unfinished large files are done
}

// lifecycleTx makes up to lifecycleBatch changes of bucket b (store.mu
// held), looking at up to lifecycleBatch names, from cur on; more tells
// whether the run must go on.
func (st *store) lifecycleTx(tx *txn, b *bucket, ls *lifecycleStats, cur *lcCursor) (more bool) {
	now := st.nowMs()
	n := func() int { return ls.Hidden + ls.Deleted + ls.Canceled }
	older := func(ts int64, days *int64) bool { return days != nil && now-ts >= *days*dayMs }
	for ; cur.rule < len(b.Lifecycle); cur.rule, cur.name, cur.canceled = cur.rule+1, "", false {
		r := &b.Lifecycle[cur.rule]
		if !cur.canceled && r.DaysFromStartingToCancelingUnfinishedLargeFiles != nil {
			for _, lf := range st.large {
				if n() >= lifecycleBatch {
					return true
				}
				if lf.b == b && strings.HasPrefix(lf.e.name, r.FileNamePrefix) && older(lf.v.ts, r.DaysFromStartingToCancelingUnfinishedLargeFiles) {
					tx.cancelLarge(lf)
					ls.Canceled++
				}
			}
		}
		cur.canceled = true
		if r.DaysFromUploadingToHiding == nil && r.DaysFromHidingToDeleting == nil {
			continue
		}
		// collect first: changing the tree while walking it is not allowed
		var entries []*nameEntry
		b.files.AscendGreaterOrEqual(&nameEntry{name: max(cur.name, r.FileNamePrefix)}, func(e *nameEntry) bool {
			if !strings.HasPrefix(e.name, r.FileNamePrefix) {
				return false
			}
			entries = append(entries, e)
			return len(entries) < lifecycleBatch
		})
		for _, e := range entries {
			st.lifecycleName(tx, b, e, r, ls, older, n)
			if n() >= lifecycleBatch {
				cur.name = e.name // maybe half done: the next commit looks again
				return true
			}
		}
		if len(entries) == lifecycleBatch {
			cur.name = entries[len(entries)-1].name + "\x00"
			return true
		}
	}
	return false
}

// lifecycleName applies rule r to one name (store.mu held).
func (st *store) lifecycleName(tx *txn, b *bucket, e *nameEntry, r *lifecycleRule, ls *lifecycleStats, older func(int64, *int64) bool, n func() int) {
	name := e.name
	if cur := e.current(); cur != nil && cur.kind == kindUpload && older(cur.ts, r.DaysFromUploadingToHiding) {
		if _, err := st.hideTx(tx, b, name); err == nil {
			ls.Hidden++
		}
	}
	if r.DaysFromHidingToDeleting == nil {
		return
	}
	// versions newest first, without unfinished large files
	var vs []*version
	for _, v := range e.vs {
		if v.kind != kindStart {
			vs = append(vs, v)
		}
	}
	kept := 0
	for i := len(vs) - 1; i >= 1; i-- { // oldest first; vs[i-1] hid vs[i]
		v := vs[i]
		if older(vs[i-1].ts, r.DaysFromHidingToDeleting) && st.deletable(v, false) == nil && n() < lifecycleBatch {
			tx.remove(b, e, v)
			tx.emit("b2:ObjectDeleted:Delete", b, name, v)
			ls.Deleted++
		} else {
			kept++
		}
	}
	if len(vs) > 0 && kept == 0 && vs[0].kind == kindHide && older(vs[0].ts, r.DaysFromHidingToDeleting) && n() < lifecycleBatch {
		tx.remove(b, e, vs[0]) // a hide marker hiding nothing any more
		tx.emit("b2:ObjectDeleted:Delete", b, name, vs[0])
		ls.Deleted++
	}
}

// startLifecycle runs the rules as real time passes, until stopped.
func (st *store) startLifecycle() {
	st.lcDone = make(chan struct{})
	st.lcStopped = make(chan struct{})
	go func() {
		defer close(st.lcStopped)
		t := time.NewTicker(lifecycleEvery)
		defer t.Stop()
		for {
			select {
			case <-st.lcDone:
				return
			case <-t.C:
				if _, err := st.runLifecycle(); err != nil {
					st.logf("b2local: lifecycle run: %v", err)
				}
			}
		}
	}()
}

func (st *store) stopLifecycle() {
	if st.lcDone != nil {
		close(st.lcDone)
		<-st.lcStopped
		st.lcDone = nil
	}
}
