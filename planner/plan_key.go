package planner

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/b2plan/b2plan/config"
	"github.com/b2plan/b2plan/live"
)

// expirySlack tolerates clock skew and the time between planning and
// creating a key when comparing a live expiry with a declared duration.
const expirySlack = 5 * time.Minute

func (pl *planner) liveKeyAttrs(k *live.Key) []Attr {
	names := make([]string, 0, len(k.BucketIDs))
	for _, id := range k.BucketIDs {
		if b := pl.l.BucketByID(id); b != nil {
			names = append(names, b.Name)
		} else {
			names = append(names, id)
		}
	}
	sort.Strings(names)
	var exp any
	if !k.Expires.IsZero() {
		exp = k.Expires.UTC().Format(time.RFC3339)
	}
	return []Attr{
		{Name: "name", Value: raw(k.Name)},
		{Name: "key_id", Value: raw(k.ID)},
		{Name: "capabilities", Value: raw(nonNil(sortedCopy(k.Capabilities, false)))},
		{Name: "buckets", Value: raw(nonNil(names))},
		{Name: "name_prefix", Value: raw(k.NamePrefix)},
		{Name: "expires", Value: raw(exp)},
	}
}

func (pl *planner) planKeys() {
	for _, dk := range pl.d.Keys {
		lks := pl.l.KeysNamed(dk.Name)
		var deposed []*Change
		if len(lks) > 1 {
			cur, ok := pl.currentKey(dk, lks)
			if !ok {
				delete(pl.ids, dk.Address)
				continue
			}
			for i := range lks {
				if lks[i].ID == cur.ID {
					continue
				}
				ch := newChange(dk.Address, "key", Delete)
				ch.Reason = fmt.Sprintf("deposed: a second live key named %s, left over from an interrupted replacement; the current key is %s, whose id is in secret_file %s", dk.Name, cur.ID, dk.SecretFile)
				ch.Before = pl.liveKeyAttrs(&lks[i])
				ch.Key = &KeyChange{Name: dk.Name, OldID: lks[i].ID, Deposed: true}
				deposed = append(deposed, ch)
			}
			lks = []live.Key{cur}
			pl.ids[dk.Address] = cur.ID
		}
		if !pl.targeted(dk.Address) {
			continue
		}
		kc := &KeyChange{Name: dk.Name, Capabilities: sortedCopy(dk.Capabilities, false),
			NamePrefix: dk.NamePrefix, Duration: dk.Duration, SecretFile: dk.SecretFile}
		// Bucket restrictions: names → ids.
		unknownBuckets := false
		for _, bn := range dk.Buckets {
			kc.BucketNames = append(kc.BucketNames, bn)
			if lb := pl.l.Bucket(bn); lb != nil {
				kc.BucketIDs = append(kc.BucketIDs, lb.ID)
			} else if _, ok := pl.declaredBuckets[strings.ToLower(bn)]; ok {
				unknownBuckets = true
			} else {
				pl.errorf(rangePtr(dk.Range), "Unknown bucket "+bn,
					"%s is restricted to bucket %q, which neither exists nor is declared. Declare the bucket or fix the name.", dk.Address, bn)
			}
		}
		sort.Strings(kc.BucketNames)
		sort.Strings(kc.BucketIDs)
		resolved, unknown := pl.resolveDeferred(dk.Deferred)
		if v, ok := resolved["name_prefix"]; ok {
			kc.NamePrefix = v
		}
		kc.Deferred = unknown
		prefixUnknown := hasPathPrefix(unknown, "name_prefix")

		after := []Attr{
			{Name: "name", Value: raw(dk.Name)},
			{Name: "key_id", Unknown: true},
			{Name: "capabilities", Value: raw(nonNil(kc.Capabilities))},
			// Bucket names are known even for buckets this plan creates
			// (only their ids are not): show them.
			{Name: "buckets", Value: raw(nonNil(kc.BucketNames))},
			{Name: "name_prefix", Value: raw(kc.NamePrefix), Unknown: prefixUnknown},
			{Name: "expires", Unknown: dk.Duration > 0, Value: raw(nil)},
			{Name: "duration", Value: raw(durString(dk.Duration))},
			{Name: "secret_file", Value: raw(dk.SecretFile)},
		}
		if len(lks) == 0 {
			ch := newChange(dk.Address, "key", Create)
			ch.After = after
			ch.Key = kc
			pl.needSecretFile(dk)
			pl.p.Changes = append(pl.p.Changes, ch)
			continue
		}
		lk := &lks[0]
		kc.OldID = lk.ID
		ch := newChange(dk.Address, "key", NoOp)
		ch.Key = kc
		ch.Before = pl.liveKeyAttrs(lk)
		var why []string
		if strings.Join(sortedCopy(lk.Capabilities, false), ",") != strings.Join(kc.Capabilities, ",") {
			ch.Changed = append(ch.Changed, "capabilities")
		}
		if unknownBuckets || strings.Join(sortedCopy(lk.BucketIDs, false), ",") != strings.Join(kc.BucketIDs, ",") {
			ch.Changed = append(ch.Changed, "buckets")
		}
		if prefixUnknown || lk.NamePrefix != kc.NamePrefix {
			ch.Changed = append(ch.Changed, "name_prefix")
		}
		if len(ch.Changed) > 0 {
			why = append(why, "B2 application keys cannot be changed ("+strings.Join(ch.Changed, ", ")+" differ)")
		}
		if r := pl.expiryReason(dk, lk); r != "" {
			ch.Changed = append(ch.Changed, "expires")
			why = append(why, r)
		}
		if pl.replaceRequested(dk.Address) {
			why = append(why, ReplaceReason)
		}
		if len(why) > 0 {
			ch.Action = Replace
			ch.Reason = strings.Join(why, "; ")
			pl.needSecretFile(dk)
			delete(pl.ids, dk.Address) // the new key's id is known only after apply
		} else {
			// Show the live expiry as the after value of an unchanged key.
			after[1] = Attr{Name: "key_id", Value: raw(lk.ID)}
			after[5] = ch.Before[5]
		}
		ch.After = after
		if ch.Action == NoOp {
			pl.checkSecretFileID(dk, lk)
		}
		pl.p.Changes = append(pl.p.Changes, ch)
		pl.p.Changes = append(pl.p.Changes, deposed...)
	}
}

