package b2client

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/b2plan/b2plan/live"
)

// objectCalls are the object operations whose wire protocol depends on the
// endpoint: B2's native API (nativeObjects), or the S3-compatible API
// (s3Objects, a decorator of the native calls that keeps them where S3 has
// no equivalent). Mutator picks one when it is made, so no method branches
// on the kind of endpoint.
type objectCalls interface {
	CopyFile(ctx context.Context, r CopyRequest) (live.Version, error)
	CopyLargeFile(ctx context.Context, r LargeCopyRequest) (LargeCopyResult, error)
	DeleteVersion(ctx context.Context, name, fileID string, bypassGovernance bool) error
	DeleteVersions(ctx context.Context, bucketName string, items []VersionRef) []error
	DeleteBatchSize() int
	HideFile(ctx context.Context, bucketID, name string) (live.Version, error)
	UploadEmpty(ctx context.Context, bucketName, name string) (live.Version, error)
	Upload(ctx context.Context, bucketName, name, contentType string, data []byte, info map[string]string) (live.Version, error)
	UploadLarge(ctx context.Context, r largeUpload) (live.Version, error)
}

var (
	_ objectCalls = nativeObjects{}
	_ objectCalls = s3Objects{}
)

// nativeObjects makes object calls with B2's native API.
type nativeObjects struct{ m *Mutator }

// s3Objects makes object calls with the S3-compatible API, falling back to
// the native calls it wraps where S3 cannot address a version.
type s3Objects struct{ nativeObjects }

// NewMutator returns a Mutator over c: object calls go through the
// S3-compatible API when c was opened on an s3:// endpoint.
func NewMutator(c *Conn) *Mutator {
	m := &Mutator{c: c}
	m.obj = nativeObjects{m}
	if c.s3 != nil {
		m.obj = s3Objects{nativeObjects{m}}
	}
	return m
}

// CopyFile copies one version (≤ 5 GB) with b2_copy_file (CopyObject over
// S3), keeping its content type and file info, and returns the new version.
//
// The copy is not idempotent: a failure after the request may have reached
// B2 has class Ambiguous and is not retried; list the destination (same
// size and SHA-1 = done) before copying again.
func (m *Mutator) CopyFile(ctx context.Context, r CopyRequest) (live.Version, error) {
	return m.obj.CopyFile(ctx, r)
}

// CopyLargeFile copies a version part by part: start a large file, copy the parts in
// parallel, finish it (see nativeObjects.CopyLargeFile; UploadPartCopy over S3).
func (m *Mutator) CopyLargeFile(ctx context.Context, r LargeCopyRequest) (LargeCopyResult, error) {
	return m.obj.CopyLargeFile(ctx, r)
}

// DeleteVersion deletes one file version. bypassGovernance removes a
// governance-locked version (needs the bypassGovernance capability). A
// version already gone after a retried request counts as deleted.
func (m *Mutator) DeleteVersion(ctx context.Context, name, fileID string, bypassGovernance bool) error {
	return m.obj.DeleteVersion(ctx, name, fileID, bypassGovernance)
}

// HideFile adds a hide marker on top of name. If a retried request finds the
// name already hidden, that counts as done (the returned version then has
// only Name and Action set).
func (m *Mutator) HideFile(ctx context.Context, bucketID, name string) (live.Version, error) {
	return m.obj.HideFile(ctx, bucketID, name)
}

// UploadEmpty uploads a zero-byte file (a .bzEmpty folder placeholder) as
// application/octet-stream.
func (m *Mutator) UploadEmpty(ctx context.Context, bucketName, name string) (live.Version, error) {
	return m.obj.UploadEmpty(ctx, bucketName, name)
}

// CopyFile over S3: CopyObject, or a one-part large copy when the copy must
// carry b2plan's source marker (CopyObject cannot add metadata and keep
// B2's file info exactly; a one-part large copy can, with the same
// verification).
func (s s3Objects) CopyFile(ctx context.Context, r CopyRequest) (live.Version, error) {
	if r.Mark != nil && r.Mark.Size > 0 {
		res, err := s.m.s3CopyLargeFile(ctx, LargeCopyRequest{CopyRequest: r, Source: *r.Mark})
		return res.Version, err
	}
	return s.m.s3CopyFile(ctx, r)
}

func (s s3Objects) CopyLargeFile(ctx context.Context, r LargeCopyRequest) (LargeCopyResult, error) {
	return s.m.s3CopyLargeFile(ctx, r)
}

