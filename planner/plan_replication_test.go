package planner

import (
	"strings"
	"testing"
	"time"

	"github.com/b2plan/b2plan/config"
	"github.com/b2plan/b2plan/live"
)

// replDesired declares acme-src → acme-dst (one account), rule "r1".
func replDesired(mut func(r *config.Replication)) *config.Desired {
	return desired(func(d *config.Desired) {
		for _, n := range []string{"acme-src", "acme-dst"} {
			d.Buckets = append(d.Buckets, &config.Bucket{Address: "bucket." + strings.TrimPrefix(n, "acme-"), Name: n, Type: "allPrivate", Encryption: "none"})
		}
		r := &config.Replication{Address: "replication.r1", Name: "r1", SourceBucket: "acme-src", DestinationBucket: "acme-dst",
			Prefix: "p/", Priority: 3, Enabled: true}
		if mut != nil {
			mut(r)
		}
		d.Replications = []*config.Replication{r}
	})
}

func replKeyLive(side, bucket, id string) live.Key {
	caps := ReplicationSourceCapabilities
	if side == "dst" {
		caps = ReplicationDestinationCapabilities
	}
	return live.Key{Name: ReplicationKeyName(side, bucket), ID: id, Capabilities: append([]string(nil), caps...), BucketIDs: []string{"id-" + bucket}}
}

// replLive is the account after apply: both buckets configured, both keys.
func replLive() *live.Live {
	src, dst := liveBucket("acme-src"), liveBucket("acme-dst")
	src.Replication = live.Replication{Readable: true, SourceKeyID: "ks", Rules: []live.ReplicationRule{
		{Name: "r1", DestinationBucketID: dst.ID, Prefix: "p/", Priority: 3, Enabled: true}}}
	dst.Replication = live.Replication{Readable: true, Mapping: map[string]string{"ks": "kd"}}
	return &live.Live{ObservedBuckets: true, ObservedKeys: true, Buckets: []live.Bucket{dst, src},
		Keys: []live.Key{replKeyLive("dst", "acme-dst", "kd"), replKeyLive("src", "acme-src", "ks")}}
}

func changesOf(p *Plan) string {
	var out []string
	for _, s := range summary(p) {
		if !strings.HasPrefix(s, "no-op") {
			out = append(out, s)
		}
	}
	return strings.Join(out, "; ")
}

