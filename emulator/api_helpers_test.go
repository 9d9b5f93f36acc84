package emulator_test

// Shared helpers for the black-box conformance tests: a small raw JSON client
// that speaks any API version (v1..v4), server start-up helpers and a fake
// clock. The oracle for every assertion is /work/shared/reference/b2-native-api.md.

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/b2plan/b2plan/emulator"
)

// fakeClock is a controllable Options.Now.
type fakeClock struct{ off atomic.Int64 }

func (c *fakeClock) Now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *fakeClock) Advance(d time.Duration) { c.off.Add(int64(d)) }

// startServer starts an emulator on a real 127.0.0.1 listener and returns it
// with its base URL and a plain HTTP client.
func startServer(t testing.TB, opts emulator.Options) (*emulator.Server, string, *http.Client) {
	t.Helper()
	s, err := emulator.NewServer(opts)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	u, err := s.Start("")
	if err != nil {
		s.Close()
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if !strings.HasPrefix(u, "http://127.0.0.1:") {
		t.Errorf("Start returned %q, want http://127.0.0.1:PORT", u)
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 0}, Timeout: 60 * time.Second}
	return s, u, hc
}

// inProcessServer returns a server reached through its in-process transport.
func inProcessServer(t testing.TB, opts emulator.Options) (*emulator.Server, string, *http.Client) {
	t.Helper()
	s, err := emulator.NewServer(opts)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, s.URL(), s.HTTPClient()
}

// resp is one decoded API answer.
type resp struct {
	Status int
	Header http.Header
	Raw    []byte
	Body   map[string]any
}

func (r resp) code() string { s, _ := r.Body["code"].(string); return s }

func (r resp) String() string {
	raw := string(r.Raw)
	if len(raw) > 600 {
		raw = raw[:600] + "..."
	}
	return fmt.Sprintf("HTTP %d %s", r.Status, raw)
}

// jget walks a decoded JSON value by keys / decimal indices.
func jget(v any, path ...string) any {
	for _, p := range path {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

func jstr(v any, path ...string) string { s, _ := jget(v, path...).(string); return s }

func jnum(v any, path ...string) int64 {
	switch n := jget(v, path...).(type) {
	case float64:
		return int64(n)
	case json.Number:
		i, _ := n.Int64()
		return i
	}
	return -1
}

func jlist(v any, path ...string) []any { l, _ := jget(v, path...).([]any); return l }

func doReq(hc *http.Client, req *http.Request) (resp, error) {
	res, err := hc.Do(req)
	if err != nil {
		return resp{}, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return resp{}, err
	}
	r := resp{Status: res.StatusCode, Header: res.Header, Raw: raw}
	if len(raw) > 0 && (strings.Contains(res.Header.Get("Content-Type"), "json") || res.StatusCode >= 300) {
		_ = json.Unmarshal(raw, &r.Body)
	}
	return r, nil
}

// sess is an authorized raw session for one API version.
type sess struct {
	t           testing.TB
	hc          *http.Client
	base        string // authorize base
	ver         int
	keyID, key  string
	auth        resp
	token       string
	apiURL      string
	downloadURL string
	accountID   string
	extraHeader http.Header
}

func authorizeRaw(hc *http.Client, base string, ver int, keyID, key string) (resp, error) {
	req, _ := http.NewRequest("GET", fmt.Sprintf("%s/b2api/v%d/b2_authorize_account", base, ver), nil)
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(keyID+":"+key)))
	return doReq(hc, req)
}

// login authorizes and fails the test on error.
func login(t testing.TB, hc *http.Client, base string, ver int, keyID, key string) *sess {
	t.Helper()
	r, err := authorizeRaw(hc, base, ver, keyID, key)
	if err != nil {
		t.Fatalf("authorize v%d: %v", ver, err)
	}
	if r.Status != 200 {
		t.Fatalf("authorize v%d: %v", ver, r)
	}
	s := &sess{t: t, hc: hc, base: base, ver: ver, keyID: keyID, key: key, auth: r}
	s.token = jstr(r.Body, "authorizationToken")
	s.accountID = jstr(r.Body, "accountId")
	if ver <= 2 {
		s.apiURL, s.downloadURL = jstr(r.Body, "apiUrl"), jstr(r.Body, "downloadUrl")
	} else {
		s.apiURL, s.downloadURL = jstr(r.Body, "apiInfo", "storageApi", "apiUrl"), jstr(r.Body, "apiInfo", "storageApi", "downloadUrl")
	}
	if s.token == "" || s.apiURL == "" || s.downloadURL == "" {
		t.Fatalf("authorize v%d: missing token/apiUrl/downloadUrl: %v", ver, r)
	}
	return s
}

