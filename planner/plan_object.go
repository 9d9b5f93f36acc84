package planner

import (
	"fmt"
	"sort"
	"strings"

	"github.com/b2plan/b2plan/config"
	"github.com/b2plan/b2plan/live"
)

// ObjectChange is a declared object to upload (Create, Update) or, for destroy, whose
// versions to delete (Delete).
type ObjectChange struct {
	Bucket string `json:"bucket"`
	Name   string `json:"name"`
	// Source is the file to upload (its SHA-1 must still be SHA1 at apply); Content the inline
	// content when Source is "".
	Source      string            `json:"source,omitempty"`
	Content     string            `json:"content,omitempty"`
	ContentType string            `json:"content_type,omitempty"`
	Info        map[string]string `json:"info,omitempty"`
	SHA1        string            `json:"sha1,omitempty"`
	Size        int64             `json:"size,omitempty"`
	// Versions are the versions of the name a destroy deletes.
	Versions []ObjectRef `json:"versions,omitempty"`
	// Seen are the ids of the name's versions the plan listed: apply never takes them for
	// copies left by its own retried upload (executor settleUpload).
	Seen []string `json:"seen,omitempty"`
}

func objectAttrs(bucket, name, sha string, size int64, ct string, info map[string]string) []Attr {
	if info == nil {
		info = map[string]string{}
	}
	return []Attr{{Name: "bucket", Value: raw(bucket)}, {Name: "name", Value: raw(name)},
		{Name: "sha1", Value: raw(sha)}, {Name: "size", Value: raw(size)},
		{Name: "content_type", Value: raw(ct)}, {Name: "info", Value: raw(info)}}
}

// objectVersions returns the versions of exactly name (newest first), from the listings.
func objectVersions(l *live.Live, bucket, name string) ([]live.Version, bool) {
	vs, _, _, ok := findListing(l, bucket, name)
	var out []live.Version
	for _, v := range vs {
		if v.Name == name && v.Action != live.ActionStart && v.Action != live.ActionFolder {
			out = append(out, v)
		}
	}
	return out, ok
}

// planObjects compares every declared object with the newest live version of its name: by
// SHA-1, content type and file info; it uploads the object when it is absent, hidden or
// different (or forced with -replace). Objects are never deleted by a plan; destroy deletes
// them (plan_destroy.go).
func (pl *planner) planObjects() {
	for _, o := range pl.d.Objects {
		if !pl.targeted(o.Address) {
			continue
		}
		oc := &ObjectChange{Bucket: o.Bucket, Name: o.Name, Source: o.Source, Content: o.Content,
			ContentType: o.ContentType, Info: lowerInfo(o.Info), SHA1: o.SHA1, Size: o.Size}
		after := objectAttrs(o.Bucket, o.Name, o.SHA1, o.Size, o.ContentType, oc.Info)
		if pl.l.Bucket(o.Bucket) == nil {
			if _, ok := pl.declaredBuckets[strings.ToLower(o.Bucket)]; !ok {
				pl.errorf(rangePtr(o.Range), "Unknown bucket "+o.Bucket,
					"%s is in bucket %q, which neither exists nor is declared. Declare the bucket or fix the name.", o.Address, o.Bucket)
				continue
			}
			ch := newChange(o.Address, "object", Create)
			ch.After, ch.Object = after, oc
			pl.p.Changes = append(pl.p.Changes, ch)
			continue
		}
		vs, ok := objectVersions(pl.l, o.Bucket, o.Name)
		if !ok {
			pl.errorf(rangePtr(o.Range), "Object not observed",
				"%s: the name %q of bucket %q was not listed. Plan with the live request from planner.LiveRequest.", o.Address, o.Name, o.Bucket)
			continue
		}
		for i := range vs {
			oc.Seen = append(oc.Seen, vs[i].ID)
		}
		if len(vs) == 0 || vs[0].Action != live.ActionUpload {
			ch := newChange(o.Address, "object", Create)
			ch.After, ch.Object = after, oc
			if len(vs) > 0 {
				ch.Reason = "the name is hidden: uploaded again"
			}
			pl.p.Changes = append(pl.p.Changes, ch)
			continue
		}
		v := &vs[0]
		ch := newChange(o.Address, "object", NoOp)
		ch.Object = oc
		ch.Before = objectAttrs(o.Bucket, o.Name, v.SHA1Hex(), v.Size, v.ContentType, lowerInfo(v.Info))
		ch.After = after
		var why []string
		if !v.HasSHA1() {
			ch.Changed = append(ch.Changed, "sha1")
			why = append(why, "the live version has no SHA-1 to compare")
		} else if v.SHA1Hex() != o.SHA1 {
			ch.Changed = append(ch.Changed, "sha1")
		}
		if v.Size != o.Size {
			ch.Changed = append(ch.Changed, "size")
		}
		if v.ContentType != o.ContentType {
			ch.Changed = append(ch.Changed, "content_type")
		}
		if !mapsEqual(UserInfo(v.Info), oc.Info) {
			ch.Changed = append(ch.Changed, "info")
		}
		if len(ch.Changed) > 0 {
			why = append(why, "B2 file versions cannot be changed ("+strings.Join(ch.Changed, ", ")+" differ): a new version is uploaded")
		}
		if pl.replaceRequested(o.Address) {
			why = append(why, ReplaceReason)
		}
		if len(why) > 0 {
			ch.Action = Update
			ch.Reason = strings.Join(why, "; ")
		}
		pl.p.Changes = append(pl.p.Changes, ch)
	}
}

