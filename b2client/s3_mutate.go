package b2client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"

	"github.com/b2plan/b2plan/live"
)

// MaxDeleteBatch is the most versions one DeleteVersions request removes
// (S3 DeleteObjects' limit).
const MaxDeleteBatch = 1000

// emptyMD5 is the MD5 of zero bytes, the ETag of an empty object.
const emptyMD5 = "d41d8cd98f00b204e9800998ecf8427e"

// VersionRef names one file version to delete.
type VersionRef struct {
	Name string
	ID   string
}

// DeleteBatchSize is how many versions one DeleteVersions request removes:
// MaxDeleteBatch over S3, 1 over the native API (which has no batch call).
func (m *Mutator) DeleteBatchSize() int { return m.obj.DeleteBatchSize() }

func (nativeObjects) DeleteBatchSize() int { return 1 }

func (s3Objects) DeleteBatchSize() int { return MaxDeleteBatch }

// DeleteVersions deletes versions of one bucket and returns one result per
// item (nil = deleted, or already gone). Over S3 it sends DeleteObjects
// requests of up to 1,000 version ids (Quiet), retrying the items that
// failed transiently under the shared policy; over the native API it is a
// loop of b2_delete_file_version calls (8 at a time). Locked versions fail
// with class Locked.
func (m *Mutator) DeleteVersions(ctx context.Context, bucketName string, items []VersionRef) []error {
	return m.obj.DeleteVersions(ctx, bucketName, items)
}

func (o nativeObjects) DeleteVersions(ctx context.Context, bucketName string, items []VersionRef) []error {
	errs := make([]error, len(items))
	var g errgroup.Group
	g.SetLimit(8)
	for i, it := range items {
		g.Go(guard(func() error {
			err := o.DeleteVersion(ctx, it.Name, it.ID, false)
			if errors.Is(err, NotFound) {
				err = nil
			}
			errs[i] = err
			return nil
		}))
	}
	g.Wait()
	return errs
}

func (s s3Objects) DeleteVersions(ctx context.Context, bucketName string, items []VersionRef) []error {
	errs := make([]error, len(items))
	for lo := 0; lo < len(items); lo += MaxDeleteBatch {
		hi := min(lo+MaxDeleteBatch, len(items))
		s.m.s3DeleteBatch(ctx, bucketName, items[lo:hi], errs[lo:hi])
	}
	return errs
}

// s3DeleteBatch deletes up to 1,000 versions with DeleteObjects.
func (m *Mutator) s3DeleteBatch(ctx context.Context, bucket string, items []VersionRef, errs []error) {
	c := m.c
	p := c.policy
	pending := make([]int, len(items))
	for i := range pending {
		pending[i] = i
	}
	itemOp := func(i int) string { return fmt.Sprintf("delete version %s (%s)", items[i].Name, items[i].ID) }
	for round := 1; len(pending) > 0; round++ {
		objs := make([]types.ObjectIdentifier, len(pending))
		for j, i := range pending {
			objs[j] = types.ObjectIdentifier{Key: aws.String(items[i].Name), VersionId: aws.String(items[i].ID)}
		}
		op := fmt.Sprintf("delete %d versions in %s", len(objs), bucket)
		var out *s3.DeleteObjectsOutput
		_, err := c.s3Do(ctx, op, false, func(ctx context.Context) error {
			o, err := c.s3.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
				Bucket: aws.String(bucket),
				Delete: &types.Delete{Objects: objs, Quiet: aws.Bool(true)},
			})
			out = o
			return err
		})
		if err != nil {
			for _, i := range pending {
				errs[i] = withOp(itemOp(i)+" in a batch", err)
			}
			return
		}
		failed := make(map[string]types.Error, len(out.Errors))
		for _, e := range out.Errors {
			failed[aws.ToString(e.Key)+"\x00"+aws.ToString(e.VersionId)] = e
		}
		var again []int
		var lastErr *Error
		for _, i := range pending {
			e, bad := failed[items[i].Name+"\x00"+items[i].ID]
			if !bad {
				errs[i] = nil
				c.s3.forget(items[i].ID)
				continue
			}
			code, msg := aws.ToString(e.Code), aws.ToString(e.Message)
			cls := classifyS3(0, code, msg)
			switch {
			case cls == NotFound:
				errs[i] = nil
			case (cls == Retryable || cls == RateLimited) && round < p.MaxAttempts:
				again = append(again, i)
				lastErr = &Error{Op: itemOp(i), Code: code, Message: msg, Class: cls, Attempts: round}
			default:
				errs[i] = &Error{Op: itemOp(i), Code: code, Message: msg, Class: cls, Attempts: round}
			}
		}
		if len(again) > 0 {
			if err := p.Sleep(ctx, p.delay(round, 0)); err != nil {
				for _, i := range again {
					errs[i] = fmt.Errorf("%s: %w (while retrying after: %v)", itemOp(i), err, lastErr)
				}
				return
			}
		}
		pending = again
	}
}