func master(t testing.TB, hc *http.Client, base string, ver int) *sess {
	return login(t, hc, base, ver, emulator.DefaultKeyID, emulator.DefaultKey)
}

// as returns a copy of s talking another API version with the same token.
func (s *sess) as(ver int) *sess {
	c := *s
	c.ver = ver
	return &c
}

func (s *sess) opURL(op string) string { return fmt.Sprintf("%s/b2api/v%d/%s", s.apiURL, s.ver, op) }

// try does a POST JSON call and returns the response without judging it.
func (s *sess) try(op string, body any) resp {
	s.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", s.opURL(op), bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if s.token != "" {
		req.Header.Set("Authorization", s.token)
	}
	for k, v := range s.extraHeader {
		req.Header[k] = v
	}
	r, err := doReq(s.hc, req)
	if err != nil {
		s.t.Fatalf("%s: %v", op, err)
	}
	return r
}

// tryGet does a GET call with query parameters.
func (s *sess) tryGet(op string, q url.Values) resp {
	s.t.Helper()
	req, _ := http.NewRequest("GET", s.opURL(op)+"?"+q.Encode(), nil)
	if s.token != "" {
		req.Header.Set("Authorization", s.token)
	}
	r, err := doReq(s.hc, req)
	if err != nil {
		s.t.Fatalf("%s: %v", op, err)
	}
	return r
}

// call requires a 200.
func (s *sess) call(op string, body any) map[string]any {
	s.t.Helper()
	r := s.try(op, body)
	if r.Status != 200 {
		s.t.Fatalf("%s %v: %v", op, body, r)
	}
	return r.Body
}

// wantErr asserts status and code.
func wantErr(t testing.TB, what string, r resp, status int, code string) {
	t.Helper()
	if r.Status != status || (code != "" && r.code() != code) {
		t.Errorf("%s: got %v; want %d %s", what, r, status, code)
		return
	}
	if r.Body != nil && jnum(r.Body, "status") != int64(status) {
		t.Errorf("%s: error envelope status field = %v, want %d", what, r.Body["status"], status)
	}
}

func (s *sess) createBucket(name, typ string, extra map[string]any) map[string]any {
	s.t.Helper()
	body := map[string]any{"accountId": s.accountID, "bucketName": name, "bucketType": typ}
	for k, v := range extra {
		body[k] = v
	}
	return s.call("b2_create_bucket", body)
}

func (s *sess) bucket(name string) string {
	s.t.Helper()
	return jstr(s.createBucket(name, "allPrivate", nil), "bucketId")
}

func sha1hex(b []byte) string { h := sha1.Sum(b); return hex.EncodeToString(h[:]) }

// encName percent-encodes a file name the way B2 clients do (§6.5).
func encName(name string) string {
	return strings.ReplaceAll(url.QueryEscape(name), "%2F", "/")
}

type uploadURL struct{ url, token string }

func (s *sess) getUploadURL(bucketID string) uploadURL {
	s.t.Helper()
	b := s.call("b2_get_upload_url", map[string]any{"bucketId": bucketID})
	return uploadURL{jstr(b, "uploadUrl"), jstr(b, "authorizationToken")}
}

// rawUpload posts to an upload URL; name is sent as given (already encoded).
func rawUpload(hc *http.Client, u uploadURL, encodedName string, data []byte, sha string, hdr map[string]string) (resp, error) {
	req, _ := http.NewRequest("POST", u.url, bytes.NewReader(data))
	req.Header.Set("Authorization", u.token)
	req.Header.Set("X-Bz-File-Name", encodedName)
	req.Header.Set("Content-Type", "text/plain")
	if sha == "" {
		sha = sha1hex(data)
	}
	req.Header.Set("X-Bz-Content-Sha1", sha)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return doReq(hc, req)
}

// upload uploads data under name (a fresh upload URL each time) and requires 200.
func (s *sess) upload(bucketID, name string, data []byte, hdr map[string]string) map[string]any {
	s.t.Helper()
	r := s.tryUpload(bucketID, name, data, hdr)
	if r.Status != 200 {
		s.t.Fatalf("upload %q: %v", name, r)
	}
	return r.Body
}

func (s *sess) tryUpload(bucketID, name string, data []byte, hdr map[string]string) resp {
	s.t.Helper()
	u := s.getUploadURL(bucketID)
	r, err := rawUpload(s.hc, u, encName(name), data, "", hdr)
	if err != nil {
		s.t.Fatalf("upload %q: %v", name, err)
	}
	return r
}

