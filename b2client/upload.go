package b2client

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/Backblaze/blazer/base"

	"github.com/b2plan/b2plan/live"
)

// PlaceholderName is the conventional empty-folder marker B2's web UI
// creates: "<folder>/.bzEmpty".
func PlaceholderName(folder string) string {
	if folder != "" && !strings.HasSuffix(folder, "/") {
		folder += "/"
	}
	return folder + ".bzEmpty"
}

// EmptySHA1 is the SHA-1 of zero bytes.
const EmptySHA1 = "da39a3ee5e6b4b0d3255bfef95601890afd80709"

// UploadEmpty with b2_upload_file (see Mutator.UploadEmpty).
func (o nativeObjects) UploadEmpty(ctx context.Context, bucketName, name string) (live.Version, error) {
	m := o.m
	return m.nativeUpload(ctx, bucketName, name, "application/octet-stream", nil, nil)
}

// nativeUpload is Upload with one b2_upload_file. Uploads go through
// blazer's base package (b2_get_upload_url / b2_upload_file, with its name
// and file-info encoding), with upload URLs pooled per bucket; a key that
// blazer's v3 authorisation cannot use (a v4 multi-bucket key) falls back to
// an equivalent raw upload. Retries follow the shared policy; a failed upload
// URL is discarded and a new one fetched.
func (m *Mutator) nativeUpload(ctx context.Context, bucketName, name, contentType string, data []byte, info map[string]string) (live.Version, error) {
	op := fmt.Sprintf("upload %s", describe(bucketName, name))
	sum := sha1.Sum(data)
	shaHex := hex.EncodeToString(sum[:])
	if contentType == "" {
		contentType = "b2/x-auto"
	}
	c := m.c
	var got *base.File
	var rawResp fileJSON
	useRaw := false
	reauth := func(ctx context.Context, stale *authInfo) error {
		c.blz.expired(c)
		if useRaw {
			return c.reauth(ctx, stale)
		}
		return nil
	}
	// The upload URL is prepared with each request under its own retries
	// (the authorisation, the bucket lookup, b2_get_upload_url), so that a
	// fault in one does not use up the attempts of the others: with tokens
	// that expire during retries, a new session is often needed, and an
	// attempt of three requests would fail too often.
	step := func(ctx context.Context, f func(ctx context.Context) attemptResult) error {
		_, err := c.retry(ctx, op, false, reauth, f)
		return err
	}
	session := func(ctx context.Context) (*blazerSession, error) {
		var s *blazerSession
		err := step(ctx, func(ctx context.Context) attemptResult {
			var err error
			s, err = c.blz.session(ctx, c)
			if st, code, _ := base.MsgCode(err); st == 401 && code == "unsupported" {
				c.blz.markUnsupported()
				useRaw = true
				return attemptResult{status: 200}
			}
			return blazerResult(err)
		})
		return s, err
	}
	prepare := func(ctx context.Context) (s *blazerSession, u *base.URL, bucketID string, err error) {
		err = step(ctx, func(ctx context.Context) attemptResult {
			// After an expired token the session is dropped (reauth): take
			// the current one, and its bucket (a bucket holds its session's
			// token), each under its own retries.
			var err error
			if s, err = session(ctx); err != nil {
				return attemptResult{final: err}
			}
			if useRaw {
				return attemptResult{status: 200}
			}
			var b *base.Bucket
			if err := step(ctx, func(ctx context.Context) attemptResult {
				// The session again: a 401 here dropped it.
				var err error
				if s, err = c.blz.session(ctx, c); err != nil {
					return blazerResult(err)
				}
				b, err = s.bucket(ctx, bucketName)
				return blazerResult(err)
			}); err != nil {
				return attemptResult{final: err}
			}
			if b == nil {
				return attemptResult{final: &Error{Op: op, Status: 404, Code: "not_found", Class: NotFound, Message: fmt.Sprintf("no bucket named %q in this account", bucketName)}}
			}
			bucketID = b.ID
			u, err = s.uploadURL(ctx, b)
			return blazerResult(err)
		})
		return s, u, bucketID, err
	}
	_, err := c.retry(ctx, op, false, reauth, func(ctx context.Context) attemptResult {
		if c.blz.isUnsupported() {
			useRaw = true
			return c.rawUpload(ctx, bucketName, name, contentType, data, shaHex, info, &rawResp)
		}
		s, u, bucketID, err := prepare(ctx)
		if err != nil {
			return attemptResult{final: err}
		}
		if useRaw {
			return c.rawUpload(ctx, bucketName, name, contentType, data, shaHex, info, &rawResp)
		}
		f, err := u.UploadFile(ctx, bytes.NewReader(data), len(data), name, contentType, shaHex, info)
		if err != nil {
			return blazerResult(err) // the URL is dropped
		}
		s.putURL(bucketID, u)
		got = f
		return attemptResult{status: 200}
	})
	if err != nil {
		return live.Version{}, err
	}
	if useRaw {
		return (&versionBuilder{}).build(&rawResp), nil
	}
	v := live.Version{Name: name, ID: got.ID, Size: got.Size, ContentType: contentType, Uploaded: got.Timestamp.UnixMilli()}
	v.Action, _ = live.ParseAction(got.Status)
	if len(info) > 0 {
		v.Info = info
	}
	v.SetSHA1Hex(shaHex, false)
	return v, nil
}

