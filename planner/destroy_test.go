package planner

import (
	"strings"
	"testing"

	"github.com/b2plan/b2plan/config"
	"github.com/b2plan/b2plan/live"
)

// TestDestroyLocks: with force_destroy, a lapsed retention does not stop the destroy; an
// active one, a legal hold, and (in a bucket with Object Lock) an unreadable lock do, each
// named; in a bucket without Object Lock nothing can be locked.
func TestDestroyLocks(t *testing.T) {
	lapsed, active, held, unknown := ver("lapsed", "v1", 1, 1), ver("active", "v2", 1, 2), ver("held", "v3", 1, 3), ver("unknown", "v4", 1, 4)
	lapsed.Retention, lapsed.RetainUntil = live.RetentionGovernance, now.Add(-1).UnixMilli()
	active.Retention, active.RetainUntil = live.RetentionCompliance, now.UnixMilli()+1
	held.LegalHold = live.LegalHoldOn
	unknown.Retention, unknown.LegalHold = live.RetentionUnknown, live.LegalHoldUnknown
	for _, tc := range []struct {
		name       string
		vs         []live.Version
		lockOn     bool
		wantLocked []string
	}{
		{"lapsed retention", []live.Version{lapsed}, true, nil},
		{"active, held, unknown", []live.Version{lapsed, active, held, unknown}, true, []string{"active (v2, retention compliance)", "held (v3, legal hold on)", "unknown (v4, retention unknown, legal hold unknown)"}},
		{"unknown without Object Lock", []live.Version{unknown}, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := desired(func(d *config.Desired) {
				d.Buckets = []*config.Bucket{{Address: "bucket.b", Name: "bkt-one", ForceDestroy: true}}
			})
			lb := liveBucket("bkt-one")
			lb.ObjectLock.Enabled = tc.lockOn
			l := &live.Live{Buckets: []live.Bucket{lb}, Listings: []live.Listing{{BucketName: "bkt-one", BucketID: lb.ID, Versions: tc.vs}}}
			o := opts()
			o.Destroy = true
			p, diags := Compute(d, l, o)
			if tc.wantLocked == nil {
				if diags.HasErrors() || len(p.Changes) != 1 || len(p.Changes[0].Bucket.Empty) != len(tc.vs) {
					t.Fatalf("diags %v, changes %v", diags, summary(p))
				}
				return
			}
			if !diags.HasErrors() || len(p.Changes) != 0 {
				t.Fatalf("locked versions did not stop the destroy: %v", summary(p))
			}
			for _, w := range tc.wantLocked {
				if !strings.Contains(diags[0].Detail, w) {
					t.Errorf("error does not name %q: %s", w, diags[0].Detail)
				}
			}
			if strings.Contains(diags[0].Detail, "lapsed") {
				t.Errorf("a lapsed retention is named as a lock: %s", diags[0].Detail)
			}
		})
	}
}

// TestDestroyNotListed: a bucket whose contents were not listed is never planned for deletion.
func TestDestroyNotListed(t *testing.T) {
	d := desired(func(d *config.Desired) {
		d.Buckets = []*config.Bucket{{Address: "bucket.b", Name: "bkt-one", ForceDestroy: true}}
	})
	o := opts()
	o.Destroy = true
	p, diags := Compute(d, &live.Live{Buckets: []live.Bucket{liveBucket("bkt-one")}}, o)
	if !diags.HasErrors() || len(p.Changes) != 0 || !strings.Contains(errorsOf(diags)[0], "Cannot destroy bucket bkt-one") {
		t.Fatalf("unlisted bucket: %v %v", errorsOf(diags), summary(p))
	}
}

// TestProtectedRename: a bucket with prevent_destroy created while prune deletes another
// (possibly its old name) is a plan error; without prevent_destroy the prune goes ahead.
func TestProtectedRename(t *testing.T) {
	for _, protect := range []bool{true, false} {
		d := desired(func(d *config.Desired) {
			d.Settings = config.Settings{OwnsBuckets: []string{"site-*"}, Prune: true}
			d.Buckets = []*config.Bucket{{Address: "bucket.site", Name: "site-new", PreventDestroy: protect}}
		})
		old := liveBucket("site-old")
		l := &live.Live{Buckets: []live.Bucket{old}, Listings: []live.Listing{{BucketName: "site-old", BucketID: old.ID}}}
		p, diags := Compute(d, l, opts())
		errs := strings.Join(errorsOf(diags), ";")
		if protect && (!strings.Contains(errs, "Possible rename of a protected bucket") || !strings.Contains(diags[0].Detail, `"site-old"`)) {
			t.Errorf("protected: %v", errorsOf(diags))
		}
		if !protect && (diags.HasErrors() || !strings.Contains(strings.Join(summary(p), ";"), `delete unmanaged.bucket["site-old"]`)) {
			t.Errorf("unprotected: %v %v", errorsOf(diags), summary(p))
		}
	}
}

// TestNonEmptyNamed: destroy and prune name a non-empty bucket's contents by the same rule:
// the first five names (versions of one name counted once), then how many entries are left.
func TestNonEmptyNamed(t *testing.T) {
	var vs []live.Version
	for i, n := range []string{"a", "a", "b", "c", "d", "e", "f", "f", "g"} {
		vs = append(vs, ver(n, "v"+string(rune('0'+i)), 1, byte(i)))
	}
	unf := []live.Version{{Name: "big", ID: "u1", Action: live.ActionStart}}
	lb := liveBucket("bkt-full")
	listing := live.Listing{BucketName: "bkt-full", BucketID: lb.ID, Versions: vs, Unfinished: unf}
	want := "9 file versions and 1 unfinished large files (a, b, c, d, e and 4 more)"

	d := desired(func(d *config.Desired) { d.Buckets = []*config.Bucket{{Address: "bucket.b", Name: "bkt-full"}} })
	o := opts()
	o.Destroy = true
	_, diags := Compute(d, &live.Live{Buckets: []live.Bucket{lb}, Listings: []live.Listing{listing}}, o)
	if !diags.HasErrors() || !strings.Contains(diags[0].Detail, want) {
		t.Errorf("destroy: %v", diags)
	}
	d = desired(func(d *config.Desired) { d.Settings.OwnsBuckets = []string{"bkt-*"}; d.Settings.Prune = true })
	_, diags = Compute(d, &live.Live{ObservedBuckets: true, Buckets: []live.Bucket{lb}, Listings: []live.Listing{listing}}, opts())
	if !diags.HasErrors() || !strings.Contains(diags[0].Detail, want) ||
		!strings.Contains(diags[0].Detail, `b2plan destroy -target=bucket.bkt_full`) || strings.Contains(diags[0].Detail, "Even force_destroy") {
		t.Errorf("prune: %v", diags)
	}
}
