package b2client

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"

	"github.com/b2plan/b2plan/live"
)

// Uploads over the S3-compatible API. S3 answers an upload with an ETag (the MD5 of a simple
// object, of each part) and a version id (the B2 file id), not B2's SHA-1, which b2plan
// compares objects by: a simple upload is verified by its ETag against the MD5 computed
// here (equal MD5s of bytes sent and stored), and its version carries the SHA-1 computed
// here; a multipart upload carries large_file_sha1 in its metadata (B2 stores x-amz-meta-*
// as file info) and is read back with the native b2_get_file_info, whose size and SHA-1 the
// caller compares. The next plan reads B2's own SHA-1s through the native listing.

// s3Meta is B2 file info in S3's form: the b2-* keys B2 maps to standard headers, the rest
// as x-amz-meta-* metadata.
type s3Meta struct {
	cacheControl, disposition, encoding, language *string
	expires                                       *time.Time
	meta                                          map[string]string
}

// s3MetaOf converts file info; a b2-expires that is not an HTTP date is an error.
func s3MetaOf(op string, info map[string]string) (s3Meta, error) {
	var m s3Meta
	for k, v := range info {
		switch strings.ToLower(k) {
		case "b2-cache-control":
			m.cacheControl = aws.String(v)
		case "b2-content-disposition":
			m.disposition = aws.String(v)
		case "b2-content-encoding":
			m.encoding = aws.String(v)
		case "b2-content-language":
			m.language = aws.String(v)
		case "b2-expires":
			t, err := http.ParseTime(v)
			if err != nil {
				return m, &Error{Op: op, Class: Permanent, Message: fmt.Sprintf("b2-expires %q is not an HTTP date", v)}
			}
			m.expires = aws.Time(t)
		default:
			if m.meta == nil {
				m.meta = map[string]string{}
			}
			m.meta[k] = v
		}
	}
	return m, nil
}

// s3MetaSafe reports whether file info can travel as S3 metadata unchanged: S3 user metadata
// is US-ASCII (B2's native API percent-encodes UTF-8 instead), so info with other
// characters is uploaded with the native calls, which the S3 decorator keeps.
func s3MetaSafe(info map[string]string) bool {
	for k, v := range info {
		for _, s := range []string{k, v} {
			for i := 0; i < len(s); i++ {
				if s[i] < 0x20 || s[i] > 0x7e {
					return false
				}
			}
		}
	}
	return true
}

// s3ContentType is the Content-Type to send: none for B2's auto-detection.
func s3ContentType(ct string) *string {
	if ct == "" || ct == "b2/x-auto" {
		return nil
	}
	return aws.String(ct)
}

// s3Upload is Upload over S3: one PutObject with the content type and the file info. A
// repeated PutObject makes another version with the same content, so it is retried as the
// native upload is.
func (m *Mutator) s3Upload(ctx context.Context, bucketName, name, contentType string, data []byte, info map[string]string) (live.Version, error) {
	c := m.c
	op := fmt.Sprintf("upload %s", describe(bucketName, name))
	md, err := s3MetaOf(op, info)
	if err != nil {
		return live.Version{}, err
	}
	sum, mdSum := sha1.Sum(data), md5.Sum(data)
	var out *s3.PutObjectOutput
	if _, err := c.s3Do(ctx, op, false, func(ctx context.Context) error {
		o, err := c.s3.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(bucketName), Key: aws.String(name), Body: bytes.NewReader(data),
			ContentLength: aws.Int64(int64(len(data))), ContentType: s3ContentType(contentType),
			CacheControl: md.cacheControl, ContentDisposition: md.disposition, ContentEncoding: md.encoding,
			ContentLanguage: md.language, Expires: md.expires, Metadata: md.meta,
		})
		out = o
		return err
	}); err != nil {
		return live.Version{}, err
	}
	vid := aws.ToString(out.VersionId)
	if got := strings.Trim(aws.ToString(out.ETag), `"`); vid == "" || got != hex.EncodeToString(mdSum[:]) {
		return live.Version{}, &Error{Op: op, Class: Permanent, Message: fmt.Sprintf("the S3 endpoint answered version %q, ETag %q for %d bytes whose MD5 is %x", vid, got, len(data), mdSum)}
	}
	v := live.Version{Name: name, ID: vid, Size: int64(len(data)), ContentType: contentType, Info: info,
		Action: live.ActionUpload, Uploaded: time.Now().UnixMilli()}
	v.SetSHA1Hex(hex.EncodeToString(sum[:]), false)
	return v, nil
}