// currentKey picks, among several live keys sharing dk's name, the one
// whose id dk's secret_file holds: after a replacement interrupted between
// creating the new key and deleting the old one, that is the new key (the
// secret file is written before the old key is deleted), or the old one
// when the interruption came before the new key's secret was written. The
// others are deposed. Without that evidence the plan fails: b2plan cannot
// tell which key is meant.
func (pl *planner) currentKey(dk *config.Key, lks []live.Key) (live.Key, bool) {
	ids := make([]string, len(lks))
	for i, k := range lks {
		ids[i] = k.ID
	}
	fileID := pl.opts.SecretKeyIDs[dk.SecretFile]
	if fileID != "" {
		for _, k := range lks {
			if k.ID == fileID {
				return k, true
			}
		}
	}
	var why string
	switch {
	case dk.SecretFile == "":
		why = "it declares no secret_file"
	case fileID == "":
		why = fmt.Sprintf("its secret_file %s holds no key id (missing or unreadable)", dk.SecretFile)
	default:
		why = fmt.Sprintf("its secret_file %s holds key id %s, which is none of them", dk.SecretFile, fileID)
	}
	pl.errorf(rangePtr(dk.Range), "Two live keys share the name "+dk.Name,
		"B2 key names are not unique; b2plan treats the name as identity and cannot tell which of the keys %s is %s: %s. (After an interrupted replacement, the key id in secret_file tells which key is current.) Delete all but one of them (b2 key delete KEY_ID) or rename the declared key.",
		strings.Join(ids, ", "), dk.Address, why)
	return live.Key{}, false
}

// checkSecretFileID warns when dk's secret_file holds the id of another key
// than the live one: the file is out of date, and the live key's secret is
// not in it.
func (pl *planner) checkSecretFileID(dk *config.Key, lk *live.Key) {
	fileID := pl.opts.SecretKeyIDs[dk.SecretFile]
	if fileID == "" || fileID == lk.ID {
		return
	}
	pl.warnf(rangePtr(dk.Range), "secret_file holds another key",
		"%s's secret_file %s holds key id %s, but the live key named %s is %s, whose secret is not in the file. If an apply was interrupted after creating %s and before writing its secret, that secret is lost: delete the key (b2 key delete %s) and apply again to get a new key and its secret.",
		dk.Address, dk.SecretFile, fileID, dk.Name, lk.ID, lk.ID, lk.ID)
}

func durString(d time.Duration) any {
	if d == 0 {
		return nil
	}
	return d.String()
}

// expiryReason applies the duration / renew_before rule (docs/plan-format.md):
// a live key has only an expiry time, so
//   - an expired key is replaced;
//   - a key without expiry is replaced when a duration is declared, and a key
//     with an expiry when none is declared;
//   - a key that outlives now + duration (+ slack) is replaced (the declared
//     duration was shortened);
//   - a key expiring before now + renew_before is replaced.
func (pl *planner) expiryReason(dk *config.Key, lk *live.Key) string {
	now := pl.now
	switch {
	case lk.Expires.IsZero() && dk.Duration > 0:
		return "duration is declared but the live key never expires"
	case lk.Expires.IsZero():
		return ""
	case !lk.Expires.After(now):
		return fmt.Sprintf("key expired at %s", lk.Expires.UTC().Format(time.RFC3339))
	case dk.Duration == 0:
		return "the live key expires but no duration is declared"
	case lk.Expires.After(now.Add(dk.Duration + expirySlack)):
		return fmt.Sprintf("the live key expires at %s, later than the declared duration %s allows", lk.Expires.UTC().Format(time.RFC3339), dk.Duration)
	case dk.RenewBefore > 0 && lk.Expires.Before(now.Add(dk.RenewBefore)):
		return fmt.Sprintf("key expires within renew_before (%s, at %s)", dk.RenewBefore, lk.Expires.UTC().Format(time.RFC3339))
	}
	return ""
}

func (pl *planner) needSecretFile(dk *config.Key) {
	if dk.SecretFile == "" {
		pl.errorf(rangePtr(dk.Range), "A key that b2plan creates needs secret_file",
			"%s would create a B2 application key, whose secret B2 returns only once. Set secret_file = \"path\" so that b2plan can write the key id and secret there (mode 0600).", dk.Address)
	}
}