func TestReplicationPlan(t *testing.T) {
	tests := []struct {
		name  string
		d     *config.Desired
		l     func(l *live.Live)
		opts  func(o *Options)
		want  string
		notes string // in some change's notes or the plan's notes
		err   string
	}{
		{name: "in sync", d: replDesired(nil), want: ""},
		{name: "created", d: replDesired(nil), l: func(l *live.Live) {
			l.Keys = nil
			for i := range l.Buckets {
				l.Buckets[i].Replication = live.Replication{Readable: true}
			}
		}, want: `create replication_key.source["acme-src"]; create replication_key.destination["acme-dst"]; create replication.r1`},
		{name: "disabled out of band", d: replDesired(nil), l: func(l *live.Live) {
			l.Bucket("acme-src").Replication.Rules[0].Enabled = false
		}, want: "update replication.r1 [enabled]", notes: "B2 shows the rule disabled"},
		{name: "mapping removed", d: replDesired(nil), l: func(l *live.Live) {
			l.Bucket("acme-dst").Replication.Mapping = nil
		}, want: "update replication.r1 [destination_key_id]", notes: `bucket "acme-dst" maps no destination key to the source key ks`},
		{name: "source key deleted", d: replDesired(nil), l: func(l *live.Live) {
			l.Keys = l.Keys[:1]
		}, want: `create replication_key.source["acme-src"]; update replication.r1 [source_key_id,destination_key_id]`, notes: "no longer exists"},
		{name: "key widened out of band is replaced", d: replDesired(nil), l: func(l *live.Live) {
			l.Keys[1].Capabilities = append(l.Keys[1].Capabilities, "writeFiles")
		}, want: `replace replication_key.source["acme-src"] [capabilities,buckets,key_id]; update replication.r1 [source_key_id,destination_key_id]`},
		{name: "duplicate own key deleted", d: replDesired(nil), l: func(l *live.Live) {
			l.Keys = append(l.Keys, replKeyLive("src", "acme-src", "ks2"))
		}, want: `delete replication_key.source["acme-src/ks2"]`},
		{name: "rule changed", d: replDesired(func(r *config.Replication) { r.Priority, r.Prefix, r.IncludeExisting = 9, "q/", true }),
			want: "update replication.r1 [prefix,priority,include_existing]"},
		{name: "undeclared rule on a managed source removed", d: replDesired(nil), l: func(l *live.Live) {
			b := l.Bucket("acme-src")
			b.Replication.Rules = append(b.Replication.Rules, live.ReplicationRule{Name: "by-hand", DestinationBucketID: "id-acme-dst", Priority: 1, Enabled: true})
		}, want: "delete replication.by_hand"},
		{name: "blocks removed", d: desired(nil), want: `delete replication_key.destination["acme-dst"]; delete replication_key.source["acme-src"]; delete replication.r1`},
		{name: "blocks removed, another tool's entry on our destination key kept", d: desired(nil), l: func(l *live.Live) {
			l.Bucket("acme-dst").Replication.Mapping["kf"] = "kd"
			l.Keys = append(l.Keys, live.Key{Name: "ops-src", ID: "kf", Capabilities: []string{"readFiles"}})
		}, want: `delete replication_key.source["acme-src"]; delete replication.r1`},
		{name: "another tool's entry on our destination key", d: replDesired(nil), l: func(l *live.Live) {
			l.Bucket("acme-dst").Replication.Mapping["kf"] = "kd"
			l.Keys = append(l.Keys, live.Key{Name: "ops-src", ID: "kf", Capabilities: []string{"readFiles"}})
		}, want: ""},
		{name: "foreign configuration left alone", d: desired(nil), l: func(l *live.Live) {
			l.Keys[0].Name, l.Keys[1].Name = "ops-dst", "ops-src"
		}, want: ""},
		{name: "foreign keys kept when they work", d: replDesired(nil), l: func(l *live.Live) {
			l.Keys[0] = live.Key{Name: "ops-dst", ID: "kd", Capabilities: []string{"writeFiles"}}
			l.Keys[1] = live.Key{Name: "ops-src", ID: "ks", Capabilities: []string{"readFiles", "listFiles"}, BucketIDs: []string{"id-acme-src"}}
		}, want: ""},
		{name: "foreign source key that cannot read is not kept", d: replDesired(nil), l: func(l *live.Live) {
			l.Keys[1] = live.Key{Name: "ops-src", ID: "ks", Capabilities: []string{"listFiles"}, BucketIDs: []string{"id-acme-src"}}
		}, want: `create replication_key.source["acme-src"]; update replication.r1 [source_key_id,destination_key_id]`},
		{name: "prune of owned keys leaves replication keys alone", d: func() *config.Desired {
			d := replDesired(nil)
			d.Settings = config.Settings{OwnsKeys: []string{"*"}, Prune: true}
			return d
		}(), want: ""},
		{name: "expired foreign key is not kept", d: replDesired(nil), l: func(l *live.Live) {
			l.Keys[1] = live.Key{Name: "ops-src", ID: "ks", Capabilities: []string{"readFiles"}, Expires: now.Add(-time.Hour)}
		}, want: `create replication_key.source["acme-src"]; update replication.r1 [source_key_id,destination_key_id]`},
		{name: "pruned bucket", d: func() *config.Desired {
			d := replDesired(func(r *config.Replication) { r.DestinationBucket = "acme-old" })
			d.Settings = config.Settings{OwnsBuckets: []string{"acme-*"}, Prune: true}
			return d
		}(), l: func(l *live.Live) {
			l.Buckets = append(l.Buckets, liveBucket("acme-old"))
			l.Listings = append(l.Listings, live.Listing{BucketName: "acme-old", BucketID: "id-acme-old"})
		}, err: "Replication of a deleted bucket"},
		{name: "targeting a replication", d: replDesired(func(r *config.Replication) { r.Priority = 4 }), opts: func(o *Options) { o.Targets = []string{"replication.r1"} },
			want: "update replication.r1 [priority]", notes: `-target: the whole replication configuration of bucket "acme-src" is written`},
		{name: "targeting a replication keeps other keys", d: replDesired(func(r *config.Replication) { r.Priority = 4 }), l: func(l *live.Live) {
			l.Keys = append(l.Keys, replKeyLive("src", "acme-other", "ko"))
		}, opts: func(o *Options) { o.Targets = []string{"replication.r1"} }, want: "update replication.r1 [priority]"},
		{name: "targeted destroy of a replication", d: replDesired(nil), opts: func(o *Options) { o.Targets = []string{"replication.r1"}; o.Destroy = true },
			want: "delete replication.r1"},
		{name: "targeted destroy of its bucket", d: replDesired(nil), l: func(l *live.Live) {
			l.Listings = append(l.Listings, live.Listing{BucketName: "acme-dst", BucketID: "id-acme-dst"})
		}, opts: func(o *Options) { o.Targets = []string{"bucket.dst"}; o.Destroy = true },
			want: "delete bucket.dst; delete replication.r1", notes: "-target: replication.r1 is included because it uses bucket acme-dst, which is destroyed"},
		{name: "not readable", d: replDesired(nil), l: func(l *live.Live) {
			l.Bucket("acme-src").Replication = live.Replication{}
		}, err: "Replication not readable"},
		{name: "keys not read", d: replDesired(nil), l: func(l *live.Live) { l.ObservedKeys, l.Keys = false, nil }, err: "Keys not read"},
		{name: "unknown destination", d: replDesired(func(r *config.Replication) { r.DestinationBucket = "acme-nowhere" }), err: "Unknown destination bucket acme-nowhere"},
		{name: "targeted plan leaves replication out", d: replDesired(func(r *config.Replication) { r.Priority = 4 }),
			opts: func(o *Options) { o.Targets = []string{"bucket.src"} }, want: "", notes: "no replication block is targeted, so replication is not planned"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := replLive()
			if tc.l != nil {
				tc.l(l)
			}
			o := opts()
			if tc.opts != nil {
				tc.opts(&o)
			}
			p, diags := Compute(tc.d, l, o)
			if tc.err != "" {
				if !strings.Contains(strings.Join(errorsOf(diags), ";"), tc.err) {
					t.Fatalf("want error %q, got %v", tc.err, diags)
				}
				return
			}
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			if got := changesOf(p); got != tc.want {
				t.Errorf("plan:\n got %s\nwant %s", got, tc.want)
			}
			if tc.notes != "" {
				all := strings.Join(p.Notes, "\n")
				for _, ch := range p.Changes {
					all += "\n" + strings.Join(ch.Notes, "\n")
				}
				if !strings.Contains(all, tc.notes) {
					t.Errorf("notes lack %q:\n%s", tc.notes, all)
				}
			}
			if tc.want == "" && len(p.Replication) != 0 {
				t.Errorf("writes without changes: %+v", p.Replication[0])
			}
		})
	}
}