// UserInfo is a version's file info as an object block declares it: keys lowercased, without
// the keys B2 and its tools add on their own (large_file_sha1); nil when empty.
func UserInfo(m map[string]string) map[string]string {
	out := lowerInfo(m)
	delete(out, "large_file_sha1")
	if len(out) == 0 {
		return nil
	}
	return out
}

// destroyObjects plans the deletion of every version of each declared object's name;
// planned records them so that the bucket's emptiness check leaves them out.
func (pl *planner) destroyObjects(planned map[string]bool) {
	for _, o := range pl.d.Objects {
		if !pl.targeted(o.Address) || pl.l.Bucket(o.Bucket) == nil {
			continue
		}
		vs, ok := objectVersions(pl.l, o.Bucket, o.Name)
		if !ok {
			pl.errorf(rangePtr(o.Range), "Object not observed",
				"%s: the name %q of bucket %q was not listed. Plan with the live request from planner.DestroyRequest.", o.Address, o.Name, o.Bucket)
			continue
		}
		if len(vs) == 0 {
			continue
		}
		oc := &ObjectChange{Bucket: o.Bucket, Name: o.Name}
		for _, v := range vs {
			oc.Versions = append(oc.Versions, ObjectRef{Name: v.Name, ID: v.ID})
			planned[strings.ToLower(o.Bucket)+"\x00"+v.ID] = true
		}
		ch := newChange(o.Address, "object", Delete)
		if len(vs) > 1 {
			ch.Reason = fmt.Sprintf("deletes all %d versions of the name", len(vs))
		}
		ch.Before = objectAttrs(o.Bucket, o.Name, vs[0].SHA1Hex(), vs[0].Size, vs[0].ContentType, lowerInfo(vs[0].Info))
		ch.Object = oc
		pl.p.Changes = append(pl.p.Changes, ch)
	}
}

// objectPrefixes are the listings objects need: each name (a prefix listing covering it).
func objectPrefixes(d *config.Desired) []live.PrefixRequest {
	var ps []live.PrefixRequest
	for _, o := range d.Objects {
		ps = append(ps, live.PrefixRequest{BucketName: o.Bucket, Prefix: o.Name})
	}
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Prefix < ps[j].Prefix })
	return ps
}
