package b2client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/b2plan/b2plan/emulator"
	"github.com/b2plan/b2plan/live"
)

func TestClassifyS3(t *testing.T) {
	tests := []struct {
		status    int
		code, msg string
		want      Class
	}{
		{404, "NoSuchKey", "", NotFound},
		{404, "NoSuchVersion", "", NotFound},
		{404, "NoSuchBucket", "", NotFound},
		{404, "NoSuchUpload", "", NotFound},
		{404, "", "", NotFound}, // HEAD: no body
		{503, "SlowDown", "", RateLimited},
		{503, "ServiceUnavailable", "", Retryable},
		{500, "InternalError", "", Retryable},
		{400, "RequestTimeout", "", Retryable},
		{429, "", "", RateLimited},
		{403, "AccessDenied", "Access Denied", Unauthorized},
		{403, "AccessDenied", "the file is under object lock retention", Locked},
		{403, "AccessDenied", "legal hold is on", Locked},
		{403, "InvalidAccessKeyId", "", Unauthorized},
		{403, "SignatureDoesNotMatch", "", Unauthorized},
		{403, "RequestTimeTooSkewed", "", Unauthorized},
		{409, "BucketNotEmpty", "", Conflict},
		{409, "BucketAlreadyOwnedByYou", "", Conflict},
		{412, "PreconditionFailed", "", Conflict},
		{400, "InvalidRequest", "", Permanent},
		{400, "EntityTooLarge", "", Permanent},
		{0, "InternalError", "", Retryable}, // a DeleteObjects item
		{0, "AccessDenied", "", Unauthorized},
	}
	for _, tt := range tests {
		if got := classifyS3(tt.status, tt.code, tt.msg); got != tt.want {
			t.Errorf("classifyS3(%d, %q, %q) = %v, want %v", tt.status, tt.code, tt.msg, got, tt.want)
		}
	}
	if got := bucketIDOfFile("4_z27c88f1d182b150646ff0b16_f1004ba650fe24e6b_d20180809_m012036_c100_v0001015_t0028"); got != "27c88f1d182b150646ff0b16" {
		t.Errorf("bucketIDOfFile = %q", got)
	}
	if got := bucketIDOfFile("not-a-b2-id"); got != "" {
		t.Errorf("bucketIDOfFile(not-a-b2-id) = %q", got)
	}
	if got := copySource("bkt", "a dir/ü+b.txt", "4_zx_f1"); got != "bkt/a%20dir/%C3%BC%2Bb.txt?versionId=4_zx_f1" {
		t.Errorf("copySource = %q", got)
	}
	if _, ok := etagMD5(`"0123456789abcdef0123456789abcdef-2"`); ok {
		t.Errorf("a multipart ETag parsed as an MD5")
	}
	if m, ok := etagMD5(`"d41d8cd98f00b204e9800998ecf8427e"`); !ok || fmt.Sprintf("%x", m) != emptyMD5 {
		t.Errorf("etagMD5 of the empty MD5 = %x, %v", m, ok)
	}
}

// s3Pair is one emulator reached through both APIs.
type s3Pair struct {
	native *target
	s3     *Conn
	sm     *Mutator
}

func newS3Pair(t *testing.T, opts emulator.Options) *s3Pair {
	t.Helper()
	tg := newEmulatorTarget(t, opts)
	t.Cleanup(func() { tg.cleanup(t) })
	cfg := tg.cfg
	cfg.Endpoint = "s3+" + tg.srv.S3URL()
	c, err := Connect(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Connect S3: %v", err)
	}
	if !c.IsS3() {
		t.Fatalf("not an S3 connection: %s", c)
	}
	return &s3Pair{native: tg, s3: c, sm: NewMutator(c)}
}

