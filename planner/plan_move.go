package planner

import (
	"fmt"
	"strings"
	"time"

	"github.com/b2plan/b2plan/config"
	"github.com/b2plan/b2plan/live"
)

func (pl *planner) planFolders() {
	for _, f := range pl.d.Folders {
		if !pl.targeted(f.Address) {
			continue
		}
		ch := newChange(f.Address, "folder", Create)
		ch.Folder = &FolderChange{Bucket: f.Bucket, Path: f.Path, Placeholder: f.Path + ".bzEmpty"}
		ch.After = []Attr{{Name: "bucket", Value: raw(f.Bucket)}, {Name: "path", Value: raw(f.Path)},
			{Name: "placeholder", Value: raw(f.Path + ".bzEmpty")}}
		if pl.l.Bucket(f.Bucket) == nil {
			if _, ok := pl.declaredBuckets[strings.ToLower(f.Bucket)]; !ok {
				pl.errorf(rangePtr(f.Range), "Unknown bucket "+f.Bucket,
					"%s is in bucket %q, which neither exists nor is declared. Declare the bucket or fix the name.", f.Address, f.Bucket)
				continue
			}
			pl.p.Changes = append(pl.p.Changes, ch) // the bucket is created by this plan
			continue
		}
		vs, _, _, ok := findListing(pl.l, f.Bucket, f.Path)
		if !ok {
			pl.errorf(rangePtr(f.Range), "Folder not observed",
				"%s: the prefix %q of bucket %q was not listed. Plan with the live request from planner.LiveRequest.", f.Address, f.Path, f.Bucket)
			continue
		}
		if anyVisible(vs) {
			continue // something exists under the prefix: nothing to do
		}
		pl.p.Changes = append(pl.p.Changes, ch)
	}
}

// anyVisible reports whether a name's newest version is a file.
func anyVisible(vs []live.Version) bool {
	last := ""
	seen := false
	for i := range vs {
		v := &vs[i]
		if v.Action == live.ActionStart || v.Action == live.ActionFolder {
			continue
		}
		if seen && v.Name == last {
			continue
		}
		seen, last = true, v.Name
		if v.Action == live.ActionUpload {
			return true
		}
	}
	return false
}

func (pl *planner) planMoves() {
	for _, dm := range pl.d.Moves {
		if !pl.targeted(dm.Address) {
			continue
		}
		name, idx, has := splitAddress(dm.Address)
		m := &Move{Address: dm.Address, Name: name, Index: idx, HasIndex: has, Bucket: dm.Bucket,
			ToBucket: dm.ToBucket, From: dm.From, To: dm.To,
			Versions: def(dm.Versions, "latest"), Source: def(dm.Source, "delete"), OnConflict: def(dm.OnConflict, "fail"),
			Verify: dm.Verify}
		if m.Verify == "none" {
			m.Verify = ""
		}
		if m.ToBucket == "" {
			m.ToBucket = m.Bucket
		}
		pl.p.Moves = append(pl.p.Moves, m)
		srcB := pl.l.Bucket(m.Bucket)
		dstB := pl.l.Bucket(m.ToBucket)
		if srcB == nil {
			if _, ok := pl.declaredBuckets[strings.ToLower(m.Bucket)]; ok {
				m.Notes = append(m.Notes, "the source bucket is created by this plan: nothing to move")
			} else {
				pl.errorf(rangePtr(dm.Range), "Unknown bucket "+m.Bucket,
					"%s moves objects of bucket %q, which neither exists nor is declared.", dm.Address, m.Bucket)
				m.Errored = true
			}
			continue
		}
		m.BucketID = srcB.ID
		src, unf, _, ok := findListing(pl.l, m.Bucket, m.From)
		if !ok {
			pl.errorf(rangePtr(dm.Range), "Move source not observed",
				"%s: the prefix %q of bucket %q was not listed. Plan with the live request from planner.LiveRequest.", dm.Address, m.From, m.Bucket)
			m.Errored = true
			continue
		}
		var dst, dunf []live.Version
		if dstB == nil {
			if _, ok := pl.declaredBuckets[strings.ToLower(m.ToBucket)]; !ok {
				pl.errorf(rangePtr(dm.Range), "Unknown bucket "+m.ToBucket,
					"%s moves objects to bucket %q, which neither exists nor is declared.", dm.Address, m.ToBucket)
				m.Errored = true
				continue
			}
			m.Notes = append(m.Notes, "the destination bucket is created by this plan")
		} else {
			m.ToBucketID = dstB.ID
			dst, dunf, _, ok = findListing(pl.l, m.ToBucket, m.To)
			if !ok {
				pl.errorf(rangePtr(dm.Range), "Move destination not observed",
					"%s: the prefix %q of bucket %q was not listed. Plan with the live request from planner.LiveRequest.", dm.Address, m.To, m.ToBucket)
				m.Errored = true
				continue
			}
		}
		lockPossible := !(srcB.ObjectLock.Readable && !srcB.ObjectLock.Enabled)
		m.DestObjectLock = dstB != nil && dstB.ObjectLock.Readable && dstB.ObjectLock.Enabled
		if listingOmitted(pl.l, m.Bucket, m.From) {
			// Versions are listed by name range (move_chunk.go).
			if err := pl.planMoveStreaming(m, unf, lockPossible, dstB != nil); err != nil {
				pl.errorf(rangePtr(dm.Range), "Move source not listed", "%s: %v", dm.Address, err)
				m.Errored = true
				continue
			}
		} else {
			expandMove(m, src, unf, dst, lockPossible, pl.now.UnixMilli(), pl.p.CopyLimits())
			unprotected(m, lockPossible, pl.now.UnixMilli())
		}
		abandoned(m, dunf)
		pl.moveDiags(m, dm)
	}
}

