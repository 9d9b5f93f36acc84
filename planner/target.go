package planner

import (
	"fmt"
	"sort"
	"strings"

	"github.com/agext/levenshtein"
)

// Resource targeting (-target), as Terraform does it: every target must match a declared
// resource (or an unmanaged one prune could delete), else the plan has an error with a
// suggestion; what the targeted resources depend on is planned too (a key restricted to a
// bucket, or whose attributes use a bucket's id, brings that bucket in; a folder or a move
// brings its buckets in); and a warning says that the plan may be incomplete.

// TargetWarning is the summary of the warning every targeted plan carries.
const TargetWarning = "Resource targeting is in effect"

// NoTargetMatch begins the summary of the error for a target that matches nothing; the plan
// is then not computed (it would show nothing to do), so callers print the error alone.
const NoTargetMatch = "No resource matches -target="

// targetableAddresses lists every address -target may name: declared resources (and the
// for_each base address of their instances) and the unmanaged resources of the account.
func (pl *planner) targetableAddresses() []string {
	set := map[string]bool{}
	add := func(addr string) {
		set[addr] = true
		if i := strings.IndexByte(addr, '['); i > 0 && !strings.HasPrefix(addr, "unmanaged.") {
			set[addr[:i]] = true
		}
	}
	for _, b := range pl.d.Buckets {
		add(b.Address)
	}
	for _, k := range pl.d.Keys {
		add(k.Address)
	}
	for _, f := range pl.d.Folders {
		add(f.Address)
	}
	for _, o := range pl.d.Objects {
		add(o.Address)
	}
	for _, m := range pl.d.Moves {
		add(m.Address)
	}
	for _, r := range pl.d.Replications {
		add(r.Address) // planned by planReplication (plan_replication.go, replTargets)
	}
	s := pl.d.Settings
	for _, b := range pl.l.Buckets {
		if ownedBy(s.OwnsBuckets, b.Name) && !declaredBucket(pl.d, b.Name) {
			add(fmt.Sprintf("unmanaged.bucket[%q]", b.Name))
		}
	}
	for _, k := range pl.l.Keys {
		if ownedBy(s.OwnsKeys, k.Name) && !declaredKey(pl.d, k.Name) {
			add(fmt.Sprintf("unmanaged.key[%q]", k.Name+"/"+k.ID))
		}
	}
	out := make([]string, 0, len(set))
	for a := range set {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// matchesTarget reports whether addr is target or one of its instances (or, for a target
// such as "unmanaged.bucket", one of the resources under it).
func matchesTarget(addr, target string) bool {
	return addr == target || strings.HasPrefix(addr, target+"[") || strings.HasPrefix(addr, target+".")
}

// dependencies returns the declared addresses a declared resource needs.
func (pl *planner) dependencies(addr string) []string {
	var out []string
	bucket := func(name string) {
		if b, ok := pl.declaredBuckets[strings.ToLower(name)]; ok {
			out = append(out, b.Address)
		}
	}
	for _, b := range pl.d.Buckets {
		if b.Address == addr {
			for _, dv := range b.Deferred {
				out = append(out, dv.Refs...)
			}
		}
	}
	for _, k := range pl.d.Keys {
		if k.Address == addr {
			for _, bn := range k.Buckets {
				bucket(bn)
			}
			for _, dv := range k.Deferred {
				out = append(out, dv.Refs...)
			}
		}
	}
	for _, f := range pl.d.Folders {
		if f.Address == addr {
			bucket(f.Bucket)
		}
	}
	for _, o := range pl.d.Objects {
		if o.Address == addr {
			bucket(o.Bucket)
		}
	}
	for _, m := range pl.d.Moves {
		if m.Address == addr {
			bucket(m.Bucket)
			if m.ToBucket != "" {
				bucket(m.ToBucket)
			}
		}
	}
	for _, r := range pl.d.Replications {
		if r.Address != addr {
			continue
		}
		// Its buckets of this account (an account's part declares its own) and, but for
		// destroy (which removes only the targeted rules), the other rules of its source
		// bucket: B2 takes a bucket's rules in one write (plan_replication.go, replTargets).
		bucket(r.SourceBucket)
		bucket(r.DestinationBucket)
		for _, o := range pl.d.Replications {
			if !pl.opts.Destroy && o != r && o.SourceProvider == r.SourceProvider && strings.EqualFold(o.SourceBucket, r.SourceBucket) {
				out = append(out, o.Address)
			}
		}
	}
	return out
}

func (pl *planner) declaredAddresses() []string {
	var out []string
	for _, b := range pl.d.Buckets {
		out = append(out, b.Address)
	}
	for _, k := range pl.d.Keys {
		out = append(out, k.Address)
	}
	for _, f := range pl.d.Folders {
		out = append(out, f.Address)
	}
	for _, o := range pl.d.Objects {
		out = append(out, o.Address)
	}
	for _, m := range pl.d.Moves {
		out = append(out, m.Address)
	}
	for _, r := range pl.d.Replications {
		out = append(out, r.Address)
	}
	return out
}

// expandTargets checks the targets and computes pl.targets: the addresses targeted, with
// their dependencies. It returns false when a target matches nothing.
func (pl *planner) expandTargets() bool {
	if len(pl.opts.Targets) == 0 {
		return true
	}
	valid := pl.targetableAddresses()
	pl.targets = map[string]bool{}
	var queue []string
	for _, t := range pl.opts.Targets {
		matched := false
		for _, a := range valid {
			if matchesTarget(a, t) {
				matched = true
				break
			}
		}
		if !matched && pl.opts.elsewhere[t] {
			continue // another account's resource (ComputeAccounts)
		}
		if !matched {
			pl.errorf(nil, NoTargetMatch+t,
				"The configuration declares no resource %q, and no unmanaged resource of the account has that address.%s Addresses look like bucket.NAME, key.NAME, folder.NAME, move.NAME, bucket.NAME[\"KEY\"] (a for_each instance) or unmanaged.bucket[\"NAME\"]; \"b2plan plan\" without -target lists them.",
				t, targetSuggestion(t, valid))
			continue
		}
		pl.targets[t] = true
		for _, a := range pl.declaredAddresses() {
			if matchesTarget(a, t) {
				queue = append(queue, a)
			}
		}
	}
	if len(pl.diags) > 0 {
		return false
	}
	// Dependencies, transitively.
	seen := map[string]bool{}
	for len(queue) > 0 {
		a := queue[0]
		queue = queue[1:]
		if seen[a] {
			continue
		}
		seen[a] = true
		deps := pl.dependencies(a)
		if pl.opts.Destroy { // destroying a resource destroys what needs it first
			deps = pl.dependents(a)
		}
		for _, dep := range deps {
			if !pl.isTargeted(dep) {
				pl.targets[dep] = true
				note := fmt.Sprintf("-target: %s is included because %s depends on it", dep, a)
				if pl.opts.Destroy {
					note = fmt.Sprintf("-target: %s is included because it depends on %s", dep, a)
				}
				pl.p.Notes = append(pl.p.Notes, note)
			}
			queue = append(queue, dep)
		}
	}
	pl.warnf(nil, TargetWarning,
		"You are creating a plan with -target, which means that the result of this plan may not represent all of the changes requested by the current configuration. The resources the targets depend on are included.\n\nThe -target option is not for routine use: it is provided only for exceptional situations such as recovering from errors or mistakes.")
	return true
}

func (pl *planner) isTargeted(addr string) bool {
	for t := range pl.targets {
		if matchesTarget(addr, t) {
			return true
		}
	}
	return false
}

// targetSuggestion is " Did you mean "x"?" for the valid address closest to t (also when t
// lacks the type, e.g. "assets" for bucket.assets), or "".
func targetSuggestion(t string, valid []string) string {
	best, bestDist := "", 1<<30
	for _, c := range valid {
		d := levenshtein.Distance(strings.ToLower(t), strings.ToLower(c), nil)
		if _, name, ok := strings.Cut(c, "."); ok && !strings.HasPrefix(c, "unmanaged.") {
			d = min(d, levenshtein.Distance(strings.ToLower(t), strings.ToLower(name), nil))
		}
		if d < bestDist {
			best, bestDist = c, d
		}
	}
	limit := 2 // a likely typo: short names allow one edit
	if len(t) <= 4 {
		limit = 1
	} else if len(t) >= 9 {
		limit = 3
	}
	if best != "" && bestDist <= limit {
		return fmt.Sprintf(" Did you mean %q?", best)
	}
	return ""
}
