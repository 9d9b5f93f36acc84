package emulator_test

import (
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/b2plan/b2plan/emulator"
	"github.com/google/go-cmp/cmp"
)

// §3: authorize response shape per API version.
func TestAPIAuthorizeShapes(t *testing.T) {
	_, base, hc := startServer(t, emulator.Options{AbsoluteMinimumPartSize: 1234, RecommendedPartSize: 5678})
	m := master(t, hc, base, 4)
	bid := m.bucket(bucketName("shape"))
	rid, rkey, _ := m.createKey(map[string]any{"capabilities": []string{"listFiles", "readFiles"}, "bucketIds": []string{bid}, "namePrefix": "p/"})

	for _, v := range []int{1, 2} {
		s := master(t, hc, base, v)
		b := s.auth.Body
		for _, f := range []string{"accountId", "authorizationToken", "apiUrl", "downloadUrl", "allowed", "recommendedPartSize", "absoluteMinimumPartSize", "minimumPartSize"} {
			if _, ok := b[f]; !ok {
				t.Errorf("v%d authorize: missing %q (§3 v1/v2 flat shape): %s", v, f, s.auth.Raw)
			}
		}
		if _, ok := b["apiInfo"]; ok {
			t.Errorf("v%d authorize: unexpected apiInfo in legacy shape", v)
		}
		if jnum(b, "absoluteMinimumPartSize") != 1234 || jnum(b, "recommendedPartSize") != 5678 || jnum(b, "minimumPartSize") != 5678 {
			t.Errorf("v%d authorize part sizes wrong: %s", v, s.auth.Raw)
		}
		if len(jlist(b, "allowed", "capabilities")) < 20 {
			t.Errorf("v%d master key allowed.capabilities too short: %v", v, jget(b, "allowed", "capabilities"))
		}
		if s.accountID != emulator.DefaultAccountID {
			t.Errorf("v%d accountId = %q, want %q", v, s.accountID, emulator.DefaultAccountID)
		}
		r := login(t, hc, base, v, rid, rkey)
		if jstr(r.auth.Body, "allowed", "bucketId") != bid || jstr(r.auth.Body, "allowed", "namePrefix") != "p/" {
			t.Errorf("v%d restricted key allowed = %v", v, jget(r.auth.Body, "allowed"))
		}
		if jstr(r.auth.Body, "allowed", "bucketName") == "" {
			t.Errorf("v%d restricted key allowed.bucketName missing", v)
		}
	}

	s3 := master(t, hc, base, 3)
	sa := jget(s3.auth.Body, "apiInfo", "storageApi")
	for _, f := range []string{"absoluteMinimumPartSize", "apiUrl", "bucketId", "bucketName", "capabilities", "downloadUrl", "infoType", "namePrefix", "recommendedPartSize"} {
		if _, ok := sa.(map[string]any)[f]; !ok {
			t.Errorf("v3 storageApi missing %q: %s", f, s3.auth.Raw)
		}
	}
	if jstr(sa, "infoType") != "storageApi" {
		t.Errorf("v3 storageApi.infoType = %v", jget(sa, "infoType"))
	}
	if jget(sa, "allowed") != nil {
		t.Errorf("v3 storageApi must not have allowed (v4 shape)")
	}
	if _, ok := s3.auth.Body["allowed"]; ok {
		t.Errorf("v3 must not have top-level allowed")
	}
	r3 := login(t, hc, base, 3, rid, rkey)
	if jstr(r3.auth.Body, "apiInfo", "storageApi", "bucketId") != bid || jstr(r3.auth.Body, "apiInfo", "storageApi", "namePrefix") != "p/" {
		t.Errorf("v3 restricted storageApi = %v", jget(r3.auth.Body, "apiInfo", "storageApi"))
	}

	s4 := master(t, hc, base, 4)
	sa4 := jget(s4.auth.Body, "apiInfo", "storageApi")
	if jget(sa4, "allowed") == nil || len(jlist(sa4, "allowed", "capabilities")) < 20 {
		t.Errorf("v4 storageApi.allowed missing: %s", s4.auth.Raw)
	}
	for _, f := range []string{"infoType", "bucketId", "bucketName"} {
		if _, ok := sa4.(map[string]any)[f]; ok {
			t.Errorf("v4 storageApi must not carry %q", f)
		}
	}
	if jnum(sa4, "absoluteMinimumPartSize") != 1234 || jnum(sa4, "recommendedPartSize") != 5678 {
		t.Errorf("v4 part sizes: %v", sa4)
	}
	r4 := login(t, hc, base, 4, rid, rkey)
	bk := jlist(r4.auth.Body, "apiInfo", "storageApi", "allowed", "buckets")
	if len(bk) != 1 || jstr(bk[0], "id") != bid || jstr(bk[0], "name") == "" {
		t.Errorf("v4 allowed.buckets = %v", bk)
	}
	if jstr(r4.auth.Body, "apiInfo", "storageApi", "allowed", "namePrefix") != "p/" {
		t.Errorf("v4 allowed.namePrefix wrong")
	}
	if v := jget(s4.auth.Body, "apiInfo", "storageApi", "allowed", "buckets"); v != nil {
		t.Errorf("v4 master allowed.buckets = %v, want null", v)
	}

	// Bad credentials → 401 unauthorized; POST authorize accepted.
	bad, _ := authorizeRaw(hc, base, 4, emulator.DefaultKeyID, "wrong")
	wantErr(t, "authorize with wrong secret", bad, 401, "unauthorized")
	bad, _ = authorizeRaw(hc, base, 2, "nosuchkey", "x")
	wantErr(t, "authorize with unknown id", bad, 401, "unauthorized")
	req, _ := http.NewRequest("POST", base+"/b2api/v4/b2_authorize_account", nil)
	req.SetBasicAuth(emulator.DefaultKeyID, emulator.DefaultKey)
	if r, err := doReq(hc, req); err != nil || r.Status != 200 {
		t.Errorf("POST authorize: %v %v", r, err)
	}
}

