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

// contentSink is a response body hashed while it is copied to w (never kept in memory);
// reset, when set, starts w over before each attempt.
type contentSink struct {
	w     io.Writer
	reset func() error
	h     ContentHash
}

func (s *contentSink) decodeFrom(r io.Reader) error {
	if s.reset != nil {
		if err := s.reset(); err != nil {
			return err
		}
	}
	hh := sha1.New()
	n, err := io.Copy(io.MultiWriter(s.w, hh), r)
	if err != nil {
		return err
	}
	s.h.Size = n
	copy(s.h.SHA1[:], hh.Sum(nil))
	return nil
}

// download streams one version (b2_download_file_by_id, a class B transaction; over an S3
// endpoint too, with the native token) into sink. A failed download is retried from the
// start under the connection's policy.
func (m *Mutator) download(ctx context.Context, op, fileID string, sink *contentSink) (ContentHash, error) {
	c := m.c
	_, err := c.retry(ctx, op, false, nil, func(ctx context.Context) attemptResult {
		a := c.current()
		u := a.downloadURL + "/b2api/v4/b2_download_file_by_id?fileId=" + url.QueryEscape(fileID)
		return c.doJSON(ctx, "GET", u, a.token, nil, sink, false)
	})
	if err != nil {
		return ContentHash{}, err
	}
	return sink.h, nil
}

// HashVersion downloads one version and returns the size and SHA-1 of its bytes, computed
// while streaming. It is how verify = "download" compares versions that carry no SHA-1.
func (m *Mutator) HashVersion(ctx context.Context, fileID, name string) (ContentHash, error) {
	return m.download(ctx, "download "+name+" ("+fileID+") to hash it", fileID, &contentSink{w: io.Discard})
}

// DownloadVersion downloads one version into f and returns the size and SHA-1 of the bytes
// written, for the caller to compare with the version's. Each attempt truncates f.
func (m *Mutator) DownloadVersion(ctx context.Context, fileID, name string, f *os.File) (ContentHash, error) {
	reset := func() error {
		if err := f.Truncate(0); err != nil {
			return err
		}
		_, err := f.Seek(0, io.SeekStart)
		return err
	}
	return m.download(ctx, "download "+name+" ("+fileID+")", fileID, &contentSink{w: f, reset: reset})
}
