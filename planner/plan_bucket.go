package planner

import (
	"encoding/json"
	"sort"
	"strings"

	"github.com/b2plan/b2plan/config"
	"github.com/b2plan/b2plan/live"
)

// normDesired converts a declared bucket to the normalised live form.
func normDesired(b *config.Bucket) *live.Bucket {
	out := &live.Bucket{Name: b.Name, Type: b.Type}
	if out.Type == "" {
		out.Type = live.AllPrivate
	}
	out.Info = lowerInfo(b.Info)
	for _, r := range b.LifecycleRules {
		out.LifecycleRules = append(out.LifecycleRules, live.LifecycleRule{
			FileNamePrefix:                                  r.Prefix,
			DaysFromUploadingToHiding:                       deref(r.DaysFromUploadingToHiding),
			DaysFromHidingToDeleting:                        deref(r.DaysFromHidingToDeleting),
			DaysFromStartingToCancelingUnfinishedLargeFiles: deref(r.DaysFromStartingToCancelingUnfinishedLargeFiles),
		})
	}
	for _, r := range b.CORSRules {
		out.CORSRules = append(out.CORSRules, live.CORSRule{Name: r.Name, AllowedOrigins: r.AllowedOrigins,
			AllowedOperations: r.AllowedOperations, AllowedHeaders: r.AllowedHeaders,
			ExposeHeaders: r.ExposeHeaders, MaxAgeSeconds: r.MaxAgeSeconds})
	}
	normRules(out)
	out.Encryption.Readable = true
	if strings.EqualFold(b.Encryption, "SSE-B2") {
		out.Encryption.Mode, out.Encryption.Algorithm = "SSE-B2", "AES256"
	}
	out.ObjectLock.Readable = true
	if b.ObjectLock != nil && b.ObjectLock.Enabled {
		out.ObjectLock.Enabled = true
		if r := b.ObjectLock.DefaultRetention; r != nil {
			out.ObjectLock.DefaultRetention.Mode = strings.ToLower(r.Mode)
			if r.Years > 0 {
				out.ObjectLock.DefaultRetention.Period = live.Period{Duration: r.Years, Unit: "years"}
			} else {
				out.ObjectLock.DefaultRetention.Period = live.Period{Duration: r.Days, Unit: "days"}
			}
		}
	}
	return out
}

// normLive returns a normalised copy of a live bucket.
func normLive(b *live.Bucket) *live.Bucket {
	out := *b
	out.Info = lowerInfo(b.Info)
	out.LifecycleRules = append([]live.LifecycleRule(nil), b.LifecycleRules...)
	out.CORSRules = nil
	for _, r := range b.CORSRules {
		out.CORSRules = append(out.CORSRules, r)
	}
	normRules(&out)
	if strings.EqualFold(out.Encryption.Mode, "none") {
		out.Encryption.Mode = ""
	}
	if out.Encryption.Mode == "" {
		out.Encryption.Algorithm = ""
	}
	r := &out.ObjectLock.DefaultRetention
	r.Mode = strings.ToLower(r.Mode)
	if r.Mode == "" || r.Period.Duration == 0 {
		*r = live.Retention{}
	}
	r.Period.Unit = strings.ToLower(r.Period.Unit)
	return &out
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

func lowerInfo(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[strings.ToLower(k)] = v
	}
	return out
}

func sortedCopy(s []string, lower bool) []string {
	if len(s) == 0 {
		return nil
	}
	out := make([]string, len(s))
	for i, v := range s {
		if lower {
			v = strings.ToLower(v)
		}
		out[i] = v
	}
	sort.Strings(out)
	return out
}

