package emulator

import (
	"crypto/md5"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// B2's file operations, shared by the native and the S3 fronts. Each takes
// the lock, validates against the state, changes it through a txn (so the
// change is journaled, and undone if it cannot be committed) and returns
// copies of what it made. Arguments are parsed and authorized by the fronts;
// checks that need the state and differ between the fronts (S3
// preconditions, which source a key may read) are passed in as functions
// that run under the lock.

// fileRef is a version as an operation returns it: a copy taken under the
// lock, safe to encode after it.
type fileRef struct {
	b    *bucket
	name string
	v    version
}

func refOf(b *bucket, name string, v *version) fileRef { return fileRef{b: b, name: name, v: *v} }

// newFile describes the version an upload, copy or large-file start creates.
type newFile struct {
	ctype    string
	info     []kv
	sse      bool
	lock     lockReq
	customTS int64 // 0: now
}

func asAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	return &apiError{status: 500, code: "internal_error", msg: err.Error()}
}

// newVersion makes the version nf describes in b (store.mu held), in this
// order: header budget, encryption, Object Lock.
func (st *store) newVersion(b *bucket, name string, kind uint8, nf *newFile) (*version, error) {
	if err := checkBudget(name, nf.info, b.Lock || b.SSE || nf.sse); err != nil {
		return nil, refuse(refBudget, asAPIError(err))
	}
	v := &version{kind: kind, ctype: st.intern(nf.ctype), info: nf.info}
	if nf.sse || b.SSE {
		v.flags |= fSSE
	}
	if err := st.applyLock(b, v, nf.lock); err != nil {
		return nil, refuse(refLock, asAPIError(err))
	}
	return v, nil
}

// place gives v its id and timestamp and inserts it under name.
func (st *store) place(tx *txn, b *bucket, name string, v *version, customTS int64) *nameEntry {
	v.id = st.allocID()
	if customTS != 0 {
		v.ts = customTS
	} else {
		v.ts = st.nextTS(b)
	}
	return tx.insert(b, name, v)
}

