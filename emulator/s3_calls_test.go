package emulator_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/b2plan/b2plan/emulator"
)

func s3Bucket(t *testing.T, c *s3.Client) string {
	t.Helper()
	bn := bucketName("s3")
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bn)}); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	return bn
}

func TestS3Restrictions(t *testing.T) {
	srv, base, hc := inProcessServer(t, emulator.Options{})
	ctx := context.Background()
	nat := master(t, hc, base, 4)
	c := s3Master(srv, hc)
	mine, other := s3Bucket(t, c), s3Bucket(t, c)
	putS3(t, c, mine, "p/in.txt", []byte("in"))
	putS3(t, c, mine, "q/out.txt", []byte("out"))
	putS3(t, c, other, "p/x.txt", []byte("x"))
	lbs := nat.call("b2_list_buckets", map[string]any{"accountId": nat.accountID, "bucketName": mine})
	mineID := jstr(jlist(lbs, "buckets")[0], "bucketId")

	id, secret, _ := nat.createKey(map[string]any{"bucketIds": []string{mineID}, "namePrefix": "p/",
		"capabilities": []string{"listBuckets", "listFiles", "readFiles", "writeFiles", "deleteFiles"}})
	rc := s3For(srv, hc, id, secret)

	lb, err := rc.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil || len(lb.Buckets) != 1 || aws.ToString(lb.Buckets[0].Name) != mine {
		t.Errorf("restricted ListBuckets = %v, %v", lb, err)
	}
	_, err = rc.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(other), Prefix: aws.String("p/")})
	wantS3Err(t, "list other bucket", err, "AccessDenied")
	_, err = rc.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(mine)})
	wantS3Err(t, "list without the key's prefix", err, "AccessDenied")
	lo, err := rc.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(mine), Prefix: aws.String("p/")})
	if err != nil || len(lo.Contents) != 1 || aws.ToString(lo.Contents[0].Key) != "p/in.txt" {
		t.Errorf("list with prefix = %+v, %v", lo, err)
	}
	_, err = rc.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(mine)})
	wantS3Err(t, "list versions without prefix", err, "AccessDenied")
	_, err = rc.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(mine), Key: aws.String("q/new"), Body: strings.NewReader("z")})
	wantS3Err(t, "put outside prefix", err, "AccessDenied")
	_, err = rc.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(other), Key: aws.String("p/new"), Body: strings.NewReader("z")})
	wantS3Err(t, "put in other bucket", err, "AccessDenied")
	putS3(t, rc, mine, "p/new", []byte("ok"))
	_, err = rc.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(mine), Key: aws.String("q/out.txt")})
	wantS3Err(t, "get outside prefix", err, "AccessDenied")
	_, err = rc.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(mine), Key: aws.String("p/copy"), CopySource: aws.String(mine + "/q/out.txt")})
	wantS3Err(t, "copy from outside prefix", err, "AccessDenied")
	_, err = rc.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(mine), Key: aws.String("q/out.txt")})
	wantS3Err(t, "delete outside prefix", err, "AccessDenied")
	_, err = rc.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucketName("nope"))})
	wantS3Err(t, "restricted CreateBucket", err, "AccessDenied")
	_, err = rc.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(other)})
	wantS3Err(t, "restricted DeleteBucket", err, "AccessDenied")

	// capabilities
	id2, secret2, _ := nat.createKey(map[string]any{"capabilities": []string{"listBuckets", "listFiles"}})
	lc := s3For(srv, hc, id2, secret2)
	if _, err := lc.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(mine)}); err != nil {
		t.Errorf("listFiles key list: %v", err)
	}
	_, err = lc.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(mine), Key: aws.String("p/in.txt")})
	wantS3Err(t, "get without readFiles", err, "AccessDenied")
	_, err = lc.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(mine), Key: aws.String("p/z"), Body: strings.NewReader("z")})
	wantS3Err(t, "put without writeFiles", err, "AccessDenied")
	_, err = lc.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(mine), Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: aws.String("p/in.txt")}}}})
	wantS3Err(t, "DeleteObjects without deleteFiles", err, "AccessDenied")
	_, err = lc.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucketName("nope"))})
	wantS3Err(t, "CreateBucket without writeBuckets", err, "AccessDenied")
	// a writeFiles key may add delete markers (B2 hide markers) but not remove versions
	id3, secret3, _ := nat.createKey(map[string]any{"capabilities": []string{"writeFiles", "listFiles"}})
	wc := s3For(srv, hc, id3, secret3)
	if _, err := wc.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(mine), Key: aws.String("p/new")}); err != nil {
		t.Errorf("writeFiles key DeleteObject (marker): %v", err)
	}
	lv, _ := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(mine), Prefix: aws.String("p/new")})
	_, err = wc.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(mine), Key: aws.String("p/new"), VersionId: lv.Versions[0].VersionId})
	wantS3Err(t, "writeFiles key deleting a version", err, "AccessDenied")
	// a deleted key stops working
	nat.call("b2_delete_key", map[string]any{"applicationKeyId": id2})
	_, err = lc.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(mine)})
	wantS3Err(t, "deleted key", err, "InvalidAccessKeyId")
}

