package planner

import (
	"fmt"
	"strings"

	"github.com/b2plan/b2plan/config"
	"github.com/b2plan/b2plan/live"
)

// ObjectRef is one file version (or unfinished large file) a destroy deletes.
type ObjectRef struct {
	Name string `json:"name"`
	ID   string `json:"id"`
}

// destroyShown is how many object names a destroy error lists.
const destroyShown = 5

// planDestroy plans the deletion of what the configuration declares (b2plan destroy): the
// keys, the folder placeholders, the objects and the buckets that exist. The executor deletes
// keys, folders and objects before buckets, so nothing is deleted before what refers to it.
//
// A bucket with prevent_destroy is a plan error. A bucket holding versions other than the
// placeholders of declared folders and the versions of declared objects is a plan error
// unless it has force_destroy; then every version and unfinished large file is deleted first,
// and a version under Object Lock (retention or legal hold) is a plan error naming it.
func (pl *planner) planDestroy() {
	pl.p.Destroy = true
	placeholders := map[string]bool{} // bucket\x00fileID of versions deleted by folder and object changes
	for _, dk := range pl.d.Keys {
		if !pl.targeted(dk.Address) {
			continue
		}
		for i, lk := range pl.l.KeysNamed(dk.Name) {
			ch := newChange(dk.Address, "key", Delete)
			ch.Before = pl.liveKeyAttrs(&lk)
			ch.Key = &KeyChange{Name: dk.Name, OldID: lk.ID, Deposed: i > 0}
			pl.p.Changes = append(pl.p.Changes, ch)
		}
	}
	for _, f := range pl.d.Folders {
		if !pl.targeted(f.Address) || pl.l.Bucket(f.Bucket) == nil {
			continue
		}
		ph := f.Path + ".bzEmpty"
		vs, _, _, ok := findListing(pl.l, f.Bucket, ph)
		if !ok {
			pl.errorf(rangePtr(f.Range), "Folder not observed",
				"%s: the prefix %q of bucket %q was not listed. Plan with the live request from planner.DestroyRequest.", f.Address, f.Path, f.Bucket)
			continue
		}
		fc := &FolderChange{Bucket: f.Bucket, Path: f.Path, Placeholder: ph}
		for i := range vs {
			if vs[i].Name == ph && vs[i].Action != live.ActionFolder && vs[i].Action != live.ActionStart {
				fc.Versions = append(fc.Versions, ObjectRef{Name: ph, ID: vs[i].ID})
				placeholders[strings.ToLower(f.Bucket)+"\x00"+vs[i].ID] = true
			}
		}
		if len(fc.Versions) == 0 {
			continue
		}
		ch := newChange(f.Address, "folder", Delete)
		ch.Folder = fc
		ch.Before = []Attr{{Name: "bucket", Value: raw(f.Bucket)}, {Name: "path", Value: raw(f.Path)},
			{Name: "placeholder", Value: raw(ph)}}
		pl.p.Changes = append(pl.p.Changes, ch)
	}
	pl.destroyObjects(placeholders)
	for _, db := range pl.d.Buckets {
		if !pl.targeted(db.Address) {
			continue
		}
		if lb := pl.l.Bucket(db.Name); lb != nil {
			pl.destroyBucket(db, lb, placeholders)
		}
	}
}

