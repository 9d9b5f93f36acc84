package emulator

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"
)

// replRetry is the wait before replicating again a version whose
// replication could not be committed.
const replRetry = time.Second

// Replication. A bucket's replicationConfiguration makes it a source
// (asReplicationSource: a key to read with and rules naming destination
// buckets) and/or a destination (asReplicationDestination: which of its
// own keys writes on behalf of each source key). A new version (upload,
// copy, finished large file) under an enabled rule's prefix is marked
// "pending" in the transaction that creates it; once committed, a
// background worker copies it — same name, content (shared, not
// duplicated), content type, info, digests and upload timestamp — into the
// destination bucket as a "replica" and marks the source "completed", both
// in one transaction; when the source key, the destination bucket or its
// key mapping does not allow it, the source is marked "failed". The
// destination bucket is looked up by id across the whole store, so it may
// belong to another account. Pending versions survive a restart and are
// replicated after it. includeExistingFiles marks the versions that exist
// when the rule is set (and were never replicated) pending too. Hide
// markers and deletions are not replicated, and replicas are not
// replicated again.

// replication status of a version
const (
	replNone uint8 = iota
	replPending
	replCompleted
	replFailed
	replReplica
)

var replStrings = [...]string{"", "pending", "completed", "failed", "replica"}

const maxReplRules = 10

type replRule struct {
	DestinationBucketID  string `json:"destinationBucketId"`
	FileNamePrefix       string `json:"fileNamePrefix"`
	IncludeExistingFiles bool   `json:"includeExistingFiles"`
	IsEnabled            bool   `json:"isEnabled"`
	Priority             int    `json:"priority"`
	ReplicationRuleName  string `json:"replicationRuleName"`
}

type replSource struct {
	ReplicationRules       []replRule `json:"replicationRules"`
	SourceApplicationKeyID string     `json:"sourceApplicationKeyId"`
}

type replDest struct {
	SourceToDestinationKeyMapping map[string]string `json:"sourceToDestinationKeyMapping"`
}

// replConfig is a bucket's replicationConfiguration; nil parts are absent.
// It is replaced wholesale, never modified in place.
type replConfig struct {
	AsReplicationSource      *replSource `json:"asReplicationSource,omitempty"`
	AsReplicationDestination *replDest   `json:"asReplicationDestination,omitempty"`
}

// parseReplication reads replicationConfiguration ({} or null parts clear
// it) and checks what needs no state; checkReplication checks the rest.
func parseReplication(raw json.RawMessage) (*replConfig, error) {
	var req struct {
		Src *struct {
			Rules []struct {
				Dest     *string `json:"destinationBucketId"`
				Prefix   *string `json:"fileNamePrefix"`
				Existing *bool   `json:"includeExistingFiles"`
				Enabled  *bool   `json:"isEnabled"`
				Priority *int    `json:"priority"`
				Name     *string `json:"replicationRuleName"`
			} `json:"replicationRules"`
			KeyID *string `json:"sourceApplicationKeyId"`
		} `json:"asReplicationSource"`
		Dst *struct {
			Mapping map[string]string `json:"sourceToDestinationKeyMapping"`
		} `json:"asReplicationDestination"`
	}
	if err := strictJSON(raw, &req); err != nil {
		return nil, errBadJSON("field replicationConfiguration: " + err.Error())
	}
	cfg := &replConfig{}
	if s := req.Src; s != nil {
		if s.KeyID == nil || *s.KeyID == "" {
			return nil, errBadRequest("asReplicationSource needs sourceApplicationKeyId, the key replication reads with")
		}
		if len(s.Rules) == 0 || len(s.Rules) > maxReplRules {
			return nil, errBadRequest(fmt.Sprintf("asReplicationSource needs 1 to %d replicationRules", maxReplRules))
		}
		src := &replSource{SourceApplicationKeyID: *s.KeyID}
		seen := map[string]bool{}
		for i, q := range s.Rules {
			at := fmt.Sprintf("replicationRules[%d]", i)
			switch {
			case q.Name == nil:
				return nil, errBadRequest(at + ": required field replicationRuleName is missing")
			case q.Dest == nil:
				return nil, errBadRequest(at + ": required field destinationBucketId is missing")
			case q.Priority == nil:
				return nil, errBadRequest(at + ": required field priority is missing")
			case q.Enabled == nil:
				return nil, errBadRequest(at + ": required field isEnabled is missing")
			}
			if err := validReplRuleName(*q.Name); err != nil {
				return nil, errBadRequest(at + ": " + err.Error())
			}
			if seen[*q.Name] {
				return nil, errBadRequest(fmt.Sprintf("%s: rule name %q is used twice", at, *q.Name))
			}
			seen[*q.Name] = true
			if *q.Priority < 1 || *q.Priority > 2147483647 {
				return nil, errBadRequest(fmt.Sprintf("%s: priority %d must be between 1 and 2147483647", at, *q.Priority))
			}
			r := replRule{DestinationBucketID: *q.Dest, IsEnabled: *q.Enabled, Priority: *q.Priority, ReplicationRuleName: *q.Name}
			if q.Prefix != nil {
				r.FileNamePrefix = *q.Prefix
			}
			if q.Existing != nil {
				r.IncludeExistingFiles = *q.Existing
			}
			src.ReplicationRules = append(src.ReplicationRules, r)
		}
		cfg.AsReplicationSource = src
	}
	if d := req.Dst; d != nil && len(d.Mapping) > 0 {
		cfg.AsReplicationDestination = &replDest{SourceToDestinationKeyMapping: d.Mapping}
	}
	if cfg.AsReplicationSource == nil && cfg.AsReplicationDestination == nil {
		return nil, nil // {}: no replication
	}
	return cfg, nil
}

