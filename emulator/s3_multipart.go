package emulator

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// Multipart uploads map onto B2 large files: the upload id is the large
// file's id, parts are large-file parts, CompleteMultipartUpload finishes
// the large file with the listed parts (in S3 fashion: any ascending subset
// of the uploaded part numbers; unlisted parts are discarded).

// uploadArg resolves an upload id for this bucket and key (store.mu held).
func (x *s3req) uploadArg(b *bucket) (*largeFile, uint64, error) {
	uid := x.q.Get("uploadId")
	bid, id, ok := parseFileID(uid)
	if !ok || bid != b.ID {
		return nil, 0, errNoSuchUpload(uid)
	}
	lf := x.st.large[id]
	if lf == nil || lf.b != b || lf.e.name != x.key || x.st.buckets[b.ID] != b {
		return nil, 0, errNoSuchUpload(uid)
	}
	return lf, id, nil
}

func (x *s3req) partNumber() (int, error) {
	n, err := strconv.Atoi(x.q.Get("partNumber"))
	if err != nil || n < 1 || n > 10000 {
		return 0, errInvalidArgument("Part number must be an integer between 1 and 10000, inclusive")
	}
	return n, nil
}

func partETag(pt *part) string { return `"` + hex.EncodeToString(pt.md5[:]) + `"` }

func s3CreateMultipartUpload(x *s3req) error {
	b, err := x.newObjectTarget()
	if err != nil {
		return err
	}
	ct, info, sse, lr, err := x.newObjectHeaders()
	if err != nil {
		return err
	}
	drain(x.r)
	st := x.st
	st.mu.Lock()
	if st.buckets[b.ID] != b {
		st.mu.Unlock()
		return errNoSuchBucket(b.Name)
	}
	if err := checkBudget(x.key, info, b.Lock || b.SSE || sse); err != nil {
		st.mu.Unlock()
		return metadataTooLarge(err)
	}
	v := &version{id: st.allocID(), kind: kindStart, ctype: st.intern(ct), info: info}
	if sse || b.SSE {
		v.flags |= fSSE
	}
	if err := st.applyLock(b, v, lr); err != nil {
		st.mu.Unlock()
		return s3err(400, "InvalidRequest", err.(*apiError).msg)
	}
	v.ts = st.nextTS(b)
	e := b.insertVersion(x.key, v)
	st.large[v.id] = &largeFile{b: b, e: e, v: v, sse: v.flags&fSSE != 0, parts: map[int]*part{}}
	tk := st.journal(st.opVersion(b, x.key, v, false))
	st.mu.Unlock()
	if err := st.sync(tk); err != nil {
		return err
	}
	if sse || b.SSE {
		x.w.Header().Set("X-Amz-Server-Side-Encryption", "AES256")
	}
	writeXML(x.w, 200, s3InitiateResult{NS: s3NS, Bucket: b.Name, Key: x.key, UploadID: fileIDString(b.ID, v.id)})
	return nil
}

func s3UploadPart(x *s3req) error {
	b, n, err := x.partTarget()
	if err != nil {
		return err
	}
	if _, err := x.sseFromHeaders(); err != nil {
		return err
	}
	st := x.st
	st.mu.RLock()
	lf, id, err := x.uploadArg(b)
	st.mu.RUnlock()
	if err != nil {
		return err
	}
	body, err := x.readContent(maxPartSize)
	if err != nil {
		return err
	}
	st.mu.Lock()
	if st.large[id] != lf {
		st.mu.Unlock()
		st.discardBlob(body.blob)
		return errNoSuchUpload(x.q.Get("uploadId"))
	}
	body.blob.refs.Add(1)
	pt := &part{n: n, size: body.size, ts: st.nowMs(), sha1: body.sha1, md5: body.md5, segs: []seg{{b: body.blob, n: body.size}}}
	tk := st.storePart(lf, pt)
	st.mu.Unlock()
	if err := st.sync(tk); err != nil {
		return err
	}
	x.w.Header().Set("ETag", partETag(pt))
	if lf.sse {
		x.w.Header().Set("X-Amz-Server-Side-Encryption", "AES256")
	}
	x.w.Header().Set("Content-Length", "0")
	x.w.WriteHeader(200)
	return nil
}

