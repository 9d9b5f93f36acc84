package executor

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/b2plan/b2plan/b2client"
	"github.com/b2plan/b2plan/planner"
)

// deleteFolder deletes the placeholder versions of a destroyed folder.
func (r *run) deleteFolder(ch *planner.Change) error {
	f := ch.Folder
	if f == nil {
		return errors.New("plan has no folder data for this change")
	}
	r.emit(Event{Kind: ResourceStart, Address: ch.Address, Action: ch.Action})
	if err := r.deleteVersions(f.Versions, nil); err != nil {
		return err
	}
	r.count(planner.Delete)
	r.emit(Event{Kind: ResourceDone, Address: ch.Address, Action: ch.Action})
	return nil
}

// emptyBucket deletes what force_destroy planned to remove before the bucket: every
// unfinished large file and every file version. A version under Object Lock fails with a
// message naming it; the bucket is then not deleted.
func (r *run) emptyBucket(ch *planner.Change) error {
	bc := ch.Bucket
	if len(bc.Empty)+len(bc.Unfinished) == 0 {
		return nil
	}
	if err := r.deleteVersions(bc.Unfinished, func(o planner.ObjectRef) error {
		return r.m.CancelLargeFile(r.work, o.ID, o.Name)
	}); err != nil {
		return fmt.Errorf("force_destroy: %w", err)
	}
	if err := r.deleteVersions(bc.Empty, nil); err != nil {
		return fmt.Errorf("force_destroy: %w", err)
	}
	return nil
}

// deleteVersions deletes objs (with del, default DeleteVersion) up to Parallelism at once.
// It returns nil when all are gone, or an error naming the first few that are not.
func (r *run) deleteVersions(objs []planner.ObjectRef, del func(planner.ObjectRef) error) error {
	if del == nil {
		del = func(o planner.ObjectRef) error { return r.m.DeleteVersion(r.work, o.Name, o.ID, false) }
	}
	var (
		mu     sync.Mutex
		failed []string
		locked []string
		n      int
		wg     sync.WaitGroup
	)
	sem := make(chan struct{}, r.opts.Parallelism)
	for i, o := range objs {
		if r.stopped() {
			mu.Lock()
			n += len(objs) - i
			mu.Unlock()
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			defer r.catchPanic()
			err := del(o)
			if err == nil || errors.Is(err, b2client.NotFound) {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			n++
			what := fmt.Sprintf("%s (%s): %v", o.Name, o.ID, err)
			if errors.Is(err, b2client.Locked) {
				locked = append(locked, fmt.Sprintf("%s (%s)", o.Name, o.ID))
			} else {
				failed = append(failed, what)
			}
		}()
	}
	wg.Wait()
	if n == 0 {
		return nil
	}
	if len(locked) > 0 {
		return fmt.Errorf("%d of %d versions were not deleted; under Object Lock (retention or legal hold): %s%s",
			n, len(objs), strings.Join(locked[:min(len(locked), 5)], ", "), moreText(len(locked), 5))
	}
	if len(failed) == 0 {
		return fmt.Errorf("%d of %d versions were not deleted: the apply was stopped", n, len(objs))
	}
	return fmt.Errorf("%d of %d versions were not deleted: %s%s", n, len(objs),
		strings.Join(failed[:min(len(failed), 5)], "; "), moreText(len(failed), 5))
}

func moreText(total, shown int) string {
	if total > shown {
		return fmt.Sprintf(" and %d more", total-shown)
	}
	return ""
}