func strictJSON(raw json.RawMessage, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func validReplRuleName(n string) error {
	if len(n) < 1 || len(n) > 64 {
		return fmt.Errorf("replicationRuleName %q must be 1 to 64 characters long", n)
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_') {
			return fmt.Errorf("replicationRuleName %q may contain only letters, digits, '-' and '_'", n)
		}
	}
	return nil
}

// checkReplication validates cfg for bucket b against the state (store.mu
// held): the source key exists, may read files of b (readFiles, b in its
// buckets); every destination bucket exists and is not b; every
// destination key exists and may write files of b (writeFiles).
func (st *store) checkReplication(b *bucket, cfg *replConfig) error {
	if cfg == nil {
		return nil
	}
	if s := cfg.AsReplicationSource; s != nil {
		k := st.keys[s.SourceApplicationKeyID]
		if k == nil || k.Account != b.Account {
			return errBadRequest(fmt.Sprintf("sourceApplicationKeyId %s is not a key of this account", s.SourceApplicationKeyID))
		}
		if err := st.keyMayUse(k, b.ID, "readFiles"); err != nil {
			return errBadRequest("sourceApplicationKeyId: " + err.Error())
		}
		for _, r := range s.ReplicationRules {
			if r.DestinationBucketID == b.ID {
				return errBadRequest(fmt.Sprintf("replication rule %q: a bucket cannot replicate to itself", r.ReplicationRuleName))
			}
			if st.buckets[r.DestinationBucketID] == nil {
				return errBadRequest(fmt.Sprintf("replication rule %q: destination bucket %s does not exist", r.ReplicationRuleName, r.DestinationBucketID))
			}
		}
	}
	if d := cfg.AsReplicationDestination; d != nil {
		for src, dst := range d.SourceToDestinationKeyMapping {
			k := st.keys[dst]
			if k == nil || k.Account != b.Account {
				return errBadRequest(fmt.Sprintf("sourceToDestinationKeyMapping: %s maps to %s, which is not a key of this account", src, dst))
			}
			if err := st.keyMayUse(k, b.ID, "writeFiles"); err != nil {
				return errBadRequest("sourceToDestinationKeyMapping: " + err.Error())
			}
		}
	}
	return nil
}

// replLockConflict refuses enabling Object Lock on a bucket that is (or
// becomes) a replication source, as B2 does.
func replLockConflict(b *bucket, bs *bucketSettings) error {
	cfg := b.ext.repl
	if bs.hasRepl {
		cfg = bs.repl
	}
	if bs.lock != nil && *bs.lock && !b.Lock && cfg != nil && cfg.AsReplicationSource != nil {
		return errCode(400, "source_replication_conflict", "Object Lock cannot be enabled on a bucket that is a replication source")
	}
	return nil
}

