package emulator_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/b2plan/b2plan/emulator"
	"github.com/google/go-cmp/cmp"
)

// §7, §6.4: upload header validation.
func TestAPIUploadValidation(t *testing.T) {
	_, base, hc := startServer(t, emulator.Options{})
	s := master(t, hc, base, 4)
	bid := s.bucket(bucketName("upval"))
	data := []byte("payload")

	// Chunked (no Content-Length) is not supported.
	up := s.getUploadURL(bid)
	req, _ := http.NewRequest("POST", up.url, struct{ *bytes.Reader }{bytes.NewReader(data)})
	req.ContentLength = -1
	req.Header.Set("Authorization", up.token)
	req.Header.Set("X-Bz-File-Name", "chunked")
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("X-Bz-Content-Sha1", sha1hex(data))
	if r, err := doReq(hc, req); err != nil || (r.Status != 400 && r.Status != 411) {
		t.Errorf("chunked upload: %v %v, want 400/411 (§7 Content-Length required)", r, err)
	}
	bad := map[string]map[string]string{
		"info key > 50 bytes":     {"X-Bz-Info-" + strings.Repeat("k", 51): "v"},
		"unknown b2- info key":    {"X-Bz-Info-b2-unknown": "v"},
		"info budget > 7000":      {"X-Bz-Info-big": strings.Repeat("v", 7100)},
		"missing sha1":            {"X-Bz-Content-Sha1": ""},
		"malformed sha1":          {"X-Bz-Content-Sha1": "xyz"},
		"missing content type":    {"Content-Type": ""},
		"retention without mode":  {"X-Bz-File-Retention-Retain-Until-Timestamp": "99999999999999"},
		"bad legal hold value":    {"X-Bz-File-Legal-Hold": "maybe"},
		"bad SSE algorithm":       {"X-Bz-Server-Side-Encryption": "ROT13"},
		"future custom timestamp": {"X-Bz-Custom-Upload-Timestamp": fmt.Sprint(time.Now().Add(48 * time.Hour).UnixMilli())},
	}
	for what, hdr := range bad {
		up := s.getUploadURL(bid)
		req, _ := http.NewRequest("POST", up.url, bytes.NewReader(data))
		req.Header.Set("Authorization", up.token)
		req.Header.Set("X-Bz-File-Name", "bad")
		req.Header.Set("Content-Type", "text/plain")
		req.Header.Set("X-Bz-Content-Sha1", sha1hex(data))
		for k, v := range hdr {
			if v == "" {
				req.Header.Del(k)
			} else {
				req.Header.Set(k, v)
			}
		}
		if r, err := doReq(hc, req); err != nil || r.Status != 400 {
			t.Errorf("%s: %v %v, want 400", what, r, err)
		}
	}
	if got := s.allVersions(bid, "", 100); len(got) != 0 {
		t.Errorf("rejected uploads stored versions: %v", got)
	}
	// Defined b2-* keys are accepted and replayed as headers.
	f := s.upload(bid, "ok", data, map[string]string{"X-Bz-Info-b2-cache-control": "max-age=60", "X-Bz-Info-b2-content-language": "de"})
	if jstr(f, "fileInfo", "b2-cache-control") != "max-age=60" {
		t.Errorf("b2-cache-control info: %v", f["fileInfo"])
	}
	bn := jstr(s.call("b2_list_buckets", map[string]any{"accountId": s.accountID, "bucketId": bid}), "buckets", "0", "bucketName")
	d := s.byName(bn, "ok")
	if d.Header.Get("Cache-Control") != "max-age=60" || d.Header.Get("Content-Language") != "de" {
		t.Errorf("b2-* info must be replayed as headers: Cache-Control=%q Content-Language=%q", d.Header.Get("Cache-Control"), d.Header.Get("Content-Language"))
	}
	// The upload response equals get_file_info for the same version.
	gi := s.call("b2_get_file_info", map[string]any{"fileId": jstr(f, "fileId")})
	if d := cmp.Diff(f, gi); d != "" {
		t.Errorf("upload response and get_file_info differ (-upload +info):\n%s", d)
	}
	// v1 objects from upload and get_file_info carry size.
	v1 := s.as(1)
	g1 := v1.call("b2_get_file_info", map[string]any{"fileId": jstr(f, "fileId")})
	if jnum(g1, "size") != int64(len(data)) {
		t.Errorf("v1 get_file_info size: %v", g1)
	}
	u1 := v1.call("b2_get_upload_url", map[string]any{"bucketId": bid})
	r1, _ := rawUpload(hc, uploadURL{jstr(u1, "uploadUrl"), jstr(u1, "authorizationToken")}, "v1file", data, "", nil)
	if r1.Status != 200 || jnum(r1.Body, "size") != int64(len(data)) {
		t.Errorf("v1 upload response must carry size: %v", r1)
	}
}

