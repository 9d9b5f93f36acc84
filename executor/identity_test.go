package executor_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/b2plan/b2plan/b2client"
	"github.com/b2plan/b2plan/emulator"
	"github.com/b2plan/b2plan/executor"
	"github.com/b2plan/b2plan/live"
	"github.com/b2plan/b2plan/planner"
)

// Independent reader: raw API calls, not b2client's decoder.

// rawAuth returns the token, API URL and download URL of the master key.
func (e *env) rawAuth() (token, apiURL, downloadURL string) {
	e.t.Helper()
	hc := e.s.HTTPClient()
	req, _ := http.NewRequest("GET", e.s.URL()+"/b2api/v4/b2_authorize_account", nil)
	req.SetBasicAuth(emulator.DefaultKeyID, emulator.DefaultKey)
	resp, err := hc.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var a struct {
		Token   string `json:"authorizationToken"`
		APIInfo struct {
			Storage struct {
				APIURL      string `json:"apiUrl"`
				DownloadURL string `json:"downloadUrl"`
			} `json:"storageApi"`
		} `json:"apiInfo"`
	}
	if err := jsonDecode(resp.Body, &a); err != nil {
		e.t.Fatal(err)
	}
	return a.Token, a.APIInfo.Storage.APIURL, a.APIInfo.Storage.DownloadURL
}

// rawSHA1 downloads a version by id and returns the SHA-1 of its bytes.
func (e *env) rawSHA1(fileID string) string {
	e.t.Helper()
	tok, _, dl := e.rawAuth()
	req, _ := http.NewRequest("GET", dl+"/b2api/v4/b2_download_file_by_id?fileId="+fileID, nil)
	req.Header.Set("Authorization", tok)
	resp, err := e.s.HTTPClient().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		e.t.Fatalf("download %s: %d %s", fileID, resp.StatusCode, data)
	}
	s := sha1.Sum(data)
	return hex.EncodeToString(s[:])
}

// rawVersion is one entry of a raw b2_list_file_versions listing.
type rawVersion struct {
	Name, ID, Action, SHA1 string
	Info                   map[string]string
}

// rawVersions lists every version under prefix with raw calls (newest
// first within a name), unfinished large files excluded.
func (e *env) rawVersions(bucketID, prefix string) []rawVersion {
	e.t.Helper()
	var out []rawVersion
	body := map[string]any{"bucketId": bucketID, "prefix": prefix, "maxFileCount": 10000}
	for {
		resp := e.raw("b2_list_file_versions", body)
		for _, f := range resp["files"].([]any) {
			m := f.(map[string]any)
			v := rawVersion{Name: m["fileName"].(string), ID: m["fileId"].(string), Action: m["action"].(string), Info: map[string]string{}}
			if s, ok := m["contentSha1"].(string); ok {
				v.SHA1 = s
			}
			if fi, ok := m["fileInfo"].(map[string]any); ok {
				for k, x := range fi {
					v.Info[k] = fmt.Sprint(x)
				}
			}
			if v.Action != "start" {
				out = append(out, v)
			}
		}
		next, _ := resp["nextFileName"].(string)
		if next == "" {
			return out
		}
		body["startFileName"] = next
		body["startFileId"] = resp["nextFileId"]
	}
}

// contentOf maps each name under prefix to the SHA-1s of its upload
// versions (downloaded), newest first.
func (e *env) contentOf(bucketID, prefix string) map[string][]string {
	out := map[string][]string{}
	for _, v := range e.rawVersions(bucketID, prefix) {
		if v.Action == "upload" || v.Action == "copy" {
			out[v.Name] = append(out[v.Name], e.rawSHA1(v.ID))
		}
	}
	return out
}

// nativeLarge uploads parts as a large file through the native API without
// large_file_sha1 (contentSha1 "none").
func (e *env) nativeLarge(bucketID, name string, parts [][]byte) {
	e.nativeLargeInfo(bucketID, name, parts, nil)
}

