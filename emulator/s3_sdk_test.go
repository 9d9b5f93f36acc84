package emulator_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/b2plan/b2plan/emulator"
)

// s3For returns an AWS SDK S3 client for the emulator signed with keyID/secret.
func s3For(srv *emulator.Server, hc *http.Client, keyID, secret string, optFns ...func(*s3.Options)) *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-west-000",
		BaseEndpoint: aws.String(srv.S3URL()),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(keyID, secret, ""),
		HTTPClient:   hc,
	}, optFns...)
}

func s3Master(srv *emulator.Server, hc *http.Client) *s3.Client {
	return s3For(srv, hc, emulator.DefaultKeyID, emulator.DefaultKey)
}

// s3Code is the S3 error code of err ("" when err is nil or not an API error).
func s3Code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func wantS3Err(t *testing.T, what string, err error, code string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: succeeded; want %s", what, code)
		return
	}
	if got := s3Code(err); got != code {
		t.Errorf("%s: error %v (code %q); want %s", what, err, got, code)
	}
}

func readAll(t *testing.T, r io.ReadCloser) []byte {
	t.Helper()
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return b
}

func TestS3Smoke(t *testing.T) {
	srv, _, hc := inProcessServer(t, emulator.Options{})
	c := s3Master(srv, hc)
	ctx := context.Background()
	bn := bucketName("s3smoke")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bn)}); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bn), Key: aws.String("a/b.txt"), Body: bytes.NewReader([]byte("hello"))}); err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bn), Key: aws.String("a/b.txt")})
	if err != nil {
		t.Fatalf("GetObject: %v", err)
	}
	if got := string(readAll(t, out.Body)); got != "hello" {
		t.Fatalf("GetObject = %q", got)
	}
	lo, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bn)})
	if err != nil || len(lo.Contents) != 1 {
		t.Fatalf("ListObjectsV2: %v %+v", err, lo)
	}
}

// ---- raw signed requests ----

// rawS3 signs a request with the SDK's SigV4 signer (payloadHash is sent as
// x-amz-content-sha256; "" means the body's real SHA-256) and performs it.
func rawS3(t *testing.T, hc *http.Client, method, u string, body []byte, payloadHash, keyID, secret string, at time.Time, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if payloadHash == "" {
		s := sha256.Sum256(body)
		payloadHash = hex.EncodeToString(s[:])
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	req.Header.Set("X-Amz-Content-Sha256", payloadHash)
	if at.IsZero() {
		at = time.Now()
	}
	err = v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secret}, req, payloadHash, "s3", "us-west-000", at)
	if err != nil {
		t.Fatal(err)
	}
	res, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

type xmlErr struct {
	Code, Message, Resource, RequestId string
}

func parseXMLErr(t *testing.T, b []byte) xmlErr {
	t.Helper()
	var e xmlErr
	if err := xml.Unmarshal(b, &e); err != nil {
		t.Fatalf("error body is not XML: %v: %s", err, b)
	}
	return e
}

func putS3(t *testing.T, c *s3.Client, bucket, key string, data []byte) *s3.PutObjectOutput {
	t.Helper()
	out, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data)})
	if err != nil {
		t.Fatalf("PutObject %s/%s: %v", bucket, key, err)
	}
	return out
}

func getS3(t *testing.T, c *s3.Client, bucket, key string) []byte {
	t.Helper()
	out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("GetObject %s/%s: %v", bucket, key, err)
	}
	return readAll(t, out.Body)
}

func md5hex(b []byte) string { s := md5.Sum(b); return hex.EncodeToString(s[:]) }

// ---- cross-API visibility ----