// s3DestBucket resolves the destination bucket name of a copy.
func (c *Conn) s3DestBucket(ctx context.Context, op string, r CopyRequest, srcBucket string) (string, error) {
	switch {
	case r.DestBucket != "":
		return r.DestBucket, nil
	case r.DestBucketID != "":
		return c.s3BucketName(ctx, op, r.DestBucketID)
	}
	return srcBucket, nil
}

// s3CopyFile is CopyFile over S3: one CopyObject of the source version
// (metadata directive COPY), verified by s3VerifyCopy. CopyObject is not
// idempotent (a repeat makes another version): a failure after the request
// may have been sent is Ambiguous, as for b2_copy_file.
func (m *Mutator) s3CopyFile(ctx context.Context, r CopyRequest) (live.Version, error) {
	c := m.c
	op := r.op("copy_file")
	srcBucket, srcName, err := c.s3FileLocation(ctx, op, r.SourceFileID, r.SourceBucket, r.SourceName)
	if err != nil {
		return live.Version{}, withOp(op, err)
	}
	dstBucket, err := c.s3DestBucket(ctx, op, r, srcBucket)
	if err != nil {
		return live.Version{}, err
	}
	var out *s3.CopyObjectOutput
	if _, err := c.s3Do(ctx, op, true, func(ctx context.Context) error {
		in := &s3.CopyObjectInput{
			Bucket:            aws.String(dstBucket),
			Key:               aws.String(r.DestName),
			CopySource:        aws.String(copySource(srcBucket, srcName, r.SourceFileID)),
			MetadataDirective: types.MetadataDirectiveCopy,
		}
		in.ObjectLockMode, in.ObjectLockRetainUntilDate, in.ObjectLockLegalHoldStatus = s3Lock(r.Lock)
		o, err := c.s3.client.CopyObject(ctx, in)
		out = o
		return err
	}); err != nil {
		var e *Error
		if errors.As(err, &e) && e.Code == "InvalidRequest" && strings.Contains(strings.ToLower(e.Message), "copy source is larger than") {
			// S3's "too large for CopyObject": report it as b2_copy_file's
			// source_too_large, so that callers fall back to CopyLargeFile
			// the same way over both APIs.
			c := *e
			c.Code = "source_too_large"
			return live.Version{}, &c
		}
		return live.Version{}, err
	}
	vid := aws.ToString(out.VersionId)
	if vid == "" {
		return live.Version{}, &Error{Op: op, Class: Permanent, Code: "copy_verification_failed", Message: "the S3 endpoint returned no version id for the copy (x-amz-version-id): the copy cannot be verified"}
	}
	var etag string
	var mod time.Time
	if out.CopyObjectResult != nil {
		etag = aws.ToString(out.CopyObjectResult.ETag)
		mod = aws.ToTime(out.CopyObjectResult.LastModified)
	}
	return c.s3VerifyCopy(ctx, op, r.SourceFileID, r.DestName, vid, etag, mod)
}

// s3VerifyCopy checks a copy made over S3 and returns it as a Version. The
// rule is never weaker than the native one (size + SHA-1 as B2 reports
// them):
//
//   - when the source was listed by Observe on this Conn with a plain-MD5
//     ETag and the copy's ETag (B2's MD5 of the copy) equals it, equal MD5s
//     mean equal bytes, hence equal size and SHA-1: the copy is returned
//     with the listed size and SHA-1 of its source;
//   - otherwise (a multipart source, one not listed here, or an ETag that
//     differs) the copy is read back with b2_get_file_info, and B2's size
//     and SHA-1 of the copy are returned for the caller to compare, exactly
//     as for b2_copy_file: a real difference fails the caller's check.
func (c *Conn) s3VerifyCopy(ctx context.Context, op, srcID, dest, vid, etag string, mod time.Time) (live.Version, error) {
	if src, ok := c.s3.source(srcID); ok && src.md5ok {
		if got, gok := etagMD5(etag); gok && got == src.md5 {
			v := live.Version{Name: dest, ID: vid, Size: src.size, SHA1: src.sha1, Flags: src.flags, Action: live.ActionUpload}
			if !mod.IsZero() {
				v.Uploaded = mod.UnixMilli()
			}
			return v, nil
		}
		// Another ETag: never conclude from it alone (an endpoint may
		// format ETags differently); B2's own SHA-1 of the copy decides.
	}
	v, err := c.getFileInfo(ctx, op+": read back the copy", vid)
	if err != nil {
		return live.Version{}, err
	}
	if v.Name != dest {
		return live.Version{}, &Error{Op: op, Class: Permanent, Code: "copy_verification_failed", Message: fmt.Sprintf("version %s is %q, want %q", vid, v.Name, dest)}
	}
	return v, nil
}

