package executor

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/b2plan/b2plan/live"
	"github.com/b2plan/b2plan/planner"
)

// Uploader is implemented by a Mutator that uploads small files (*b2client.Mutator: one
// b2_upload_file, which checks the SHA-1 it is sent). Object changes need it.
type Uploader interface {
	Upload(ctx context.Context, bucketName, name, contentType string, data []byte, info map[string]string) (live.Version, error)
}

// uploadObject uploads a declared object (create, update: a new version of the name). The
// content must still have the SHA-1 the plan compared: a source file changed since is not
// uploaded.
func (r *run) uploadObject(ch *planner.Change) error {
	oc := ch.Object
	if oc == nil {
		return errors.New("plan has no object data for this change")
	}
	up, ok := r.m.(Uploader)
	if !ok {
		return errors.New("this connection cannot upload files")
	}
	if r.bucketFailed(oc.Bucket) {
		return fmt.Errorf("not uploaded: bucket %q failed", oc.Bucket)
	}
	r.emit(Event{Kind: ResourceStart, Address: ch.Address, Action: ch.Action})
	data := []byte(oc.Content)
	if oc.Source != "" {
		f, err := os.Open(oc.Source)
		if err != nil {
			return fmt.Errorf("read source: %w", err)
		}
		data, err = io.ReadAll(io.LimitReader(f, oc.Size+1))
		f.Close()
		if err != nil {
			return fmt.Errorf("read source %s: %w", oc.Source, err)
		}
	}
	sum := sha1.Sum(data)
	if got := hex.EncodeToString(sum[:]); got != oc.SHA1 || int64(len(data)) != oc.Size {
		return fmt.Errorf("the content changed since the plan (SHA-1 %s, planned %s): nothing uploaded; run plan again", got, oc.SHA1)
	}
	v, err := up.Upload(r.work, oc.Bucket, oc.Name, oc.ContentType, data, oc.Info)
	if err != nil {
		return err
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