// keyMayUse tells whether key k may use capability c on bucket id now
// (store.mu held): not expired, has c, allowed on the bucket.
func (st *store) keyMayUse(k *appKey, id, c string) error {
	if k.Expires != 0 && st.nowMs() >= k.Expires {
		return fmt.Errorf("key %s has expired", k.ID)
	}
	if !k.has(c) {
		return fmt.Errorf("key %s lacks the %s capability", k.ID, c)
	}
	if k.BucketIDs != nil {
		ok := false
		for _, b := range k.BucketIDs {
			ok = ok || b == id
		}
		if !ok {
			return fmt.Errorf("key %s is restricted to other buckets", k.ID)
		}
	}
	return nil
}

// replRuleFor is the enabled source rule of b covering name with the
// highest priority (nil when none).
func replRuleFor(b *bucket, name string) *replRule {
	src := b.ext.repl
	if src == nil || src.AsReplicationSource == nil {
		return nil
	}
	var best *replRule
	for i := range src.AsReplicationSource.ReplicationRules {
		r := &src.AsReplicationSource.ReplicationRules[i]
		if r.IsEnabled && strings.HasPrefix(name, r.FileNamePrefix) && (best == nil || r.Priority > best.Priority) {
			best = r
		}
	}
	return best
}

// markPending marks a version a committed change creates pending when a
// replication rule covers it (store.mu held; called by emit).
func (tx *txn) markPending(b *bucket, name string, v *version) {
	if v.repl != replNone || replRuleFor(b, name) == nil {
		return
	}
	v.repl = replPending
	if tx.disk() {
		tx.ops = append(tx.ops, tx.st.opVersion(b, name, v, false))
	}
}

// ---- the worker ----

type replicator struct {
	mu      sync.Mutex
	pending map[uint64]string // version id → source bucket id
	wake    chan struct{}
	done    chan struct{}
	once    sync.Once
	wg      sync.WaitGroup
}

// replicateEvents queues the pending versions a committed change created.
func (st *store) replicateEvents(evs []storeEvent) {
	for i := range evs {
		if evs[i].v.repl == replPending {
			st.repl.add(st, evs[i].bucketID, evs[i].v.id)
		}
	}
}

func (r *replicator) add(st *store, bucketID string, id uint64) {
	r.once.Do(func() {
		r.pending = map[uint64]string{}
		r.wake = make(chan struct{}, 1)
		r.done = make(chan struct{})
		r.wg.Add(1)
		go r.work(st)
	})
	r.mu.Lock()
	if r.pending != nil {
		r.pending[id] = bucketID
	}
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *replicator) stop() {
	r.once.Do(func() { r.done = make(chan struct{}) })
	r.mu.Lock()
	r.pending = nil
	r.mu.Unlock()
	select {
	case <-r.done:
	default:
		close(r.done)
	}
	r.wg.Wait()
}

func (r *replicator) work(st *store) {
	defer r.wg.Done()
	for {
		select {
		case <-r.done:
			return
		case <-r.wake:
		}
		for {
			r.mu.Lock()
			var id uint64
			var bid string
			for id, bid = range r.pending {
				break
			}
			if bid != "" {
				delete(r.pending, id)
			}
			r.mu.Unlock()
			if bid == "" {
				break
			}
			select {
			case <-r.done:
				return
			default:
			}
			if err := st.replicate(bid, id); err != nil {
				// not committed (disk full, …): the version is still
				// pending; try again later
				st.logf("b2local: replicating version %d of bucket %s: %v; retrying in %v", id, bid, err, replRetry)
				time.AfterFunc(replRetry, func() { r.add(st, bid, id) })
			}
		}
	}
}

// resumeReplication queues the versions left pending (after a restart).
func (st *store) resumeReplication() {
	type job struct {
		bid string
		id  uint64
	}
	var jobs []job
	_ = st.read(func() error {
		for _, b := range st.buckets {
			if b.ext.repl == nil || b.ext.repl.AsReplicationSource == nil {
				continue
			}
			for id, e := range b.byID {
				for _, v := range e.vs {
					if v.id == id && v.repl == replPending {
						jobs = append(jobs, job{b.ID, id})
					}
				}
			}
		}
		return nil
	})
	for _, j := range jobs {
		st.repl.add(st, j.bid, j.id)
	}
}

