package emulator_test

import (
	"bytes"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/b2plan/b2plan/emulator"
)

// §16: every native call is counted once under its transaction class.
func TestAPIStatsClassesAllCalls(t *testing.T) {
	clock := &fakeClock{}
	srv, base, hc := startServer(t, emulator.Options{AbsoluteMinimumPartSize: 10, Now: clock.Now})
	s := master(t, hc, base, 4)
	bid := jstr(s.createBucket(bucketName("classes"), "allPrivate", map[string]any{"fileLockEnabled": true}), "bucketId")
	src := s.upload(bid, "src", []byte("0123456789abcdef"), nil)
	srcID := jstr(src, "fileId")
	var lfID, keyID, partURL, partTok, delBucket string

	steps := []struct {
		op    string
		class string
		do    func() resp
	}{
		{"b2_authorize_account", "C", func() resp { r, _ := authorizeRaw(hc, base, 4, emulator.DefaultKeyID, emulator.DefaultKey); return r }},
		{"b2_create_bucket", "C", func() resp {
			r := s.try("b2_create_bucket", map[string]any{"accountId": s.accountID, "bucketName": bucketName("cls"), "bucketType": "allPrivate"})
			delBucket = jstr(r.Body, "bucketId")
			return r
		}},
		{"b2_update_bucket", "C", func() resp {
			return s.try("b2_update_bucket", map[string]any{"accountId": s.accountID, "bucketId": delBucket, "bucketType": "allPublic"})
		}},
		{"b2_list_buckets", "C", func() resp { return s.try("b2_list_buckets", map[string]any{"accountId": s.accountID}) }},
		{"b2_delete_bucket", "A", func() resp {
			return s.try("b2_delete_bucket", map[string]any{"accountId": s.accountID, "bucketId": delBucket})
		}},
		{"b2_create_key", "C", func() resp {
			r := s.try("b2_create_key", map[string]any{"accountId": s.accountID, "keyName": "cls", "capabilities": []string{"listFiles"}})
			keyID = jstr(r.Body, "applicationKeyId")
			return r
		}},
		{"b2_list_keys", "C", func() resp { return s.try("b2_list_keys", map[string]any{"accountId": s.accountID}) }},
		{"b2_delete_key", "A", func() resp { return s.try("b2_delete_key", map[string]any{"applicationKeyId": keyID}) }},
		{"b2_get_upload_url", "A", func() resp { return s.try("b2_get_upload_url", map[string]any{"bucketId": bid}) }},
		{"b2_list_file_names", "C", func() resp { return s.try("b2_list_file_names", map[string]any{"bucketId": bid}) }},
		{"b2_list_file_versions", "C", func() resp { return s.try("b2_list_file_versions", map[string]any{"bucketId": bid}) }},
		{"b2_get_file_info", "B", func() resp { return s.try("b2_get_file_info", map[string]any{"fileId": srcID}) }},
		{"b2_download_file_by_id", "B", func() resp { return s.byID(srcID) }},
		{"b2_copy_file", "C", func() resp { return s.try("b2_copy_file", map[string]any{"sourceFileId": srcID, "fileName": "copy"}) }},
		{"b2_hide_file", "A", func() resp { return s.try("b2_hide_file", map[string]any{"bucketId": bid, "fileName": "copy"}) }},
		{"b2_get_download_authorization", "C", func() resp {
			return s.try("b2_get_download_authorization", map[string]any{"bucketId": bid, "fileNamePrefix": "", "validDurationInSeconds": 60})
		}},
		{"b2_start_large_file", "A", func() resp {
			r := s.try("b2_start_large_file", map[string]any{"bucketId": bid, "fileName": "lf", "contentType": "b2/x-auto"})
			lfID = jstr(r.Body, "fileId")
			return r
		}},
		{"b2_get_upload_part_url", "A", func() resp {
			r := s.try("b2_get_upload_part_url", map[string]any{"fileId": lfID})
			partURL, partTok = jstr(r.Body, "uploadUrl"), jstr(r.Body, "authorizationToken")
			return r
		}},
		{"b2_upload_part", "A", func() resp {
			data := []byte("0123456789abc")
			req, _ := http.NewRequest("POST", partURL, bytes.NewReader(data))
			req.Header.Set("Authorization", partTok)
			req.Header.Set("X-Bz-Part-Number", "1")
			req.Header.Set("X-Bz-Content-Sha1", sha1hex(data))
			r, _ := doReq(hc, req)
			return r
		}},
		{"b2_copy_part", "C", func() resp {
			return s.try("b2_copy_part", map[string]any{"sourceFileId": srcID, "largeFileId": lfID, "partNumber": 2})
		}},
		{"b2_list_parts", "C", func() resp { return s.try("b2_list_parts", map[string]any{"fileId": lfID}) }},
		{"b2_list_unfinished_large_files", "C", func() resp { return s.try("b2_list_unfinished_large_files", map[string]any{"bucketId": bid}) }},
		{"b2_finish_large_file", "A", func() resp {
			return s.try("b2_finish_large_file", map[string]any{"fileId": lfID, "partSha1Array": []string{sha1hex([]byte("0123456789abc")), jstr(src, "contentSha1")}})
		}},
		{"b2_update_file_legal_hold", "A", func() resp {
			return s.try("b2_update_file_legal_hold", map[string]any{"fileName": "src", "fileId": srcID, "legalHold": "on"})
		}},
		{"b2_update_file_retention", "A", func() resp {
			return s.try("b2_update_file_retention", map[string]any{"fileName": "src", "fileId": srcID,
				"fileRetention": map[string]any{"mode": "governance", "retainUntilTimestamp": clock.Now().Add(time.Hour).UnixMilli()}})
		}},
		{"b2_start_large_file", "A", func() resp {
			r := s.try("b2_start_large_file", map[string]any{"bucketId": bid, "fileName": "lf2", "contentType": "b2/x-auto"})
			lfID = jstr(r.Body, "fileId")
			return r
		}},
		{"b2_cancel_large_file", "A", func() resp { return s.try("b2_cancel_large_file", map[string]any{"fileId": lfID}) }},
		{"b2_delete_file_version", "A", func() resp {
			l := s.allVersions(bid, "copy", 10)
			srv.ResetStats()
			return s.try("b2_delete_file_version", map[string]any{"fileName": "copy", "fileId": l[0].ID})
		}},
	}
	for i, st := range steps {
		srv.ResetStats()
		r := st.do()
		if r.Status != 200 {
			t.Errorf("step %d %s: %v", i, st.op, r)
			continue
		}
		got := srv.Stats()
		if got.Calls[st.op] != 1 || got.Total != 1 {
			t.Errorf("%s counted as %v (total %d), want exactly one call", st.op, got.Calls, got.Total)
		}
		for _, c := range []string{"A", "B", "C"} {
			want := int64(0)
			if c == st.class {
				want = 1
			}
			if got.Classes[c] != want {
				t.Errorf("%s: Classes[%s] = %d, want %d (§16 says class %s)", st.op, c, got.Classes[c], want, st.class)
			}
		}
	}
	// Retry-After carries the configured seconds.
	srv2, base2, hc2 := startServer(t, emulator.Options{RetryAfter: 3 * time.Second})
	s2 := master(t, hc2, base2, 4)
	srv2.SetFaults(1, 429)
	r := s2.try("b2_list_buckets", map[string]any{"accountId": s2.accountID})
	if r.Status != 429 || r.Header.Get("Retry-After") != strconv.Itoa(3) {
		t.Errorf("Retry-After with RetryAfter=3s: %v %q", r, r.Header.Get("Retry-After"))
	}
	srv.SetFaults(1, 503)
	r = s.try("b2_list_buckets", map[string]any{"accountId": s.accountID})
	if r.Header.Get("Retry-After") != "1" {
		t.Errorf("default Retry-After = %q, want 1", r.Header.Get("Retry-After"))
	}
	srv.SetFaults(0)
}