func TestS3Buckets(t *testing.T) {
	srv, base, hc := startServer(t, emulator.Options{})
	ctx := context.Background()
	nat := master(t, hc, base, 4)
	c := s3Master(srv, hc)
	bn := s3Bucket(t, c)
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bn)})
	wantS3Err(t, "create twice", err, "BucketAlreadyOwnedByYou")
	_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(strings.ToUpper(bn))})
	wantS3Err(t, "create case variant", err, "BucketAlreadyExists")
	_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("abc")})
	wantS3Err(t, "short name", err, "InvalidBucketName")
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bn)}); err != nil {
		t.Errorf("HeadBucket: %v", err)
	}
	_, err = c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucketName("missing"))})
	var nf *types.NotFound
	if !errors.As(err, &nf) {
		t.Errorf("HeadBucket missing: %v", err)
	}
	gv, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(bn)})
	if err != nil || gv.Status != types.BucketVersioningStatusEnabled {
		t.Errorf("GetBucketVersioning = %v, %v", gv, err)
	}
	gl, err := c.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String(bn)})
	if err != nil || gl.LocationConstraint != "us-west-000" {
		t.Errorf("GetBucketLocation = %v, %v", gl, err)
	}

	// public-read → allPublic, anonymous reads
	pub := bucketName("pub")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(pub), ACL: types.BucketCannedACLPublicRead}); err != nil {
		t.Fatal(err)
	}
	lbs := nat.call("b2_list_buckets", map[string]any{"accountId": nat.accountID, "bucketName": pub})
	if typ := jstr(jlist(lbs, "buckets")[0], "bucketType"); typ != "allPublic" {
		t.Errorf("public-read bucket type = %s", typ)
	}
	putS3(t, c, pub, "open.txt", []byte("open"))
	res, err := hc.Get(base + "/" + pub + "/open.txt")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(b) != "open" {
		t.Errorf("anonymous GET on public bucket: %d %s", res.StatusCode, b)
	}
	res, _ = hc.Get(base + "/" + pub + "?list-type=2")
	res.Body.Close()
	if res.StatusCode != 403 {
		t.Errorf("anonymous list: %d", res.StatusCode)
	}

	// delete: not empty (including only a delete marker), then empty
	_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(pub)})
	wantS3Err(t, "delete non-empty", err, "BucketNotEmpty")
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(pub), Key: aws.String("open.txt")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(pub)})
	wantS3Err(t, "delete bucket holding versions", err, "BucketNotEmpty")
	lv, _ := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(pub)})
	for _, v := range lv.Versions {
		c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(pub), Key: v.Key, VersionId: v.VersionId})
	}
	for _, m := range lv.DeleteMarkers {
		c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(pub), Key: m.Key, VersionId: m.VersionId})
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(pub)}); err != nil {
		t.Errorf("delete emptied bucket: %v", err)
	}
	_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(pub)})
	wantS3Err(t, "delete missing bucket", err, "NoSuchBucket")
	_, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(pub)})
	wantS3Err(t, "list missing bucket", err, "NoSuchBucket")
	// a natively deleted bucket disappears from S3
	nat.call("b2_delete_bucket", map[string]any{"accountId": nat.accountID, "bucketId": nat.bucket(bucketName("gone"))})
}

func TestS3ListObjectsV2(t *testing.T) {
	srv, _, hc := inProcessServer(t, emulator.Options{})
	ctx := context.Background()
	c := s3Master(srv, hc)
	bn := s3Bucket(t, c)
	keys := []string{"a.txt", "b/1", "b/2", "b/c/3", "d/1", "e.txt", "f/hidden", "g h+i.txt"}
	for _, k := range keys {
		putS3(t, c, bn, k, []byte(k))
	}
	c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bn), Key: aws.String("f/hidden")})

	// full listing with delimiter, two at a time
	var got []string
	var tok *string
	pages := 0
	for {
		out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bn), Delimiter: aws.String("/"), MaxKeys: aws.Int32(2), ContinuationToken: tok})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		n := 0
		for _, o := range out.Contents {
			got = append(got, aws.ToString(o.Key))
			n++
			if aws.ToString(o.ETag) != `"`+md5hex([]byte(aws.ToString(o.Key)))+`"` {
				t.Errorf("ETag of %s = %s", aws.ToString(o.Key), aws.ToString(o.ETag))
			}
		}
		for _, p := range out.CommonPrefixes {
			got = append(got, aws.ToString(p.Prefix))
			n++
		}
		if int(aws.ToInt32(out.KeyCount)) != n {
			t.Errorf("KeyCount %d, entries %d", aws.ToInt32(out.KeyCount), n)
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		tok = out.NextContinuationToken
	}
	sort.Strings(got)
	want := []string{"a.txt", "b/", "d/", "e.txt", "g h+i.txt"}
	if fmt.Sprint(got) != fmt.Sprint(want) || pages != 3 {
		t.Errorf("paged delimiter listing = %v in %d pages; want %v in 3", got, pages, want)
	}
	// SDK paginator without delimiter
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bn), MaxKeys: aws.Int32(3)})
	got = nil
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out.Contents {
			got = append(got, aws.ToString(o.Key))
		}
	}
	if fmt.Sprint(got) != fmt.Sprint([]string{"a.txt", "b/1", "b/2", "b/c/3", "d/1", "e.txt", "g h+i.txt"}) {
		t.Errorf("paginated listing = %v", got)
	}
	// prefix + delimiter, start-after
	out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bn), Prefix: aws.String("b/"), Delimiter: aws.String("/")})
	if err != nil || len(out.Contents) != 2 || len(out.CommonPrefixes) != 1 || aws.ToString(out.CommonPrefixes[0].Prefix) != "b/c/" {
		t.Errorf("prefix b/ listing = %+v, %v", out, err)
	}
	out, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bn), StartAfter: aws.String("b/2")})
	if err != nil || len(out.Contents) != 4 || aws.ToString(out.Contents[0].Key) != "b/c/3" {
		t.Errorf("start-after listing = %+v, %v", out, err)
	}
	out, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bn), MaxKeys: aws.Int32(0)})
	if err != nil || len(out.Contents) != 0 || aws.ToInt32(out.KeyCount) != 0 {
		t.Errorf("max-keys 0 = %+v, %v", out, err)
	}
	// encoding-type=url
	out, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bn), Prefix: aws.String("g"), EncodingType: types.EncodingTypeUrl})
	if err != nil || len(out.Contents) != 1 {
		t.Fatalf("encoded listing: %v %v", out, err)
	}
	// ListObjects (v1) with markers
	got = nil
	var marker *string
	for i := 0; i < 20; i++ {
		o1, err := c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String(bn), Delimiter: aws.String("/"), MaxKeys: aws.Int32(2), Marker: marker})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range o1.Contents {
			got = append(got, aws.ToString(o.Key))
		}
		for _, p := range o1.CommonPrefixes {
			got = append(got, aws.ToString(p.Prefix))
		}
		if !aws.ToBool(o1.IsTruncated) {
			break
		}
		marker = o1.NextMarker
	}
	sort.Strings(got)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("ListObjects v1 = %v; want %v", got, want)
	}
}

