package b2client

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/b2plan/b2plan/live"
)

// MaxCopyFileSize is the largest result b2_copy_file may produce; bigger
// files are copied with CopyLargeFile.
const MaxCopyFileSize = 5_000_000_000

// CopyRequest is one server-side copy.
type CopyRequest struct {
	SourceFileID string
	SourceName   string // for messages
	SourceBucket string // bucket name, for messages (optional)
	// DestBucketID is the destination bucket; "" = the source's bucket.
	DestBucketID string
	DestBucket   string // bucket name, for messages (optional)
	DestName     string
	// Mark, when set, is the source version (its ContentType, Info, ID):
	// the copy gets the source's content type and file info plus
	// live.SourceIDKey = the source's file id (b2_copy_file with
	// metadataDirective REPLACE; start_large_file for large copies), so that
	// a later run recognises the copy as b2plan's verified copy of exactly
	// that version although neither side has a SHA-1 (docs/moves.md,
	// "Content identity"). A source that already has MaxFileInfo entries
	// is copied without the marker (see Marked).
	Mark *live.Version
	// Lock, when set, gives the copy this Object Lock retention and legal
	// hold (fileRetention / legalHold of b2_copy_file and
	// b2_start_large_file; the destination bucket must have Object Lock
	// enabled and the key writeFileRetentions / writeFileLegalHolds).
	Lock *CopyLock
}

// CopyLock is the Object Lock protection a copy is made with.
type CopyLock struct {
	Mode        string // "governance" or "compliance"; "" = no retention
	RetainUntil int64  // milliseconds since the epoch
	LegalHold   bool
}

// lockJSON is CopyLock in B2's request form.
type lockJSON struct {
	FileRetention *fileRetentionJSON `json:"fileRetention,omitempty"`
	LegalHold     string             `json:"legalHold,omitempty"`
}

type fileRetentionJSON struct {
	Mode                 string `json:"mode"`
	RetainUntilTimestamp int64  `json:"retainUntilTimestamp"`
}

func (l *CopyLock) json() lockJSON {
	var j lockJSON
	if l == nil {
		return j
	}
	if l.Mode != "" {
		j.FileRetention = &fileRetentionJSON{Mode: l.Mode, RetainUntilTimestamp: l.RetainUntil}
	}
	if l.LegalHold {
		j.LegalHold = "on"
	}
	return j
}

// MaxFileInfo is B2's limit of file info entries per version.
const MaxFileInfo = 10

// Marked reports whether a copy of v made with Mark set carries the source
// id marker: v has room for one more file info entry (or has the key).
func Marked(v *live.Version) bool {
	_, has := v.Info[live.SourceIDKey]
	return has || len(v.Info) < MaxFileInfo
}

// copyInfo is the file info of a copy of src made with new metadata: src's
// own, plus large_file_sha1 when its SHA-1 is known, plus the source id
// marker when mark is set and there is room.
func copyInfo(src *live.Version, mark bool) map[string]string {
	info := maps.Clone(src.Info)
	if info == nil {
		info = map[string]string{}
	}
	if src.HasSHA1() {
		if _, ok := info["large_file_sha1"]; !ok && len(info) < MaxFileInfo {
			info["large_file_sha1"] = src.SHA1Hex()
		}
	}
	if _, has := info[live.SourceIDKey]; mark && (has || len(info) < MaxFileInfo) {
		info[live.SourceIDKey] = src.ID
	}
	if len(info) == 0 {
		return nil
	}
	return info
}

func (r CopyRequest) op(verb string) string {
	return fmt.Sprintf("%s %s → %s", verb, describe(r.SourceBucket, r.SourceName), describe(r.DestBucket, r.DestName))
}

// CopyFile with b2_copy_file, keeping the content type and file info
// (metadataDirective COPY, or REPLACE to add the source marker).
func (o nativeObjects) CopyFile(ctx context.Context, r CopyRequest) (live.Version, error) {
	m := o.m
	req := struct {
		SourceFileID      string            `json:"sourceFileId"`
		FileName          string            `json:"fileName"`
		DestinationBucket string            `json:"destinationBucketId,omitempty"`
		MetadataDirective string            `json:"metadataDirective"`
		ContentType       string            `json:"contentType,omitempty"`
		FileInfo          map[string]string `json:"fileInfo,omitempty"`
		lockJSON
	}{r.SourceFileID, r.DestName, r.DestBucketID, "COPY", "", nil, r.Lock.json()}
	if r.Mark != nil {
		req.MetadataDirective = "REPLACE"
		req.ContentType = r.Mark.ContentType
		if req.ContentType == "" {
			req.ContentType = "b2/x-auto"
		}
		req.FileInfo = copyInfo(r.Mark, true)
		if req.FileInfo == nil {
			req.FileInfo = map[string]string{}
		}
	}
	var resp fileReply
	op := func() string { return r.op("copy_file") }
	if _, err := m.c.callLazy(ctx, op, "b2_copy_file", req, &resp, true); err != nil {
		return live.Version{}, err
	}
	return resp.v, nil
}

// LargeCopyRequest copies a version of any size as a large file.
type LargeCopyRequest struct {
	CopyRequest
	// Source must carry Size, ContentType, Info and (if known) SHA1; its ID
	// is used when SourceFileID is empty.
	Source live.Version
	// DestBucketID is required (b2_start_large_file needs it).
	// PartSize defaults to the account's recommended part size; it is raised
	// to keep at most 10,000 parts and never below the absolute minimum.
	PartSize int64
	// Parallelism bounds concurrent b2_copy_part calls (default 4).
	Parallelism int
}

// LargeCopyResult is a finished large-file copy.
type LargeCopyResult struct {
	Version   live.Version
	PartSHA1s []string // hex SHA-1 of each part, part 1 first
}