func (e *env) nativeLargeInfo(bucketID, name string, parts [][]byte, info map[string]string) {
	e.t.Helper()
	st := e.raw("b2_start_large_file", map[string]any{"bucketId": bucketID, "fileName": name, "contentType": "application/x-tar", "fileInfo": info})
	id := st["fileId"].(string)
	up := e.raw("b2_get_upload_part_url", map[string]any{"fileId": id})
	var shas []string
	for i, p := range parts {
		s := sha1.Sum(p)
		shas = append(shas, hex.EncodeToString(s[:]))
		req, _ := http.NewRequest("POST", up["uploadUrl"].(string), bytes.NewReader(p))
		req.Header.Set("Authorization", up["authorizationToken"].(string))
		req.Header.Set("X-Bz-Part-Number", strconv.Itoa(i+1))
		req.Header.Set("X-Bz-Content-Sha1", shas[i])
		req.ContentLength = int64(len(p))
		resp, err := e.s.HTTPClient().Do(req)
		if err != nil {
			e.t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			e.t.Fatalf("upload part: %d %s", resp.StatusCode, data)
		}
	}
	e.raw("b2_finish_large_file", map[string]any{"fileId": id, "partSha1Array": shas})
}

// s3Multipart uploads parts with an S3 multipart upload (no SHA-1 at all,
// as `aws s3 cp` does above its multipart threshold).
func (e *env) s3Multipart(bucket, name string, parts [][]byte) {
	e.t.Helper()
	ctx := context.Background()
	c := sdk(e)
	cr, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(name)})
	if err != nil {
		e.t.Fatal(err)
	}
	var done []types.CompletedPart
	for i, p := range parts {
		o, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String(name), UploadId: cr.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p)})
		if err != nil {
			e.t.Fatal(err)
		}
		done = append(done, types.CompletedPart{ETag: o.ETag, PartNumber: aws.Int32(int32(i + 1))})
	}
	if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(name),
		UploadId: cr.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: done}}); err != nil {
		e.t.Fatal(err)
	}
}

// blob is deterministic content of n bytes.
func blob(seed string, n int) []byte {
	b := make([]byte, 0, n+64)
	for i := 0; len(b) < n; i++ {
		b = append(b, fmt.Sprintf("%s-%d;", seed, i)...)
	}
	return b[:n]
}

func split2(b []byte) [][]byte { return [][]byte{b[:len(b)/2], b[len(b)/2:]} }

func sum(b []byte) string {
	s := sha1.Sum(b)
	return hex.EncodeToString(s[:])
}

// TestNoSHA1IsNotSameContent is the data-loss probe of issue 11: a
// different large file without SHA-1 at the destination must never be taken
// for "already copied". Seeded through the native large-file API and
// through S3 multipart; checked by raw listings and downloads against
// hashes computed while seeding.
func TestNoSHA1IsNotSameContent(t *testing.T) {
	for _, seeder := range []string{"native", "s3"} {
		t.Run(seeder, func(t *testing.T) {
			e := newEnv(t, emulator.Options{AbsoluteMinimumPartSize: 1000})
			b := e.bucket("acme-data", b2client.BucketSpec{})
			a, other, same := blob("nightly", 20_000), blob("archive", 20_000), blob("same", 30_000)
			put := func(name string, data []byte) {
				if seeder == "native" {
					e.nativeLarge(b.ID, name, split2(data))
				} else {
					e.s3Multipart("acme-data", name, split2(data))
				}
			}
			put("nightly/db.tar", a)
			put("archive/db.tar", other)
			put("nightly/same.tar", same)
			put("archive/same.tar", same)
			for _, v := range e.versions("acme-data", "") {
				if v.HasSHA1() {
					t.Fatalf("seed %s carries a SHA-1: the probe needs none", v.Name)
				}
			}
			check := func(stage string, wantSrc, wantDst map[string][]string) {
				t.Helper()
				if got := e.contentOf(b.ID, "nightly/"); fmt.Sprint(got) != fmt.Sprint(wantSrc) {
					t.Errorf("%s: source %v, want %v", stage, got, wantSrc)
				}
				if got := e.contentOf(b.ID, "archive/"); fmt.Sprint(got) != fmt.Sprint(wantDst) {
					t.Errorf("%s: destination %v, want %v", stage, got, wantDst)
				}
			}
			seeded := map[string][]string{"nightly/db.tar": {sum(a)}, "nightly/same.tar": {sum(same)}}
			dst := map[string][]string{"archive/db.tar": {sum(other)}, "archive/same.tar": {sum(same)}}

			// Default: both names are conflicts, with the reason and the way out.
			p, diags := e.planD(e.load(moveHCL("acme-data", "nightly/", "archive/")))
			if !diags.HasErrors() || !strings.Contains(diags.Error(), `verify = \"download\"`) && !strings.Contains(diags.Error(), `verify = "download"`) {
				t.Fatalf("plan diagnostics: %v", diags)
			}
			m := p.Moves[0]
			if len(m.Conflicts) != 2 || m.AlreadyCopied != 0 || len(m.Ops) != 0 {
				t.Fatalf("conflicts %+v, already copied %d, ops %d", m.Conflicts, m.AlreadyCopied, len(m.Ops))
			}
			for _, c := range m.Conflicts {
				if !strings.Contains(c.Reason, "no SHA-1 on either side: content cannot be compared") || c.Resolution != "fail" {
					t.Errorf("conflict %+v", c)
				}
			}

			// on_conflict = "skip": nothing is touched.
			p = e.plan(moveHCL("acme-data", "nightly/", "archive/", `on_conflict = "skip"`))
			e.mustApply(p, executor.Options{})
			check("skip", seeded, dst)

			// verify = "download": the equal pair is proven by hashing both
			// and its source removed; the different one fails, source kept.
			p = e.plan(moveHCL("acme-data", "nightly/", "archive/", `verify = "download"`))
			if m := p.Moves[0]; m.Verifies != 2 || m.Calls.ClassB != 4 || m.VerifyBytes != 100_000 || len(m.Conflicts) != 0 {
				t.Fatalf("verify plan: verifies %d, class B %d, bytes %d, conflicts %v", m.Verifies, m.Calls.ClassB, m.VerifyBytes, m.Conflicts)
			}
			res, err := e.apply(p, executor.Options{}, nil)
			if err == nil || len(res.Failures) != 1 || res.Failures[0].Object != "nightly/db.tar" ||
				!strings.Contains(res.Failures[0].Err.Error(), "other content") {
				t.Fatalf("apply: %v %v", err, res.Failures)
			}
			check("verify", map[string][]string{"nightly/db.tar": {sum(a)}}, dst)

			// verify + skip: the different one is skipped, not a failure.
			p = e.plan(moveHCL("acme-data", "nightly/", "archive/", `verify = "download"`, `on_conflict = "skip"`))
			res = e.mustApply(p, executor.Options{})
			if len(res.Skipped) != 1 {
				t.Errorf("skipped %v", res.Skipped)
			}
			check("verify+skip", map[string][]string{"nightly/db.tar": {sum(a)}}, dst)
		})
	}
}