// §4.2: v4 multi-bucket keys and bucket-less namePrefix keys.
func TestAPIMultiBucketAndPrefixOnlyKeys(t *testing.T) {
	_, base, hc := startServer(t, emulator.Options{})
	m := master(t, hc, base, 4)
	b1, b2, b3 := m.bucket(bucketName("mb1")), m.bucket(bucketName("mb2")), m.bucket(bucketName("mb3"))
	for _, b := range []string{b1, b2, b3} {
		m.upload(b, "p/x", []byte("x"), nil)
		m.upload(b, "q/y", []byte("y"), nil)
	}
	id, key, _ := m.createKey(map[string]any{"capabilities": []string{"listBuckets", "listFiles", "readFiles", "writeFiles"}, "bucketIds": []string{b1, b2}, "namePrefix": "p/"})
	s := login(t, hc, base, 4, id, key)
	for _, b := range []string{b1, b2} {
		if r := s.try("b2_list_file_names", map[string]any{"bucketId": b, "prefix": "p/"}); r.Status != 200 {
			t.Errorf("multi-bucket key in allowed bucket: %v", r)
		}
		wantErr(t, "multi-bucket key without prefix", s.try("b2_list_file_names", map[string]any{"bucketId": b}), 401, "unauthorized")
	}
	wantErr(t, "multi-bucket key third bucket", s.try("b2_list_file_names", map[string]any{"bucketId": b3, "prefix": "p/"}), 401, "unauthorized")
	wantErr(t, "multi-bucket key upload url third bucket", s.try("b2_get_upload_url", map[string]any{"bucketId": b3}), 401, "unauthorized")
	wantErr(t, "multi-bucket key unfiltered list_buckets", s.try("b2_list_buckets", map[string]any{"accountId": s.accountID}), 401, "unauthorized")
	if r := s.try("b2_list_buckets", map[string]any{"accountId": s.accountID, "bucketId": b2}); r.Status != 200 || len(jlist(r.Body, "buckets")) != 1 {
		t.Errorf("multi-bucket key filtered list_buckets: %v", r)
	}
	// namePrefix without a bucket restriction applies to every bucket (current docs, v4).
	id2, key2, _ := m.createKey(map[string]any{"capabilities": []string{"listBuckets", "listFiles", "readFiles"}, "namePrefix": "q/"})
	s2 := login(t, hc, base, 4, id2, key2)
	for _, b := range []string{b1, b2, b3} {
		if r := s2.try("b2_list_file_names", map[string]any{"bucketId": b, "prefix": "q/"}); r.Status != 200 || len(jlist(r.Body, "files")) != 1 {
			t.Errorf("prefix-only key list: %v", r)
		}
		wantErr(t, "prefix-only key other prefix", s2.try("b2_list_file_names", map[string]any{"bucketId": b, "prefix": "p/"}), 401, "unauthorized")
	}
	if r := s2.try("b2_list_buckets", map[string]any{"accountId": s2.accountID}); r.Status != 200 {
		t.Errorf("prefix-only key (no bucket restriction) unfiltered list_buckets: %v", r)
	}
}