func (pl *planner) destroyBucket(db *config.Bucket, lb *live.Bucket, placeholders map[string]bool) {
	if db.PreventDestroy {
		pl.errorf(rangePtr(db.Range), "Bucket "+db.Name+" has prevent_destroy",
			"%s sets prevent_destroy = true, and this plan would delete bucket %q. Remove prevent_destroy from its block to allow it, or leave the bucket out with -target.", db.Address, db.Name)
		return
	}
	vs, unf, _, ok := findListing(pl.l, lb.Name, "")
	if !ok {
		pl.errorf(rangePtr(db.Range), "Cannot destroy bucket "+db.Name,
			"Bucket %q was not listed to check that it is empty. Plan with the live request from planner.DestroyRequest.", db.Name)
		return
	}
	bc := &BucketChange{Name: lb.Name, ID: lb.ID, Revision: lb.Revision}
	c := pl.contentsOf(lb, vs, unf, placeholders)
	bc.Empty, bc.Unfinished = c.versions, c.unfinished
	if c.n() > 0 && !db.ForceDestroy {
		pl.errorf(rangePtr(db.Range), "Cannot destroy non-empty bucket "+db.Name,
			"Bucket %q holds %s. B2 deletes only empty buckets: set force_destroy = true in %s to delete every version first, or empty it yourself.%s",
			db.Name, c.describe(), db.Address, c.lockNote())
		return
	}
	if len(c.locked) > 0 {
		pl.errorf(rangePtr(db.Range), "Cannot destroy bucket "+db.Name+": versions under Object Lock",
			"force_destroy cannot delete bucket %q: %s", db.Name, c.lockedText())
		return
	}
	ch := newChange(db.Address, "bucket", Delete)
	if c.n() > 0 {
		ch.Reason = fmt.Sprintf("force_destroy deletes its %d file versions and %d unfinished large files first", len(bc.Empty), len(bc.Unfinished))
	}
	ch.Before = bucketAttrs(normLive(lb), lb, nil)
	ch.Bucket = bc
	pl.p.Changes = append(pl.p.Changes, ch)
}

// bucketContents is what deleting a bucket must delete first (one rule for destroy and
// prune): its versions and hide markers, and its unfinished large files.
type bucketContents struct {
	versions, unfinished []ObjectRef
	// shown are the first destroyShown names, unshown the entries of the names after them;
	// locked the versions under Object Lock.
	shown   []string
	unshown int
	locked  []Locked
}

// contentsOf collects the contents of bucket lb from its whole-bucket listing (vs, unf),
// leaving out the versions in skip (bucket\x00fileID: placeholders and objects the plan
// deletes anyway).
func (pl *planner) contentsOf(lb *live.Bucket, vs, unf []live.Version, skip map[string]bool) bucketContents {
	var c bucketContents
	lockPossible := !(lb.ObjectLock.Readable && !lb.ObjectLock.Enabled)
	for i := range vs {
		v := &vs[i]
		if v.Action == live.ActionFolder || v.Action == live.ActionStart || skip[strings.ToLower(lb.Name)+"\x00"+v.ID] {
			continue
		}
		c.versions = append(c.versions, ObjectRef{Name: v.Name, ID: v.ID})
		switch {
		case len(c.shown) > 0 && c.shown[len(c.shown)-1] == v.Name: // versions of a name are adjacent
		case len(c.shown) < destroyShown:
			c.shown = append(c.shown, v.Name)
		default:
			c.unshown++
		}
		if is, l := isLocked(v, pl.now.UnixMilli(), lockPossible); is {
			c.locked = append(c.locked, l)
		}
	}
	for _, u := range unf {
		c.unfinished = append(c.unfinished, ObjectRef{Name: u.Name, ID: u.ID})
		if len(c.shown) < destroyShown {
			c.shown = append(c.shown, u.Name+" (unfinished large file)")
		} else {
			c.unshown++
		}
	}
	return c
}

func (c *bucketContents) n() int { return len(c.versions) + len(c.unfinished) }

// describe is "N file versions and M unfinished large files (a, b and 3 more)".
func (c *bucketContents) describe() string {
	more := ""
	if c.unshown > 0 {
		more = fmt.Sprintf(" and %d more", c.unshown)
	}
	return fmt.Sprintf("%d file versions and %d unfinished large files (%s%s)", len(c.versions), len(c.unfinished),
		strings.Join(c.shown, ", "), more)
}

// lockedText names the locked versions (the first destroyShown).
func (c *bucketContents) lockedText() string {
	var ls []string
	for _, l := range c.locked[:min(len(c.locked), destroyShown)] {
		ls = append(ls, lockText(l))
	}
	return fmt.Sprintf("%d of its versions are under Object Lock retention or legal hold (%s%s), and B2 refuses to delete them until the lock lapses or is removed.",
		len(c.locked), strings.Join(ls, "; "), more(len(c.locked), len(ls)))
}

// lockNote is lockedText for an error about a non-empty bucket (force_destroy would not
// help with these), or "".
func (c *bucketContents) lockNote() string {
	if len(c.locked) == 0 {
		return ""
	}
	return " Even force_destroy cannot delete it now: " + c.lockedText()
}