// DeleteVersion over S3 needs a B2 file id (it names the bucket); any other
// id goes through the native call.
func (s s3Objects) DeleteVersion(ctx context.Context, name, fileID string, bypassGovernance bool) error {
	if bucketIDOfFile(fileID) == "" {
		return s.nativeObjects.DeleteVersion(ctx, name, fileID, bypassGovernance)
	}
	return s.m.s3DeleteVersion(ctx, name, fileID, bypassGovernance)
}

func (s s3Objects) HideFile(ctx context.Context, bucketID, name string) (live.Version, error) {
	return s.m.s3HideFile(ctx, bucketID, name)
}

func (s s3Objects) UploadEmpty(ctx context.Context, bucketName, name string) (live.Version, error) {
	return s.m.s3UploadEmpty(ctx, bucketName, name)
}

// Upload uploads a small file: one b2_upload_file, or one PutObject over S3 (s3_upload.go).
// The returned version has the SHA-1 of data.
func (m *Mutator) Upload(ctx context.Context, bucketName, name, contentType string, data []byte, info map[string]string) (live.Version, error) {
	return m.obj.Upload(ctx, bucketName, name, contentType, data, info)
}

func (o nativeObjects) Upload(ctx context.Context, bucketName, name, contentType string, data []byte, info map[string]string) (live.Version, error) {
	return o.m.nativeUpload(ctx, bucketName, name, contentType, data, info)
}

// Upload over S3; file info S3 metadata cannot carry as it is goes through the native call.
func (s s3Objects) Upload(ctx context.Context, bucketName, name, contentType string, data []byte, info map[string]string) (live.Version, error) {
	if !s3MetaSafe(info) {
		return s.nativeObjects.Upload(ctx, bucketName, name, contentType, data, info)
	}
	return s.m.s3Upload(ctx, bucketName, name, contentType, data, info)
}

// UploadLarge uploads size bytes read from src as a large file whose SHA-1 is sha1Hex
// (recorded as the file info large_file_sha1, so that the finished file has a SHA-1 to
// compare): in parts of partSize bytes (0 = the recommended part size; at least the absolute
// minimum), up to 4 at once, each retried under the shared policy. Natively
// b2_start_large_file, b2_upload_part, b2_finish_large_file (upload_large.go); over S3
// CreateMultipartUpload, UploadPart, CompleteMultipartUpload (s3_upload.go). On failure the
// unfinished file is cancelled.
func (m *Mutator) UploadLarge(ctx context.Context, bucketName, name, contentType string, src io.ReaderAt, size int64, sha1Hex string, info map[string]string, partSize int64) (live.Version, error) {
	r := largeUpload{bucket: bucketName, name: name, contentType: contentType, src: src, size: size, sha1: sha1Hex}
	r.op = fmt.Sprintf("upload large file %s", describe(bucketName, name))
	r.info = map[string]string{"large_file_sha1": sha1Hex}
	for k, v := range info {
		r.info[k] = v
	}
	absMin, rec := m.c.PartSizes()
	if partSize <= 0 {
		partSize = rec
	}
	partSize = max(partSize, absMin)
	if n := (size + partSize - 1) / partSize; n > 10000 {
		partSize = (size + 9999) / 10000
	}
	r.part, r.nparts = partSize, int((size+partSize-1)/partSize)
	if r.nparts < 2 {
		return live.Version{}, &Error{Op: r.op, Class: Permanent, Message: fmt.Sprintf("%d bytes fit in one part of %d: upload it with Upload", size, partSize)}
	}
	return m.obj.UploadLarge(ctx, r)
}

// largeUpload is one UploadLarge, its parts computed.
type largeUpload struct {
	op, bucket, name, contentType, sha1 string
	info                                map[string]string // with large_file_sha1
	src                                 io.ReaderAt
	size, part                          int64
	nparts                              int
}

// read returns part i (0-based).
func (r *largeUpload) read(i int) ([]byte, error) {
	first := int64(i) * r.part
	data := make([]byte, min(r.part, r.size-first))
	if _, err := r.src.ReadAt(data, first); err != nil && !(errors.Is(err, io.EOF) && len(data) > 0) {
		return nil, fmt.Errorf("%s: read part %d: %w", r.op, i+1, err)
	}
	return data, nil
}

func (o nativeObjects) UploadLarge(ctx context.Context, r largeUpload) (live.Version, error) {
	return o.m.nativeUploadLarge(ctx, r)
}

func (s s3Objects) UploadLarge(ctx context.Context, r largeUpload) (live.Version, error) {
	if !s3MetaSafe(r.info) {
		return s.nativeObjects.UploadLarge(ctx, r)
	}
	return s.m.s3UploadLarge(ctx, r)
}