// A bucket that is a source and a destination is written whole: changing its rule keeps its
// mapping, and its mapping change keeps its rule.
func TestReplicationWriteKeepsOtherPart(t *testing.T) {
	d := replDesired(func(r *config.Replication) { r.Priority = 8 })
	l := replLive()
	src := l.Bucket("acme-src")
	src.Replication.Mapping = map[string]string{"other-account-key": "k-local"}
	p, diags := Compute(d, l, opts())
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if len(p.Replication) != 1 {
		t.Fatalf("writes: %+v", p.Replication)
	}
	w := p.Replication[0]
	if w.Bucket != "acme-src" || w.SourceKey == nil || w.SourceKey.ID != "ks" || len(w.Rules) != 1 || w.Rules[0].Priority != 8 ||
		w.Rules[0].DestinationBucketID != "id-acme-dst" || len(w.Mapping) != 1 || w.Mapping[0].Source.ID != "other-account-key" ||
		strings.Join(w.Addresses, ",") != "replication.r1" {
		t.Fatalf("write: %+v", w)
	}
}

// Two accounts: the key of each side lives in its bucket's account, and the destination's
// write carries the rule when only its mapping changes.
func TestReplicationAccounts(t *testing.T) {
	d := replDesired(func(r *config.Replication) { r.DestinationProvider = "backup" })
	d.Buckets[1].Provider = "backup"
	d.ProviderAliases = []*config.Provider{{Alias: "backup"}}
	a, b := replLive(), replLive()
	a.Buckets, a.Keys = a.Buckets[1:], a.Keys[1:] // acme-src, its key
	b.Buckets, b.Keys = b.Buckets[:1], b.Keys[:1] // acme-dst, its key
	b.Buckets[0].Replication.Mapping = nil
	p, diags := ComputeAccounts(d, []AccountSnapshot{{Provider: "", Live: a}, {Provider: "backup", Live: b}}, opts())
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if got := changesOf(p); got != "update replication.r1 [destination_key_id]" {
		t.Fatalf("plan: %s", got)
	}
	if len(p.Replication) != 1 || p.Replication[0].Provider != "backup" || p.Replication[0].Mapping[0].Source.ID != "ks" ||
		p.Replication[0].Mapping[0].Destination.ID != "kd" || strings.Join(p.Replication[0].Addresses, ",") != "replication.r1" {
		t.Fatalf("writes: %+v", p.Replication)
	}
	for _, ch := range p.Changes {
		want := map[string]string{"replication.r1": "", `replication_key.source["acme-src"]`: "", `replication_key.destination["acme-dst"]`: "backup"}
		if w, ok := want[ch.Address]; ok && ch.Provider != w {
			t.Errorf("%s: provider %q, want %q", ch.Address, ch.Provider, w)
		}
	}
	// Each account's part for the executor leaves replication out; ReplicationPart has it.
	for _, alias := range []string{"", "backup"} {
		sub := p.ForProvider(alias)
		for _, ch := range sub.Changes {
			if IsReplication(ch) {
				t.Errorf("ForProvider(%q) kept %s", alias, ch.Address)
			}
		}
		if len(sub.Replication) != 0 {
			t.Errorf("ForProvider(%q) kept writes", alias)
		}
	}
	if rp := p.ReplicationPart(); len(rp.Replication) != 1 || !rp.HasActions() {
		t.Errorf("ReplicationPart: %+v", rp)
	}
	// A third account that replication does not involve need not have its keys read.
	d.ProviderAliases = append(d.ProviderAliases, &config.Provider{Alias: "other"})
	_, diags = ComputeAccounts(d, []AccountSnapshot{{Provider: "", Live: a}, {Provider: "backup", Live: b},
		{Provider: "other", Live: &live.Live{ObservedBuckets: true}}}, opts())
	if diags.HasErrors() {
		t.Fatalf("uninvolved account: %v", diags)
	}
}

