package emulator

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// wb is a tiny white-box client over the in-process transport.
type wb struct {
	t     testing.TB
	s     *Server
	hc    *http.Client
	v     int
	tok   string
	acct  string
	api   string
	dlURL string
}

func newWB(t testing.TB, opts Options) (*Server, *wb) {
	t.Helper()
	s, err := NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, login(t, s, 4, DefaultKeyID, DefaultKey)
}

func login(t testing.TB, s *Server, v int, id, key string) *wb {
	t.Helper()
	c := &wb{t: t, s: s, hc: s.HTTPClient(), v: v}
	req, _ := http.NewRequest("GET", fmt.Sprintf("%s/b2api/v%d/b2_authorize_account", s.URL(), v), nil)
	req.SetBasicAuth(id, key)
	st, body := c.do(req)
	if st != 200 {
		t.Fatalf("authorize: %d %v", st, body)
	}
	c.tok = body["authorizationToken"].(string)
	c.acct = body["accountId"].(string)
	if v >= 3 {
		sa := body["apiInfo"].(map[string]any)["storageApi"].(map[string]any)
		c.api, c.dlURL = sa["apiUrl"].(string), sa["downloadUrl"].(string)
	} else {
		c.api, c.dlURL = body["apiUrl"].(string), body["downloadUrl"].(string)
	}
	return c
}

func (c *wb) do(req *http.Request) (int, map[string]any) {
	c.t.Helper()
	res, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return res.StatusCode, m
}

func (c *wb) try(op string, body map[string]any) (int, map[string]any) {
	c.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", fmt.Sprintf("%s/b2api/v%d/%s", c.api, c.v, op), bytes.NewReader(b))
	req.Header.Set("Authorization", c.tok)
	return c.do(req)
}

func (c *wb) call(op string, body map[string]any) map[string]any {
	c.t.Helper()
	st, m := c.try(op, body)
	if st != 200 {
		c.t.Fatalf("%s %v: %d %v", op, body, st, m)
	}
	return m
}

func (c *wb) bucket(name, typ string) string {
	c.t.Helper()
	return c.call("b2_create_bucket", map[string]any{"accountId": c.acct, "bucketName": name, "bucketType": typ})["bucketId"].(string)
}

func (c *wb) tryUpload(bid, name string, data []byte, hdr map[string]string) (int, map[string]any) {
	c.t.Helper()
	u := c.call("b2_get_upload_url", map[string]any{"bucketId": bid})
	req, _ := http.NewRequest("POST", u["uploadUrl"].(string), bytes.NewReader(data))
	req.Header.Set("Authorization", u["authorizationToken"].(string))
	req.Header.Set("X-Bz-File-Name", url.QueryEscape(name))
	req.Header.Set("Content-Type", "text/plain")
	sum := sha1.Sum(data)
	req.Header.Set("X-Bz-Content-Sha1", hex.EncodeToString(sum[:]))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return c.do(req)
}

func (c *wb) upload(bid, name string, data []byte) string {
	c.t.Helper()
	st, m := c.tryUpload(bid, name, data, nil)
	if st != 200 {
		c.t.Fatalf("upload %s: %d %v", name, st, m)
	}
	return m["fileId"].(string)
}

func (c *wb) download(path string) (int, http.Header, []byte) {
	c.t.Helper()
	req, _ := http.NewRequest("GET", c.dlURL+path, nil)
	req.Header.Set("Authorization", c.tok)
	res, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, b
}

func wantCode(t *testing.T, what string, st int, m map[string]any, status int, code string) {
	t.Helper()
	if st != status || (code != "" && m["code"] != code) {
		t.Errorf("%s: got %d %v, want %d %s", what, st, m, status, code)
	}
}

