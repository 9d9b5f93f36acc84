package emulator

import "fmt"

// Bucket and key operations, shared by the native and S3 fronts (see
// store_files.go for the pattern). Buckets are returned as copies taken
// under the lock.

const (
	refNameTaken refusal = iota + 100 // bucket name in use (the copy is the owner)
	refTooMany                        // too many buckets
	refNotEmpty                       // bucket still holds versions
	refNoKey                          // no such application key
)

// bucketCount is the number of buckets of account (store.mu held).
func (st *store) bucketCount(account string) int {
	n := 0
	for _, b := range st.buckets {
		if b.Account == account {
			n++
		}
	}
	return n
}

// createBucket adds b (name, account and settings filled in; the id is
// assigned). Names are unique across all accounts.
// A name in use, also in another case, is refNameTaken and returns the
// bucket holding it.
func (st *store) createBucket(b *bucket) (bucket, error) {
	var out bucket
	err := st.mutate(func(tx *txn) error {
		if old := st.bucketNames[lower(b.Name)]; old != nil {
			out = *old
			return refuse(refNameTaken, errCode(400, "duplicate_bucket_name", "Bucket name is already in use: "+b.Name))
		}
		if st.bucketCount(b.Account) >= maxBuckets {
			return refuse(refTooMany, errCode(400, "too_many_buckets", fmt.Sprintf("account already has %d buckets", maxBuckets)))
		}
		for {
			b.ID = newBucketID()
			if st.buckets[b.ID] == nil {
				break
			}
		}
		newBucketState(b)
		if err := st.checkReplication(b, b.ext.repl); err != nil {
			return err
		}
		tx.addBucket(b)
		out = *b
		return nil
	})
	return out, err
}

// updateBucket applies bs to bucket id: Object Lock cannot be disabled,
// default retention needs Object Lock, ifRev (when set) must be the
// current revision.
func (st *store) updateBucket(id string, bs *bucketSettings, ifRev *int64) (bucket, error) {
	var out bucket
	err := st.mutate(func(tx *txn) error {
		b := st.buckets[id]
		if b == nil {
			return errNoBucket(id)
		}
		if bs.lock != nil && !*bs.lock && b.Lock {
			return errCode(400, "file_lock_conflict", "Object Lock cannot be disabled once enabled")
		}
		lockAfter := b.Lock || (bs.lock != nil && *bs.lock)
		if bs.retention != nil && bs.retention.Mode != "" && !lockAfter {
			return errNoFileLock(b)
		}
		if ifRev != nil && *ifRev != b.Revision {
			return errCode(409, "conflict", fmt.Sprintf("bucket revision is %d, not %d", b.Revision, *ifRev))
		}
		if bs.hasRepl {
			if err := st.checkReplication(b, bs.repl); err != nil {
				return err
			}
		}
		if err := replLockConflict(b, bs); err != nil {
			return err
		}
		tx.updateBucket(b, func() {
			bs.apply(b)
			b.Revision++
		})
		out = *b
		return nil
	})
	return out, err
}

// deleteBucket removes the bucket with id (or, when id is "", named
// exactly name) when it holds no version (hide markers and unfinished large
// files count).
func (st *store) deleteBucket(id, name string) (bucket, error) {
	var out bucket
	err := st.mutate(func(tx *txn) error {
		b := st.buckets[id]
		if id == "" {
			if b = st.bucketNames[lower(name)]; b != nil && b.Name != name {
				b = nil
			}
		}
		if b == nil {
			return errNoBucket(id + name)
		}
		out = *b
		if b.count > 0 {
			return refuse(refNotEmpty, errCode(400, "cannot_delete_non_empty_bucket", fmt.Sprintf("bucket %s still holds %d file versions (including hide markers and unfinished large files)", b.Name, b.count)))
		}
		tx.deleteBucket(b)
		return nil
	})
	return out, err
}

// createKey adds k (restricted to bucketIDs, which must exist; duplicates
// are dropped) with a fresh id.
func (st *store) createKey(k *appKey, bucketIDs []string) error {
	return st.mutate(func(tx *txn) error {
		uniq := map[string]bool{}
		var ids []string
		for _, id := range bucketIDs {
			if b := st.buckets[id]; b == nil || b.Account != k.Account {
				return errNoBucket(id)
			}
			if !uniq[id] {
				uniq[id] = true
				ids = append(ids, id)
			}
		}
		k.BucketIDs = ids
		k.Created = st.nowMs()
		for {
			k.ID = newKeyID(k.Account)
			if st.keys[k.ID] == nil {
				break
			}
		}
		tx.addKey(k)
		return nil
	})
}

// deleteKey removes key id (never the master key); allowed refuses keys
// the caller's API version cannot delete.
func (st *store) deleteKey(account, id string, allowed func(k *appKey) error) (*appKey, error) {
	var k *appKey
	err := st.mutate(func(tx *txn) error {
		k = st.keys[id]
		switch {
		case k == nil || k.Account != account:
			return refuse(refNoKey, errBadRequest("no such application key: "+id))
		case k.master:
			return errBadRequest("the master application key cannot be deleted")
		}
		if err := allowed(k); err != nil {
			return err
		}
		tx.deleteKey(k)
		return nil
	})
	return k, err
}