func TestS3CrossAPIVisibility(t *testing.T) {
	srv, base, hc := startServer(t, emulator.Options{})
	ctx := context.Background()
	nat := master(t, hc, base, 4)
	c := s3Master(srv, hc)

	// native bucket and upload → S3
	bn := bucketName("xapi")
	bid := nat.bucket(bn)
	nat.upload(bid, "dir/native.txt", []byte("from native"), map[string]string{"X-Bz-Info-Color": "blue"})
	lb, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatalf("ListBuckets: %v", err)
	}
	found := false
	for _, b := range lb.Buckets {
		if aws.ToString(b.Name) == bn {
			found = true
		}
	}
	if !found {
		t.Fatalf("native bucket %s missing from S3 ListBuckets", bn)
	}
	if got := string(getS3(t, c, bn, "dir/native.txt")); got != "from native" {
		t.Errorf("S3 GetObject of native upload = %q", got)
	}
	ho, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bn), Key: aws.String("dir/native.txt")})
	if err != nil {
		t.Fatalf("HeadObject: %v", err)
	}
	if ho.Metadata["color"] != "blue" || aws.ToString(ho.ETag) != `"`+md5hex([]byte("from native"))+`"` || aws.ToInt64(ho.ContentLength) != 11 {
		t.Errorf("HeadObject = meta %v etag %s len %d", ho.Metadata, aws.ToString(ho.ETag), aws.ToInt64(ho.ContentLength))
	}

	// S3 bucket and upload → native
	sb := bucketName("xapi-s3")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(sb)}); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	lbs := nat.call("b2_list_buckets", map[string]any{"accountId": nat.accountID, "bucketName": sb})
	if l := jlist(lbs, "buckets"); len(l) != 1 || jstr(l[0], "bucketType") != "allPrivate" {
		t.Fatalf("native list_buckets of S3 bucket: %v", lbs)
	}
	sbID := jstr(jlist(lbs, "buckets")[0], "bucketId")
	po, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(sb), Key: aws.String("s3/obj.bin"), Body: bytes.NewReader([]byte("from s3")),
		ContentType: aws.String("text/plain"), Metadata: map[string]string{"owner": "me"}})
	if err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	es := nat.allNames(sbID, "", "", 100)
	if len(es) != 1 || es[0].Name != "s3/obj.bin" || es[0].ID != aws.ToString(po.VersionId) {
		t.Fatalf("native list of S3 upload = %+v (version id %s)", es, aws.ToString(po.VersionId))
	}
	d := nat.byName(sb, "s3/obj.bin")
	if d.Status != 200 || string(d.Raw) != "from s3" || d.Header.Get("X-Bz-Info-owner") != "me" || d.Header.Get("Content-Type") != "text/plain" {
		t.Errorf("native download of S3 upload: %d %q %v", d.Status, d.Raw, d.Header)
	}
	info := nat.call("b2_get_file_info", map[string]any{"fileId": aws.ToString(po.VersionId)})
	if jstr(info, "contentSha1") != sha1hex([]byte("from s3")) || jstr(info, "contentMd5") != md5hex([]byte("from s3")) {
		t.Errorf("native file info of S3 upload: %v", info)
	}

	// S3 delete → native hide marker; native hide → S3 NoSuchKey
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(sb), Key: aws.String("s3/obj.bin")}); err != nil {
		t.Fatalf("DeleteObject: %v", err)
	}
	if vs := nat.allVersions(sbID, "", 100); len(vs) != 2 || vs[0].Action != "hide" {
		t.Errorf("native versions after S3 DeleteObject = %+v", vs)
	}
	nat.call("b2_hide_file", map[string]any{"bucketId": bid, "fileName": "dir/native.txt"})
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bn), Key: aws.String("dir/native.txt")})
	wantS3Err(t, "GetObject of natively hidden file", err, "NoSuchKey")
}

// ---- SigV4 ----