func TestHandlerAuthErrors(t *testing.T) {
	s, c := newWB(t, Options{})
	bid := c.bucket("auth-errors", "allPrivate")
	req, _ := http.NewRequest("POST", c.api+"/b2api/v4/b2_list_buckets", strings.NewReader(`{"accountId":"`+c.acct+`"}`))
	st, m := c.do(req)
	wantCode(t, "missing token", st, m, 401, "missing_auth_token")
	req, _ = http.NewRequest("POST", c.api+"/b2api/v4/b2_list_buckets", strings.NewReader(`{"accountId":"`+c.acct+`"}`))
	req.Header.Set("Authorization", "4_nonsense")
	st, m = c.do(req)
	wantCode(t, "bad token", st, m, 401, "bad_auth_token")

	// capability and bucket restriction
	k := c.call("b2_create_key", map[string]any{"accountId": c.acct, "keyName": "ro", "capabilities": []string{"listFiles"}, "bucketIds": []string{bid}, "namePrefix": "p/"})
	rc := login(t, s, 4, k["applicationKeyId"].(string), k["applicationKey"].(string))
	st, m = rc.try("b2_get_upload_url", map[string]any{"bucketId": bid})
	wantCode(t, "missing capability", st, m, 401, "unauthorized")
	st, m = rc.try("b2_list_file_names", map[string]any{"bucketId": bid})
	wantCode(t, "prefix not restrictive", st, m, 401, "unauthorized")
	st, _ = rc.try("b2_list_file_names", map[string]any{"bucketId": bid, "prefix": "p/x"})
	if st != 200 {
		t.Errorf("restrictive prefix: %d", st)
	}
	// deleted key → bad_auth_token
	c.call("b2_delete_key", map[string]any{"applicationKeyId": k["applicationKeyId"]})
	st, m = rc.try("b2_list_file_names", map[string]any{"bucketId": bid, "prefix": "p/"})
	wantCode(t, "deleted key", st, m, 401, "bad_auth_token")

	// ExpireTokens
	s.ExpireTokens()
	st, m = c.try("b2_list_buckets", map[string]any{"accountId": c.acct})
	wantCode(t, "expired", st, m, 401, "expired_auth_token")
	c2 := login(t, s, 2, DefaultKeyID, DefaultKey)
	if st, _ := c2.try("b2_list_buckets", map[string]any{"accountId": c.acct}); st != 200 {
		t.Errorf("new token after ExpireTokens: %d", st)
	}
}

func TestHandlerValidation(t *testing.T) {
	_, c := newWB(t, Options{})
	st, m := c.try("b2_create_bucket", map[string]any{"accountId": c.acct, "bucketName": "ab", "bucketType": "allPrivate"})
	wantCode(t, "short bucket name", st, m, 400, "bad_request")
	bid := c.bucket("Valid-Name1", "allPrivate")
	st, m = c.try("b2_create_bucket", map[string]any{"accountId": c.acct, "bucketName": "valid-name1", "bucketType": "allPrivate"})
	wantCode(t, "duplicate case-insensitive", st, m, 400, "duplicate_bucket_name")
	st, m = c.try("b2_update_bucket", map[string]any{"bucketId": bid, "lifecycleRules": []map[string]any{{"fileNamePrefix": "a/", "daysFromHidingToDeleting": 0}}})
	wantCode(t, "lifecycle 0", st, m, 400, "bad_request")
	st, m = c.try("b2_update_bucket", map[string]any{"bucketId": bid, "lifecycleRules": []map[string]any{{"fileNamePrefix": "a/", "daysFromHidingToDeleting": 1}, {"fileNamePrefix": "a/b", "daysFromHidingToDeleting": 1}}})
	wantCode(t, "lifecycle overlap", st, m, 400, "bad_request")
	up := c.call("b2_update_bucket", map[string]any{"bucketId": bid, "bucketInfo": map[string]string{"a": "b"}, "ifRevisionIs": 1})
	if up["revision"].(float64) != 2 {
		t.Errorf("revision after update = %v", up["revision"])
	}
	st, m = c.try("b2_update_bucket", map[string]any{"bucketId": bid, "bucketType": "allPublic", "ifRevisionIs": 1})
	wantCode(t, "stale revision", st, m, 409, "conflict")

	// uploads
	st, m = c.tryUpload(bid, "bad\x01name", []byte("x"), nil)
	wantCode(t, "control char", st, m, 400, "bad_request")
	st, m = c.tryUpload(bid, strings.Repeat("n", 1025), []byte("x"), nil)
	wantCode(t, "long name", st, m, 400, "bad_request")
	st, m = c.tryUpload(bid, "a", []byte("x"), map[string]string{"X-Bz-Content-Sha1": strings.Repeat("0", 40)})
	wantCode(t, "sha mismatch", st, m, 400, "bad_request")
	st, m = c.tryUpload(bid, "a", []byte("x"), map[string]string{"X-Bz-Info-b2-bogus": "1"})
	wantCode(t, "reserved info", st, m, 400, "bad_request")
	st, m = c.tryUpload(bid, "a", []byte("x"), map[string]string{"X-Bz-Info-big": strings.Repeat("v", 7000)})
	wantCode(t, "header budget", st, m, 400, "bad_request")
	// hex_digits_at_end, + is a space, info lowercased
	data := []byte("hello")
	sum := sha1.Sum(data)
	st, m = c.tryUpload(bid, "x", append(data, hex.EncodeToString(sum[:])...), map[string]string{"X-Bz-Content-Sha1": "hex_digits_at_end", "X-Bz-File-Name": "a+b%2Bc", "X-Bz-Info-MixedCase": "V%20w"})
	if st != 200 || m["fileName"] != "a b+c" || m["contentLength"].(float64) != 5 || m["fileInfo"].(map[string]any)["mixedcase"] != "V w" {
		t.Errorf("hex_digits_at_end upload: %d %v", st, m)
	}
	// wrong method on an upload URL
	u := c.call("b2_get_upload_url", map[string]any{"bucketId": bid})
	req, _ := http.NewRequest("GET", u["uploadUrl"].(string), nil)
	req.Header.Set("Authorization", u["authorizationToken"].(string))
	st, m = c.do(req)
	wantCode(t, "GET upload url", st, m, 405, "method_not_allowed")
	// list validation
	st, m = c.try("b2_list_file_names", map[string]any{"bucketId": bid, "maxFileCount": 10001})
	wantCode(t, "maxFileCount", st, m, 400, "out_of_range")
	st, m = c.try("b2_list_file_versions", map[string]any{"bucketId": bid, "startFileName": "a", "startFileId": "zzz"})
	wantCode(t, "bad startFileId", st, m, 400, "invalid_file_id")
	st, m = c.try("b2_delete_bucket", map[string]any{"accountId": c.acct, "bucketId": bid})
	wantCode(t, "non-empty bucket", st, m, 400, "cannot_delete_non_empty_bucket")
}