// s3CopyLargeFile is CopyLargeFile over S3: CreateMultipartUpload (the
// source's content type and file info, plus large_file_sha1), parallel
// UploadPartCopy calls, the parts' SHA-1s and sizes read with the native
// b2_list_parts (the upload id is the B2 large file id), then
// CompleteMultipartUpload and b2_get_file_info of the result. The upload is
// aborted on failure.
func (m *Mutator) s3CopyLargeFile(ctx context.Context, r LargeCopyRequest) (LargeCopyResult, error) {
	c := m.c
	if r.SourceFileID == "" {
		r.SourceFileID = r.Source.ID
	}
	if r.SourceName == "" {
		r.SourceName = r.Source.Name
	}
	op := r.op("copy large file")
	size := r.Source.Size
	if size <= 0 {
		return LargeCopyResult{}, &Error{Op: op, Class: Permanent, Message: "source size unknown or zero: use CopyFile"}
	}
	absMin, rec := c.PartSizes()
	part := r.PartSize
	if part <= 0 {
		part = rec
	}
	if part < absMin {
		part = absMin
	}
	if n := (size + part - 1) / part; n > 10000 {
		part = (size + 9999) / 10000
	}
	nparts := int((size + part - 1) / part)

	srcBucket, srcName, err := c.s3FileLocation(ctx, op, r.SourceFileID, r.SourceBucket, r.SourceName)
	if err != nil {
		return LargeCopyResult{}, withOp(op, err)
	}
	dstBucket, err := c.s3DestBucket(ctx, op, r.CopyRequest, srcBucket)
	if err != nil {
		return LargeCopyResult{}, err
	}
	info := copyInfo(&r.Source, true) // with the marker, as natively
	md, err := s3MetaOf(op, info)
	if err != nil {
		return LargeCopyResult{}, err
	}
	in := &s3.CreateMultipartUploadInput{Bucket: aws.String(dstBucket), Key: aws.String(r.DestName),
		ContentType: s3ContentType(r.Source.ContentType), CacheControl: md.cacheControl, ContentDisposition: md.disposition,
		ContentEncoding: md.encoding, ContentLanguage: md.language, Expires: md.expires, Metadata: md.meta}
	in.ObjectLockMode, in.ObjectLockRetainUntilDate, in.ObjectLockLegalHoldStatus = s3Lock(r.Lock)
	var created *s3.CreateMultipartUploadOutput
	if _, err := c.s3Do(ctx, op+": start", false, func(ctx context.Context) error {
		o, err := c.s3.client.CreateMultipartUpload(ctx, in)
		created = o
		return err
	}); err != nil {
		return LargeCopyResult{}, err
	}
	uploadID := aws.ToString(created.UploadId)
	abort := func(cause error) error {
		actx, done := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer done()
		if _, err := c.s3Do(actx, op+": abort", false, func(ctx context.Context) error {
			_, err := c.s3.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(dstBucket), Key: aws.String(r.DestName), UploadId: aws.String(uploadID)})
			return err
		}); err != nil && !errors.Is(err, NotFound) {
			return fmt.Errorf("%w (and aborting the multipart upload %s failed: %v)", cause, uploadID, err)
		}
		return cause
	}

	etags := make([]string, nparts)
	par := r.Parallelism
	if par <= 0 {
		par = 4
	}
	src := copySource(srcBucket, srcName, r.SourceFileID)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(par)
	for i := 0; i < nparts; i++ {
		g.Go(guard(func() error {
			first := int64(i) * part
			last := min(first+part-1, size-1)
			// Copying a part again replaces it: safe to retry.
			_, err := c.s3Do(gctx, fmt.Sprintf("%s: copy part %d", op, i+1), false, func(ctx context.Context) error {
				o, err := c.s3.client.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
					Bucket: aws.String(dstBucket), Key: aws.String(r.DestName), UploadId: aws.String(uploadID),
					PartNumber: aws.Int32(int32(i + 1)), CopySource: aws.String(src),
					CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", first, last)),
				})
				if err == nil && o.CopyPartResult != nil {
					etags[i] = aws.ToString(o.CopyPartResult.ETag)
				}
				return err
			})
			return err
		}))
	}
	if err := g.Wait(); err != nil {
		return LargeCopyResult{}, abort(err)
	}
	shas, err := c.s3PartSHA1s(ctx, op, uploadID, nparts, part, size)
	if err != nil {
		return LargeCopyResult{}, abort(err)
	}
	parts := make([]types.CompletedPart, nparts)
	for i := range parts {
		parts[i] = types.CompletedPart{ETag: aws.String(etags[i]), PartNumber: aws.Int32(int32(i + 1))}
	}
	vid, err := c.s3CompleteMultipart(ctx, op, dstBucket, r.DestName, uploadID, parts)
	if err != nil {
		return LargeCopyResult{}, abort(err)
	}
	v, err := c.getFileInfo(ctx, op+": read back the copy", vid)
	if err != nil {
		return LargeCopyResult{}, err
	}
	return LargeCopyResult{Version: v, PartSHA1s: shas}, nil
}

