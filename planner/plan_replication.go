package planner

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/b2plan/b2plan/config"
	"github.com/b2plan/b2plan/live"
)

// Replication (docs/configuration.md, "replication"). A replication block is one rule of its
// source bucket's replicationConfiguration. b2plan manages both sides and the keys B2 needs:
//
//   - each source bucket reads with one source key (B2 takes one per bucket):
//     "b2plan-repl-src-BUCKET", restricted to the bucket, ReplicationSourceCapabilities;
//   - each destination bucket writes with one destination key, "b2plan-repl-dst-BUCKET",
//     restricted to it, ReplicationDestinationCapabilities, and maps every source key that
//     replicates into it to that key (asReplicationDestination).
//
// Keys are shown as replication_key.source["BUCKET"] / replication_key.destination["BUCKET"].
// Their secrets are never needed (B2 takes key ids) and are dropped when B2 returns them. A
// key of that name with other capabilities or buckets is replaced. Rules on a source bucket
// whose source key is b2plan's, keys with those names, and mapping entries to b2plan's
// destination keys that no block declares any more are removed: that is how b2plan, which
// keeps no state, tells what it made. Mapping entries and rules of buckets b2plan does not
// manage are left as they are.
//
// Apply writes each bucket's whole replicationConfiguration in one b2_update_bucket
// (ReplicationWrite) after every account's buckets and keys are applied, since a rule names
// the id of a destination bucket, possibly in another account, that the same apply may create.

// Change types of replication.
const (
	ReplicationType    = "replication"
	ReplicationKeyType = "replication_key"
)

// The capabilities of the keys b2plan creates for replication: what Backblaze's SDK
// (b2sdk ReplicationSetupHelper) gives them, sorted. B2 (and b2local) need readFiles on the
// source and writeFiles on the destination; the legal-hold and retention capabilities carry
// Object Lock settings to replicas; deleteFiles is in b2sdk's destination set.
var (
	ReplicationSourceCapabilities      = []string{"readFileLegalHolds", "readFileRetentions", "readFiles"}
	ReplicationDestinationCapabilities = []string{"deleteFiles", "writeFileLegalHolds", "writeFileRetentions", "writeFiles"}
)

// ReplicationKeyName is the name of the key b2plan makes for a replication source
// (side "src") or destination ("dst") bucket.
func ReplicationKeyName(side, bucket string) string {
	return config.ReplicationKeyPrefix + side + "-" + strings.ToLower(bucket)
}

// ReplicationWrite is the whole replicationConfiguration apply writes to one bucket. Key ids
// unknown at plan time are KeyRefs to the replication_key change creating them; destination
// bucket ids unknown at plan time (created by the same apply) are looked up by name.
type ReplicationWrite struct {
	Provider string `json:"provider,omitempty"`
	Bucket   string `json:"bucket"`
	// SourceKey is nil when the bucket is no replication source after the write.
	SourceKey *KeyRef              `json:"source_key,omitempty"`
	Rules     []ReplicationRuleOut `json:"rules,omitempty"`
	Mapping   []ReplicationMapping `json:"mapping,omitempty"`
	// Addresses are the replication changes the write carries out (events, failures).
	Addresses []string `json:"addresses,omitempty"`
	// Order is when apply writes it: 0 a destination that gains mapping entries (before the
	// sources that use them), 1 the others, 2 a destination that only loses entries (after
	// the sources stopped using them). Writes of one order go in plan order.
	Order int `json:"order,omitempty"`
}

// ReplicationRuleOut is one rule to write; DestinationBucketID may be "" (look it up by
// DestinationBucket in DestinationProvider's account at apply).
type ReplicationRuleOut struct {
	live.ReplicationRule
	DestinationBucket   string `json:"destination_bucket"`
	DestinationProvider string `json:"destination_provider,omitempty"`
}

// KeyRef is a key id, or the address of the change that creates the key.
type KeyRef struct {
	ID      string `json:"id,omitempty"`
	Address string `json:"address,omitempty"`
}

// ReplicationMapping is one entry of sourceToDestinationKeyMapping.
type ReplicationMapping struct {
	Source      KeyRef `json:"source"`
	Destination KeyRef `json:"destination"`
}

// bucketRef is a bucket of one account.
type bucketRef struct{ prov, name string } // name lowercased

type replKey struct {
	prov, side, bucket string // bucket lowercased
}

// replWrite is a bucket's write being planned, with the part that changes.
type replWrite struct {
	w         *ReplicationWrite
	src, dest bool
}

// replPlanner plans replication over every account of a configuration.
type replPlanner struct {
	pl    *planner
	accts map[string]*live.Live
	provs []string // sorted
	rules []*config.Replication
	// Declared rules by source and destination bucket; the buckets managed as sources and
	// destinations (declared ones, and live ones using b2plan's keys).
	bySource, byDest map[bucketRef][]*config.Replication
	sources, dests   map[bucketRef]bool
	// keyRefs are the keys replication uses, by account, side and bucket.
	keyRefs map[replKey]KeyRef
	// deleting are the buckets the plan deletes (nothing is written to them).
	deleting map[bucketRef]bool
	writes   map[bucketRef]*replWrite
	// mappingOK: the rule's mapping entry is in place; active: the rule's change does something.
	mappingOK, active map[string]bool
	// targeted: a -target plan of the rules in targetedRule (and of their source buckets).
	targeted     bool
	targetedRule map[string]bool
}

// keyAttrs are the attributes of a live key of account prov.
func (rp *replPlanner) keyAttrs(prov string, k *live.Key) []Attr {
	return (&planner{l: rp.accts[prov]}).liveKeyAttrs(k)
}

func (rp *replPlanner) bucket(prov, name string) *live.Bucket {
	if l := rp.accts[prov]; l != nil {
		return l.Bucket(name)
	}
	return nil
}