func TestHandlerDownloadsAndCopy(t *testing.T) {
	_, c := newWB(t, Options{MaxCopySize: 10})
	bid := c.bucket("dl-bucket", "allPrivate")
	id := c.upload(bid, "dir/f i+le.txt", []byte("0123456789"))
	st, h, b := c.download("/file/dl-bucket/dir/f%20i%2Ble.txt")
	if st != 200 || string(b) != "0123456789" || h.Get("X-Bz-File-Id") != id || h.Get("X-Bz-File-Name") != "dir/f%20i%2Ble.txt" {
		t.Errorf("download: %d %q %v", st, b, h)
	}
	req, _ := http.NewRequest("GET", c.dlURL+"/file/dl-bucket/dir/f%20i%2Ble.txt", nil)
	req.Header.Set("Authorization", c.tok)
	req.Header.Set("Range", "bytes=2-4")
	res, _ := c.hc.Do(req)
	rb, _ := io.ReadAll(res.Body)
	if res.StatusCode != 206 || string(rb) != "234" || res.Header.Get("Content-Range") != "bytes 2-4/10" {
		t.Errorf("range: %d %q %v", res.StatusCode, rb, res.Header)
	}
	req.Header.Set("Range", "bytes=20-")
	res, _ = c.hc.Do(req)
	if res.StatusCode != 416 {
		t.Errorf("range past end: %d", res.StatusCode)
	}
	// no token on private bucket
	req, _ = http.NewRequest("GET", c.dlURL+"/file/dl-bucket/dir/f%20i%2Ble.txt", nil)
	res, _ = c.hc.Do(req)
	if res.StatusCode != 401 {
		t.Errorf("private without token: %d", res.StatusCode)
	}
	// download authorization via query
	da := c.call("b2_get_download_authorization", map[string]any{"bucketId": bid, "fileNamePrefix": "dir/", "validDurationInSeconds": 60})
	req, _ = http.NewRequest("GET", c.dlURL+"/file/dl-bucket/dir/f%20i%2Ble.txt?Authorization="+url.QueryEscape(da["authorizationToken"].(string)), nil)
	res, _ = c.hc.Do(req)
	if res.StatusCode != 200 {
		t.Errorf("download authorization: %d", res.StatusCode)
	}
	// copy: action copy, listed as upload; range; too large
	cp := c.call("b2_copy_file", map[string]any{"sourceFileId": id, "fileName": "copy", "range": "bytes=1-3"})
	if cp["action"] != "copy" || cp["contentLength"].(float64) != 3 {
		t.Errorf("copy: %v", cp)
	}
	sum := sha1.Sum([]byte("123"))
	if cp["contentSha1"] != hex.EncodeToString(sum[:]) {
		t.Errorf("ranged copy sha1 = %v", cp["contentSha1"])
	}
	ln := c.call("b2_list_file_names", map[string]any{"bucketId": bid, "prefix": "copy"})
	if f := ln["files"].([]any)[0].(map[string]any); f["action"] != "upload" {
		t.Errorf("copy listed as %v", f["action"])
	}
	big := c.upload(bid, "big", []byte("0123456789ab"))
	st2, m := c.try("b2_copy_file", map[string]any{"sourceFileId": big, "fileName": "big2"})
	wantCode(t, "copy too big", st2, m, 400, "source_too_large")
	if m["message"] != "Copy source too big: 12" {
		t.Errorf("message %q", m["message"])
	}
	st2, m = c.try("b2_copy_file", map[string]any{"sourceFileId": id, "fileName": "x", "range": "bytes=5-40"})
	wantCode(t, "copy range", st2, m, 416, "range_not_satisfiable")
	st2, m = c.try("b2_copy_file", map[string]any{"sourceFileId": id, "fileName": "x", "contentType": "text/plain"})
	wantCode(t, "COPY with contentType", st2, m, 400, "bad_request")
}

