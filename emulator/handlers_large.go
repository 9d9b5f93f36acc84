package emulator

import (
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

const maxPartSize = 5_000_000_000

// dropLarge forgets an unfinished large file and its parts (store.mu held)
// and returns the journal ops deleting the part records.
func (st *store) dropLarge(id uint64) []dbOp {
	lf := st.large[id]
	if lf == nil {
		return nil
	}
	delete(st.large, id)
	var ops []dbOp
	for n, pt := range lf.parts {
		ops = append(ops, opDelPart(id, n))
		st.unpinSegs(pt.segs)
	}
	return ops
}

func opStartLargeFile(c *call) (any, error) {
	t, p, id, name, err := c.bucketFileArgs("writeFiles")
	if err != nil {
		return nil, err
	}
	ctIn, err := p.reqStr("contentType")
	if err != nil {
		return nil, err
	}
	ct, err := contentType(ctIn, name)
	if err != nil {
		return nil, err
	}
	var m map[string]string
	if _, err := p.decode("fileInfo", &m); err != nil {
		return nil, err
	}
	info := infoFromMap(m)
	if err := validInfo(info); err != nil {
		return nil, err
	}
	lr, err := c.lockFromJSON(p, t)
	if err != nil {
		return nil, err
	}
	sse, err := sseArg(p, "serverSideEncryption")
	if err != nil {
		return nil, err
	}
	var customTS int64
	if ts, ok, err := p.int("customUploadTimestamp"); err != nil {
		return nil, err
	} else if ok {
		if ts <= 0 || ts > c.s.st.nowMs() {
			return nil, errBadRequest("customUploadTimestamp must be milliseconds since the epoch, not in the future")
		}
		customTS = ts
	}
	st := c.s.st
	st.mu.Lock()
	b := st.buckets[id]
	if b == nil {
		st.mu.Unlock()
		return nil, errCode(400, "bad_bucket_id", "no such bucket: "+id)
	}
	if err := checkBudget(name, info, b.Lock || b.SSE || sse); err != nil {
		st.mu.Unlock()
		return nil, err
	}
	v := &version{id: st.allocID(), kind: kindStart, ctype: st.intern(ct), info: info}
	if sse || b.SSE {
		v.flags |= fSSE
	}
	if err := st.applyLock(b, v, lr); err != nil {
		st.mu.Unlock()
		return nil, err
	}
	if customTS != 0 {
		v.ts = customTS
	} else {
		v.ts = st.nextTS(b)
	}
	e := b.insertVersion(name, v)
	st.large[v.id] = &largeFile{b: b, e: e, v: v, sse: v.flags&fSSE != 0, parts: map[int]*part{}}
	out := c.fileObject(b, name, v, "")
	tk := st.journal(st.opVersion(b, name, v, false))
	st.mu.Unlock()
	if err := st.sync(tk); err != nil {
		return nil, err
	}
	return out, nil
}

// largeArg resolves the fileId of an unfinished large file (store.mu held).
func (c *call) largeArg(fid string, bid string, id uint64, t *token) (*largeFile, error) {
	lf := c.s.st.large[id]
	if lf == nil || lf.b.ID != bid || c.s.st.buckets[bid] != lf.b {
		return nil, errBadRequest("no unfinished large file with id " + fid)
	}
	if err := t.checkName(lf.e.name); err != nil {
		return nil, err
	}
	return lf, nil
}

func opGetUploadPartURL(c *call) (any, error) {
	t, _, fid, bid, id, err := c.fileIDArgs("writeFiles")
	if err != nil {
		return nil, err
	}
	st := c.s.st
	st.mu.RLock()
	_, err = c.largeArg(fid, bid, id, t)
	st.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	tok := st.issueToken(&token{kind: tokPart, key: t.key, bucketID: bid, fileID: id})
	return map[string]any{
		"fileId":             fid,
		"uploadUrl":          fmt.Sprintf("%s/b2api/v%d/b2_upload_part/%s/%s", c.baseURL(), c.v, fid, randHex(8)),
		"authorizationToken": tok,
	}, nil
}

func (c *call) partObject(fid string, pt *part, sse bool) map[string]any {
	m := map[string]any{
		"fileId":          fid,
		"partNumber":      pt.n,
		"contentLength":   pt.size,
		"contentSha1":     hex.EncodeToString(pt.sha1[:]),
		"contentMd5":      hex.EncodeToString(pt.md5[:]),
		"uploadTimestamp": pt.ts,
	}
	if sse {
		m["serverSideEncryption"] = sseJSON{Mode: &sSSEB2, Algorithm: &sAES256}
	} else {
		m["serverSideEncryption"] = sseJSON{}
	}
	return m
}

func partNumber(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 10000 {
		return 0, errBadRequest(fmt.Sprintf("part number %q must be between 1 and 10000", s))
	}
	return n, nil
}

// storePart records a part (store.mu held) and returns the journal ticket.
func (st *store) storePart(lf *largeFile, pt *part) uint64 {
	if old := lf.parts[pt.n]; old != nil {
		st.unpinSegs(old.segs)
	}
	lf.parts[pt.n] = pt
	if st.p == nil {
		return 0
	}
	return st.journal(opPart(lf.v.id, pt))
}

func opUploadPart(c *call) (any, error) {
	t, pathFile, err := c.uploadAuth(tokPart)
	if err != nil {
		return nil, err
	}
	defer t.busy.Store(false)
	st := c.s.st
	n, err := partNumber(c.r.Header.Get("X-Bz-Part-Number"))
	if err != nil {
		return nil, err
	}
	if c.r.Header.Get("X-Bz-Server-Side-Encryption-Customer-Algorithm") != "" {
		return nil, errBadRequest("SSE-C is not supported by b2local")
	}
	st.mu.RLock()
	lf := st.large[t.fileID]
	st.mu.RUnlock()
	if lf == nil {
		return nil, errBadRequest("no unfinished large file with id " + pathFile)
	}
	body, err := c.readContent(maxPartSize)
	if err != nil {
		return nil, err
	}
	st.mu.Lock()
	if st.large[t.fileID] != lf {
		st.mu.Unlock()
		st.discardBlob(body.blob)
		return nil, errBadRequest("large file was finished or cancelled: " + pathFile)
	}
	body.blob.refs.Add(1)
	pt := &part{n: n, size: body.size, ts: st.nowMs(), sha1: body.sha1, md5: body.md5, segs: []seg{{b: body.blob, n: body.size}}}
	tk := st.storePart(lf, pt)
	st.mu.Unlock()
	if err := st.sync(tk); err != nil {
		return nil, err
	}
	return c.partObject(pathFile, pt, lf.sse), nil
}

func opCopyPart(c *call) (any, error) {
	t, p, err := c.authArgs("writeFiles")
	if err != nil {
		return nil, err
	}
	srcFID, srcBID, srcID, err := c.fileArg(p, t, "sourceFileId")
	if err != nil {
		return nil, err
	}
	lfid, lbid, lid, err := c.fileArg(p, t, "largeFileId")
	if err != nil {
		return nil, err
	}
	pn, ok, err := p.int("partNumber")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errBadRequest("required field partNumber is missing")
	}
	if pn < 1 || pn > 10000 {
		return nil, errBadRequest("partNumber must be between 1 and 10000")
	}
	rng, hasRange, err := p.str("range")
	if err != nil {
		return nil, err
	}
	st := c.s.st
	st.mu.Lock()
	lf, err := c.largeArg(lfid, lbid, lid, t)
	if err != nil {
		st.mu.Unlock()
		return nil, err
	}
	sv, err := c.copySourceArg(t, srcFID, srcBID, srcID)
	if err != nil {
		st.mu.Unlock()
		return nil, err
	}
	off, n, err := copySpan(rng, hasRange, sv.size)
	if err != nil {
		st.mu.Unlock()
		return nil, err
	}
	if n > maxPartSize {
		st.mu.Unlock()
		return nil, errBadRequest(fmt.Sprintf("part of %d bytes is larger than the 5 GB part limit", n))
	}
	segs := subSegs(sv.segs, off, n)
	pinSegs(segs)
	pt := &part{n: int(pn), size: n, segs: segs}
	reuse := off == 0 && n == sv.size && sv.flags&fSHA1 != 0
	if reuse {
		pt.sha1, pt.md5 = sv.sha1, sv.md5
	}
	st.mu.Unlock()
	if !reuse {
		if err := hashSegs(st, segs, n, pt); err != nil {
			st.mu.Lock()
			st.unpinSegs(segs)
			st.mu.Unlock()
			return nil, err
		}
	}
	st.mu.Lock()
	if st.large[lid] != lf {
		st.unpinSegs(segs)
		st.mu.Unlock()
		return nil, errBadRequest("large file was finished or cancelled: " + lfid)
	}
	pt.ts = st.nowMs()
	tk := st.storePart(lf, pt)
	st.mu.Unlock()
	if err := st.sync(tk); err != nil {
		return nil, err
	}
	return c.partObject(lfid, pt, lf.sse), nil
}

