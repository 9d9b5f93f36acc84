package emulator

import (
	"sort"
	"strings"
)

// Store-level walks for the S3 listings. They only use the B-tree of names
// and the newest-first version slices (store.mu read-locked by the caller).

// s3Item is one listed key (with a snapshot of its version) or common prefix.
type s3Item struct {
	name   string
	prefix bool
	latest bool
	v      version
}

// s3ListCurrent lists the visible keys ≥ start under prefix, rolling names
// up at delim (common prefixes ≤ after are skipped: a marker naming a common
// prefix continues behind it), at most max items; truncated tells whether
// more follow.
func (b *bucket) s3ListCurrent(start, after, prefix, delim string, max int) (items []s3Item, truncated bool) {
	pivot := start
	if pivot < prefix {
		pivot = prefix
	}
	if max <= 0 {
		return nil, false
	}
	for {
		restart := ""
		stop := false
		b.files.AscendGreaterOrEqual(&nameEntry{name: pivot}, func(e *nameEntry) bool {
			if !strings.HasPrefix(e.name, prefix) {
				stop = true
				return false
			}
			if folder := folderOf(e.name, prefix, delim); folder != "" {
				restart = successor(folder)
				if (after != "" && folder <= after) || !b.folderVisible(folder, e) {
					return false
				}
				if len(items) == max {
					truncated, stop = true, true
					return false
				}
				items = append(items, s3Item{name: folder, prefix: true})
				return false
			}
			cur := e.current()
			if cur == nil || cur.kind == kindHide {
				return true
			}
			if len(items) == max {
				truncated, stop = true, true
				return false
			}
			items = append(items, s3Item{name: e.name, latest: true, v: *cur})
			return true
		})
		if stop || restart == "" {
			return items, truncated
		}
		pivot = restart
	}
}

// s3NextStart is the inclusive start name that follows a listed item.
func (it s3Item) s3NextStart() string {
	if it.prefix {
		return successor(it.name)
	}
	return it.name + "\x00"
}

// s3ListVersions lists versions (hide markers included, unfinished large
// files excluded) for keys after keyMarker, or — with vidMarker — the
// versions of keyMarker older than vidMarker and then the following keys.
func (b *bucket) s3ListVersions(keyMarker string, vidMarker uint64, prefix, delim string, max int) (items []s3Item, truncated bool) {
	if max <= 0 {
		return nil, false
	}
	pivot := prefix
	if keyMarker != "" {
		if vidMarker != 0 {
			if keyMarker > pivot {
				pivot = keyMarker
			}
		} else if keyMarker+"\x00" > pivot {
			pivot = keyMarker + "\x00"
		}
	}
	first := true
	for {
		restart := ""
		stop := false
		b.files.AscendGreaterOrEqual(&nameEntry{name: pivot}, func(e *nameEntry) bool {
			if !strings.HasPrefix(e.name, prefix) {
				stop = true
				return false
			}
			if folder := folderOf(e.name, prefix, delim); folder != "" {
				restart = successor(folder)
				if keyMarker != "" && folder <= keyMarker {
					return false
				}
				if len(items) == max {
					truncated, stop = true, true
					return false
				}
				items = append(items, s3Item{name: folder, prefix: true})
				return false
			}
			vs := e.vs
			if first && vidMarker != 0 && e.name == keyMarker {
				i := 0
				for i < len(vs) && vs[i].id != vidMarker {
					i++
				}
				if i < len(vs) {
					vs = vs[i+1:]
				} else {
					vs = nil
				}
			} else if e.name == keyMarker && vidMarker != 0 {
				vs = nil
			}
			first = false
			cur := e.current()
			for _, v := range vs {
				if v.kind == kindStart {
					continue
				}
				if len(items) == max {
					truncated, stop = true, true
					return false
				}
				items = append(items, s3Item{name: e.name, latest: v == cur, v: *v})
			}
			return true
		})
		first = false
		if stop || restart == "" {
			return items, truncated
		}
		pivot = restart
	}
}

// s3Upload is an unfinished large file as ListMultipartUploads shows it.
type s3Upload struct {
	name string
	id   uint64
	ts   int64
}

// s3Uploads lists the unfinished large files of b under prefix, ordered by
// name then id, after (keyMarker, idMarker) (read lock).
func (st *store) s3Uploads(b *bucket, prefix, keyMarker string, idMarker uint64) []s3Upload {
	var out []s3Upload
	_ = st.read(func() error {
		for _, lf := range st.large {
			if lf.b != b || !strings.HasPrefix(lf.e.name, prefix) {
				continue
			}
			if keyMarker != "" {
				if lf.e.name < keyMarker || (lf.e.name == keyMarker && (idMarker == 0 || lf.v.id <= idMarker)) {
					continue
				}
			}
			out = append(out, s3Upload{name: lf.e.name, id: lf.v.id, ts: lf.v.ts})
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool {
		if out[i].name != out[j].name {
			return out[i].name < out[j].name
		}
		return out[i].id < out[j].id
	})
	return out
}

// s3Current lists one page of current keys of b (ListObjects).
func (st *store) s3Current(b *bucket, start, after, prefix, delim string, max int) (items []s3Item, truncated bool, err error) {
	err = st.inBucket(b, func() error {
		items, truncated = b.s3ListCurrent(start, after, prefix, delim, max)
		return nil
	})
	return items, truncated, err
}

// s3Versions lists one page of versions of b (ListObjectVersions).
func (st *store) s3Versions(b *bucket, keyMarker string, vidMarker uint64, prefix, delim string, max int) (items []s3Item, truncated bool, err error) {
	err = st.inBucket(b, func() error {
		items, truncated = b.s3ListVersions(keyMarker, vidMarker, prefix, delim, max)
		return nil
	})
	return items, truncated, err
}