func TestS3ListObjectVersions(t *testing.T) {
	srv, _, hc := inProcessServer(t, emulator.Options{})
	ctx := context.Background()
	c := s3Master(srv, hc)
	bn := s3Bucket(t, c)
	v1 := putS3(t, c, bn, "a", []byte("a1"))
	v2 := putS3(t, c, bn, "a", []byte("a2"))
	dm, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bn), Key: aws.String("a")})
	if err != nil || !aws.ToBool(dm.DeleteMarker) || dm.VersionId == nil {
		t.Fatalf("DeleteObject = %+v, %v", dm, err)
	}
	b1 := putS3(t, c, bn, "b", []byte("b1"))
	putS3(t, c, bn, "dir/x", []byte("x"))

	type ent struct {
		key, vid string
		latest   bool
		marker   bool
	}
	var got []ent
	var km, vm *string
	for i := 0; i < 20; i++ {
		out, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(bn), MaxKeys: aws.Int32(1), KeyMarker: km, VersionIdMarker: vm, Delimiter: aws.String("/")})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range out.Versions {
			got = append(got, ent{aws.ToString(v.Key), aws.ToString(v.VersionId), aws.ToBool(v.IsLatest), false})
		}
		for _, m := range out.DeleteMarkers {
			got = append(got, ent{aws.ToString(m.Key), aws.ToString(m.VersionId), aws.ToBool(m.IsLatest), true})
		}
		for _, p := range out.CommonPrefixes {
			got = append(got, ent{aws.ToString(p.Prefix), "", false, false})
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		km, vm = out.NextKeyMarker, out.NextVersionIdMarker
	}
	want := []ent{
		{"a", aws.ToString(dm.VersionId), true, true},
		{"a", aws.ToString(v2.VersionId), false, false},
		{"a", aws.ToString(v1.VersionId), false, false},
		{"b", aws.ToString(b1.VersionId), true, false},
		{"dir/", "", false, false},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("versions =\n%v\nwant\n%v", got, want)
	}
	// GetObject by version id; the current one is hidden
	o, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bn), Key: aws.String("a"), VersionId: v1.VersionId})
	if err != nil {
		t.Fatal(err)
	}
	if s := string(readAll(t, o.Body)); s != "a1" || aws.ToString(o.VersionId) != aws.ToString(v1.VersionId) {
		t.Errorf("GetObject v1 = %q", s)
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bn), Key: aws.String("a")})
	wantS3Err(t, "GetObject behind delete marker", err, "NoSuchKey")
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bn), Key: aws.String("a"), VersionId: dm.VersionId})
	wantS3Err(t, "GetObject of the delete marker", err, "MethodNotAllowed")
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bn), Key: aws.String("a"), VersionId: b1.VersionId})
	wantS3Err(t, "GetObject with another key's version", err, "NoSuchVersion")
	// deleting the delete marker brings the object back
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bn), Key: aws.String("a"), VersionId: dm.VersionId}); err != nil {
		t.Fatal(err)
	}
	if s := string(getS3(t, c, bn, "a")); s != "a2" {
		t.Errorf("after removing the marker GetObject = %q", s)
	}
}