// CopyLargeFile copies with b2_start_large_file (same content type and file
// info, plus large_file_sha1 when the source's SHA-1 is known, plus the
// source id marker live.SourceIDKey), parallel
// b2_copy_part calls and b2_finish_large_file. On failure the unfinished
// large file is cancelled. If finishing failed ambiguously, the file is
// looked up and a finished one counts as success.
func (o nativeObjects) CopyLargeFile(ctx context.Context, r LargeCopyRequest) (LargeCopyResult, error) {
	m := o.m
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
	absMin, rec := m.c.PartSizes()
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
	if nparts < 2 {
		// B2 refuses to finish a large file of one part: split the source
		// in two, the first part at least the minimum.
		part = max(absMin, (size+1)/2)
		if part >= size {
			return LargeCopyResult{}, &Error{Op: op, Class: Permanent, Message: fmt.Sprintf(
				"source is %d bytes: a large file needs at least two parts, all but the last of %d bytes or more; copy it with CopyFile", size, absMin)}
		}
		nparts = 2
	}

	// Every large copy carries the source id marker (when there is room),
	// so that an unfinished one a kill left behind is recognisable as
	// b2plan's and cancelled by the next apply.
	info := copyInfo(&r.Source, true)
	ct := r.Source.ContentType
	if ct == "" {
		ct = "b2/x-auto"
	}
	start := struct {
		BucketID    string            `json:"bucketId"`
		FileName    string            `json:"fileName"`
		ContentType string            `json:"contentType"`
		FileInfo    map[string]string `json:"fileInfo,omitempty"`
		lockJSON
	}{r.DestBucketID, r.DestName, ct, info, r.Lock.json()}
	var started fileJSON
	// A retried start after a lost reply leaves an orphan unfinished large
	// file at worst (billed parts: none); lifecycle rules or a later listing
	// clean it up. So it is retried like any idempotent call.
	if _, err := m.c.call(ctx, op+": start", "b2_start_large_file", start, &started, false); err != nil {
		return LargeCopyResult{}, err
	}
	largeID := started.FileID
	cancel := func(cause error) error {
		cctx, done := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer done()
		req := struct {
			FileID string `json:"fileId"`
		}{largeID}
		if _, err := m.c.call(cctx, op+": cancel", "b2_cancel_large_file", req, nil, false); err != nil {
			return fmt.Errorf("%w (and cancelling the unfinished large file %s failed: %v)", cause, largeID, err)
		}
		return cause
	}

	shas := make([]string, nparts)
	par := r.Parallelism
	if par <= 0 {
		par = 4
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(par)
	for i := 0; i < nparts; i++ {
		g.Go(guard(func() error {
			first := int64(i) * part
			last := first + part - 1
			if last >= size {
				last = size - 1
			}
			req := struct {
				SourceFileID string `json:"sourceFileId"`
				LargeFileID  string `json:"largeFileId"`
				PartNumber   int    `json:"partNumber"`
				Range        string `json:"range"`
			}{r.SourceFileID, largeID, i + 1, fmt.Sprintf("bytes=%d-%d", first, last)}
			var resp struct {
				ContentSha1   string `json:"contentSha1"`
				ContentLength int64  `json:"contentLength"`
			}
			// Copying a part again replaces it: safe to retry.
			if _, err := m.c.call(gctx, fmt.Sprintf("%s: copy part %d", op, i+1), "b2_copy_part", req, &resp, false); err != nil {
				return err
			}
			if resp.ContentLength != last-first+1 {
				return &Error{Op: fmt.Sprintf("%s: copy part %d", op, i+1), Class: Permanent, Message: fmt.Sprintf("part has %d bytes, want %d", resp.ContentLength, last-first+1)}
			}
			shas[i] = resp.ContentSha1
			return nil
		}))
	}
	if err := g.Wait(); err != nil {
		return LargeCopyResult{}, cancel(err)
	}

	fin := struct {
		FileID string   `json:"fileId"`
		SHA1s  []string `json:"partSha1Array"`
	}{largeID, shas}
	var done fileJSON
	// Finishing is not idempotent, but repeating it is safe: a large file
	// finishes once, and a repeat after it did fails. So after an unknown
	// outcome it is repeated, and whenever a finish fails the file is
	// looked up: finished = done.
	ambiguous := false
	for attempt := 1; ; attempt++ {
		_, err := m.c.call(ctx, op+": finish", "b2_finish_large_file", fin, &done, true)
		if err == nil {
			break
		}
		if ambiguous || errors.Is(err, Ambiguous) {
			if v, gerr := m.c.getFileInfo(ctx, op+": check finish", largeID); gerr == nil && v.Action == live.ActionUpload {
				return LargeCopyResult{Version: v, PartSHA1s: shas}, nil
			}
		}
		if !errors.Is(err, Ambiguous) || attempt >= 5 {
			return LargeCopyResult{}, cancel(err)
		}
		ambiguous = true
	}
	return LargeCopyResult{Version: (&versionBuilder{}).build(&done), PartSHA1s: shas}, nil
}

// CancelLargeFile cancels an unfinished large file (b2_cancel_large_file;
// over an S3 endpoint too, with the native token: the upload id is the
// large file id). Already gone counts as done.
func (m *Mutator) CancelLargeFile(ctx context.Context, fileID, name string) error {
	req := struct {
		FileID string `json:"fileId"`
	}{fileID}
	_, err := m.c.call(ctx, "cancel unfinished large file "+name+" ("+fileID+")", "b2_cancel_large_file", req, nil, false)
	if errors.Is(err, NotFound) {
		return nil
	}
	return err
}
