package emulator

import (
	"sort"
	"strings"
)

// Read operations shared by the fronts: they take the read lock, and return
// copies or pinned versions, so the fronts encode without holding it.

// bucketByID returns bucket id, or refNoBucket.
func (st *store) bucketByID(id string) (*bucket, error) {
	var b *bucket
	err := st.read(func() error {
		if b = st.buckets[id]; b == nil {
			return errNoBucket(id)
		}
		return nil
	})
	return b, err
}

// bucketByName returns the bucket named exactly name, or nil.
func (st *store) bucketByName(name string) *bucket {
	st.mu.RLock()
	defer st.mu.RUnlock()
	if b := st.bucketNames[lower(name)]; b != nil && b.Name == name {
		return b
	}
	return nil
}

// inBucket runs f under the read lock if b still exists (else refNoBucket):
// the listings.
func (st *store) inBucket(b *bucket, f func() error) error {
	return st.read(func() error {
		if st.buckets[b.ID] != b {
			return errNoBucket(b.ID)
		}
		return f()
	})
}

// buckets returns the buckets keep accepts, by name, as copies.
func (st *store) bucketList(keep func(b *bucket) bool) []bucket {
	var out []bucket
	_ = st.read(func() error {
		for _, b := range st.buckets {
			if keep(b) {
				out = append(out, *b)
			}
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// keyList returns the non-master keys keep accepts, by id.
func (st *store) keyList(keep func(k *appKey) bool) []*appKey {
	var out []*appKey
	_ = st.read(func() error {
		for _, k := range st.keys {
			if !k.master && keep(k) {
				out = append(out, k)
			}
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// opened is a version pinned for reading: its content stays until close,
// whatever happens to the version meanwhile.
type opened struct {
	fileRef
	bk bucket // the bucket's settings when opened
}

// open pins the version find resolves (under the read lock).
func (st *store) open(find func() (*bucket, string, *version, error)) (*opened, error) {
	var o *opened
	err := st.read(func() error {
		b, name, v, err := find()
		if err != nil {
			return err
		}
		o = &opened{fileRef: refOf(b, name, v), bk: *b}
		pinSegs(o.v.segs)
		return nil
	})
	return o, err
}

func (st *store) release(o *opened) { st.unpinSegs(o.v.segs) }

// version returns a copy of version id of bucket bid; ok is false when
// there is none.
func (st *store) version(bid string, id uint64) (f fileRef, ok bool) {
	_ = st.read(func() error {
		if b := st.buckets[bid]; b != nil {
			if e, v := b.find(id); v != nil {
				f, ok = refOf(b, e.name, v), true
			}
		}
		return nil
	})
	return f, ok
}

// key returns application key id (nil when unknown) and, for a key
// restricted to buckets, their names ("" for a bucket deleted since).
func (st *store) key(id string) (*appKey, []string) {
	st.mu.RLock()
	defer st.mu.RUnlock()
	k := st.keys[id]
	if k == nil || k.BucketIDs == nil {
		return k, nil
	}
	names := make([]string, len(k.BucketIDs))
	for i, bid := range k.BucketIDs {
		if b := st.buckets[bid]; b != nil {
			names[i] = b.Name
		}
	}
	return k, names
}

// listNames walks one b2_list_file_names page of b (see bucket.walkNames).
func (st *store) listNames(b *bucket, start, prefix, delim string, max int, emit func(name string, v *version)) (next string, err error) {
	err = st.inBucket(b, func() error {
		next = b.walkNames(start, prefix, delim, max, emit)
		return nil
	})
	return next, err
}

// listVersions walks one b2_list_file_versions page of b (see
// bucket.walkVersions).
func (st *store) listVersions(b *bucket, start string, startID uint64, prefix, delim string, max int, emit func(name string, v *version)) (nextName, nextID string, err error) {
	err = st.inBucket(b, func() error {
		var id uint64
		nextName, id = b.walkVersions(start, startID, prefix, delim, max, emit)
		if _, v := b.find(id); v != nil {
			nextID = fileIDString(b.ID, v.id, v.ts)
		}
		return nil
	})
	return nextName, nextID, err
}

// listParts returns up to max parts numbered from first on of the large
// file find resolves, ascending, and the number of the next part (0: none).
// Parts are never changed once stored, so they are safe to read unlocked.
func (st *store) listParts(find findLarge, first, max int) (parts []*part, next int, lf *largeFile, err error) {
	err = st.read(func() error {
		if lf, err = find(); err != nil {
			return err
		}
		var nums []int
		for n := range lf.parts {
			if n >= first {
				nums = append(nums, n)
			}
		}
		sort.Ints(nums)
		if len(nums) > max {
			next = nums[max]
			nums = nums[:max]
		}
		for _, n := range nums {
			parts = append(parts, lf.parts[n])
		}
		return nil
	})
	return parts, next, lf, err
}

// unfinished lists up to max unfinished large files of b under prefix with
// ids from startID on, by id, and the file id of the next one ("": none).
func (st *store) unfinished(b *bucket, startID uint64, prefix string, max int) (files []fileRef, next string) {
	_ = st.read(func() error {
		var lfs []*largeFile
		for id, lf := range st.large {
			if lf.b == b && id >= startID && strings.HasPrefix(lf.e.name, prefix) {
				lfs = append(lfs, lf)
			}
		}
		sort.Slice(lfs, func(i, j int) bool { return lfs[i].v.id < lfs[j].v.id })
		if len(lfs) > max {
			next = fileIDString(b.ID, lfs[max].v.id, lfs[max].v.ts)
			lfs = lfs[:max]
		}
		for _, lf := range lfs {
			files = append(files, refOf(b, lf.e.name, lf.v))
		}
		return nil
	})
	return files, next
}

// alive reports whether b is still a bucket of the store (store.mu held).
func (st *store) alive(b *bucket) bool { return b != nil && st.buckets[b.ID] == b }

// largeOf is the unfinished large file id of bucket bid, or nil (store.mu
// held).
func (st *store) largeOf(bid string, id uint64) *largeFile {
	if lf := st.large[id]; lf != nil && lf.b.ID == bid && st.alive(lf.b) {
		return lf
	}
	return nil
}

// find resolves version id of bucket bid (store.mu held); nils when absent.
func (st *store) find(bid string, id uint64) (*bucket, *nameEntry, *version) {
	b := st.buckets[bid]
	if b == nil {
		return nil, nil, nil
	}
	e, v := b.find(id)
	if v == nil {
		return nil, nil, nil
	}
	return b, e, v
}