// TestS3ObserveSameListing: Observe through an S3 endpoint gives the very
// Listing the native API gives, and pages ListObjectVersions 1,000 at a time.
func TestS3ObserveSameListing(t *testing.T) {
	p := newS3Pair(t, emulator.Options{AbsoluteMinimumPartSize: 100, RecommendedPartSize: 100})
	ctx := context.Background()
	tg := p.native
	b := tg.bucket(t, BucketSpec{})
	seed(t, tg.m, b.Name, "p/", 2500, 8)
	if _, err := tg.m.Upload(ctx, b.Name, "p/f00000001", "text/plain", []byte("v2"), map[string]string{"color": "red"}); err != nil {
		t.Fatal(err)
	}
	if _, err := tg.m.HideFile(ctx, b.ID, "p/f00000002"); err != nil {
		t.Fatal(err)
	}
	big, err := tg.m.Upload(ctx, b.Name, "p/big-src", "application/x-test", bytes.Repeat([]byte("z"), 250), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tg.m.CopyLargeFile(ctx, LargeCopyRequest{CopyRequest: CopyRequest{DestBucketID: b.ID, DestName: "p/big"}, Source: big, PartSize: 100}); err != nil {
		t.Fatal(err)
	}
	var started fileJSON
	if _, err := tg.conn.call(ctx, "start", "b2_start_large_file", map[string]any{"bucketId": b.ID, "fileName": "p/partial", "contentType": "text/plain"}, &started, false); err != nil {
		t.Fatal(err)
	}
	req := live.Request{Prefixes: []live.PrefixRequest{{BucketName: b.Name, Prefix: "p/"}, {BucketName: "b2plan-no-such-bucket", Prefix: "x/"}}}
	want := tg.observe(t, req)
	lists, natives := tg.calls("s3_ListObjectVersions"), tg.calls("b2_list_file_versions")
	got, err := Observe(ctx, p.s3, req)
	if err != nil {
		t.Fatalf("Observe over S3: %v", err)
	}
	if d := cmp.Diff(want.Listings, got.Listings); d != "" {
		t.Errorf("S3 listing differs from the native one (-native +s3):\n%s", d)
	}
	// 2,504 versions and markers: 3 S3 pages, 1 native page.
	if d := tg.calls("s3_ListObjectVersions") - lists; d != 3 {
		t.Errorf("ListObjectVersions calls = %d, want 3", d)
	}
	if d := tg.calls("b2_list_file_versions") - natives; d != 1 {
		t.Errorf("b2_list_file_versions calls = %d, want 1", d)
	}
}

// TestS3DeleteVersions: batches of up to 1,000 version ids in one
// DeleteObjects call each, per-item results, and the native loop.
func TestS3DeleteVersions(t *testing.T) {
	p := newS3Pair(t, emulator.Options{})
	ctx := context.Background()
	tg := p.native
	b := tg.bucket(t, BucketSpec{})
	seed(t, tg.m, b.Name, "d/", 2100, 8)
	l := tg.listing(t, b.Name, "d/")
	var items []VersionRef
	for _, v := range l.Versions {
		items = append(items, VersionRef{Name: v.Name, ID: v.ID})
	}
	items = append(items, VersionRef{Name: "d/never", ID: items[0].ID}) // wrong name: nothing to delete
	calls := tg.calls("s3_DeleteObjects")
	errs := p.sm.DeleteVersions(ctx, b.Name, items)
	for i, err := range errs {
		if err != nil {
			t.Errorf("item %d (%s): %v", i, items[i].Name, err)
		}
	}
	if d := tg.calls("s3_DeleteObjects") - calls; d != 3 {
		t.Errorf("DeleteObjects calls = %d, want 3 (2,101 items)", d)
	}
	if l := tg.listing(t, b.Name, "d/"); len(l.Versions) != 0 {
		t.Errorf("%d versions left", len(l.Versions))
	}

	// One locked version in a batch fails alone, with class Locked.
	lb := tg.bucket(t, BucketSpec{ObjectLock: true})
	free, err := tg.m.Upload(ctx, lb.Name, "x/free", "text/plain", []byte("a"), nil)
	if err != nil {
		t.Fatal(err)
	}
	held, err := tg.m.Upload(ctx, lb.Name, "x/held", "text/plain", []byte("b"), nil)
	if err != nil {
		t.Fatal(err)
	}
	hold := func(state string) {
		req := map[string]any{"fileName": held.Name, "fileId": held.ID, "legalHold": state}
		if _, err := tg.conn.call(ctx, "legal hold", "b2_update_file_legal_hold", req, nil, false); err != nil {
			t.Fatalf("legal hold: %v", err)
		}
	}
	hold("on")
	errs = p.sm.DeleteVersions(ctx, lb.Name, []VersionRef{{free.Name, free.ID}, {held.Name, held.ID}})
	if errs[0] != nil || !errors.Is(errs[1], Locked) {
		t.Errorf("batch with a held version: %v", errs)
	} else if !strings.Contains(errs[1].Error(), held.ID) {
		t.Errorf("the item error does not name the version: %v", errs[1])
	}
	hold("off")

	// Native connections: a loop of b2_delete_file_version.
	seed(t, tg.m, b.Name, "n/", 20, 4)
	l = tg.listing(t, b.Name, "n/")
	items = items[:0]
	for _, v := range l.Versions {
		items = append(items, VersionRef{Name: v.Name, ID: v.ID})
	}
	dels := tg.calls("b2_delete_file_version")
	for i, err := range tg.m.DeleteVersions(ctx, b.Name, items) {
		if err != nil {
			t.Errorf("native item %d: %v", i, err)
		}
	}
	if d := tg.calls("b2_delete_file_version") - dels; d != 20 {
		t.Errorf("native deletes = %d, want 20", d)
	}
}

// TestS3Faults: copies, large copies, hides, placeholders, listings and
// batch deletes over S3 ride through 20% injected SlowDown / InternalError
// answers under the shared retry policy.
func TestS3Faults(t *testing.T) {
	p := newS3Pair(t, emulator.Options{Seed: 7, AbsoluteMinimumPartSize: 100, RecommendedPartSize: 100})
	ctx := context.Background()
	tg := p.native
	b := tg.bucket(t, BucketSpec{})
	dst := tg.bucket(t, BucketSpec{})
	seed(t, tg.m, b.Name, "in/", 60, 4)
	big, err := tg.m.Upload(ctx, b.Name, "in/zz-big", "application/x-test", bytes.Repeat([]byte("q"), 1050), map[string]string{"color": "blue"})
	if err != nil {
		t.Fatal(err)
	}
	before := tg.srv.Stats().Faults
	tg.srv.SetFaults(0.2, 503, 500)
	defer tg.srv.SetFaults(0)
	l, err := Observe(ctx, p.s3, live.Request{Prefixes: []live.PrefixRequest{{BucketName: b.Name, Prefix: "in/"}}})
	if err != nil {
		t.Fatalf("Observe under faults: %v", err)
	}
	var refs []VersionRef
	for _, v := range l.Listings[0].Versions {
		dest := "out/" + strings.TrimPrefix(v.Name, "in/")
		if v.ID == big.ID {
			res, err := p.sm.CopyLargeFile(ctx, LargeCopyRequest{CopyRequest: CopyRequest{SourceBucket: b.Name, DestBucketID: dst.ID, DestName: dest}, Source: v})
			if err != nil {
				t.Fatalf("large copy under faults: %v", err)
			}
			if res.Version.Size != v.Size || len(res.PartSHA1s) != 11 || res.Version.SHA1 != v.SHA1 {
				t.Errorf("large copy = %+v", res)
			}
		} else {
			got, err := copyLooking(ctx, p.s3, p.sm, dst.Name, CopyRequest{SourceFileID: v.ID, SourceName: v.Name, SourceBucket: b.Name, DestBucketID: dst.ID, DestName: dest})
			if err != nil {
				t.Fatalf("copy under faults: %v", err)
			}
			if !live.SameContent(&got, &v) {
				t.Errorf("copy %+v does not match %+v", got, v)
			}
		}
		refs = append(refs, VersionRef{Name: v.Name, ID: v.ID})
	}
	for i, err := range p.sm.DeleteVersions(ctx, b.Name, refs) {
		if err != nil {
			t.Errorf("delete %d under faults: %v", i, err)
		}
	}
	if _, err := p.sm.UploadEmpty(ctx, dst.Name, "out/.bzEmpty"); err != nil {
		t.Errorf("placeholder under faults: %v", err)
	}
	if _, err := p.sm.HideFile(ctx, dst.ID, "out/f00000000"); err != nil {
		t.Errorf("hide under faults: %v", err)
	}
	tg.srv.SetFaults(0)
	if tg.srv.Stats().Faults == before {
		t.Errorf("no faults were injected")
	}
	if l := tg.listing(t, b.Name, "in/"); len(l.Versions) != 0 {
		t.Errorf("source keeps %d versions", len(l.Versions))
	}
	out := tg.listing(t, dst.Name, "out/")
	if len(out.Versions) != 61+1+1 {
		t.Errorf("destination has %d versions, want 63", len(out.Versions))
	}
	for _, v := range out.Versions {
		if v.Name == "out/zz-big" && (v.ContentType != "application/x-test" || v.Info["color"] != "blue" || v.Flags&live.FlagLargeFileSHA1 == 0) {
			t.Errorf("large copy lost its metadata: %+v", v)
		}
	}
}

// TestS3CopyReadBack: a source this Conn has not listed has no known MD5;
// the copy is then read back natively (size and SHA-1 as B2 reports them).
func TestS3CopyReadBack(t *testing.T) {
	p := newS3Pair(t, emulator.Options{})
	ctx := context.Background()
	tg := p.native
	b := tg.bucket(t, BucketSpec{})
	v, err := tg.m.Upload(ctx, b.Name, "a/x.txt", "text/plain", []byte("read me back"), nil)
	if err != nil {
		t.Fatal(err)
	}
	infos := tg.calls("b2_get_file_info")
	got, err := p.sm.CopyFile(ctx, CopyRequest{SourceFileID: v.ID, SourceName: v.Name, DestName: "b/x.txt"})
	if err != nil {
		t.Fatalf("CopyFile: %v", err)
	}
	if d := tg.calls("b2_get_file_info") - infos; d != 1 {
		t.Errorf("b2_get_file_info calls = %d, want 1 (read back)", d)
	}
	if got.Name != "b/x.txt" || !live.SameContent(&got, &v) || got.ContentType != "text/plain" {
		t.Errorf("copy = %+v", got)
	}

	// Listed: no read-back. A listed MD5 that the copy's ETag does not
	// match is never trusted alone: the copy is read back too.
	if _, err := Observe(ctx, p.s3, live.Request{Prefixes: []live.PrefixRequest{{BucketName: b.Name, Prefix: "a/"}}}); err != nil {
		t.Fatal(err)
	}
	infos = tg.calls("b2_get_file_info")
	if got, err = p.sm.CopyFile(ctx, CopyRequest{SourceFileID: v.ID, SourceName: v.Name, DestName: "c/x.txt"}); err != nil || !live.SameContent(&got, &v) {
		t.Fatalf("CopyFile of a listed source: %+v, %v", got, err)
	}
	if d := tg.calls("b2_get_file_info") - infos; d != 0 {
		t.Errorf("b2_get_file_info calls = %d for a listed source, want 0", d)
	}
	p.s3.s3.mu.Lock()
	src := p.s3.s3.sources[v.ID]
	src.md5[0] ^= 0xff
	p.s3.s3.sources[v.ID] = src
	p.s3.s3.mu.Unlock()
	if got, err = p.sm.CopyFile(ctx, CopyRequest{SourceFileID: v.ID, SourceName: v.Name, DestName: "d/x.txt"}); err != nil || !live.SameContent(&got, &v) || got.ContentType != "text/plain" {
		t.Fatalf("CopyFile with another ETag: %+v, %v", got, err)
	}
	if d := tg.calls("b2_get_file_info") - infos; d != 1 {
		t.Errorf("b2_get_file_info calls = %d after an ETag mismatch, want 1 (read back)", d)
	}
}

// dropAfter is a transport that lets a matching request reach the emulator
// and then reports a dropped connection.
type dropAfter struct {
	rt    http.RoundTripper
	match func(*http.Request) bool
	n     atomic.Int32
}

func (d *dropAfter) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := d.rt.RoundTrip(r)
	if err == nil && d.match(r) {
		d.n.Add(1)
		resp.Body.Close()
		return nil, errors.New("read tcp 127.0.0.1:1->127.0.0.1:2: connection reset by peer")
	}
	return resp, err
}