func TestHandlerUploadTokenLimit(t *testing.T) {
	_, c := newWB(t, Options{})
	bid := c.bucket("tok-limit", "allPrivate")
	u := c.call("b2_get_upload_url", map[string]any{"bucketId": bid})
	pr, pw := io.Pipe()
	req1, _ := http.NewRequest("POST", u["uploadUrl"].(string), pr)
	req1.ContentLength = 4
	req1.Header.Set("Authorization", u["authorizationToken"].(string))
	req1.Header.Set("X-Bz-File-Name", "a")
	req1.Header.Set("Content-Type", "text/plain")
	req1.Header.Set("X-Bz-Content-Sha1", "do_not_verify")
	var wg sync.WaitGroup
	wg.Add(1)
	var st1 int
	go func() {
		defer wg.Done()
		st1, _ = c.do(req1)
	}()
	pw.Write([]byte("ab")) // first upload is now in the body read
	req2, _ := http.NewRequest("POST", u["uploadUrl"].(string), strings.NewReader("x"))
	req2.Header = req1.Header.Clone()
	st, m := c.do(req2)
	wantCode(t, "concurrent upload", st, m, 400, "auth_token_limit")
	pw.Write([]byte("cd"))
	pw.Close()
	wg.Wait()
	if st1 != 200 {
		t.Errorf("first upload: %d", st1)
	}
}

func TestHandlerFaultsAndStats(t *testing.T) {
	s, c := newWB(t, Options{Seed: 1})
	bid := c.bucket("faults-bkt", "allPrivate")
	s.ResetStats()
	s.SetFaults(1, 429)
	st, m := c.try("b2_hide_file", map[string]any{"bucketId": bid, "fileName": "nothing"})
	wantCode(t, "fault", st, m, 429, "too_many_requests")
	s.SetFaults(0)
	// the faulted call did nothing: the name is still unknown
	st, m = c.try("b2_hide_file", map[string]any{"bucketId": bid, "fileName": "nothing"})
	wantCode(t, "after fault", st, m, 400, "no_such_file")
	stats := s.Stats()
	if stats.Calls["b2_hide_file"] != 2 || stats.Faults != 1 || stats.Classes["A"] != 2 {
		t.Errorf("stats = %+v", stats)
	}
	// admin endpoints are never faulted
	s.SetFaults(1, 503)
	res, err := c.hc.Get(s.URL() + "/_b2local/health")
	if err != nil || res.StatusCode != 200 {
		t.Errorf("health under faults: %v %v", res, err)
	}
	freq, _ := http.NewRequest("POST", s.URL()+"/_b2local/faults", strings.NewReader(`{"rate":0}`))
	freq.Header.Set("Content-Type", "application/json")
	freq.Header.Set("Authorization", "Bearer "+DefaultKey)
	res, _ = c.hc.Do(freq)
	if res.StatusCode != 200 {
		t.Errorf("POST faults: %d", res.StatusCode)
	}
	if st, _ := c.try("b2_list_buckets", map[string]any{"accountId": c.acct}); st != 200 {
		t.Errorf("after faults off: %d", st)
	}
	req, _ := http.NewRequest("POST", c.api+"/b2api/v4/b2_list_buckets", strings.NewReader(`{"accountId":"`+c.acct+`"}`))
	req.Header.Set("Authorization", c.tok)
	req.Header.Set("X-Bz-Test-Mode", "force_cap_exceeded")
	st, m = c.do(req)
	wantCode(t, "force_cap_exceeded", st, m, 403, "transaction_cap_exceeded")
}