// download does GET (or HEAD) on a download URL path with optional token and headers.
func (s *sess) download(method, pathAndQuery, token string, hdr map[string]string) resp {
	s.t.Helper()
	req, _ := http.NewRequest(method, s.downloadURL+pathAndQuery, nil)
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := s.hc.Do(req)
	if err != nil {
		s.t.Fatalf("download %s: %v", pathAndQuery, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := resp{Status: res.StatusCode, Header: res.Header, Raw: raw}
	if res.StatusCode >= 300 {
		_ = json.Unmarshal(raw, &r.Body)
	}
	return r
}

func (s *sess) byName(bucket, name string) resp {
	s.t.Helper()
	return s.download("GET", "/file/"+bucket+"/"+encName(name), s.token, nil)
}

func (s *sess) byID(id string) resp {
	s.t.Helper()
	return s.download("GET", fmt.Sprintf("/b2api/v%d/b2_download_file_by_id?fileId=%s", s.ver, url.QueryEscape(id)), s.token, nil)
}

// listNames lists one page.
func (s *sess) listNames(bucketID string, extra map[string]any) map[string]any {
	s.t.Helper()
	body := map[string]any{"bucketId": bucketID}
	for k, v := range extra {
		body[k] = v
	}
	return s.call("b2_list_file_names", body)
}

type entry struct{ Name, ID, Action string }

// allNames pages through list_file_names and returns every entry.
func (s *sess) allNames(bucketID, prefix, delim string, page int) []entry {
	s.t.Helper()
	var out []entry
	start := ""
	for i := 0; i < 100000; i++ {
		body := map[string]any{"maxFileCount": page, "prefix": prefix}
		if delim != "" {
			body["delimiter"] = delim
		}
		if start != "" {
			body["startFileName"] = start
		}
		b := s.listNames(bucketID, body)
		for _, f := range jlist(b, "files") {
			out = append(out, entry{jstr(f, "fileName"), jstr(f, "fileId"), jstr(f, "action")})
		}
		next, _ := b["nextFileName"].(string)
		if next == "" {
			return out
		}
		start = next
	}
	s.t.Fatal("list_file_names did not terminate")
	return nil
}

// allVersions pages through list_file_versions.
func (s *sess) allVersions(bucketID, prefix string, page int) []entry {
	s.t.Helper()
	var out []entry
	startName, startID := "", ""
	for i := 0; i < 100000; i++ {
		body := map[string]any{"bucketId": bucketID, "maxFileCount": page, "prefix": prefix}
		if startName != "" {
			body["startFileName"] = startName
		}
		if startID != "" {
			body["startFileId"] = startID
		}
		b := s.call("b2_list_file_versions", body)
		for _, f := range jlist(b, "files") {
			out = append(out, entry{jstr(f, "fileName"), jstr(f, "fileId"), jstr(f, "action")})
		}
		n, _ := b["nextFileName"].(string)
		id, _ := b["nextFileId"].(string)
		if n == "" {
			return out
		}
		startName, startID = n, id
	}
	s.t.Fatal("list_file_versions did not terminate")
	return nil
}

func names(es []entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Name
	}
	return out
}

// createKey creates an application key and logs in with it.
func (s *sess) createKey(body map[string]any) (id, secret string, obj map[string]any) {
	s.t.Helper()
	if _, ok := body["accountId"]; !ok {
		body["accountId"] = s.accountID
	}
	if _, ok := body["keyName"]; !ok {
		body["keyName"] = "test-key"
	}
	b := s.call("b2_create_key", body)
	return jstr(b, "applicationKeyId"), jstr(b, "applicationKey"), b
}

var uniq atomic.Int64

// bucketName returns a fresh valid bucket name.
func bucketName(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano()%1e6, uniq.Add(1))
}

// retrying performs fn until it returns a non-retryable answer (B2 §2.3).
func retrying(t testing.TB, max int, fn func() resp) (resp, int) {
	t.Helper()
	var r resp
	for i := 0; i < max; i++ {
		r = fn()
		if r.Status != 429 && r.Status != 503 && r.Status != 500 {
			return r, i
		}
	}
	return r, max
}

// blockingBody is an io.Reader that delivers a prefix and then waits.
type blockingBody struct {
	mu      sync.Mutex
	first   []byte
	rest    []byte
	release chan struct{}
	started chan struct{}
	once    sync.Once
}

func (b *blockingBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.first) > 0 {
		n := copy(p, b.first)
		b.first = b.first[n:]
		return n, nil
	}
	b.once.Do(func() { close(b.started) })
	<-b.release
	if len(b.rest) == 0 {
		return 0, io.EOF
	}
	n := copy(p, b.rest)
	b.rest = b.rest[n:]
	return n, nil
}

var _ = context.Background
