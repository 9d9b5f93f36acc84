package b2client

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/b2plan/b2plan/live"
)

// nativeUploadLarge is UploadLarge with B2's native calls: b2_start_large_file, parts with
// b2_get_upload_part_url + b2_upload_part, b2_finish_large_file. A finish whose outcome is
// unknown is checked with b2_get_file_info.
func (m *Mutator) nativeUploadLarge(ctx context.Context, r largeUpload) (live.Version, error) {
	c := m.c
	op, bucketName, name, contentType := r.op, r.bucket, r.name, r.contentType
	nparts := r.nparts
	b, err := c.bucketByName(ctx, bucketName)
	if err != nil {
		return live.Version{}, err
	}
	if b == nil {
		return live.Version{}, &Error{Op: op, Class: NotFound, Message: fmt.Sprintf("no bucket named %q in this account", bucketName)}
	}
	fi := r.info
	if contentType == "" {
		contentType = "b2/x-auto"
	}
	start := struct {
		BucketID    string            `json:"bucketId"`
		FileName    string            `json:"fileName"`
		ContentType string            `json:"contentType"`
		FileInfo    map[string]string `json:"fileInfo"`
	}{b.ID, name, contentType, fi}
	var started fileJSON
	if _, err := c.call(ctx, op+": start", "b2_start_large_file", start, &started, false); err != nil {
		return live.Version{}, err
	}
	largeID := started.FileID
	cancel := func(cause error) error {
		cctx, done := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer done()
		req := struct {
			FileID string `json:"fileId"`
		}{largeID}
		if _, err := c.call(cctx, op+": cancel", "b2_cancel_large_file", req, nil, false); err != nil {
			return fmt.Errorf("%w (and cancelling the unfinished large file %s failed: %v)", cause, largeID, err)
		}
		return cause
	}
	shas := make([]string, nparts)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for i := 0; i < nparts; i++ {
		g.Go(guard(func() error {
			data, err := r.read(i)
			if err != nil {
				return err
			}
			sum := sha1.Sum(data)
			shas[i] = hex.EncodeToString(sum[:])
			// Uploading a part again replaces it: safe to retry, each attempt with a new
			// part URL.
			_, err = c.retry(gctx, fmt.Sprintf("%s: part %d", op, i+1), false, nil, func(ctx context.Context) attemptResult {
				a := c.current()
				var up struct {
					URL   string `json:"uploadUrl"`
					Token string `json:"authorizationToken"`
				}
				body := []byte(`{"fileId":"` + largeID + `"}`)
				if r := c.doJSON(ctx, "POST", a.apiURL+"/b2api/v4/b2_get_upload_part_url", a.token, body, &up, false); !r.ok() {
					return r
				}
				req, err := http.NewRequestWithContext(ctx, "POST", up.URL, bytes.NewReader(data))
				if err != nil {
					return attemptResult{err: err}
				}
				req.ContentLength = int64(len(data))
				req.Header.Set("Authorization", up.Token)
				req.Header.Set("X-Bz-Part-Number", strconv.Itoa(i+1))
				req.Header.Set("X-Bz-Content-Sha1", shas[i])
				req.Header.Set("User-Agent", c.ua)
				var out struct{}
				resp, err := c.client.Do(req)
				return c.finish(resp, err, nil, &out)
			})
			return err
		}))
	}
	if err := g.Wait(); err != nil {
		return live.Version{}, cancel(err)
	}
	fin := struct {
		FileID string   `json:"fileId"`
		SHA1s  []string `json:"partSha1Array"`
	}{largeID, shas}
	var done fileJSON
	for attempt := 1; ; attempt++ {
		_, err := c.call(ctx, op+": finish", "b2_finish_large_file", fin, &done, true)
		if err == nil {
			break
		}
		if errors.Is(err, Ambiguous) || attempt > 1 {
			if v, gerr := c.getFileInfo(ctx, op+": check finish", largeID); gerr == nil && v.Action == live.ActionUpload {
				return v, nil
			}
		}
		if !errors.Is(err, Ambiguous) || attempt >= 5 {
			return live.Version{}, cancel(err)
		}
	}
	return (&versionBuilder{}).build(&done), nil
}