func TestS3SigV4(t *testing.T) {
	clock := &fakeClock{}
	srv, base, hc := startServer(t, emulator.Options{Now: clock.Now})
	ctx := context.Background()
	c := s3Master(srv, hc)
	bn := bucketName("sig")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bn)}); err != nil {
		t.Fatal(err)
	}
	putS3(t, c, bn, "k", []byte("data"))

	bad := s3For(srv, hc, emulator.DefaultKeyID, "wrong-secret")
	_, err := bad.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bn)})
	wantS3Err(t, "wrong secret", err, "SignatureDoesNotMatch")
	unknown := s3For(srv, hc, "005nosuchkey000000000000", "x")
	_, err = unknown.ListBuckets(ctx, &s3.ListBucketsInput{})
	wantS3Err(t, "unknown key", err, "InvalidAccessKeyId")

	// the raw error document
	res, body := rawS3(t, hc, "GET", base+"/"+bn+"?list-type=2", nil, "", emulator.DefaultKeyID, "nope", time.Time{}, nil)
	e := parseXMLErr(t, body)
	if res.StatusCode != 403 || e.Code != "SignatureDoesNotMatch" || e.Message == "" || e.Resource != "/"+bn || e.RequestId == "" || res.Header.Get("Content-Type") != "application/xml" {
		t.Errorf("raw bad signature: %d %+v %v", res.StatusCode, e, res.Header)
	}

	// clock skew: 14 minutes passes, 16 fails
	clock.Advance(14 * time.Minute)
	if _, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bn)}); err != nil {
		t.Errorf("14 minutes of skew: %v", err)
	}
	clock.Advance(2 * time.Minute)
	one := s3For(srv, hc, emulator.DefaultKeyID, emulator.DefaultKey, func(o *s3.Options) { o.RetryMaxAttempts = 1 })
	_, err = one.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bn)})
	wantS3Err(t, "16 minutes of skew", err, "RequestTimeTooSkewed")
	clock.Advance(-16 * time.Minute)

	// payload hash: a signed hash that does not match the body
	res, body = rawS3(t, hc, "PUT", base+"/"+bn+"/p", []byte("actual"), strings.Repeat("ab", 32), emulator.DefaultKeyID, emulator.DefaultKey, time.Time{}, nil)
	if e := parseXMLErr(t, body); res.StatusCode != 400 || e.Code != "XAmzContentSHA256Mismatch" {
		t.Errorf("payload hash mismatch: %d %+v", res.StatusCode, e)
	}
	// a raw '+' in the query, signed as a space (form encoding)
	putS3(t, c, bn, "a b", []byte("spaced"))
	res, body = rawS3(t, hc, "GET", base+"/"+bn+"?list-type=2&prefix=a+b", nil, "", emulator.DefaultKeyID, emulator.DefaultKey, time.Time{}, nil)
	if res.StatusCode != 200 || !strings.Contains(string(body), "<Key>a b</Key>") {
		t.Errorf("form-encoded query: %d %s", res.StatusCode, body)
	}
	// UNSIGNED-PAYLOAD is accepted for uploads
	res, body = rawS3(t, hc, "PUT", base+"/"+bn+"/u", []byte("unsigned"), "UNSIGNED-PAYLOAD", emulator.DefaultKeyID, emulator.DefaultKey, time.Time{}, nil)
	if res.StatusCode != 200 {
		t.Errorf("UNSIGNED-PAYLOAD put: %d %s", res.StatusCode, body)
	}
	if got := string(getS3(t, c, bn, "u")); got != "unsigned" {
		t.Errorf("unsigned upload content = %q", got)
	}
	// missing x-amz-content-sha256 → InvalidRequest
	req, _ := http.NewRequest("GET", base+"/"+bn, nil)
	_ = v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: emulator.DefaultKeyID, SecretAccessKey: emulator.DefaultKey}, req, emptySHA, "s3", "eu-central-003", time.Now())
	r2, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := io.ReadAll(r2.Body)
	r2.Body.Close()
	if e := parseXMLErr(t, b2); r2.StatusCode != 400 || e.Code != "InvalidRequest" {
		t.Errorf("missing x-amz-content-sha256: %d %+v", r2.StatusCode, e)
	}
	// a tampered header after signing
	req, _ = http.NewRequest("GET", base+"/"+bn+"?list-type=2&prefix=a", nil)
	req.Header.Set("X-Amz-Content-Sha256", emptySHA)
	_ = v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: emulator.DefaultKeyID, SecretAccessKey: emulator.DefaultKey}, req, emptySHA, "s3", "any-region", time.Now())
	req.URL.RawQuery = "list-type=2&prefix=b"
	r3, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b3, _ := io.ReadAll(r3.Body)
	r3.Body.Close()
	if e := parseXMLErr(t, b3); r3.StatusCode != 403 || e.Code != "SignatureDoesNotMatch" {
		t.Errorf("tampered query: %d %+v", r3.StatusCode, e)
	}
	// anonymous access to a private bucket
	r4, err := hc.Get(base + "/" + bn + "/k")
	if err != nil {
		t.Fatal(err)
	}
	b4, _ := io.ReadAll(r4.Body)
	r4.Body.Close()
	if e := parseXMLErr(t, b4); r4.StatusCode != 403 || e.Code != "AccessDenied" {
		t.Errorf("anonymous GET of private object: %d %+v", r4.StatusCode, e)
	}
	// Signature V2 is refused
	req, _ = http.NewRequest("GET", base+"/"+bn, nil)
	req.Header.Set("Authorization", "AWS "+emulator.DefaultKeyID+":abc")
	r5, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r5.Body.Close()
	if r5.StatusCode != 400 {
		t.Errorf("SigV2 request: %d", r5.StatusCode)
	}
}

const emptySHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

func TestS3Presigned(t *testing.T) {
	clock := &fakeClock{}
	srv, _, hc := startServer(t, emulator.Options{Now: clock.Now})
	ctx := context.Background()
	c := s3Master(srv, hc)
	bn := bucketName("presign")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bn)}); err != nil {
		t.Fatal(err)
	}
	putS3(t, c, bn, "dir/file name+x.txt", []byte("presigned content"))
	pc := s3.NewPresignClient(c)
	pg, err := pc.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bn), Key: aws.String("dir/file name+x.txt")}, s3.WithPresignExpires(10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	res, err := hc.Get(pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(b) != "presigned content" {
		t.Fatalf("presigned GET: %d %s", res.StatusCode, b)
	}
	// tampered signature
	u, _ := url.Parse(pg.URL)
	q := u.Query()
	sig := q.Get("X-Amz-Signature")
	q.Set("X-Amz-Signature", strings.Repeat("0", len(sig)))
	u.RawQuery = q.Encode()
	res, err = hc.Get(u.String())
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if e := parseXMLErr(t, b); res.StatusCode != 403 || e.Code != "SignatureDoesNotMatch" {
		t.Errorf("tampered presigned URL: %d %+v", res.StatusCode, e)
	}
	// expired
	clock.Advance(11 * time.Minute)
	res, err = hc.Get(pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if e := parseXMLErr(t, b); res.StatusCode != 403 || e.Code != "AccessDenied" {
		t.Errorf("expired presigned URL: %d %+v", res.StatusCode, e)
	}
	clock.Advance(-11 * time.Minute)
	// presigned PUT
	pp, err := pc.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bn), Key: aws.String("up.txt")})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("PUT", pp.URL, strings.NewReader("put via URL"))
	for k, vs := range pp.SignedHeader {
		req.Header[k] = vs
	}
	res, err = hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("presigned PUT: %d %s", res.StatusCode, b)
	}
	if got := string(getS3(t, c, bn, "up.txt")); got != "put via URL" {
		t.Errorf("presigned PUT content = %q", got)
	}
}

// Virtual-hosted-style requests (BUCKET.s3.REGION.host) reach the same API.
func TestS3VirtualHostedStyle(t *testing.T) {
	srv, base, _ := startServer(t, emulator.Options{})
	addr := strings.TrimPrefix(base, "http://")
	_, port, _ := net.SplitHostPort(addr)
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}}
	c := s3.New(s3.Options{Region: "us-west-000", BaseEndpoint: aws.String("http://s3.us-west-000.b2local.test:" + port),
		Credentials: credentials.NewStaticCredentialsProvider(emulator.DefaultKeyID, emulator.DefaultKey, ""), HTTPClient: hc})
	ctx := context.Background()
	bn := bucketName("vhost")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bn)}); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	putS3(t, c, bn, "dir/k", []byte("virtual"))
	if got := string(getS3(t, c, bn, "dir/k")); got != "virtual" {
		t.Errorf("GetObject = %q", got)
	}
	pathStyle := s3Master(srv, &http.Client{})
	if got := string(getS3(t, pathStyle, bn, "dir/k")); got != "virtual" {
		t.Errorf("path-style GetObject = %q", got)
	}
}
