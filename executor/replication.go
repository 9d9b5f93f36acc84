package executor

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/b2plan/b2plan/b2client"
	"github.com/b2plan/b2plan/live"
	"github.com/b2plan/b2plan/planner"
)

// Replication (planner/plan_replication.go) is applied once the buckets and keys of the plan
// are (before folders, objects, moves and deletions; with several accounts, between every
// account's buckets and keys and the rest, command/accounts.go): the keys replication uses are
// created, then each bucket's whole
// replicationConfiguration is written (in planner.ReplicationWrite.Order), then the keys nothing
// uses any more are deleted — only when every configuration was written, so that no
// configuration is left naming a deleted key.

// replicationMutator writes a bucket's replication configuration (b2client.Mutator).
type replicationMutator interface {
	SetReplication(ctx context.Context, bucketID, name string, r live.Replication) (live.Bucket, error)
}

// mutator returns the mutator of a provider's account ("" = the one Apply was given).
func (r *run) mutator(provider string) (Mutator, error) {
	if provider == "" {
		return r.m, nil
	}
	if m, ok := r.opts.Accounts[provider]; ok {
		return m, nil
	}
	return nil, fmt.Errorf("no connection to the account of provider b2.%s", provider)
}

// replicate applies the replication changes and writes of the plan.
func (r *run) replicate() {
	var keysC, keysD, rules []*planner.Change
	for _, ch := range r.p.Changes {
		switch {
		case ch.Type == planner.ReplicationKeyType && (ch.Action == planner.Create || ch.Action == planner.Replace):
			keysC = append(keysC, ch)
			if ch.Action == planner.Replace {
				keysD = append(keysD, ch)
			}
		case ch.Type == planner.ReplicationKeyType && ch.Action == planner.Delete:
			keysD = append(keysD, ch)
		case ch.Type == planner.ReplicationType && ch.Action != planner.NoOp:
			rules = append(rules, ch)
		}
	}
	if len(keysC)+len(keysD)+len(rules)+len(r.p.Replication) == 0 {
		return
	}
	r.phase(keysC, r.createReplKey)
	if r.stopped() {
		r.leave(int64(len(rules) + len(keysD)))
		return
	}
	for _, ch := range rules {
		r.emit(Event{Kind: ResourceStart, Address: ch.Address, Action: ch.Action})
	}
	writes := append([]*planner.ReplicationWrite(nil), r.p.Replication...)
	// New mapping entries before the sources that use them, removed ones after (Order).
	sort.SliceStable(writes, func(i, j int) bool { return writes[i].Order < writes[j].Order })
	failed := map[string]error{}
	allWritten := true
	for _, w := range writes {
		if err := r.writeReplication(w); err != nil {
			allWritten = false
			for _, a := range w.Addresses {
				if failed[a] == nil {
					failed[a] = err
				}
			}
			if len(w.Addresses) == 0 {
				r.fail("replication", "", err)
			}
		}
	}
	for _, ch := range rules {
		if err := failed[ch.Address]; err != nil {
			r.fail(ch.Address, "", err)
			r.emit(Event{Kind: ResourceFailed, Address: ch.Address, Action: ch.Action, Err: err})
			continue
		}
		r.count(ch.Action)
		r.emit(Event{Kind: ResourceDone, Address: ch.Address, Action: ch.Action})
	}
	if !allWritten {
		for _, ch := range keysD {
			r.fail(ch.Address, "", errors.New("not deleted: a replication configuration that may still use it was not written"))
		}
		return
	}
	r.phase(keysD, r.deleteReplKey)
}

// createReplKey creates a key replication uses. Its secret is dropped at once: B2 needs only
// the id. When the reply is lost, a key of that name that the plan did not know is adopted.
func (r *run) createReplKey(ch *planner.Change) error {
	kc := ch.Key
	if kc == nil {
		return errors.New("plan has no key data for this change")
	}
	m, err := r.mutator(ch.Provider)
	if err != nil {
		return err
	}
	phase := r.keyCreateStart(ch)
	spec := b2client.KeySpec{Name: kc.Name, Capabilities: kc.Capabilities}
	if len(kc.BucketIDs) == len(kc.BucketNames) {
		spec.BucketIDs = kc.BucketIDs
	} else {
		for _, bn := range kc.BucketNames {
			b, err := m.Bucket(r.work, bn)
			if err != nil {
				return fmt.Errorf("not created: read bucket %q: %w", bn, err)
			}
			if b == nil {
				return fmt.Errorf("not created: bucket %q does not exist", bn)
			}
			spec.BucketIDs = append(spec.BucketIDs, b.ID)
		}
	}
	var id string
	for attempt := 1; ; attempt++ {
		ck, err := m.CreateKey(r.work, spec)
		if err == nil {
			id = ck.Key.ID
			break
		}
		if !errors.Is(err, b2client.Ambiguous) || attempt >= maxKeyCreateAttempts {
			return err
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.work), lostKeyCleanup)
		ks, lerr := r.lostKeys(ctx, m, ch)
		cancel()
		if lerr != nil {
			return fmt.Errorf("%w (%v)", err, lerr)
		}
		for _, k := range ks {
			id = k.ID // created by the lost attempt; its secret is not needed
		}
		if id != "" {
			break
		}
	}
	r.keyCreated(ch, phase, id, "", "key id "+id+"; its secret is not kept: replication needs only the id")
	return nil
}