// §6.2, §8: concurrent versions of one name stay ordered newest first.
func TestAPIConcurrentSameName(t *testing.T) {
	_, base, hc := startServer(t, emulator.Options{})
	s := master(t, hc, base, 4)
	bn := bucketName("samename")
	bid := s.bucket(bn)
	var wg sync.WaitGroup
	for i := 0; i < 24; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := s.getUploadURL(bid)
			if r, err := rawUpload(hc, u, "same", []byte(fmt.Sprint("v", i)), "", nil); err != nil || r.Status != 200 {
				t.Errorf("upload %d: %v %v", i, r, err)
			}
		}()
	}
	wg.Wait()
	r := s.call("b2_list_file_versions", map[string]any{"bucketId": bid, "maxFileCount": 100})
	fs := jlist(r, "files")
	if len(fs) != 24 {
		t.Fatalf("versions = %d, want 24", len(fs))
	}
	ids := map[string]bool{}
	for i, f := range fs {
		ids[jstr(f, "fileId")] = true
		if i > 0 && jnum(f, "uploadTimestamp") > jnum(fs[i-1], "uploadTimestamp") {
			t.Errorf("versions not newest first at %d", i)
		}
	}
	if len(ids) != 24 {
		t.Errorf("file ids not unique: %d", len(ids))
	}
	d := s.byName(bn, "same")
	if d.Header.Get("X-Bz-File-Id") != jstr(fs[0], "fileId") {
		t.Errorf("download by name must serve the first-listed (newest) version")
	}
	ln := s.listNames(bid, nil)
	if jstr(ln, "files", "0", "fileId") != jstr(fs[0], "fileId") {
		t.Errorf("list_file_names must show the newest version")
	}
}

// §8: start name and prefix interplay.
func TestAPIListStartAndPrefix(t *testing.T) {
	_, base, hc := inProcessServer(t, emulator.Options{})
	s := master(t, hc, base, 4)
	bid := s.bucket(bucketName("startpfx"))
	for _, n := range []string{"a/1", "a/2", "b/1", "b/2", "c/1"} {
		s.upload(bid, n, []byte(n), nil)
	}
	got := names(entriesOf(s.listNames(bid, map[string]any{"prefix": "b/", "startFileName": "a/9"})))
	if !cmp.Equal(got, []string{"b/1", "b/2"}) {
		t.Errorf("startFileName before prefix: %v", got)
	}
	got = names(entriesOf(s.listNames(bid, map[string]any{"prefix": "b/", "startFileName": "b/2"})))
	if !cmp.Equal(got, []string{"b/2"}) {
		t.Errorf("startFileName inside prefix: %v", got)
	}
	r := s.listNames(bid, map[string]any{"prefix": "b/", "startFileName": "c"})
	if len(jlist(r, "files")) != 0 || r["nextFileName"] != nil {
		t.Errorf("startFileName after prefix: %v", r)
	}
	r = s.listNames(bid, map[string]any{"prefix": "b/", "maxFileCount": 2})
	if r["nextFileName"] != nil {
		t.Errorf("exact-fit page within a prefix should end with null nextFileName: %v", r["nextFileName"])
	}
	// Bucket types filter.
	if r := s.call("b2_list_buckets", map[string]any{"accountId": s.accountID, "bucketTypes": []string{"all"}}); len(jlist(r, "buckets")) != 1 {
		t.Errorf("bucketTypes [all]: %v", r)
	}
}

