package planner

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"

	"github.com/b2plan/b2plan/config"
	"github.com/b2plan/b2plan/live"
)

func TestBuckets(t *testing.T) {
	full := func() *config.Bucket {
		return &config.Bucket{Address: "bucket.assets", Name: "acme-assets", Type: "allPrivate",
			Info: map[string]string{"team": "web"},
			LifecycleRules: []config.LifecycleRule{
				{Prefix: "logs/", DaysFromUploadingToHiding: ip(30)},
				{Prefix: "a/", DaysFromHidingToDeleting: ip(1)},
			},
			CORSRules: []config.CORSRule{{Name: "zz-rule", AllowedOrigins: []string{"https://b", "https://a"},
				AllowedOperations: []string{"s3_get", "b2_download_file_by_name"}, AllowedHeaders: []string{"Range", "authorization"}, MaxAgeSeconds: 60},
				{Name: "aa-rule", AllowedOrigins: []string{"*"}, AllowedOperations: []string{"s3_head"}}},
			Encryption: "none"}
	}
	// The same bucket as B2 reports it: other order, mixed-case info key, 0 day fields.
	liveFull := func() live.Bucket {
		b := liveBucket("acme-assets")
		b.Info = map[string]string{"Team": "web"}
		b.LifecycleRules = []live.LifecycleRule{{FileNamePrefix: "a/", DaysFromHidingToDeleting: 1}, {FileNamePrefix: "logs/", DaysFromUploadingToHiding: 30}}
		b.CORSRules = []live.CORSRule{{Name: "aa-rule", AllowedOrigins: []string{"*"}, AllowedOperations: []string{"s3_head"}},
			{Name: "zz-rule", AllowedOrigins: []string{"https://a", "https://b"}, AllowedOperations: []string{"b2_download_file_by_name", "s3_get"},
				AllowedHeaders: []string{"authorization", "range"}, MaxAgeSeconds: 60}}
		b.Encryption.Mode = "none"
		return b
	}
	tests := []struct {
		name    string
		bucket  func() *config.Bucket
		live    func() []live.Bucket
		want    []string
		errs    []string
		notes   int
		unknown bool
	}{
		{name: "create", bucket: full, want: []string{"create bucket.assets"}},
		{name: "quirks normalise to no-op", bucket: full, live: func() []live.Bucket { return []live.Bucket{liveFull()} }, want: []string{"no-op bucket.assets"}},
		{name: "name compares case-insensitively", bucket: func() *config.Bucket { b := full(); b.Name = "ACME-assets"; return b },
			live: func() []live.Bucket { return []live.Bucket{liveFull()} }, want: []string{"no-op bucket.assets"}},
		{name: "type and info", bucket: func() *config.Bucket { b := full(); b.Type = "allPublic"; b.Info["team"] = "ops"; return b },
			live: func() []live.Bucket { return []live.Bucket{liveFull()} }, want: []string{"update bucket.assets [type,info]"}},
		{name: "default type allPrivate", bucket: func() *config.Bucket { b := full(); b.Type = ""; return b },
			live: func() []live.Bucket { return []live.Bucket{liveFull()} }, want: []string{"no-op bucket.assets"}},
		{name: "lifecycle and cors", bucket: func() *config.Bucket {
			b := full()
			b.LifecycleRules[0].DaysFromHidingToDeleting = ip(2)
			b.CORSRules[1].MaxAgeSeconds = 10
			return b
		}, live: func() []live.Bucket { return []live.Bucket{liveFull()} }, want: []string{"update bucket.assets [lifecycle_rules,cors_rules]"}},
		{name: "encryption on", bucket: func() *config.Bucket { b := full(); b.Encryption = "SSE-B2"; return b },
			live: func() []live.Bucket { return []live.Bucket{liveFull()} }, want: []string{"update bucket.assets [encryption]"}},
		{name: "encryption unreadable is not drift", bucket: func() *config.Bucket { b := full(); b.Encryption = "SSE-B2"; return b },
			live: func() []live.Bucket {
				b := liveFull()
				b.Encryption = live.Encryption{}
				b.ObjectLock = live.ObjectLock{}
				return []live.Bucket{b}
			}, want: []string{"no-op bucket.assets"}, notes: 2},
		{name: "object lock on", bucket: func() *config.Bucket {
			b := full()
			b.ObjectLock = &config.ObjectLock{Enabled: true, DefaultRetention: &config.Retention{Mode: "governance", Days: 30}}
			return b
		}, live: func() []live.Bucket { return []live.Bucket{liveFull()} }, want: []string{"update bucket.assets [object_lock]"}},
		{name: "object lock same", bucket: func() *config.Bucket {
			b := full()
			b.ObjectLock = &config.ObjectLock{Enabled: true, DefaultRetention: &config.Retention{Mode: "governance", Years: 1}}
			return b
		}, live: func() []live.Bucket {
			b := liveFull()
			b.ObjectLock.Enabled = true
			b.ObjectLock.DefaultRetention = live.Retention{Mode: "governance", Period: live.Period{Duration: 1, Unit: "years"}}
			return []live.Bucket{b}
		}, want: []string{"no-op bucket.assets"}},
		{name: "object lock disabled vs absent", bucket: func() *config.Bucket { b := full(); b.ObjectLock = &config.ObjectLock{Enabled: false}; return b },
			live: func() []live.Bucket { return []live.Bucket{liveFull()} }, want: []string{"no-op bucket.assets"}},
		{name: "object lock off is an error", bucket: full, live: func() []live.Bucket {
			b := liveFull()
			b.ObjectLock.Enabled = true
			return []live.Bucket{b}
		}, want: []string{"no-op bucket.assets"}, errs: []string{"Object Lock cannot be turned off"}},
		{name: "deferred info value", bucket: func() *config.Bucket {
			b := full()
			b.Info["peer"] = "${key.ci.id}"
			b.Deferred = []config.Deferred{{Path: `info["peer"]`, Template: "${key.ci.id}", Refs: []string{"key.ci"}}}
			return b
		}, live: func() []live.Bucket { return []live.Bucket{liveFull()} }, want: []string{"update bucket.assets [info]"}, unknown: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := desired(func(d *config.Desired) { d.Buckets = []*config.Bucket{tc.bucket()} })
			l := &live.Live{ObservedBuckets: true}
			if tc.live != nil {
				l.Buckets = tc.live()
			}
			p, diags := Compute(d, l, opts())
			if diff := cmp.Diff(tc.want, summary(p)); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.errs, errorsOf(diags)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if got := len(p.Changes[0].Notes); got != tc.notes {
				t.Errorf("notes = %d (%v), want %d", got, p.Changes[0].Notes, tc.notes)
			}
			unk := false
			for _, a := range p.Changes[0].After {
				unk = unk || a.Unknown
			}
			if unk != tc.unknown {
				t.Errorf("unknown after = %v, want %v", unk, tc.unknown)
			}
		})
	}
}

