package b2client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/b2plan/b2plan/live"
)

// Page sizes: the maxima B2 allows.
const (
	maxListFiles      = 10000
	maxListKeys       = 10000
	maxListUnfinished = 100
	// listConcurrency bounds the prefixes listed at once.
	listConcurrency = 4
)

// Observe reads what req asks for into a snapshot: buckets (every attribute),
// keys (v4 b2_list_keys, so multi-bucket keys are seen), and for each
// requested (bucket, prefix) every file version and unfinished large file.
// Prefixes are listed concurrently. A prefix of a bucket that does not exist
// yields an empty Listing with BucketID "".
func Observe(ctx context.Context, c *Conn, req live.Request) (*live.Live, error) {
	req.Keys = req.Keys || (req.KeysIfAllowed && c.Allowed().Has("listKeys"))
	out := &live.Live{AccountID: c.AccountID(), ObservedBuckets: req.Buckets, ObservedKeys: req.Keys}
	g, gctx := errgroup.WithContext(ctx)
	if req.Buckets {
		g.Go(guard(func() error {
			bs, err := c.listBuckets(gctx, "")
			if err != nil {
				return err
			}
			out.Buckets = bs
			out.SortBuckets()
			return nil
		}))
	}
	if req.Keys {
		g.Go(guard(func() error {
			ks, err := c.listKeys(gctx)
			if err != nil {
				return err
			}
			out.Keys = ks
			out.SortKeys()
			return nil
		}))
	}
	if len(req.Prefixes) > 0 {
		out.Listings = make([]live.Listing, len(req.Prefixes))
		in := &live.Interner{}
		ids := &bucketIDCache{m: map[string]*bucketIDEntry{}}
		sem := make(chan struct{}, listConcurrency)
		for i, pr := range req.Prefixes {
			g.Go(guard(func() error {
				select {
				case sem <- struct{}{}:
				case <-gctx.Done():
					return gctx.Err()
				}
				defer func() { <-sem }()
				l, err := c.listPrefix(gctx, ids, in, pr)
				if err != nil {
					return err
				}
				out.Listings[i] = l
				return nil
			}))
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if req.Buckets {
		if err := c.observeNotify(ctx, out, req.Notify); err != nil {
			return nil, err
		}
	}
	return out, nil
}

type bucketIDEntry struct {
	once sync.Once
	id   string
	err  error
}

// bucketIDCache resolves each bucket name once per Observe.
type bucketIDCache struct {
	mu sync.Mutex
	m  map[string]*bucketIDEntry
}

func (bc *bucketIDCache) get(ctx context.Context, c *Conn, name string) (string, error) {
	bc.mu.Lock()
	e := bc.m[strings.ToLower(name)]
	if e == nil {
		e = &bucketIDEntry{}
		bc.m[strings.ToLower(name)] = e
	}
	bc.mu.Unlock()
	e.once.Do(func() {
		b, err := c.bucketByName(ctx, name)
		if err != nil {
			e.err = err
			return
		}
		if b != nil {
			e.id = b.ID
		}
	})
	return e.id, e.err
}

// listBuckets lists every bucket (name == "") or the one named. A key
// restricted to buckets cannot list unfiltered, so its allowed buckets are
// listed one by one.
func (c *Conn) listBuckets(ctx context.Context, name string) ([]live.Bucket, error) {
	type req struct {
		AccountID   string   `json:"accountId"`
		BucketID    string   `json:"bucketId,omitempty"`
		BucketName  string   `json:"bucketName,omitempty"`
		BucketTypes []string `json:"bucketTypes"`
	}
	var resp struct {
		Buckets []bucketJSON `json:"buckets"`
	}
	al := c.Allowed()
	var reqs []req
	switch {
	case name != "":
		reqs = []req{{BucketName: name}}
	case al.Buckets != nil:
		for _, b := range al.Buckets {
			reqs = append(reqs, req{BucketID: b.ID})
		}
	default:
		reqs = []req{{}}
	}
	var out []live.Bucket
	for _, r := range reqs {
		r.AccountID = c.AccountID()
		r.BucketTypes = []string{"all"}
		op := "list buckets"
		if name != "" {
			op = fmt.Sprintf("list bucket %q", name)
		}
		resp.Buckets = nil
		if _, err := c.call(ctx, op, "b2_list_buckets", r, &resp, false); err != nil {
			return nil, err
		}
		for i := range resp.Buckets {
			out = append(out, resp.Buckets[i].toLive())
		}
	}
	return out, nil
}

// bucketByName returns the bucket or nil when this account has none by
// that name.
func (c *Conn) bucketByName(ctx context.Context, name string) (*live.Bucket, error) {
	bs, err := c.listBuckets(ctx, name)
	if err != nil {
		return nil, err
	}
	for i := range bs {
		if strings.EqualFold(bs[i].Name, name) {
			return &bs[i], nil
		}
	}
	return nil, nil
}

// listKeys pages through b2_list_keys (v4) 10,000 at a time.
func (c *Conn) listKeys(ctx context.Context) ([]live.Key, error) {
	type req struct {
		AccountID   string `json:"accountId"`
		MaxKeyCount int    `json:"maxKeyCount"`
		Start       string `json:"startApplicationKeyId,omitempty"`
	}
	out := []live.Key{}
	r := req{AccountID: c.AccountID(), MaxKeyCount: maxListKeys}
	for {
		var resp struct {
			Keys []keyJSON `json:"keys"`
			Next *string   `json:"nextApplicationKeyId"`
		}
		if _, err := c.call(ctx, "list keys", "b2_list_keys", r, &resp, false); err != nil {
			return nil, err
		}
		for i := range resp.Keys {
			out = append(out, resp.Keys[i].toLive())
		}
		if resp.Next == nil || *resp.Next == "" || *resp.Next == r.Start {
			return out, nil
		}
		r.Start = *resp.Next
	}
}

// listPrefix lists every version and unfinished large file under one
// (bucket, prefix).
func (c *Conn) listPrefix(ctx context.Context, ids *bucketIDCache, in *live.Interner, pr live.PrefixRequest) (live.Listing, error) {
	l := live.Listing{BucketName: pr.BucketName, Prefix: pr.Prefix, VersionsOmitted: pr.UnfinishedOnly}
	id, err := ids.get(ctx, c, pr.BucketName)
	if err != nil {
		return l, err
	}
	if id == "" {
		return l, nil
	}
	l.BucketID = id
	vb := &versionBuilder{in: in}
	list := c.listVersions
	if c.s3 != nil {
		list = c.s3ListVersions
	}
	if !pr.UnfinishedOnly {
		if l.Versions, err = list(ctx, pr.BucketName, id, pr.Prefix, vb); err != nil {
			return l, err
		}
	}
	if l.Unfinished, err = c.listUnfinished(ctx, pr.BucketName, id, pr.Prefix, vb); err != nil {
		return l, err
	}
	return l, nil
}

// listVersions lists every version under prefix (VersionPager), each page
// decoded one file object at a time straight into compact Versions.
func (c *Conn) listVersions(ctx context.Context, bucketName, bucketID, prefix string, vb *versionBuilder) ([]live.Version, error) {
	// Pages are kept as they come and joined once at the end into a slice of
	// exactly the right size: no append growth copies of a large slice.
	var pages [][]live.Version
	total := 0
	pg := c.pager(bucketName, bucketID, prefix, "", "", vb)
	for {
		files, err := pg.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(files) > 0 {
			pages = append(pages, files)
			total += len(files)
		}
	}
	if len(pages) == 1 && cap(pages[0])-total < total/8 {
		return pages[0], nil
	}
	out := make([]live.Version, 0, total)
	for i := range pages {
		out = append(out, pages[i]...)
		pages[i] = nil
	}
	return out, nil
}

// versionPage is one b2_list_file_versions reply, decoded in a stream
// through a small window (a page is never held in memory whole), each file
// object straight into a compact Version (fastjson.go). A failed (retried)
// page is decoded again from scratch.
type versionPage struct {
	vb       *versionBuilder
	files    []live.Version
	nextName *string
	nextID   *string
}

// pageBufPool holds the windows listing pages are read through.
var pageBufPool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// jsonWindow is the unread part of a response, refilled on demand.
type jsonWindow struct {
	r   io.Reader
	buf []byte
	pos int
	eof bool
}

// fill reads more, dropping what has been consumed (growing the window when
// one value does not fit in it).
func (w *jsonWindow) fill() error {
	if w.pos > 0 {
		n := copy(w.buf, w.buf[w.pos:])
		w.buf = w.buf[:n]
		w.pos = 0
	}
	if len(w.buf) == cap(w.buf) {
		nb := make([]byte, len(w.buf), 2*cap(w.buf)+4096)
		copy(nb, w.buf)
		w.buf = nb
	}
	n, err := w.r.Read(w.buf[len(w.buf):cap(w.buf)])
	w.buf = w.buf[:len(w.buf)+n]
	if err == io.EOF {
		w.eof = true
		return nil
	}
	return err
}

// States of the page decoder.
const (
	stOpen      = iota // before the top-level '{'
	stFirstKey         // after '{'
	stKey              // after ','
	stAfter            // after a member
	stFirstFile        // after "files": [
	stFile             // after a file and ','
	stAfterFile        // after a file
)

func (p *versionPage) decodeFrom(r io.Reader) error {
	if p.files == nil {
		p.files = make([]live.Version, 0, 1024)
	}
	p.files = p.files[:0]
	p.nextName, p.nextID = nil, nil
	bp := pageBufPool.Get().(*[]byte)
	w := &jsonWindow{r: r, buf: (*bp)[:0]}
	defer func() {
		if cap(w.buf) <= 1<<20 {
			*bp = w.buf[:0]
			pageBufPool.Put(bp)
		}
	}()
	state := stOpen
	for {
		d := w.buf
		i := skipWS(d, w.pos)
		next, err := i, error(nil)
		if i >= len(d) {
			err = errShort
		} else {
			switch c := d[i]; state {
			case stOpen:
				if c != '{' {
					return p.badJSON(d[i:], '{')
				}
				next, state = i+1, stFirstKey
			case stFirstKey, stKey:
				if c == '}' && state == stFirstKey {
					return nil
				}
				var st int
				if next, st, err = p.member(d, i); err == nil {
					state = st
				}
			case stAfter:
				switch c {
				case ',':
					next, state = i+1, stKey
				case '}':
					return nil
				default:
					return syntaxError(d[i:], errors.New("malformed JSON"))
				}
			case stFirstFile, stFile:
				if c == ']' && state == stFirstFile {
					next, state = i+1, stAfter
					break
				}
				var v live.Version
				var folder bool
				v, folder, next, err = p.vb.decodeFile(d, i, w.eof)
				if err == nil {
					if !folder {
						p.files = append(p.files, v)
					}
					state = stAfterFile
				}
			case stAfterFile:
				switch c {
				case ',':
					next, state = i+1, stFile
				case ']':
					next, state = i+1, stAfter
				default:
					return syntaxError(d[i:], errors.New("malformed JSON"))
				}
			}
		}
		switch {
		case err == nil:
			w.pos = next
		case err == errShort && !w.eof:
			if ferr := w.fill(); ferr != nil {
				return ferr
			}
		case err == errShort:
			if state == stOpen && len(d) == 0 {
				return io.EOF
			}
			return io.ErrUnexpectedEOF
		case err == errFallback:
			return syntaxError(d[i:], errors.New("malformed JSON"))
		default:
			return err
		}
	}
}

// member decodes one top-level member at d[i]: "files" up to its '[', or a
// whole other member.
func (p *versionPage) member(d []byte, i int) (next, state int, err error) {
	ks, ke, next, plain, err := scanString(d, i)
	if err != nil {
		return 0, 0, err
	}
	key, err := unquote(d, ks, ke, plain)
	if err != nil {
		return 0, 0, err
	}
	i = skipWS(d, next)
	if i >= len(d) {
		return 0, 0, errShort
	}
	if d[i] != ':' {
		return 0, 0, errFallback
	}
	i = skipWS(d, i+1)
	if key == "files" {
		if i >= len(d) {
			return 0, 0, errShort
		}
		if d[i] != '[' {
			return 0, 0, p.badJSON(d[i:], '[')
		}
		return i + 1, stFirstFile, nil
	}
	end, err := skipValue(d, i, 1)
	if err != nil {
		return 0, 0, err
	}
	switch key {
	case "nextFileName":
		err = json.Unmarshal(d[i:end], &p.nextName)
	case "nextFileId":
		err = json.Unmarshal(d[i:end], &p.nextID)
	}
	if err != nil {
		return 0, 0, err
	}
	return end, stAfter, nil
}

// badJSON is the error for a delimiter other than want at the start of d.
func (p *versionPage) badJSON(d []byte, want byte) error {
	if err := syntaxError(d, nil); err != nil {
		return err
	}
	return fmt.Errorf("unexpected JSON: want %c", want)
}

// listUnfinished pages b2_list_unfinished_large_files (at most 100 a call).
func (c *Conn) listUnfinished(ctx context.Context, bucketName, bucketID, prefix string, vb *versionBuilder) ([]live.Version, error) {
	type req struct {
		BucketID     string `json:"bucketId"`
		NamePrefix   string `json:"namePrefix,omitempty"`
		StartFileID  string `json:"startFileId,omitempty"`
		MaxFileCount int    `json:"maxFileCount"`
	}
	op := fmt.Sprintf("list unfinished large files %s/%s", bucketName, prefix)
	r := req{BucketID: bucketID, NamePrefix: prefix, MaxFileCount: maxListUnfinished}
	var out []live.Version
	for {
		var p struct {
			Files  []fileJSON `json:"files"`
			NextID *string    `json:"nextFileId"`
		}
		if _, err := c.call(ctx, op, "b2_list_unfinished_large_files", r, &p, false); err != nil {
			return nil, err
		}
		for i := range p.Files {
			v := vb.build(&p.Files[i])
			v.Action = live.ActionStart
			out = append(out, v)
		}
		if p.NextID == nil || *p.NextID == "" || *p.NextID == r.StartFileID {
			return out, nil
		}
		r.StartFileID = *p.NextID
	}
}
