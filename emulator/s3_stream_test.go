package emulator_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/b2plan/b2plan/emulator"
)

// Over HTTPS the SDK streams bodies it cannot seek as aws-chunked with
// STREAMING-UNSIGNED-PAYLOAD-TRAILER and a trailing CRC32 checksum.
func TestS3StreamingTrailer(t *testing.T) {
	srv, err := emulator.NewServer(emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var mu sync.Mutex
	var modes []string
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "PUT" && strings.HasSuffix(r.URL.Path, "/s") {
			mu.Lock()
			modes = append(modes, r.Header.Get("X-Amz-Content-Sha256")+" "+r.Header.Get("X-Amz-Trailer"))
			mu.Unlock()
		}
		srv.Handler().ServeHTTP(w, r)
	}))
	defer ts.Close()
	c := s3.New(s3.Options{Region: "us-west-000", BaseEndpoint: aws.String(ts.URL), UsePathStyle: true,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: emulator.DefaultKeyID, SecretAccessKey: emulator.DefaultKey}, nil
		}), HTTPClient: ts.Client()})
	ctx := context.Background()
	bn := bucketName("stream")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bn)}); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("streamed body "), 10000)
	// io.MultiReader hides Seek: the SDK must stream it
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bn), Key: aws.String("s"), Body: io.MultiReader(bytes.NewReader(data)),
		ContentLength: aws.Int64(int64(len(data))), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32}); err != nil {
		t.Fatalf("streamed PutObject: %v", err)
	}
	mu.Lock()
	if len(modes) != 1 || !strings.HasPrefix(modes[0], "STREAMING-UNSIGNED-PAYLOAD-TRAILER x-amz-checksum-") {
		t.Errorf("payload modes seen: %q", modes)
	}
	mu.Unlock()
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bn), Key: aws.String("s")})
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, out.Body); !bytes.Equal(got, data) {
		t.Errorf("streamed content differs (%d bytes)", len(got))
	}
	if aws.ToString(out.ETag) != `"`+md5hex(data)+`"` {
		t.Errorf("ETag %s", aws.ToString(out.ETag))
	}
}

// signedChunks builds a STREAMING-AWS4-HMAC-SHA256-PAYLOAD body per the AWS
// spec (each chunk signed, chained from the seed signature).
func signedChunks(data []byte, chunk int, seed, secret, amzDate, scope string, corrupt bool) []byte {
	key := []byte("AWS4" + secret)
	for _, p := range strings.Split(scope, "/") {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(p))
		key = m.Sum(nil)
	}
	prev := seed
	var out bytes.Buffer
	emit := func(p []byte) {
		h := sha256.Sum256(p)
		sts := "AWS4-HMAC-SHA256-PAYLOAD\n" + amzDate + "\n" + scope + "\n" + prev + "\n" + emptySHA + "\n" + hex.EncodeToString(h[:])
		m := hmac.New(sha256.New, key)
		m.Write([]byte(sts))
		sig := hex.EncodeToString(m.Sum(nil))
		prev = sig
		if corrupt && len(p) > 0 {
			sig = strings.Repeat("0", 64)
		}
		fmt.Fprintf(&out, "%x;chunk-signature=%s\r\n", len(p), sig)
		out.Write(p)
		out.WriteString("\r\n")
	}
	for len(data) > 0 {
		n := min(chunk, len(data))
		emit(data[:n])
		data = data[n:]
	}
	emit(nil)
	return out.Bytes()
}

func TestS3SignedChunks(t *testing.T) {
	srv, base, hc := startServer(t, emulator.Options{})
	c := s3Master(srv, hc)
	bn := s3Bucket(t, c)
	data := bytes.Repeat([]byte("0123456789abcdef"), 5000) // 80,000 bytes
	put := func(key string, corrupt bool) (*http.Response, []byte) {
		now := time.Now().UTC()
		amzDate := now.Format("20060102T150405Z")
		scope := now.Format("20060102") + "/us-west-000/s3/aws4_request"
		req, _ := http.NewRequest("PUT", base+"/"+bn+"/"+key, nil)
		req.Header.Set("X-Amz-Content-Sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
		req.Header.Set("Content-Encoding", "aws-chunked")
		req.Header.Set("X-Amz-Decoded-Content-Length", fmt.Sprint(len(data)))
		// the seed signature: sign the headers first, then attach the body
		if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: emulator.DefaultKeyID, SecretAccessKey: emulator.DefaultKey},
			req, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "s3", "us-west-000", now); err != nil {
			t.Fatal(err)
		}
		auth := req.Header.Get("Authorization")
		seed := auth[strings.Index(auth, "Signature=")+len("Signature="):]
		body := signedChunks(data, 64<<10, seed, emulator.DefaultKey, amzDate, scope, corrupt)
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.ContentLength = int64(len(body))
		res, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, b
	}
	if res, b := put("chunked", false); res.StatusCode != 200 {
		t.Fatalf("signed-chunk upload: %d %s", res.StatusCode, b)
	}
	if got := getS3(t, c, bn, "chunked"); !bytes.Equal(got, data) {
		t.Errorf("chunked content differs (%d bytes)", len(got))
	}
	res, b := put("bad", true)
	if e := parseXMLErr(t, b); res.StatusCode != 403 || e.Code != "SignatureDoesNotMatch" {
		t.Errorf("corrupt chunk signature: %d %+v", res.StatusCode, e)
	}
}