func (rp *replPlanner) keyByID(prov, id string) *live.Key {
	if l := rp.accts[prov]; l != nil {
		for i := range l.Keys {
			if l.Keys[i].ID == id {
				return &l.Keys[i]
			}
		}
	}
	return nil
}

// ours reports whether key id of account prov is the key b2plan makes for (side, bucket).
func (rp *replPlanner) ours(prov, side, bucket, id string) bool {
	k := rp.keyByID(prov, id)
	return k != nil && k.Name == ReplicationKeyName(side, bucket)
}

func srcOf(r *config.Replication) bucketRef {
	return bucketRef{r.SourceProvider, strings.ToLower(r.SourceBucket)}
}

func dstOf(r *config.Replication) bucketRef {
	return bucketRef{r.DestinationProvider, strings.ToLower(r.DestinationBucket)}
}

// planReplication plans the replication blocks of pl.d (all of them: pl.d must not be one
// account's part) against the snapshots of every account, by provider alias.
func (pl *planner) planReplication(accts map[string]*live.Live) {
	rp := &replPlanner{pl: pl, accts: accts, keyRefs: map[replKey]KeyRef{}, deleting: map[bucketRef]bool{},
		bySource: map[bucketRef][]*config.Replication{}, byDest: map[bucketRef][]*config.Replication{},
		sources: map[bucketRef]bool{}, dests: map[bucketRef]bool{}, writes: map[bucketRef]*replWrite{},
		mappingOK: map[string]bool{}, active: map[string]bool{}}
	rp.provs = slices.Sorted(maps.Keys(accts))
	rp.reportFailed()
	if pl.declaredBuckets == nil {
		pl.declaredBuckets = map[string]*config.Bucket{}
		for _, b := range pl.d.Buckets {
			pl.declaredBuckets[strings.ToLower(b.Name)] = b
		}
	}
	for _, ch := range pl.p.Changes {
		if ch.Type == "bucket" && ch.Action == Delete {
			n := ch.Name
			if ch.Bucket != nil && ch.Bucket.Name != "" {
				n = ch.Bucket.Name
			}
			rp.deleting[bucketRef{ch.Provider, strings.ToLower(n)}] = true
		}
	}
	if !rp.declared() || !rp.check() {
		return
	}
	rp.planKeys()
	rp.planMappings()
	rp.planSources()
	// Every bucket the plan deletes is cleared first (finishWrites), whoever set it up.
	for ref := range rp.deleting {
		if lb := rp.bucket(ref.prov, ref.name); lb != nil && (lb.Replication.IsSource() || len(lb.Replication.Mapping) > 0) {
			rp.write(ref)
		}
	}
	rp.finishWrites()
}

// declared sets rp.rules: the declared rules, none for destroy (which removes them). A
// targeted plan (rp.targeted) plans only the source buckets of the targeted rules
// (replTargets), and reports false when no rule is targeted (replication is then not planned).
func (rp *replPlanner) declared() bool {
	pl := rp.pl
	all := pl.d.Replications
	if len(pl.opts.Targets) > 0 {
		var ok bool
		if all, ok = rp.replTargets(); !ok {
			if len(pl.d.Replications) > 0 {
				pl.p.Notes = append(pl.p.Notes, "-target: no replication block is targeted, so replication is not planned; target replication.NAME, or plan without -target")
			}
			return false
		}
		rp.targeted = true
	}
	for _, r := range all {
		if pl.opts.Destroy && (!rp.targeted || rp.targetedRule[r.Address]) {
			rp.sources[srcOf(r)] = true // its rule is removed
			continue
		}
		rp.rules = append(rp.rules, r)
	}
	for _, r := range rp.rules {
		rp.bySource[srcOf(r)] = append(rp.bySource[srcOf(r)], r)
		rp.byDest[dstOf(r)] = append(rp.byDest[dstOf(r)], r)
		rp.sources[srcOf(r)], rp.dests[dstOf(r)] = true, true
	}
	if rp.targeted {
		return true // only the targeted sources and their destinations
	}
	for _, p := range rp.provs {
		for _, b := range rp.accts[p].Buckets {
			ref := bucketRef{p, strings.ToLower(b.Name)}
			if b.Replication.SourceKeyID != "" && rp.ours(p, "src", b.Name, b.Replication.SourceKeyID) {
				rp.sources[ref] = true
			}
			for _, dk := range b.Replication.Mapping {
				if rp.ours(p, "dst", b.Name, dk) {
					rp.dests[ref] = true
				}
			}
		}
	}
	return true
}

// replTargets returns the replication blocks a targeted plan plans: the targeted ones (with
// destroy, also those using a targeted bucket: they depend on it) and, since B2 writes a
// source bucket's rules together, every other block on the same source bucket, with a note.
// It records the targeted ones in rp.targetedRule; ok is false when none is targeted.
func (rp *replPlanner) replTargets() (out []*config.Replication, ok bool) {
	pl := rp.pl
	rp.targetedRule = map[string]bool{}
	srcs := map[bucketRef]string{} // → the first targeted rule on it
	hit := func(addr string) bool {
		for _, t := range pl.opts.Targets {
			if matchesTarget(addr, t) {
				return true
			}
		}
		return false
	}
	for _, r := range pl.d.Replications {
		by := ""
		switch {
		case hit(r.Address):
		case pl.opts.Destroy && rp.bucketTargeted(r.SourceProvider, r.SourceBucket):
			by = "it uses bucket " + r.SourceBucket + ", which is destroyed"
		case pl.opts.Destroy && rp.bucketTargeted(r.DestinationProvider, r.DestinationBucket):
			by = "it uses bucket " + r.DestinationBucket + ", which is destroyed"
		default:
			continue
		}
		if by != "" {
			pl.p.Notes = append(pl.p.Notes, fmt.Sprintf("-target: %s is included because %s", r.Address, by))
		}
		rp.targetedRule[r.Address] = true
		if _, seen := srcs[srcOf(r)]; !seen {
			srcs[srcOf(r)] = r.Address
		}
	}
	if len(rp.targetedRule) == 0 {
		return nil, false
	}
	for _, r := range pl.d.Replications {
		first, same := srcs[srcOf(r)]
		if !same {
			continue
		}
		out = append(out, r)
		if !rp.targetedRule[r.Address] {
			pl.p.Notes = append(pl.p.Notes, fmt.Sprintf("-target: %s is included because it is a rule of bucket %q, like %s, and B2 takes a bucket's replication rules in one write", r.Address, r.SourceBucket, first))
		}
	}
	for _, ref := range sortedRefs(srcs) {
		pl.p.Notes = append(pl.p.Notes, fmt.Sprintf("-target: the whole replication configuration of bucket %q is written: rules no block declares are removed; the key mappings of its destinations gain the entries these rules need and keep the others; keys nothing uses any more are deleted only by a plan without -target", ref.name))
	}
	return out, true
}

