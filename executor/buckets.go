package executor

import (
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/b2plan/b2plan/b2client"
	"github.com/b2plan/b2plan/config"
	"github.com/b2plan/b2plan/live"
	"github.com/b2plan/b2plan/planner"
)

// resolveInfo returns the desired bucket info with every deferred value that
// can be resolved now substituted, and whether some are still unknown.
func (r *run) resolveInfo(bc *planner.BucketChange) (map[string]string, bool) {
	info := maps.Clone(bc.Desired.Info)
	pending := false
	if len(bc.Deferred) == 0 {
		return info, false
	}
	ids := r.idsSnapshot()
	for _, dv := range bc.Deferred {
		k, ok := infoKey(dv.Path)
		if !ok {
			continue
		}
		v, err := config.Deferred{Path: dv.Path, Template: dv.Template, Refs: dv.Refs}.Resolve(ids)
		if err != nil {
			pending = true
			delete(info, k)
			continue
		}
		if info == nil {
			info = map[string]string{}
		}
		info[k] = v
	}
	return info, pending
}

func infoKey(p string) (string, bool) {
	if !strings.HasPrefix(p, "info[") || !strings.HasSuffix(p, "]") {
		return "", false
	}
	return strings.ToLower(strings.Trim(p[len("info["):len(p)-1], `"`)), true
}

func bucketName(ch *planner.Change) string {
	if ch.Bucket != nil && ch.Bucket.Desired != nil {
		return ch.Bucket.Desired.Name
	}
	if ch.Bucket != nil && ch.Bucket.Name != "" {
		return ch.Bucket.Name
	}
	return ch.Name
}

// applyBucket creates or updates one bucket.
func (r *run) applyBucket(ch *planner.Change) error {
	bc := ch.Bucket
	if bc == nil || bc.Desired == nil {
		return errors.New("plan has no bucket data for this change")
	}
	name := bucketName(ch)
	r.emit(Event{Kind: ResourceStart, Address: ch.Address, Action: ch.Action})
	err := r.applyBucket1(ch, name)
	if err != nil {
		r.mu.Lock()
		r.failed[strings.ToLower(name)] = true
		r.mu.Unlock()
		return err
	}
	if len(bc.Deferred) == 0 {
		r.count(ch.Action)
		r.emit(Event{Kind: ResourceDone, Address: ch.Address, Action: ch.Action})
	}
	return nil
}

func (r *run) applyBucket1(ch *planner.Change, name string) error {
	bc := ch.Bucket
	d := bc.Desired
	info, _ := r.resolveInfo(bc)
	if ch.Action == planner.Create {
		spec := b2client.BucketSpec{
			Name: name, Type: d.Type, Info: info, LifecycleRules: d.LifecycleRules, CORSRules: d.CORSRules,
			Encryption: d.Encryption.Mode, ObjectLock: d.ObjectLock.Enabled, DefaultRetention: d.ObjectLock.DefaultRetention,
		}
		b, err := r.m.CreateBucket(r.work, spec)
		if err != nil {
			return err
		}
		r.mu.Lock()
		r.ids[ch.Address] = b.ID
		r.bucketID[strings.ToLower(name)] = b.ID
		r.mu.Unlock()
		return r.applyNotify(bc, b.ID, name)
	}
	if onlyNotify(bc) {
		return r.applyNotify(bc, bc.ID, name)
	}
	// Update, guarded by the revision the plan was made from.
	u := b2client.BucketUpdate{}
	if bc.SetType {
		u.Type = d.Type
	}
	if bc.SetInfo {
		u.Info, u.SetInfo = info, true
	}
	if bc.SetLifecycleRules {
		u.LifecycleRules, u.SetLifecycleRules = d.LifecycleRules, true
	}
	if bc.SetCORSRules {
		u.CORSRules, u.SetCORSRules = d.CORSRules, true
	}
	if bc.SetEncryption {
		u.Encryption = d.Encryption.Mode
		if u.Encryption == "" {
			u.Encryption = "none"
		}
	}
	u.EnableObjectLock = bc.EnableObjectLock
	var retention *live.Retention
	if bc.SetDefaultRetention {
		rt := d.ObjectLock.DefaultRetention
		retention = &rt
	}
	if !bc.EnableObjectLock {
		u.DefaultRetention = retention
		retention = nil
	}
	b, err := r.update(ch, name, u, bc.Revision)
	if err != nil {
		return err
	}
	if retention != nil {
		// Object Lock must be on before a default retention is accepted.
		if _, err := r.update(ch, name, b2client.BucketUpdate{DefaultRetention: retention}, b.Revision); err != nil {
			return fmt.Errorf("set default retention: %w", err)
		}
	}
	return r.applyNotify(bc, b.ID, name)
}

