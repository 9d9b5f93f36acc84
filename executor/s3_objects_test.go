package executor_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/b2plan/b2plan/emulator"
	"github.com/b2plan/b2plan/executor"
	"github.com/b2plan/b2plan/live"
)

const s3ObjectsHCL = `
bucket "b" {
  name = "objects-s3"
}
object "page" {
  bucket       = bucket.b.name
  name         = "site/index.html"
  content      = "<h1>over S3</h1>"
  content_type = "text/html"
  info         = { Team = "web", "b2-cache-control" = "max-age=60" }
}
object "utf8" {
  bucket  = bucket.b.name
  name    = "city.txt"
  content = "Zürich"
  info    = { city = "Zürich" }
}
object "blob" {
  bucket = bucket.b.name
  name   = "blob.bin"
  source = "blob.bin"
  info   = { origin = "s3-test" }
}
`

// rawFile is one file version as the raw native b2_list_file_versions reports it.
type rawFile struct {
	ContentSha1 string
	ContentType string
	FileInfo    map[string]string
	Size        int64
	Action      string
}

func rawVersions(e *env, bucket string) map[string][]rawFile {
	e.t.Helper()
	bl := e.raw("b2_list_buckets", map[string]any{"accountId": emulator.DefaultAccountID, "bucketName": bucket})
	id := bl["buckets"].([]any)[0].(map[string]any)["bucketId"].(string)
	out := map[string][]rawFile{}
	fl := e.raw("b2_list_file_versions", map[string]any{"bucketId": id, "maxFileCount": 1000})
	for _, f := range fl["files"].([]any) {
		m := f.(map[string]any)
		rf := rawFile{ContentSha1: fmt.Sprint(m["contentSha1"]), ContentType: fmt.Sprint(m["contentType"]),
			Size: int64(m["contentLength"].(float64)), Action: fmt.Sprint(m["action"]), FileInfo: map[string]string{}}
		for k, v := range m["fileInfo"].(map[string]any) {
			rf.FileInfo[k] = fmt.Sprint(v)
		}
		out[m["fileName"].(string)] = append(out[m["fileName"].(string)], rf)
	}
	return out
}

// TestObjectsOverS3: object blocks applied through the S3-compatible API — a small object
// with one PutObject (content type, file info as x-amz-meta-*, b2-cache-control as
// Cache-Control), one above the part size with a multipart upload carrying large_file_sha1 —
// no native upload call but for an object whose info S3 metadata cannot carry (UTF-8), under
// B2's signed-payload rule (S3SignedPayload); the raw native listing and a download have the declared SHA-1s,
// and re-plans over S3 and natively are empty.
func TestObjectsOverS3(t *testing.T) {
	s3e, native := newS3Env(t, emulator.Options{AbsoluteMinimumPartSize: 100, RecommendedPartSize: 1000, S3SignedPayload: true})
	data := bytes.Repeat([]byte("0123456789abcdef"), 220) // 3,520 bytes: 4 parts of 1,000
	os.WriteFile(filepath.Join(s3e.dir, "blob.bin"), data, 0o644)
	os.WriteFile(filepath.Join(native.dir, "blob.bin"), data, 0o644)
	p := s3e.plan(s3ObjectsHCL)
	before := s3e.stats()
	res := s3e.mustApply(p, executor.Options{PartSize: 1000})
	if res.Added != 4 {
		t.Fatalf("added %d, want 4", res.Added)
	}
	st := s3e.stats()
	calls := func(api string) int64 { return st.Calls[api] - before.Calls[api] }
	if calls("s3_PutObject") != 1 || calls("s3_UploadPart") != 4 || calls("s3_CompleteMultipartUpload") != 1 ||
		calls("b2_upload_file") != 1 || calls("b2_upload_part") != 0 || calls("b2_start_large_file") != 0 {
		t.Errorf("calls of the apply over S3: %v", st.Calls)
	}
	raw := rawVersions(native, "objects-s3")
	page := raw["site/index.html"]
	if len(page) != 1 || page[0].ContentSha1 != sha("<h1>over S3</h1>") || page[0].ContentType != "text/html" ||
		page[0].FileInfo["team"] != "web" || page[0].FileInfo["b2-cache-control"] != "max-age=60" || len(page[0].FileInfo) != 2 {
		t.Errorf("page, raw listing: %+v", page)
	}
	if city := raw["city.txt"]; len(city) != 1 || city[0].FileInfo["city"] != "Zürich" || city[0].ContentSha1 != sha("Zürich") {
		t.Errorf("city.txt (non-ASCII info: native upload), raw listing: %+v", city)
	}
	blob := raw["blob.bin"]
	if len(blob) != 1 || blob[0].FileInfo["large_file_sha1"] != sha(string(data)) || blob[0].FileInfo["origin"] != "s3-test" ||
		blob[0].Size != int64(len(data)) || blob[0].ContentType != "application/octet-stream" {
		t.Errorf("blob, raw listing: %+v", blob)
	}
	vs := native.versions("objects-s3", "blob.bin")
	got, err := native.m.HashVersion(context.Background(), vs[0].ID, "blob.bin") // downloads and hashes
	if err != nil || hex.EncodeToString(got.SHA1[:]) != sha(string(data)) || got.Size != int64(len(data)) {
		t.Fatalf("download: %+v %v", got, err)
	}
	if p := s3e.plan(s3ObjectsHCL); p.HasChanges() {
		t.Errorf("re-plan over S3 not empty: %v", p.Changes)
	}
	if p := native.plan(s3ObjectsHCL); p.HasChanges() {
		t.Errorf("native re-plan not empty: %v", p.Changes)
	}
}

// TestObjectsOverS3Faults: with 30% of calls failing, a multipart upload over S3 retries its
// parts and finishes with the declared SHA-1; no unfinished large file is left.
func TestObjectsOverS3Faults(t *testing.T) {
	s3e, native := newS3Env(t, emulator.Options{AbsoluteMinimumPartSize: 100, RecommendedPartSize: 500, FailRate: 0.3, Seed: 15})
	data := bytes.Repeat([]byte("fault-tolerant!\n"), 400) // 6,400 bytes: 13 parts of 500
	os.WriteFile(filepath.Join(s3e.dir, "blob.bin"), data, 0o644)
	s3e.mustApply(s3e.plan(largeObjectHCL), executor.Options{PartSize: 500})
	var files, started int
	for _, v := range native.versions("objects-large", "") {
		if v.Action == live.ActionStart {
			started++
			continue
		}
		files++
		if v.Name != "blob.bin" || v.SHA1Hex() != sha(string(data)) {
			t.Errorf("version %s: SHA-1 %s", v.Name, v.SHA1Hex())
		}
	}
	if files != 1 || started != 0 {
		t.Errorf("%d files, %d unfinished large files; want 1 and 0", files, started)
	}
	if st := s3e.stats(); st.Faults == 0 || st.Calls["s3_UploadPart"] < 13 {
		t.Errorf("faults %d, UploadPart calls %d", st.Faults, st.Calls["s3_UploadPart"])
	}
}