// bucketTargeted reports whether a target names the declared bucket name of account prov.
func (rp *replPlanner) bucketTargeted(prov, name string) bool {
	for _, b := range rp.pl.d.Buckets {
		if b.Provider != prov || !strings.EqualFold(b.Name, name) {
			continue
		}
		for _, t := range rp.pl.opts.Targets {
			if matchesTarget(b.Address, t) {
				return true
			}
		}
	}
	return false
}

// check reports what stops replication from being planned: keys or configurations that
// could not be read, buckets that neither exist nor are declared, or that prune deletes.
// Buckets whose configuration cannot be read and that declare nothing are left alone.
func (rp *replPlanner) check() bool {
	pl := rp.pl
	involved := map[string]bool{}
	for _, r := range rp.rules {
		involved[r.SourceProvider], involved[r.DestinationProvider] = true, true
	}
	for _, p := range rp.provs {
		if involved[p] && !rp.accts[p].ObservedKeys {
			pl.errorf(nil, "Keys not read", "The keys of the account of provider %s were not read, so b2plan cannot find the keys replication uses. Plan with planner.LiveRequest.", config.ProviderLabel(p))
			return false
		}
	}
	for _, side := range []struct {
		managed  map[bucketRef]bool
		declared map[bucketRef][]*config.Replication
	}{{rp.sources, rp.bySource}, {rp.dests, rp.byDest}} {
		for _, ref := range sortedRefs(side.managed) {
			lb := rp.bucket(ref.prov, ref.name)
			if lb == nil || lb.Replication.Readable {
				continue
			}
			if rs := side.declared[ref]; len(rs) > 0 {
				pl.errorf(rangePtr(rs[0].Range), "Replication not readable",
					"%s: the replication configuration of bucket %q could not be read: the key of provider %s lacks the capability readBucketReplications. Use a key that has it.", rs[0].Address, lb.Name, config.ProviderLabel(ref.prov))
			}
			delete(side.managed, ref)
		}
	}
	for _, r := range rp.rules {
		s, d := srcOf(r), dstOf(r)
		for _, b := range []bucketRef{s, d} {
			if rp.deleting[b] {
				pl.errorf(rangePtr(r.Range), "Replication of a deleted bucket",
					"%s uses bucket %q, which this plan deletes (prune: it matches b2plan.owns and no bucket block declares it). Declare the bucket, or remove the replication block.", r.Address, b.name)
			}
		}
		if rp.bucket(s.prov, s.name) == nil && !rp.declaredIn(s) {
			pl.errorf(rangePtr(r.Range), "Unknown source bucket "+r.SourceBucket,
				"%s replicates from bucket %q, which neither exists in the account of provider %s nor is declared. Declare the bucket or fix the name.", r.Address, r.SourceBucket, config.ProviderLabel(s.prov))
		}
		if rp.bucket(d.prov, d.name) == nil && !rp.declaredIn(d) {
			pl.errorf(rangePtr(r.Range), "Unknown destination bucket "+r.DestinationBucket,
				"%s replicates into bucket %q, which neither exists in the account of provider %s nor is declared. Declare the bucket or fix the name.", r.Address, r.DestinationBucket, config.ProviderLabel(d.prov))
		}
	}
	return !pl.diags.HasErrors()
}

// write returns the write of a bucket being planned, creating it.
func (rp *replPlanner) write(ref bucketRef) *replWrite {
	if rp.writes[ref] == nil {
		w := &ReplicationWrite{Provider: ref.prov, Bucket: ref.name, Order: 1}
		if lb := rp.bucket(ref.prov, ref.name); lb != nil {
			w.Bucket = lb.Name
		} else if db := rp.pl.declaredBuckets[ref.name]; db != nil {
			w.Bucket = db.Name
		}
		rp.writes[ref] = &replWrite{w: w}
	}
	return rp.writes[ref]
}