func TestKeys(t *testing.T) {
	caps := []string{"listBuckets", "listFiles", "readFiles"}
	base := func() *config.Key {
		return &config.Key{Address: "key.ci", Name: "acme-ci", Capabilities: caps, SecretFile: "/cfg/secrets/ci.env"}
	}
	lk := func() live.Key {
		return live.Key{Name: "acme-ci", ID: "K1", Capabilities: []string{"readFiles", "listFiles", "listBuckets"}}
	}
	bucket := liveBucket("acme-assets")
	tests := []struct {
		name    string
		key     func() *config.Key
		keys    []live.Key
		buckets []*config.Bucket
		want    []string
		reason  string
		errs    []string
	}{
		{name: "create", key: base, want: []string{"create key.ci"}},
		{name: "create needs secret_file", key: func() *config.Key { k := base(); k.SecretFile = ""; return k },
			want: []string{"create key.ci"}, errs: []string{"A key that b2plan creates needs secret_file"}},
		{name: "no-op", key: base, keys: []live.Key{lk()}, want: []string{"no-op key.ci"}},
		{name: "capabilities differ", key: func() *config.Key { k := base(); k.Capabilities = []string{"listBuckets"}; return k },
			keys: []live.Key{lk()}, want: []string{"replace key.ci [capabilities]"}, reason: "B2 application keys cannot be changed (capabilities differ)"},
		{name: "bucket restriction", key: func() *config.Key { k := base(); k.Buckets = []string{"acme-assets"}; return k },
			keys: []live.Key{lk()}, want: []string{"replace key.ci [buckets]"}},
		{name: "bucket restriction same", key: func() *config.Key { k := base(); k.Buckets = []string{"acme-assets"}; return k },
			keys: []live.Key{func() live.Key { k := lk(); k.BucketIDs = []string{bucket.ID}; return k }()}, want: []string{"no-op key.ci"}},
		{name: "planned bucket is known after apply", key: func() *config.Key { k := base(); k.Buckets = []string{"acme-new"}; return k },
			buckets: []*config.Bucket{{Address: "bucket.new", Name: "acme-new"}},
			keys:    []live.Key{lk()}, want: []string{"create bucket.new", "replace key.ci [buckets]"}},
		{name: "name prefix", key: func() *config.Key { k := base(); k.NamePrefix = "builds/"; return k },
			keys: []live.Key{lk()}, want: []string{"replace key.ci [name_prefix]"}},
		{name: "deferred name prefix resolved from live bucket id", key: func() *config.Key {
			k := base()
			k.NamePrefix = "${bucket.assets.id}/"
			k.Deferred = []config.Deferred{{Path: "name_prefix", Template: "${bucket.assets.id}/", Refs: []string{"bucket.assets"}}}
			return k
		}, buckets: []*config.Bucket{{Address: "bucket.assets", Name: "acme-assets"}},
			keys: []live.Key{func() live.Key { k := lk(); k.NamePrefix = bucket.ID + "/"; return k }()},
			want: []string{"no-op bucket.assets", "no-op key.ci"}},
		{name: "expires within renew_before", key: func() *config.Key {
			k := base()
			k.Duration = 720 * time.Hour
			k.RenewBefore = 168 * time.Hour
			return k
		},
			keys: []live.Key{func() live.Key { k := lk(); k.Expires = now.Add(100 * time.Hour); return k }()},
			want: []string{"replace key.ci [expires]"}, reason: "key expires within renew_before (168h0m0s, at 2026-03-05T16:00:00Z)"},
		{name: "expires outside renew_before", key: func() *config.Key {
			k := base()
			k.Duration = 720 * time.Hour
			k.RenewBefore = 168 * time.Hour
			return k
		},
			keys: []live.Key{func() live.Key { k := lk(); k.Expires = now.Add(500 * time.Hour); return k }()}, want: []string{"no-op key.ci"}},
		{name: "expired", key: func() *config.Key { k := base(); k.Duration = 720 * time.Hour; return k },
			keys: []live.Key{func() live.Key { k := lk(); k.Expires = now.Add(-time.Hour); return k }()}, want: []string{"replace key.ci [expires]"}},
		{name: "duration declared, key never expires", key: func() *config.Key { k := base(); k.Duration = 720 * time.Hour; return k },
			keys: []live.Key{lk()}, want: []string{"replace key.ci [expires]"}},
		{name: "no duration, key expires", key: base,
			keys: []live.Key{func() live.Key { k := lk(); k.Expires = now.Add(time.Hour); return k }()}, want: []string{"replace key.ci [expires]"}},
		{name: "duration shortened", key: func() *config.Key { k := base(); k.Duration = 24 * time.Hour; return k },
			keys: []live.Key{func() live.Key { k := lk(); k.Expires = now.Add(700 * time.Hour); return k }()}, want: []string{"replace key.ci [expires]"}},
		{name: "duplicate live names", key: base, keys: []live.Key{lk(), func() live.Key { k := lk(); k.ID = "K2"; return k }()},
			errs: []string{"Two live keys share the name acme-ci"}},
		{name: "replace without secret_file", key: func() *config.Key { k := base(); k.SecretFile = ""; k.NamePrefix = "x/"; return k },
			keys: []live.Key{lk()}, want: []string{"replace key.ci [name_prefix]"}, errs: []string{"A key that b2plan creates needs secret_file"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := desired(func(d *config.Desired) {
				d.Keys = []*config.Key{tc.key()}
				d.Buckets = tc.buckets
			})
			l := &live.Live{ObservedBuckets: true, ObservedKeys: true, Buckets: []live.Bucket{bucket}, Keys: tc.keys}
			p, diags := Compute(d, l, opts())
			if diff := cmp.Diff(tc.want, summary(p)); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.errs, errorsOf(diags)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if tc.reason != "" && p.Changes[0].Reason != tc.reason {
				t.Errorf("reason = %q, want %q", p.Changes[0].Reason, tc.reason)
			}
		})
	}
}