// s3PartSHA1s reads the parts of an unfinished large file with the native
// b2_list_parts and checks their number and sizes: B2 computed a SHA-1 for
// each part, which is what a native large copy is verified with.
func (c *Conn) s3PartSHA1s(ctx context.Context, op, fileID string, nparts int, part, size int64) ([]string, error) {
	shas := make([]string, nparts)
	req := struct {
		FileID          string `json:"fileId"`
		StartPartNumber int    `json:"startPartNumber,omitempty"`
		MaxPartCount    int    `json:"maxPartCount"`
	}{FileID: fileID, MaxPartCount: 1000}
	seen := 0
	for {
		var resp struct {
			Parts []struct {
				PartNumber    int    `json:"partNumber"`
				ContentLength int64  `json:"contentLength"`
				ContentSha1   string `json:"contentSha1"`
			} `json:"parts"`
			Next *int `json:"nextPartNumber"`
		}
		if _, err := c.call(ctx, op+": list parts", "b2_list_parts", req, &resp, false); err != nil {
			return nil, err
		}
		for _, p := range resp.Parts {
			i := p.PartNumber - 1
			if i < 0 || i >= nparts {
				continue
			}
			want := min(part, size-int64(i)*part)
			if p.ContentLength != want {
				return nil, &Error{Op: op, Class: Permanent, Code: "copy_verification_failed", Message: fmt.Sprintf("part %d has %d bytes, want %d", i+1, p.ContentLength, want)}
			}
			if shas[i] == "" {
				seen++
			}
			shas[i] = p.ContentSha1
		}
		if resp.Next == nil || *resp.Next <= req.StartPartNumber {
			break
		}
		req.StartPartNumber = *resp.Next
	}
	if seen != nparts {
		return nil, &Error{Op: op, Class: Permanent, Code: "copy_verification_failed", Message: fmt.Sprintf("b2_list_parts shows %d of %d parts", seen, nparts)}
	}
	return shas, nil
}

// s3DeleteVersion is DeleteVersion over S3 (DeleteObject with versionId) for
// a file id that names its bucket.
func (m *Mutator) s3DeleteVersion(ctx context.Context, name, fileID string, bypassGovernance bool) error {
	c := m.c
	op := fmt.Sprintf("delete version %s (%s)", name, fileID)
	bucket, err := c.s3BucketName(ctx, op, bucketIDOfFile(fileID))
	if err != nil {
		return err
	}
	in := &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(name), VersionId: aws.String(fileID)}
	if bypassGovernance {
		in.BypassGovernanceRetention = aws.Bool(true)
	}
	n, err := c.s3Do(ctx, op, false, func(ctx context.Context) error {
		_, err := c.s3.client.DeleteObject(ctx, in)
		return err
	})
	if err != nil && n > 1 && errors.Is(err, NotFound) {
		err = nil
	}
	if err == nil {
		c.s3.forget(fileID)
	}
	return err
}