// planMappings plans the destination part of every managed destination: an entry per source
// key replicating into it (to its destination key), b2plan's entries no rule needs dropped,
// the others kept. Rule changes show a missing entry as a change of destination_key_id.
func (rp *replPlanner) planMappings() {
	for _, ref := range sortedRefs(rp.dests) {
		lb := rp.bucket(ref.prov, ref.name)
		dstRef := rp.keyRefs[replKey{ref.prov, "dst", ref.name}]
		var want []ReplicationMapping
		seen := map[KeyRef]bool{}
		for _, r := range rp.byDest[ref] {
			src := rp.keyRefs[replKey{r.SourceProvider, "src", srcOf(r).name}]
			rp.mappingOK[r.Address] = lb != nil && src.ID != "" && dstRef.ID != "" && lb.Replication.Mapping[src.ID] == dstRef.ID
			if !seen[src] {
				seen[src] = true
				want = append(want, ReplicationMapping{Source: src, Destination: dstRef})
			}
		}
		changed, adds := false, false
		var keep []ReplicationMapping // entries b2plan did not make
		if lb != nil {
			for _, sk := range slices.Sorted(maps.Keys(lb.Replication.Mapping)) {
				dk := lb.Replication.Mapping[sk]
				if rp.accts[ref.prov].ObservedKeys && rp.keyByID(ref.prov, dk) == nil {
					changed = true // its destination key was deleted: B2 refuses such an entry
					continue
				}
				if !rp.ours(ref.prov, "dst", lb.Name, dk) {
					keep = append(keep, ReplicationMapping{Source: KeyRef{ID: sk}, Destination: KeyRef{ID: dk}})
					continue
				}
				if (rp.targeted || !rp.ownSourceKey(sk)) && !seen[KeyRef{ID: sk}] {
					// Another source's entry (not planned, or another tool's using b2plan's
					// destination key): kept, on the key in use.
					d := KeyRef{ID: dk}
					if dstRef.ID != dk {
						d, changed = dstRef, true
					}
					keep = append(keep, ReplicationMapping{Source: KeyRef{ID: sk}, Destination: d})
					continue
				}
				if !seen[KeyRef{ID: sk}] || dstRef.ID != dk {
					changed = true // ours, no longer wanted (or pointing at a key being replaced)
				}
			}
		}
		for _, m := range want {
			if lb == nil || m.Source.ID == "" || m.Destination.ID == "" || lb.Replication.Mapping[m.Source.ID] != m.Destination.ID {
				changed, adds = true, true
			}
		}
		if !changed {
			continue
		}
		wk := rp.write(ref)
		wk.dest = true
		wk.w.Order = 2
		if adds {
			wk.w.Order = 0
		}
		wk.w.Mapping = append(keep, want...)
	}
}

// planSources plans every managed source: a change per declared rule, a deletion per live
// rule no block declares, and the source part of its write when any of it changes.
func (rp *replPlanner) planSources() {
	pl := rp.pl
	for _, ref := range sortedRefs(rp.sources) {
		lb := rp.bucket(ref.prov, ref.name)
		srcRef := rp.keyRefs[replKey{ref.prov, "src", ref.name}]
		have := map[string]*live.ReplicationRule{}
		if lb != nil {
			for i := range lb.Replication.Rules {
				have[lb.Replication.Rules[i].Name] = &lb.Replication.Rules[i]
			}
		}
		declared := rp.bySource[ref]
		var out []ReplicationRuleOut
		var addrs []string
		changed := lb == nil || (len(declared) > 0) != lb.Replication.IsSource() ||
			(len(declared) > 0 && srcRef.ID != lb.Replication.SourceKeyID)
		for _, r := range sortedRules(declared) {
			want := live.ReplicationRule{Name: r.Name, Prefix: r.Prefix, Priority: r.Priority, IncludeExisting: r.IncludeExisting, Enabled: r.Enabled}
			if dl := rp.bucket(r.DestinationProvider, r.DestinationBucket); dl != nil {
				want.DestinationBucketID = dl.ID
			}
			out = append(out, ReplicationRuleOut{ReplicationRule: want, DestinationBucket: r.DestinationBucket, DestinationProvider: r.DestinationProvider})
			ch := rp.ruleChange(r, lb, have[r.Name], want, srcRef, rp.mappingOK[r.Address])
			delete(have, r.Name)
			if ch.Action != NoOp {
				addrs = append(addrs, ch.Address)
				changed = changed || !onlyMapping(ch.Changed)
			}
			pl.p.Changes = append(pl.p.Changes, ch)
		}
		for _, n := range slices.Sorted(maps.Keys(have)) {
			ch := rp.removedRule(ref, lb, have[n])
			addrs = append(addrs, ch.Address)
			changed = true
			pl.p.Changes = append(pl.p.Changes, ch)
		}
		for _, a := range addrs {
			rp.active[a] = true
		}
		if !changed {
			continue // only mappings change: the destinations' writes carry the rules out
		}
		wk := rp.write(ref)
		wk.src = true
		if wk.w.Order == 2 {
			wk.w.Order = 1 // also a source: its rules change with it
		}
		wk.w.Addresses = append(wk.w.Addresses, addrs...)
		if len(out) > 0 {
			k := srcRef
			wk.w.SourceKey = &k
			wk.w.Rules = out
		}
	}
}

// finishWrites completes each write with the part that does not change (B2 replaces both)
// and adds it to the plan; a rule whose mapping changes is carried out by its destination's
// write too.
func (rp *replPlanner) finishWrites() {
	for _, r := range rp.rules {
		if wk := rp.writes[dstOf(r)]; wk != nil && rp.active[r.Address] && !rp.mappingOK[r.Address] {
			wk.w.Addresses = append(wk.w.Addresses, r.Address)
		}
	}
	for _, ref := range sortedRefs(rp.writes) {
		wk := rp.writes[ref]
		lb := rp.bucket(ref.prov, ref.name)
		if rp.deleting[ref] {
			// Cleared before the bucket is deleted (apply writes replication first): no
			// configuration is left naming it, whether or not B2 deletes such a bucket.
			if lb != nil && (lb.Replication.IsSource() || len(lb.Replication.Mapping) > 0) {
				wk.w.SourceKey, wk.w.Rules, wk.w.Mapping, wk.w.Order = nil, nil, nil, 1
				sort.Strings(wk.w.Addresses)
				rp.pl.p.Replication = append(rp.pl.p.Replication, wk.w)
			}
			continue
		}
		if lb != nil && !wk.src && lb.Replication.SourceKeyID != "" {
			wk.w.SourceKey = &KeyRef{ID: lb.Replication.SourceKeyID}
			for _, r := range lb.Replication.Rules {
				wk.w.Rules = append(wk.w.Rules, ReplicationRuleOut{ReplicationRule: r})
			}
		}
		if lb != nil && !wk.dest {
			for _, sk := range slices.Sorted(maps.Keys(lb.Replication.Mapping)) {
				wk.w.Mapping = append(wk.w.Mapping, ReplicationMapping{Source: KeyRef{ID: sk}, Destination: KeyRef{ID: lb.Replication.Mapping[sk]}})
			}
		}
		sort.Strings(wk.w.Addresses)
		rp.pl.p.Replication = append(rp.pl.p.Replication, wk.w)
	}
}