// §4.3–4.5: key objects per version; multi-bucket keys only in v4.
func TestAPIKeysPerVersion(t *testing.T) {
	_, base, hc := startServer(t, emulator.Options{})
	m4 := master(t, hc, base, 4)
	b1 := m4.bucket(bucketName("keys-a"))
	b2 := m4.bucket(bucketName("keys-b"))
	m3 := m4.as(3)

	_, _, k3 := m3.createKey(map[string]any{"capabilities": []string{"listFiles"}, "bucketId": b1, "keyName": "single-v3"})
	if jstr(k3, "bucketId") != b1 {
		t.Errorf("v3 create_key must echo bucketId: %v", k3)
	}
	if _, ok := k3["bucketIds"]; ok {
		t.Errorf("v3 key object must not have bucketIds: %v", k3)
	}
	_, _, k4 := m4.createKey(map[string]any{"capabilities": []string{"listFiles"}, "bucketIds": []string{b1}, "keyName": "single-v4"})
	if ids := jlist(k4, "bucketIds"); len(ids) != 1 || ids[0] != b1 {
		t.Errorf("v4 create_key bucketIds = %v", k4["bucketIds"])
	}
	if _, ok := k4["bucketId"]; ok {
		t.Errorf("v4 key object must not have bucketId: %v", k4)
	}
	multiID, multiKey, km := m4.createKey(map[string]any{"capabilities": []string{"listFiles", "listBuckets"}, "bucketIds": []string{b1, b2}, "keyName": "multi"})
	if len(jlist(km, "bucketIds")) != 2 {
		t.Errorf("multi-bucket key bucketIds = %v", km["bucketIds"])
	}
	if jstr(km, "applicationKey") == "" || jstr(km, "applicationKeyId") == "" {
		t.Errorf("create_key must return the secret once: %v", km)
	}
	for _, v := range []int{1, 2, 3} {
		r, _ := authorizeRaw(hc, base, v, multiID, multiKey)
		wantErr(t, "multi-bucket key authorize on v"+string(rune('0'+v)), r, 401, "unsupported")
	}
	ms := login(t, hc, base, 4, multiID, multiKey)
	if got := jlist(ms.auth.Body, "apiInfo", "storageApi", "allowed", "buckets"); len(got) != 2 {
		t.Errorf("v4 multi-bucket authorize buckets = %v", got)
	}
	// A multi-bucket key can list both of its buckets.
	for _, b := range []string{b1, b2} {
		if r := ms.try("b2_list_file_names", map[string]any{"bucketId": b}); r.Status != 200 {
			t.Errorf("multi-bucket key list %s: %v", b, r)
		}
	}

	listed := func(s *sess) map[string]map[string]any {
		out := map[string]map[string]any{}
		b := s.call("b2_list_keys", map[string]any{"accountId": s.accountID, "maxKeyCount": 1000})
		for _, k := range jlist(b, "keys") {
			km := k.(map[string]any)
			if _, ok := km["applicationKey"]; ok {
				t.Errorf("list_keys must not return secrets")
			}
			out[jstr(km, "keyName")] = km
		}
		return out
	}
	for _, v := range []int{1, 2, 3} {
		l := listed(m4.as(v))
		if _, ok := l["multi"]; ok {
			t.Errorf("v%d list_keys must hide multi-bucket keys (§4.4)", v)
		}
		if k, ok := l["single-v4"]; !ok || jstr(k, "bucketId") != b1 {
			t.Errorf("v%d list_keys single-bucket key: %v", v, k)
		}
	}
	l4 := listed(m4)
	if k, ok := l4["multi"]; !ok || len(jlist(k, "bucketIds")) != 2 {
		t.Errorf("v4 list_keys must show multi-bucket key with bucketIds: %v", k)
	}
	if k := l4["single-v3"]; len(jlist(k, "bucketIds")) != 1 {
		t.Errorf("v4 list_keys v3-created key must show bucketIds: %v", k)
	}
	// A v3-created key authorizes on v4 (§3 compatibility).
	// Pagination of list_keys.
	for i := 0; i < 5; i++ {
		m4.createKey(map[string]any{"capabilities": []string{"listFiles"}, "keyName": "page-key"})
	}
	seen := map[string]bool{}
	start := ""
	for i := 0; i < 50; i++ {
		body := map[string]any{"accountId": m4.accountID, "maxKeyCount": 2}
		if start != "" {
			body["startApplicationKeyId"] = start
		}
		b := m4.call("b2_list_keys", body)
		if len(jlist(b, "keys")) > 2 {
			t.Fatalf("maxKeyCount 2 returned %d", len(jlist(b, "keys")))
		}
		for _, k := range jlist(b, "keys") {
			id := jstr(k, "applicationKeyId")
			if seen[id] {
				t.Errorf("list_keys pagination repeated %s", id)
			}
			seen[id] = true
		}
		start, _ = b["nextApplicationKeyId"].(string)
		if start == "" {
			break
		}
	}
	if len(seen) < 8 {
		t.Errorf("paged list_keys saw %d keys, want >= 8", len(seen))
	}
	// Delete: v3 cannot delete a multi-bucket key; v4 can; deleted key cannot authorize.
	if r := m3.try("b2_delete_key", map[string]any{"applicationKeyId": multiID}); r.Status == 200 {
		t.Errorf("v3 b2_delete_key of a multi-bucket key should be refused (§4.5)")
	}
	d := m4.call("b2_delete_key", map[string]any{"applicationKeyId": multiID})
	if jstr(d, "applicationKeyId") != multiID {
		t.Errorf("delete_key response: %v", d)
	}
	if _, ok := d["applicationKey"]; ok {
		t.Errorf("delete_key must not return the secret")
	}
	r, _ := authorizeRaw(hc, base, 4, multiID, multiKey)
	wantErr(t, "authorize with deleted key", r, 401, "unauthorized")
	wantErr(t, "delete unknown key", m4.try("b2_delete_key", map[string]any{"applicationKeyId": "000nosuchkey"}), 400, "bad_request")
	// Restricted keys cannot create keys or buckets.
	rid, rkey, _ := m4.createKey(map[string]any{"capabilities": []string{"listFiles", "writeFiles"}, "bucketIds": []string{b1}})
	rs := login(t, hc, base, 4, rid, rkey)
	wantErr(t, "restricted key create_key", rs.try("b2_create_key", map[string]any{"accountId": rs.accountID, "keyName": "x", "capabilities": []string{"listFiles"}}), 401, "unauthorized")
	wantErr(t, "restricted key create_bucket", rs.try("b2_create_bucket", map[string]any{"accountId": rs.accountID, "bucketName": bucketName("nope"), "bucketType": "allPrivate"}), 401, "unauthorized")
}