func TestDriftAndPrune(t *testing.T) {
	empty := live.Listing{BucketName: "acme-old", BucketID: "id-acme-old"}
	full := live.Listing{BucketName: "acme-full", BucketID: "id-acme-full", Versions: []live.Version{ver("x", "f1", 1, 1)}}
	l := &live.Live{ObservedBuckets: true, ObservedKeys: true,
		Buckets: []live.Bucket{liveBucket("acme-full"), liveBucket("acme-keep"), liveBucket("acme-old"), liveBucket("other")},
		Keys:    []live.Key{{Name: "acme-stale", ID: "K9"}, {Name: "someone-else", ID: "K8"}},
	}
	decl := []*config.Bucket{{Address: "bucket.keep", Name: "acme-keep"}}
	desired := func(mut func(d *config.Desired)) *config.Desired {
		return desired(func(d *config.Desired) {
			d.Settings.OwnsBuckets = []string{"acme-*"}
			d.Settings.OwnsKeys = []string{"acme-*"}
			mut(d)
		})
	}
	t.Run("prune off", func(t *testing.T) {
		d := desired(func(d *config.Desired) { d.Buckets = decl })
		p, diags := Compute(d, l, opts())
		want := []string{"no-op bucket.keep", `drift unmanaged.bucket["acme-full"] deleted=false`,
			`drift unmanaged.bucket["acme-old"] deleted=false`, `drift unmanaged.key["acme-stale/K9"] deleted=false`}
		if diff := cmp.Diff(want, summary(p)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		if len(diags) != 0 || !p.HasChanges() || p.HasActions() {
			t.Errorf("diags %v, HasChanges %v, HasActions %v", diags, p.HasChanges(), p.HasActions())
		}
		req := LiveRequest(d, l)
		if len(req.Prefixes) != 0 {
			t.Errorf("prune off must not list buckets: %v", req.Prefixes)
		}
	})
	t.Run("prune on", func(t *testing.T) {
		d := desired(func(d *config.Desired) { d.Buckets = decl; d.Settings.Prune = true })
		req := LiveRequest(d, l)
		wantReq := []live.PrefixRequest{{BucketName: "acme-full"}, {BucketName: "acme-old"}}
		if diff := cmp.Diff(wantReq, req.Prefixes); diff != "" {
			t.Errorf("request (-want +got):\n%s", diff)
		}
		l2 := *l
		l2.Listings = []live.Listing{full, empty}
		p, diags := Compute(d, &l2, opts())
		want := []string{"no-op bucket.keep", `delete unmanaged.bucket["acme-old"]`, `delete unmanaged.key["acme-stale/K9"]`,
			`drift unmanaged.bucket["acme-full"] deleted=false`, `drift unmanaged.bucket["acme-old"] deleted=true`, `drift unmanaged.key["acme-stale/K9"] deleted=true`}
		if diff := cmp.Diff(want, summary(p)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"Cannot prune non-empty bucket acme-full"}, errorsOf(diags)); diff != "" {
			t.Errorf("errors (-want +got):\n%s", diff)
		}
	})
	t.Run("prune without listing", func(t *testing.T) {
		d := desired(func(d *config.Desired) { d.Buckets = decl; d.Settings.Prune = true })
		_, diags := Compute(d, l, opts())
		if diff := cmp.Diff([]string{"Cannot prune bucket acme-full", "Cannot prune bucket acme-old"}, errorsOf(diags)); diff != "" {
			t.Errorf("errors (-want +got):\n%s", diff)
		}
	})
	t.Run("target", func(t *testing.T) {
		d := desired(func(d *config.Desired) { d.Buckets = decl; d.Settings.Prune = true })
		l2 := *l
		l2.Listings = []live.Listing{full, empty}
		o := opts()
		o.Targets = []string{`unmanaged.bucket["acme-old"]`}
		p, _ := Compute(d, &l2, o)
		c := p.Counts()
		if c.Destroy != 1 || c.Add+c.Change != 0 {
			t.Errorf("counts %+v", c)
		}
	})
}