func TestHandlerObjectLock(t *testing.T) {
	now := time.UnixMilli(1_800_000_000_000)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	_, c := newWB(t, Options{Now: clock})
	bid := c.call("b2_create_bucket", map[string]any{"accountId": c.acct, "bucketName": "locked-bkt", "bucketType": "allPrivate", "fileLockEnabled": true})["bucketId"].(string)
	st, m := c.try("b2_update_bucket", map[string]any{"bucketId": bid, "fileLockEnabled": false})
	wantCode(t, "disable lock", st, m, 400, "file_lock_conflict")
	c.call("b2_update_bucket", map[string]any{"bucketId": bid, "defaultRetention": map[string]any{"mode": "governance", "period": map[string]any{"duration": 1, "unit": "days"}}})
	id := c.upload(bid, "g", []byte("g"))
	st, m = c.try("b2_delete_file_version", map[string]any{"fileName": "g", "fileId": id})
	wantCode(t, "governance delete", st, m, 403, "access_denied")
	c.call("b2_delete_file_version", map[string]any{"fileName": "g", "fileId": id, "bypassGovernance": true})
	id2 := c.upload(bid, "h", []byte("h"))
	c.call("b2_update_file_legal_hold", map[string]any{"fileName": "h", "fileId": id2, "legalHold": "on"})
	st, m = c.try("b2_delete_file_version", map[string]any{"fileName": "h", "fileId": id2, "bypassGovernance": true})
	wantCode(t, "legal hold delete", st, m, 403, "access_denied")
}

// The fast list encoder must produce the same objects as fileObject.
func TestHandlerListEncodingMatchesFileObject(t *testing.T) {
	s, _ := newWB(t, Options{})
	st := s.st
	k := st.keys[DefaultKeyID]
	for _, ver := range []int{1, 4} {
		c := &call{s: s, v: ver, tok: &token{key: k}}
		b := &bucket{ID: strings.Repeat("a", 24), Account: s.st.accountID}
		vs := []*version{
			{id: 1, ts: 5, size: 3, kind: kindUpload, flags: fSHA1 | fMD5 | fSSE, ctype: "text/pl\"ain", info: []kv{{"a", "x\ny"}, {"b", "é"}}, retMode: retGovernance, retainUntil: 9, hold: holdOn},
			{id: 2, ts: 6, kind: kindHide, ctype: hideCT},
			{id: 3, ts: 7, kind: kindStart, ctype: "text/plain"},
			{id: 4, ts: 8, size: 10, kind: kindUpload, ctype: "a/b"},
			nil,
		}
		for _, v := range vs {
			want, _ := json.Marshal(c.fileObject(b, "n\x7fame", v, ""))
			snap := fileSnap{name: "n\x7fame", folder: v == nil}
			if v != nil {
				snap.v = *v
			}
			got := c.appendFile(nil, b.ID, &snap)
			var w, g any
			if err := json.Unmarshal(want, &w); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(got, &g); err != nil {
				t.Fatalf("fast encoder produced invalid JSON %s: %v", got, err)
			}
			if fmt.Sprint(w) != fmt.Sprint(g) {
				t.Errorf("v%d encoding differs:\nwant %s\n got %s", ver, want, got)
			}
		}
	}
}