// deleteReplKey deletes a key replication no longer uses (or the old half of a replacement,
// once the new key exists).
func (r *run) deleteReplKey(ch *planner.Change) error {
	kc := ch.Key
	phase, skip, err := r.keyDeleteStart(ch)
	if err != nil || skip {
		return err
	}
	m, err := r.mutator(ch.Provider)
	if err != nil {
		return err
	}
	r.emit(Event{Kind: ResourceStart, Address: ch.Address, Action: ch.Action, Phase: phase})
	if err := m.DeleteKey(r.work, kc.OldID, kc.Name); err != nil {
		return err
	}
	r.count(ch.Action)
	r.emit(Event{Kind: ResourceDone, Address: ch.Address, Action: ch.Action, Phase: phase})
	return nil
}

// writeReplication writes one bucket's whole replication configuration, with the key and
// bucket ids known only now.
func (r *run) writeReplication(w *planner.ReplicationWrite) error {
	m, err := r.mutator(w.Provider)
	if err != nil {
		return err
	}
	rm, ok := m.(replicationMutator)
	if !ok {
		return fmt.Errorf("bucket %q: this connection cannot set replication", w.Bucket)
	}
	if r.stopped() {
		return errors.New("not written: apply was interrupted")
	}
	b, err := m.Bucket(r.work, w.Bucket)
	if err != nil {
		return fmt.Errorf("read bucket %q: %w", w.Bucket, err)
	}
	if b == nil {
		return fmt.Errorf("bucket %q does not exist", w.Bucket)
	}
	key := func(k planner.KeyRef) (string, error) {
		if k.ID != "" {
			return k.ID, nil
		}
		r.mu.Lock()
		id := r.ids[k.Address]
		r.mu.Unlock()
		if id == "" {
			return "", fmt.Errorf("bucket %q not changed: %s was not created", w.Bucket, k.Address)
		}
		return id, nil
	}
	var cfg live.Replication
	if w.SourceKey != nil {
		if cfg.SourceKeyID, err = key(*w.SourceKey); err != nil {
			return err
		}
		for _, rule := range w.Rules {
			lr := rule.ReplicationRule
			if lr.DestinationBucketID == "" {
				dm, err := r.mutator(rule.DestinationProvider)
				if err != nil {
					return err
				}
				db, err := dm.Bucket(r.work, rule.DestinationBucket)
				if err != nil {
					return fmt.Errorf("read destination bucket %q: %w", rule.DestinationBucket, err)
				}
				if db == nil {
					return fmt.Errorf("bucket %q not changed: its destination bucket %q does not exist", w.Bucket, rule.DestinationBucket)
				}
				lr.DestinationBucketID = db.ID
			}
			cfg.Rules = append(cfg.Rules, lr)
		}
	}
	for _, mp := range w.Mapping {
		s, err := key(mp.Source)
		if err != nil {
			return err
		}
		d, err := key(mp.Destination)
		if err != nil {
			return err
		}
		if cfg.Mapping == nil {
			cfg.Mapping = map[string]string{}
		}
		cfg.Mapping[s] = d
	}
	if _, err := rm.SetReplication(r.work, b.ID, b.Name, cfg); err != nil {
		return fmt.Errorf("set the replication of bucket %q: %w", b.Name, err)
	}
	what := []string{}
	if cfg.SourceKeyID != "" {
		what = append(what, fmt.Sprintf("%d rules", len(cfg.Rules)))
	}
	if len(cfg.Mapping) > 0 {
		what = append(what, fmt.Sprintf("%d key mappings", len(cfg.Mapping)))
	}
	if len(what) == 0 {
		what = append(what, "no replication")
	}
	r.emit(Event{Kind: Note, Address: "replication", Message: fmt.Sprintf("bucket %q: replication set (%s)", b.Name, strings.Join(what, ", "))})
	return nil
}