func opFinishLargeFile(c *call) (any, error) {
	t, p, fid, bid, id, err := c.fileIDArgs("writeFiles")
	if err != nil {
		return nil, err
	}
	shas, ok, err := p.strList("partSha1Array")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errBadRequest("required field partSha1Array is missing")
	}
	if len(shas) == 0 {
		return nil, errBadRequest("partSha1Array must list at least one part")
	}
	st := c.s.st
	st.mu.Lock()
	lf, err := c.largeArg(fid, bid, id, t)
	if err != nil {
		st.mu.Unlock()
		return nil, err
	}
	for i := 1; i <= len(lf.parts) || i <= len(shas); i++ {
		if lf.parts[i] == nil {
			st.mu.Unlock()
			return nil, errCode(400, "missing_part", fmt.Sprintf("Part number %d has not been uploaded", i))
		}
		if i > len(shas) {
			st.mu.Unlock()
			return nil, errCode(400, "missing_part", fmt.Sprintf("partSha1Array lists %d parts but %d were uploaded", len(shas), len(lf.parts)))
		}
	}
	for i := 1; i <= len(shas); i++ {
		if pt := lf.parts[i]; !strings.EqualFold(shas[i-1], hex.EncodeToString(pt.sha1[:])) {
			st.mu.Unlock()
			return nil, errCode(400, "part_sha1_mismatch", fmt.Sprintf("Part number %d has SHA-1 %x, not %s", i, pt.sha1, shas[i-1]))
		}
	}
	for i := 1; i < len(shas); i++ {
		if pt := lf.parts[i]; pt.size < st.opts.AbsoluteMinimumPartSize {
			st.mu.Unlock()
			return nil, errBadRequest(fmt.Sprintf("Part number %d is %d bytes; every part but the last must be at least %d bytes", i, pt.size, st.opts.AbsoluteMinimumPartSize))
		}
	}
	v := lf.v
	var segs []seg
	var size int64
	ops := []dbOp{}
	for i := 1; i <= len(shas); i++ {
		pt := lf.parts[i]
		segs = append(segs, pt.segs...)
		size += pt.size
		ops = append(ops, opDelPart(id, i))
	}
	delete(st.large, id)
	v.kind, v.size, v.segs = kindUpload, size, segs
	v.flags &^= fSHA1 | fMD5
	ops = append(ops, st.opVersion(lf.b, lf.e.name, v, false))
	out := c.fileObject(lf.b, lf.e.name, v, "")
	tk := st.journal(ops...)
	st.mu.Unlock()
	if err := st.sync(tk); err != nil {
		return nil, err
	}
	return out, nil
}