// §1: GET with query and POST with JSON are the same call.
func TestAPIGetAndPostForms(t *testing.T) {
	_, base, hc := startServer(t, emulator.Options{})
	s := master(t, hc, base, 2)
	name := bucketName("getpost")
	bid := s.bucket(name)
	for i := 0; i < 5; i++ {
		s.upload(bid, "f"+string(rune('a'+i)), []byte("x"), nil)
	}
	post := s.call("b2_list_file_names", map[string]any{"bucketId": bid, "maxFileCount": 3})
	get := s.tryGet("b2_list_file_names", url.Values{"bucketId": {bid}, "maxFileCount": {"3"}})
	if get.Status != 200 {
		t.Fatalf("GET list_file_names: %v", get)
	}
	if d := cmp.Diff(post, get.Body); d != "" {
		t.Errorf("GET and POST list_file_names differ (-post +get):\n%s", d)
	}
	lb := s.tryGet("b2_list_buckets", url.Values{"accountId": {s.accountID}, "bucketName": {name}})
	if lb.Status != 200 || len(jlist(lb.Body, "buckets")) != 1 || jstr(lb.Body, "buckets", "0", "bucketId") != bid {
		t.Errorf("GET list_buckets by name: %v", lb)
	}
	gu := s.tryGet("b2_get_upload_url", url.Values{"bucketId": {bid}})
	if gu.Status != 200 || jstr(gu.Body, "uploadUrl") == "" {
		t.Errorf("GET get_upload_url: %v", gu)
	}
	// A mutating call sent as GET with query parameters.
	h := s.tryGet("b2_hide_file", url.Values{"bucketId": {bid}, "fileName": {"fa"}})
	if h.Status != 200 || jstr(h.Body, "action") != "hide" {
		t.Errorf("GET b2_hide_file: %v", h)
	}
	// GET with bad maxFileCount type is a 400.
	if r := s.tryGet("b2_list_file_names", url.Values{"bucketId": {bid}, "maxFileCount": {"abc"}}); r.Status != 400 {
		t.Errorf("GET maxFileCount=abc: %v, want 400", r)
	}
	// Unparseable JSON body → 400.
	req, _ := http.NewRequest("POST", s.opURL("b2_list_file_names"), strings.NewReader("{not json"))
	req.Header.Set("Authorization", s.token)
	if r, _ := doReq(hc, req); r.Status != 400 {
		t.Errorf("bad JSON: %v, want 400", r)
	}
}