func s3UploadPartCopy(x *s3req) error {
	b, n, err := x.partTarget()
	if err != nil {
		return err
	}
	sb, skey, svid, err := x.copySourceBucket()
	if err != nil {
		return err
	}
	rng := x.r.Header.Get("X-Amz-Copy-Source-Range")
	drain(x.r)
	st := x.st
	st.mu.Lock()
	lf, id, err := x.uploadArg(b)
	if err != nil {
		st.mu.Unlock()
		return err
	}
	if st.buckets[sb.ID] != sb {
		st.mu.Unlock()
		return errNoSuchBucket(sb.Name)
	}
	sv, err := x.copySourceVersion(sb, skey, svid)
	if err != nil {
		st.mu.Unlock()
		return err
	}
	off, size := int64(0), sv.size
	if rng != "" {
		if off, size, err = copyRange(rng, sv.size); err != nil {
			st.mu.Unlock()
			return s3err(416, "InvalidRange", fmt.Sprintf("The x-amz-copy-source-range %q is not valid for a source object of %d bytes (want bytes=first-last)", rng, sv.size))
		}
	}
	limit := st.opts.MaxCopySize
	if limit > maxPartSize {
		limit = maxPartSize
	}
	if size > limit {
		st.mu.Unlock()
		return s3err(400, "InvalidRequest", fmt.Sprintf("The specified copy source is larger than the maximum allowable size for a copy source: %d", limit))
	}
	segs := subSegs(sv.segs, off, size)
	pinSegs(segs)
	pt := &part{n: n, size: size, segs: segs}
	reuse := off == 0 && size == sv.size && sv.flags&fMD5 != 0 && sv.flags&fSHA1 != 0
	if reuse {
		pt.sha1, pt.md5 = sv.sha1, sv.md5
	}
	st.mu.Unlock()
	if !reuse {
		if err := hashSegs(st, segs, size, pt); err != nil {
			st.mu.Lock()
			st.unpinSegs(segs)
			st.mu.Unlock()
			return err
		}
	}
	st.mu.Lock()
	if st.large[id] != lf {
		st.unpinSegs(segs)
		st.mu.Unlock()
		return errNoSuchUpload(x.q.Get("uploadId"))
	}
	pt.ts = st.nowMs()
	tk := st.storePart(lf, pt)
	st.mu.Unlock()
	if err := st.sync(tk); err != nil {
		return err
	}
	x.w.Header().Set("X-Amz-Copy-Source-Version-Id", fileIDString(sb.ID, sv.id))
	writeXML(x.w, 200, s3CopyResult{XMLName: xml.Name{Local: "CopyPartResult"}, NS: s3NS, ETag: partETag(pt), LastModified: s3Time(pt.ts)})
	return nil
}

func s3CompleteMultipartUpload(x *s3req) error {
	b, err := x.objectBucket("writeFiles")
	if err != nil {
		return err
	}
	body, err := x.readSmallBody(4 << 20)
	if err != nil {
		return err
	}
	var req s3CompleteRequest
	if err := xml.Unmarshal(body, &req); err != nil {
		return errMalformedXML(err.Error())
	}
	if len(req.Parts) == 0 {
		return errMalformedXML("CompleteMultipartUpload lists no parts")
	}
	st := x.st
	st.mu.Lock()
	lf, id, err := x.uploadArg(b)
	if err != nil {
		st.mu.Unlock()
		return err
	}
	prev := 0
	for _, p := range req.Parts {
		if p.PartNumber <= prev {
			st.mu.Unlock()
			return s3err(400, "InvalidPartOrder", "The list of parts was not in ascending order. The parts list must be specified in order by part number.")
		}
		prev = p.PartNumber
	}
	md := md5.New()
	var segs []seg
	var size int64
	used := map[int]bool{}
	for i, p := range req.Parts {
		pt := lf.parts[p.PartNumber]
		if pt == nil || unquote(p.ETag) != hex.EncodeToString(pt.md5[:]) {
			st.mu.Unlock()
			return s3err(400, "InvalidPart", fmt.Sprintf("One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag. (part %d)", p.PartNumber))
		}
		if i < len(req.Parts)-1 && pt.size < st.opts.AbsoluteMinimumPartSize {
			st.mu.Unlock()
			return s3err(400, "EntityTooSmall", fmt.Sprintf("Your proposed upload is smaller than the minimum allowed object size: part %d is %d bytes; every part but the last must be at least %d bytes.", p.PartNumber, pt.size, st.opts.AbsoluteMinimumPartSize))
		}
		md.Write(pt.md5[:])
		segs = append(segs, pt.segs...)
		size += pt.size
		used[p.PartNumber] = true
	}
	var ops []dbOp
	for n, pt := range lf.parts {
		if st.p != nil {
			ops = append(ops, opDelPart(id, n))
		}
		if !used[n] {
			st.unpinSegs(pt.segs)
		}
	}
	delete(st.large, id)
	v := lf.v
	v.kind, v.size, v.segs = kindUpload, size, segs
	v.flags &^= fSHA1 | fMD5
	etag := fmt.Sprintf(`"%s-%d"`, hex.EncodeToString(md.Sum(nil)), len(req.Parts))
	x.s.s3.setETag(v.id, etag)
	ops = append(ops, st.opVersion(lf.b, lf.e.name, v, false))
	tk := st.journal(ops...)
	vid := fileIDString(b.ID, v.id)
	st.mu.Unlock()
	if err := st.sync(tk); err != nil {
		return err
	}
	x.w.Header().Set("X-Amz-Version-Id", vid)
	if lf.sse {
		x.w.Header().Set("X-Amz-Server-Side-Encryption", "AES256")
	}
	writeXML(x.w, 200, s3CompleteResult{NS: s3NS, Location: "/" + b.Name + "/" + x.key, Bucket: b.Name, Key: x.key, ETag: etag})
	return nil
}