// replicate copies pending version id of bucket bid to its rule's
// destination, or marks it failed, in one transaction.
func (st *store) replicate(bid string, id uint64) error {
	return st.mutate(func(tx *txn) error {
		b := st.buckets[bid]
		if b == nil {
			return nil
		}
		e, v := b.find(id)
		if v == nil || v.repl != replPending || v.kind != kindUpload {
			return nil
		}
		status := replCompleted
		if err := st.replicaTx(tx, b, e.name, v); err != nil {
			st.logf("b2local: replication of %s/%s failed: %v", b.Name, e.name, err)
			status = replFailed
		}
		tx.update(b, e.name, v, func() { v.repl = status })
		return nil
	})
}

// replicaTx creates the replica of v (store.mu held), or says why it cannot.
func (st *store) replicaTx(tx *txn, b *bucket, name string, v *version) error {
	r := replRuleFor(b, name)
	if r == nil {
		return fmt.Errorf("no enabled replication rule covers it any more")
	}
	srcKeyID := b.ext.repl.AsReplicationSource.SourceApplicationKeyID
	sk := st.keys[srcKeyID]
	if sk == nil {
		return fmt.Errorf("source key %s was deleted", srcKeyID)
	}
	if err := st.keyMayUse(sk, b.ID, "readFiles"); err != nil {
		return err
	}
	db := st.buckets[r.DestinationBucketID]
	if db == nil {
		return fmt.Errorf("destination bucket %s does not exist", r.DestinationBucketID)
	}
	var dkID string
	if d := db.ext.repl; d != nil && d.AsReplicationDestination != nil {
		dkID = d.AsReplicationDestination.SourceToDestinationKeyMapping[srcKeyID]
	}
	dk := st.keys[dkID]
	switch {
	case dkID == "":
		return fmt.Errorf("destination bucket %s maps no key to source key %s (asReplicationDestination)", db.Name, srcKeyID)
	case dk == nil:
		return fmt.Errorf("destination key %s of bucket %s was deleted", dkID, db.Name)
	case dk.Account != db.Account:
		return fmt.Errorf("destination key %s is not a key of bucket %s's account", dkID, db.Name)
	}
	if err := st.keyMayUse(dk, db.ID, "writeFiles"); err != nil {
		return err
	}
	nf := &newFile{ctype: v.ctype, info: v.info, sse: v.flags&fSSE != 0}
	rv, err := st.newVersion(db, name, kindUpload, nf)
	if err != nil {
		return err
	}
	rv.size, rv.sha1, rv.md5 = v.size, v.sha1, v.md5
	rv.flags |= v.flags & (fSHA1 | fMD5 | fUnverified)
	rv.segs = v.segs
	pinSegs(rv.segs)
	rv.repl = replReplica
	st.place(tx, db, name, rv, v.ts)
	typ := "b2:ObjectCreated:Replica"
	if v.flags&fSHA1 == 0 {
		typ = "b2:ObjectCreated:MultipartReplica"
	}
	tx.emit(typ, db, name, rv)
	return nil
}

// replicateExisting marks pending the never-replicated versions of bucket
// id covered by a rule with includeExistingFiles, and queues them.
func (st *store) replicateExisting(id string) error {
	return st.mutate(func(tx *txn) error {
		b := st.buckets[id]
		if b == nil || b.ext.repl == nil || b.ext.repl.AsReplicationSource == nil {
			return nil
		}
		b.files.Ascend(func(e *nameEntry) bool {
			r := replRuleFor(b, e.name)
			if r == nil || !r.IncludeExistingFiles {
				return true
			}
			for _, v := range e.vs {
				if v.kind == kindUpload && v.repl == replNone {
					tx.update(b, e.name, v, func() { v.repl = replPending })
					tx.events = append(tx.events, storeEvent{typ: "", bucketID: b.ID, name: e.name, v: *v})
				}
			}
			return true
		})
		return nil
	})
}