// pruneNonEmpty is the plan error of prune meeting a non-empty unmanaged bucket. Prune never
// deletes files: b2plan keeps no state, so force_destroy acts only through a block that
// declares the bucket (and destroy).
func (pl *planner) pruneNonEmpty(b *live.Bucket, c bucketContents) {
	label := "x"
	if l := labelFor(b.Name); l != "" {
		label = l
	}
	pl.errorf(rangePtr(pl.d.Settings.Range), "Cannot prune non-empty bucket "+b.Name,
		"Bucket %q matches b2plan.owns and is not declared, so prune = true would delete it, but it holds %s. B2 deletes only empty buckets, and prune never deletes files: force_destroy acts only through a block (b2plan keeps no state). "+
			"To delete it with its contents, declare it in a block bucket %q with name = %q and force_destroy = true, run \"b2plan destroy -target=bucket.%s\", then remove the block. "+
			"To keep it, declare it (b2plan import -buckets=%s) or narrow b2plan.owns.%s",
		b.Name, c.describe(), label, b.Name, label, b.Name, c.lockNote())
}

// labelFor is a block label for a bucket name in a suggestion: letters, digits and '_'.
func labelFor(name string) string {
	var sb strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9' && sb.Len() > 0:
			sb.WriteRune(r)
		case sb.Len() > 0:
			sb.WriteByte('_')
		}
	}
	return sb.String()
}

func more(total, shown int) string {
	if total > shown {
		return fmt.Sprintf(" and %d more", total-shown)
	}
	return ""
}

func lockText(l Locked) string {
	s := l.Name + " (" + l.FileID
	if l.Mode != "" {
		s += ", retention " + l.Mode
	}
	if l.LegalHold != "" {
		s += ", legal hold " + l.LegalHold
	}
	return s + ")"
}

// DestroyRequest is what to observe for a destroy of d, given a first observation (from
// LiveRequest): it adds a whole-bucket listing of every declared bucket that exists, to check
// that it is empty (or what force_destroy deletes).
func DestroyRequest(d *config.Desired, known *live.Live) live.Request {
	req := LiveRequest(d, known)
	req.Keys = req.Keys || len(d.Keys) > 0
	for _, b := range d.Buckets {
		if known != nil && known.Bucket(b.Name) != nil {
			req.Prefixes = append(req.Prefixes, live.PrefixRequest{BucketName: b.Name, Prefix: ""})
		}
	}
	return compactPrefixes(req)
}

// dependents returns the declared addresses that need addr (the reverse of dependencies):
// destroy -target=bucket.x also destroys the keys restricted to it and its folders.
func (pl *planner) dependents(addr string) []string {
	var out []string
	for _, a := range pl.declaredAddresses() {
		for _, dep := range pl.dependencies(a) {
			if dep == addr {
				out = append(out, a)
				break
			}
		}
	}
	return out
}

// checkProtectedRenames refuses a plan that creates a bucket with prevent_destroy while prune
// deletes another: b2plan keeps no state, so it cannot tell a renamed bucket (the block's
// name changed, the old bucket is now undeclared) from a new one, and prevent_destroy must
// not let a rename delete the old bucket.
func (pl *planner) checkProtectedRenames() {
	var pruned []string
	for _, ch := range pl.p.Changes {
		if ch.Type == "bucket" && ch.Action == Delete && strings.HasPrefix(ch.Address, "unmanaged.") {
			pruned = append(pruned, fmt.Sprintf("%q", ch.Name))
		}
	}
	if len(pruned) == 0 {
		return
	}
	for _, ch := range pl.p.Changes {
		if ch.Type != "bucket" || ch.Action != Create {
			continue
		}
		for _, db := range pl.d.Buckets {
			if db.Address != ch.Address || !db.PreventDestroy {
				continue
			}
			pl.errorf(rangePtr(db.Range), "Possible rename of a protected bucket",
				"%s sets prevent_destroy = true and is created as %q, while prune = true deletes bucket %s in the same plan. b2plan keeps no state, so it cannot tell a renamed bucket from a new one: if that was this block's old name, prevent_destroy forbids deleting it. Keep the old name in the block; or, if the deletion is intended, create the new bucket first (b2plan apply -target=%s) and prune in a later apply.",
				db.Address, db.Name, strings.Join(pruned, ", "), db.Address)
		}
	}
}