// update calls UpdateBucket with ifRevisionIs = rev (when known); a conflict
// re-reads the bucket and reports, it never overwrites another change.
func (r *run) update(ch *planner.Change, name string, u b2client.BucketUpdate, rev int64) (live.Bucket, error) {
	id := ""
	if ch.Bucket.ID != "" {
		id = ch.Bucket.ID
	} else if v, ok := r.lookupBucket(name); ok {
		id = v
	}
	var ifRev *int64
	if rev > 0 {
		ifRev = &rev
	}
	b, err := r.m.UpdateBucket(r.work, id, name, u, ifRev)
	if err != nil && errors.Is(err, b2client.Conflict) {
		now, rerr := r.m.Bucket(r.work, name)
		switch {
		case rerr != nil:
			return b, fmt.Errorf("bucket %q changed since the plan (revision %d) and could not be re-read (%v): not updated; re-run plan", name, rev, rerr)
		case now == nil:
			return b, fmt.Errorf("bucket %q was deleted since the plan: not updated; re-run plan", name)
		default:
			return b, fmt.Errorf("bucket %q changed since the plan (revision %d, now %d): someone else's change was not overwritten; re-run plan", name, rev, now.Revision)
		}
	}
	return b, err
}

// bucketDeferredInfo sets the info values that needed ids known only after
// the bucket (or a key) was created.
func (r *run) bucketDeferredInfo(ch *planner.Change) error {
	bc := ch.Bucket
	if bc == nil || len(bc.Deferred) == 0 || bc.Desired == nil {
		return nil
	}
	name := bucketName(ch)
	if r.bucketFailed(name) {
		return nil // already reported
	}
	info, pending := r.resolveInfo(bc)
	if pending {
		r.mu.Lock()
		r.failed[strings.ToLower(name)] = true
		r.mu.Unlock()
		return fmt.Errorf("bucket %q: info values refer to ids that were not created", name)
	}
	b, err := r.m.Bucket(r.work, name)
	if err != nil {
		return err
	}
	if b == nil {
		return fmt.Errorf("bucket %q not found after creating it", name)
	}
	if _, err := r.update(ch, name, b2client.BucketUpdate{Info: info, SetInfo: true}, b.Revision); err != nil {
		return err
	}
	r.count(ch.Action)
	r.emit(Event{Kind: ResourceDone, Address: ch.Address, Action: ch.Action})
	return nil
}

func (r *run) deleteBucket(ch *planner.Change) error {
	if ch.Bucket == nil || ch.Bucket.ID == "" {
		return errors.New("plan has no bucket id for this delete")
	}
	r.emit(Event{Kind: ResourceStart, Address: ch.Address, Action: ch.Action})
	if err := r.emptyBucket(ch); err != nil { // force_destroy (destroy.go)
		return err
	}
	if err := r.m.DeleteBucket(r.work, ch.Bucket.ID, bucketName(ch)); err != nil {
		return err
	}
	r.count(planner.Delete)
	r.emit(Event{Kind: ResourceDone, Address: ch.Address, Action: ch.Action})
	return nil
}

func (r *run) createFolder(ch *planner.Change) error {
	f := ch.Folder
	if f == nil {
		return errors.New("plan has no folder data for this change")
	}
	if r.bucketFailed(f.Bucket) {
		return fmt.Errorf("not created: bucket %q failed", f.Bucket)
	}
	r.emit(Event{Kind: ResourceStart, Address: ch.Address, Action: ch.Action})
	if _, err := r.m.UploadEmpty(r.work, f.Bucket, f.Placeholder); err != nil {
		return err
	}
	r.count(planner.Create)
	r.emit(Event{Kind: ResourceDone, Address: ch.Address, Action: ch.Action})
	return nil
}