func TestS3GetObjectRangesAndConditions(t *testing.T) {
	srv, base, hc := startServer(t, emulator.Options{})
	ctx := context.Background()
	c := s3Master(srv, hc)
	bn := s3Bucket(t, c)
	data := []byte("0123456789")
	po := putS3(t, c, bn, "r", data)
	o, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bn), Key: aws.String("r"), Range: aws.String("bytes=2-5")})
	if err != nil {
		t.Fatal(err)
	}
	if s := string(readAll(t, o.Body)); s != "2345" || aws.ToString(o.ContentRange) != "bytes 2-5/10" || aws.ToInt64(o.ContentLength) != 4 {
		t.Errorf("range 2-5 = %q %s", s, aws.ToString(o.ContentRange))
	}
	o, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bn), Key: aws.String("r"), Range: aws.String("bytes=-3")})
	if err != nil {
		t.Fatal(err)
	}
	if s := string(readAll(t, o.Body)); s != "789" {
		t.Errorf("suffix range = %q", s)
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bn), Key: aws.String("r"), Range: aws.String("bytes=20-30")})
	wantS3Err(t, "range past the end", err, "InvalidRange")
	res, body := rawS3(t, hc, "GET", base+"/"+bn+"/r", nil, "", emulator.DefaultKeyID, emulator.DefaultKey, time.Time{}, map[string]string{"Range": "bytes=20-"})
	if res.StatusCode != 416 || res.Header.Get("Content-Range") != "bytes */10" || parseXMLErr(t, body).Code != "InvalidRange" {
		t.Errorf("raw 416: %d %v %s", res.StatusCode, res.Header, body)
	}
	res, _ = rawS3(t, hc, "GET", base+"/"+bn+"/r", nil, "", emulator.DefaultKeyID, emulator.DefaultKey, time.Time{}, map[string]string{"Range": "bytes=1-2"})
	if res.StatusCode != 206 {
		t.Errorf("raw range status %d", res.StatusCode)
	}
	// conditions
	res, _ = rawS3(t, hc, "GET", base+"/"+bn+"/r", nil, "", emulator.DefaultKeyID, emulator.DefaultKey, time.Time{}, map[string]string{"If-None-Match": aws.ToString(po.ETag)})
	if res.StatusCode != 304 {
		t.Errorf("If-None-Match current ETag: %d", res.StatusCode)
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bn), Key: aws.String("r"), IfMatch: aws.String(`"nope"`)})
	wantS3Err(t, "If-Match other ETag", err, "PreconditionFailed")
	// conditional write: If-None-Match * on an existing key
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bn), Key: aws.String("r"), Body: bytes.NewReader(data), IfNoneMatch: aws.String("*")})
	wantS3Err(t, "put If-None-Match * on existing key", err, "PreconditionFailed")
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bn), Key: aws.String("fresh"), Body: bytes.NewReader(data), IfNoneMatch: aws.String("*")}); err != nil {
		t.Errorf("put If-None-Match * on a new key: %v", err)
	}
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bn), Key: aws.String("missing")})
	var nf *types.NotFound
	if !errors.As(err, &nf) {
		t.Errorf("HeadObject missing: %v", err)
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bn), Key: aws.String("missing")})
	wantS3Err(t, "GetObject missing", err, "NoSuchKey")
}

func TestS3PutObjectChecks(t *testing.T) {
	srv, _, hc := inProcessServer(t, emulator.Options{})
	ctx := context.Background()
	c := s3Master(srv, hc)
	bn := s3Bucket(t, c)
	data := []byte("checked content")
	sum := md5.Sum(data)
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bn), Key: aws.String("m"), Body: bytes.NewReader(data),
		ContentMD5: aws.String(base64.StdEncoding.EncodeToString(sum[:]))}); err != nil {
		t.Errorf("correct Content-MD5: %v", err)
	}
	wrong := md5.Sum([]byte("other"))
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bn), Key: aws.String("m2"), Body: bytes.NewReader(data),
		ContentMD5: aws.String(base64.StdEncoding.EncodeToString(wrong[:]))})
	wantS3Err(t, "wrong Content-MD5", err, "BadDigest")
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bn), Key: aws.String("m2")})
	if err == nil {
		t.Error("object with a bad digest was stored")
	}
	// SDK checksums (CRC32 etc.) are verified
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bn), Key: aws.String("crc"), Body: bytes.NewReader(data), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c}); err != nil {
		t.Errorf("put with CRC32C: %v", err)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bn), Key: aws.String("sha"), Body: bytes.NewReader(data), ChecksumAlgorithm: types.ChecksumAlgorithmSha256}); err != nil {
		t.Errorf("put with SHA256 checksum: %v", err)
	}
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bn), Key: aws.String("crcbad"), Body: bytes.NewReader(data), ChecksumCRC32: aws.String("AAAAAA==")})
	wantS3Err(t, "wrong CRC32", err, "BadDigest")
	// metadata and system headers round-trip
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bn), Key: aws.String("meta.html"), Body: bytes.NewReader(data),
		ContentType: aws.String("text/html"), CacheControl: aws.String("max-age=60"), ContentDisposition: aws.String("attachment; filename=x.html"),
		Metadata: map[string]string{"a": "1", "b-c": "two"}})
	if err != nil {
		t.Fatal(err)
	}
	ho, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bn), Key: aws.String("meta.html")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(ho.ContentType) != "text/html" || aws.ToString(ho.CacheControl) != "max-age=60" || aws.ToString(ho.ContentDisposition) != "attachment; filename=x.html" ||
		ho.Metadata["a"] != "1" || ho.Metadata["b-c"] != "two" || len(ho.Metadata) != 2 {
		t.Errorf("HeadObject metadata: ct %s cc %s cd %s meta %v", aws.ToString(ho.ContentType), aws.ToString(ho.CacheControl), aws.ToString(ho.ContentDisposition), ho.Metadata)
	}
	// too much metadata
	big := map[string]string{}
	for i := 0; i < 11; i++ {
		big[fmt.Sprintf("k%d", i)] = "v"
	}
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bn), Key: aws.String("big"), Body: bytes.NewReader(data), Metadata: big})
	if err == nil {
		t.Error("11 metadata entries accepted")
	}
	// a missing bucket
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucketName("nobucket")), Key: aws.String("k"), Body: bytes.NewReader(data)})
	wantS3Err(t, "put into a missing bucket", err, "NoSuchBucket")
}