// TestS3CopyAmbiguous: CopyObject is not retried after a failure that may
// have reached B2 (class Ambiguous), like b2_copy_file.
func TestS3CopyAmbiguous(t *testing.T) {
	p := newS3Pair(t, emulator.Options{})
	ctx := context.Background()
	tg := p.native
	b := tg.bucket(t, BucketSpec{})
	v, err := tg.m.Upload(ctx, b.Name, "a/x.txt", "text/plain", []byte("once"), nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := tg.cfg
	cfg.Endpoint = "s3+" + tg.srv.S3URL()
	d := &dropAfter{rt: tg.srv.Transport(), match: func(r *http.Request) bool { return r.Method == "PUT" && r.Header.Get("X-Amz-Copy-Source") != "" }}
	cfg.Transport = d
	c, err := Connect(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewMutator(c).CopyFile(ctx, CopyRequest{SourceFileID: v.ID, SourceName: v.Name, SourceBucket: b.Name, DestName: "b/x.txt"})
	if !errors.Is(err, Ambiguous) {
		t.Fatalf("CopyFile with a dropped reply: %v, want Ambiguous", err)
	}
	if d.n.Load() != 1 {
		t.Errorf("CopyObject sent %d times, want 1", d.n.Load())
	}
	if l := tg.listing(t, b.Name, "b/"); len(l.Versions) != 1 {
		t.Errorf("the copy happened %d times, want 1", len(l.Versions))
	}
}

// TestS3ConnectNeedsNativeAPI: an S3 endpoint whose native API refuses the
// key is refused at connect time (before any plan), with a clear message
// and no secret in it.
func TestS3ConnectNeedsNativeAPI(t *testing.T) {
	tg := newEmulatorTarget(t, emulator.Options{})
	cfg := tg.cfg
	cfg.Endpoint = "s3+" + tg.srv.S3URL()
	cfg.KeyID, cfg.Key = "000nosuchkey0000000000001", testSecret
	_, err := Connect(context.Background(), cfg)
	if err == nil || !errors.Is(err, Unauthorized) {
		t.Fatalf("Connect with a bad key: %v, want Unauthorized", err)
	}
	for _, want := range []string{"S3 endpoint", "native API", "B2 rejected the application key"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), testSecret) {
		t.Errorf("error leaks the secret: %v", err)
	}
	// Credentials inside an s3:// URL: accepted with a warning, never shown.
	cfg = tg.cfg
	cfg.KeyID, cfg.Key = "", ""
	cfg.Endpoint = "s3+http://" + emulator.DefaultKeyID + ":" + emulator.DefaultKey + "@" + strings.TrimPrefix(tg.srv.S3URL(), "http://")
	c, err := Connect(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Connect with credentials in the URL: %v", err)
	}
	if len(c.Warnings()) != 1 || strings.Contains(c.String(), emulator.DefaultKey) || strings.Contains(c.Endpoint().String(), emulator.DefaultKey) {
		t.Errorf("warnings %q, conn %s", c.Warnings(), c)
	}
}

// TestS3SecretsNeverInErrors drives S3 error paths (a key without the
// capabilities, an unreachable host with credentials in the URL) and greps
// every error for the secrets.
func TestS3SecretsNeverInErrors(t *testing.T) {
	p := newS3Pair(t, emulator.Options{})
	ctx := context.Background()
	tg := p.native
	b := tg.bucket(t, BucketSpec{})
	v, err := tg.m.Upload(ctx, b.Name, "a/x", "text/plain", []byte("x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	k := tg.key(t, KeySpec{Capabilities: []string{"listBuckets", "listFiles"}, BucketIDs: []string{b.ID}})
	cfg := tg.cfg
	cfg.Endpoint = "s3+" + tg.srv.S3URL()
	cfg.KeyID, cfg.Key = k.Key.ID, k.Secret.Reveal()
	c, err := Connect(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := NewMutator(c)
	var errs []error
	collect := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	_, err = m.CopyFile(ctx, CopyRequest{SourceFileID: v.ID, SourceName: v.Name, DestName: "b/x"})
	collect(err)
	collect(m.DeleteVersion(ctx, v.Name, v.ID, false))
	errs = append(errs, m.DeleteVersions(ctx, b.Name, []VersionRef{{v.Name, v.ID}})...)
	_, err = m.HideFile(ctx, b.ID, v.Name)
	collect(err)
	_, err = m.UploadEmpty(ctx, b.Name, "c/.bzEmpty")
	collect(err)
	_, err = Connect(ctx, Config{Endpoint: "s3://someid:" + testSecret + "@127.0.0.1:1/", Getenv: noEnv, Retry: RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond}})
	collect(err)
	n := 0
	for _, err := range errs {
		if err == nil {
			continue
		}
		n++
		for _, s := range []string{testSecret, k.Secret.Reveal(), emulator.DefaultKey} {
			if strings.Contains(err.Error(), s) || strings.Contains(fmt.Sprintf("%+v %#v", err, err), s) {
				t.Errorf("error leaks a secret: %v", err)
			}
		}
		if !strings.Contains(err.Error(), "127.0.0.1:1") && !errors.Is(err, Unauthorized) {
			t.Errorf("error is not Unauthorized: %v", err)
		}
	}
	if n != 6 {
		t.Errorf("collected %d errors, want 6: %v", n, errs)
	}
}