// A rule added to a source that has one already: the source is written with both rules,
// and the destination's mapping (in place) is not written.
func TestReplicationRuleAdded(t *testing.T) {
	d := replDesired(nil)
	d.Replications = append(d.Replications, &config.Replication{Address: "replication.r2", Name: "r2", SourceBucket: "acme-src",
		DestinationBucket: "acme-dst", Prefix: "q/", Priority: 4, Enabled: true})
	p, diags := Compute(d, replLive(), opts())
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if got := changesOf(p); got != "create replication.r2" {
		t.Fatalf("plan: %s", got)
	}
	if len(p.Replication) != 1 || p.Replication[0].Bucket != "acme-src" || len(p.Replication[0].Rules) != 2 ||
		strings.Join(p.Replication[0].Addresses, ",") != "replication.r2" {
		t.Fatalf("writes: %+v", p.Replication)
	}
}

// Apply order: a destination gaining its mapping entry is written before the source that
// uses it; one losing its entry after the source stopped using it.
func TestReplicationWriteOrder(t *testing.T) {
	l := replLive()
	for i := range l.Buckets {
		l.Buckets[i].Replication = live.Replication{Readable: true}
	}
	l.Keys = nil
	p, diags := Compute(replDesired(nil), l, opts())
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	order := func(p *Plan) map[string]int {
		m := map[string]int{}
		for _, w := range p.Replication {
			m[w.Bucket] = w.Order
		}
		return m
	}
	if o := order(p); len(o) != 2 || o["acme-dst"] != 0 || o["acme-src"] != 1 {
		t.Errorf("creation: %v", o)
	}
	p, diags = Compute(desired(nil), replLive(), opts())
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if o := order(p); len(o) != 2 || o["acme-dst"] != 2 || o["acme-src"] != 1 {
		t.Errorf("removal: %v", o)
	}
}

