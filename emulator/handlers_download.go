package emulator

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// download query overrides and the headers they set.
var overrideParams = []struct{ param, header string }{
	{"b2ContentDisposition", "Content-Disposition"},
	{"b2ContentLanguage", "Content-Language"},
	{"b2Expires", "Expires"},
	{"b2CacheControl", "Cache-Control"},
	{"b2ContentEncoding", "Content-Encoding"},
	{"b2ContentType", "Content-Type"},
}

func opGetDownloadAuthorization(c *call) (any, error) {
	t, p, id, err := c.bucketArgs("shareFiles")
	if err != nil {
		return nil, err
	}
	prefix, ok, err := p.str("fileNamePrefix")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errBadRequest("required field fileNamePrefix is missing")
	}
	if err := t.checkListPrefix(prefix); err != nil {
		return nil, err
	}
	d, ok, err := p.int("validDurationInSeconds")
	if err != nil {
		return nil, err
	}
	if !ok || d < 1 || d > 604800 {
		return nil, errBadRequest("validDurationInSeconds must be between 1 and 604800")
	}
	pins := map[string]string{}
	for _, o := range overrideParams {
		if s, ok, err := p.str(o.param); err != nil {
			return nil, err
		} else if ok {
			pins[o.param] = s
		}
	}
	st := c.s.st
	if _, err := st.bucketByID(id); err != nil {
		return nil, err
	}
	tok := st.issueToken(&token{kind: tokDownload, key: t.key, bucketID: id, prefix: prefix, pins: pins,
		expires: st.opts.Now().Add(time.Duration(d) * time.Second).UnixMilli()})
	return map[string]any{"bucketId": id, "fileNamePrefix": prefix, "authorizationToken": tok}, nil
}

// downloadAuth decides whether the caller may read name in b (store.mu not held).
func (c *call) downloadAuth(b *bucket, name string, byName bool) error {
	tokStr := c.r.Header.Get("Authorization")
	if tokStr == "" {
		tokStr = c.r.URL.Query().Get("Authorization")
	}
	hasOverrides := false
	q := c.r.URL.Query()
	for _, o := range overrideParams {
		if q.Has(o.param) {
			hasOverrides = true
		}
	}
	if tokStr == "" {
		if b.Type == "allPublic" && !hasOverrides {
			return nil
		}
		if hasOverrides && b.Type == "allPublic" {
			return errUnauthorized("b2* query overrides need an authorization token")
		}
		return errCode(401, "missing_auth_token", "downloading from a private bucket needs an authorization token")
	}
	kinds := []uint8{tokAccount}
	if byName {
		kinds = append(kinds, tokDownload)
	}
	t, err := c.s.st.lookupToken(tokStr, kinds...)
	if err != nil {
		return err
	}
	c.tok = t
	if t.kind == tokDownload {
		if t.bucketID != b.ID || !strings.HasPrefix(name, t.prefix) {
			return errUnauthorized("download authorization does not cover this file")
		}
		for k, v := range t.pins {
			if q.Get(k) != v {
				return errUnauthorized(fmt.Sprintf("download authorization requires %s=%s", k, v))
			}
		}
		return t.checkName(name)
	}
	if !t.key.has("readFiles") {
		return errUnauthorized("application key does not have the readFiles capability")
	}
	if !t.sees(b) {
		return errUnauthorized("application key is not allowed to access bucket " + b.Name)
	}
	return t.checkName(name)
}

func opDownloadByName(c *call) (any, error) {
	if c.r.Method != http.MethodGet && c.r.Method != http.MethodHead {
		return nil, errMethod(c.r.Method)
	}
	bname, rawName, ok := strings.Cut(c.tail, "/")
	if !ok || rawName == "" {
		return nil, errNotFound("download URL must be /file/<bucketName>/<fileName>")
	}
	name, err := decodeForm(rawName)
	if err != nil {
		return nil, err
	}
	st := c.s.st
	b := st.bucketByName(bname)
	if b == nil {
		return nil, errNotFound("no such bucket: " + bname)
	}
	if err := c.downloadAuth(b, name, true); err != nil {
		return nil, err
	}
	o, err := st.open(func() (*bucket, string, *version, error) {
		var v *version
		if e := b.entry(name); e != nil {
			v = e.current()
		}
		if v == nil || v.kind != kindUpload || !st.alive(b) {
			return nil, "", nil, errNotFound("File with such name does not exist: " + name)
		}
		return b, name, v, nil
	})
	if err != nil {
		return nil, err
	}
	return nil, c.serveContent(o)
}

