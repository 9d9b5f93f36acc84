package planner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/b2plan/b2plan/config"
	"github.com/b2plan/b2plan/live"
)

// Options parameterise a plan.
type Options struct {
	// Targets restricts the plan to these addresses (-target). "bucket.x"
	// also selects its for_each instances bucket.x["k"]; drift addresses
	// (unmanaged.bucket["name"]) may be targeted too. Empty = everything.
	Targets []string
	// Endpoint and AccountID bind a saved plan to an account. AccountID
	// defaults to Live.AccountID. The endpoint must not contain credentials.
	Endpoint  string
	AccountID string
	// Now is the planning time (key expiry, Object Lock retention).
	Now time.Time
	// PlanID identifies the plan; "" = a random id.
	PlanID string
	// MaxCopyFileSize is the largest object the plan copies with one
	// b2_copy_file; larger ones get OpCopyLarge. 0 = MaxCopyFileSize (B2's
	// 5 GB limit).
	MaxCopyFileSize int64
	// PartSize is the copy_part size assumed for part counts and call
	// estimates of large copies (the CLI passes the recommendedPartSize
	// returned at authorization). 0 = RecommendedPartSize.
	PartSize int64
	// SecretKeyIDs maps each declared secret_file that holds a key id to
	// that id (read by the caller with secretfile.KeyIDs: Compute does no
	// I/O). It tells the current key from the one an interrupted
	// replacement left behind.
	SecretKeyIDs map[string]string
	// Provider is the alias of the account planned ("" = the default provider); its
	// unmanaged resources are addressed unmanaged.b2.ALIAS.bucket["name"] (accounts.go).
	Provider string
	// Destroy plans the deletion of everything the configuration declares (b2plan destroy,
	// plan_destroy.go) instead of its creation.
	Destroy bool
	// Replace lists the addresses whose replacement is forced (-replace, replace.go): keys
	// (a new key and secret, then the old key is deleted) and objects (uploaded again).
	Replace []string

	// accountPart marks the plan of one account of several (ComputeAccounts): replication,
	// which spans accounts, is planned once over all of them.
	accountPart bool
	// ListRange lists move prefixes by name range, for a live snapshot made
	// with StreamingLiveRequest (move_chunk.go); Context bounds those calls.
	ListRange RangeLister
	Context   context.Context
	// MoveChunk is the number of versions of one chunk of a chunked move
	// (0 = DefaultMoveChunk); moves with more than MoveChunkThreshold
	// versions (source and destination; 0 = DefaultMoveChunkThreshold,
	// negative = every move) are chunked.
	MoveChunk          int
	MoveChunkThreshold int
	// ForgetListed, when set, is called with the versions of each chunk
	// once it is planned (b2client.Conn.ForgetListed: memory stays bounded).
	ForgetListed func([]live.Version)
	// ListSource, when set, lists the whole source of a move (its pages in
	// name order, as ListRange), e.g. by sub-prefix ranges concurrently
	// (b2client.Conn.ListParallel). Overlapping moves use ListRange.
	ListSource RangeLister
	// elsewhere are the targets that address a resource of another account (ComputeAccounts):
	// an account's part that has none of them plans nothing for them, without an error.
	elsewhere map[string]bool
}

func (pl *planner) unmanagedPrefix() string {
	if pl.opts.Provider == "" {
		return "unmanaged."
	}
	return "unmanaged.b2." + pl.opts.Provider + "."
}

// NewPlanID returns a random plan id.
func NewPlanID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

type planner struct {
	d     *config.Desired
	l     *live.Live
	opts  Options
	now   time.Time
	p     *Plan
	diags hcl.Diagnostics

	declaredBuckets map[string]*config.Bucket // lowercased name
	// ids known before apply, by address (bucket.x, key.y)
	ids map[string]string
	// targets are the -target addresses and their dependencies (nil = everything).
	targets map[string]bool
}