func def(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func (pl *planner) moveDiags(m *Move, dm *config.Move) {
	st := m.ConflictStats // a chunked move's: its Conflicts are cut
	if !m.Chunked() {
		st = ConflictStats{}
		st.add(m.Conflicts)
	}
	fails, errs, unproven := st.Fails, st.Errors, st.Unproven
	if fails > 0 {
		hint := ""
		if unproven > 0 && m.Verify == "" {
			hint = fmt.Sprintf(" %d of them have no SHA-1 to compare (large files without large_file_sha1, S3 multipart uploads): set verify = \"download\" to compare them by downloading both sides at apply.", unproven)
		}
		pl.errorf(rangePtr(dm.Range), "Move conflicts",
			"%s: %d destination names already exist and are not proven to hold the source's content (listed in the plan with the reason).%s Set on_conflict = \"skip\" to leave them, or \"overwrite\" to copy anyway (a newer version at the destination).", dm.Address, fails, hint)
	}
	if errs > 0 {
		var names []string
		for _, c := range m.Conflicts {
			if c.Resolution == "error" && len(names) < 3 {
				names = append(names, c.Source+": "+c.Reason)
			}
		}
		pl.errorf(rangePtr(dm.Range), "Objects that cannot be moved",
			"%s: %d objects cannot be moved as declared (listed in the plan with their reason), e.g. %s.", dm.Address, errs, strings.Join(names, "; "))
	}
	if n := m.NLocked(); n > 0 {
		pl.warnf(rangePtr(dm.Range), "Locked objects are not moved",
			"%s: %d source versions are under Object Lock retention or legal hold; their names are left in place (neither copied nor deleted) and listed in the plan. Use source = \"hide\", or wait for the locks to lapse.", dm.Address, n)
	}
	if m.Verify == "download" && m.Versions == "all" {
		pl.warnf(rangePtr(dm.Range), "verify has no effect with versions = \"all\"",
			"%s: verify = \"download\" compares a destination's newest version with the source's (versions = \"latest\"); a history is compared version by version by SHA-1 or b2plan's copy marker only, and unproven names are conflicts.", dm.Address)
	}
	if n := m.NUnprotected(); n > 0 {
		var names []string
		for _, u := range m.Unprotected {
			names = append(names, fmt.Sprintf("%s (%s)", u.Name, u.FileID))
		}
		why := fmt.Sprintf("bucket %q has no Object Lock enabled, so the copies cannot carry it", m.ToBucket)
		if m.DestObjectLock {
			why = "their lock could not be read with this key (readFileRetentions, readFileLegalHolds)"
		}
		pl.warnf(rangePtr(dm.Range), "Copies will be unprotected",
			"%s: %d source versions under Object Lock retention or legal hold are copied without it: %s. Each such copy will be unprotected: %s.", dm.Address, n, why, strings.Join(names, ", "))
	}
	if len(m.Abandoned) > 0 {
		pl.warnf(rangePtr(dm.Range), "Abandoned copies are cancelled",
			"%s: %d unfinished large files under %q were started by b2plan (they carry %s) and never finished, e.g. after a kill; apply cancels them (b2_cancel_large_file) before copying.", dm.Address, len(m.Abandoned), m.To, live.SourceIDKey)
	}
	if len(m.Unfinished) > 0 {
		pl.warnf(rangePtr(dm.Range), "Unfinished large files under the source",
			"%s: %d unfinished large files are under %q; they are left alone.", dm.Address, len(m.Unfinished), m.From)
	}
}

// unprotected lists the copies of versions under Object Lock that will not
// carry their protection: every such copy when the destination bucket has
// no Object Lock (or it cannot be read), and those whose lock cannot be
// read (the copy cannot repeat what is unknown).
func unprotected(m *Move, lockPossible bool, nowMs int64) {
	m.Unprotected = nil
	for _, op := range m.Ops {
		if op.Kind != OpCopy && op.Kind != OpCopyLarge {
			continue
		}
		v := &m.Sources[op.Src]
		if v.Retention == live.RetentionNone && v.LegalHold == live.LegalHoldOff {
			continue
		}
		locked, l := isLocked(v, nowMs, lockPossible)
		if !locked {
			continue
		}
		unknown := v.Retention == live.RetentionUnknown || v.LegalHold == live.LegalHoldUnknown
		if !m.DestObjectLock || unknown {
			m.Unprotected = append(m.Unprotected, l)
		}
	}
}

// abandoned records the unfinished large files under the destination that
// b2plan started (they carry the source id marker): copies a killed apply
// never finished. Apply cancels them. Unfinished files without the marker
// are someone else's and are left alone.
func abandoned(m *Move, dunf []live.Version) {
	m.Abandoned = m.Abandoned[:0]
	for _, u := range dunf {
		if u.Info[live.SourceIDKey] == "" || !strings.HasPrefix(u.Name, m.To) {
			continue
		}
		m.Abandoned = append(m.Abandoned, Unfinished{Name: u.Name, FileID: u.ID, Started: u.Uploaded})
	}
	if len(m.Abandoned) == 0 {
		m.Abandoned = nil
		return
	}
	m.estimateCalls()
}

func isLocked(v *live.Version, nowMs int64, lockPossible bool) (bool, Locked) {
	l := Locked{Name: v.Name, FileID: v.ID}
	locked := false
	switch v.Retention {
	case live.RetentionGovernance, live.RetentionCompliance:
		if v.RetainUntil > nowMs {
			locked = true
			l.Mode, l.RetainUntil = v.Retention.String(), v.RetainUntil
		}
	case live.RetentionUnknown:
		if lockPossible {
			locked = true
			l.Mode = "unknown"
		}
	}
	switch v.LegalHold {
	case live.LegalHoldOn:
		locked = true
		l.LegalHold = "on"
	case live.LegalHoldUnknown:
		if lockPossible {
			locked = true
			l.LegalHold = "unknown"
		}
	}
	return locked, l
}

// expandMove computes the per-object operations of one move. src and dst
// are the version listings under From and To (sorted by name, newest first
// within a name); they may overlap when the prefixes nest in one bucket.
func expandMove(m *Move, src, unf, dst []live.Version, lockPossible bool, nowMs int64, lim CopyLimits) {
	from, to := m.From, m.To
	same := strings.EqualFold(m.Bucket, m.ToBucket)
	destUnderSrc := same && strings.HasPrefix(to, from) // a/ → a/b/: skip a/b/… as sources
	srcUnderDest := same && strings.HasPrefix(from, to) // a/b/ → a/: some destinations are sources
	m.Sources = src
	m.Listed = int64(len(src))
	if !destUnderSrc {
		m.Listed += int64(len(dst))
	}
	ops := make([]ObjectOp, 0, len(src)+len(src)/8+1)
	latest := m.Versions != "all"
	for _, u := range unf {
		if destUnderSrc && strings.HasPrefix(u.Name, to) {
			continue // under the destination: see abandoned
		}
		m.Unfinished = append(m.Unfinished, Unfinished{Name: u.Name, FileID: u.ID, Started: u.Uploaded})
	}
	var allCopies []int32 // scratch: the uploads of one name to copy, oldest first
	var hist []int32      // scratch: versions = all: uploads and hides, oldest first
	j := 0
	for i := 0; i < len(src); {
		name := src[i].Name
		k := i + 1
		for k < len(src) && src[k].Name == name {
			k++
		}
		gi, gk := i, k
		i = k
		if (destUnderSrc && strings.HasPrefix(name, to)) || !strings.HasPrefix(name, from) {
			continue
		}
		top := -1
		for x := gi; x < gk; x++ {
			a := src[x].Action
			if a == live.ActionStart {
				if len(unf) == 0 {
					m.Unfinished = append(m.Unfinished, Unfinished{Name: src[x].Name, FileID: src[x].ID, Started: src[x].Uploaded})
				}
				continue
			}
			if a == live.ActionFolder {
				continue
			}
			if top < 0 {
				top = x
			}
		}
		if top < 0 {
			continue
		}
		suffix := name[len(from):]
		hidden := src[top].Action == live.ActionHide
		allCopies = allCopies[:0]
		if latest {
			if !hidden {
				allCopies = append(allCopies, int32(top))
			}
		} else {
			for x := gk - 1; x >= gi; x-- {
				if src[x].Action == live.ActionUpload {
					allCopies = append(allCopies, int32(x))
				}
			}
		}
		hasUpload := !latest && len(allCopies) > 0
		for x := gi; x < gk && !hasUpload; x++ {
			hasUpload = src[x].Action == live.ActionUpload
		}
		if !hasUpload {
			// Only hide markers: no content to move. With source = "delete"
			// they are removed (an orphan a killed run left behind, or a
			// name hidden while a move ran); with versions = "all" the
			// history ends hidden, so a visible destination name is hidden
			// first (hiding deletes nothing). With source = "hide" the name
			// is hidden already.
			if m.Source != "delete" {
				continue
			}
			if lockedName(m, src[gi:gk], nowMs, lockPossible) {
				continue
			}
			var dj int
			j, dj = destRange(dst, j, to, suffix)
			destIsSource := srcUnderDest && strings.HasPrefix(suffix, from[len(to):])
			if d := newestOf(dst[j:dj]); !latest && d != nil && d.Action == live.ActionUpload && !destIsSource {
				ops = append(ops, ObjectOp{Src: int32(top), Kind: OpHideDest})
			}
			for x := gk - 1; x >= gi; x-- {
				if src[x].Action == live.ActionHide {
					ops = append(ops, ObjectOp{Src: int32(x), Kind: OpDelete})
				}
			}
			continue
		}
		if len(allCopies) == 0 {
			// A name hidden by an earlier run of this same move (latest +
			// hide) has its newest upload at the destination: nothing to
			// report. Other hidden names are left alone and listed.
			if !(latest && m.Source == "hide" && hiddenAfterMove(src[gi:gk], dst, j, to, suffix)) {
				m.Hidden = append(m.Hidden, name)
			}
			continue
		}
		if len(to)+len(suffix) > MaxNameBytes {
			m.Conflicts = append(m.Conflicts, conflict(&src[top], to+suffix, nil, "error",
				fmt.Sprintf("destination name is %d bytes, longer than B2's %d", len(to)+len(suffix), MaxNameBytes)))
			m.Errored = true
			continue
		}
		if m.Source == "delete" && lockedName(m, src[gi:gk], nowMs, lockPossible) {
			continue
		}
		// Destination versions of the name: advance the merge pointer.
		var dj int
		j, dj = destRange(dst, j, to, suffix)
		dvs := dst[j:dj]
		if srcUnderDest && strings.HasPrefix(suffix, from[len(to):]) {
			// a/b/ → a/: a/b/b/x would land on a/b/x, under the source
			// prefix again, so every later run would move it once more
			// (a/b/x → a/x) and never converge. Refused, by name.
			m.Conflicts = append(m.Conflicts, conflict(&src[top], to+suffix, nil, "error",
				fmt.Sprintf("the destination %s is under the source prefix %q again: every later run would move it again. Move these names with their own move block first (e.g. from = %q), or choose a to that is not a prefix of from",
					to+suffix, from, from+from[len(to):])))
			m.Errored = true
			continue
		}
		dtop := newestOf(dvs)
		destVisible := dtop != nil && dtop.Action == live.ActionUpload
		// Which copies are already done, and is there a conflict?
		conflictWith := (*live.Version)(nil)
		conflictWhy := ""
		verify := false // compare by downloading both sides at apply
		if latest {
			if destVisible {
				switch id, why := live.Compare(&src[allCopies[0]], dtop); {
				case id == live.Same:
					allCopies = allCopies[:0]
				case id == live.Unproven && m.Verify == "download" && m.OnConflict != "overwrite":
					verify = true
				default:
					conflictWith, conflictWhy = dtop, why
				}
			}
		} else {
			// The name's history, oldest first: uploads and hide markers,
			// reproduced in this order (middle-of-history hides included).
			hist = hist[:0]
			for x := gk - 1; x >= gi; x-- {
				if a := src[x].Action; a == live.ActionUpload || a == live.ActionHide {
					hist = append(hist, int32(x))
				}
			}
			// A hide marker on top is the name's history, except the one a
			// source = "hide" move adds after copying (hideCarried: a hide
			// newer than the copies at the destination).
			ownHide := hidden && !hideCarried(&src[top], src, allCopies, dvs)
			if ownHide {
				hist = hist[:len(hist)-1]
			}
			done := historyAtDest(src, hist, dvs)
			// A source hidden by this move after its whole history reached
			// the destination was moved by an earlier apply: what was put
			// on the destination since is not a conflict of this move.
			movedBefore := ownHide && done == len(hist)
			if destVisible && !movedBefore {
				match := false
				for _, c := range allCopies {
					if live.SameContent(&src[c], dtop) {
						match = true
						break
					}
				}
				if !match {
					conflictWith = dtop
					_, conflictWhy = live.Compare(&src[allCopies[len(allCopies)-1]], dtop)
				}
			}
			if conflictWith == nil || m.OnConflict != "overwrite" {
				// From the first version missing at the destination on, so
				// that the history ends in the same order and state.
				hist = hist[done:]
			}
		}
		if conflictWith != nil {
			m.Conflicts = append(m.Conflicts, conflict(&src[top], to+suffix, conflictWith, m.OnConflict, conflictWhy))
			switch m.OnConflict {
			case "overwrite":
			case "skip":
				continue
			default:
				m.Errored = true
				continue
			}
		}
		nops := len(ops)
		if verify {
			ops = append(ops, ObjectOp{Src: allCopies[0], Kind: OpVerify})
			m.VerifyBytes += src[allCopies[0]].Size + dtop.Size
			allCopies = allCopies[:0]
		}
		if !latest {
			allCopies = allCopies[:0]
			for _, c := range hist {
				if src[c].Action == live.ActionUpload {
					allCopies = append(allCopies, c)
				}
			}
		}
		seq := allCopies
		if !latest {
			seq = hist
		}
		for _, c := range seq {
			if src[c].Action == live.ActionHide {
				// A hide marker of the history: right after the copy
				// before it, so a hidden name is visible at the destination
				// only for the one call between its last copy and its hide.
				ops = append(ops, ObjectOp{Src: c, Kind: OpHideDest})
				continue
			}
			sz := src[c].Size
			if lim.Large(sz) {
				ops = append(ops, ObjectOp{Src: c, Kind: OpCopyLarge, Parts: uint16(lim.PartsFor(sz))})
			} else {
				ops = append(ops, ObjectOp{Src: c, Kind: OpCopy})
			}
		}
		if m.Source == "delete" {
			for x := gi; x < gk; x++ {
				if a := src[x].Action; a == live.ActionUpload || a == live.ActionHide {
					ops = append(ops, ObjectOp{Src: int32(x), Kind: OpDelete})
				}
			}
		} else if !hidden {
			ops = append(ops, ObjectOp{Src: int32(top), Kind: OpHide})
		}
		if !verify && len(allCopies) == 0 && len(ops) > nops {
			m.AlreadyCopied++
		}
	}
	m.Ops = ops
	m.tally()
}

// historyAtDest returns how many of a name's source versions (hist: uploads
// and hide markers, oldest first) are at the destination already, in order:
// the length of the longest prefix of hist that is a subsequence of the
// destination's versions (dvs, newest first), an upload matching a
// destination upload with the same content (live.Compare) and a hide
// matching a hide. Apply reproduces a history oldest first, so after an
// interrupted apply exactly the remaining versions are missing; content
// that was at the destination before counts where it fits the order.
func historyAtDest(src []live.Version, hist []int32, dvs []live.Version) int {
	n := 0
	for x := len(dvs) - 1; x >= 0 && n < len(hist); x-- {
		s, d := &src[hist[n]], &dvs[x]
		switch {
		case s.Action == live.ActionHide && d.Action == live.ActionHide:
			n++
		case s.Action == live.ActionUpload && d.Action == live.ActionUpload && live.SameContent(s, d):
			n++
		}
	}
	return n
}

// newestOf returns the newest upload or hide marker of vs (newest first),
// or nil.
func newestOf(vs []live.Version) *live.Version {
	for x := range vs {
		if vs[x].Action == live.ActionUpload || vs[x].Action == live.ActionHide {
			return &vs[x]
		}
	}
	return nil
}

// lockedName reports whether a name (its versions vs) has a version under
// Object Lock, recording each in m.Locked: with source = "delete" such a
// name is left alone entirely.
func lockedName(m *Move, vs []live.Version, nowMs int64, lockPossible bool) bool {
	blocked := false
	for x := range vs {
		if vs[x].Action == live.ActionStart {
			continue
		}
		if ok, l := isLocked(&vs[x], nowMs, lockPossible); ok {
			m.Locked = append(m.Locked, l)
			blocked = true
		}
	}
	return blocked
}

// hideCarried decides whether the hide marker h on top of a source name
// (versions = "all") is part of the name's history, to be reproduced at the
// destination, or the one a source = "hide" move adds itself after the
// name's copies were verified. B2 orders versions by upload timestamp:
// the move's own hide marker is never older than the copies it follows,
// while a name hidden before the move has a hide marker older than any copy
// the move made. Rule: h is carried unless a destination version with the
// content of one of the name's source uploads is older than h plus
// hideCarrySlack (which absorbs clock differences between the servers that
// stamp the two buckets' versions). A name hidden less than hideCarrySlack
// before the move copied it is taken as hidden by the move: its
// destination stays visible (nothing is lost; docs/moves.md).
func hideCarried(h *live.Version, src []live.Version, copies []int32, dvs []live.Version) bool {
	limit := h.Uploaded + hideCarrySlack.Milliseconds()
	for x := range dvs {
		d := &dvs[x]
		if d.Action != live.ActionUpload || d.Uploaded > limit {
			continue
		}
		for _, c := range copies {
			if live.SameContent(&src[c], d) {
				return false
			}
		}
	}
	return true
}

// hideCarrySlack: see hideCarried. Copies follow a plan's listing of the
// hide marker by at least one round trip, so a second is ample; it is also
// far above the clock differences between B2 servers.
const hideCarrySlack = time.Second

func conflict(s *live.Version, dest string, d *live.Version, res, reason string) Conflict {
	c := Conflict{Source: s.Name, Dest: dest, SourceID: s.ID, SourceSize: s.Size, SourceSHA1: s.SHA1Hex(),
		Resolution: res, Reason: reason}
	if d != nil {
		c.DestID, c.DestSize, c.DestSHA1 = d.ID, d.Size, d.SHA1Hex()
		if c.Reason == "" {
			c.Reason = "different content"
		}
		c.Reason = "destination exists: " + c.Reason
	}
	return c
}

// destRange returns the range [lo, hi) of dst holding the versions of the
// destination name to+suffix, searching from j (dst is in name order).
func destRange(dst []live.Version, j int, to, suffix string) (lo, hi int) {
	for j < len(dst) && tail(dst[j].Name, len(to)) < suffix {
		j++
	}
	hi = j
	for hi < len(dst) && tail(dst[hi].Name, len(to)) == suffix {
		hi++
	}
	return j, hi
}

// hiddenAfterMove reports whether a source name whose newest version is a
// hide marker has the content of its newest upload visible at the
// destination: the mark of a completed latest + hide move.
func hiddenAfterMove(versions, dst []live.Version, j int, to, suffix string) bool {
	var up *live.Version
	for x := range versions {
		if versions[x].Action == live.ActionUpload {
			up = &versions[x]
			break
		}
	}
	if up == nil {
		return false
	}
	lo, hi := destRange(dst, j, to, suffix)
	for x := lo; x < hi; x++ {
		switch dst[x].Action {
		case live.ActionUpload:
			return live.SameContent(up, &dst[x])
		case live.ActionHide:
			return false
		}
	}
	return false
}

func tail(s string, n int) string {
	if len(s) < n {
		return ""
	}
	return s[n:]
}