// declaredIn reports whether the configuration declares bucket ref in its account.
func (rp *replPlanner) declaredIn(ref bucketRef) bool {
	for _, b := range rp.pl.d.Buckets {
		if b.Provider == ref.prov && strings.EqualFold(b.Name, ref.name) {
			return true
		}
	}
	return false
}

// onlyMapping reports whether a rule changes in nothing but its mapping entry.
func onlyMapping(changed []string) bool {
	if len(changed) == 0 {
		return false
	}
	for _, c := range changed {
		if c != "destination_key_id" {
			return false
		}
	}
	return true
}

// ruleChange compares one declared rule with the live one (nil: absent).
func (rp *replPlanner) ruleChange(r *config.Replication, lb *live.Bucket, have *live.ReplicationRule, want live.ReplicationRule, srcRef KeyRef, mappingOK bool) *Change {
	dstRef := rp.keyRefs[replKey{r.DestinationProvider, "dst", strings.ToLower(r.DestinationBucket)}]
	after := ruleAttrs(r.Name, r.SourceBucket, r.DestinationBucket, r.DestinationProvider, want, srcRef, dstRef)
	ch := newChange(r.Address, ReplicationType, Create)
	ch.Provider = r.SourceProvider
	ch.After = after
	if have == nil {
		return ch
	}
	liveDst := ""
	if dl := rp.bucket(r.DestinationProvider, r.DestinationBucket); dl != nil && dl.Replication.Readable && lb != nil {
		liveDst = dl.Replication.Mapping[lb.Replication.SourceKeyID]
	}
	ch.Action = NoOp
	ch.Before = ruleAttrs(have.Name, lb.Name, r.DestinationBucket, r.DestinationProvider, *have,
		KeyRef{ID: lb.Replication.SourceKeyID}, KeyRef{ID: liveDst})
	if have.DestinationBucketID != want.DestinationBucketID {
		ch.Before[2] = Attr{Name: "destination_bucket", Value: raw(rp.bucketNameByID(have.DestinationBucketID))}
		ch.Changed = append(ch.Changed, "destination_bucket")
	}
	if have.Prefix != want.Prefix {
		ch.Changed = append(ch.Changed, "prefix")
	}
	if have.Priority != want.Priority {
		ch.Changed = append(ch.Changed, "priority")
	}
	if have.IncludeExisting != want.IncludeExisting {
		ch.Changed = append(ch.Changed, "include_existing")
	}
	if have.Enabled != want.Enabled {
		ch.Changed = append(ch.Changed, "enabled")
		if !have.Enabled {
			ch.Notes = append(ch.Notes, "B2 shows the rule disabled (changed outside b2plan): apply enables it")
		}
	}
	if srcRef.ID == "" || srcRef.ID != lb.Replication.SourceKeyID {
		ch.Changed = append(ch.Changed, "source_key_id")
		if rp.keyByID(r.SourceProvider, lb.Replication.SourceKeyID) == nil {
			ch.Notes = append(ch.Notes, fmt.Sprintf("the source key %s of bucket %q no longer exists: replication fails until apply sets a new one", lb.Replication.SourceKeyID, lb.Name))
		}
	}
	if !mappingOK {
		ch.Changed = append(ch.Changed, "destination_key_id")
		if liveDst == "" && srcRef.ID != "" {
			ch.Notes = append(ch.Notes, fmt.Sprintf("bucket %q maps no destination key to the source key %s: replication fails until apply sets the mapping", r.DestinationBucket, srcRef.ID))
		}
	}
	if len(ch.Changed) > 0 {
		ch.Action = Update
	}
	return ch
}

// removedRule deletes a live rule no block declares.
func (rp *replPlanner) removedRule(ref bucketRef, lb *live.Bucket, have *live.ReplicationRule) *Change {
	// The block that declares it (destroy), else the label import would give it.
	label := strings.ReplaceAll(have.Name, "-", "_")
	addr := ReplicationType + "." + label
	for _, r := range rp.pl.d.Replications {
		if r.Name == have.Name && r.SourceProvider == ref.prov && strings.EqualFold(r.SourceBucket, lb.Name) {
			addr = r.Address
			break
		}
		if r.Address == addr {
			addr = fmt.Sprintf("%s.%s[%q]", ReplicationType, label, lb.Name)
		}
	}
	for _, ch := range rp.pl.p.Changes {
		if ch.Address == addr {
			addr = fmt.Sprintf("%s.%s[%q]", ReplicationType, label, lb.Name)
		}
	}
	ch := newChange(addr, ReplicationType, Delete)
	ch.Provider = ref.prov
	dst := rp.bucketNameByID(have.DestinationBucketID)
	ch.Before = ruleAttrs(have.Name, lb.Name, dst, "", *have, KeyRef{ID: lb.Replication.SourceKeyID}, KeyRef{})
	ch.Reason = "no replication block declares this rule of bucket " + lb.Name
	if rp.pl.opts.Destroy {
		ch.Reason = ""
	}
	return ch
}

