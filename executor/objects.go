package executor

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"strings"
	"time"

	"github.com/b2plan/b2plan/live"
	"github.com/b2plan/b2plan/planner"
)

// Uploader is implemented by a Mutator that uploads small files (*b2client.Mutator: one
// b2_upload_file, which checks the SHA-1 it is sent; over an S3 endpoint one PutObject,
// checked by its ETag). Object changes need it.
type Uploader interface {
	Upload(ctx context.Context, bucketName, name, contentType string, data []byte, info map[string]string) (live.Version, error)
}

// LargeUploader is implemented by a Mutator that uploads large files in parts
// (*b2client.Mutator: native large file calls, or an S3 multipart upload). Objects larger
// than the part size need it.
type LargeUploader interface {
	UploadLarge(ctx context.Context, bucketName, name, contentType string, src io.ReaderAt, size int64, sha1Hex string, info map[string]string, partSize int64) (live.Version, error)
}

// uploadObject uploads a declared object (create, update: a new version of the name): with
// one b2_upload_file up to the part size, as a large file above it. The content must still
// have the SHA-1 the plan compared: a source file changed since is not uploaded.
func (r *run) uploadObject(ch *planner.Change) error {
	oc := ch.Object
	if oc == nil {
		return errors.New("plan has no object data for this change")
	}
	if r.bucketFailed(oc.Bucket) {
		return fmt.Errorf("not uploaded: bucket %q failed", oc.Bucket)
	}
	r.emit(Event{Kind: ResourceStart, Address: ch.Address, Action: ch.Action})
	var src io.ReaderAt = strings.NewReader(oc.Content)
	var before os.FileInfo
	if oc.Source != "" {
		f, err := os.Open(oc.Source)
		if err != nil {
			return fmt.Errorf("read source: %w", err)
		}
		defer f.Close()
		if before, err = f.Stat(); err != nil {
			return fmt.Errorf("read source: %w", err)
		}
		src = f
	}
	part := r.opts.PartSize
	if part <= 0 {
		part = r.p.CopyLimits().PartSize
	}
	lu, large := r.m.(LargeUploader)
	large = large && oc.Size > part
	// A small file is read once and the bytes read are the bytes checked and uploaded; a
	// large one is hashed here and its parts read again by the upload.
	var data []byte
	h := sha1.New()
	var n int64
	var err error
	if large {
		n, err = io.Copy(h, io.NewSectionReader(src, 0, oc.Size+1))
	} else {
		data, err = io.ReadAll(io.NewSectionReader(src, 0, oc.Size+1))
		n = int64(len(data))
		h.Write(data)
	}
	if err != nil {
		return fmt.Errorf("read source %s: %w", oc.Source, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != oc.SHA1 || n != oc.Size {
		return fmt.Errorf("the content changed since the plan (SHA-1 %s, %d bytes; planned %s, %d bytes): nothing uploaded; run plan again", got, n, oc.SHA1, oc.Size)
	}
	var v live.Version
	started := time.Now()
	if large {
		v, err = lu.UploadLarge(r.work, oc.Bucket, oc.Name, oc.ContentType, src, oc.Size, oc.SHA1, oc.Info, part)
		if err == nil && before != nil && v.ID != "" {
			// The parts were read again after the hash: a file written meanwhile would be
			// stored under the SHA-1 of its former content. Its version is removed.
			if after, serr := os.Stat(oc.Source); serr != nil || after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) {
				if derr := r.deleteVersions([]planner.ObjectRef{{Name: oc.Name, ID: v.ID}}, nil); derr != nil {
					return fmt.Errorf("the source %s changed during the upload, and deleting the uploaded version %s failed: %v; delete it, then run plan again", oc.Source, v.ID, derr)
				}
				return fmt.Errorf("the source %s changed during the upload: the uploaded version was deleted; run plan again", oc.Source)
			}
		}
	} else if up, ok := r.m.(Uploader); ok {
		v, err = up.Upload(r.work, oc.Bucket, oc.Name, oc.ContentType, data, oc.Info)
	} else {
		return errors.New("this connection cannot upload files")
	}
	if serr := r.settleUpload(ch, started, err); serr != nil {
		return serr
	} else if err != nil {
		v = live.Version{} // a lost reply: the upload took effect (settleUpload found it)
	}
	if v.HasSHA1() && v.SHA1Hex() != oc.SHA1 {
		return fmt.Errorf("B2 stored SHA-1 %s, not %s", v.SHA1Hex(), oc.SHA1)
	}
	r.count(ch.Action)
	r.emit(Event{Kind: ResourceDone, Address: ch.Address, Action: ch.Action})
	return nil
}

// deleteObject deletes the versions of a destroyed object.
func (r *run) deleteObject(ch *planner.Change) error {
	if ch.Object == nil {
		return errors.New("plan has no object data for this change")
	}
	r.emit(Event{Kind: ResourceStart, Address: ch.Address, Action: ch.Action})
	if err := r.deleteVersions(ch.Object.Versions, nil); err != nil {
		return err
	}
	r.count(planner.Delete)
	r.emit(Event{Kind: ResourceDone, Address: ch.Address, Action: ch.Action})
	return nil
}

// settleUpload runs after an object's upload, whatever it returned: a retried upload whose
// earlier attempt took effect (its reply lost) leaves the same content twice, and an upload
// reported failed may have taken effect. It lists the name's versions (when apply may list).
// The newest versions holding the planned content that the plan did not see and that were
// uploaded since this upload started (less uploadSkew) are this upload's: all but the newest
// of them are deleted. Versions the plan saw, or older ones, are never touched (-replace of
// an unchanged object keeps them). It returns nil when the newest version is one of this
// upload's, else upErr (or, without a listing, upErr). Versions Object Lock keeps are left,
// with a note.
func (r *run) settleUpload(ch *planner.Change, started time.Time, upErr error) error {
	oc := ch.Object
	if r.opts.List == nil {
		return upErr
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.work), lostKeyCleanup)
	defer cancel()
	l, err := r.opts.List.List(ctx, live.Request{Prefixes: []live.PrefixRequest{{BucketName: oc.Bucket, Prefix: oc.Name}}})
	if err != nil || len(l.Listings) != 1 {
		if upErr != nil {
			return upErr
		}
		r.emit(Event{Kind: Note, Address: ch.Address, Message: fmt.Sprintf("uploaded; checking for duplicate versions failed: %v", err)})
		return nil
	}
	seen := make(map[string]bool, len(oc.Seen))
	for _, id := range oc.Seen {
		seen[id] = true
	}
	since := started.Add(-uploadSkew).UnixMilli()
	same := func(v *live.Version) bool {
		if seen[v.ID] || v.Uploaded < since || v.Action != live.ActionUpload || v.SHA1Hex() != oc.SHA1 || v.Size != oc.Size {
			return false
		}
		if oc.ContentType != "" && oc.ContentType != "b2/x-auto" && v.ContentType != oc.ContentType {
			return false
		}
		return maps.Equal(planner.UserInfo(v.Info), oc.Info)
	}
	var run []planner.ObjectRef // the newest versions: this upload's
	for _, v := range l.Listings[0].Versions {
		if v.Name != oc.Name {
			continue
		}
		if !same(&v) {
			break
		}
		run = append(run, planner.ObjectRef{Name: v.Name, ID: v.ID})
	}
	if len(run) == 0 {
		if upErr != nil {
			return upErr
		}
		return fmt.Errorf("uploaded, but the newest version of %q no longer holds the planned content (another upload since?)", oc.Name)
	}
	if extra := run[1:]; len(extra) > 0 {
		if err := r.deleteVersions(extra, nil); err != nil {
			r.emit(Event{Kind: Note, Address: ch.Address, Message: fmt.Sprintf("a retried upload left %d copies of the content; deleting them: %v", len(extra), err)})
		} else {
			r.emit(Event{Kind: Note, Address: ch.Address, Message: fmt.Sprintf("a retried upload had taken effect more than once: %d extra copies deleted", len(extra))})
		}
	}
	return nil
}

// uploadSkew is how far B2's upload timestamps may lag this machine's clock: a version
// stamped earlier than an upload's start minus this is not the upload's.
const uploadSkew = 5 * time.Minute
