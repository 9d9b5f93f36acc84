package b2client

import (
	"context"
	"crypto/sha1"
	"io"
	"net/url"
	"os"
)

// ContentHash is the size and SHA-1 of a version's bytes as downloaded.
type ContentHash struct {
	Size int64
	SHA1 [20]byte
}

// hashSink is a response body that is hashed, never kept in memory.
type hashSink struct{ h ContentHash }

func (s *hashSink) decodeFrom(r io.Reader) error {
	hh := sha1.New()
	n, err := io.Copy(hh, r)
	if err != nil {
		return err
	}
	s.h.Size = n
	copy(s.h.SHA1[:], hh.Sum(nil))
	return nil
}

// HashVersion downloads one version (b2_download_file_by_id, a class B
// transaction; over an S3 endpoint too, with the native token) and returns
// the size and SHA-1 of its bytes, computed while streaming. It is how
// verify = "download" compares versions that carry no SHA-1. A failed
// download is retried from the start under the connection's policy.
func (m *Mutator) HashVersion(ctx context.Context, fileID, name string) (ContentHash, error) {
	c := m.c
	op := "download " + name + " (" + fileID + ") to hash it"
	var sink hashSink
	_, err := c.retry(ctx, op, false, nil, func(ctx context.Context) attemptResult {
		a := c.current()
		u := a.downloadURL + "/b2api/v4/b2_download_file_by_id?fileId=" + url.QueryEscape(fileID)
		return c.doJSON(ctx, "GET", u, a.token, nil, &sink, false)
	})
	if err != nil {
		return ContentHash{}, err
	}
	return sink.h, nil
}

// fileSink is a response body written to a file and hashed; each attempt starts the file
// over.
type fileSink struct {
	f *os.File
	h ContentHash
}

func (s *fileSink) decodeFrom(r io.Reader) error {
	if err := s.f.Truncate(0); err != nil {
		return err
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	hh := sha1.New()
	n, err := io.Copy(io.MultiWriter(s.f, hh), r)
	if err != nil {
		return err
	}
	s.h.Size = n
	copy(s.h.SHA1[:], hh.Sum(nil))
	return nil
}

// DownloadVersion downloads one version into f (b2_download_file_by_id, as HashVersion) and
// returns the size and SHA-1 of the bytes written, for the caller to compare with the
// version's. A failed download is retried from the start, f truncated.
func (m *Mutator) DownloadVersion(ctx context.Context, fileID, name string, f *os.File) (ContentHash, error) {
	c := m.c
	op := "download " + name + " (" + fileID + ")"
	sink := fileSink{f: f}
	_, err := c.retry(ctx, op, false, nil, func(ctx context.Context) attemptResult {
		a := c.current()
		u := a.downloadURL + "/b2api/v4/b2_download_file_by_id?fileId=" + url.QueryEscape(fileID)
		return c.doJSON(ctx, "GET", u, a.token, nil, &sink, false)
	})
	if err != nil {
		return ContentHash{}, err
	}
	return sink.h, nil
}