// Compute computes the changes that make the live account match the
// configuration. It does no I/O. Diagnostics with errors mean the plan must
// not be applied (the returned plan still shows everything that was found).
func Compute(d *config.Desired, l *live.Live, opts Options) (*Plan, hcl.Diagnostics) {
	pl := compute(d, l, opts)
	return pl.p, pl.diags
}

func compute(d *config.Desired, l *live.Live, opts Options) *planner {
	if l == nil {
		l = &live.Live{}
	}
	id := opts.PlanID
	if id == "" {
		id = NewPlanID()
	}
	acct := opts.AccountID
	if acct == "" {
		acct = l.AccountID
	}
	pl := &planner{d: d, l: l, opts: opts, now: opts.Now,
		p: &Plan{FormatVersion: FormatVersion, ID: id, CreatedAt: opts.Now.UTC(),
			Endpoint: opts.Endpoint, AccountID: acct, Targets: opts.Targets, Prune: d.Settings.Prune},
		declaredBuckets: map[string]*config.Bucket{},
		ids:             map[string]string{},
	}
	// The plan records the limits it was given (0 = B2's defaults, see
	// Plan.CopyLimits), so that apply uses the endpoint's values only when
	// the plan was made with them.
	pl.p.MaxCopyFileSize, pl.p.PartSize = max(opts.MaxCopyFileSize, 0), max(opts.PartSize, 0)
	for _, b := range d.Buckets {
		pl.declaredBuckets[strings.ToLower(b.Name)] = b
		if lb := l.Bucket(b.Name); lb != nil {
			pl.ids[b.Address] = lb.ID
		}
	}
	for _, k := range d.Keys {
		if ks := l.KeysNamed(k.Name); len(ks) == 1 {
			pl.ids[k.Address] = ks[0].ID
		}
	}
	if !pl.expandTargets() {
		return pl
	}
	if !pl.checkReplace() {
		return pl
	}
	if opts.Destroy {
		pl.planDestroy()
	} else {
		pl.planKeys() // may drop key ids that change
		pl.planBuckets()
		pl.planFolders()
		pl.planObjects()
		pl.planMoves()
		pl.planDrift()
		pl.checkProtectedRenames() // plan_destroy.go
	}
	if !opts.accountPart {
		pl.planReplication(map[string]*live.Live{"": l}) // plan_replication.go
	}
	pl.planOutputs()
	pl.markSensitive()
	pl.p.Variables = planVariables(d)
	pl.p.Errored = pl.diags.HasErrors()
	sort.SliceStable(pl.p.Changes, func(i, j int) bool {
		return changeRank(pl.p.Changes[i]) < changeRank(pl.p.Changes[j])
	})
	return pl
}

func (pl *planner) targeted(addr string) bool {
	return pl.targets == nil || pl.isTargeted(addr)
}

func (pl *planner) errorf(rng *hcl.Range, summary, detailFmt string, args ...any) {
	pl.diags = append(pl.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary,
		Detail: fmt.Sprintf(detailFmt, args...), Subject: rng})
}

func (pl *planner) warnf(rng *hcl.Range, summary, detailFmt string, args ...any) {
	pl.diags = append(pl.diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: summary,
		Detail: fmt.Sprintf(detailFmt, args...), Subject: rng})
}

func rangePtr(r hcl.Range) *hcl.Range {
	if r.Filename == "" && r.Start.Line == 0 {
		return nil
	}
	return &r
}

// splitAddress returns the block label and for_each key of an address
// such as bucket.logs["eu"].
func splitAddress(addr string) (name, index string, has bool) {
	_, rest := SplitModule(addr)
	if i := strings.IndexByte(rest, '.'); i >= 0 {
		rest = rest[i+1:]
	}
	if i := strings.IndexByte(rest, '['); i >= 0 && strings.HasSuffix(rest, "]") {
		idx := rest[i+1 : len(rest)-1]
		idx = strings.TrimSuffix(strings.TrimPrefix(idx, `"`), `"`)
		return rest[:i], idx, true
	}
	return rest, "", false
}