func (rp *replPlanner) bucketNameByID(id string) string {
	for _, l := range rp.accts {
		if b := l.BucketByID(id); b != nil {
			return b.Name
		}
	}
	return id
}

func ruleAttrs(name, src, dst, dstProv string, r live.ReplicationRule, srcKey, dstKey KeyRef) []Attr {
	keyAttr := func(n string, k KeyRef) Attr {
		if k.ID == "" && k.Address != "" {
			return Attr{Name: n, Unknown: true}
		}
		var v any
		if k.ID != "" {
			v = k.ID
		}
		return Attr{Name: n, Value: raw(v)}
	}
	var prov any
	if dstProv != "" {
		prov = config.ProviderLabel(dstProv)
	}
	return []Attr{
		{Name: "name", Value: raw(name)},
		{Name: "source_bucket", Value: raw(src)},
		{Name: "destination_bucket", Value: raw(dst)},
		{Name: "destination_provider", Value: raw(prov)},
		{Name: "prefix", Value: raw(r.Prefix)},
		{Name: "priority", Value: raw(r.Priority)},
		{Name: "include_existing", Value: raw(r.IncludeExisting)},
		{Name: "enabled", Value: raw(r.Enabled)},
		keyAttr("source_key_id", srcKey),
		keyAttr("destination_key_id", dstKey),
	}
}

// planKeys plans the keys the declared rules need, source keys first, and deletes the keys
// named like b2plan's that nothing keeps, in every account whose keys were read; it fills
// rp.keyRefs. A key already configured that works (a source key that may read the bucket, a
// destination key that may write it, unexpired) is kept whatever its name — b2plan does not
// replace what another tool set up, and never deletes it.
func (rp *replPlanner) planKeys() {
	pl := rp.pl
	need := map[replKey]bool{}
	for _, r := range rp.rules {
		need[replKey{r.SourceProvider, "src", srcOf(r).name}] = true
		need[replKey{r.DestinationProvider, "dst", dstOf(r).name}] = true
	}
	needed := slices.Collect(maps.Keys(need))
	sort.Slice(needed, func(i, j int) bool {
		a, b := needed[i], needed[j]
		if a.side != b.side {
			return a.side == "src" // source keys first: destinations map them
		}
		if a.prov != b.prov {
			return a.prov < b.prov
		}
		return a.bucket < b.bucket
	})
	kept := map[string]bool{} // ids of live keys kept
	for _, rk := range needed {
		l := rp.accts[rk.prov]
		if l == nil || !l.ObservedKeys {
			continue
		}
		caps := ReplicationSourceCapabilities
		if rk.side == "dst" {
			caps = ReplicationDestinationCapabilities
		}
		lb := l.Bucket(rk.bucket)
		if rp.deleting[bucketRef{rk.prov, rk.bucket}] {
			lb = nil
		}
		name := ReplicationKeyName(rk.side, rk.bucket)
		addr := replKeyAddress(rk.side, rk.bucket)
		// The key to keep: b2plan's, with the right capabilities, restricted to the bucket,
		// no prefix, never expiring (the one the configuration uses first); else one that is
		// configured and works.
		var keep *live.Key
		var oldID string
		if lb != nil {
			inUse := rp.inUse(lb, rk)
			for i, k := range l.Keys {
				if k.Name != name {
					continue
				}
				if keyFits(k, caps, lb.ID) && (keep == nil || inUse[k.ID]) {
					keep = &l.Keys[i]
				} else if oldID == "" {
					oldID = k.ID
				}
			}
			if keep == nil {
				for _, id := range slices.Sorted(maps.Keys(inUse)) {
					if k := rp.keyByID(rk.prov, id); k != nil && k.Name != name && rp.works(k, rk.side, lb.ID) {
						kept[k.ID] = true
						rp.keyRefs[rk] = KeyRef{ID: k.ID}
						break
					}
				}
				if _, adopted := rp.keyRefs[rk]; adopted {
					continue
				}
			}
		}
		if keep == nil {
			kept[oldID] = oldID != "" // replaced, not deleted separately
			rp.createKey(rk, oldID)
			continue
		}
		kept[keep.ID] = true
		ch := newChange(addr, ReplicationKeyType, NoOp)
		ch.Provider = rk.prov
		ch.Before = rp.keyAttrs(rk.prov, keep)
		ch.After = ch.Before
		ch.Key = &KeyChange{Name: keep.Name, OldID: keep.ID}
		pl.p.Changes = append(pl.p.Changes, ch)
		rp.keyRefs[rk] = KeyRef{ID: keep.ID}
	}
	if rp.targeted {
		return // keys other rules may use are left to a plan without -target
	}
	foreign := rp.foreignUse()
	for _, p := range rp.provs {
		l := rp.accts[p]
		if !l.ObservedKeys {
			continue
		}
		count := map[string]int{}
		for _, k := range l.Keys {
			count[k.Name]++
		}
		for i := range l.Keys {
			k := &l.Keys[i]
			side, bucket, ok := ReplicationKeyOf(k.Name)
			if !ok || kept[k.ID] || foreign[k.ID] {
				continue
			}
			addr := replKeyAddress(side, bucket)
			if need[replKey{p, side, bucket}] || count[k.Name] > 1 {
				addr = replKeyAddress(side, bucket+"/"+k.ID)
			}
			ch := newChange(addr, ReplicationKeyType, Delete)
			ch.Provider = p
			ch.Before = rp.keyAttrs(p, k)
			ch.Key = &KeyChange{Name: k.Name, OldID: k.ID}
			ch.Reason = "no replication needs this key b2plan made"
			if need[replKey{p, side, bucket}] {
				ch.Reason = "another key is used for this replication"
			}
			pl.p.Changes = append(pl.p.Changes, ch)
		}
	}
}