func TestS3CopyObject(t *testing.T) {
	srv, _, hc := inProcessServer(t, emulator.Options{MaxCopySize: 32})
	ctx := context.Background()
	c := s3Master(srv, hc)
	bn, dst := s3Bucket(t, c), s3Bucket(t, c)
	old := putS3(t, c, bn, "src", []byte("old content"))
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bn), Key: aws.String("src"), Body: strings.NewReader("new content"),
		ContentType: aws.String("text/plain"), Metadata: map[string]string{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	co, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(dst), Key: aws.String("copy"), CopySource: aws.String(bn + "/src")})
	if err != nil {
		t.Fatalf("CopyObject: %v", err)
	}
	if aws.ToString(co.CopyObjectResult.ETag) != `"`+md5hex([]byte("new content"))+`"` || co.VersionId == nil {
		t.Errorf("CopyObject result %+v", co.CopyObjectResult)
	}
	ho, _ := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(dst), Key: aws.String("copy")})
	if ho.Metadata["k"] != "v" || aws.ToString(ho.ContentType) != "text/plain" {
		t.Errorf("COPY directive metadata: %v %s", ho.Metadata, aws.ToString(ho.ContentType))
	}
	// REPLACE
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(dst), Key: aws.String("replaced"), CopySource: aws.String(bn + "/src"),
		MetadataDirective: types.MetadataDirectiveReplace, ContentType: aws.String("application/json"), Metadata: map[string]string{"n": "m"}})
	if err != nil {
		t.Fatal(err)
	}
	ho, _ = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(dst), Key: aws.String("replaced")})
	if ho.Metadata["n"] != "m" || len(ho.Metadata) != 1 || aws.ToString(ho.ContentType) != "application/json" {
		t.Errorf("REPLACE directive metadata: %v %s", ho.Metadata, aws.ToString(ho.ContentType))
	}
	// an older version by versionId, URL-encoded source with special characters
	putS3(t, c, bn, "sp ace+plus", []byte("special"))
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(dst), Key: aws.String("old"), CopySource: aws.String(bn + "/src?versionId=" + aws.ToString(old.VersionId))}); err != nil {
		t.Fatal(err)
	}
	if s := string(getS3(t, c, dst, "old")); s != "old content" {
		t.Errorf("copy of old version = %q", s)
	}
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(dst), Key: aws.String("sp"), CopySource: aws.String(bn + "/sp%20ace%2Bplus")}); err != nil {
		t.Fatal(err)
	}
	if s := string(getS3(t, c, dst, "sp")); s != "special" {
		t.Errorf("copy of encoded source = %q", s)
	}
	// errors
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(bn), Key: aws.String("src"), CopySource: aws.String(bn + "/src")})
	wantS3Err(t, "copy onto itself", err, "InvalidRequest")
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(dst), Key: aws.String("x"), CopySource: aws.String(bn + "/missing")})
	wantS3Err(t, "copy of a missing key", err, "NoSuchKey")
	putS3(t, c, bn, "big", bytes.Repeat([]byte("x"), 40))
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(dst), Key: aws.String("x"), CopySource: aws.String(bn + "/big")})
	wantS3Err(t, "copy above MaxCopySize", err, "InvalidRequest")
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(dst), Key: aws.String("x"), CopySource: aws.String(bn + "/src"), CopySourceIfMatch: aws.String(`"nope"`)})
	wantS3Err(t, "copy-source-if-match", err, "PreconditionFailed")
}

