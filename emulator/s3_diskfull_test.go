package emulator_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/b2plan/b2plan/emulator"
)

// s3State is what an S3 client can list of a bucket: every version and
// delete marker, the unfinished uploads and their parts.
func s3State(t *testing.T, c *s3.Client, bn string) string {
	t.Helper()
	ctx := context.Background()
	var buf strings.Builder
	vs, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(bn)})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs.Versions {
		fmt.Fprintf(&buf, "version %s %s %s latest=%v\n", aws.ToString(v.Key), aws.ToString(v.VersionId), aws.ToString(v.ETag), aws.ToBool(v.IsLatest))
	}
	for _, m := range vs.DeleteMarkers {
		fmt.Fprintf(&buf, "marker %s %s latest=%v\n", aws.ToString(m.Key), aws.ToString(m.VersionId), aws.ToBool(m.IsLatest))
	}
	us, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(bn)})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range us.Uploads {
		fmt.Fprintf(&buf, "upload %s %s\n", aws.ToString(u.Key), aws.ToString(u.UploadId))
		ps, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(bn), Key: u.Key, UploadId: u.UploadId})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps.Parts {
			fmt.Fprintf(&buf, "  part %d %s\n", aws.ToInt32(p.PartNumber), aws.ToString(p.ETag))
		}
	}
	return buf.String()
}

// The S3 front on a full disk: every change answers 503 and changes
// nothing; when space returns the same calls succeed.
func TestS3DiskFull(t *testing.T) {
	srv, err := emulator.NewServer(emulator.Options{Dir: t.TempDir(), AbsoluteMinimumPartSize: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	hc := srv.HTTPClient()
	c := s3For(srv, hc, emulator.DefaultKeyID, emulator.DefaultKey, func(o *s3.Options) { o.Retryer = aws.NopRetryer{} })
	ctx := context.Background()
	bn := s3Bucket(t, c)
	empty := s3Bucket(t, c)
	data := map[string][]byte{"a": []byte("content of a"), "b": []byte("content of b")}
	vid := map[string]string{}
	for k, d := range data {
		vid[k] = aws.ToString(putS3(t, c, bn, k, d).VersionId)
	}
	cm, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bn), Key: aws.String("mp")})
	if err != nil {
		t.Fatal(err)
	}
	part := []byte("0123456789")
	up, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bn), Key: aws.String("mp"), UploadId: cm.UploadId, PartNumber: aws.Int32(1), Body: bytes.NewReader(part)})
	if err != nil {
		t.Fatal(err)
	}
	complete := &s3.CompleteMultipartUploadInput{Bucket: aws.String(bn), Key: aws.String("mp"), UploadId: cm.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: up.ETag}}}}
	before := s3State(t, c, bn)

	emulator.SetDiskFault(srv, "commit", "blob")
	changes := map[string]func() error{
		"PutObject": func() error {
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bn), Key: aws.String("new"), Body: bytes.NewReader([]byte("new"))})
			return err
		},
		"CopyObject": func() error {
			_, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(bn), Key: aws.String("copy"), CopySource: aws.String(bn + "/a")})
			return err
		},
		"DeleteObject (marker)": func() error {
			_, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bn), Key: aws.String("a")})
			return err
		},
		"DeleteObject (version)": func() error {
			_, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bn), Key: aws.String("b"), VersionId: aws.String(vid["b"])})
			return err
		},
		"DeleteObjects": func() error {
			_, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(bn), Delete: &types.Delete{Objects: []types.ObjectIdentifier{
				{Key: aws.String("a")}, {Key: aws.String("b"), VersionId: aws.String(vid["b"])}}}})
			return err
		},
		"CreateMultipartUpload": func() error {
			_, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bn), Key: aws.String("mp2")})
			return err
		},
		"UploadPart": func() error {
			_, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bn), Key: aws.String("mp"), UploadId: cm.UploadId, PartNumber: aws.Int32(2), Body: bytes.NewReader(part)})
			return err
		},
		"UploadPartCopy": func() error {
			_, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String(bn), Key: aws.String("mp"), UploadId: cm.UploadId, PartNumber: aws.Int32(3), CopySource: aws.String(bn + "/a")})
			return err
		},
		"CompleteMultipartUpload": func() error {
			_, err := c.CompleteMultipartUpload(ctx, complete)
			return err
		},
		"AbortMultipartUpload": func() error {
			_, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(bn), Key: aws.String("mp"), UploadId: cm.UploadId})
			return err
		},
		"CreateBucket": func() error {
			_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucketName("s3new"))})
			return err
		},
		"DeleteBucket": func() error {
			_, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(empty)})
			return err
		},
	}
	for name, f := range changes {
		err := f()
		var re *awshttp.ResponseError
		if !errors.As(err, &re) || re.HTTPStatusCode() != 503 {
			t.Errorf("%s on a full disk: %v; want HTTP 503", name, err)
		}
		if after := s3State(t, c, bn); after != before {
			t.Fatalf("%s on a full disk changed the state:\nbefore:\n%s\nafter:\n%s", name, before, after)
		}
	}
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(empty)}); err != nil {
		t.Errorf("bucket deleted by a refused DeleteBucket: %v", err)
	}

	emulator.SetDiskFault(srv)
	for k, d := range data {
		g, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bn), Key: aws.String(k)})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(g.Body)
		g.Body.Close()
		if md5hex(got) != md5hex(d) {
			t.Errorf("%s after the refused changes: %q", k, got)
		}
	}
	for _, name := range []string{"CompleteMultipartUpload", "DeleteObject (marker)", "DeleteBucket", "PutObject"} {
		if err := changes[name](); err != nil {
			t.Errorf("%s once space is back: %v", name, err)
		}
	}
}