// TestNoSHA1CopyIsMarked: a copy of a version without SHA-1 carries the
// source's file id, so that a re-run after a crash between copy and delete
// recognises it (no local state) and plans only the source removal.
func TestNoSHA1CopyIsMarked(t *testing.T) {
	perObject(t) // it cuts the plan's operations (a kill after the copy)
	for _, tc := range []struct {
		large bool
		api   string
	}{{false, "native"}, {true, "native"}, {false, "s3"}, {true, "s3"}} {
		t.Run(fmt.Sprintf("large=%v/%s", tc.large, tc.api), func(t *testing.T) {
			opts := emulator.Options{AbsoluteMinimumPartSize: 1000}
			if tc.large {
				opts.MaxCopySize, opts.RecommendedPartSize = 10_000, 5_000 // 20,000-byte sources need a large copy
			}
			var e *env
			if tc.api == "s3" {
				e, _ = newS3Env(t, opts)
			} else {
				e = newEnv(t, opts)
			}
			b := e.bucket("acme-data", b2client.BucketSpec{})
			data := blob("db", 20_000)
			e.nativeLarge(b.ID, "nightly/db.tar", split2(data))
			src := e.versions("acme-data", "nightly/")[0]
			p := e.plan(moveHCL("acme-data", "nightly/", "archive/"))
			// Copy only (the crash: the deletes never ran).
			p.Moves[0].Ops = p.Moves[0].Ops[:1]
			if p.Moves[0].Ops[0].Kind != planner.OpCopy && p.Moves[0].Ops[0].Kind != planner.OpCopyLarge {
				t.Fatalf("first op %v", p.Moves[0].Ops[0].Kind)
			}
			e.mustApply(p, executor.Options{})
			vs := e.rawVersions(b.ID, "archive/")
			if len(vs) != 1 || vs[0].Info[live.SourceIDKey] != src.ID {
				t.Fatalf("copy %+v, want marker %s", vs, src.ID)
			}
			if got := e.rawSHA1(vs[0].ID); got != sum(data) {
				t.Fatalf("copy content %s", got)
			}
			p = e.plan(moveHCL("acme-data", "nightly/", "archive/"))
			if m := p.Moves[0]; m.AlreadyCopied != 1 || m.Copies != 0 || m.Deletes != 1 || len(m.Conflicts) != 0 {
				t.Fatalf("re-plan: already %d copies %d deletes %d conflicts %v", m.AlreadyCopied, m.Copies, m.Deletes, m.Conflicts)
			}
			e.mustApply(p, executor.Options{})
			if p := e.plan(moveHCL("acme-data", "nightly/", "archive/")); p.HasChanges() {
				t.Errorf("completed move still plans: %s", p.SummaryLine())
			}
			if got := e.contentOf(b.ID, ""); fmt.Sprint(got) != fmt.Sprint(map[string][]string{"archive/db.tar": {sum(data)}}) {
				t.Errorf("final %v", got)
			}
		})
	}
}