func opCancelLargeFile(c *call) (any, error) {
	t, _, fid, bid, id, err := c.fileIDArgs("writeFiles")
	if err != nil {
		return nil, err
	}
	st := c.s.st
	st.mu.Lock()
	lf, err := c.largeArg(fid, bid, id, t)
	if err != nil {
		st.mu.Unlock()
		return nil, err
	}
	ops := append(st.dropLarge(id), opDelVersion(id))
	lf.b.removeVersion(lf.e, lf.v)
	tk := st.journal(ops...)
	st.mu.Unlock()
	if err := st.sync(tk); err != nil {
		return nil, err
	}
	return map[string]any{"fileId": fid, "accountId": st.accountID, "bucketId": bid, "fileName": lf.e.name}, nil
}

func opListParts(c *call) (any, error) {
	t, p, fid, bid, id, err := c.fileIDArgs("writeFiles")
	if err != nil {
		return nil, err
	}
	start, _, err := p.int("startPartNumber")
	if err != nil {
		return nil, err
	}
	if start == 0 {
		start = 1
	}
	if start < 1 || start > 10000 {
		return nil, errCode(400, "out_of_range", "startPartNumber must be between 1 and 10000")
	}
	max, _, err := p.int("maxPartCount")
	if err != nil {
		return nil, err
	}
	if max == 0 {
		max = 100
	}
	if max < 1 || max > 1000 {
		return nil, errCode(400, "out_of_range", "maxPartCount must be between 1 and 1000")
	}
	st := c.s.st
	st.mu.RLock()
	lf, err := c.largeArg(fid, bid, id, t)
	if err != nil {
		st.mu.RUnlock()
		return nil, err
	}
	var nums []int
	for n := range lf.parts {
		if int64(n) >= start {
			nums = append(nums, n)
		}
	}
	sort.Ints(nums)
	var next any
	if int64(len(nums)) > max {
		next = nums[max]
		nums = nums[:max]
	}
	parts := make([]any, 0, len(nums))
	for _, n := range nums {
		parts = append(parts, c.partObject(fid, lf.parts[n], lf.sse))
	}
	st.mu.RUnlock()
	c.units = billed(len(parts))
	return map[string]any{"parts": parts, "nextPartNumber": next}, nil
}

func opListUnfinished(c *call) (any, error) {
	p, b, prefix, max, err := c.listCall("namePrefix")
	if err != nil {
		return nil, err
	}
	var startID uint64
	if s, ok, err := p.str("startFileId"); err != nil {
		return nil, err
	} else if ok {
		bid, id, ok := parseFileID(s)
		if !ok || bid != b.ID {
			return nil, errCode(400, "invalid_file_id", "malformed startFileId: "+s)
		}
		startID = id
	}
	st := c.s.st
	st.mu.RLock()
	var lfs []*largeFile
	for id, lf := range st.large {
		if lf.b == b && id >= startID && strings.HasPrefix(lf.e.name, prefix) {
			lfs = append(lfs, lf)
		}
	}
	sort.Slice(lfs, func(i, j int) bool { return lfs[i].v.id < lfs[j].v.id })
	var next any
	if len(lfs) > max {
		next = fileIDString(b.ID, lfs[max].v.id)
		lfs = lfs[:max]
	}
	files := make([]*fileJSON, len(lfs))
	for i, lf := range lfs {
		files[i] = c.fileObject(b, lf.e.name, lf.v, "")
	}
	st.mu.RUnlock()
	c.units = billed(len(files))
	return map[string]any{"files": files, "nextFileId": next}, nil
}