// blazerResult maps a blazer base error onto the shared retry policy.
func blazerResult(err error) attemptResult {
	if err == nil {
		return attemptResult{status: 200}
	}
	status, code, msg := base.MsgCode(err)
	if status == 0 {
		// Transport failure (blazer marks those Retry) or a local error.
		return attemptResult{err: err, sent: true}
	}
	return attemptResult{status: status, code: code, msg: msg, retryAfter: base.Backoff(err), sent: true}
}

// blazerState is the lazily created blazer session used for uploads.
type blazerState struct {
	mu          sync.Mutex
	s           *blazerSession
	unsupported bool
}

type blazerSession struct {
	b2      *base.B2
	created time.Time // when it was authorised (policy clock)
	mu      sync.Mutex
	buckets map[string]*base.Bucket // by lower-case name
	urls    map[string][]*base.URL  // idle upload URLs by bucket id
}

func (bs *blazerState) session(ctx context.Context, c *Conn) (*blazerSession, error) {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	if bs.s != nil && !c.tokenOld(bs.s.created) {
		return bs.s, nil
	}
	created := c.policy.Now()
	b, err := base.AuthorizeAccount(ctx, c.keyID, c.key.Reveal(),
		base.Transport(c.rt), base.SetAPIBase(c.endpoint.APIBase), base.UserAgent(c.ua))
	if err != nil {
		return nil, err
	}
	bs.s = &blazerSession{b2: b, created: created, buckets: map[string]*base.Bucket{}, urls: map[string][]*base.URL{}}
	return bs.s, nil
}

// expired drops the session after an expired token (noting its age as a
// token lifetime): the next attempt authorises again.
func (bs *blazerState) expired(c *Conn) {
	bs.mu.Lock()
	if bs.s != nil {
		c.noteExpiry(bs.s.created)
	}
	bs.s = nil
	bs.mu.Unlock()
}

func (bs *blazerState) isUnsupported() bool {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	return bs.unsupported
}

func (bs *blazerState) markUnsupported() {
	bs.mu.Lock()
	bs.unsupported = true
	bs.mu.Unlock()
}

func (s *blazerSession) bucket(ctx context.Context, name string) (*base.Bucket, error) {
	key := strings.ToLower(name)
	s.mu.Lock()
	b, ok := s.buckets[key]
	s.mu.Unlock()
	if ok {
		return b, nil
	}
	bs, err := s.b2.ListBuckets(ctx, name, "all")
	if err != nil {
		return nil, err
	}
	for _, cand := range bs {
		if strings.EqualFold(cand.Name, name) {
			b = cand
		}
	}
	if b != nil {
		s.mu.Lock()
		s.buckets[key] = b
		s.mu.Unlock()
	}
	return b, nil
}

func (s *blazerSession) uploadURL(ctx context.Context, b *base.Bucket) (*base.URL, error) {
	s.mu.Lock()
	if l := s.urls[b.ID]; len(l) > 0 {
		u := l[len(l)-1]
		s.urls[b.ID] = l[:len(l)-1]
		s.mu.Unlock()
		return u, nil
	}
	s.mu.Unlock()
	return b.GetUploadURL(ctx)
}

func (s *blazerSession) putURL(bucketID string, u *base.URL) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.urls[bucketID]) < 64 {
		s.urls[bucketID] = append(s.urls[bucketID], u)
	}
}

// rawUpload is the fallback for keys blazer cannot authorise: one
// b2_get_upload_url and one b2_upload_file per attempt.
func (c *Conn) rawUpload(ctx context.Context, bucketName, name, contentType string, data []byte, shaHex string, info map[string]string, out *fileJSON) attemptResult {
	a := c.current()
	b, err := c.bucketByName(ctx, bucketName)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return attemptResult{status: e.Status, code: e.Code, msg: e.Message, err: e.Err, sent: true}
		}
		return attemptResult{err: err, sent: true}
	}
	if b == nil {
		return attemptResult{status: 404, code: "not_found", msg: fmt.Sprintf("no bucket named %q in this account", bucketName), sent: true}
	}
	body := []byte(`{"bucketId":"` + b.ID + `"}`)
	var up struct {
		UploadURL string `json:"uploadUrl"`
		Token     string `json:"authorizationToken"`
	}
	if r := c.doJSON(ctx, "POST", a.apiURL+"/b2api/v4/b2_get_upload_url", a.token, body, &up, false); !r.ok() {
		return r
	}
	req, err := http.NewRequestWithContext(ctx, "POST", up.UploadURL, bytes.NewReader(data))
	if err != nil {
		return attemptResult{err: err}
	}
	if len(data) == 0 {
		req.Body = http.NoBody
	}
	req.ContentLength = int64(len(data))
	req.Header.Set("Authorization", up.Token)
	req.Header.Set("X-Bz-File-Name", encodeName(name))
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("X-Bz-Content-Sha1", shaHex)
	req.Header.Set("User-Agent", c.ua)
	for k, v := range info {
		req.Header.Set("X-Bz-Info-"+k, encodeName(v))
	}
	resp, err := c.client.Do(req)
	return c.finish(resp, err, nil, out)
}

// encodeName percent-encodes a file name or info value as B2 expects
// (query escaping, "/" kept).
func encodeName(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "%2F", "/")
}