// normRules sorts lifecycle rules by prefix and CORS rules by name, and the
// lists inside CORS rules (header names lowercased: HTTP headers are
// case-insensitive).
func normRules(b *live.Bucket) {
	sort.SliceStable(b.LifecycleRules, func(i, j int) bool {
		return b.LifecycleRules[i].FileNamePrefix < b.LifecycleRules[j].FileNamePrefix
	})
	if len(b.LifecycleRules) == 0 {
		b.LifecycleRules = nil
	}
	for i := range b.CORSRules {
		r := &b.CORSRules[i]
		r.AllowedOrigins = sortedCopy(r.AllowedOrigins, false)
		r.AllowedOperations = sortedCopy(r.AllowedOperations, false)
		r.AllowedHeaders = sortedCopy(r.AllowedHeaders, true)
		r.ExposeHeaders = sortedCopy(r.ExposeHeaders, true)
	}
	sort.SliceStable(b.CORSRules, func(i, j int) bool { return b.CORSRules[i].Name < b.CORSRules[j].Name })
	if len(b.CORSRules) == 0 {
		b.CORSRules = nil
	}
}

// JSON shapes of bucket attributes.
type lifecycleJSON struct {
	Prefix                 string `json:"prefix"`
	UploadingToHiding      *int   `json:"days_from_uploading_to_hiding"`
	HidingToDeleting       *int   `json:"days_from_hiding_to_deleting"`
	StartingToCancelingLFs *int   `json:"days_from_starting_to_canceling_unfinished_large_files"`
}

type corsJSON struct {
	Name              string   `json:"name"`
	AllowedOrigins    []string `json:"allowed_origins"`
	AllowedOperations []string `json:"allowed_operations"`
	AllowedHeaders    []string `json:"allowed_headers"`
	ExposeHeaders     []string `json:"expose_headers"`
	MaxAgeSeconds     int      `json:"max_age_seconds"`
}

type retentionJSON struct {
	Mode  string `json:"mode"`
	Days  int    `json:"days,omitempty"`
	Years int    `json:"years,omitempty"`
}

type lockJSON struct {
	Enabled          bool           `json:"enabled"`
	DefaultRetention *retentionJSON `json:"default_retention"`
}

func nz(n int) *int {
	if n == 0 {
		return nil
	}
	return &n
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func raw(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // plain data: cannot happen
	}
	return b
}

// bucketAttrs renders a normalised bucket as ordered attributes. src is the
// un-normalised live bucket (for Readable flags) or nil for a declared one;
// unknown lists deferred attribute paths.
func bucketAttrs(b *live.Bucket, src *live.Bucket, unknown []DeferredValue) []Attr {
	var out []Attr
	out = append(out, Attr{Name: "name", Value: raw(b.Name)}, Attr{Name: "type", Value: raw(b.Type)})
	info := map[string]string{}
	for k, v := range b.Info {
		info[k] = v
	}
	out = append(out, Attr{Name: "info", Value: raw(info), Unknown: hasPathPrefix(unknown, "info")})
	lr := []lifecycleJSON{}
	for _, r := range b.LifecycleRules {
		lr = append(lr, lifecycleJSON{r.FileNamePrefix, nz(r.DaysFromUploadingToHiding), nz(r.DaysFromHidingToDeleting), nz(r.DaysFromStartingToCancelingUnfinishedLargeFiles)})
	}
	out = append(out, Attr{Name: "lifecycle_rules", Value: raw(lr)})
	cr := []corsJSON{}
	for _, r := range b.CORSRules {
		cr = append(cr, corsJSON{r.Name, nonNil(r.AllowedOrigins), nonNil(r.AllowedOperations), nonNil(r.AllowedHeaders), nonNil(r.ExposeHeaders), r.MaxAgeSeconds})
	}
	out = append(out, Attr{Name: "cors_rules", Value: raw(cr)})
	if src == nil || b.Encryption.Readable {
		mode := "none"
		if b.Encryption.Mode != "" {
			mode = b.Encryption.Mode
		}
		out = append(out, Attr{Name: "encryption", Value: raw(mode)})
	} else {
		out = append(out, Attr{Name: "encryption", Value: raw(nil)})
	}
	if src == nil || b.ObjectLock.Readable {
		lj := lockJSON{Enabled: b.ObjectLock.Enabled}
		if r := b.ObjectLock.DefaultRetention; r.Mode != "" {
			rj := &retentionJSON{Mode: r.Mode}
			if r.Period.Unit == "years" {
				rj.Years = r.Period.Duration
			} else {
				rj.Days = r.Period.Duration
			}
			lj.DefaultRetention = rj
		}
		out = append(out, Attr{Name: "object_lock", Value: raw(lj)})
	} else {
		out = append(out, Attr{Name: "object_lock", Value: raw(nil)})
	}
	return out
}

