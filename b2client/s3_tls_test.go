package b2client

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/b2plan/b2plan/emulator"
	"github.com/b2plan/b2plan/live"
)

// s3Seen is one S3 request as the server received it.
type s3Seen struct {
	method, target, payload string
	signed                  bool // x-amz-content-sha256 is among the signed headers
}

// TestS3SignedPayloadOverTLS: b2plan's whole S3 path (listings, CopyObject,
// multipart UploadPartCopy, DeleteObjects, PutObject of a folder marker,
// DeleteObject) against b2local's strict mode served over real TLS, where
// the AWS SDK would otherwise send UNSIGNED-PAYLOAD. Every S3 request must
// carry a signed hex SHA-256 of its payload; a client with the SDK's
// defaults is refused, which shows the strict mode bites.
func TestS3SignedPayloadOverTLS(t *testing.T) {
	srv, err := emulator.NewServer(emulator.Options{S3SignedPayload: true, AbsoluteMinimumPartSize: 100, RecommendedPartSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var mu sync.Mutex
	var seen []s3Seen
	h := srv.Handler()
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a := r.Header.Get("Authorization"); strings.HasPrefix(a, "AWS4-HMAC-SHA256") {
			mu.Lock()
			seen = append(seen, s3Seen{method: r.Method, target: r.URL.RequestURI(), payload: r.Header.Get("X-Amz-Content-Sha256"),
				signed: strings.Contains(a, "x-amz-content-sha256")})
			mu.Unlock()
		}
		h.ServeHTTP(w, r)
	}))
	defer ts.Close()
	if !strings.HasPrefix(ts.URL, "https://") {
		t.Fatalf("not TLS: %s", ts.URL)
	}
	ctx := context.Background()
	// The client trusts the test certificate; everything else is as for
	// https://s3.REGION.backblazeb2.com.
	c, err := Connect(ctx, Config{Endpoint: "s3+" + ts.URL, Transport: ts.Client().Transport, KeyID: emulator.DefaultKeyID, Key: emulator.DefaultKey,
		Getenv: noEnv, Retry: fastRetry})
	if err != nil {
		t.Fatalf("Connect over TLS: %v", err)
	}
	defer c.Close()
	m := NewMutator(c)
	src, err := m.CreateBucket(ctx, BucketSpec{Name: "tls-src-bucket"})
	if err != nil {
		t.Fatal(err)
	}
	dst, err := m.CreateBucket(ctx, BucketSpec{Name: "tls-dst-bucket"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{"in/a.txt": []byte("alpha"), "in/b.txt": []byte("bravo"), "in/big": bytes.Repeat([]byte("z"), 350)}
	for name, data := range want {
		if _, err := m.Upload(ctx, src.Name, name, "text/plain", data, nil); err != nil {
			t.Fatal(err)
		}
	}
	l, err := Observe(ctx, c, live.Request{Prefixes: []live.PrefixRequest{{BucketName: src.Name, Prefix: "in/"}}})
	if err != nil {
		t.Fatalf("Observe over S3/TLS: %v", err)
	}
	var refs []VersionRef
	for _, v := range l.Listings[0].Versions {
		dest := "out/" + strings.TrimPrefix(v.Name, "in/")
		if v.Name == "in/big" {
			if _, err := m.CopyLargeFile(ctx, LargeCopyRequest{CopyRequest: CopyRequest{SourceBucket: src.Name, DestBucketID: dst.ID, DestName: dest}, Source: v, PartSize: 100}); err != nil {
				t.Fatalf("large copy: %v", err)
			}
		} else if _, err := m.CopyFile(ctx, CopyRequest{SourceFileID: v.ID, SourceName: v.Name, SourceBucket: src.Name, DestBucketID: dst.ID, DestName: dest}); err != nil {
			t.Fatalf("copy: %v", err)
		}
		refs = append(refs, VersionRef{Name: v.Name, ID: v.ID})
	}
	for i, err := range m.DeleteVersions(ctx, src.Name, refs) {
		if err != nil {
			t.Fatalf("delete %s: %v", refs[i].Name, err)
		}
	}
	if _, err := m.UploadEmpty(ctx, dst.Name, PlaceholderName("out/empty")); err != nil {
		t.Fatalf("folder marker: %v", err)
	}
	if _, err := m.HideFile(ctx, dst.ID, "out/a.txt"); err != nil {
		t.Fatalf("hide: %v", err)
	}

	// Every S3 request signed its payload hash, and every kind of call ran.
	mu.Lock()
	kinds := map[string]int{}
	for _, s := range seen {
		b, err := hex.DecodeString(s.payload)
		if err != nil || len(b) != 32 || !s.signed {
			t.Errorf("%s %s: x-amz-content-sha256 %q (signed %v), want a signed hex SHA-256", s.method, s.target, s.payload, s.signed)
		}
		switch {
		case s.method == "GET" && strings.Contains(s.target, "versions"):
			kinds["ListObjectVersions"]++
		case s.method == "PUT" && strings.Contains(s.target, "partNumber"):
			kinds["UploadPartCopy"]++
		case s.method == "PUT" && strings.Contains(s.target, ".bzEmpty"):
			kinds["PutObject"]++
		case s.method == "PUT":
			kinds["CopyObject"]++
		case s.method == "POST" && strings.Contains(s.target, "delete"):
			kinds["DeleteObjects"]++
		case s.method == "POST" && strings.Contains(s.target, "uploads"):
			kinds["CreateMultipartUpload"]++
		case s.method == "POST" && strings.Contains(s.target, "uploadId"):
			kinds["CompleteMultipartUpload"]++
		case s.method == "DELETE":
			kinds["DeleteObject"]++
		}
	}
	mu.Unlock()
	for _, k := range []string{"ListObjectVersions", "UploadPartCopy", "PutObject", "CopyObject", "DeleteObjects", "CreateMultipartUpload", "CompleteMultipartUpload", "DeleteObject"} {
		if kinds[k] == 0 {
			t.Errorf("no %s request was seen (%v)", k, kinds)
		}
	}
	// An independent reader: the emulator's native listing.
	out, err := Observe(ctx, c, live.Request{Prefixes: []live.PrefixRequest{{BucketName: dst.Name, Prefix: "out/"}}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, v := range out.Listings[0].Versions {
		if v.Action == live.ActionUpload {
			got[v.Name] = v.Size
		}
	}
	for name, data := range want {
		if n := "out/" + strings.TrimPrefix(name, "in/"); got[n] != int64(len(data)) {
			t.Errorf("%s: size %d, want %d", n, got[n], len(data))
		}
	}

	// The SDK's defaults over HTTPS (UNSIGNED-PAYLOAD for PutObject) are
	// refused by the strict mode.
	plain := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(emulator.DefaultKeyID, emulator.DefaultKey, ""), HTTPClient: ts.Client(),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired})
	_, err = plain.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(dst.Name), Key: aws.String("x"), Body: strings.NewReader("unsigned")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidRequest" || !strings.Contains(ae.ErrorMessage(), "UNSIGNED-PAYLOAD") {
		t.Errorf("PutObject with UNSIGNED-PAYLOAD: %v, want InvalidRequest", err)
	}
}