func opDownloadByID(c *call) (any, error) {
	if c.r.Method != http.MethodGet && c.r.Method != http.MethodHead && c.r.Method != http.MethodPost {
		return nil, errMethod(c.r.Method)
	}
	var fid string
	if c.r.Method == http.MethodPost {
		p, err := c.args()
		if err != nil {
			return nil, err
		}
		if fid, err = p.reqStr("fileId"); err != nil {
			return nil, err
		}
	} else {
		fid = c.r.URL.Query().Get("fileId")
		if fid == "" {
			return nil, errBadRequest("required parameter fileId is missing")
		}
	}
	bid, id, ok := parseFileID(fid)
	if !ok {
		return nil, errBadRequest("malformed fileId: " + fid)
	}
	st := c.s.st
	f, ok := st.version(bid, id)
	if !ok {
		return nil, errNotFound("no such file: " + fid)
	}
	if err := c.downloadAuth(f.b, f.name, false); err != nil {
		return nil, err
	}
	o, err := st.open(func() (*bucket, string, *version, error) {
		e, v := f.b.find(id)
		if v == nil || v.kind != kindUpload || e.name != f.name {
			return nil, "", nil, errNotFound("no such file: " + fid)
		}
		return f.b, f.name, v, nil
	})
	if err != nil {
		return nil, err
	}
	return nil, c.serveContent(o)
}

// serveContent writes the headers of an opened version and (for GET) its
// bytes, then releases it.
func (c *call) serveContent(o *opened) error {
	st := c.s.st
	defer st.release(o)
	b, name, v := &o.bk, o.name, &o.v
	size, segs := v.size, v.segs
	h := c.w.Header()
	ct := v.ctype
	h.Set("X-Bz-File-Id", fileIDString(b.ID, v.id, v.ts))
	h.Set("X-Bz-File-Name", encodeB2(name))
	h.Set("X-Bz-Content-Sha1", sha1String(v))
	h.Set("X-Bz-Upload-Timestamp", strconv.FormatInt(v.ts, 10))
	if v.repl != replNone {
		h.Set("X-Bz-Replication-Status", replStrings[v.repl])
	}
	h.Set("Accept-Ranges", "bytes")
	if cc, ok := b.Info["Cache-Control"]; ok {
		h.Set("Cache-Control", cc)
	}
	for _, x := range v.info {
		if hdr, ok := reservedInfo[x.k]; ok {
			h.Set(hdr, x.v)
			continue
		}
		// Written directly: B2 sends these names lower-case (keys are
		// stored lower-case) and SDKs keep the case when they build the
		// file info from the headers; h.Set would canonicalise them.
		h["x-bz-info-"+x.k] = []string{encodeB2(x.v)}
	}
	if v.flags&fSSE != 0 {
		h.Set("X-Bz-Server-Side-Encryption", "AES256")
	}
	if b.Lock {
		var hidden []string
		if c.tok == nil || c.tok.key.has("readFileRetentions") {
			if v.retMode != retNone {
				h.Set("X-Bz-File-Retention-Mode", modeStrings[v.retMode])
				h.Set("X-Bz-File-Retention-Retain-Until-Timestamp", strconv.FormatInt(v.retainUntil, 10))
			}
		} else {
			hidden = append(hidden, "X-Bz-File-Retention-Mode", "X-Bz-File-Retention-Retain-Until-Timestamp")
		}
		if c.tok == nil || c.tok.key.has("readFileLegalHolds") {
			if hv := holdValue(v); hv != nil {
				h.Set("X-Bz-File-Legal-Hold", *hv)
			}
		} else {
			hidden = append(hidden, "X-Bz-File-Legal-Hold")
		}
		if len(hidden) > 0 {
			h.Set("X-Bz-Client-Unauthorized-To-Read", strings.Join(hidden, ","))
		}
	}
	q := c.r.URL.Query()
	for _, o := range overrideParams {
		if q.Has(o.param) {
			if o.param == "b2ContentType" {
				ct = q.Get(o.param)
			} else {
				h.Set(o.header, q.Get(o.param))
			}
		}
	}
	h.Set("Content-Type", ct)
	off, n := int64(0), size
	status := 200
	if rh := c.r.Header.Get("Range"); rh != "" {
		var err error
		if off, n, err = parseRange(rh, size); err != nil {
			h.Set("Content-Range", fmt.Sprintf("bytes */%d", size))
			return err
		}
		status = 206
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", off, off+n-1, size))
	}
	h.Set("Content-Length", strconv.FormatInt(n, 10))
	c.w.WriteHeader(status)
	if c.r.Method == http.MethodHead || n == 0 {
		return nil
	}
	if err := st.writeSegs(c.w, segs, off, n); err != nil {
		// headers are gone; the short body tells the client
		return nil
	}
	return nil
}