func newChange(addr, typ string, a Action) *Change {
	name, idx, has := splitAddress(addr)
	mod, _ := SplitModule(addr)
	return &Change{Address: addr, Module: mod, Type: typ, Name: name, Index: idx, HasIndex: has, Action: a}
}

// SplitModule splits an address into its module path and the address inside the module:
// module.site["a"].module.logs.bucket.x → (module.site["a"].module.logs, bucket.x). The
// module path is "" for the root configuration.
func SplitModule(addr string) (module, resource string) {
	i := 0
	for strings.HasPrefix(addr[i:], "module.") {
		j := i + len("module.")
		for j < len(addr) && addr[j] != '.' && addr[j] != '[' {
			j++
		}
		if j < len(addr) && addr[j] == '[' { // an instance key: ["..."], quoted as Go does
			j++
			if j < len(addr) && addr[j] == '"' {
				j++
				for j < len(addr) && addr[j] != '"' {
					if addr[j] == '\\' {
						j++
					}
					j++
				}
				j++
			}
			for j < len(addr) && addr[j] != ']' {
				j++
			}
			j++
		}
		if j >= len(addr) || addr[j] != '.' {
			return addr[:min(j, len(addr))], ""
		}
		i = j + 1
	}
	if i == 0 {
		return "", addr
	}
	return addr[:i-1], addr[i:]
}

func ownedBy(globs []string, name string) bool {
	for _, g := range globs {
		if ok, _ := path.Match(strings.ToLower(g), strings.ToLower(name)); ok {
			return true
		}
	}
	return false
}

// resolveDeferred resolves deferred values whose refs are all known before
// apply; it returns the values still unknown.
func (pl *planner) resolveDeferred(list []config.Deferred) (resolved map[string]string, unknown []DeferredValue) {
	for _, dv := range list {
		if v, err := dv.Resolve(pl.ids); err == nil {
			if resolved == nil {
				resolved = map[string]string{}
			}
			resolved[dv.Path] = v
			continue
		}
		unknown = append(unknown, DeferredValue{Path: dv.Path, Template: dv.Template, Refs: dv.Refs})
	}
	return resolved, unknown
}

// findListing returns the versions under (bucket, prefix), from the listing
// of that prefix or of a shorter prefix covering it (a sub-slice, no copy).
func findListing(l *live.Live, bucket, prefix string) (vs []live.Version, unf []live.Version, bucketID string, ok bool) {
	best := -1
	for i := range l.Listings {
		li := &l.Listings[i]
		if !strings.EqualFold(li.BucketName, bucket) || !strings.HasPrefix(prefix, li.Prefix) {
			continue
		}
		if best < 0 || len(li.Prefix) > len(l.Listings[best].Prefix) {
			best = i
		}
	}
	if best < 0 {
		return nil, nil, "", false
	}
	li := &l.Listings[best]
	vs = li.Versions
	if li.Prefix != prefix {
		lo := sort.Search(len(vs), func(i int) bool { return vs[i].Name >= prefix })
		n := sort.Search(len(vs)-lo, func(i int) bool { return !strings.HasPrefix(vs[lo+i].Name, prefix) })
		vs = vs[lo : lo+n : lo+n]
		for _, u := range li.Unfinished {
			if strings.HasPrefix(u.Name, prefix) {
				unf = append(unf, u)
			}
		}
	} else {
		unf = li.Unfinished
	}
	return vs, unf, li.BucketID, true
}

// listingOmitted reports whether the listing findListing uses for (bucket,
// prefix) holds no versions (StreamingLiveRequest: listed by name range).
func listingOmitted(l *live.Live, bucket, prefix string) bool {
	best := -1
	for i := range l.Listings {
		li := &l.Listings[i]
		if !strings.EqualFold(li.BucketName, bucket) || !strings.HasPrefix(prefix, li.Prefix) {
			continue
		}
		if best < 0 || len(li.Prefix) > len(l.Listings[best].Prefix) {
			best = i
		}
	}
	return best >= 0 && l.Listings[best].VersionsOmitted
}