// §11: list_unfinished_large_files pagination (oldest first, nextFileId).
func TestAPIListUnfinishedPaging(t *testing.T) {
	_, base, hc := inProcessServer(t, emulator.Options{})
	s := master(t, hc, base, 4)
	bid := s.bucket(bucketName("unfinished"))
	var want []string
	for i := 0; i < 7; i++ {
		f := s.call("b2_start_large_file", map[string]any{"bucketId": bid, "fileName": fmt.Sprintf("%s/lf%d", []string{"x", "y"}[i%2], 9-i), "contentType": "b2/x-auto"})
		want = append(want, jstr(f, "fileId"))
	}
	var got []string
	start := ""
	for i := 0; i < 20; i++ {
		body := map[string]any{"bucketId": bid, "maxFileCount": 3}
		if start != "" {
			body["startFileId"] = start
		}
		r := s.call("b2_list_unfinished_large_files", body)
		for _, f := range jlist(r, "files") {
			got = append(got, jstr(f, "fileId"))
		}
		start, _ = r["nextFileId"].(string)
		if start == "" {
			break
		}
	}
	if !cmp.Equal(got, want) {
		t.Errorf("unfinished paging (oldest first):\n got %v\nwant %v", got, want)
	}
	r := s.call("b2_list_unfinished_large_files", map[string]any{"bucketId": bid, "namePrefix": "y/"})
	if len(jlist(r, "files")) != 3 {
		t.Errorf("namePrefix filter: %v", r)
	}
}

// §5.1, §4.3: validation of bucket settings and keys.
func TestAPIValidation(t *testing.T) {
	_, base, hc := inProcessServer(t, emulator.Options{})
	s := master(t, hc, base, 4)
	bid := s.bucket(bucketName("valid"))
	acc := s.accountID
	bad := []struct {
		what string
		op   string
		body map[string]any
	}{
		{"lifecycle rule with 0 days", "b2_update_bucket", map[string]any{"accountId": acc, "bucketId": bid, "lifecycleRules": []any{map[string]any{"fileNamePrefix": "", "daysFromHidingToDeleting": 0}}}},
		{"lifecycle rule with no action", "b2_update_bucket", map[string]any{"accountId": acc, "bucketId": bid, "lifecycleRules": []any{map[string]any{"fileNamePrefix": "x/"}}}},
		{"overlapping lifecycle prefixes", "b2_update_bucket", map[string]any{"accountId": acc, "bucketId": bid, "lifecycleRules": []any{
			map[string]any{"fileNamePrefix": "photos/", "daysFromHidingToDeleting": 1},
			map[string]any{"fileNamePrefix": "photos/kittens/", "daysFromHidingToDeleting": 1}}}},
		{"CORS rule without origins", "b2_update_bucket", map[string]any{"accountId": acc, "bucketId": bid, "corsRules": []any{map[string]any{"corsRuleName": "rule-one", "allowedOrigins": []string{}, "allowedOperations": []string{"b2_download_file_by_name"}}}}},
		{"CORS maxAgeSeconds > 86400", "b2_update_bucket", map[string]any{"accountId": acc, "bucketId": bid, "corsRules": []any{map[string]any{"corsRuleName": "rule-one", "allowedOrigins": []string{"*"}, "allowedOperations": []string{"b2_download_file_by_name"}, "maxAgeSeconds": 86401}}}},
		{"11 bucketInfo entries", "b2_update_bucket", map[string]any{"accountId": acc, "bucketId": bid, "bucketInfo": func() map[string]string {
			m := map[string]string{}
			for i := 0; i < 11; i++ {
				m[fmt.Sprint("k", i)] = "v"
			}
			return m
		}()}},
		{"defaultRetention on a non-lock bucket", "b2_update_bucket", map[string]any{"accountId": acc, "bucketId": bid, "defaultRetention": map[string]any{"mode": "governance", "period": map[string]any{"duration": 1, "unit": "days"}}}},
		{"key with empty capabilities", "b2_create_key", map[string]any{"accountId": acc, "keyName": "k", "capabilities": []string{}}},
		{"key with unknown capability", "b2_create_key", map[string]any{"accountId": acc, "keyName": "k", "capabilities": []string{"flyToTheMoon"}}},
		{"key name with bad chars", "b2_create_key", map[string]any{"accountId": acc, "keyName": "bad name!", "capabilities": []string{"listFiles"}}},
		{"key name too long", "b2_create_key", map[string]any{"accountId": acc, "keyName": strings.Repeat("k", 101), "capabilities": []string{"listFiles"}}},
		{"key duration 0", "b2_create_key", map[string]any{"accountId": acc, "keyName": "k", "capabilities": []string{"listFiles"}, "validDurationInSeconds": 0}},
		{"key duration >= 1000 days", "b2_create_key", map[string]any{"accountId": acc, "keyName": "k", "capabilities": []string{"listFiles"}, "validDurationInSeconds": 86400000}},
		{"bucket-restricted key with writeBuckets", "b2_create_key", map[string]any{"accountId": acc, "keyName": "k", "capabilities": []string{"writeBuckets"}, "bucketIds": []string{bid}}},
		{"bucket-restricted key with writeKeys", "b2_create_key", map[string]any{"accountId": acc, "keyName": "k", "capabilities": []string{"writeKeys"}, "bucketIds": []string{bid}}},
		{"key for unknown bucket", "b2_create_key", map[string]any{"accountId": acc, "keyName": "k", "capabilities": []string{"listFiles"}, "bucketIds": []string{"000000000000000000000000"}}},
		{"hide with empty name", "b2_hide_file", map[string]any{"bucketId": bid, "fileName": ""}},
		{"start_large_file without contentType", "b2_start_large_file", map[string]any{"bucketId": bid, "fileName": "x"}},
		{"list_parts unknown file", "b2_list_parts", map[string]any{"fileId": "4_z000000000000000000000000_f999999"}},
	}
	for _, c := range bad {
		if r := s.try(c.op, c.body); r.Status != 400 {
			t.Errorf("%s: %v, want 400", c.what, r)
		}
	}
	// Good settings are stored.
	good := s.call("b2_update_bucket", map[string]any{"accountId": acc, "bucketId": bid,
		"lifecycleRules": []any{map[string]any{"fileNamePrefix": "logs/", "daysFromHidingToDeleting": 1, "daysFromUploadingToHiding": nil}},
		"corsRules":      []any{map[string]any{"corsRuleName": "rule-one", "allowedOrigins": []string{"*"}, "allowedOperations": []string{"b2_download_file_by_name"}, "maxAgeSeconds": 3600}}})
	if len(jlist(good, "lifecycleRules")) != 1 || jstr(good, "corsRules", "0", "corsRuleName") != "rule-one" {
		t.Errorf("lifecycle/cors stored: %v %v", good["lifecycleRules"], good["corsRules"])
	}
	// Expired account token on a download → 401 expired_auth_token.
	clock := &fakeClock{}
	_, base2, hc2 := inProcessServer(t, emulator.Options{Now: clock.Now, TokenTTL: time.Minute})
	s2 := master(t, hc2, base2, 4)
	bn := bucketName("exp")
	b2id := s2.bucket(bn)
	s2.upload(b2id, "f", []byte("x"), nil)
	clock.Advance(time.Hour)
	wantErr(t, "download with expired token", s2.byName(bn, "f"), 401, "expired_auth_token")
}