func s3AbortMultipartUpload(x *s3req) error {
	b, err := x.objectBucket("writeFiles")
	if err != nil {
		return err
	}
	st := x.st
	st.mu.Lock()
	lf, id, err := x.uploadArg(b)
	if err != nil {
		st.mu.Unlock()
		return err
	}
	ops := append(st.dropLarge(id), opDelVersion(id))
	lf.b.removeVersion(lf.e, lf.v)
	tk := st.journal(ops...)
	st.mu.Unlock()
	if err := st.sync(tk); err != nil {
		return err
	}
	x.w.WriteHeader(http.StatusNoContent)
	return nil
}

func s3ListParts(x *s3req) error {
	b, err := x.objectBucket("writeFiles")
	if err != nil {
		return err
	}
	marker := 0
	if s := x.q.Get("part-number-marker"); s != "" {
		if marker, err = strconv.Atoi(s); err != nil || marker < 0 {
			return errInvalidArgument("part-number-marker must be a non-negative integer")
		}
	}
	max, err := x.maxKeys("max-parts")
	if err != nil {
		return err
	}
	st := x.st
	st.mu.RLock()
	lf, _, err := x.uploadArg(b)
	if err != nil {
		st.mu.RUnlock()
		return err
	}
	var nums []int
	for n := range lf.parts {
		if n > marker {
			nums = append(nums, n)
		}
	}
	sort.Ints(nums)
	res := s3ListPartsResult{NS: s3NS, Bucket: b.Name, Key: x.key, UploadID: x.q.Get("uploadId"), Initiator: x.owner(),
		Owner: x.owner(), StorageClass: "STANDARD", PartNumberMarker: marker, MaxParts: max}
	if len(nums) > max {
		nums = nums[:max]
		res.IsTruncated = true
	}
	for _, n := range nums {
		pt := lf.parts[n]
		res.Parts = append(res.Parts, s3PartXML{PartNumber: n, LastModified: s3Time(pt.ts), ETag: partETag(pt), Size: pt.size})
	}
	st.mu.RUnlock()
	if len(nums) > 0 {
		res.NextPartNumberMarker = nums[len(nums)-1]
	}
	writeXML(x.w, 200, res)
	return nil
}

func s3ListMultipartUploads(x *s3req) error {
	b, err := x.bucketFor("listFiles")
	if err != nil {
		return err
	}
	prefix, delim := x.q.Get("prefix"), x.q.Get("delimiter")
	if err := x.checkListPrefix(prefix); err != nil {
		return err
	}
	max, err := x.maxKeys("max-uploads")
	if err != nil {
		return err
	}
	keyMarker, idMarker := x.q.Get("key-marker"), x.q.Get("upload-id-marker")
	var mid uint64
	if idMarker != "" && keyMarker != "" {
		if _, id, ok := parseFileID(idMarker); ok {
			mid = id
		}
	}
	res := s3ListUploadsResult{NS: s3NS, Bucket: b.Name, KeyMarker: keyMarker, UploadIDMarker: idMarker, Prefix: prefix, Delimiter: delim, MaxUploads: max}
	st := x.st
	st.mu.RLock()
	lfs := st.s3Uploads(b, prefix, keyMarker, mid)
	count := 0
	lastKey, lastID := "", ""
	seen := map[string]bool{}
	for _, lf := range lfs {
		name := lf.e.name
		if delim != "" {
			if i := strings.Index(name[len(prefix):], delim); i >= 0 {
				cp := name[:len(prefix)+i+len(delim)]
				if seen[cp] || (keyMarker != "" && cp <= keyMarker) {
					continue
				}
				if count == max {
					res.IsTruncated = true
					break
				}
				seen[cp] = true
				res.CommonPrefixes = append(res.CommonPrefixes, s3Prefix{Prefix: cp})
				count++
				lastKey, lastID = cp, ""
				continue
			}
		}
		if count == max {
			res.IsTruncated = true
			break
		}
		uid := fileIDString(b.ID, lf.v.id)
		res.Uploads = append(res.Uploads, s3UploadXML{Key: name, UploadID: uid, Initiator: x.owner(), Owner: x.owner(),
			StorageClass: "STANDARD", Initiated: s3Time(lf.v.ts)})
		count++
		lastKey, lastID = name, uid
	}
	st.mu.RUnlock()
	if res.IsTruncated {
		res.NextKeyMarker, res.NextUploadIDMarker = lastKey, lastID
	}
	writeXML(x.w, 200, res)
	return nil
}

// partTarget is the preamble of UploadPart and UploadPartCopy:
// objectBucket("writeFiles"), then the partNumber query parameter.
func (x *s3req) partTarget() (*bucket, int, error) {
	b, err := x.objectBucket("writeFiles")
	if err != nil {
		return nil, 0, err
	}
	n, err := x.partNumber()
	if err != nil {
		return nil, 0, err
	}
	return b, n, nil
}