// s3HideFile is HideFile over S3: DeleteObject without versionId adds a
// delete marker, which is B2's hide marker. Hiding a name that is already
// hidden returns the existing marker (B2's S3 API adds none).
func (m *Mutator) s3HideFile(ctx context.Context, bucketID, name string) (live.Version, error) {
	c := m.c
	op := fmt.Sprintf("hide file %s", name)
	bucket, err := c.s3BucketName(ctx, op, bucketID)
	if err != nil {
		return live.Version{}, err
	}
	var out *s3.DeleteObjectOutput
	if _, err := c.s3Do(ctx, op, false, func(ctx context.Context) error {
		o, err := c.s3.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(name)})
		out = o
		return err
	}); err != nil {
		return live.Version{}, err
	}
	vid := aws.ToString(out.VersionId)
	if vid == "" || !aws.ToBool(out.DeleteMarker) {
		return live.Version{}, &Error{Op: op, Status: 404, Code: "NoSuchKey", Class: NotFound, Message: fmt.Sprintf("no file named %q to hide", name)}
	}
	return live.Version{Name: name, ID: vid, Action: live.ActionHide, Uploaded: time.Now().UnixMilli()}, nil
}

// s3UploadEmpty is UploadEmpty over S3: one PutObject of zero bytes, whose
// ETag must be the MD5 of nothing.
func (m *Mutator) s3UploadEmpty(ctx context.Context, bucketName, name string) (live.Version, error) {
	c := m.c
	op := fmt.Sprintf("upload %s", describe(bucketName, name))
	const ct = "application/octet-stream"
	var out *s3.PutObjectOutput
	if _, err := c.s3Do(ctx, op, false, func(ctx context.Context) error {
		o, err := c.s3.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(bucketName), Key: aws.String(name), Body: bytes.NewReader(nil),
			ContentLength: aws.Int64(0), ContentType: aws.String(ct),
		})
		out = o
		return err
	}); err != nil {
		return live.Version{}, err
	}
	vid := aws.ToString(out.VersionId)
	if got := strings.Trim(aws.ToString(out.ETag), `"`); vid == "" || got != emptyMD5 {
		return live.Version{}, &Error{Op: op, Class: Permanent, Message: fmt.Sprintf("the S3 endpoint answered version %q, ETag %q for an empty object", vid, got)}
	}
	v := live.Version{Name: name, ID: vid, ContentType: ct, Action: live.ActionUpload, Uploaded: time.Now().UnixMilli()}
	v.SetSHA1Hex(EmptySHA1, false)
	return v, nil
}

// s3Lock is CopyLock in S3's form (x-amz-object-lock-* headers).
func s3Lock(l *CopyLock) (types.ObjectLockMode, *time.Time, types.ObjectLockLegalHoldStatus) {
	if l == nil {
		return "", nil, ""
	}
	var mode types.ObjectLockMode
	var until *time.Time
	switch l.Mode {
	case "governance":
		mode = types.ObjectLockModeGovernance
	case "compliance":
		mode = types.ObjectLockModeCompliance
	}
	if mode != "" {
		until = aws.Time(time.UnixMilli(l.RetainUntil).UTC())
	}
	var hold types.ObjectLockLegalHoldStatus
	if l.LegalHold {
		hold = types.ObjectLockLegalHoldStatusOn
	}
	return mode, until, hold
}

// s3CompleteMultipart completes a multipart upload (or copy) and returns
// the id of the finished version (the B2 large file id, which the finished
// file keeps). As natively: after an unknown outcome the finish is repeated
// (a multipart upload completes once), and a failed finish is looked up.
// The caller aborts the upload on error.
func (c *Conn) s3CompleteMultipart(ctx context.Context, op, bucket, name, uploadID string, parts []types.CompletedPart) (string, error) {
	vid := uploadID
	ambiguous := false
	for attempt := 1; ; attempt++ {
		var done *s3.CompleteMultipartUploadOutput
		_, err := c.s3Do(ctx, op+": finish", true, func(ctx context.Context) error {
			o, err := c.s3.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
				Bucket: aws.String(bucket), Key: aws.String(name), UploadId: aws.String(uploadID),
				MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
			})
			done = o
			return err
		})
		if err == nil {
			if id := aws.ToString(done.VersionId); id != "" {
				vid = id
			}
			return vid, nil
		}
		if ambiguous || errors.Is(err, Ambiguous) {
			if v, gerr := c.getFileInfo(ctx, op+": check finish", uploadID); gerr == nil && v.Action == live.ActionUpload {
				return vid, nil
			}
		}
		if !errors.Is(err, Ambiguous) || attempt >= 5 {
			return "", err
		}
		ambiguous = true
	}
}
