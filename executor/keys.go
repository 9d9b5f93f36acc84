package executor

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/b2plan/b2plan/b2client"
	"github.com/b2plan/b2plan/config"
	"github.com/b2plan/b2plan/planner"
	"github.com/b2plan/b2plan/secretfile"
)

// maxKeyCreateAttempts bounds create attempts after ambiguous failures.
const maxKeyCreateAttempts = 3

// lostKeyCleanup bounds the removal of a key whose creation was cancelled.
const lostKeyCleanup = 15 * time.Second

// removeLostKeys deletes every key named like ch's that the plan did not
// know: keys created by an attempt whose reply was lost (their secrets are
// lost with it). The keys the plan replaces or deletes are left to their
// own changes.
func (r *run) removeLostKeys(ctx context.Context, ch *planner.Change) error {
	kc := ch.Key
	keys, err := r.m.KeysNamed(ctx, kc.Name)
	if err != nil {
		return fmt.Errorf("listing keys named %q to remove one whose reply was lost failed: %v", kc.Name, err)
	}
	for _, k := range keys {
		if r.plannedKeys[k.ID] {
			continue
		}
		if err := r.m.DeleteKey(ctx, k.ID, k.Name); err != nil {
			return fmt.Errorf("deleting key %s, created by an attempt whose reply was lost, failed: %v", k.ID, err)
		}
		r.emit(Event{Kind: Note, Address: ch.Address, Message: fmt.Sprintf("deleted key %s created by an attempt whose reply was lost", k.ID)})
	}
	return nil
}

// createKey creates a key (or the new half of a replacement) and writes its
// secret file before anything else happens to it.
func (r *run) createKey(ch *planner.Change) error {
	kc := ch.Key
	if kc == nil {
		return errors.New("plan has no key data for this change")
	}
	if kc.SecretFile == "" {
		return errors.New("no secret_file: refusing to create a key whose secret would be lost")
	}
	spec := b2client.KeySpec{Name: kc.Name, Capabilities: kc.Capabilities, NamePrefix: kc.NamePrefix, Duration: kc.Duration}
	for _, bn := range kc.BucketNames {
		if r.bucketFailed(bn) {
			return fmt.Errorf("not created: bucket %q failed", bn)
		}
		id, ok := r.lookupBucket(bn)
		if !ok {
			return fmt.Errorf("not created: the id of bucket %q is unknown", bn)
		}
		spec.BucketIDs = append(spec.BucketIDs, id)
	}
	sort.Strings(spec.BucketIDs)
	if len(kc.Deferred) > 0 {
		ids := r.idsSnapshot()
		for _, dv := range kc.Deferred {
			v, err := config.Deferred{Path: dv.Path, Template: dv.Template, Refs: dv.Refs}.Resolve(ids)
			if err != nil {
				return fmt.Errorf("not created: %v", err)
			}
			if dv.Path == "name_prefix" {
				spec.NamePrefix = v
			}
		}
	}
	phase := ""
	if ch.Action == planner.Replace {
		phase = "create"
	}
	r.emit(Event{Kind: ResourceStart, Address: ch.Address, Action: ch.Action, Phase: phase})

	var ck b2client.CreatedKey
	var err error
	for attempt := 1; ; attempt++ {
		ck, err = r.m.CreateKey(r.work, spec)
		if err == nil {
			break
		}
		if r.work.Err() != nil {
			// Cancelled after an interrupt: B2 may have created the key
			// anyway, and its secret is lost. Remove such a key within a
			// bounded time, so that no key without a secret outlives the run.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(r.work), lostKeyCleanup)
			defer cancel()
			if cerr := r.removeLostKeys(ctx, ch); cerr != nil {
				return fmt.Errorf("%w (%v)", err, cerr)
			}
			return err
		}
		if !errors.Is(err, b2client.Ambiguous) || attempt >= maxKeyCreateAttempts {
			return err
		}
		// The key may exist, but its secret is lost: remove it, then try again.
		if cerr := r.removeLostKeys(r.work, ch); cerr != nil {
			return fmt.Errorf("%w (%v)", err, cerr)
		}
	}
	if werr := secretfile.Write(kc.SecretFile, ck.Key.ID, ck.Secret.Reveal()); werr != nil {
		// Without its secret the new key is useless: remove it, keep the old.
		if derr := r.m.DeleteKey(r.work, ck.Key.ID, kc.Name); derr != nil {
			return fmt.Errorf("%w; the new key %s could not be deleted either: %v", werr, ck.Key.ID, derr)
		}
		return werr
	}
	r.mu.Lock()
	r.ids[ch.Address] = ck.Key.ID
	r.newKeys[ch.Address] = true
	r.res.SecretFiles = append(r.res.SecretFiles, kc.SecretFile)
	r.mu.Unlock()
	if ch.Action == planner.Create {
		r.count(planner.Create)
	}
	r.emit(Event{Kind: ResourceDone, Address: ch.Address, Action: ch.Action, Phase: phase,
		Message: "key id " + ck.Key.ID + ", secret written to " + kc.SecretFile})
	return nil
}

// deleteKey deletes an unmanaged key (prune) or the old half of a
// replacement, the latter only once the new key and its secret file exist.
func (r *run) deleteKey(ch *planner.Change) error {
	kc := ch.Key
	if kc == nil || kc.OldID == "" {
		return errors.New("plan has no key id for this delete")
	}
	phase := ""
	if ch.Action == planner.Replace {
		r.mu.Lock()
		ok := r.newKeys[ch.Address]
		r.mu.Unlock()
		if !ok {
			return nil // the create half failed and was reported; keep the old key
		}
		phase = "delete"
	}
	r.emit(Event{Kind: ResourceStart, Address: ch.Address, Action: ch.Action, Phase: phase})
	if err := r.m.DeleteKey(r.work, kc.OldID, kc.Name); err != nil {
		if ch.Action == planner.Replace {
			return fmt.Errorf("the new key was created and its secret written, but deleting the old key %s failed: %w", kc.OldID, err)
		}
		return err
	}
	r.count(ch.Action)
	r.emit(Event{Kind: ResourceDone, Address: ch.Address, Action: ch.Action, Phase: phase})
	return nil
}