// ownSourceKey reports whether id is a source key b2plan made (by its name) or a key no
// planned account has (deleted, as after b2plan replaced it): another tool's known key is not.
func (rp *replPlanner) ownSourceKey(id string) bool {
	for _, p := range rp.provs {
		if k := rp.keyByID(p, id); k != nil {
			side, _, ok := ReplicationKeyOf(k.Name)
			return ok && side == "src"
		}
	}
	return true
}

// foreignUse are the ids of the destination keys that mapping entries of other tools' source
// keys use (another tool may map its source to b2plan's destination key): kept.
func (rp *replPlanner) foreignUse() map[string]bool {
	out := map[string]bool{}
	for _, p := range rp.provs {
		for _, b := range rp.accts[p].Buckets {
			for sk, dk := range b.Replication.Mapping {
				if !rp.ownSourceKey(sk) {
					out[dk] = true
				}
			}
		}
	}
	return out
}

// inUse are the ids of the keys lb's configuration uses for rk: its source key, or the
// destination keys its mapping gives the source keys replicating into it.
func (rp *replPlanner) inUse(lb *live.Bucket, rk replKey) map[string]bool {
	out := map[string]bool{}
	if rk.side == "src" {
		if lb.Replication.SourceKeyID != "" {
			out[lb.Replication.SourceKeyID] = true
		}
		return out
	}
	for _, r := range rp.byDest[bucketRef{rk.prov, rk.bucket}] {
		src := rp.keyRefs[replKey{r.SourceProvider, "src", srcOf(r).name}]
		if id := lb.Replication.Mapping[src.ID]; src.ID != "" && id != "" {
			out[id] = true
		}
	}
	return out
}

// works reports whether a key configured by another tool does the job of a replication key
// of side on bucket id: unexpired, allowed on the bucket, with readFiles (source) or
// writeFiles (destination).
func (rp *replPlanner) works(k *live.Key, side, bucketID string) bool {
	c := "readFiles"
	if side == "dst" {
		c = "writeFiles"
	}
	now := rp.pl.now
	if now.IsZero() {
		now = rp.pl.opts.Now
	}
	if !k.Expires.IsZero() && !k.Expires.After(now) {
		return false
	}
	allowed := len(k.BucketIDs) == 0
	for _, id := range k.BucketIDs {
		allowed = allowed || id == bucketID
	}
	has := false
	for _, x := range k.Capabilities {
		has = has || x == c
	}
	return allowed && has && k.NamePrefix == ""
}

// ReplicationKeyOf parses the name of a key b2plan makes for replication (ReplicationKeyName).
func ReplicationKeyOf(name string) (side, bucket string, ok bool) {
	for _, side := range []string{"src", "dst"} {
		if b, ok := strings.CutPrefix(name, config.ReplicationKeyPrefix+side+"-"); ok {
			return side, b, true
		}
	}
	return "", "", false
}

// createKey plans the creation (oldID "": else the replacement) of a replication key.
func (rp *replPlanner) createKey(rk replKey, oldID string) {
	pl := rp.pl
	side := rk.side
	caps := ReplicationSourceCapabilities
	if side == "dst" {
		caps = ReplicationDestinationCapabilities
	}
	name := ReplicationKeyName(side, rk.bucket)
	bucketName := rk.bucket
	if lb := rp.bucket(rk.prov, rk.bucket); lb != nil {
		bucketName = lb.Name
	} else if db := pl.declaredBuckets[rk.bucket]; db != nil {
		bucketName = db.Name
	}
	addr := replKeyAddress(side, rk.bucket)
	kc := &KeyChange{Name: name, Capabilities: append([]string(nil), caps...), BucketNames: []string{bucketName}, OldID: oldID}
	if lb := rp.bucket(rk.prov, rk.bucket); lb != nil {
		kc.BucketIDs = []string{lb.ID}
	}
	ch := newChange(addr, ReplicationKeyType, Create)
	ch.Provider = rk.prov
	ch.Key = kc
	ch.After = []Attr{
		{Name: "name", Value: raw(name)},
		{Name: "key_id", Unknown: true},
		{Name: "capabilities", Value: raw(kc.Capabilities)},
		{Name: "buckets", Value: raw(kc.BucketNames)},
		{Name: "name_prefix", Value: raw("")},
		{Name: "expires", Value: raw(nil)},
	}
	if oldID != "" {
		ch.Action = Replace
		ch.Reason = "the key b2plan made for replication has other capabilities or buckets"
		if k := rp.keyByID(rk.prov, oldID); k != nil {
			ch.Before = rp.keyAttrs(rk.prov, k)
		}
		ch.Changed = []string{"capabilities", "buckets", "key_id"}
	}
	pl.p.Changes = append(pl.p.Changes, ch)
	rp.keyRefs[rk] = KeyRef{Address: addr}
}

func replKeyAddress(side, bucket string) string {
	n := "source"
	if side == "dst" {
		n = "destination"
	}
	return fmt.Sprintf("%s.%s[%q]", ReplicationKeyType, n, bucket)
}

func keyFits(k live.Key, caps []string, bucketID string) bool {
	return strings.Join(sortedCopy(k.Capabilities, false), ",") == strings.Join(caps, ",") &&
		len(k.BucketIDs) == 1 && k.BucketIDs[0] == bucketID && k.NamePrefix == "" && k.Expires.IsZero()
}

func sortedRefs[T any](m map[bucketRef]T) []bucketRef {
	out := slices.Collect(maps.Keys(m))
	sort.Slice(out, func(i, j int) bool {
		if out[i].prov != out[j].prov {
			return out[i].prov < out[j].prov
		}
		return out[i].name < out[j].name
	})
	return out
}