// A targeted rule brings in the other rules of its source bucket (written together, with a
// note saying so) and nothing else: a changed rule of another source is left alone, and an
// entry another source has in a shared destination's mapping is kept.
func TestReplicationTargetedSourceOnly(t *testing.T) {
	d := replDesired(func(r *config.Replication) { r.Priority = 4 })
	d.Buckets = append(d.Buckets, &config.Bucket{Address: "bucket.other", Name: "acme-other", Type: "allPrivate", Encryption: "none"})
	d.Replications = append(d.Replications,
		&config.Replication{Address: "replication.r2", Name: "r2", SourceBucket: "acme-src", DestinationBucket: "acme-other", Priority: 7, Enabled: true},
		&config.Replication{Address: "replication.r3", Name: "r3", SourceBucket: "acme-other", DestinationBucket: "acme-dst", Priority: 9, Enabled: true})
	l := replLive()
	other := liveBucket("acme-other")
	other.Replication = live.Replication{Readable: true, SourceKeyID: "ko", Rules: []live.ReplicationRule{
		{Name: "r3", DestinationBucketID: "id-acme-dst", Priority: 1, Enabled: true}}}
	l.Buckets = append(l.Buckets, other)
	l.SortBuckets()
	l.Bucket("acme-dst").Replication.Mapping["ko"] = "kd"
	l.Keys = append(l.Keys, replKeyLive("src", "acme-other", "ko"))
	l.SortKeys()
	o := opts()
	o.Targets = []string{"replication.r1"}
	p, diags := Compute(d, l, o)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if got, want := changesOf(p), `create replication_key.destination["acme-other"]; update replication.r1 [priority]; create replication.r2`; got != want {
		t.Fatalf("plan:\n got %s\nwant %s", got, want)
	}
	if notes := strings.Join(p.Notes, "\n"); !strings.Contains(notes, `-target: replication.r2 is included because it is a rule of bucket "acme-src", like replication.r1`) {
		t.Errorf("notes: %s", notes)
	}
	sawOther := false
	for _, w := range p.Replication {
		if strings.EqualFold(w.Bucket, "acme-other") {
			sawOther = true
			if len(w.Mapping) == 0 {
				t.Errorf("acme-other gains no mapping entry for r2: %+v", w)
			}
			if w.SourceKey == nil || w.SourceKey.ID != "ko" || len(w.Rules) != 1 || w.Rules[0].Priority != 1 {
				t.Errorf("the other source's rules are rewritten: %+v", w)
			}
		}
		if w.Bucket == "acme-dst" {
			t.Errorf("acme-dst's mapping is rewritten although it is in place: %+v", w)
		}
	}
	if !sawOther {
		t.Errorf("acme-other, the destination of r2, is not written: %+v", p.Replication)
	}
}