// §4.2, §2.2: tokens.
func TestAPITokens(t *testing.T) {
	clock := &fakeClock{}
	srv, base, hc := startServer(t, emulator.Options{TokenTTL: time.Hour, Now: clock.Now})
	s := master(t, hc, base, 4)
	body := map[string]any{"accountId": s.accountID}

	noTok := *s
	noTok.token = ""
	wantErr(t, "missing token", noTok.try("b2_list_buckets", body), 401, "missing_auth_token")
	bad := *s
	bad.token = "4_bogus_token"
	wantErr(t, "bad token", bad.try("b2_list_buckets", body), 401, "bad_auth_token")

	if r := s.try("b2_list_buckets", body); r.Status != 200 {
		t.Fatalf("list_buckets: %v", r)
	}
	clock.Advance(2 * time.Hour)
	wantErr(t, "token past TokenTTL", s.try("b2_list_buckets", body), 401, "expired_auth_token")
	s2 := master(t, hc, base, 4)
	if r := s2.try("b2_list_buckets", body); r.Status != 200 {
		t.Fatalf("fresh token: %v", r)
	}
	bid := s2.bucket(bucketName("tok"))
	up := s2.getUploadURL(bid)
	srv.ExpireTokens()
	wantErr(t, "after ExpireTokens", s2.try("b2_list_buckets", body), 401, "expired_auth_token")
	r, err := rawUpload(hc, up, "x", []byte("data"), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != 200 && r.Status != 401 {
		t.Errorf("upload with upload token after ExpireTokens: %v, want 200 or 401 (§2.3)", r)
	}
	// HTTP control endpoint.
	s3 := master(t, hc, base, 4)
	res, err := control(hc, "POST", base+"/_b2local/expire-tokens", "")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("POST /_b2local/expire-tokens: %v %v", res, err)
	}
	res.Body.Close()
	wantErr(t, "after /_b2local/expire-tokens", s3.try("b2_list_buckets", body), 401, "expired_auth_token")
	// Upload token is not an account token.
	s4 := master(t, hc, base, 4)
	up = s4.getUploadURL(bid)
	ut := *s4
	ut.token = up.token
	if r := ut.try("b2_list_buckets", body); r.Status != 401 {
		t.Errorf("upload token used as account token: %v, want 401", r)
	}
	// Key with an expiry: expired key cannot authorize.
	kid, kkey, _ := s4.createKey(map[string]any{"capabilities": []string{"listBuckets"}, "validDurationInSeconds": 60})
	login(t, hc, base, 4, kid, kkey)
	clock.Advance(2 * time.Minute)
	r, _ = authorizeRaw(hc, base, 4, kid, kkey)
	wantErr(t, "authorize with expired key", r, 401, "unauthorized")
}