func sortedRules(rs []*config.Replication) []*config.Replication {
	out := append([]*config.Replication(nil), rs...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ReplicationCaps are the capabilities applying p's replication needs in the account of
// provider alias.
func ReplicationCaps(p *Plan, alias string) []string {
	set := map[string]bool{}
	for _, ch := range p.Changes {
		if ch.Provider != alias || ch.Action == NoOp {
			continue
		}
		switch ch.Type {
		case ReplicationKeyType:
			switch ch.Action {
			case Create:
				set["writeKeys"] = true
			case Replace:
				set["writeKeys"], set["deleteKeys"] = true, true
			case Delete:
				set["deleteKeys"] = true
			}
			set["listKeys"] = true // a lost create reply is reconciled by listing
		}
	}
	for _, w := range p.Replication {
		if w.Provider == alias {
			set["writeBuckets"], set["writeBucketReplications"], set["listBuckets"] = true, true, true
		}
		for _, r := range w.Rules {
			if r.DestinationProvider == alias && r.DestinationBucketID == "" {
				set["listBuckets"] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// ReplicationPart returns the part of p that applies after every account (replication
// changes and writes), and IsReplication tells such changes apart.
func (p *Plan) ReplicationPart() *Plan {
	c := *p
	c.Moves, c.Drift, c.Outputs = nil, nil, nil
	c.Changes = nil
	for _, ch := range p.Changes {
		if IsReplication(ch) {
			c.Changes = append(c.Changes, ch)
		}
	}
	return &c
}

// AccountPhases splits an account's part of a plan (ForProvider) around replication, which
// spans accounts and is applied between the two: setup holds the bucket creations and updates
// and the key creations and replacements (what a replication configuration may name), rest
// the others (folders, objects, moves, deletions), so that objects of the same apply are
// replicated and no configuration names a deleted bucket. Changes without action are in
// both (they carry ids). A move that needs the id of a bucket the apply creates (the executor
// learns it in the same run) is in setup, with every move: its objects are then replicated
// only with include_existing. Deletions are always in rest.
func (p *Plan) AccountPhases() (setup, rest *Plan) {
	s, r := *p, *p
	s.Changes, r.Changes = nil, nil
	s.Moves, s.Drift = nil, nil
	for _, m := range p.Moves {
		if m.BucketID == "" || (m.ToBucket != "" && m.ToBucketID == "") {
			s.Moves, r.Moves = p.Moves, nil
			break
		}
	}
	for _, ch := range p.Changes {
		switch {
		case ch.Action == NoOp:
			s.Changes = append(s.Changes, ch)
			r.Changes = append(r.Changes, ch)
		case (ch.Type == "bucket" || ch.Type == "key") && (ch.Action == Create || ch.Action == Update || ch.Action == Replace):
			s.Changes = append(s.Changes, ch)
		default:
			r.Changes = append(r.Changes, ch)
		}
	}
	return &s, &r
}

// IsReplication reports whether ch is a replication rule or key change.
func IsReplication(ch *Change) bool {
	return ch.Type == ReplicationType || ch.Type == ReplicationKeyType
}

// reportFailed warns, per replication rule, how many of the file versions this plan listed
// anyway (objects, folders, moves, prune checks: nothing is listed for it) B2 reports with
// replicationStatus "failed" — the newest version of each name, counted once. B2 does not
// retry those; a version is attributed to the enabled rule of its bucket with the highest
// priority whose prefix covers it (what B2 applies), else to the rule set as a whole.
func (rp *replPlanner) reportFailed() {
	type tally struct {
		n       int
		example string
	}
	type ruleRef struct {
		prov, bucket, rule string
	}
	counts := map[ruleRef]*tally{}
	var order []ruleRef
	for _, p := range rp.provs {
		l := rp.accts[p]
		seen := map[string]bool{}
		for li := range l.Listings {
			ls := &l.Listings[li]
			lb := l.Bucket(ls.BucketName)
			if lb == nil || len(lb.Replication.Rules) == 0 {
				continue
			}
			for _, i := range ls.Latest() {
				v := &ls.Versions[i]
				if !v.ReplicationFailed() || seen[v.ID] {
					continue
				}
				seen[v.ID] = true
				k := ruleRef{p, lb.Name, ruleCovering(lb.Replication.Rules, v.Name)}
				if counts[k] == nil {
					counts[k] = &tally{example: v.Name}
					order = append(order, k)
				}
				counts[k].n++
			}
		}
	}
	for _, k := range order {
		c := counts[k]
		what := fmt.Sprintf("the replication rules of bucket %q (no enabled rule covers them now)", k.bucket)
		if k.rule != "" {
			what = fmt.Sprintf("rule %q of bucket %q", k.rule, k.bucket)
			for _, r := range rp.pl.d.Replications {
				if r.Name == k.rule && r.SourceProvider == k.prov && strings.EqualFold(r.SourceBucket, k.bucket) {
					what = r.Address
				}
			}
		}
		versions := "file version"
		if c.n > 1 {
			versions += "s"
		}
		rp.pl.warnf(nil, "Replication failed for "+what,
			"%s: B2 reports replicationStatus \"failed\" for %d %s this plan read (e.g. %q): B2 did not copy them to the destination and does not try again. Only the files b2plan lists anyway (object, folder and move blocks, prune checks) are counted; `b2 ls --replication` shows them all. Fix the cause (a deleted key or key mapping shows as drift above), then upload those files again (for an object: apply -replace=object.NAME).",
			what, c.n, versions, c.example)
	}
}

// ruleCovering is the name of the rule B2 applies to a file: the enabled rule with the
// highest priority whose prefix the name starts with ("" = none).
func ruleCovering(rules []live.ReplicationRule, name string) string {
	best, prio := "", -1
	for _, r := range rules {
		if r.Enabled && strings.HasPrefix(name, r.Prefix) && r.Priority > prio {
			best, prio = r.Name, r.Priority
		}
	}
	return best
}