// Versions the plan listed anyway that B2 failed to replicate are counted per rule (the
// newest version of each name; the rule B2 applies: enabled, highest priority covering it),
// as warnings naming the block; other statuses and older versions are not counted.
func TestReplicationFailedReported(t *testing.T) {
	l := replLive()
	src := l.Bucket("acme-src")
	src.Replication.Rules = append(src.Replication.Rules, live.ReplicationRule{Name: "by-hand", DestinationBucketID: "id-acme-dst", Prefix: "p/x", Priority: 1, Enabled: true})
	v := func(name, id string, failed bool) live.Version {
		out := live.Version{Name: name, ID: id, Action: live.ActionUpload}
		if failed {
			out.Flags |= live.FlagReplicationFailed
		}
		return out
	}
	l.Listings = []live.Listing{{BucketName: "acme-src", BucketID: src.ID, Prefix: "p/", Versions: []live.Version{
		v("p/a", "3", true), v("p/a", "2", true), v("p/b", "4", true), v("p/c", "5", false), v("p/xy", "6", true), v("q", "7", true)}}}
	d := replDesired(nil)
	d.Replications = append(d.Replications, &config.Replication{Address: "replication.by_hand", Name: "by-hand", SourceBucket: "acme-src", DestinationBucket: "acme-dst", Prefix: "p/x", Priority: 1, Enabled: true})
	_, diags := Compute(d, l, opts())
	var warns []string
	for _, dg := range diags {
		warns = append(warns, dg.Summary+": "+dg.Detail)
	}
	all := strings.Join(warns, "\n")
	for _, want := range []string{`replication.r1: B2 reports replicationStatus "failed" for 3 file versions this plan read (e.g. "p/a")`,
		`the replication rules of bucket "acme-src" (no enabled rule covers them now): B2 reports replicationStatus "failed" for 1 file version this plan read (e.g. "q")`} {
		if !strings.Contains(all, want) {
			t.Errorf("warnings lack %q:\n%s", want, all)
		}
	}
	if diags.HasErrors() || strings.Contains(all, "replication.by_hand:") {
		t.Errorf("diagnostics:\n%s", all)
	}
}

// TestReplicationDestroyClearsForeignSetup: destroy clears the replication configuration of
// every bucket it deletes before deleting it, also when the keys it names are not b2plan's
// (an imported setup): the source and the destination are both written empty.
func TestReplicationDestroyClearsForeignSetup(t *testing.T) {
	l := replLive()
	l.Keys[0].Name, l.Keys[1].Name = "ops-dst", "ops-src"
	for _, b := range []string{"acme-src", "acme-dst"} {
		l.Listings = append(l.Listings, live.Listing{BucketName: b, BucketID: "id-" + b})
	}
	o := opts()
	o.Destroy = true
	p, diags := Compute(replDesired(nil), l, o)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	cleared := map[string]bool{}
	for _, w := range p.Replication {
		if w.SourceKey == nil && len(w.Rules) == 0 && len(w.Mapping) == 0 {
			cleared[w.Bucket] = true
		}
	}
	if !cleared["acme-src"] || !cleared["acme-dst"] {
		t.Errorf("cleared %v, want both buckets: %+v", cleared, p.Replication)
	}
}

// TestAccountPhasesDeletionsLast: with several accounts, an account's part is split around
// replication; a move into a bucket the same apply creates goes with the creations, and the
// deletions stay after replication whatever the moves need.
func TestAccountPhasesDeletionsLast(t *testing.T) {
	p := &Plan{
		Changes: []*Change{
			{Type: "bucket", Address: "bucket.new", Action: Create},
			{Type: "bucket", Address: "bucket.old", Action: Delete},
			{Type: "key", Address: "key.gone", Action: Delete},
		},
		Moves: []*Move{{Address: "move.m", Bucket: "acme-a", BucketID: "id-a", ToBucket: "acme-new"}},
	}
	setup, rest := p.AccountPhases()
	if len(setup.Moves) != 1 || len(rest.Moves) != 0 {
		t.Errorf("a move into a created bucket: %d moves in setup, %d in rest; want 1 and 0", len(setup.Moves), len(rest.Moves))
	}
	for _, ch := range setup.Changes {
		if ch.Action == Delete {
			t.Errorf("%s is deleted before replication", ch.Address)
		}
	}
	if len(rest.Changes) != 2 {
		t.Errorf("rest: %+v", rest.Changes)
	}
	p.Moves[0].ToBucketID = "id-new"
	if setup, rest = p.AccountPhases(); len(setup.Moves) != 0 || len(rest.Moves) != 1 {
		t.Errorf("a move between existing buckets: %d in setup, %d in rest; want 0 and 1", len(setup.Moves), len(rest.Moves))
	}
}