func hasPathPrefix(list []DeferredValue, p string) bool {
	for _, d := range list {
		if d.Path == p || strings.HasPrefix(d.Path, p+"[") {
			return true
		}
	}
	return false
}

func (pl *planner) planBuckets() {
	for _, db := range pl.d.Buckets {
		if !pl.targeted(db.Address) {
			continue
		}
		want := normDesired(db)
		resolved, unknown := pl.resolveDeferred(db.Deferred)
		for p, v := range resolved {
			if k, ok := infoKey(p); ok && want.Info != nil {
				want.Info[strings.ToLower(k)] = v
			}
		}
		lb := pl.l.Bucket(db.Name)
		if lb == nil {
			ch := newChange(db.Address, "bucket", Create)
			ch.After = bucketAttrs(want, nil, unknown)
			ch.Bucket = &BucketChange{Desired: want, Deferred: unknown}
			pl.planNotify(db, ch, nil)
			if !pl.l.ObservedBuckets {
				ch.Notes = append(ch.Notes, "buckets were not observed")
			}
			pl.p.Changes = append(pl.p.Changes, ch)
			continue
		}
		have := normLive(lb)
		ch := newChange(db.Address, "bucket", NoOp)
		bc := &BucketChange{Desired: want, Deferred: unknown, ID: lb.ID, Revision: lb.Revision}
		ch.Bucket = bc
		if have.Type != want.Type {
			bc.SetType = true
			ch.Changed = append(ch.Changed, "type")
		}
		if len(unknown) > 0 || !mapsEqual(have.Info, want.Info) {
			bc.SetInfo = true
			ch.Changed = append(ch.Changed, "info")
		}
		if !jsonEqual(have.LifecycleRules, want.LifecycleRules) {
			bc.SetLifecycleRules = true
			ch.Changed = append(ch.Changed, "lifecycle_rules")
		}
		if !jsonEqual(have.CORSRules, want.CORSRules) {
			bc.SetCORSRules = true
			ch.Changed = append(ch.Changed, "cors_rules")
		}
		if !lb.Encryption.Readable {
			ch.Notes = append(ch.Notes, "encryption is not readable with the observing key (readBucketEncryption): not compared")
		} else if have.Encryption.Mode != want.Encryption.Mode {
			bc.SetEncryption = true
			ch.Changed = append(ch.Changed, "encryption")
		}
		if !lb.ObjectLock.Readable {
			ch.Notes = append(ch.Notes, "object lock is not readable with the observing key (readBucketRetentions): not compared")
		} else {
			lockChanged := false
			switch {
			case have.ObjectLock.Enabled && !want.ObjectLock.Enabled:
				pl.errorf(rangePtr(db.Range), "Object Lock cannot be turned off",
					"Bucket %q has Object Lock enabled, and B2 never disables it. Declare object_lock { enabled = true } in %s.", db.Name, db.Address)
			case !have.ObjectLock.Enabled && want.ObjectLock.Enabled:
				bc.EnableObjectLock = true
				lockChanged = true
			}
			if want.ObjectLock.Enabled && have.ObjectLock.DefaultRetention != want.ObjectLock.DefaultRetention {
				bc.SetDefaultRetention = true
				lockChanged = true
			}
			if lockChanged {
				ch.Changed = append(ch.Changed, "object_lock")
			}
		}
		ch.Before = bucketAttrs(have, lb, nil)
		ch.After = bucketAttrs(want, nil, unknown)
		if len(ch.Changed) > 0 {
			ch.Action = Update
		}
		pl.planNotify(db, ch, lb)
		pl.p.Changes = append(pl.p.Changes, ch)
	}
}

func infoKey(p string) (string, bool) {
	if !strings.HasPrefix(p, "info[") || !strings.HasSuffix(p, "]") {
		return "", false
	}
	return strings.Trim(p[len("info["):len(p)-1], `"`), true
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func jsonEqual(a, b any) bool {
	return string(raw(a)) == string(raw(b))
}