// S3 writes are journaled like native ones: they survive a restart.
func TestS3Persistence(t *testing.T) {
	dir := t.TempDir()
	s1, err := emulator.NewServer(emulator.Options{Dir: dir, AbsoluteMinimumPartSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	c := s3Master(s1, s1.HTTPClient())
	ctx := context.Background()
	bn := s3Bucket(t, c)
	putS3(t, c, bn, "plain", []byte("persisted"))
	cm, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bn), Key: aws.String("mp")})
	if err != nil {
		t.Fatal(err)
	}
	p1, _ := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bn), Key: aws.String("mp"), UploadId: cm.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("part1")})
	cm2, _ := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bn), Key: aws.String("pending")})
	c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bn), Key: aws.String("pending"), UploadId: cm2.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("pend")})
	if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(bn), Key: aws.String("mp"), UploadId: cm.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: p1.ETag}}}}); err != nil {
		t.Fatal(err)
	}
	c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bn), Key: aws.String("plain")})
	s1.Close()

	s2, err := emulator.NewServer(emulator.Options{Dir: dir, AbsoluteMinimumPartSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	c2 := s3Master(s2, s2.HTTPClient())
	if got := string(getS3(t, c2, bn, "mp")); got != "part1" {
		t.Errorf("multipart object after restart = %q", got)
	}
	lv, err := c2.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(bn), Prefix: aws.String("plain")})
	if err != nil || len(lv.Versions) != 1 || len(lv.DeleteMarkers) != 1 {
		t.Errorf("versions after restart = %+v, %v", lv, err)
	}
	lp, err := c2.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(bn), Key: aws.String("pending"), UploadId: cm2.UploadId})
	if err != nil || len(lp.Parts) != 1 || aws.ToString(lp.Parts[0].ETag) != `"`+md5hex([]byte("pend"))+`"` {
		t.Errorf("pending upload after restart = %+v, %v", lp, err)
	}
}

// countingReader yields n bytes of 'a' and counts what was taken.
type countingReader struct {
	n, read int64
	mu      sync.Mutex
}

func (r *countingReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.read >= r.n {
		return 0, io.EOF
	}
	k := min(int64(len(p)), r.n-r.read)
	for i := range p[:k] {
		p[i] = 'a'
	}
	r.read += k
	return int(k), nil
}

// A chunk header line without end is refused after the first 4 KiB, not
// buffered whole: the server stops reading a 256 MiB "line".
func TestS3ChunkHeaderLineBounded(t *testing.T) {
	srv, base, hc := startServer(t, emulator.Options{})
	c := s3Master(srv, hc)
	bn := s3Bucket(t, c)
	now := time.Now().UTC()
	req, _ := http.NewRequest("PUT", base+"/"+bn+"/long-line", nil)
	req.Header.Set("X-Amz-Content-Sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
	req.Header.Set("Content-Encoding", "aws-chunked")
	req.Header.Set("X-Amz-Decoded-Content-Length", "10")
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: emulator.DefaultKeyID, SecretAccessKey: emulator.DefaultKey},
		req, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "s3", "us-west-000", now); err != nil {
		t.Fatal(err)
	}
	body := &countingReader{n: 256 << 20}
	req.Body = io.NopCloser(body)
	req.ContentLength = body.n
	res, err := hc.Do(req)
	if err == nil {
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if e := parseXMLErr(t, b); res.StatusCode != 400 || e.Code != "IncompleteBody" {
			t.Errorf("endless chunk header: %d %+v", res.StatusCode, e)
		}
	}
	body.mu.Lock()
	defer body.mu.Unlock()
	if body.read >= 64<<20 {
		t.Errorf("the server read %d bytes of one chunk header line", body.read)
	}
}
