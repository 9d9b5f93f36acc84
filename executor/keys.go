package executor

import (
	"errors"
	"fmt"
	"sort"

	"github.com/b2plan/b2plan/b2client"
	"github.com/b2plan/b2plan/config"
	"github.com/b2plan/b2plan/planner"
	"github.com/b2plan/b2plan/secretfile"
)

// maxKeyCreateAttempts bounds create attempts after ambiguous failures.
const maxKeyCreateAttempts = 3

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
		if !errors.Is(err, b2client.Ambiguous) || attempt >= maxKeyCreateAttempts {
			return err
		}
		// The key may exist, but its secret is lost: delete every key of
		// that name except the one being replaced, then try again.
		keys, lerr := r.m.KeysNamed(r.work, kc.Name)
		if lerr != nil {
			return fmt.Errorf("%w (and listing keys named %q to check failed: %v)", err, kc.Name, lerr)
		}
		for _, k := range keys {
			if k.ID == kc.OldID {
				continue
			}
			if derr := r.m.DeleteKey(r.work, k.ID, k.Name); derr != nil {
				return fmt.Errorf("%w (and deleting the duplicate key %s failed: %v)", err, k.ID, derr)
			}
			r.emit(Event{Kind: Note, Address: ch.Address, Message: fmt.Sprintf("deleted key %s created by an attempt whose reply was lost", k.ID)})
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
