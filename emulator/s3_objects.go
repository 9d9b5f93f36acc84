package emulator

import (
	"crypto/md5"
	"crypto/sha1"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// etag is the S3 ETag of a version: the MD5 hex for simple uploads and
// copies, "md5-of-md5s-N" for objects completed by CompleteMultipartUpload.
// Large files finished through the native API (and multipart objects after
// a restart, whose ETag is kept in memory only) get a stable stand-in,
// "<md5 of the file id>-1".
func (s *Server) etag(b *bucket, v *version) string {
	if v.flags&fMD5 != 0 {
		return `"` + hex.EncodeToString(v.md5[:]) + `"`
	}
	if e, ok := s.s3.getETag(v.id); ok {
		return e
	}
	sum := md5.Sum([]byte(fileIDString(b.ID, v.id, v.ts)))
	return `"` + hex.EncodeToString(sum[:]) + `-1"`
}

func unquote(etag string) string { return strings.Trim(strings.TrimSpace(etag), `"`) }

// s3HeaderInfo maps S3 system metadata headers to B2's reserved file info.
var s3HeaderInfo = []struct{ header, info string }{
	{"Content-Disposition", "b2-content-disposition"},
	{"Content-Language", "b2-content-language"},
	{"Expires", "b2-expires"},
	{"Cache-Control", "b2-cache-control"},
	{"Content-Encoding", "b2-content-encoding"},
}

// metaFromHeaders reads Content-Type, x-amz-meta-* and the system metadata
// headers of an upload into a content type and B2 file info.
func (x *s3req) metaFromHeaders(name string) (string, []kv, error) {
	h := x.r.Header
	ct := h.Get("Content-Type")
	if ct == "" {
		ct = "application/octet-stream"
	}
	ct, err := contentType(ct, name)
	if err != nil {
		return "", nil, errInvalidArgument(err.(*apiError).msg)
	}
	var info []kv
	for k, vs := range h {
		if len(k) > 11 && lower(k[:11]) == "x-amz-meta-" {
			info = append(info, kv{lower(k[11:]), strings.Join(vs, ",")})
		}
	}
	for _, m := range s3HeaderInfo {
		v := h.Get(m.header)
		if m.header == "Content-Encoding" {
			// Stored as sent ("deflate, gzip"), less the aws-chunked
			// transfer coding, as S3 does.
			var keep []string
			for _, p := range strings.Split(v, ",") {
				if t := strings.TrimSpace(p); t != "" && t != "aws-chunked" {
					keep = append(keep, p)
				}
			}
			v = strings.TrimSpace(strings.Join(keep, ","))
		}
		if v != "" {
			info = append(info, kv{m.info, v})
		}
	}
	info = sortInfo(info)
	if err := validInfo(info); err != nil {
		return "", nil, errInvalidArgument(err.(*apiError).msg)
	}
	return ct, info, nil
}

func metadataTooLarge(err error) error {
	if err == nil {
		return nil
	}
	return s3err(400, "MetadataTooLarge", "Your metadata headers exceed the maximum allowed metadata size: "+err.(*apiError).msg)
}

// lockFromS3Headers reads the x-amz-object-lock-* headers.
func (x *s3req) lockFromS3Headers() (lockReq, error) {
	var lr lockReq
	h := x.r.Header
	mode, until := h.Get("X-Amz-Object-Lock-Mode"), h.Get("X-Amz-Object-Lock-Retain-Until-Date")
	if mode != "" || until != "" {
		if mode == "" || until == "" {
			return lr, errInvalidArgument("x-amz-object-lock-mode and x-amz-object-lock-retain-until-date must both be supplied")
		}
		if !x.k.has("writeFileRetentions") {
			return lr, errAccessDenied("object lock retention needs the writeFileRetentions capability")
		}
		t, err := time.Parse(time.RFC3339, until)
		if err != nil {
			return lr, errInvalidArgument("x-amz-object-lock-retain-until-date must be an ISO 8601 date")
		}
		switch mode {
		case "GOVERNANCE":
			lr.retMode = retGovernance
		case "COMPLIANCE":
			lr.retMode = retCompliance
		default:
			return lr, errInvalidArgument("x-amz-object-lock-mode must be GOVERNANCE or COMPLIANCE")
		}
		lr.hasRet, lr.until = true, t.UnixMilli()
	}
	if s := h.Get("X-Amz-Object-Lock-Legal-Hold"); s != "" {
		if !x.k.has("writeFileLegalHolds") {
			return lr, errAccessDenied("legal hold needs the writeFileLegalHolds capability")
		}
		switch s {
		case "ON":
			lr.hold = holdOn
		case "OFF":
			lr.hold = holdOff
		default:
			return lr, errInvalidArgument("x-amz-object-lock-legal-hold must be ON or OFF")
		}
	}
	return lr, nil
}

func (x *s3req) sseFromHeaders() (bool, error) {
	h := x.r.Header
	if h.Get("X-Amz-Server-Side-Encryption-Customer-Algorithm") != "" || h.Get("X-Amz-Copy-Source-Server-Side-Encryption-Customer-Algorithm") != "" {
		return false, errNotImplemented("SSE-C is not supported by b2local")
	}
	switch s := h.Get("X-Amz-Server-Side-Encryption"); s {
	case "":
		return false, nil
	case "AES256":
		return true, nil
	default:
		return false, errInvalidArgument(fmt.Sprintf("x-amz-server-side-encryption %q is not supported; use AES256", s))
	}
}

// readContent reads an upload body through payload verification into a blob.
func (x *s3req) readContent(limit int64) (*content, error) {
	bd, err := x.body()
	if err != nil {
		return nil, err
	}
	if bd.n > limit {
		return nil, s3err(400, "EntityTooLarge", fmt.Sprintf("Your proposed upload of %d bytes exceeds the maximum allowed size of %d bytes.", bd.n, limit))
	}
	w, err := x.st.newBlobWriter(bd.n)
	if err != nil {
		return nil, x.st.contentFailed(err)
	}
	sh, md := sha1.New(), md5.New()
	ws := append([]io.Writer{w, sh, md}, bd.sums.writers()...)
	if _, err := io.CopyN(io.MultiWriter(ws...), bd.r, bd.n); err != nil {
		w.abort()
		if isDiskError(err) {
			return nil, x.st.contentFailed(err)
		}
		return nil, asS3BodyErr(err)
	}
	if err := bd.check(nil); err != nil {
		w.abort()
		return nil, err
	}
	ct := &content{size: bd.n, flags: fSHA1 | fMD5}
	sh.Sum(ct.sha1[:0])
	md.Sum(ct.md5[:0])
	b, err := w.finish(bd.n)
	if err != nil {
		return nil, x.st.contentFailed(err)
	}
	ct.blob = b
	return ct, nil
}

// ---- object headers and conditional requests ----

var lockModeS3 = [...]string{"", "GOVERNANCE", "COMPLIANCE"}

func (x *s3req) setObjectHeaders(b *bucket, v *version) {
	h := x.w.Header()
	h.Set("ETag", x.s.etag(b, v))
	h.Set("Last-Modified", httpTime(v.ts))
	h.Set("Content-Type", v.ctype)
	h.Set("X-Amz-Version-Id", fileIDString(b.ID, v.id, v.ts))
	h.Set("Accept-Ranges", "bytes")
	if v.repl != replNone {
		h.Set("X-Amz-Replication-Status", strings.ToUpper(replStrings[v.repl]))
	}
	for _, e := range v.info {
		if hdr, ok := reservedInfo[e.k]; ok {
			h.Set(hdr, e.v)
			continue
		}
		h["x-amz-meta-"+e.k] = []string{e.v} // as S3 sends it; h.Set would canonicalise
	}
	if v.flags&fSSE != 0 {
		h.Set("X-Amz-Server-Side-Encryption", "AES256")
	}
	if b.Lock && x.k != nil {
		if v.retMode != retNone && x.k.has("readFileRetentions") {
			h.Set("X-Amz-Object-Lock-Mode", lockModeS3[v.retMode])
			h.Set("X-Amz-Object-Lock-Retain-Until-Date", time.UnixMilli(v.retainUntil).UTC().Format(time.RFC3339))
		}
		if v.hold != holdUnset && x.k.has("readFileLegalHolds") {
			s := "OFF"
			if v.hold == holdOn {
				s = "ON"
			}
			h.Set("X-Amz-Object-Lock-Legal-Hold", s)
		}
	}
}

func etagMatches(list, etag string) bool {
	for _, e := range strings.Split(list, ",") {
		e = strings.TrimSpace(e)
		if e == "*" || unquote(strings.TrimPrefix(e, "W/")) == unquote(etag) {
			return true
		}
	}
	return false
}

// preconditions evaluates If-* headers (prefix "" or "X-Amz-Copy-Source-");
// notModified reports a 304 for reads.
func preconditions(h http.Header, prefix, etag string, ts int64) (notModified bool, err error) {
	failed := s3err(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
	mod := time.UnixMilli(ts).Truncate(time.Second)
	im, inm := h.Get(prefix+"If-Match"), h.Get(prefix+"If-None-Match")
	if im != "" {
		if !etagMatches(im, etag) {
			return false, failed
		}
	} else if s := h.Get(prefix + "If-Unmodified-Since"); s != "" {
		if t, err := http.ParseTime(s); err == nil && mod.After(t) {
			return false, failed
		}
	}
	if inm != "" {
		if etagMatches(inm, etag) {
			return true, nil
		}
	} else if s := h.Get(prefix + "If-Modified-Since"); s != "" {
		if t, err := http.ParseTime(s); err == nil && !mod.After(t) {
			return true, nil
		}
	}
	return false, nil
}

// ---- GetObject / HeadObject ----

func s3GetObject(x *s3req) error  { return x.getObject() }
func s3HeadObject(x *s3req) error { return x.getObject() }

// parseVersionID resolves a versionId for bucket b.
func parseVersionID(b *bucket, vid string) (uint64, error) {
	bid, id, ok := parseFileID(vid)
	if !ok || bid != b.ID {
		return 0, errInvalidArgument("Invalid version id specified: " + vid)
	}
	return id, nil
}

func noSuchVersion(vid string) *s3Error {
	return s3err(404, "NoSuchVersion", "The specified version does not exist: "+vid)
}

// readableVersion finds the version a read or copy addresses (store.mu held).
// forCopy turns "is a delete marker" into InvalidRequest.
func (x *s3req) readableVersion(b *bucket, key, vid string, forCopy bool) (*version, error) {
	if vid != "" {
		id, err := parseVersionID(b, vid)
		if err != nil {
			return nil, err
		}
		e, v := b.find(id)
		if v == nil || e.name != key || v.kind == kindStart {
			return nil, noSuchVersion(vid)
		}
		if v.kind == kindHide {
			if forCopy {
				return nil, s3err(400, "InvalidRequest", "The source of a copy request may not specifically refer to a delete marker by version id.")
			}
			e := s3err(405, "MethodNotAllowed", "The specified method is not allowed against this resource.")
			e.header = map[string]string{"X-Amz-Delete-Marker": "true", "X-Amz-Version-Id": vid, "Last-Modified": httpTime(v.ts)}
			return nil, e
		}
		return v, nil
	}
	var v *version
	if e := b.entry(key); e != nil {
		v = e.current()
	}
	if v == nil {
		return nil, errNoSuchKey(key)
	}
	if v.kind == kindHide {
		e := errNoSuchKey(key)
		if !forCopy {
			e.header = map[string]string{"X-Amz-Delete-Marker": "true", "X-Amz-Version-Id": fileIDString(b.ID, v.id, v.ts)}
		}
		return nil, e
	}
	return v, nil
}

var responseOverrides = []struct{ param, header string }{
	{"response-content-type", "Content-Type"},
	{"response-content-language", "Content-Language"},
	{"response-expires", "Expires"},
	{"response-cache-control", "Cache-Control"},
	{"response-content-disposition", "Content-Disposition"},
	{"response-content-encoding", "Content-Encoding"},
}

func (x *s3req) getObject() error {
	b, err := x.lookupBucket(x.bucket)
	if err != nil {
		if x.k == nil {
			return errAccessDenied("Access Denied")
		}
		return err
	}
	if x.k == nil {
		if b.Type != "allPublic" {
			return errAccessDenied("anonymous reads need a public bucket")
		}
	} else if err := x.need("readFiles"); err != nil {
		return err
	}
	if err := x.checkName(x.key); err != nil {
		return err
	}
	st := x.st
	o, err := st.open(func() (*bucket, string, *version, error) {
		if !st.alive(b) {
			return nil, "", nil, errNoSuchBucket(b.Name)
		}
		v, err := x.readableVersion(b, x.key, x.q.Get("versionId"), false)
		return b, x.key, v, err
	})
	if err != nil {
		return err
	}
	defer st.release(o)
	snap := o.v
	etag := x.s.etag(b, &snap)
	notMod, err := preconditions(x.r.Header, "", etag, snap.ts)
	if err != nil {
		return err
	}
	h := x.w.Header()
	if notMod {
		h.Set("ETag", etag)
		h.Set("Last-Modified", httpTime(snap.ts))
		x.w.WriteHeader(http.StatusNotModified)
		return nil
	}
	x.setObjectHeaders(&o.bk, &snap)
	for _, o := range responseOverrides {
		if x.q.Has(o.param) {
			if x.k == nil {
				return errInvalidArgument("response-* overrides need a signed request")
			}
			h.Set(o.header, x.q.Get(o.param))
		}
	}
	size := snap.size
	off, n := int64(0), size
	status := 200
	if pn := x.q.Get("partNumber"); pn != "" {
		if pn != "1" {
			return s3err(416, "InvalidPartNumber", "The requested partnumber is not satisfiable")
		}
	}
	if rh := x.r.Header.Get("Range"); rh != "" && size > 0 {
		if off, n, err = parseRange(rh, size); err != nil {
			e := s3err(416, "InvalidRange", "The requested range is not satisfiable")
			e.header = map[string]string{"Content-Range": fmt.Sprintf("bytes */%d", size)}
			return e
		}
		status = 206
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", off, off+n-1, size))
	} else if rh != "" {
		// a range on an empty object: S3 answers 416
		e := s3err(416, "InvalidRange", "The requested range is not satisfiable")
		e.header = map[string]string{"Content-Range": "bytes */0"}
		return e
	}
	h.Set("Content-Length", strconv.FormatInt(n, 10))
	x.w.WriteHeader(status)
	if x.r.Method == http.MethodHead || n == 0 {
		return nil
	}
	_ = st.writeSegs(x.w, snap.segs, off, n) // headers are gone; a short body tells the client
	return nil
}

// ---- PutObject ----

// writePreconditions checks If-Match / If-None-Match on a write against the
// current version (store.mu held).
func (x *s3req) writePreconditions(b *bucket, key string) error {
	im, inm := x.r.Header.Get("If-Match"), x.r.Header.Get("If-None-Match")
	if im == "" && inm == "" {
		return nil
	}
	var cur *version
	if e := b.entry(key); e != nil {
		if c := e.current(); c != nil && c.kind == kindUpload {
			cur = c
		}
	}
	failed := s3err(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
	if inm != "" {
		if inm != "*" {
			return errNotImplemented("If-None-Match on writes supports only *")
		}
		if cur != nil {
			return failed
		}
	}
	if im != "" {
		if cur == nil {
			return errNoSuchKey(key)
		}
		if !etagMatches(im, x.s.etag(b, cur)) {
			return failed
		}
	}
	return nil
}

func (x *s3req) validKey() error {
	if len(x.key) > 1024 {
		return s3err(400, "KeyTooLongError", "Your key is too long")
	}
	if err := validFileName(x.key); err != nil {
		return errInvalidArgument(err.(*apiError).msg)
	}
	return nil
}

func s3PutObject(x *s3req) error {
	b, nf, err := x.newObject()
	if err != nil {
		return err
	}
	st := x.st
	check := func(b *bucket) error { return x.writePreconditions(b, x.key) }
	if err := st.checkUpload(b.ID, x.key, nf, check); err != nil {
		return x.refusal(err, b.Name)
	}
	body, err := x.readContent(maxSingleFile)
	if err != nil {
		return err
	}
	f, err := st.putVersion(b.ID, x.key, nf, body, check)
	if err != nil {
		return x.refusal(err, b.Name)
	}
	v := &f.v
	etag := x.s.etag(b, v)
	vid := fileIDString(b.ID, v.id, v.ts)
	h := x.w.Header()
	h.Set("ETag", etag)
	h.Set("X-Amz-Version-Id", vid)
	if v.flags&fSSE != 0 {
		h.Set("X-Amz-Server-Side-Encryption", "AES256")
	}
	h.Set("Content-Length", "0")
	x.w.WriteHeader(200)
	return nil
}

// ---- copies ----

// copySource parses x-amz-copy-source: [/]bucket/key[?versionId=…], URL-encoded.
func (x *s3req) copySource() (string, string, string, error) {
	raw := x.r.Header.Get("X-Amz-Copy-Source")
	path, query, _ := strings.Cut(raw, "?")
	p, err := url.PathUnescape(path)
	if err != nil {
		return "", "", "", errInvalidArgument("x-amz-copy-source is not URL-encoded correctly")
	}
	bname, key := splitS3Path("/" + strings.TrimPrefix(p, "/"))
	if bname == "" || key == "" {
		return "", "", "", errInvalidArgument("x-amz-copy-source must be bucket/key")
	}
	vid := ""
	if query != "" {
		qv, err := url.ParseQuery(query)
		if err != nil {
			return "", "", "", errInvalidArgument("x-amz-copy-source has a malformed query")
		}
		vid = qv.Get("versionId")
	}
	return bname, key, vid, nil
}

// copySourceBucket resolves and authorizes the source of a copy.
func (x *s3req) copySourceBucket() (*bucket, string, string, error) {
	bname, key, vid, err := x.copySource()
	if err != nil {
		return nil, "", "", err
	}
	sb, err := x.lookupBucket(bname)
	if err != nil {
		return nil, "", "", err
	}
	if err := x.checkName(key); err != nil {
		return nil, "", "", err
	}
	if sb.Type != "allPublic" && !x.k.has("readFiles") {
		return nil, "", "", errAccessDenied("copying from a private bucket needs the readFiles capability")
	}
	return sb, key, vid, nil
}

// copySourceVersion resolves the copy source version (store.mu held) and
// applies the X-Amz-Copy-Source-If-* preconditions (412 when one fails).
func (x *s3req) copySourceVersion(sb *bucket, key, vid string) (*version, error) {
	sv, err := x.readableVersion(sb, key, vid, true)
	if err != nil {
		return nil, err
	}
	if nm, err := preconditions(x.r.Header, "X-Amz-Copy-Source-", x.s.etag(sb, sv), sv.ts); err != nil || nm {
		return nil, s3err(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
	}
	return sv, nil
}

// copySourceOf is the source of CopyObject / UploadPartCopy: both buckets
// must still exist, then the version (readableVersion) and the
// X-Amz-Copy-Source-If-* preconditions. The caller sets span.
func (x *s3req) copySourceOf(sb *bucket, key, vid string, db *bucket) copySource {
	return copySource{find: func() (*bucket, string, *version, error) {
		if !x.st.alive(sb) {
			return nil, "", nil, errNoSuchBucket(sb.Name)
		}
		if db != nil && !x.st.alive(db) {
			return nil, "", nil, errNoSuchBucket(db.Name)
		}
		sv, err := x.copySourceVersion(sb, key, vid)
		if err != nil {
			return nil, "", nil, err
		}
		return sb, key, sv, nil
	}}
}

// s3Rehash: a copy keeps the source's digests when it has an MD5 (the
// ETag); otherwise (a large-file source) both are computed from the bytes.
func s3Rehash(sv *version, off, n int64) bool { return sv.flags&fMD5 == 0 }

// refusal words a store refusal the S3 way (bucketName for NoSuchBucket).
func (x *s3req) refusal(err error, bucketName string) error {
	se, ok := err.(*storeError)
	if !ok {
		return err
	}
	switch se.kind {
	case refNoBucket:
		return errNoSuchBucket(bucketName)
	case refBudget:
		return metadataTooLarge(se.apiError)
	case refLock:
		return s3err(400, "InvalidRequest", se.msg)
	case refNoLarge:
		return errNoSuchUpload(x.q.Get("uploadId"))
	}
	return err
}

func s3CopyObject(x *s3req) error {
	db, err := x.newObjectTarget()
	if err != nil {
		return err
	}
	sb, skey, svid, err := x.copySourceBucket()
	if err != nil {
		return err
	}
	directive := x.r.Header.Get("X-Amz-Metadata-Directive")
	var newCT string
	var newInfo []kv
	switch directive {
	case "", "COPY":
		directive = "COPY"
	case "REPLACE":
		if newCT, newInfo, err = x.metaFromHeaders(x.key); err != nil {
			return err
		}
	default:
		return errInvalidArgument("Unknown metadata directive: " + directive)
	}
	sse, err := x.sseFromHeaders()
	if err != nil {
		return err
	}
	lr, err := x.lockFromS3Headers()
	if err != nil {
		return err
	}
	if sb == db && skey == x.key && svid == "" && directive == "COPY" && !sse {
		return s3err(400, "InvalidRequest", "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
	}
	drain(x.r)
	st := x.st
	src := x.copySourceOf(sb, skey, svid, db)
	src.span = func(size int64) (int64, int64, error) {
		if size > st.opts.MaxCopySize {
			return 0, 0, s3err(400, "InvalidRequest", fmt.Sprintf("The specified copy source is larger than the maximum allowable size for a copy source: %d", st.opts.MaxCopySize))
		}
		return 0, size, nil
	}
	nf := &newFile{ctype: newCT, info: newInfo, sse: sse, lock: lr}
	f, from, err := st.copyVersion(db.ID, x.key, nf, directive == "COPY", src, s3Rehash)
	if err != nil {
		return x.refusal(err, db.Name)
	}
	v := &f.v
	etag := x.s.etag(db, v)
	vid := fileIDString(db.ID, v.id, v.ts)
	srcVID := fileIDString(sb.ID, from.v.id, from.v.ts)
	h := x.w.Header()
	h.Set("X-Amz-Version-Id", vid)
	h.Set("X-Amz-Copy-Source-Version-Id", srcVID)
	if v.flags&fSSE != 0 {
		h.Set("X-Amz-Server-Side-Encryption", "AES256")
	}
	writeXML(x.w, 200, s3CopyResult{XMLName: xml.Name{Local: "CopyObjectResult"}, NS: s3NS, ETag: etag, LastModified: s3Time(v.ts)})
	return nil
}

// ---- deletes ----

// deleteItem parses one delete of key (a delete marker when vid is empty).
func (x *s3req) deleteItem(b *bucket, key, vid string) deleteItem {
	it := deleteItem{name: key, fid: vid}
	if vid != "" {
		it.id, it.err = parseVersionID(b, vid)
	}
	return it
}

// deleted words what the store did with one delete the S3 way: hiding a
// name with no visible version, or removing a version already gone, is a
// success; a name hidden already reports its marker.
func (x *s3req) deleted(it deleteItem, r deleteResult) (s3Deleted, error) {
	out := s3Deleted{Key: it.name, VersionID: it.fid}
	switch refusalOf(r.err) {
	case 0:
		if r.err != nil {
			return out, r.err
		}
	case refNoFile, refNoVersion:
		return out, nil
	case refOtherName:
		// Stricter than AWS (doc.go): deleting nothing must not look like success.
		return out, errInvalidArgument("Invalid version id specified: " + it.fid + " is a version of another key, not of " + it.name)
	case refHidden:
	default:
		return out, r.err
	}
	if r.f.v.kind == kindHide {
		out.DeleteMarker, out.DeleteMarkerVersionID = true, fileIDString(r.f.b.ID, r.f.v.id, r.f.v.ts)
	}
	if it.id != 0 {
		x.s.s3.dropETag(it.id)
	}
	return out, nil
}

func (x *s3req) bypassGovernance() (bool, error) {
	if lower(x.r.Header.Get("X-Amz-Bypass-Governance-Retention")) != "true" {
		return false, nil
	}
	if !x.k.has("bypassGovernance") {
		return false, errAccessDenied("bypassing governance retention needs the bypassGovernance capability")
	}
	return true, nil
}

// deleteCap checks the capability a delete needs: removing a version needs
// deleteFiles; adding a delete marker (a B2 hide marker, which the native
// API allows with writeFiles) needs deleteFiles or writeFiles.
func (x *s3req) deleteCap(vid string) error {
	if vid != "" || !x.k.has("writeFiles") {
		return x.need("deleteFiles")
	}
	return nil
}

func s3DeleteObject(x *s3req) error {
	b, err := x.bucketFor("")
	if err != nil {
		return err
	}
	if err := x.deleteCap(x.q.Get("versionId")); err != nil {
		return err
	}
	if err := x.checkName(x.key); err != nil {
		return err
	}
	bypass, err := x.bypassGovernance()
	if err != nil {
		return err
	}
	it := x.deleteItem(b, x.key, x.q.Get("versionId"))
	res, err := x.st.deleteBatch(b.ID, []deleteItem{it}, bypass)
	if err != nil {
		return x.refusal(err, b.Name)
	}
	d, err := x.deleted(it, res[0])
	if err != nil {
		return err
	}
	h := x.w.Header()
	if d.DeleteMarker {
		h.Set("X-Amz-Delete-Marker", "true")
	}
	if d.VersionID != "" {
		h.Set("X-Amz-Version-Id", d.VersionID)
	} else if d.DeleteMarkerVersionID != "" {
		h.Set("X-Amz-Version-Id", d.DeleteMarkerVersionID)
	}
	x.w.WriteHeader(http.StatusNoContent)
	return nil
}

func s3DeleteObjects(x *s3req) error {
	b, err := x.bucketFor("")
	if err != nil {
		return err
	}
	if !x.k.has("deleteFiles") && !x.k.has("writeFiles") {
		return errAccessDenied("application key has neither the deleteFiles nor the writeFiles capability")
	}
	body, err := x.readSmallBody(4 << 20)
	if err != nil {
		return err
	}
	var req s3DeleteRequest
	if err := xml.Unmarshal(body, &req); err != nil {
		return errMalformedXML(err.Error())
	}
	if len(req.Objects) == 0 || len(req.Objects) > 1000 {
		return errMalformedXML(fmt.Sprintf("a Delete request names 1 to 1000 objects, not %d", len(req.Objects)))
	}
	bypass, err := x.bypassGovernance()
	if err != nil {
		return err
	}
	items := make([]deleteItem, len(req.Objects))
	for i, o := range req.Objects {
		err := x.checkName(o.Key)
		if err == nil {
			err = x.deleteCap(o.VersionID)
		}
		if err == nil && o.Key == "" {
			err = errInvalidArgument("empty key")
		}
		if err != nil {
			items[i] = deleteItem{name: o.Key, fid: o.VersionID, err: err}
			continue
		}
		items[i] = x.deleteItem(b, o.Key, o.VersionID)
	}
	rs, err := x.st.deleteBatch(b.ID, items, bypass)
	if err != nil {
		return x.refusal(err, b.Name)
	}
	res := s3DeleteResult{NS: s3NS}
	for i, it := range items {
		d, err := x.deleted(it, rs[i])
		if err != nil {
			se := toS3Error(err)
			res.Errors = append(res.Errors, s3DeleteError{Key: it.name, VersionID: it.fid, Code: se.code, Message: se.msg})
			continue
		}
		if !req.Quiet {
			res.Deleted = append(res.Deleted, d)
		}
	}
	writeXML(x.w, 200, res)
	return nil
}

// objectBucket is the preamble of a call on the request's object key: the
// capability, the bucket (allow-list), then the key's namePrefix.
func (x *s3req) objectBucket(capability string) (*bucket, error) {
	b, err := x.bucketFor(capability)
	if err != nil {
		return nil, err
	}
	if err := x.checkName(x.key); err != nil {
		return nil, err
	}
	return b, nil
}

// newObjectTarget is objectBucket("writeFiles") for a call creating an
// object (PutObject, CopyObject, CreateMultipartUpload): the key is also
// validated.
func (x *s3req) newObjectTarget() (*bucket, error) {
	b, err := x.objectBucket("writeFiles")
	if err != nil {
		return nil, err
	}
	if err := x.validKey(); err != nil {
		return nil, err
	}
	return b, nil
}

// newObject is the preamble of a call creating an object from the request
// headers (PutObject, CreateMultipartUpload): newObjectTarget, then the
// headers describing the object in this order: content type and metadata,
// server-side encryption, Object Lock.
func (x *s3req) newObject() (*bucket, *newFile, error) {
	b, err := x.newObjectTarget()
	if err != nil {
		return nil, nil, err
	}
	nf := &newFile{}
	if nf.ctype, nf.info, err = x.metaFromHeaders(x.key); err != nil {
		return nil, nil, err
	}
	if nf.sse, err = x.sseFromHeaders(); err != nil {
		return nil, nil, err
	}
	if nf.lock, err = x.lockFromS3Headers(); err != nil {
		return nil, nil, err
	}
	return b, nf, nil
}