func TestS3Multipart(t *testing.T) {
	srv, base, hc := inProcessServer(t, emulator.Options{AbsoluteMinimumPartSize: 8, MaxCopySize: 16})
	ctx := context.Background()
	nat := master(t, hc, base, 4)
	c := s3Master(srv, hc)
	bn := s3Bucket(t, c)
	src := []byte("abcdefghijklmnopqrstuvwxyz0123456789ABCD") // 40 bytes
	putS3(t, c, bn, "source", src)
	_, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(bn), Key: aws.String("whole"), CopySource: aws.String(bn + "/source")})
	wantS3Err(t, "CopyObject above the copy limit", err, "InvalidRequest")

	cm, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bn), Key: aws.String("big/obj"), ContentType: aws.String("text/plain"), Metadata: map[string]string{"m": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	uid := cm.UploadId
	// a whole-source part copy is over the limit too
	_, err = c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String(bn), Key: aws.String("big/obj"), UploadId: uid, PartNumber: aws.Int32(1), CopySource: aws.String(bn + "/source")})
	wantS3Err(t, "UploadPartCopy of a too large source", err, "InvalidRequest")
	_, err = c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String(bn), Key: aws.String("big/obj"), UploadId: uid, PartNumber: aws.Int32(1), CopySource: aws.String(bn + "/source"), CopySourceRange: aws.String("bytes=30-50")})
	wantS3Err(t, "UploadPartCopy range outside the source", err, "InvalidRange")
	var parts []types.CompletedPart
	for i, rng := range []string{"bytes=0-15", "bytes=16-31"} {
		pc, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String(bn), Key: aws.String("big/obj"), UploadId: uid,
			PartNumber: aws.Int32(int32(i + 1)), CopySource: aws.String(bn + "/source"), CopySourceRange: aws.String(rng)})
		if err != nil {
			t.Fatalf("UploadPartCopy %s: %v", rng, err)
		}
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: pc.CopyPartResult.ETag})
	}
	up, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bn), Key: aws.String("big/obj"), UploadId: uid, PartNumber: aws.Int32(3), Body: bytes.NewReader(src[32:])})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(up.ETag) != `"`+md5hex(src[32:])+`"` {
		t.Errorf("UploadPart ETag %s", aws.ToString(up.ETag))
	}
	parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(3), ETag: up.ETag})
	// tiny stray parts 4 and 5 (never completed)
	for _, n := range []int32{4, 5} {
		if _, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bn), Key: aws.String("big/obj"), UploadId: uid, PartNumber: aws.Int32(n), Body: bytes.NewReader([]byte("zz"))}); err != nil {
			t.Fatal(err)
		}
	}
	lp, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(bn), Key: aws.String("big/obj"), UploadId: uid, MaxParts: aws.Int32(2)})
	if err != nil || len(lp.Parts) != 2 || !aws.ToBool(lp.IsTruncated) || aws.ToInt32(lp.Parts[0].PartNumber) != 1 || aws.ToInt64(lp.Parts[0].Size) != 16 {
		t.Errorf("ListParts page 1 = %+v, %v", lp, err)
	}
	lp2, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(bn), Key: aws.String("big/obj"), UploadId: uid, PartNumberMarker: lp.NextPartNumberMarker})
	if err != nil || len(lp2.Parts) != 3 || aws.ToInt32(lp2.Parts[2].PartNumber) != 5 || aws.ToBool(lp2.IsTruncated) {
		t.Errorf("ListParts page 2 = %+v, %v", lp2, err)
	}
	lu, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(bn)})
	if err != nil || len(lu.Uploads) != 1 || aws.ToString(lu.Uploads[0].UploadId) != aws.ToString(uid) || aws.ToString(lu.Uploads[0].Key) != "big/obj" {
		t.Errorf("ListMultipartUploads = %+v, %v", lu, err)
	}
	complete := func(ps []types.CompletedPart) error {
		_, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(bn), Key: aws.String("big/obj"), UploadId: uid,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: ps}})
		return err
	}
	wantS3Err(t, "complete with a wrong ETag", complete([]types.CompletedPart{parts[0], {PartNumber: aws.Int32(2), ETag: aws.String(`"00"`)}}), "InvalidPart")
	wantS3Err(t, "complete out of order", complete([]types.CompletedPart{parts[1], parts[0]}), "InvalidPartOrder")
	wantS3Err(t, "complete with a missing part", complete([]types.CompletedPart{parts[0], {PartNumber: aws.Int32(4), ETag: aws.String(`"00"`)}}), "InvalidPart")
	wantS3Err(t, "complete with a small middle part", complete([]types.CompletedPart{parts[0], {PartNumber: aws.Int32(4), ETag: aws.String(`"` + md5hex([]byte("zz")) + `"`)}, {PartNumber: aws.Int32(5), ETag: aws.String(`"` + md5hex([]byte("zz")) + `"`)}}), "EntityTooSmall")
	res, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(bn), Key: aws.String("big/obj"), UploadId: uid,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	if err != nil {
		t.Fatalf("CompleteMultipartUpload: %v", err)
	}
	h := md5.New()
	for _, p := range [][]byte{src[:16], src[16:32], src[32:]} {
		s := md5.Sum(p)
		h.Write(s[:])
	}
	wantETag := `"` + hex.EncodeToString(h.Sum(nil)) + `-3"`
	if aws.ToString(res.ETag) != wantETag {
		t.Errorf("multipart ETag %s, want %s", aws.ToString(res.ETag), wantETag)
	}
	if got := getS3(t, c, bn, "big/obj"); !bytes.Equal(got, src) {
		t.Errorf("assembled object = %q", got)
	}
	ho, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bn), Key: aws.String("big/obj")})
	if err != nil || aws.ToString(ho.ETag) != wantETag || ho.Metadata["m"] != "1" || aws.ToString(ho.ContentType) != "text/plain" || aws.ToInt64(ho.ContentLength) != 40 {
		t.Errorf("HeadObject of the multipart object = %+v, %v", ho, err)
	}
	// natively it is a finished large file
	r := nat.byName(bn, "big/obj")
	if r.Status != 200 || !bytes.Equal(r.Raw, src) {
		t.Errorf("native download of the multipart object: %d", r.Status)
	}
	_, err = c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(bn), Key: aws.String("big/obj"), UploadId: uid})
	wantS3Err(t, "ListParts after completion", err, "NoSuchUpload")

	// abort
	cm2, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bn), Key: aws.String("aborted")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(bn), Key: aws.String("aborted"), UploadId: cm2.UploadId}); err != nil {
		t.Fatal(err)
	}
	_, err = c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bn), Key: aws.String("aborted"), UploadId: cm2.UploadId, PartNumber: aws.Int32(1), Body: bytes.NewReader([]byte("x"))})
	wantS3Err(t, "UploadPart after abort", err, "NoSuchUpload")
	_, err = c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(bn), Key: aws.String("aborted"), UploadId: cm2.UploadId})
	wantS3Err(t, "abort twice", err, "NoSuchUpload")
	// an upload started natively is visible to ListMultipartUploads
	bid := jstr(jlist(nat.call("b2_list_buckets", map[string]any{"accountId": nat.accountID, "bucketName": bn}), "buckets")[0], "bucketId")
	lf := nat.call("b2_start_large_file", map[string]any{"bucketId": bid, "fileName": "native-large", "contentType": "b2/x-auto"})
	lu, err = c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(bn)})
	if err != nil || len(lu.Uploads) != 1 || aws.ToString(lu.Uploads[0].UploadId) != jstr(lf, "fileId") {
		t.Errorf("ListMultipartUploads with a native large file = %+v, %v", lu, err)
	}
}