// Assorted edge cases from §6, §8, §10, §12, §4.4 and §1 (GET forms).
func TestAPIEdgeCases(t *testing.T) {
	clock := &fakeClock{}
	_, base, hc := startServer(t, emulator.Options{Now: clock.Now})
	s := master(t, hc, base, 4)
	bn := bucketName("edges")
	bid := s.bucket(bn)
	old := s.upload(bid, "photos/a/1.jpg", []byte("one"), nil)
	s.upload(bid, "photos/a/2.jpg", []byte("two"), nil)
	s.upload(bid, "photos/b/3.jpg", []byte("three"), nil)
	s.upload(bid, "photos/a/1.jpg", []byte("one-v2"), nil)
	s.upload(bid, "photosx", []byte("x"), nil)

	// Prefix without trailing delimiter at the top: folder photos/ plus file photosx.
	got := s.allNames(bid, "photos", "/", 1)
	var g []string
	for _, e := range got {
		g = append(g, e.Action+":"+e.Name)
	}
	if !cmp.Equal(g, []string{"folder:photos/", "upload:photosx"}) {
		t.Errorf("prefix photos, delimiter /: %v", g)
	}
	// list_file_versions with delimiter across small pages: folders once each.
	var vs []string
	startName, startID := "", ""
	for i := 0; i < 50; i++ {
		body := map[string]any{"bucketId": bid, "prefix": "photos/", "delimiter": "/", "maxFileCount": 1}
		if startName != "" {
			body["startFileName"] = startName
			if startID != "" {
				body["startFileId"] = startID
			}
		}
		r := s.call("b2_list_file_versions", body)
		for _, e := range entriesOf(r) {
			vs = append(vs, e.Action+":"+e.Name)
		}
		startName, _ = r["nextFileName"].(string)
		startID, _ = r["nextFileId"].(string)
		if startName == "" {
			break
		}
	}
	if !cmp.Equal(vs, []string{"folder:photos/a/", "folder:photos/b/"}) {
		t.Errorf("versions+delimiter paged by 1: %v", vs)
	}
	// Bad percent-encoding and over-long decoded names.
	up := s.getUploadURL(bid)
	r, _ := rawUpload(hc, up, "bad%ZZname", []byte("x"), "", nil)
	wantErr(t, "invalid percent-encoding in X-Bz-File-Name", r, 400, "bad_request")
	up = s.getUploadURL(bid)
	r, _ = rawUpload(hc, up, encName(strings.Repeat("é", 513)), []byte("x"), "", nil)
	wantErr(t, "name of 1026 UTF-8 bytes", r, 400, "bad_request")
	up = s.getUploadURL(bid)
	if r, _ = rawUpload(hc, up, encName(strings.Repeat("é", 512)), []byte("x"), "", nil); r.Status != 200 {
		t.Errorf("name of 1024 UTF-8 bytes: %v", r)
	}
	// Copying an older version by id works even when the name is hidden.
	s.call("b2_hide_file", map[string]any{"bucketId": bid, "fileName": "photos/a/1.jpg"})
	if c := s.try("b2_copy_file", map[string]any{"sourceFileId": jstr(old, "fileId"), "fileName": "restored.jpg"}); c.Status != 200 {
		t.Errorf("copy of an older version of a hidden name: %v", c)
	} else if d := s.byName(bn, "restored.jpg"); string(d.Raw) != "one" {
		t.Errorf("restored content %q", d.Raw)
	}
	// Download authorization expires.
	da := s.call("b2_get_download_authorization", map[string]any{"bucketId": bid, "fileNamePrefix": "photos/", "validDurationInSeconds": 60})
	dt := jstr(da, "authorizationToken")
	if r := s.download("GET", "/file/"+bn+"/photos/b/3.jpg", dt, nil); r.Status != 200 {
		t.Errorf("fresh download token: %v", r)
	}
	clock.Advance(2 * time.Minute)
	if r := s.download("GET", "/file/"+bn+"/photos/b/3.jpg", dt, nil); r.Status != 401 {
		t.Errorf("download token past validDurationInSeconds: %v, want 401", r)
	}
	s = master(t, hc, base, 4)
	// list_keys limits.
	if r := s.try("b2_list_keys", map[string]any{"accountId": s.accountID, "maxKeyCount": 10001}); r.Status != 400 {
		t.Errorf("list_keys maxKeyCount 10001: %v, want 400", r)
	}
	// GET forms of more calls.
	fid := jstr(old, "fileId")
	if r := s.tryGet("b2_get_file_info", map[string][]string{"fileId": {fid}}); r.Status != 200 || jstr(r.Body, "fileId") != fid {
		t.Errorf("GET get_file_info: %v", r)
	}
	if r := s.tryGet("b2_list_file_versions", map[string][]string{"bucketId": {bid}, "startFileName": {"photos/a/1.jpg"}, "startFileId": {fid}, "maxFileCount": {"1"}}); r.Status != 200 || jstr(r.Body, "files", "0", "fileId") != fid {
		t.Errorf("GET list_file_versions with startFileId: %v", r)
	}
	if r := s.tryGet("b2_list_keys", map[string][]string{"accountId": {s.accountID}, "maxKeyCount": {"5"}}); r.Status != 200 {
		t.Errorf("GET list_keys: %v", r)
	}
	if r := s.tryGet("b2_delete_file_version", map[string][]string{"fileName": {"photos/a/1.jpg"}, "fileId": {fid}}); r.Status != 200 {
		t.Errorf("GET delete_file_version: %v", r)
	}
	if r := s.tryGet("b2_list_unfinished_large_files", map[string][]string{"bucketId": {bid}}); r.Status != 200 {
		t.Errorf("GET list_unfinished_large_files: %v", r)
	}
	// Unknown operation → 404 (or 400), never 200.
	if r := s.try("b2_no_such_call", map[string]any{}); r.Status == 200 || r.Status >= 500 {
		t.Errorf("unknown operation: %v", r)
	}
	// Unknown API version.
	bad := s.as(9)
	if r := bad.try("b2_list_buckets", map[string]any{"accountId": s.accountID}); r.Status == 200 {
		t.Errorf("/b2api/v9 must not be served: %v", r)
	}
}
