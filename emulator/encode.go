package emulator

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"
)

// Response shapes. They are built under store.mu (copying what they need)
// and encoded after it is released.

type infoJSON []kv

func (in infoJSON) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, x := range in {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(x.k)
		v, _ := json.Marshal(x.v)
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

type wrapper struct {
	IsClientAuthorizedToRead bool `json:"isClientAuthorizedToRead"`
	Value                    any  `json:"value"`
}

type retentionJSON struct {
	Mode                 *string `json:"mode"`
	RetainUntilTimestamp *int64  `json:"retainUntilTimestamp"`
}

type sseJSON struct {
	Mode      *string `json:"mode"`
	Algorithm *string `json:"algorithm"`
}

type fileJSON struct {
	AccountID            string   `json:"accountId"`
	Action               string   `json:"action"`
	BucketID             string   `json:"bucketId"`
	ContentLength        int64    `json:"contentLength"`
	ContentSha1          *string  `json:"contentSha1"`
	ContentMd5           *string  `json:"contentMd5"`
	ContentType          *string  `json:"contentType"`
	FileID               *string  `json:"fileId"`
	FileInfo             infoJSON `json:"fileInfo"`
	FileName             string   `json:"fileName"`
	FileRetention        *wrapper `json:"fileRetention,omitempty"`
	LegalHold            *wrapper `json:"legalHold,omitempty"`
	ServerSideEncryption *sseJSON `json:"serverSideEncryption,omitempty"`
	ReplicationStatus    *string  `json:"replicationStatus,omitempty"`
	UploadTimestamp      int64    `json:"uploadTimestamp"`
	Size                 *int64   `json:"size,omitempty"` // v1 only
}

func strp(s string) *string { return &s }

var (
	sNone       = "none"
	sSSEB2      = "SSE-B2"
	sAES256     = "AES256"
	hideCT      = "application/x-bz-hide-marker"
	modeStrings = [...]string{"", "governance", "compliance"}
)

func retentionValue(v *version) retentionJSON {
	if v.retMode == retNone {
		return retentionJSON{}
	}
	m := modeStrings[v.retMode]
	u := v.retainUntil
	return retentionJSON{Mode: &m, RetainUntilTimestamp: &u}
}

func holdValue(v *version) *string {
	switch v.hold {
	case holdOn:
		return strp("on")
	case holdOff:
		return strp("off")
	}
	return nil
}

func sha1String(v *version) string {
	if v.flags&fSHA1 == 0 {
		return sNone
	}
	if v.flags&fUnverified != 0 {
		// B2 reports a do_not_verify upload's SHA-1 with this prefix.
		return "unverified:" + hex.EncodeToString(v.sha1[:])
	}
	return hex.EncodeToString(v.sha1[:])
}

// fileObject renders one version (or a folder when v is nil).
func (c *call) fileObject(b *bucket, name string, v *version, action string) *fileJSON {
	f := &fileJSON{AccountID: b.Account, BucketID: b.ID, FileName: name, FileInfo: infoJSON{}}
	if v == nil {
		f.Action = "folder"
		if c.v == 1 {
			f.Size = new(int64)
		}
		return f
	}
	f.FileID = strp(fileIDString(b.ID, v.id, v.ts))
	f.UploadTimestamp = v.ts
	if v.info != nil {
		f.FileInfo = infoJSON(append([]kv(nil), v.info...))
	}
	switch v.kind {
	case kindHide:
		f.Action = "hide"
		f.ContentSha1 = &sNone
		f.ContentType = &hideCT
	case kindStart:
		f.Action = "start"
		f.ContentSha1 = &sNone
		f.ContentType = strp(v.ctype)
	default:
		f.Action = "upload"
		f.ContentLength = v.size
		f.ContentSha1 = strp(sha1String(v))
		f.ContentType = strp(v.ctype)
		if v.flags&fMD5 != 0 {
			f.ContentMd5 = strp(hex.EncodeToString(v.md5[:]))
		}
	}
	if action != "" {
		f.Action = action
	}
	if v.repl != replNone {
		f.ReplicationStatus = &replStrings[v.repl]
	}
	if v.kind != kindHide {
		t := c.tok
		f.FileRetention = &wrapper{}
		if t == nil || t.key.has("readFileRetentions") {
			f.FileRetention.IsClientAuthorizedToRead = true
			f.FileRetention.Value = retentionValue(v)
		}
		f.LegalHold = &wrapper{}
		if t == nil || t.key.has("readFileLegalHolds") {
			f.LegalHold.IsClientAuthorizedToRead = true
			f.LegalHold.Value = holdValue(v)
		}
		if v.flags&fSSE != 0 {
			f.ServerSideEncryption = &sseJSON{Mode: &sSSEB2, Algorithm: &sAES256}
		} else {
			f.ServerSideEncryption = &sseJSON{}
		}
	}
	if c.v == 1 {
		sz := f.ContentLength
		f.Size = &sz
	}
	return f
}

type bucketJSON struct {
	AccountID                   string            `json:"accountId"`
	BucketID                    string            `json:"bucketId"`
	BucketName                  string            `json:"bucketName"`
	BucketType                  string            `json:"bucketType"`
	BucketInfo                  map[string]string `json:"bucketInfo"`
	CorsRules                   []corsRule        `json:"corsRules"`
	LifecycleRules              []lifecycleRule   `json:"lifecycleRules"`
	Revision                    int64             `json:"revision"`
	Options                     []string          `json:"options"`
	DefaultServerSideEncryption wrapper           `json:"defaultServerSideEncryption"`
	FileLockConfiguration       wrapper           `json:"fileLockConfiguration"`
	ReplicationConfiguration    wrapper           `json:"replicationConfiguration"`
}

type periodJSON struct {
	Duration int64  `json:"duration"`
	Unit     string `json:"unit"`
}

type defRetentionJSON struct {
	Mode   *string     `json:"mode"`
	Period *periodJSON `json:"period"`
}

func (c *call) bucketObject(b *bucket) *bucketJSON {
	o := &bucketJSON{AccountID: b.Account, BucketID: b.ID, BucketName: b.Name, BucketType: b.Type,
		BucketInfo: map[string]string{}, CorsRules: []corsRule{}, LifecycleRules: []lifecycleRule{},
		Revision: b.Revision, Options: []string{"s3"}}
	for k, v := range b.Info {
		o.BucketInfo[k] = v
	}
	if b.CORS != nil {
		o.CorsRules = append(o.CorsRules, b.CORS...)
	}
	if b.Lifecycle != nil {
		o.LifecycleRules = append(o.LifecycleRules, b.Lifecycle...)
	}
	k := c.tok.key
	if k.has("readBucketEncryption") {
		o.DefaultServerSideEncryption = wrapper{true, sseJSON{}}
		if b.SSE {
			o.DefaultServerSideEncryption.Value = sseJSON{Mode: &sSSEB2, Algorithm: &sAES256}
		}
	}
	if k.has("readBucketRetentions") {
		dr := defRetentionJSON{}
		if b.Retention.Mode != "" {
			dr.Mode = strp(b.Retention.Mode)
			dr.Period = &periodJSON{b.Retention.Period, b.Retention.Unit}
		}
		o.FileLockConfiguration = wrapper{true, map[string]any{"isFileLockEnabled": b.Lock, "defaultRetention": dr}}
	}
	if k.has("readBucketReplications") {
		o.ReplicationConfiguration = wrapper{true, map[string]any{}}
		if b.ext.repl != nil {
			o.ReplicationConfiguration.Value = b.ext.repl
		}
	}
	return o
}

func (c *call) keyObject(k *appKey, withSecret bool) map[string]any {
	m := map[string]any{
		"accountId":           k.Account,
		"applicationKeyId":    k.ID,
		"capabilities":        k.Caps,
		"expirationTimestamp": nil,
		"keyName":             k.Name,
		"namePrefix":          k.NamePrefix,
		"options":             []string{"s3"},
	}
	if k.Expires != 0 {
		m["expirationTimestamp"] = k.Expires
	}
	if withSecret {
		m["applicationKey"] = k.Secret
	}
	if c.v >= 4 {
		if k.BucketIDs == nil {
			m["bucketIds"] = nil
		} else {
			m["bucketIds"] = k.BucketIDs
		}
	} else {
		if len(k.BucketIDs) == 1 {
			m["bucketId"] = k.BucketIDs[0]
		} else {
			m["bucketId"] = nil
		}
	}
	return m
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// rawJSON is a response body already encoded.
type rawJSON []byte

// fileSnap is a copy of one listed entry taken under store.mu, encoded
// after the lock is released.
type fileSnap struct {
	name   string
	folder bool
	v      version
}

func appendJSONString(dst []byte, s string) []byte {
	if !utf8.ValidString(s) {
		b, _ := json.Marshal(s)
		return append(dst, b...)
	}
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"':
			dst = append(dst, '\\', '"')
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\r':
			dst = append(dst, '\\', 'r')
		default:
			dst = append(dst, '\\', 'u', '0', '0', "0123456789abcdef"[c>>4], "0123456789abcdef"[c&15])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// listEnc holds what is constant across one list page, so the per-entry
// work is only appending bytes.
type listEnc struct {
	head     []byte // {"accountId":<acct>,"action":"
	bucketID []byte // ","bucketId":<bid>,"contentLength":
	bid      string
	readRet  bool
	readHold bool
	v1       bool
}

func (c *call) newListEnc(bucketID string) *listEnc {
	e := &listEnc{v1: c.v == 1}
	e.head = append(e.head, `{"accountId":`...)
	e.head = appendJSONString(e.head, c.account())
	e.head = append(e.head, `,"action":"`...)
	e.bucketID = append(e.bucketID, `","bucketId":`...)
	e.bucketID = appendJSONString(e.bucketID, bucketID)
	e.bucketID = append(e.bucketID, `,"contentLength":`...)
	e.bid = bucketID
	t := c.tok
	e.readRet = t == nil || t.key.has("readFileRetentions")
	e.readHold = t == nil || t.key.has("readFileLegalHolds")
	return e
}

// appendFile encodes one entry with the same shape as fileObject.
func (c *call) appendFile(dst []byte, bucketID string, f *fileSnap) []byte {
	return c.newListEnc(bucketID).appendFile(dst, f)
}

func (e *listEnc) appendFile(dst []byte, f *fileSnap) []byte {
	dst = append(dst, e.head...)
	v := &f.v
	if f.folder {
		dst = append(dst, "folder"...)
		dst = append(dst, e.bucketID...)
		dst = append(dst, `0,"contentSha1":null,"contentMd5":null,"contentType":null,"fileId":null,"fileInfo":{},"fileName":`...)
		dst = appendJSONString(dst, f.name)
		dst = append(dst, `,"uploadTimestamp":0`...)
		if e.v1 {
			dst = append(dst, `,"size":0`...)
		}
		return append(dst, '}')
	}
	size := int64(0)
	switch v.kind {
	case kindHide:
		dst = append(dst, "hide"...)
		dst = append(dst, e.bucketID...)
		dst = append(dst, `0,"contentSha1":"none","contentMd5":null,"contentType":"application/x-bz-hide-marker"`...)
	case kindStart:
		dst = append(dst, "start"...)
		dst = append(dst, e.bucketID...)
		dst = append(dst, `0,"contentSha1":"none","contentMd5":null,"contentType":`...)
		dst = appendJSONString(dst, v.ctype)
	default:
		size = v.size
		dst = append(dst, "upload"...)
		dst = append(dst, e.bucketID...)
		dst = strconv.AppendInt(dst, size, 10)
		dst = append(dst, `,"contentSha1":"`...)
		if v.flags&fSHA1 != 0 {
			if v.flags&fUnverified != 0 {
				dst = append(dst, "unverified:"...)
			}
			dst = hex.AppendEncode(dst, v.sha1[:])
		} else {
			dst = append(dst, "none"...)
		}
		if v.flags&fMD5 != 0 {
			dst = append(dst, `","contentMd5":"`...)
			dst = hex.AppendEncode(dst, v.md5[:])
			dst = append(dst, `","contentType":`...)
		} else {
			dst = append(dst, `","contentMd5":null,"contentType":`...)
		}
		dst = appendJSONString(dst, v.ctype)
	}
	dst = append(dst, `,"fileId":"`...)
	dst = appendFileID(dst, e.bid, v.id, v.ts)
	dst = append(dst, `","fileInfo":{`...)
	for i, x := range v.info {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, x.k)
		dst = append(dst, ':')
		dst = appendJSONString(dst, x.v)
	}
	dst = append(dst, `},"fileName":`...)
	dst = appendJSONString(dst, f.name)
	if v.kind != kindHide {
		if e.readRet {
			if v.retMode == retNone {
				dst = append(dst, `,"fileRetention":{"isClientAuthorizedToRead":true,"value":{"mode":null,"retainUntilTimestamp":null}}`...)
			} else {
				dst = append(dst, `,"fileRetention":{"isClientAuthorizedToRead":true,"value":{"mode":"`...)
				dst = append(dst, modeStrings[v.retMode]...)
				dst = append(dst, `","retainUntilTimestamp":`...)
				dst = strconv.AppendInt(dst, v.retainUntil, 10)
				dst = append(dst, `}}`...)
			}
		} else {
			dst = append(dst, `,"fileRetention":{"isClientAuthorizedToRead":false,"value":null}`...)
		}
		if e.readHold {
			switch v.hold {
			case holdOn:
				dst = append(dst, `,"legalHold":{"isClientAuthorizedToRead":true,"value":"on"}`...)
			case holdOff:
				dst = append(dst, `,"legalHold":{"isClientAuthorizedToRead":true,"value":"off"}`...)
			default:
				dst = append(dst, `,"legalHold":{"isClientAuthorizedToRead":true,"value":null}`...)
			}
		} else {
			dst = append(dst, `,"legalHold":{"isClientAuthorizedToRead":false,"value":null}`...)
		}
		if v.flags&fSSE != 0 {
			dst = append(dst, `,"serverSideEncryption":{"mode":"SSE-B2","algorithm":"AES256"}`...)
		} else {
			dst = append(dst, `,"serverSideEncryption":{"mode":null,"algorithm":null}`...)
		}
	}
	if v.repl != replNone {
		dst = append(dst, `,"replicationStatus":"`...)
		dst = append(dst, replStrings[v.repl]...)
		dst = append(dst, '"')
	}
	dst = append(dst, `,"uploadTimestamp":`...)
	dst = strconv.AppendInt(dst, v.ts, 10)
	if e.v1 {
		dst = append(dst, `,"size":`...)
		dst = strconv.AppendInt(dst, size, 10)
	}
	return append(dst, '}')
}

// appendFileList appends {"files":[…], <tail fields>}.
func (c *call) appendFileList(dst []byte, bucketID string, snaps []fileSnap, tail ...any) []byte {
	dst = append(dst, `{"files":[`...)
	e := c.newListEnc(bucketID)
	for i := range snaps {
		if i > 0 {
			dst = append(dst, ',')
		}
		n := len(dst)
		dst = e.appendFile(dst, &snaps[i])
		if i == 0 {
			// size the buffer once from the first entry (+1/8 slack)
			dst = slices.Grow(dst, (len(dst)-n+1)*(len(snaps)-1)*9/8+64)
		}
	}
	dst = append(dst, ']')
	for i := 0; i+1 < len(tail); i += 2 {
		dst = append(dst, ',')
		dst = appendJSONString(dst, tail[i].(string))
		dst = append(dst, ':')
		switch x := tail[i+1].(type) {
		case nil:
			dst = append(dst, "null"...)
		case string:
			dst = appendJSONString(dst, x)
		}
	}
	return append(dst, "}\n"...)
}

// pooledJSON is an encoded response body whose buffer returns to a pool
// once writeJSON has written it (ResponseWriters do not retain p).
type pooledJSON struct{ b []byte }

var (
	listBufPool = sync.Pool{New: func() any { return new(pooledJSON) }}
	snapPool    = sync.Pool{New: func() any { return new(snapList) }}
)

const maxPooledList = 32 << 20

// getListBuf returns an empty buffer with room for about n entries.
func getListBuf(n int) *pooledJSON {
	p := listBufPool.Get().(*pooledJSON)
	if want := 64 + n*480; cap(p.b) < want {
		p.b = make([]byte, 0, want)
	}
	p.b = p.b[:0]
	return p
}

func (p *pooledJSON) release() {
	if cap(p.b) <= maxPooledList {
		p.b = p.b[:0]
		listBufPool.Put(p)
	}
}

// snapList collects the entries of one list page under store.mu.
type snapList struct{ s []fileSnap }

func getSnapList(max int) *snapList {
	l := snapPool.Get().(*snapList)
	if cap(l.s) < max && max <= 10000 {
		l.s = make([]fileSnap, 0, max)
	}
	return l
}

// add copies one listed entry (v nil for a folder).
func (l *snapList) add(name string, v *version) {
	l.s = append(l.s, fileSnap{name: name, folder: v == nil})
	if v != nil {
		l.s[len(l.s)-1].v = *v
	}
}

func (l *snapList) release() {
	clear(l.s) // drop references to names, info and content
	l.s = l.s[:0]
	snapPool.Put(l)
}