// LiveRequest returns what to observe for d. Call it first with known = nil
// (buckets, keys, and the listings of folders and moves); when the
// configuration has prune = true and owns buckets, call it again with the
// first observation: the second request adds a whole-bucket listing of every
// bucket that prune would delete, so that the plan can refuse non-empty ones.
// Listings covered by a shorter listing of the same bucket are left out (the
// planner reads sub-ranges).
func LiveRequest(d *config.Desired, known *live.Live) live.Request {
	return liveRequest(d, known, false)
}

// StreamingLiveRequest is LiveRequest for a planner with
// Options.ListRange: the prefixes of moves are observed for their
// unfinished large files only, their versions are listed by name range
// while planning (move_chunk.go), so that a move of any size is planned in
// bounded memory.
func StreamingLiveRequest(d *config.Desired, known *live.Live) live.Request {
	return liveRequest(d, known, true)
}

func liveRequest(d *config.Desired, known *live.Live, stream bool) live.Request {
	// Replication needs the keys: it tells the ones b2plan made for it by name. They are read
	// even without a replication block when the key may list them: an apply interrupted
	// between creating such a key and writing the configuration naming it, or between clearing
	// a configuration and deleting its keys, leaves keys no bucket refers to, which the next
	// plan deletes (plan_replication.go, planKeys).
	req := live.Request{Buckets: true, Keys: len(d.Keys) > 0 || len(d.Settings.OwnsKeys) > 0 || HasKeyData(d) || len(d.Replications) > 0,
		KeysIfAllowed: true}
	req.Notify = notifyRequest(d)
	var ps []live.PrefixRequest
	for _, f := range d.Folders {
		ps = append(ps, live.PrefixRequest{BucketName: f.Bucket, Prefix: f.Path})
	}
	for _, m := range d.Moves {
		ps = append(ps, live.PrefixRequest{BucketName: m.Bucket, Prefix: m.From, UnfinishedOnly: stream})
		tb := m.ToBucket
		if tb == "" {
			tb = m.Bucket
		}
		ps = append(ps, live.PrefixRequest{BucketName: tb, Prefix: m.To, UnfinishedOnly: stream})
	}
	if known != nil && d.Settings.Prune {
		for _, b := range known.Buckets {
			if ownedBy(d.Settings.OwnsBuckets, b.Name) && !declaredBucket(d, b.Name) {
				ps = append(ps, live.PrefixRequest{BucketName: b.Name, Prefix: ""})
			}
		}
	}
	req.Prefixes = append(ps, objectPrefixes(d)...)
	return compactPrefixes(req)
}

// compactPrefixes sorts req.Prefixes and drops duplicates and prefixes covered by a shorter
// one of the same bucket (a listing of unfinished files only covers only such listings).
func compactPrefixes(req live.Request) live.Request {
	ps := req.Prefixes
	req.Prefixes = nil
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := strings.ToLower(ps[i].BucketName), strings.ToLower(ps[j].BucketName)
		if a != b {
			return a < b
		}
		if ps[i].Prefix != ps[j].Prefix {
			return ps[i].Prefix < ps[j].Prefix
		}
		return !ps[i].UnfinishedOnly && ps[j].UnfinishedOnly // full listings first
	})
	for _, p := range ps {
		covered := false
		for _, q := range req.Prefixes {
			if strings.EqualFold(q.BucketName, p.BucketName) && strings.HasPrefix(p.Prefix, q.Prefix) && (!q.UnfinishedOnly || p.UnfinishedOnly) {
				covered = true
				break
			}
		}
		if !covered {
			req.Prefixes = append(req.Prefixes, p)
		}
	}
	return req
}

func declaredBucket(d *config.Desired, name string) bool {
	for _, b := range d.Buckets {
		if strings.EqualFold(b.Name, name) {
			return true
		}
	}
	return false
}

