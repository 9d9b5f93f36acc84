package emulator

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"net/http"
	"strconv"
)

// Multipart uploads map onto B2 large files: the upload id is the large
// file's id, parts are large-file parts, CompleteMultipartUpload finishes
// the large file with the listed parts (in S3 fashion: any ascending subset
// of the uploaded part numbers; unlisted parts are discarded).

// uploadArg finds the upload id's large file for this bucket and key (run
// by the store under the lock).
func (x *s3req) uploadArg(b *bucket) findLarge {
	return func() (*largeFile, error) {
		uid := x.q.Get("uploadId")
		bid, id, ok := parseFileID(uid)
		if !ok || bid != b.ID {
			return nil, errNoSuchUpload(uid)
		}
		lf := x.st.largeOf(b.ID, id)
		if lf == nil || lf.b != b || lf.e.name != x.key {
			return nil, errNoSuchUpload(uid)
		}
		return lf, nil
	}
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
	b, nf, err := x.newObject()
	if err != nil {
		return err
	}
	drain(x.r)
	f, err := x.st.startLarge(b.ID, x.key, nf)
	if err != nil {
		return x.refusal(err, b.Name)
	}
	if f.v.flags&fSSE != 0 {
		x.w.Header().Set("X-Amz-Server-Side-Encryption", "AES256")
	}
	writeXML(x.w, 200, s3InitiateResult{NS: s3NS, Bucket: b.Name, Key: x.key, UploadID: fileIDString(b.ID, f.v.id, f.v.ts)})
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
	lf, err := st.largeFile(x.uploadArg(b))
	if err != nil {
		return err
	}
	body, err := x.readContent(maxPartSize)
	if err != nil {
		return err
	}
	pt, err := st.putPart(lf, n, body)
	if err != nil {
		return x.refusal(err, b.Name)
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
	src := x.copySourceOf(sb, skey, svid, nil)
	src.span = func(size int64) (int64, int64, error) {
		off, n := int64(0), size
		if rng != "" {
			var err error
			if off, n, err = copyRange(rng, size); err != nil {
				return 0, 0, s3err(416, "InvalidRange", fmt.Sprintf("The x-amz-copy-source-range %q is not valid for a source object of %d bytes (want bytes=first-last)", rng, size))
			}
		}
		limit := st.opts.MaxCopySize
		if limit > maxPartSize {
			limit = maxPartSize
		}
		if n > limit {
			return 0, 0, s3err(400, "InvalidRequest", fmt.Sprintf("The specified copy source is larger than the maximum allowable size for a copy source: %d", limit))
		}
		return off, n, nil
	}
	pt, _, from, err := st.copyPart(x.uploadArg(b), n, src)
	if err != nil {
		return x.refusal(err, b.Name)
	}
	sv, sb := &from.v, from.b
	x.w.Header().Set("X-Amz-Copy-Source-Version-Id", fileIDString(sb.ID, sv.id, sv.ts))
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
	var etag string
	f, lf, err := st.finishLarge(x.uploadArg(b), func(lf *largeFile) ([]int, error) {
		nums, sum, err := st.s3Parts(lf, req.Parts)
		if err == nil {
			// visible with the version; dropped again if the commit fails
			etag = sum
			x.s.s3.setETag(lf.v.id, etag)
		}
		return nums, err
	})
	if err != nil {
		if lf != nil && etag != "" {
			x.s.s3.dropETag(lf.v.id)
		}
		return x.refusal(err, b.Name)
	}
	vid := fileIDString(b.ID, f.v.id, f.v.ts)
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
	if _, err := x.st.cancelLarge(x.uploadArg(b)); err != nil {
		return x.refusal(err, b.Name)
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
	res := s3ListPartsResult{NS: s3NS, Bucket: b.Name, Key: x.key, UploadID: x.q.Get("uploadId"), Initiator: x.owner(),
		Owner: x.owner(), StorageClass: "STANDARD", PartNumberMarker: marker, MaxParts: max}
	first := marker + 1
	if marker > 10000 {
		first = 10001 // part numbers end at 10000 (and marker+1 must not overflow)
	}
	pts, next, _, err := x.st.listParts(x.uploadArg(b), first, max)
	if err != nil {
		return err
	}
	res.IsTruncated = next != 0
	for _, pt := range pts {
		res.Parts = append(res.Parts, s3PartXML{PartNumber: pt.n, LastModified: s3Time(pt.ts), ETag: partETag(pt), Size: pt.size})
	}
	if len(pts) > 0 {
		res.NextPartNumberMarker = pts[len(pts)-1].n
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
	lfs := x.st.s3Uploads(b, prefix, keyMarker, mid)
	count := 0
	lastKey, lastID := "", ""
	seen := map[string]bool{}
	for _, lf := range lfs {
		name := lf.name
		if cp := folderOf(name, prefix, delim); cp != "" {
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
		if count == max {
			res.IsTruncated = true
			break
		}
		uid := fileIDString(b.ID, lf.id, lf.ts)
		res.Uploads = append(res.Uploads, s3UploadXML{Key: name, UploadID: uid, Initiator: x.owner(), Owner: x.owner(),
			StorageClass: "STANDARD", Initiated: s3Time(lf.ts)})
		count++
		lastKey, lastID = name, uid
	}
	if res.IsTruncated {
		res.NextKeyMarker, res.NextUploadIDMarker = lastKey, lastID
	}
	writeXML(x.w, 200, res)
	return nil
}

// s3CompletePart is one part of a CompleteMultipartUpload request.
type s3CompletePart = struct {
	PartNumber int    `xml:"PartNumber"`
	ETag       string `xml:"ETag"`
}

// s3Parts checks CompleteMultipartUpload's part list against the uploaded
// parts (store.mu held): ascending part numbers, each uploaded with that
// ETag, every part but the last at least the minimum part size. It returns
// the part numbers and the multipart ETag.
func (st *store) s3Parts(lf *largeFile, parts []s3CompletePart) ([]int, string, error) {
	prev := 0
	for _, p := range parts {
		if p.PartNumber <= prev {
			return nil, "", s3err(400, "InvalidPartOrder", "The list of parts was not in ascending order. The parts list must be specified in order by part number.")
		}
		prev = p.PartNumber
	}
	md := md5.New()
	nums := make([]int, len(parts))
	for i, p := range parts {
		pt := lf.parts[p.PartNumber]
		if pt == nil || unquote(p.ETag) != hex.EncodeToString(pt.md5[:]) {
			return nil, "", s3err(400, "InvalidPart", fmt.Sprintf("One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag. (part %d)", p.PartNumber))
		}
		if i < len(parts)-1 && pt.size < st.opts.AbsoluteMinimumPartSize {
			return nil, "", s3err(400, "EntityTooSmall", fmt.Sprintf("Your proposed upload is smaller than the minimum allowed object size: part %d is %d bytes; every part but the last must be at least %d bytes.", p.PartNumber, pt.size, st.opts.AbsoluteMinimumPartSize))
		}
		md.Write(pt.md5[:])
		nums[i] = p.PartNumber
	}
	return nums, fmt.Sprintf(`"%s-%d"`, hex.EncodeToString(md.Sum(nil)), len(parts)), nil
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
