package emulator

import (
	"crypto/md5"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

const maxSingleFile = 5_000_000_000

// ---- Object Lock helpers ----

type lockReq struct {
	hasRet  bool
	retMode uint8
	until   int64
	hold    uint8
}

type retentionReq struct {
	Mode                 *string `json:"mode"`
	RetainUntilTimestamp *int64  `json:"retainUntilTimestamp"`
}

func parseRetention(r retentionReq) (uint8, int64, error) {
	if r.Mode == nil {
		if r.RetainUntilTimestamp != nil {
			return 0, 0, errBadRequest("fileRetention: retainUntilTimestamp needs a mode")
		}
		return retNone, 0, nil
	}
	var m uint8
	switch *r.Mode {
	case "governance":
		m = retGovernance
	case "compliance":
		m = retCompliance
	default:
		return 0, 0, errBadRequest(fmt.Sprintf("fileRetention mode %q must be governance, compliance or null", *r.Mode))
	}
	if r.RetainUntilTimestamp == nil {
		return 0, 0, errBadRequest("fileRetention needs retainUntilTimestamp with a mode")
	}
	return m, *r.RetainUntilTimestamp, nil
}

func parseHold(s string) (uint8, error) {
	switch s {
	case "on":
		return holdOn, nil
	case "off":
		return holdOff, nil
	}
	return 0, errBadRequest(fmt.Sprintf("legalHold %q must be on or off", s))
}

// lockFromJSON reads fileRetention / legalHold request fields.
func (c *call) lockFromJSON(p *params, t *token) (lockReq, error) {
	var lr lockReq
	var rr retentionReq
	if ok, err := p.decode("fileRetention", &rr); err != nil {
		return lr, err
	} else if ok {
		if !t.key.has("writeFileRetentions") {
			return lr, errUnauthorized("fileRetention needs the writeFileRetentions capability")
		}
		m, u, err := parseRetention(rr)
		if err != nil {
			return lr, err
		}
		lr.hasRet, lr.retMode, lr.until = true, m, u
	}
	if s, ok, err := p.str("legalHold"); err != nil {
		return lr, err
	} else if ok {
		if lr.hold, err = holdArg(t, s, "legalHold"); err != nil {
			return lr, err
		}
	}
	return lr, nil
}

// fileMetaArgs checks the content type ctIn of a new file name and reads
// its fileInfo field.
func fileMetaArgs(p *params, ctIn, name string) (string, []kv, error) {
	ct, err := contentType(ctIn, name)
	if err != nil {
		return "", nil, err
	}
	var m map[string]string
	if _, err := p.decode("fileInfo", &m); err != nil {
		return "", nil, err
	}
	info := infoFromMap(m)
	if err := validInfo(info); err != nil {
		return "", nil, err
	}
	return ct, info, nil
}

// lockSSEArgs reads the Object Lock fields of a new file (lockFromJSON),
// then its server-side encryption field sseField.
func (c *call) lockSSEArgs(p *params, t *token, sseField string) (lockReq, bool, error) {
	lr, err := c.lockFromJSON(p, t)
	if err != nil {
		return lr, false, err
	}
	sse, err := sseArg(p, sseField)
	return lr, sse, err
}

// holdArg parses a legal hold asked for by field (on or off), which needs
// the writeFileLegalHolds capability.
func holdArg(t *token, s, field string) (uint8, error) {
	if !t.key.has("writeFileLegalHolds") {
		return 0, errUnauthorized(field + " needs the writeFileLegalHolds capability")
	}
	return parseHold(s)
}

func (c *call) lockFromHeaders(t *token) (lockReq, error) {
	var lr lockReq
	h := c.r.Header
	mode, until := h.Get("X-Bz-File-Retention-Mode"), h.Get("X-Bz-File-Retention-Retain-Until-Timestamp")
	if mode != "" || until != "" {
		if mode == "" || until == "" {
			return lr, errBadRequest("X-Bz-File-Retention-Mode and X-Bz-File-Retention-Retain-Until-Timestamp must be sent together")
		}
		if !t.key.has("writeFileRetentions") {
			return lr, errUnauthorized("file retention headers need the writeFileRetentions capability")
		}
		u, err := strconv.ParseInt(until, 10, 64)
		if err != nil {
			return lr, errBadRequest("X-Bz-File-Retention-Retain-Until-Timestamp must be milliseconds since the epoch")
		}
		m, _, err := parseRetention(retentionReq{Mode: &mode, RetainUntilTimestamp: &u})
		if err != nil {
			return lr, err
		}
		lr.hasRet, lr.retMode, lr.until = true, m, u
	}
	if s := h.Get("X-Bz-File-Legal-Hold"); s != "" {
		var err error
		if lr.hold, err = holdArg(t, s, "X-Bz-File-Legal-Hold"); err != nil {
			return lr, err
		}
	}
	return lr, nil
}

// fileRefObject encodes a version a store operation returned.
func (c *call) fileRefObject(f fileRef, action string) *fileJSON {
	return c.fileObject(f.b, f.name, &f.v, action)
}

// ---- content upload ----

type content struct {
	blob  *blob
	size  int64
	sha1  [20]byte
	md5   [16]byte
	flags uint8
}

// readContent reads an upload body (Content-Length bytes) and verifies its SHA-1.
func (c *call) readContent(limit int64) (*content, error) {
	r := c.r
	if r.ContentLength < 0 || r.Header.Get("Content-Length") == "" && r.ContentLength == 0 && r.Body != http.NoBody {
		return nil, errBadRequest("Content-Length header is required (chunked transfer encoding is not supported)")
	}
	cl := r.ContentLength
	shaHdr := r.Header.Get("X-Bz-Content-Sha1")
	if shaHdr == "" {
		return nil, errBadRequest("X-Bz-Content-Sha1 header is required (40 hex digits, hex_digits_at_end or do_not_verify)")
	}
	n := cl
	atEnd := false
	var want []byte
	switch {
	case shaHdr == "hex_digits_at_end":
		if cl < 40 {
			return nil, errBadRequest("hex_digits_at_end: body is shorter than 40 bytes")
		}
		n, atEnd = cl-40, true
	case shaHdr == "do_not_verify" || strings.HasPrefix(shaHdr, "unverified:"):
	default:
		b, err := hex.DecodeString(shaHdr)
		if err != nil || len(b) != 20 {
			return nil, errBadRequest("X-Bz-Content-Sha1 must be 40 hex digits, hex_digits_at_end or do_not_verify")
		}
		want = b
	}
	if n > limit {
		return nil, errBadRequest(fmt.Sprintf("content is %d bytes; the limit is %d", n, limit))
	}
	w, err := c.s.st.newBlobWriter(n)
	if err != nil {
		return nil, c.s.st.contentFailed(err)
	}
	sh, md := sha1.New(), md5.New()
	if _, err := io.CopyN(io.MultiWriter(w, sh, md), r.Body, n); err != nil {
		w.abort()
		if isDiskError(err) {
			return nil, c.s.st.contentFailed(err)
		}
		return nil, &apiError{status: 408, code: "request_timeout", msg: "request body ended before Content-Length bytes: " + err.Error()}
	}
	if atEnd {
		var tail [40]byte
		if _, err := io.ReadFull(r.Body, tail[:]); err != nil {
			w.abort()
			return nil, &apiError{status: 408, code: "request_timeout", msg: "request body ended before the trailing SHA-1"}
		}
		b, err := hex.DecodeString(string(tail[:]))
		if err != nil || len(b) != 20 {
			w.abort()
			return nil, errBadRequest("hex_digits_at_end: the last 40 bytes are not a hex SHA-1")
		}
		want = b
	}
	ct := &content{size: n, flags: fSHA1 | fMD5}
	sh.Sum(ct.sha1[:0])
	md.Sum(ct.md5[:0])
	if want != nil && string(want) != string(ct.sha1[:]) {
		w.abort()
		return nil, errBadRequest("Sha1 did not match data received")
	}
	if want == nil {
		ct.flags |= fUnverified
	}
	b, err := w.finish(n)
	if err != nil {
		return nil, c.s.st.contentFailed(err)
	}
	ct.blob = b
	return ct, nil
}

// ---- b2_get_upload_url / b2_upload_file ----

func opGetUploadURL(c *call) (any, error) {
	t, _, id, err := c.bucketArgs("writeFiles")
	if err != nil {
		return nil, err
	}
	st := c.s.st
	if _, err := st.bucketByID(id); err != nil {
		return nil, err
	}
	tok := st.issueToken(&token{kind: tokUpload, key: t.key, bucketID: id})
	return map[string]any{
		"bucketId":           id,
		"uploadUrl":          fmt.Sprintf("%s/b2api/v%d/b2_upload_file/%s/%s", c.baseURL(), c.v, id, randHex(8)),
		"authorizationToken": tok,
	}, nil
}

var forbiddenUploadHeaders = []string{"Content-Disposition", "Content-Encoding", "Content-Language", "Content-Location", "Content-Range", "Expires"}

// infoFromHeaders collects X-Bz-Info-* (case-insensitive, lowercased keys).
func infoFromHeaders(h http.Header) ([]kv, error) {
	var info []kv
	for k, vs := range h {
		if len(k) > 10 && strings.EqualFold(k[:10], "X-Bz-Info-") {
			val, err := decodeForm(vs[0])
			if err != nil {
				return nil, err
			}
			info = append(info, kv{lower(k[10:]), val})
		}
	}
	return sortInfo(info), nil
}

// uploadAuth is the preamble of upload_file and upload_part: POST only, the
// upload token of that kind (tokUpload or tokPart), issued for the bucket or
// large file named by the URL (urlID, its first path element), and not in use
// by another upload. It claims the token: the caller must release t.busy.
func (c *call) uploadAuth(kind uint8) (t *token, urlID string, err error) {
	if c.r.Method != http.MethodPost {
		return nil, "", errMethod(c.r.Method)
	}
	t, err = c.s.st.lookupToken(c.r.Header.Get("Authorization"), kind)
	if err != nil {
		return nil, "", err
	}
	c.tok = t
	urlID, _, _ = strings.Cut(c.tail, "/")
	ok := urlID == t.bucketID
	if kind == tokPart {
		bid, id, valid := parseFileID(urlID)
		ok = valid && bid == t.bucketID && id == t.fileID
	}
	if !ok {
		return nil, "", errCode(401, "bad_auth_token", "upload authorization token does not belong to this upload URL")
	}
	if !t.busy.CompareAndSwap(false, true) {
		return nil, "", errCode(400, "auth_token_limit", "more than one upload using auth token "+c.r.Header.Get("Authorization"))
	}
	return t, urlID, nil
}

func opUploadFile(c *call) (any, error) {
	t, _, err := c.uploadAuth(tokUpload)
	if err != nil {
		return nil, err
	}
	defer t.busy.Store(false)
	st := c.s.st
	if !t.key.has("writeFiles") {
		return nil, errUnauthorized("application key does not have the writeFiles capability")
	}
	h := c.r.Header
	rawName := h.Get("X-Bz-File-Name")
	if rawName == "" {
		return nil, errBadRequest("X-Bz-File-Name header is required")
	}
	name, err := decodeForm(rawName)
	if err != nil {
		return nil, err
	}
	if err := validFileName(name); err != nil {
		return nil, err
	}
	if err := t.checkName(name); err != nil {
		return nil, err
	}
	for _, f := range forbiddenUploadHeaders {
		if h.Get(f) != "" {
			return nil, errBadRequest(fmt.Sprintf("header %s must not be sent on upload; use X-Bz-Info-b2-%s", f, lower(f)))
		}
	}
	ct, err := contentType(h.Get("Content-Type"), name)
	if err != nil {
		return nil, err
	}
	info, err := infoFromHeaders(h)
	if err != nil {
		return nil, err
	}
	if err := validInfo(info); err != nil {
		return nil, err
	}
	lr, err := c.lockFromHeaders(t)
	if err != nil {
		return nil, err
	}
	sse := false
	switch s := h.Get("X-Bz-Server-Side-Encryption"); s {
	case "":
	case "AES256":
		sse = true
	default:
		return nil, errBadRequest(fmt.Sprintf("X-Bz-Server-Side-Encryption %q is not supported; use AES256", s))
	}
	if h.Get("X-Bz-Server-Side-Encryption-Customer-Algorithm") != "" || h.Get("X-Bz-Server-Side-Encryption-Customer-Key") != "" {
		return nil, errBadRequest("SSE-C is not supported by b2local")
	}
	var customTS int64
	if s := h.Get("X-Bz-Custom-Upload-Timestamp"); s != "" {
		customTS, err = strconv.ParseInt(s, 10, 64)
		if err != nil || customTS <= 0 || customTS > st.nowMs() {
			return nil, errBadRequest("X-Bz-Custom-Upload-Timestamp must be milliseconds since the epoch, not in the future")
		}
	}
	nf := &newFile{ctype: ct, info: info, sse: sse, lock: lr, customTS: customTS}
	if err := st.checkUpload(t.bucketID, name, nf, nil); err != nil {
		return nil, err
	}
	body, err := c.readContent(maxSingleFile)
	if err != nil {
		return nil, err
	}
	f, err := st.putVersion(t.bucketID, name, nf, body, nil)
	if err != nil {
		return nil, err
	}
	return c.fileRefObject(f, ""), nil
}

// ---- listing ----

// listCall is the preamble of the listing calls: authArgs("listFiles"),
// then listArgs.
func (c *call) listCall(prefixField string) (p *params, b *bucket, prefix string, max int, err error) {
	t, p, err := c.authArgs("listFiles")
	if err != nil {
		return nil, nil, "", 0, err
	}
	b, prefix, max, err = c.listArgs(p, t, prefixField)
	if err != nil {
		return nil, nil, "", 0, err
	}
	return p, b, prefix, max, nil
}

func (c *call) listArgs(p *params, t *token, prefixField string) (*bucket, string, int, error) {
	id, err := t.bucketArg(c.s.st, p)
	if err != nil {
		return nil, "", 0, err
	}
	prefix, err := p.optStr(prefixField)
	if err != nil {
		return nil, "", 0, err
	}
	if err := t.checkListPrefix(prefix); err != nil {
		return nil, "", 0, err
	}
	max, _, err := p.int("maxFileCount")
	if err != nil {
		return nil, "", 0, err
	}
	if max == 0 {
		max = 100
	}
	limit := int64(10000)
	if prefixField == "namePrefix" {
		limit = 100
	}
	if max < 1 || max > limit {
		return nil, "", 0, errCode(400, "out_of_range", fmt.Sprintf("maxFileCount must be between 1 and %d", limit))
	}
	if len(id) != 24 {
		return nil, "", 0, errCode(400, "invalid_bucket_id", "malformed bucketId: "+id)
	}
	b, err := c.s.st.bucketByID(id)
	if err != nil {
		return nil, "", 0, err
	}
	return b, prefix, int(max), nil
}

// page is what list_file_names and list_file_versions are asked for.
type page struct {
	p                    *params
	b                    *bucket
	prefix, start, delim string
	max                  int
}

// pageCall is the preamble of list_file_names and list_file_versions:
// listCall("prefix"), then startFileName and delimiter.
func (c *call) pageCall() (pg page, err error) {
	if pg.p, pg.b, pg.prefix, pg.max, err = c.listCall("prefix"); err != nil {
		return pg, err
	}
	if pg.start, err = pg.p.optStr("startFileName"); err != nil {
		return pg, err
	}
	pg.delim, err = pg.p.optStr("delimiter")
	return pg, err
}

func opListFileNames(c *call) (any, error) {
	pg, err := c.pageCall()
	if err != nil {
		return nil, err
	}
	b := pg.b
	snaps := getSnapList(pg.max)
	next, err := c.s.st.listNames(b, pg.start, pg.prefix, pg.delim, pg.max, snaps.add)
	if err != nil {
		snaps.release()
		return nil, err
	}
	c.units = billed(len(snaps.s))
	var nx any
	if next != "" {
		nx = next
	}
	out := getListBuf(len(snaps.s))
	out.b = c.appendFileList(out.b, b.ID, snaps.s, "nextFileName", nx)
	snaps.release()
	return out, nil
}

func opListFileVersions(c *call) (any, error) {
	pg, err := c.pageCall()
	if err != nil {
		return nil, err
	}
	p, b := pg.p, pg.b
	startFileID, hasStartID, err := p.str("startFileId")
	if err != nil {
		return nil, err
	}
	var startID uint64
	if hasStartID {
		if !p.has("startFileName") {
			return nil, errBadRequest("startFileId needs startFileName")
		}
		bid, id, ok := parseFileID(startFileID)
		if !ok || bid != b.ID {
			return nil, errCode(400, "invalid_file_id", "malformed startFileId: "+startFileID)
		}
		startID = id
	}
	snaps := getSnapList(pg.max)
	nextName, nextID, err := c.s.st.listVersions(b, pg.start, startID, pg.prefix, pg.delim, pg.max, snaps.add)
	if err != nil {
		snaps.release()
		return nil, err
	}
	c.units = billed(len(snaps.s))
	var nn, ni any
	if nextName != "" {
		nn = nextName
		if nextID != "" {
			ni = nextID
		}
	}
	out := getListBuf(len(snaps.s))
	out.b = c.appendFileList(out.b, b.ID, snaps.s, "nextFileName", nn, "nextFileId", ni)
	snaps.release()
	return out, nil
}

// ---- single-version calls ----

// fileArg resolves a fileId field: malformed → 400 bad_request, bucket not
// allowed → 401; the returned ids are checked by the caller under the lock.
func (c *call) fileArg(p *params, t *token, field string) (string, string, uint64, error) {
	fid, err := p.reqStr(field)
	if err != nil {
		return "", "", 0, err
	}
	bid, id, ok := parseFileID(fid)
	if !ok {
		return "", "", 0, errBadRequest(fmt.Sprintf("malformed %s: %s", field, fid))
	}
	if err := t.checkBucket(c.s.st, bid); err != nil {
		return "", "", 0, err
	}
	return fid, bid, id, nil
}

func opGetFileInfo(c *call) (any, error) {
	t, _, fid, bid, id, err := c.fileIDArgs("readFiles")
	if err != nil {
		return nil, err
	}
	f, ok := c.s.st.version(bid, id)
	if !ok {
		return nil, errNotFound("no such file: " + fid)
	}
	if err := t.checkName(f.name); err != nil {
		return nil, err
	}
	if f.v.kind == kindStart {
		return nil, errBadRequest("file " + fid + " is an unfinished large file")
	}
	return c.fileRefObject(f, ""), nil
}

func opHideFile(c *call) (any, error) {
	_, _, id, name, err := c.bucketFileArgs("writeFiles")
	if err != nil {
		return nil, err
	}
	f, err := c.s.st.hide(id, name)
	if err != nil {
		return nil, err
	}
	return c.fileRefObject(f, ""), nil
}

func opDeleteFileVersion(c *call) (any, error) {
	t, p, err := c.authArgs("deleteFiles")
	if err != nil {
		return nil, err
	}
	name, fid, bid, id, err := c.versionArgs(p, t)
	if err != nil {
		return nil, err
	}
	bypass, err := bypassArg(p, t)
	if err != nil {
		return nil, err
	}
	if _, err := c.s.st.deleteVersion(bid, id, name, fid, bypass); err != nil {
		return nil, err
	}
	return map[string]any{"fileId": fid, "fileName": name}, nil
}

// ---- b2_copy_file ----

// copyRange parses a copy range strictly: both ends given, within the source.
func copyRange(s string, size int64) (int64, int64, error) {
	spec, ok := strings.CutPrefix(s, "bytes=")
	a, b, ok2 := strings.Cut(spec, "-")
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	if !ok || !ok2 || err1 != nil || err2 != nil || start < 0 || end < start {
		return 0, 0, errCode(416, "range_not_satisfiable", fmt.Sprintf("invalid range %q (want bytes=start-end)", s))
	}
	if end >= size {
		return 0, 0, errCode(416, "range_not_satisfiable", fmt.Sprintf("range %q is outside the source (%d bytes)", s, size))
	}
	return start, end - start + 1, nil
}

// copySpan is the byte span a copy takes from a source of size bytes: all of
// it, or the optional range field ("bytes=a-b", checked by copyRange).
func copySpan(rng string, hasRange bool, size int64) (off, n int64, err error) {
	if !hasRange {
		return 0, size, nil
	}
	return copyRange(rng, size)
}

// copySourceArg is the source of copy_file/copy_part, resolved under the
// lock in this order: unknown → 404 not_found, name outside the key's
// namePrefix → 401, private bucket without readFiles → 401, not an uploaded
// version → 400; then the range (416) and the size limit.
func (c *call) copySourceArg(t *token, fid, bid string, id uint64, rng string, hasRange bool, tooLarge func(n int64) error) copySource {
	st := c.s.st
	return copySource{
		find: func() (*bucket, string, *version, error) {
			sb, se, sv := st.find(bid, id)
			if sv == nil {
				return nil, "", nil, errNotFound("source file not found: " + fid)
			}
			if err := t.checkName(se.name); err != nil {
				return nil, "", nil, err
			}
			if sb.Type != "allPublic" && !t.key.has("readFiles") {
				return nil, "", nil, errUnauthorized("copying from a private bucket needs the readFiles capability")
			}
			if sv.kind != kindUpload {
				return nil, "", nil, errBadRequest("source " + fid + " is not an uploaded file version")
			}
			return sb, se.name, sv, nil
		},
		span: func(size int64) (int64, int64, error) {
			off, n, err := copySpan(rng, hasRange, size)
			if err == nil {
				err = tooLarge(n)
			}
			return off, n, err
		},
	}
}

// nativeRehash: a copy keeps the source's digests, except a sub-range of a
// small file, which is hashed (large-file sources stay "none").
func nativeRehash(sv *version, off, n int64) bool {
	return !(off == 0 && n == sv.size) && sv.flags&fSHA1 != 0
}

// copyCall is the preamble of copy_file and copy_part: authArgs
// ("writeFiles"), then sourceFileId.
func (c *call) copyCall() (t *token, p *params, srcFID, srcBID string, srcID uint64, err error) {
	if t, p, err = c.authArgs("writeFiles"); err != nil {
		return nil, nil, "", "", 0, err
	}
	if srcFID, srcBID, srcID, err = c.fileArg(p, t, "sourceFileId"); err != nil {
		return nil, nil, "", "", 0, err
	}
	return t, p, srcFID, srcBID, srcID, nil
}

func opCopyFile(c *call) (any, error) {
	t, p, srcFID, srcBID, srcID, err := c.copyCall()
	if err != nil {
		return nil, err
	}
	name, err := p.reqStr("fileName")
	if err != nil {
		return nil, err
	}
	dstBID := srcBID
	if s, ok, err := p.str("destinationBucketId"); err != nil {
		return nil, err
	} else if ok {
		dstBID = s
	}
	if err := t.checkBucket(c.s.st, dstBID); err != nil {
		return nil, err
	}
	if err := t.checkName(name); err != nil {
		return nil, err
	}
	if err := validFileName(name); err != nil {
		return nil, err
	}
	directive := "COPY"
	if s, ok, err := p.str("metadataDirective"); err != nil {
		return nil, err
	} else if ok {
		directive = s
	}
	var newCT string
	var newInfo []kv
	switch directive {
	case "COPY":
		if p.has("contentType") || p.has("fileInfo") {
			return nil, errBadRequest("contentType and fileInfo may only be sent with metadataDirective REPLACE")
		}
	case "REPLACE":
		ct, err := p.reqStr("contentType")
		if err != nil {
			return nil, errBadRequest("metadataDirective REPLACE needs contentType")
		}
		if newCT, newInfo, err = fileMetaArgs(p, ct, name); err != nil {
			return nil, err
		}
	default:
		return nil, errBadRequest(fmt.Sprintf("metadataDirective %q must be COPY or REPLACE", directive))
	}
	rng, hasRange, err := p.str("range")
	if err != nil {
		return nil, err
	}
	lr, sse, err := c.lockSSEArgs(p, t, "destinationServerSideEncryption")
	if err != nil {
		return nil, err
	}
	if p.has("sourceServerSideEncryption") {
		var ss sseReq
		if _, err := p.decode("sourceServerSideEncryption", &ss); err != nil {
			return nil, err
		}
		if ss.Mode != nil && *ss.Mode == "SSE-C" {
			return nil, errBadRequest("SSE-C is not supported by b2local")
		}
	}

	st := c.s.st
	src := c.copySourceArg(t, srcFID, srcBID, srcID, rng, hasRange, func(n int64) error {
		if n > st.opts.MaxCopySize {
			return refuse(refTooLarge, errCode(400, "source_too_large", fmt.Sprintf("Copy source too big: %d", n)))
		}
		return nil
	})
	nf := &newFile{ctype: newCT, info: newInfo, sse: sse, lock: lr}
	f, _, err := st.copyVersion(dstBID, name, nf, directive == "COPY", src, nativeRehash)
	if err != nil {
		return nil, err
	}
	return c.fileRefObject(f, "copy"), nil
}

// ---- retention / legal hold updates ----

// bypassArg reads bypassGovernance, which needs that capability.
func bypassArg(p *params, t *token) (bool, error) {
	bypass, _, err := p.boolean("bypassGovernance")
	if err != nil {
		return false, err
	}
	if bypass && !t.key.has("bypassGovernance") {
		return false, errUnauthorized("bypassGovernance needs the bypassGovernance capability")
	}
	return bypass, nil
}

// versionArgs parses the version a delete, retention or legal hold update
// addresses: fileName, fileId, then the key's namePrefix.
func (c *call) versionArgs(p *params, t *token) (name, fid, bid string, id uint64, err error) {
	if name, err = p.reqStr("fileName"); err != nil {
		return "", "", "", 0, err
	}
	if fid, bid, id, err = c.fileArg(p, t, "fileId"); err != nil {
		return "", "", "", 0, err
	}
	if err := t.checkName(name); err != nil {
		return "", "", "", 0, err
	}
	return name, fid, bid, id, nil
}

func opUpdateFileRetention(c *call) (any, error) {
	t, p, err := c.authArgs("writeFileRetentions")
	if err != nil {
		return nil, err
	}
	var rr retentionReq
	if ok, err := p.decode("fileRetention", &rr); err != nil {
		return nil, err
	} else if !ok {
		return nil, errBadRequest("required field fileRetention is missing")
	}
	mode, until, err := parseRetention(rr)
	if err != nil {
		return nil, err
	}
	bypass, err := bypassArg(p, t)
	if err != nil {
		return nil, err
	}
	name, fid, bid, id, err := c.versionArgs(p, t)
	if err != nil {
		return nil, err
	}
	f, err := c.s.st.setRetention(bid, id, name, fid, mode, until, bypass)
	if err != nil {
		return nil, err
	}
	return map[string]any{"fileId": fid, "fileName": name, "fileRetention": retentionValue(&f.v)}, nil
}

func opUpdateFileLegalHold(c *call) (any, error) {
	t, p, err := c.authArgs("writeFileLegalHolds")
	if err != nil {
		return nil, err
	}
	s, err := p.reqStr("legalHold")
	if err != nil {
		return nil, err
	}
	h, err := parseHold(s)
	if err != nil {
		return nil, err
	}
	name, fid, bid, id, err := c.versionArgs(p, t)
	if err != nil {
		return nil, err
	}
	if _, err := c.s.st.setLegalHold(bid, id, name, fid, h); err != nil {
		return nil, err
	}
	return map[string]any{"fileId": fid, "fileName": name, "legalHold": s}, nil
}