func TestS3DeleteObjects(t *testing.T) {
	srv, base, hc := inProcessServer(t, emulator.Options{})
	ctx := context.Background()
	nat := master(t, hc, base, 4)
	c := s3Master(srv, hc)
	bn := s3Bucket(t, c)
	k1a := putS3(t, c, bn, "k1", []byte("1a"))
	k1b := putS3(t, c, bn, "k1", []byte("1b"))
	putS3(t, c, bn, "k2", []byte("2"))
	putS3(t, c, bn, "keep", []byte("keep"))
	out, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(bn), Delete: &types.Delete{Objects: []types.ObjectIdentifier{
		{Key: aws.String("k1"), VersionId: k1a.VersionId},
		{Key: aws.String("k1"), VersionId: k1b.VersionId},
		{Key: aws.String("k2")},
		{Key: aws.String("never-existed")},
		{Key: aws.String("k1"), VersionId: aws.String("bogus")},
	}}})
	if err != nil {
		t.Fatalf("DeleteObjects: %v", err)
	}
	if len(out.Deleted) != 4 || len(out.Errors) != 1 || aws.ToString(out.Errors[0].Code) != "InvalidArgument" {
		t.Errorf("DeleteObjects deleted %d errors %+v", len(out.Deleted), out.Errors)
	}
	for _, d := range out.Deleted {
		if aws.ToString(d.Key) == "k2" && (!aws.ToBool(d.DeleteMarker) || d.DeleteMarkerVersionId == nil) {
			t.Errorf("k2 should get a delete marker: %+v", d)
		}
	}
	lv, _ := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(bn)})
	var keys []string
	for _, v := range lv.Versions {
		keys = append(keys, aws.ToString(v.Key))
	}
	if fmt.Sprint(keys) != "[k2 keep]" || len(lv.DeleteMarkers) != 1 {
		t.Errorf("versions after batch delete: %v, %d markers", keys, len(lv.DeleteMarkers))
	}
	bid := jstr(jlist(nat.call("b2_list_buckets", map[string]any{"accountId": nat.accountID, "bucketName": bn}), "buckets")[0], "bucketId")
	if names := names(nat.allNames(bid, "", "", 100)); fmt.Sprint(names) != "[keep]" {
		t.Errorf("native names after batch delete = %v", names)
	}
	// quiet mode and 1000 keys
	var objs []types.ObjectIdentifier
	for i := 0; i < 1000; i++ {
		objs = append(objs, types.ObjectIdentifier{Key: aws.String(fmt.Sprintf("many/%04d", i))})
	}
	for i := 0; i < 20; i++ {
		putS3(t, c, bn, fmt.Sprintf("many/%04d", i), []byte("m"))
	}
	srv.ResetStats()
	out, err = c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(bn), Delete: &types.Delete{Objects: objs, Quiet: aws.Bool(true)}})
	if err != nil || len(out.Deleted) != 0 || len(out.Errors) != 0 {
		t.Errorf("quiet DeleteObjects = %+v, %v", out, err)
	}
	if st := srv.Stats(); st.Calls["s3_DeleteObjects"] != 1 || st.Total != 1 {
		t.Errorf("stats after one batch delete: %+v", st)
	}
	lo, _ := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bn), Prefix: aws.String("many/")})
	if len(lo.Contents) != 0 {
		t.Errorf("%d keys left after the batch delete", len(lo.Contents))
	}
	objs = append(objs, types.ObjectIdentifier{Key: aws.String("one-too-many")})
	_, err = c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(bn), Delete: &types.Delete{Objects: objs}})
	wantS3Err(t, "1001 keys", err, "MalformedXML")
	// a restricted key gets per-key errors
	id, secret, _ := nat.createKey(map[string]any{"bucketIds": []string{bid}, "namePrefix": "keep", "capabilities": []string{"listFiles", "deleteFiles"}})
	rc := s3For(srv, hc, id, secret)
	out, err = rc.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(bn), Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: aws.String("k2")}, {Key: aws.String("keep")}}}})
	if err != nil || len(out.Errors) != 1 || aws.ToString(out.Errors[0].Key) != "k2" || aws.ToString(out.Errors[0].Code) != "AccessDenied" || len(out.Deleted) != 1 {
		t.Errorf("restricted DeleteObjects = %+v, %v", out, err)
	}
}

type noBackoff struct{}

func (noBackoff) BackoffDelay(int, error) (time.Duration, error) { return 0, nil }