func declaredKey(d *config.Desired, name string) bool {
	if _, _, ok := ReplicationKeyOf(name); ok {
		return true // the replication planner manages b2plan's replication keys (plan_replication.go)
	}
	for _, k := range d.Keys {
		if k.Name == name {
			return true
		}
	}
	return false
}

// planDrift reports unmanaged buckets and keys, and deletes them with prune.
func (pl *planner) planDrift() {
	s := pl.d.Settings
	for i := range pl.l.Buckets {
		b := &pl.l.Buckets[i]
		if !ownedBy(s.OwnsBuckets, b.Name) || declaredBucket(pl.d, b.Name) {
			continue
		}
		addr := fmt.Sprintf("%sbucket[%q]", pl.unmanagedPrefix(), b.Name)
		dr := &Drift{Address: addr, Type: "bucket", Name: b.Name, ID: b.ID}
		pl.p.Drift = append(pl.p.Drift, dr)
		if !s.Prune {
			dr.Note = "matches b2plan.owns but is not declared; not deleted (prune = false)"
			continue
		}
		if !pl.targeted(addr) {
			dr.Note = "not targeted"
			continue
		}
		vs, unf, _, ok := findListing(pl.l, b.Name, "")
		c := pl.contentsOf(b, vs, unf, nil) // plan_destroy.go: one rule with destroy
		switch {
		case !ok:
			dr.Note = "prune would delete it, but its contents were not listed"
			pl.errorf(rangePtr(s.Range), "Cannot prune bucket "+b.Name,
				"Bucket %q matches b2plan.owns and is not declared, so prune = true would delete it, but it was not listed to check that it is empty. Plan with the live request from planner.LiveRequest(desired, observed).", b.Name)
			continue
		case c.n() > 0:
			dr.Note = fmt.Sprintf("not empty (%d versions, %d unfinished large files): cannot be deleted", len(c.versions), len(c.unfinished))
			pl.pruneNonEmpty(b, c)
			continue
		}
		dr.Deleted = true
		ch := &Change{Address: addr, Type: "bucket", Name: b.Name, Action: Delete,
			Reason: "unmanaged (matches b2plan.owns, not declared) and prune = true",
			Before: bucketAttrs(normLive(b), b, nil),
			Bucket: &BucketChange{ID: b.ID, Revision: b.Revision}}
		pl.p.Changes = append(pl.p.Changes, ch)
	}
	for i := range pl.l.Keys {
		k := &pl.l.Keys[i]
		if !ownedBy(s.OwnsKeys, k.Name) || declaredKey(pl.d, k.Name) {
			continue
		}
		addr := fmt.Sprintf("%skey[%q]", pl.unmanagedPrefix(), k.Name+"/"+k.ID)
		dr := &Drift{Address: addr, Type: "key", Name: k.Name, ID: k.ID}
		pl.p.Drift = append(pl.p.Drift, dr)
		if !s.Prune {
			dr.Note = "matches b2plan.owns but is not declared; not deleted (prune = false)"
			continue
		}
		if !pl.targeted(addr) {
			dr.Note = "not targeted"
			continue
		}
		dr.Deleted = true
		pl.p.Changes = append(pl.p.Changes, &Change{Address: addr, Type: "key", Name: k.Name, Action: Delete,
			Reason: "unmanaged (matches b2plan.owns, not declared) and prune = true",
			Before: pl.liveKeyAttrs(k),
			Key:    &KeyChange{Name: k.Name, OldID: k.ID}})
	}
}

// changeRank orders changes: declared buckets, keys, folders, then the
// unmanaged resources prune deletes.
func changeRank(c *Change) int {
	if strings.HasPrefix(c.Address, "unmanaged.") {
		return 4
	}
	switch c.Type {
	case "bucket":
		return 0
	case "key":
		return 1
	case ReplicationType, ReplicationKeyType:
		return 3 // applied after every account's other changes
	}
	return 2
}