// §4.2: missing capability → 401 unauthorized.
func TestAPICapabilities(t *testing.T) {
	_, base, hc := startServer(t, emulator.Options{})
	m := master(t, hc, base, 4)
	bid := m.bucket(bucketName("caps"))
	f := m.upload(bid, "a.txt", []byte("hello"), nil)
	fid := jstr(f, "fileId")

	id, key, _ := m.createKey(map[string]any{"capabilities": []string{"listFiles"}})
	s := login(t, hc, base, 4, id, key)
	if r := s.try("b2_list_file_names", map[string]any{"bucketId": bid}); r.Status != 200 {
		t.Errorf("listFiles key list: %v", r)
	}
	checks := []struct {
		op   string
		body map[string]any
	}{
		{"b2_get_upload_url", map[string]any{"bucketId": bid}},
		{"b2_hide_file", map[string]any{"bucketId": bid, "fileName": "a.txt"}},
		{"b2_delete_file_version", map[string]any{"fileName": "a.txt", "fileId": fid}},
		{"b2_copy_file", map[string]any{"sourceFileId": fid, "fileName": "b.txt"}},
		{"b2_get_file_info", map[string]any{"fileId": fid}},
		{"b2_list_buckets", map[string]any{"accountId": s.accountID}},
		{"b2_create_bucket", map[string]any{"accountId": s.accountID, "bucketName": bucketName("nocap"), "bucketType": "allPrivate"}},
		{"b2_update_bucket", map[string]any{"accountId": s.accountID, "bucketId": bid, "bucketType": "allPublic"}},
		{"b2_delete_bucket", map[string]any{"accountId": s.accountID, "bucketId": bid}},
		{"b2_create_key", map[string]any{"accountId": s.accountID, "keyName": "x", "capabilities": []string{"listFiles"}}},
		{"b2_list_keys", map[string]any{"accountId": s.accountID}},
		{"b2_start_large_file", map[string]any{"bucketId": bid, "fileName": "big", "contentType": "b2/x-auto"}},
		{"b2_get_download_authorization", map[string]any{"bucketId": bid, "fileNamePrefix": "", "validDurationInSeconds": 60}},
	}
	for _, c := range checks {
		wantErr(t, "listFiles-only key "+c.op, s.try(c.op, c.body), 401, "unauthorized")
	}
	if r := s.byID(fid); r.Status != 401 {
		t.Errorf("download without readFiles: %v, want 401", r)
	}
	id2, key2, _ := m.createKey(map[string]any{"capabilities": []string{"writeFiles", "readFiles"}})
	s2 := login(t, hc, base, 4, id2, key2)
	wantErr(t, "writeFiles key list_file_names", s2.try("b2_list_file_names", map[string]any{"bucketId": bid}), 401, "unauthorized")
	wantErr(t, "writeFiles key list_file_versions", s2.try("b2_list_file_versions", map[string]any{"bucketId": bid}), 401, "unauthorized")
	wantErr(t, "writeFiles key delete_file_version", s2.try("b2_delete_file_version", map[string]any{"fileName": "a.txt", "fileId": fid}), 401, "unauthorized")
	// But the file is untouched.
	if r := m.byName(jstr(m.call("b2_list_buckets", map[string]any{"accountId": m.accountID, "bucketId": bid}), "buckets", "0", "bucketName"), "a.txt"); r.Status != 200 || string(r.Raw) != "hello" {
		t.Errorf("file changed by refused calls: %v", r)
	}
}