func TestFolders(t *testing.T) {
	tests := []struct {
		name     string
		versions []live.Version
		want     []string
	}{
		{"empty prefix", nil, []string{"create folder.builds"}},
		{"object exists", []live.Version{ver("builds/x", "f1", 3, 1)}, nil},
		{"placeholder exists", []live.Version{ver("builds/.bzEmpty", "f1", 0, 1)}, nil},
		{"only hidden names", []live.Version{hide("builds/x", "f2"), ver("builds/x", "f1", 3, 1)}, []string{"create folder.builds"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := desired(func(d *config.Desired) {
				d.Folders = []*config.Folder{{Address: "folder.builds", Bucket: "acme-assets", Path: "builds/"}}
			})
			// The listing of a shorter prefix covers the folder.
			l := &live.Live{Buckets: []live.Bucket{liveBucket("acme-assets")},
				Listings: []live.Listing{{BucketName: "acme-assets", Prefix: "", Versions: append([]live.Version{ver("a", "f0", 1, 1)}, tc.versions...)}}}
			p, diags := Compute(d, l, opts())
			if diff := cmp.Diff(tc.want, summary(p)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if len(diags) > 0 {
				t.Error(diags)
			}
		})
	}
	t.Run("bucket created by the plan", func(t *testing.T) {
		d := desired(func(d *config.Desired) {
			d.Buckets = []*config.Bucket{{Address: "bucket.a", Name: "acme-assets"}}
			d.Folders = []*config.Folder{{Address: "folder.builds", Bucket: "acme-assets", Path: "builds/"}}
		})
		p, diags := Compute(d, &live.Live{}, opts())
		if diff := cmp.Diff([]string{"create bucket.a", "create folder.builds"}, summary(p)); diff != "" || len(diags) > 0 {
			t.Errorf("(-want +got):\n%s %v", diff, diags)
		}
	})
}

type moveCase struct {
	name       string
	from, to   string
	toBucket   string
	versions   string
	source     string
	onConflict string
	src        []live.Version // listing of the source bucket (whole bucket)
	dst        []live.Version // listing of the destination bucket when toBucket is set
	unfinished []live.Version
	lock       bool
	want       []string
	conflicts  []string
	locked     int
	hidden     []string
	errs       []string
	objects    int
}

func TestMoves(t *testing.T) {
	locked := ver("a/l", "fl", 5, 1)
	locked.Retention, locked.RetainUntil = live.RetentionGovernance, now.Add(time.Hour).UnixMilli()
	expiredLock := ver("a/e", "fe", 5, 1)
	expiredLock.Retention, expiredLock.RetainUntil = live.RetentionCompliance, now.Add(-time.Hour).UnixMilli()
	held := ver("a/h", "fh", 5, 1)
	held.LegalHold = live.LegalHoldOn
	big := ver("a/big", "fbig", 12_345_678_901, 1)
	tests := []moveCase{
		{name: "latest, delete every version", from: "a/", to: "b/",
			src:  []live.Version{ver("a/x", "f2", 2, 2), ver("a/x", "f1", 1, 1), ver("a/y", "f3", 3, 3)},
			want: []string{"copy a/x(f2) -> b/x", "delete a/x(f2)", "delete a/x(f1)", "copy a/y(f3) -> b/y", "delete a/y(f3)"}, objects: 2},
		{name: "latest, hide source", from: "a/", to: "b/", source: "hide",
			src:  []live.Version{ver("a/x", "f2", 2, 2), ver("a/x", "f1", 1, 1)},
			want: []string{"copy a/x(f2) -> b/x", "hide a/x(f2)"}, objects: 1},
		{name: "completed latest+hide move is a no-op", from: "a/", to: "b/", source: "hide",
			src: []live.Version{hide("a/x", "h1"), ver("a/x", "f2", 2, 2), ver("a/x", "f1", 1, 1), ver("b/x", "c2", 2, 2)}},
		{name: "hidden before the move, other content at destination: still reported", from: "a/", to: "b/", source: "hide",
			src:    []live.Version{hide("a/x", "h1"), ver("a/x", "f2", 2, 2), ver("b/x", "c9", 9, 9)},
			hidden: []string{"a/x"}},
		{name: "all versions oldest first", from: "a/", to: "b/", versions: "all",
			src:  []live.Version{ver("a/x", "f3", 3, 3), hide("a/x", "h1"), ver("a/x", "f1", 1, 1)},
			want: []string{"copy a/x(f1) -> b/x", "hide-destination a/x(h1) -> b/x", "copy a/x(f3) -> b/x", "delete a/x(f3)", "delete a/x(h1)", "delete a/x(f1)"}, objects: 1},
		{name: "all: interrupted history with a middle hide resumes after it", from: "a/", to: "b/", versions: "all",
			src: []live.Version{ver("a/x", "f3", 3, 3), hide("a/x", "h1"), ver("a/x", "f1", 1, 1),
				hide("b/x", "hc"), ver("b/x", "c1", 1, 1)},
			want: []string{"copy a/x(f3) -> b/x", "delete a/x(f3)", "delete a/x(h1)", "delete a/x(f1)"}, objects: 1},
		{name: "all: orphan hide marker of a killed run is removed", from: "a/", to: "b/", versions: "all",
			src:  []live.Version{hide("a/x", "h1"), hide("b/x", "hc"), ver("b/x", "c1", 1, 1)},
			want: []string{"delete a/x(h1)"}, objects: 1},
		{name: "all: a hide-only source hides a visible destination first", from: "a/", to: "b/", versions: "all",
			src:  []live.Version{hide("a/x", "h1"), ver("b/x", "c1", 1, 1)},
			want: []string{"hide-destination a/x(h1) -> b/x", "delete a/x(h1)"}, objects: 1},
		{name: "latest: a hide-only source name is removed", from: "a/", to: "b/",
			src:  []live.Version{hide("a/x", "h1"), ver("b/x", "c1", 1, 1)},
			want: []string{"delete a/x(h1)"}, objects: 1},
		{name: "hidden name left alone with latest", from: "a/", to: "b/",
			src:  []live.Version{hide("a/x", "h1"), ver("a/x", "f1", 1, 1), ver("a/y", "f2", 2, 2)},
			want: []string{"copy a/y(f2) -> b/y", "delete a/y(f2)"}, hidden: []string{"a/x"}, objects: 1},
		{name: "hidden name moved with all", from: "a/", to: "b/", versions: "all",
			src:  []live.Version{hide("a/x", "h1"), ver("a/x", "f1", 1, 1)},
			want: []string{"copy a/x(f1) -> b/x", "hide-destination a/x(h1) -> b/x", "delete a/x(h1)", "delete a/x(f1)"}, objects: 1},
		{name: "already copied: only source removal", from: "a/", to: "b/",
			src:  []live.Version{ver("a/x", "f1", 1, 1), ver("b/x", "c1", 1, 1)},
			want: []string{"delete a/x(f1)"}, objects: 1},
		{name: "completed move is a no-op", from: "a/", to: "b/",
			src: []live.Version{ver("b/x", "c1", 1, 1), ver("b/y", "c2", 1, 2)}},
		{name: "conflict fail", from: "a/", to: "b/",
			src:       []live.Version{ver("a/x", "f1", 1, 1), ver("a/y", "f2", 1, 2), ver("b/x", "c1", 9, 9)},
			want:      []string{"copy a/y(f2) -> b/y", "delete a/y(f2)"},
			conflicts: []string{"a/x -> b/x fail"}, errs: []string{"Move conflicts"}, objects: 1},
		{name: "conflict skip", from: "a/", to: "b/", onConflict: "skip",
			src:       []live.Version{ver("a/x", "f1", 1, 1), ver("b/x", "c1", 9, 9)},
			conflicts: []string{"a/x -> b/x skip"}},
		{name: "conflict overwrite", from: "a/", to: "b/", onConflict: "overwrite",
			src:       []live.Version{ver("a/x", "f1", 1, 1), ver("b/x", "c1", 9, 9)},
			want:      []string{"copy a/x(f1) -> b/x", "delete a/x(f1)"},
			conflicts: []string{"a/x -> b/x overwrite"}, objects: 1},
		{name: "hidden destination is not a conflict", from: "a/", to: "b/",
			src:  []live.Version{ver("a/x", "f1", 1, 1), hide("b/x", "h9"), ver("b/x", "c1", 9, 9)},
			want: []string{"copy a/x(f1) -> b/x", "delete a/x(f1)"}, objects: 1},
		{name: "overlap: destination under source", from: "a/", to: "a/b/",
			src:  []live.Version{ver("a/b/x", "c1", 1, 1), ver("a/x", "f1", 1, 1), ver("a/y", "f2", 2, 2)},
			want: []string{"delete a/x(f1)", "copy a/y(f2) -> a/b/y", "delete a/y(f2)"}, objects: 2},
		{name: "overlap: source under destination, destination under the source again is refused", from: "a/b/", to: "a/",
			src:       []live.Version{ver("a/b/b/x", "f1", 1, 1), ver("a/b/x", "f2", 2, 2)},
			want:      []string{"copy a/b/x(f2) -> a/x", "delete a/b/x(f2)"},
			conflicts: []string{"a/b/b/x -> a/b/x error"}, errs: []string{"Objects that cannot be moved"}, objects: 1},
		{name: "overlap: source under destination with hide", from: "a/b/", to: "a/", source: "hide",
			src:       []live.Version{ver("a/b/b/x", "f1", 1, 1), ver("a/b/x", "f2", 2, 2)},
			want:      []string{"copy a/b/x(f2) -> a/x", "hide a/b/x(f2)"},
			conflicts: []string{"a/b/b/x -> a/b/x error"}, errs: []string{"Objects that cannot be moved"}, objects: 1},
		{name: "overlap: source under destination converges", from: "a/b/", to: "a/",
			src:  []live.Version{ver("a/b/c/x", "f1", 1, 1), ver("a/b/x", "f2", 2, 2), ver("a/c/y", "c3", 3, 3)},
			want: []string{"copy a/b/c/x(f1) -> a/c/x", "delete a/b/c/x(f1)", "copy a/b/x(f2) -> a/x", "delete a/b/x(f2)"}, objects: 2},
		{name: "locked versions block their name", from: "a/", to: "b/", lock: true,
			src:    []live.Version{expiredLock, held, locked, ver("a/m", "fm", 1, 1), ver("a/m", "fm0", 1, 1)},
			want:   []string{"copy a/e(fe) -> b/e", "delete a/e(fe)", "copy a/m(fm) -> b/m", "delete a/m(fm)", "delete a/m(fm0)"},
			locked: 2, objects: 2},
		{name: "locks do not block hide", from: "a/", to: "b/", source: "hide", lock: true,
			src:  []live.Version{locked},
			want: []string{"copy a/l(fl) -> b/l", "hide a/l(fl)"}, objects: 1},
		{name: "large copy", from: "a/", to: "b/",
			src:  []live.Version{big},
			want: []string{"copy-large a/big(fbig) -> b/big parts=124", "delete a/big(fbig)"}, objects: 1},
		{name: "name too long", from: "a/", to: strings.Repeat("d", 1020) + "/",
			src:       []live.Version{ver("a/xyzzy", "f1", 1, 1)},
			conflicts: []string{"a/xyzzy -> " + strings.Repeat("d", 1020) + "/xyzzy error"}, errs: []string{"Objects that cannot be moved"}},
		{name: "other bucket", from: "a/", to: "a/", toBucket: "acme-other",
			src:  []live.Version{ver("a/x", "f1", 1, 1), ver("a/y", "f2", 1, 2)},
			dst:  []live.Version{ver("a/x", "c1", 1, 1)},
			want: []string{"delete a/x(f1)", "copy a/y(f2) -> a/y", "delete a/y(f2)"}, objects: 2},
		{name: "all versions partially copied", from: "a/", to: "b/", versions: "all",
			src:  []live.Version{ver("a/x", "f2", 2, 2), ver("a/x", "f1", 1, 1), ver("b/x", "c1", 1, 1)},
			want: []string{"copy a/x(f2) -> b/x", "delete a/x(f2)", "delete a/x(f1)"}, objects: 1},
		{name: "unfinished large files reported", from: "a/", to: "b/",
			src:        []live.Version{ver("a/x", "f1", 1, 1)},
			unfinished: []live.Version{{Name: "a/up", ID: "u1", Action: live.ActionStart}, {Name: "c/up", ID: "u2", Action: live.ActionStart}},
			want:       []string{"copy a/x(f1) -> b/x", "delete a/x(f1)"}, objects: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, diags := planOneMove(tc)
			if diff := cmp.Diff(tc.want, opsOf(m)); diff != "" {
				t.Errorf("ops (-want +got):\n%s", diff)
			}
			var cs []string
			for _, c := range m.Conflicts {
				cs = append(cs, c.Source+" -> "+c.Dest+" "+c.Resolution)
			}
			if diff := cmp.Diff(tc.conflicts, cs); diff != "" {
				t.Errorf("conflicts (-want +got):\n%s", diff)
			}
			if len(m.Locked) != tc.locked {
				t.Errorf("locked = %v, want %d", m.Locked, tc.locked)
			}
			if diff := cmp.Diff(tc.hidden, m.Hidden); diff != "" {
				t.Errorf("hidden (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.errs, errorsOf(diags)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if m.Objects != tc.objects {
				t.Errorf("objects = %d, want %d", m.Objects, tc.objects)
			}
			if tc.unfinished != nil && len(m.Unfinished) != 1 {
				t.Errorf("unfinished = %v", m.Unfinished)
			}
		})
	}
}

func planOneMove(tc moveCase) (*Move, hcl.Diagnostics) {
	d := desired(func(d *config.Desired) {
		d.Moves = []*config.Move{{Address: "move.m", Bucket: "acme-src", From: tc.from, To: tc.to, ToBucket: tc.toBucket,
			Versions: tc.versions, Source: tc.source, OnConflict: tc.onConflict}}
	})
	sb := liveBucket("acme-src")
	sb.ObjectLock.Enabled = tc.lock
	l := &live.Live{Buckets: []live.Bucket{sb, liveBucket("acme-other")},
		Listings: []live.Listing{{BucketName: "acme-src", BucketID: sb.ID, Versions: tc.src, Unfinished: tc.unfinished}}}
	if tc.toBucket != "" {
		l.Listings = append(l.Listings, live.Listing{BucketName: tc.toBucket, Prefix: tc.to, Versions: tc.dst})
	}
	p, diags := Compute(d, l, opts())
	return p.Moves[0], diags
}

func TestMoveCalls(t *testing.T) {
	big := ver("a/big", "fbig", 12_345_678_901, 1)
	m, _ := planOneMove(moveCase{from: "a/", to: "b/", src: []live.Version{big, ver("a/s", "f1", 1, 1), ver("a/s", "f0", 1, 1)}})
	want := Calls{ClassA: 2 + 3, ClassC: 124 + 1 + 1}
	if m.Calls != want {
		t.Errorf("calls = %+v, want %+v", m.Calls, want)
	}
	if m.Bytes != big.Size+1 || m.Copies != 2 || m.LargeCopies != 1 || m.Deletes != 3 {
		t.Errorf("tally %+v", m)
	}
}

func TestLiveRequest(t *testing.T) {
	d := desired(func(d *config.Desired) {
		d.Folders = []*config.Folder{{Bucket: "acme-a", Path: "x/y/"}}
		d.Moves = []*config.Move{{Bucket: "acme-a", From: "x/", To: "z/"}, {Bucket: "acme-a", From: "m/", To: "n/", ToBucket: "acme-b"}}
	})
	got := LiveRequest(d, nil)
	want := live.Request{Buckets: true, KeysIfAllowed: true, Prefixes: []live.PrefixRequest{
		{BucketName: "acme-a", Prefix: "m/"}, {BucketName: "acme-a", Prefix: "x/"}, {BucketName: "acme-a", Prefix: "z/"}, {BucketName: "acme-b", Prefix: "n/"}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestActions(t *testing.T) {
	for _, tc := range []struct {
		a       Action
		s, sym  string
		actions []string
	}{
		{NoOp, "no-op", " ", []string{"no-op"}},
		{Create, "create", "+", []string{"create"}},
		{Update, "update", "~", []string{"update"}},
		{Replace, "replace", "-/+", []string{"create", "delete"}},
		{Delete, "delete", "-", []string{"delete"}},
		{MoveObjects, "move", ">", []string{"move"}},
	} {
		if tc.a.String() != tc.s || tc.a.Symbol() != tc.sym || !cmp.Equal(tc.a.JSONActions(), tc.actions) {
			t.Errorf("%d: %q %q %v", tc.a, tc.a.String(), tc.a.Symbol(), tc.a.JSONActions())
		}
	}
}

// at sets a version's upload time to now + sec seconds.
func at(v live.Version, sec float64) live.Version {
	v.Uploaded = now.UnixMilli() + int64(sec*1000)
	return v
}

// TestMoveAllVersionsHide covers versions = "all" with hide markers at the
// source: the ones a move with source = "hide" added itself must never be
// carried to the destination on a re-plan; names hidden before the move are.
func TestMoveAllVersionsHide(t *testing.T) {
	// A completed versions = all / source = hide move: copies made at
	// +100 s and +101 s, the source hidden right after them.
	completedSrc := []live.Version{
		at(hide("a/x", "hx"), 102), at(ver("a/x", "f2", 2, 2), -20), at(ver("a/x", "f1", 1, 1), -30),
		at(hide("a/y", "hy"), 103), at(ver("a/y", "f3", 3, 3), -10),
	}
	completedDst := []live.Version{
		at(ver("b/x", "c2", 2, 2), 101), at(ver("b/x", "c1", 1, 1), 100),
		at(ver("b/y", "c3", 3, 3), 102),
	}
	tests := []moveCase{
		{name: "completed all+hide move is a no-op", from: "a/", to: "b/", versions: "all", source: "hide",
			src: append(append([]live.Version{}, completedSrc...), completedDst...)},
		{name: "completed all+hide move across buckets is a no-op", from: "a/", to: "b/", toBucket: "acme-other",
			versions: "all", source: "hide", src: completedSrc, dst: completedDst},
		{name: "completed move: bucket clocks a few ms apart", from: "a/", to: "b/", toBucket: "acme-other",
			versions: "all", source: "hide",
			src: []live.Version{at(hide("a/x", "hx"), 100.001), at(ver("a/x", "f1", 1, 1), -30)},
			dst: []live.Version{at(ver("b/x", "c1", 1, 1), 100.004)}},
		{name: "completed move: a later upload at the destination is not a conflict", from: "a/", to: "b/",
			toBucket: "acme-other", versions: "all", source: "hide", src: completedSrc,
			dst: append([]live.Version{at(ver("b/x", "z", 9, 9), 500)}, completedDst...)},
		{name: "completed all+hide move, then source = delete: deletes only", from: "a/", to: "b/",
			toBucket: "acme-other", versions: "all", src: completedSrc, dst: completedDst,
			want:    []string{"delete a/x(hx)", "delete a/x(f2)", "delete a/x(f1)", "delete a/y(hy)", "delete a/y(f3)"},
			objects: 2},
		{name: "half-completed all+hide move: only the remainder", from: "a/", to: "b/", toBucket: "acme-other",
			versions: "all", source: "hide",
			src: []live.Version{
				at(ver("a/copied", "p2", 2, 2), -20), at(ver("a/copied", "p1", 1, 1), -30), // copied, not hidden yet
				at(hide("a/done", "hd"), 103), at(ver("a/done", "d1", 4, 4), -30), // copied and hidden
				at(ver("a/fresh", "n1", 5, 5), -30),                                    // not started
				at(ver("a/part", "q2", 7, 7), -20), at(ver("a/part", "q1", 6, 6), -30), // oldest copied only
			},
			dst: []live.Version{
				at(ver("b/copied", "cp2", 2, 2), 101), at(ver("b/copied", "cp1", 1, 1), 100),
				at(ver("b/done", "cd1", 4, 4), 102),
				at(ver("b/part", "cq1", 6, 6), 104),
			},
			want: []string{"hide a/copied(p2)", "copy a/fresh(n1) -> b/fresh", "hide a/fresh(n1)",
				"copy a/part(q2) -> b/part", "hide a/part(q2)"},
			objects: 3},
		{name: "hidden before the move: copies, then a hide marker", from: "a/", to: "b/", toBucket: "acme-other",
			versions: "all", source: "hide",
			src:  []live.Version{at(hide("a/g", "hg"), -100), at(ver("a/g", "g2", 2, 2), -200), at(ver("a/g", "g1", 1, 1), -300)},
			want: []string{"copy a/g(g1) -> b/g", "copy a/g(g2) -> b/g", "hide-destination a/g(hg) -> b/g"}, objects: 1},
		{name: "hidden before the move, interrupted after the copies: the hide marker follows", from: "a/", to: "b/",
			toBucket: "acme-other", versions: "all", source: "hide",
			src:  []live.Version{at(hide("a/g", "hg"), -100), at(ver("a/g", "g2", 2, 2), -200), at(ver("a/g", "g1", 1, 1), -300)},
			dst:  []live.Version{at(ver("b/g", "c2", 2, 2), 11), at(ver("b/g", "c1", 1, 1), 10)},
			want: []string{"hide-destination a/g(hg) -> b/g"}, objects: 1},
		{name: "hidden before the move, interrupted between copies", from: "a/", to: "b/", toBucket: "acme-other",
			versions: "all", source: "hide",
			src:  []live.Version{at(hide("a/g", "hg"), -100), at(ver("a/g", "g2", 2, 2), -200), at(ver("a/g", "g1", 1, 1), -300)},
			dst:  []live.Version{at(ver("b/g", "c1", 1, 1), 10)},
			want: []string{"copy a/g(g2) -> b/g", "hide-destination a/g(hg) -> b/g"}, objects: 1},
		{name: "hidden before the move, completed: no-op", from: "a/", to: "b/", toBucket: "acme-other",
			versions: "all", source: "hide",
			src: []live.Version{at(hide("a/g", "hg"), -100), at(ver("a/g", "g1", 1, 1), -300)},
			dst: []live.Version{at(hide("b/g", "hd"), 11), at(ver("b/g", "c1", 1, 1), 10)}},
		{name: "hidden before the move with source = delete", from: "a/", to: "b/", toBucket: "acme-other",
			versions: "all",
			src:      []live.Version{at(hide("a/g", "hg"), -100), at(ver("a/g", "g1", 1, 1), -300)},
			dst:      []live.Version{at(ver("b/g", "c1", 1, 1), 10)},
			want:     []string{"hide-destination a/g(hg) -> b/g", "delete a/g(hg)", "delete a/g(g1)"}, objects: 1},
		{name: "repeated content: the newest version ends on top", from: "a/", to: "b/", toBucket: "acme-other",
			versions: "all",
			src:      []live.Version{at(ver("a/r", "r3", 1, 1), -10), at(ver("a/r", "r2", 2, 2), -20), at(ver("a/r", "r1", 1, 1), -30)},
			dst:      []live.Version{at(ver("b/r", "c2", 2, 2), 11), at(ver("b/r", "c1", 1, 1), 10)},
			want:     []string{"copy a/r(r3) -> b/r", "delete a/r(r3)", "delete a/r(r2)", "delete a/r(r1)"}, objects: 1},
		{name: "newest already at the destination: older ones are copied below it again", from: "a/", to: "b/",
			toBucket: "acme-other", versions: "all",
			src:  []live.Version{at(ver("a/n", "n2", 2, 2), -10), at(ver("a/n", "n1", 1, 1), -20)},
			dst:  []live.Version{at(ver("b/n", "c2", 2, 2), -5)},
			want: []string{"copy a/n(n1) -> b/n", "copy a/n(n2) -> b/n", "delete a/n(n2)", "delete a/n(n1)"}, objects: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, diags := planOneMove(tc)
			if diff := cmp.Diff(tc.want, opsOf(m)); diff != "" {
				t.Errorf("ops (-want +got):\n%s", diff)
			}
			if len(m.Conflicts) != 0 || len(m.Hidden) != 0 || len(errorsOf(diags)) != 0 {
				t.Errorf("conflicts %v, hidden %v, errors %v", m.Conflicts, m.Hidden, errorsOf(diags))
			}
			if m.Objects != tc.objects {
				t.Errorf("objects = %d, want %d", m.Objects, tc.objects)
			}
		})
	}
}

// TestMoveCopyLimits: Options.MaxCopyFileSize / PartSize decide the op kinds,
// part counts and call estimates; zero means B2's defaults.
func TestMoveCopyLimits(t *testing.T) {
	src := []live.Version{ver("a/big", "fbig", 12_345_678_901, 1), ver("a/mid", "fmid", 60_000_000, 2), ver("a/s", "fs", 1, 3)}
	for _, tc := range []struct {
		name           string
		max, part      int64
		want           []string
		parts, classC  int
		limMax, limPrt int64
	}{
		{name: "B2 defaults", want: []string{"copy-large a/big(fbig) -> b/big parts=124", "copy a/mid(fmid) -> b/mid", "copy a/s(fs) -> b/s"},
			parts: 124, classC: 124 + 2 + 1, limMax: MaxCopyFileSize, limPrt: RecommendedPartSize},
		{name: "recommended part size from the account", part: 50_000_000,
			want:  []string{"copy-large a/big(fbig) -> b/big parts=247", "copy a/mid(fmid) -> b/mid", "copy a/s(fs) -> b/s"},
			parts: 247, classC: 247 + 2 + 1, limMax: MaxCopyFileSize, limPrt: 50_000_000},
		{name: "small endpoint limits", max: 10_000_000, part: 5_000_000,
			want:  []string{"copy-large a/big(fbig) -> b/big parts=2470", "copy-large a/mid(fmid) -> b/mid parts=12", "copy a/s(fs) -> b/s"},
			parts: 2470 + 12, classC: 2470 + 12 + 1 + 1, limMax: 10_000_000, limPrt: 5_000_000},
		{name: "tiny parts are raised to stay within 10,000 parts", max: 1_000, part: 1,
			want:  []string{"copy-large a/big(fbig) -> b/big parts=10000", "copy-large a/mid(fmid) -> b/mid parts=10000", "copy a/s(fs) -> b/s"},
			parts: 20000, classC: 20000 + 1 + 1, limMax: 1_000, limPrt: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := desired(func(d *config.Desired) {
				d.Moves = []*config.Move{{Address: "move.m", Bucket: "acme-src", From: "a/", To: "b/", Source: "hide"}}
			})
			b := liveBucket("acme-src")
			l := &live.Live{Buckets: []live.Bucket{b}, Listings: []live.Listing{{BucketName: "acme-src", BucketID: b.ID, Versions: src}}}
			o := opts()
			o.MaxCopyFileSize, o.PartSize = tc.max, tc.part
			p, _ := Compute(d, l, o)
			m := p.Moves[0]
			var copies []string
			for _, s := range opsOf(m) {
				if strings.HasPrefix(s, "copy") {
					copies = append(copies, s)
				}
			}
			if diff := cmp.Diff(tc.want, copies); diff != "" {
				t.Errorf("copies (-want +got):\n%s", diff)
			}
			if m.Parts != tc.parts || m.Calls.ClassC != int64(tc.classC) {
				t.Errorf("parts %d class C %d, want %d %d", m.Parts, m.Calls.ClassC, tc.parts, tc.classC)
			}
			if lim := p.CopyLimits(); lim != (CopyLimits{MaxCopyFileSize: tc.limMax, PartSize: tc.limPrt}) {
				t.Errorf("plan limits %+v", lim)
			}
		})
	}
}