func jsonDecode(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }

// TestAbandonedCopiesCancelled: an unfinished large file under the
// destination that carries b2plan's marker (a large copy a kill
// interrupted) is shown in the plan and cancelled by apply; one without the
// marker is someone else's and is left alone.
func TestAbandonedCopiesCancelled(t *testing.T) {
	e := newEnv(t, emulator.Options{AbsoluteMinimumPartSize: 1000, MaxCopySize: 10_000})
	b := e.bucket("acme-data", b2client.BucketSpec{})
	data := blob("db", 20_000)
	e.nativeLarge(b.ID, "nightly/db.tar", split2(data))
	src := e.versions("acme-data", "nightly/")[0]
	mine := e.raw("b2_start_large_file", map[string]any{"bucketId": b.ID, "fileName": "archive/db.tar", "contentType": "application/x-tar",
		"fileInfo": map[string]string{live.SourceIDKey: src.ID}})
	theirs := e.raw("b2_start_large_file", map[string]any{"bucketId": b.ID, "fileName": "archive/upload.bin", "contentType": "application/x-tar"})
	p := e.plan(moveHCL("acme-data", "nightly/", "archive/"))
	m := p.Moves[0]
	if len(m.Abandoned) != 1 || m.Abandoned[0].FileID != mine["fileId"] || m.Calls.ClassA < 2 {
		t.Fatalf("abandoned %+v, calls %+v", m.Abandoned, m.Calls)
	}
	var ev events
	if _, err := e.apply(p, executor.Options{}, &ev); err != nil {
		t.Fatal(err)
	}
	unf := e.raw("b2_list_unfinished_large_files", map[string]any{"bucketId": b.ID})["files"].([]any)
	if len(unf) != 1 || unf[0].(map[string]any)["fileId"] != theirs["fileId"] {
		t.Errorf("unfinished after apply: %v", unf)
	}
	if got := e.contentOf(b.ID, ""); fmt.Sprint(got) != fmt.Sprint(map[string][]string{"archive/db.tar": {sum(data)}}) {
		t.Errorf("final %v", got)
	}
	if p := e.plan(moveHCL("acme-data", "nightly/", "archive/")); p.HasChanges() {
		t.Errorf("re-plan: %s", p.SummaryLine())
	}
}

// TestNoSHA1FullFileInfo: a source without SHA-1 that already has B2's 10
// file info entries cannot carry the marker: it is copied with its file
// info unchanged, and a run killed between that copy and the source
// removal leaves a pair the next plan reports as a conflict (never as
// "already copied"); verify = "download" finishes it.
func TestNoSHA1FullFileInfo(t *testing.T) {
	perObject(t) // it cuts the plan's operations (a kill after the copy)
	e := newEnv(t, emulator.Options{AbsoluteMinimumPartSize: 1000})
	b := e.bucket("acme-data", b2client.BucketSpec{})
	info := map[string]string{}
	for i := 0; i < 10; i++ {
		info[fmt.Sprintf("k%d", i)] = "v"
	}
	data := blob("full", 20_000)
	e.nativeLargeInfo(b.ID, "nightly/db.tar", split2(data), info)
	p := e.plan(moveHCL("acme-data", "nightly/", "archive/"))
	p.Moves[0].Ops = p.Moves[0].Ops[:1] // killed after the copy
	e.mustApply(p, executor.Options{})
	vs := e.rawVersions(b.ID, "archive/")
	if len(vs) != 1 || len(vs[0].Info) != 10 || vs[0].Info[live.SourceIDKey] != "" {
		t.Fatalf("copy %+v", vs)
	}
	_, diags := e.planD(e.load(moveHCL("acme-data", "nightly/", "archive/")))
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "no SHA-1") {
		t.Fatalf("re-plan without proof: %v", diags)
	}
	e.mustApply(e.plan(moveHCL("acme-data", "nightly/", "archive/", `verify = "download"`)), executor.Options{})
	if got := e.contentOf(b.ID, ""); fmt.Sprint(got) != fmt.Sprint(map[string][]string{"archive/db.tar": {sum(data)}}) {
		t.Errorf("final %v", got)
	}
}