// §4.2: a key limited to one bucket and a name prefix cannot act outside its scope.
func TestAPIRestrictions(t *testing.T) {
	_, base, hc := startServer(t, emulator.Options{})
	m := master(t, hc, base, 4)
	inName, outName := bucketName("inside"), bucketName("outside")
	in, out := m.bucket(inName), m.bucket(outName)
	inOK := m.upload(in, "ok/a.txt", []byte("in-a"), nil)
	inOther := m.upload(in, "other/b.txt", []byte("in-b"), nil)
	outF := m.upload(out, "ok/c.txt", []byte("out-c"), nil)
	caps := []string{"listBuckets", "listFiles", "readFiles", "writeFiles", "deleteFiles", "shareFiles"}
	kid, kkey, _ := m.createKey(map[string]any{"capabilities": caps, "bucketIds": []string{in}, "namePrefix": "ok/"})

	for _, v := range []int{2, 3, 4} {
		s := login(t, hc, base, v, kid, kkey)
		acc := s.accountID
		u := func(what string, r resp) {
			t.Helper()
			wantErr(t, "v"+string(rune('0'+v))+" "+what, r, 401, "unauthorized")
		}
		ok := func(what string, r resp) {
			t.Helper()
			if r.Status != 200 {
				t.Errorf("v%d %s: %v, want 200", v, what, r)
			}
		}
		u("unfiltered list_buckets", s.try("b2_list_buckets", map[string]any{"accountId": acc}))
		ok("list_buckets filtered by id", s.try("b2_list_buckets", map[string]any{"accountId": acc, "bucketId": in}))
		ok("list_buckets filtered by name", s.try("b2_list_buckets", map[string]any{"accountId": acc, "bucketName": inName}))
		u("list_buckets of other bucket", s.try("b2_list_buckets", map[string]any{"accountId": acc, "bucketName": outName}))
		u("list_file_names without prefix", s.try("b2_list_file_names", map[string]any{"bucketId": in}))
		u("list_file_names prefix outside", s.try("b2_list_file_names", map[string]any{"bucketId": in, "prefix": "other/"}))
		u("list_file_names shorter prefix", s.try("b2_list_file_names", map[string]any{"bucketId": in, "prefix": "o"}))
		u("list_file_versions without prefix", s.try("b2_list_file_versions", map[string]any{"bucketId": in}))
		u("list_unfinished without namePrefix", s.try("b2_list_unfinished_large_files", map[string]any{"bucketId": in}))
		u("list other bucket", s.try("b2_list_file_names", map[string]any{"bucketId": out, "prefix": "ok/"}))
		lr := s.try("b2_list_file_names", map[string]any{"bucketId": in, "prefix": "ok/"})
		ok("list with key prefix", lr)
		if got := names(entriesOf(lr.Body)); len(got) < 1 || got[0] != "ok/a.txt" || (len(got) == 2 && got[1] != "ok/new.txt") || len(got) > 2 {
			t.Errorf("v%d restricted listing = %v", v, got)
		}
		ok("list with longer prefix", s.try("b2_list_file_versions", map[string]any{"bucketId": in, "prefix": "ok/a"}))
		u("get_upload_url other bucket", s.try("b2_get_upload_url", map[string]any{"bucketId": out}))
		up := s.getUploadURL(in)
		r, _ := rawUpload(hc, up, "other/new.txt", []byte("x"), "", nil)
		u("upload outside prefix", r)
		r, _ = rawUpload(hc, up, "ok/new.txt", []byte("x"), "", nil)
		ok("upload inside prefix", r)
		u("get_file_info outside prefix", s.try("b2_get_file_info", map[string]any{"fileId": jstr(inOther, "fileId")}))
		u("get_file_info other bucket", s.try("b2_get_file_info", map[string]any{"fileId": jstr(outF, "fileId")}))
		ok("get_file_info inside", s.try("b2_get_file_info", map[string]any{"fileId": jstr(inOK, "fileId")}))
		u("download by name outside prefix", s.byName(inName, "other/b.txt"))
		u("download by name other bucket", s.byName(outName, "ok/c.txt"))
		u("download by id outside prefix", s.byID(jstr(inOther, "fileId")))
		u("download by id other bucket", s.byID(jstr(outF, "fileId")))
		if r := s.byName(inName, "ok/a.txt"); r.Status != 200 || string(r.Raw) != "in-a" {
			t.Errorf("v%d download inside: %v", v, r)
		}
		u("copy to outside name", s.try("b2_copy_file", map[string]any{"sourceFileId": jstr(inOK, "fileId"), "fileName": "other/copy.txt"}))
		u("copy from outside name", s.try("b2_copy_file", map[string]any{"sourceFileId": jstr(inOther, "fileId"), "fileName": "ok/copy.txt"}))
		u("copy from other bucket", s.try("b2_copy_file", map[string]any{"sourceFileId": jstr(outF, "fileId"), "fileName": "ok/copy.txt", "destinationBucketId": in}))
		u("copy to other bucket", s.try("b2_copy_file", map[string]any{"sourceFileId": jstr(inOK, "fileId"), "fileName": "ok/copy.txt", "destinationBucketId": out}))
		u("hide outside prefix", s.try("b2_hide_file", map[string]any{"bucketId": in, "fileName": "other/b.txt"}))
		u("hide other bucket", s.try("b2_hide_file", map[string]any{"bucketId": out, "fileName": "ok/c.txt"}))
		u("delete outside prefix", s.try("b2_delete_file_version", map[string]any{"fileName": "other/b.txt", "fileId": jstr(inOther, "fileId")}))
		u("delete other bucket", s.try("b2_delete_file_version", map[string]any{"fileName": "ok/c.txt", "fileId": jstr(outF, "fileId")}))
		u("start_large_file outside prefix", s.try("b2_start_large_file", map[string]any{"bucketId": in, "fileName": "other/big", "contentType": "b2/x-auto"}))
		u("start_large_file other bucket", s.try("b2_start_large_file", map[string]any{"bucketId": out, "fileName": "ok/big", "contentType": "b2/x-auto"}))
		u("download auth other bucket", s.try("b2_get_download_authorization", map[string]any{"bucketId": out, "fileNamePrefix": "ok/", "validDurationInSeconds": 60}))
		u("update_bucket", s.try("b2_update_bucket", map[string]any{"accountId": acc, "bucketId": in, "bucketType": "allPublic"}))
		u("delete_bucket", s.try("b2_delete_bucket", map[string]any{"accountId": acc, "bucketId": out}))
	}
	// Nothing outside the scope changed.
	all := m.allVersions(in, "", 1000)
	for _, e := range all {
		if strings.HasPrefix(e.Name, "other/") && (e.Name != "other/b.txt" || e.Action != "upload") {
			t.Errorf("restricted key changed outside its prefix: %+v", e)
		}
	}
	if got := names(m.allVersions(out, "", 1000)); !cmp.Equal(got, []string{"ok/c.txt"}) {
		t.Errorf("restricted key changed the other bucket: %v", got)
	}
}

func entriesOf(b map[string]any) []entry {
	var out []entry
	for _, f := range jlist(b, "files") {
		out = append(out, entry{jstr(f, "fileName"), jstr(f, "fileId"), jstr(f, "action")})
	}
	return out
}

func sortedCopy(s []string) []string {
	c := append([]string(nil), s...)
	sort.Strings(c)
	return c
}
