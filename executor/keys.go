package executor

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/b2plan/b2plan/b2client"
	"github.com/b2plan/b2plan/config"
	"github.com/b2plan/b2plan/live"
	"github.com/b2plan/b2plan/planner"
	"github.com/b2plan/b2plan/secretfile"
)

// maxKeyCreateAttempts bounds create attempts after ambiguous failures.
const maxKeyCreateAttempts = 3

// lostKeyCleanup bounds the removal of a key whose creation was cancelled.
const lostKeyCleanup = 15 * time.Second

// lostKeys lists the keys named like ch's that the plan did not know: keys created by an
// attempt whose reply was lost. The keys the plan replaces or deletes are left to their own
// changes. One rule for createKey (which removes them: their secrets are lost) and
// createReplKey (which adopts one: replication needs only the id).
func (r *run) lostKeys(ctx context.Context, m Mutator, ch *planner.Change) ([]live.Key, error) {
	kc := ch.Key
	keys, err := m.KeysNamed(ctx, kc.Name)
	if err != nil {
		return nil, fmt.Errorf("listing keys named %q to find one whose reply was lost failed: %v", kc.Name, err)
	}
	var lost []live.Key
	for _, k := range keys {
		if k.ID != kc.OldID && !r.plannedKeys[k.ID] {
			lost = append(lost, k)
		}
	}
	return lost, nil
}

// keyCreateStart reports the start of ch's key creation; its phase is "create" for the new
// half of a replacement.
func (r *run) keyCreateStart(ch *planner.Change) (phase string) {
	if ch.Action == planner.Replace {
		phase = "create"
	}
	r.emit(Event{Kind: ResourceStart, Address: ch.Address, Action: ch.Action, Phase: phase})
	return phase
}

// keyCreated records id as ch's new key (the delete half of a replacement waits for it) and
// reports it with message.
func (r *run) keyCreated(ch *planner.Change, phase, id, secretFile, message string) {
	r.mu.Lock()
	r.ids[ch.Address] = id
	r.newKeys[ch.Address] = true
	if secretFile != "" {
		r.res.SecretFiles = append(r.res.SecretFiles, secretFile)
	}
	r.mu.Unlock()
	if ch.Action == planner.Create {
		r.count(planner.Create)
	}
	r.emit(Event{Kind: ResourceDone, Address: ch.Address, Action: ch.Action, Phase: phase, Message: message})
}

// keyDeleteStart checks the delete of ch's old key: skip when it is the delete half of a
// replacement whose create half failed (reported already; the old key is kept).
func (r *run) keyDeleteStart(ch *planner.Change) (phase string, skip bool, err error) {
	if ch.Key == nil || ch.Key.OldID == "" {
		return "", false, errors.New("plan has no key id for this delete")
	}
	if ch.Action == planner.Replace {
		r.mu.Lock()
		ok := r.newKeys[ch.Address]
		r.mu.Unlock()
		if !ok {
			return "", true, nil
		}
		phase = "delete"
	}
	return phase, false, nil
}

// removeLostKeys deletes the keys lostKeys finds (their secrets are lost).
func (r *run) removeLostKeys(ctx context.Context, ch *planner.Change) error {
	keys, err := r.lostKeys(ctx, r.m, ch)
	if err != nil {
		return err
	}
	for _, k := range keys {
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
	phase := r.keyCreateStart(ch)

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
	r.keyCreated(ch, phase, ck.Key.ID, kc.SecretFile, "key id "+ck.Key.ID+", secret written to "+kc.SecretFile)
	return nil
}

// deleteKey deletes an unmanaged key (prune) or the old half of a
// replacement, the latter only once the new key and its secret file exist.
func (r *run) deleteKey(ch *planner.Change) error {
	kc := ch.Key
	phase, skip, err := r.keyDeleteStart(ch)
	if err != nil || skip {
		return err
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