// s3UploadLarge is UploadLarge over S3: CreateMultipartUpload (content type, file info with
// large_file_sha1), UploadPart calls each checked by its ETag (the part's MD5), then
// CompleteMultipartUpload and b2_get_file_info of the result. The upload is aborted on
// failure.
func (m *Mutator) s3UploadLarge(ctx context.Context, r largeUpload) (live.Version, error) {
	c := m.c
	op := r.op
	md, err := s3MetaOf(op, r.info)
	if err != nil {
		return live.Version{}, err
	}
	var created *s3.CreateMultipartUploadOutput
	if _, err := c.s3Do(ctx, op+": start", false, func(ctx context.Context) error {
		o, err := c.s3.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
			Bucket: aws.String(r.bucket), Key: aws.String(r.name), ContentType: s3ContentType(r.contentType),
			CacheControl: md.cacheControl, ContentDisposition: md.disposition, ContentEncoding: md.encoding,
			ContentLanguage: md.language, Expires: md.expires, Metadata: md.meta,
		})
		created = o
		return err
	}); err != nil {
		return live.Version{}, err
	}
	uploadID := aws.ToString(created.UploadId)
	abort := func(cause error) error {
		actx, done := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer done()
		if _, err := c.s3Do(actx, op+": abort", false, func(ctx context.Context) error {
			_, err := c.s3.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(r.bucket), Key: aws.String(r.name), UploadId: aws.String(uploadID)})
			return err
		}); err != nil && !errors.Is(err, NotFound) {
			return fmt.Errorf("%w (and aborting the multipart upload %s failed: %v)", cause, uploadID, err)
		}
		return cause
	}
	etags := make([]string, r.nparts)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for i := 0; i < r.nparts; i++ {
		g.Go(guard(func() error {
			data, err := r.read(i)
			if err != nil {
				return err
			}
			want := md5.Sum(data)
			pop := fmt.Sprintf("%s: part %d", op, i+1)
			// Uploading a part again replaces it: safe to retry.
			_, err = c.s3Do(gctx, pop, false, func(ctx context.Context) error {
				o, err := c.s3.client.UploadPart(ctx, &s3.UploadPartInput{
					Bucket: aws.String(r.bucket), Key: aws.String(r.name), UploadId: aws.String(uploadID),
					PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data))),
				})
				if err == nil {
					etags[i] = aws.ToString(o.ETag)
				}
				return err
			})
			if err == nil && strings.Trim(etags[i], `"`) != hex.EncodeToString(want[:]) {
				err = &Error{Op: pop, Class: Permanent, Message: fmt.Sprintf("the S3 endpoint answered ETag %s for %d bytes whose MD5 is %x", etags[i], len(data), want)}
			}
			return err
		}))
	}
	if err := g.Wait(); err != nil {
		return live.Version{}, abort(err)
	}
	parts := make([]types.CompletedPart, r.nparts)
	for i := range parts {
		parts[i] = types.CompletedPart{ETag: aws.String(etags[i]), PartNumber: aws.Int32(int32(i + 1))}
	}
	vid, err := c.s3CompleteMultipart(ctx, op, r.bucket, r.name, uploadID, parts)
	if err != nil {
		return live.Version{}, abort(err)
	}
	v, err := c.getFileInfo(ctx, op+": read back", vid)
	if err != nil {
		return live.Version{}, err
	}
	if v.Size != r.size {
		return live.Version{}, &Error{Op: op, Class: Permanent, Message: fmt.Sprintf("B2 stored %d bytes, not %d", v.Size, r.size)}
	}
	return v, nil
}