// uploadTarget is the bucket an upload goes to, if it exists and check
// (S3 write preconditions) accepts it (store.mu held).
func (st *store) uploadTarget(bucketID string, check func(b *bucket) error) (*bucket, error) {
	b := st.buckets[bucketID]
	if b == nil {
		return nil, errNoBucket(bucketID)
	}
	if check != nil {
		if err := check(b); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// checkUpload refuses, before an upload's body is read, what the state
// already refuses: an unknown bucket, the header budget, and check (S3
// write preconditions).
func (st *store) checkUpload(bucketID, name string, nf *newFile, check func(b *bucket) error) error {
	return st.read(func() error {
		b, err := st.uploadTarget(bucketID, check)
		if err != nil {
			return err
		}
		if err := checkBudget(name, nf.info, b.Lock || b.SSE || nf.sse); err != nil {
			return refuse(refBudget, asAPIError(err))
		}
		return nil
	})
}

// putVersion stores an uploaded body as the newest version of name. The
// body's content file is discarded when the upload is refused.
func (st *store) putVersion(bucketID, name string, nf *newFile, body *content, check func(b *bucket) error) (fileRef, error) {
	var out fileRef
	owned := false
	err := st.mutate(func(tx *txn) error {
		b, err := st.uploadTarget(bucketID, check)
		if err != nil {
			return err
		}
		v, err := st.newVersion(b, name, kindUpload, nf)
		if err != nil {
			return err
		}
		v.size, v.sha1, v.md5 = body.size, body.sha1, body.md5
		v.flags |= body.flags
		body.blob.refs.Add(1)
		v.segs = []seg{{b: body.blob, n: body.size}}
		owned = true // from here on the version owns the content (undo unpins it)
		st.place(tx, b, name, v, nf.customTS)
		tx.emit("b2:ObjectCreated:Upload", b, name, v)
		out = refOf(b, name, v)
		return nil
	})
	if err != nil && !owned {
		st.discardBlob(body.blob)
	}
	return out, err
}

// ---- hide and delete ----

// hideTx adds a hide marker for name (store.mu held). A name without a
// visible version is refNoFile; a hidden one is refHidden and returns the
// marker hiding it.
func (st *store) hideTx(tx *txn, b *bucket, name string) (fileRef, error) {
	var cur *version
	if e := b.entry(name); e != nil {
		cur = e.current()
	}
	if cur == nil {
		return fileRef{}, refuse(refNoFile, errCode(400, "no_such_file", "no file named "+name))
	}
	if cur.kind == kindHide {
		return refOf(b, name, cur), refuse(refHidden, errCode(400, "already_hidden", "file already hidden: "+name))
	}
	v := &version{id: st.allocID(), ts: st.nextTS(b), kind: kindHide, ctype: hideCT}
	tx.insert(b, name, v)
	tx.emit("b2:HideMarkerCreated:Hide", b, name, v)
	return refOf(b, name, v), nil
}

// mutateIn runs f as a change of bucket bucketID (refNoBucket when it does
// not exist) and returns what f made.
func (st *store) mutateIn(bucketID string, f func(tx *txn, b *bucket) (fileRef, error)) (fileRef, error) {
	var out fileRef
	err := st.mutate(func(tx *txn) error {
		b := st.buckets[bucketID]
		if b == nil {
			return errNoBucket(bucketID)
		}
		var err error
		out, err = f(tx, b)
		return err
	})
	return out, err
}

// hide adds a hide marker for name in bucket bucketID.
func (st *store) hide(bucketID, name string) (fileRef, error) {
	return st.mutateIn(bucketID, func(tx *txn, b *bucket) (fileRef, error) { return st.hideTx(tx, b, name) })
}

// deleteVersionTx removes version id of name (store.mu held), refused
// while Object Lock protects it. An unfinished large file goes with its
// parts when large is set; otherwise it counts as absent (refNoVersion).
func (st *store) deleteVersionTx(tx *txn, b *bucket, id uint64, name, fid string, bypass, large bool) (fileRef, error) {
	e, v := b.find(id)
	if v != nil && e.name != name {
		return fileRef{}, refuse(refOtherName, errCode(400, "file_not_present", fmt.Sprintf("File not present: %s %s", name, fid)))
	}
	if v == nil || (!large && v.kind == kindStart) {
		return fileRef{}, refuse(refNoVersion, errCode(400, "file_not_present", fmt.Sprintf("File not present: %s %s", name, fid)))
	}
	if err := st.deletable(v, bypass); err != nil {
		return fileRef{}, err
	}
	out := refOf(b, name, v)
	if lf := st.large[v.id]; v.kind == kindStart && lf != nil {
		tx.cancelLarge(lf)
	} else {
		tx.remove(b, e, v)
		tx.emit("b2:ObjectDeleted:Delete", b, name, v)
	}
	return out, nil
}

// deleteVersion removes one version (b2_delete_file_version).
func (st *store) deleteVersion(bucketID string, id uint64, name, fid string, bypass bool) (fileRef, error) {
	return st.mutateIn(bucketID, func(tx *txn, b *bucket) (fileRef, error) {
		return st.deleteVersionTx(tx, b, id, name, fid, bypass, true)
	})
}

// ---- copies ----

// copySource describes where a copy takes its bytes from. Both functions
// run under the lock.
type copySource struct {
	// find resolves and authorizes the source version.
	find func() (b *bucket, name string, v *version, err error)
	// span is the byte range taken from a source of size bytes, refused
	// when out of range or too large.
	span func(size int64) (off, n int64, err error)
}

// errHashFirst stops a copy whose digests must be computed from the bytes:
// the segments are pinned, hashed outside the lock, then the copy commits.
var errHashFirst = errors.New("hash first")

// copyVersion copies a version (or a range of it) to name in dstID. With
// copyMeta the content type and info are the source's, else nf's. Digests
// are the source's unless rehash says the bytes must be hashed.
func (st *store) copyVersion(dstID, name string, nf *newFile, copyMeta bool, src copySource, rehash func(sv *version, off, n int64) bool) (out, from fileRef, err error) {
	var v *version
	var db *bucket
	inserted := false
	err = st.mutate(func(tx *txn) error {
		sb, sname, sv, err := src.find()
		if err != nil {
			return err
		}
		db = st.buckets[dstID]
		if db == nil {
			return refuse(refNoBucket, errCode(400, "bad_bucket_id", "Bucket "+dstID+" does not exist"))
		}
		off, n, err := src.span(sv.size)
		if err != nil {
			return err
		}
		meta := *nf
		if copyMeta {
			meta.ctype, meta.info = sv.ctype, sv.info
		}
		if v, err = st.newVersion(db, name, kindUpload, &meta); err != nil {
			return err
		}
		from = refOf(sb, sname, sv)
		v.size = n
		v.segs = subSegs(sv.segs, off, n)
		pinSegs(v.segs)
		if rehash(sv, off, n) {
			return errHashFirst
		}
		v.flags |= sv.flags & (fSHA1 | fMD5)
		v.sha1, v.md5 = sv.sha1, sv.md5
		st.place(tx, db, name, v, 0)
		tx.emit("b2:ObjectCreated:Copy", db, name, v)
		inserted = true
		out = refOf(db, name, v)
		return nil
	})
	if err != errHashFirst {
		return out, from, err
	}
	if err = st.hashCopy(v); err == nil {
		err = st.mutate(func(tx *txn) error {
			if st.buckets[db.ID] != db {
				return refuse(refNoBucket, errCode(400, "bad_bucket_id", "Bucket "+db.ID+" does not exist"))
			}
			st.place(tx, db, name, v, 0)
			tx.emit("b2:ObjectCreated:Copy", db, name, v)
			inserted = true
			out = refOf(db, name, v)
			return nil
		})
	}
	if err != nil && !inserted {
		st.unpinSegs(v.segs)
	}
	return out, from, err
}

// hashSegs computes the SHA-1 and MD5 of the first n bytes of segs (pinned;
// no lock held) into pt.
func hashSegs(st *store, segs []seg, n int64, pt *part) error {
	sh, md := sha1.New(), md5.New()
	if err := st.writeSegs(io.MultiWriter(sh, md), segs, 0, n); err != nil {
		return err
	}
	sh.Sum(pt.sha1[:0])
	md.Sum(pt.md5[:0])
	return nil
}

// hashCopy fills md5/sha1 of v from its (pinned) segments, outside the lock.
func (st *store) hashCopy(v *version) error {
	var pt part
	if err := hashSegs(st, v.segs, v.size, &pt); err != nil {
		return err
	}
	v.sha1, v.md5 = pt.sha1, pt.md5
	v.flags |= fSHA1 | fMD5
	return nil
}

// ---- large files ----

// startLarge starts a large file (b2_start_large_file, CreateMultipartUpload).
func (st *store) startLarge(bucketID, name string, nf *newFile) (fileRef, error) {
	return st.mutateIn(bucketID, func(tx *txn, b *bucket) (fileRef, error) {
		v, err := st.newVersion(b, name, kindStart, nf)
		if err != nil {
			return fileRef{}, err
		}
		v.id = st.allocID()
		if nf.customTS != 0 {
			v.ts = nf.customTS
		} else {
			v.ts = st.nextTS(b)
		}
		tx.startLarge(b, name, v)
		return refOf(b, name, v), nil
	})
}

// findLarge is a front's lookup of an unfinished large file (under the lock).
type findLarge func() (*largeFile, error)

// largeFile returns the unfinished large file find resolves (read lock).
func (st *store) largeFile(find findLarge) (*largeFile, error) {
	var lf *largeFile
	err := st.read(func() error {
		var err error
		lf, err = find()
		return err
	})
	return lf, err
}

// stillOpen refuses a large file finished or cancelled since it was looked up.
func (st *store) stillOpen(lf *largeFile) error {
	if st.large[lf.v.id] != lf {
		return refuse(refNoLarge, errBadRequest("large file was finished or cancelled: "+fileIDString(lf.b.ID, lf.v.id, lf.v.ts)))
	}
	return nil
}

// putPart stores an uploaded body as part n of lf; the content file is
// discarded when refused.
func (st *store) putPart(lf *largeFile, n int, body *content) (*part, error) {
	var pt *part
	err := st.mutate(func(tx *txn) error {
		if err := st.stillOpen(lf); err != nil {
			return err
		}
		body.blob.refs.Add(1)
		pt = &part{n: n, size: body.size, ts: st.nowMs(), sha1: body.sha1, md5: body.md5, segs: []seg{{b: body.blob, n: body.size}}}
		tx.putPart(lf, pt)
		return nil
	})
	if err != nil && pt == nil {
		st.discardBlob(body.blob)
	}
	return pt, err
}

// copyPart copies a source version (or a range) into part n of the large
// file find resolves; the source is looked up after the large file.
func (st *store) copyPart(find findLarge, n int, src copySource) (*part, *largeFile, fileRef, error) {
	var lf *largeFile
	var pt *part
	var from fileRef
	stored := false
	err := st.mutate(func(tx *txn) error {
		var err error
		if lf, err = find(); err != nil {
			return err
		}
		sb, sname, sv, err := src.find()
		if err != nil {
			return err
		}
		off, size, err := src.span(sv.size)
		if err != nil {
			return err
		}
		from = refOf(sb, sname, sv)
		segs := subSegs(sv.segs, off, size)
		pinSegs(segs)
		pt = &part{n: n, size: size, segs: segs}
		if off != 0 || size != sv.size || sv.flags&(fSHA1|fMD5) != fSHA1|fMD5 {
			return errHashFirst
		}
		pt.sha1, pt.md5 = sv.sha1, sv.md5
		pt.ts = st.nowMs()
		tx.putPart(lf, pt)
		stored = true
		return nil
	})
	if err == errHashFirst {
		if err = hashSegs(st, pt.segs, pt.size, pt); err == nil {
			err = st.mutate(func(tx *txn) error {
				if err := st.stillOpen(lf); err != nil {
					return err
				}
				pt.ts = st.nowMs()
				tx.putPart(lf, pt)
				stored = true
				return nil
			})
		}
	}
	if err != nil && pt != nil && !stored {
		st.unpinSegs(pt.segs)
	}
	return pt, lf, from, err
}

// finishLarge turns the large file find resolves into an uploaded version
// made of the parts choose lists (validated by choose, under the lock).
func (st *store) finishLarge(find findLarge, choose func(lf *largeFile) ([]int, error)) (fileRef, *largeFile, error) {
	var out fileRef
	var lf *largeFile
	err := st.mutate(func(tx *txn) error {
		var err error
		if lf, err = find(); err != nil {
			return err
		}
		nums, err := choose(lf)
		if err != nil {
			return err
		}
		tx.finishLarge(lf, nums)
		tx.emit("b2:ObjectCreated:MultipartUpload", lf.b, lf.e.name, lf.v)
		out = refOf(lf.b, lf.e.name, lf.v)
		return nil
	})
	return out, lf, err
}

// cancelLarge removes the large file find resolves with its parts.
func (st *store) cancelLarge(find findLarge) (fileRef, error) {
	var out fileRef
	err := st.mutate(func(tx *txn) error {
		lf, err := find()
		if err != nil {
			return err
		}
		out = refOf(lf.b, lf.e.name, lf.v)
		tx.cancelLarge(lf)
		return nil
	})
	return out, err
}

// nativeParts checks b2_finish_large_file's partSha1Array against the
// uploaded parts: parts 1..n, all uploaded and listed, matching SHA-1s,
// at least two of them (B2 refuses a one-part large file), every part but
// the last at least the minimum part size.
func (st *store) nativeParts(lf *largeFile, shas []string) ([]int, error) {
	for i := 1; i <= len(lf.parts) || i <= len(shas); i++ {
		if lf.parts[i] == nil {
			return nil, errCode(400, "missing_part", fmt.Sprintf("Part number %d has not been uploaded", i))
		}
		if i > len(shas) {
			return nil, errCode(400, "missing_part", fmt.Sprintf("partSha1Array lists %d parts but %d were uploaded", len(shas), len(lf.parts)))
		}
	}
	nums := make([]int, len(shas))
	for i := 1; i <= len(shas); i++ {
		if pt := lf.parts[i]; !strings.EqualFold(shas[i-1], hex.EncodeToString(pt.sha1[:])) {
			return nil, errCode(400, "part_sha1_mismatch", fmt.Sprintf("Part number %d has SHA-1 %x, not %s", i, pt.sha1, shas[i-1]))
		}
		nums[i-1] = i
	}
	if len(shas) < 2 {
		return nil, errBadRequest(fmt.Sprintf("large files must have at least 2 parts; this one has %d (upload a file of one part with b2_upload_file)", len(shas)))
	}
	for i := 1; i < len(shas); i++ {
		if pt := lf.parts[i]; pt.size < st.opts.AbsoluteMinimumPartSize {
			return nil, errBadRequest(fmt.Sprintf("Part number %d is %d bytes; every part but the last must be at least %d bytes", i, pt.size, st.opts.AbsoluteMinimumPartSize))
		}
	}
	return nums, nil
}

// ---- Object Lock ----

// applyLock sets retention/hold on a new version (store.mu held).
func (st *store) applyLock(b *bucket, v *version, lr lockReq) error {
	if (lr.hasRet || lr.hold != holdUnset) && !b.Lock {
		return errNoFileLock(b)
	}
	now := st.opts.Now()
	if lr.hasRet {
		if lr.retMode != retNone && lr.until <= now.UnixMilli() {
			return errBadRequest("retainUntilTimestamp must be in the future")
		}
		v.retMode, v.retainUntil = lr.retMode, lr.until
	} else if b.Lock && b.Retention.Mode != "" {
		v.retMode = retGovernance
		if b.Retention.Mode == "compliance" {
			v.retMode = retCompliance
		}
		if b.Retention.Unit == "years" {
			v.retainUntil = now.AddDate(int(b.Retention.Period), 0, 0).UnixMilli()
		} else {
			v.retainUntil = now.Add(time.Duration(b.Retention.Period) * 24 * time.Hour).UnixMilli()
		}
	}
	v.hold = lr.hold
	return nil
}

// deletable reports whether Object Lock allows removing v.
func (st *store) deletable(v *version, bypass bool) error {
	if v.hold == holdOn {
		return errCode(403, "access_denied", "file version is under legal hold")
	}
	if v.retMode != retNone && v.retainUntil > st.nowMs() {
		if v.retMode == retCompliance {
			return errCode(403, "access_denied", "file version is under compliance retention until "+itoa(v.retainUntil))
		}
		if !bypass {
			return errCode(403, "access_denied", "file version is under governance retention; deleting it needs bypassGovernance")
		}
	}
	return nil
}

// lockTarget resolves the version whose retention or legal hold changes
// (store.mu held).
func (st *store) lockTarget(bucketID string, id uint64, name, fid string) (*bucket, *version, error) {
	b := st.buckets[bucketID]
	if b == nil {
		return nil, nil, errNoBucket(bucketID)
	}
	if !b.Lock {
		return nil, nil, errNoFileLock(b)
	}
	e, v := b.find(id)
	if v == nil || e.name != name {
		return nil, nil, refuse(refNoVersion, errCode(400, "file_not_present", fmt.Sprintf("File not present: %s %s", name, fid)))
	}
	if v.kind == kindHide {
		return nil, nil, errBadRequest("hide markers have no retention or legal hold")
	}
	return b, v, nil
}

// setRetention changes a version's retention: compliance can only be
// extended; shortening or removing governance needs bypass.
func (st *store) setRetention(bucketID string, id uint64, name, fid string, mode uint8, until int64, bypass bool) (fileRef, error) {
	var out fileRef
	err := st.mutate(func(tx *txn) error {
		b, v, err := st.lockTarget(bucketID, id, name, fid)
		if err != nil {
			return err
		}
		now := st.nowMs()
		if mode != retNone && until <= now {
			return errBadRequest("retainUntilTimestamp must be in the future")
		}
		if v.retMode != retNone && v.retainUntil > now {
			weaker := mode == retNone || until < v.retainUntil || (v.retMode == retCompliance && mode != retCompliance)
			if weaker && v.retMode == retCompliance {
				return errCode(403, "access_denied", "compliance retention can only be extended")
			}
			if weaker && !bypass {
				return errCode(403, "access_denied", "shortening or removing governance retention needs bypassGovernance")
			}
		}
		tx.update(b, name, v, func() {
			v.retMode, v.retainUntil = mode, until
			if mode == retNone {
				v.retainUntil = 0
			}
		})
		out = refOf(b, name, v)
		return nil
	})
	return out, err
}

// setLegalHold changes a version's legal hold.
func (st *store) setLegalHold(bucketID string, id uint64, name, fid string, h uint8) (fileRef, error) {
	var out fileRef
	err := st.mutate(func(tx *txn) error {
		b, v, err := st.lockTarget(bucketID, id, name, fid)
		if err != nil {
			return err
		}
		tx.update(b, name, v, func() { v.hold = h })
		out = refOf(b, name, v)
		return nil
	})
	return out, err
}

// ---- batches of deletes ----

// deleteItem is one delete of a batch: a hide marker for name (id 0) or
// the removal of one version. err, when set, is a refusal found while
// parsing; the item is skipped.
type deleteItem struct {
	name string
	id   uint64
	fid  string
	err  error
}

type deleteResult struct {
	f   fileRef
	err error
}

// deleteBatch applies deletes to one bucket in a single commit (S3
// DeleteObject, DeleteObjects); refusals are per item, the commit is for
// all. Unfinished large files count as absent.
func (st *store) deleteBatch(bucketID string, items []deleteItem, bypass bool) ([]deleteResult, error) {
	res := make([]deleteResult, len(items))
	err := st.mutate(func(tx *txn) error {
		b := st.buckets[bucketID]
		if b == nil {
			return errNoBucket(bucketID)
		}
		for i, it := range items {
			switch {
			case it.err != nil:
				res[i].err = it.err
			case it.id == 0:
				res[i].f, res[i].err = st.hideTx(tx, b, it.name)
			default:
				res[i].f, res[i].err = st.deleteVersionTx(tx, b, it.id, it.name, it.fid, bypass, false)
			}
		}
		return nil
	})
	return res, err
}
