package emulator

import (
	"encoding/hex"
	"fmt"
	"strconv"
)

const maxPartSize = 5_000_000_000

func opStartLargeFile(c *call) (any, error) {
	t, p, id, name, err := c.bucketFileArgs("writeFiles")
	if err != nil {
		return nil, err
	}
	ctIn, err := p.reqStr("contentType")
	if err != nil {
		return nil, err
	}
	ct, info, err := fileMetaArgs(p, ctIn, name)
	if err != nil {
		return nil, err
	}
	lr, sse, err := c.lockSSEArgs(p, t, "serverSideEncryption")
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
	f, err := c.s.st.startLarge(id, name, &newFile{ctype: ct, info: info, sse: sse, lock: lr, customTS: customTS})
	if err != nil {
		return nil, err
	}
	return c.fileRefObject(f, ""), nil
}

// largeArg finds the unfinished large file fileId names (run by the store
// under the lock), within the key's namePrefix.
func (c *call) largeArg(fid string, bid string, id uint64, t *token) findLarge {
	st := c.s.st
	return func() (*largeFile, error) {
		lf := st.largeOf(bid, id)
		if lf == nil {
			return nil, errNoLarge(fid)
		}
		if err := t.checkName(lf.e.name); err != nil {
			return nil, err
		}
		return lf, nil
	}
}

func opGetUploadPartURL(c *call) (any, error) {
	t, _, fid, bid, id, err := c.fileIDArgs("writeFiles")
	if err != nil {
		return nil, err
	}
	st := c.s.st
	if _, err := st.largeFile(c.largeArg(fid, bid, id, t)); err != nil {
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
	lf, err := st.largeFile(func() (*largeFile, error) {
		if lf := st.largeOf(t.bucketID, t.fileID); lf != nil {
			return lf, nil
		}
		return nil, errNoLarge(pathFile)
	})
	if err != nil {
		return nil, err
	}
	body, err := c.readContent(maxPartSize)
	if err != nil {
		return nil, err
	}
	pt, err := st.putPart(lf, n, body)
	if err != nil {
		return nil, err
	}
	return c.partObject(pathFile, pt, lf.sse), nil
}

func opCopyPart(c *call) (any, error) {
	t, p, srcFID, srcBID, srcID, err := c.copyCall()
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
	src := c.copySourceArg(t, srcFID, srcBID, srcID, rng, hasRange, func(n int64) error {
		if n > maxPartSize {
			return refuse(refTooLarge, errBadRequest(fmt.Sprintf("part of %d bytes is larger than the 5 GB part limit", n)))
		}
		return nil
	})
	pt, lf, _, err := c.s.st.copyPart(c.largeArg(lfid, lbid, lid, t), int(pn), src)
	if err != nil {
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
	f, _, err := st.finishLarge(c.largeArg(fid, bid, id, t), func(lf *largeFile) ([]int, error) {
		return st.nativeParts(lf, shas)
	})
	if err != nil {
		return nil, err
	}
	return c.fileRefObject(f, ""), nil
}

func opCancelLargeFile(c *call) (any, error) {
	t, _, fid, bid, id, err := c.fileIDArgs("writeFiles")
	if err != nil {
		return nil, err
	}
	st := c.s.st
	f, err := st.cancelLarge(c.largeArg(fid, bid, id, t))
	if err != nil {
		return nil, err
	}
	return map[string]any{"fileId": fid, "accountId": c.account(), "bucketId": bid, "fileName": f.name}, nil
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
	pts, nextN, lf, err := c.s.st.listParts(c.largeArg(fid, bid, id, t), int(start), int(max))
	if err != nil {
		return nil, err
	}
	var next any
	if nextN != 0 {
		next = nextN
	}
	parts := make([]any, 0, len(pts))
	for _, pt := range pts {
		parts = append(parts, c.partObject(fid, pt, lf.sse))
	}
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
	refs, nextID := c.s.st.unfinished(b, startID, prefix, max)
	var next any
	if nextID != "" {
		next = nextID
	}
	files := make([]*fileJSON, len(refs))
	for i, f := range refs {
		files[i] = c.fileRefObject(f, "")
	}
	c.units = billed(len(files))
	return map[string]any{"files": files, "nextFileId": next}, nil
}