func TestS3FaultsAndStats(t *testing.T) {
	srv, base, hc := startServer(t, emulator.Options{Seed: 7})
	ctx := context.Background()
	c := s3Master(srv, hc)
	bn := s3Bucket(t, c)
	putS3(t, c, bn, "k", []byte("v"))
	srv.ResetStats()
	getS3(t, c, bn, "k")
	c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bn), Key: aws.String("k")})
	c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bn)})
	putS3(t, c, bn, "k2", []byte("v"))
	c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(bn), Key: aws.String("k3"), CopySource: aws.String(bn + "/k")})
	c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bn), Key: aws.String("k3")})
	st := srv.Stats()
	for name, n := range map[string]int64{"s3_GetObject": 1, "s3_HeadObject": 1, "s3_ListObjectsV2": 1, "s3_PutObject": 1, "s3_CopyObject": 1, "s3_DeleteObject": 1} {
		if st.Calls[name] != n {
			t.Errorf("Calls[%s] = %d, want %d (%v)", name, st.Calls[name], n, st.Calls)
		}
	}
	if st.Classes["A"] != 2 || st.Classes["B"] != 2 || st.Classes["C"] != 2 || st.Total != 6 {
		t.Errorf("classes %v total %d; want A2 B2 C2 total 6", st.Classes, st.Total)
	}

	// every call fails with 503 → SlowDown (the SDK retries then gives up)
	srv.SetFaults(1, 503)
	one := s3For(srv, hc, emulator.DefaultKeyID, emulator.DefaultKey, func(o *s3.Options) { o.RetryMaxAttempts = 1 })
	_, err := one.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bn), Key: aws.String("k")})
	wantS3Err(t, "faulted GetObject", err, "SlowDown")
	res, body := rawS3(t, hc, "GET", base+"/"+bn+"?list-type=2", nil, "", emulator.DefaultKeyID, emulator.DefaultKey, time.Time{}, nil)
	if e := parseXMLErr(t, body); res.StatusCode != 503 || e.Code != "SlowDown" || res.Header.Get("Retry-After") == "" {
		t.Errorf("raw faulted call: %d %+v %v", res.StatusCode, e, res.Header)
	}
	srv.SetFaults(1, 500)
	_, err = one.ListBuckets(ctx, &s3.ListBucketsInput{})
	wantS3Err(t, "500 fault", err, "InternalError")
	// half the calls fail: the SDK's retries get everything through
	srv.SetFaults(0.5, 503)
	retr := s3For(srv, hc, emulator.DefaultKeyID, emulator.DefaultKey, func(o *s3.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = 20
			so.Backoff = noBackoff{}
			so.RateLimiter = ratelimit.None
		})
	})
	for i := 0; i < 10; i++ {
		key := fmt.Sprintf("r%d", i)
		if _, err := retr.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bn), Key: aws.String(key), Body: strings.NewReader(key)}); err != nil {
			t.Fatalf("PutObject with retries: %v", err)
		}
	}
	srv.SetFaults(0)
	if st := srv.Stats(); st.Faults == 0 {
		t.Errorf("no faults counted: %+v", st)
	}
	lo, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bn), Prefix: aws.String("r")})
	if err != nil || len(lo.Contents) != 10 {
		t.Errorf("after retried puts: %v %v", lo, err)
	}
	// unsupported subresources answer NotImplemented
	res, body = rawS3(t, hc, "GET", base+"/"+bn+"?acl", nil, "", emulator.DefaultKeyID, emulator.DefaultKey, time.Time{}, nil)
	if e := parseXMLErr(t, body); res.StatusCode != 501 || e.Code != "NotImplemented" {
		t.Errorf("GET ?acl: %d %+v", res.StatusCode, e)
	}
	// the native API still answers JSON on its own paths
	r, _ := http.NewRequest("GET", base+"/b2api/v9/x", nil)
	rr, err := hc.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	rr.Body.Close()
	if rr.StatusCode != 404 || !strings.HasPrefix(rr.Header.Get("Content-Type"), "application/json") {
		t.Errorf("native unknown path: %d %s", rr.StatusCode, rr.Header.Get("Content-Type"))
	}
}

func TestS3OddKeys(t *testing.T) {
	srv, base, hc := startServer(t, emulator.Options{})
	ctx := context.Background()
	nat := master(t, hc, base, 4)
	c := s3Master(srv, hc)
	bn := s3Bucket(t, c)
	keys := []string{"ünï/cödé.txt", "a=b&c=d", "tilde~star*", "spaces  two", "percent%20sign", "plus+sign", "semi;colon:at@", "/leading", "dots/../x", "q?mark#hash", "日本語/ファイル"}
	for _, k := range keys {
		putS3(t, c, bn, k, []byte(k))
		if got := string(getS3(t, c, bn, k)); got != k {
			t.Errorf("round trip of %q = %q", k, got)
		}
		if d := nat.byName(bn, k); d.Status != 200 || string(d.Raw) != k {
			t.Errorf("native download of %q: %d %q", k, d.Status, d.Raw)
		}
	}
	out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bn), EncodingType: types.EncodingTypeUrl})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range out.Contents {
		k, err := url.QueryUnescape(aws.ToString(o.Key)) // the SDK leaves url-encoded keys to the caller
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, k)
	}
	want := append([]string(nil), keys...)
	sort.Strings(want)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("listing = %q\nwant %q", got, want)
	}
	// copies and deletes of odd keys
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(bn), Key: aws.String("copy/ü"), CopySource: aws.String(bn + "/" + url.PathEscape("ünï/cödé.txt"))}); err != nil {
		t.Errorf("copy of a unicode key: %v", err)
	}
	dout, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(bn), Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: aws.String("a=b&c=d")}, {Key: aws.String("日本語/ファイル")}}}})
	if err != nil || len(dout.Deleted) != 2 {
		t.Errorf("DeleteObjects of odd keys: %+v %v", dout, err)
	}
}

func TestS3ObjectLock(t *testing.T) {
	srv, _, hc := inProcessServer(t, emulator.Options{})
	ctx := context.Background()
	c := s3Master(srv, hc)
	bn := bucketName("lock")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bn), ObjectLockEnabledForBucket: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	until := time.Now().Add(24 * time.Hour)
	po, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bn), Key: aws.String("locked"), Body: strings.NewReader("x"),
		ObjectLockMode: types.ObjectLockModeGovernance, ObjectLockRetainUntilDate: aws.Time(until)})
	if err != nil {
		t.Fatalf("PutObject with retention: %v", err)
	}
	ho, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bn), Key: aws.String("locked")})
	if err != nil || ho.ObjectLockMode != types.ObjectLockModeGovernance {
		t.Errorf("HeadObject lock mode = %v, %v", ho.ObjectLockMode, err)
	}
	_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bn), Key: aws.String("locked"), VersionId: po.VersionId})
	wantS3Err(t, "delete a retained version", err, "AccessDenied")
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bn), Key: aws.String("locked"), VersionId: po.VersionId, BypassGovernanceRetention: aws.Bool(true)}); err != nil {
		t.Errorf("delete with bypass: %v", err)
	}
	plain := s3Bucket(t, c)
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(plain), Key: aws.String("k"), Body: strings.NewReader("x"),
		ObjectLockMode: types.ObjectLockModeGovernance, ObjectLockRetainUntilDate: aws.Time(until)})
	wantS3Err(t, "retention in a bucket without Object Lock", err, "InvalidRequest")
}
