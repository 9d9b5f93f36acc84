package planner

import (
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/b2plan/b2plan/config"
	"github.com/b2plan/b2plan/live"
)

// Several accounts (provider aliases, docs/configuration.md "Several accounts"). Each account
// is planned on its own (the part of the configuration with its provider, against its
// snapshot, with the same b2plan settings: owns and prune apply per account); the plans are
// merged into one, whose changes, moves and drift name their provider. Outputs are planned
// once over every account. Apply splits the plan again (ForProvider) and applies each account
// with its own connection.

// AccountRef is the account of a provider alias a plan was made for.
type AccountRef struct {
	Provider  string `json:"provider"`
	Endpoint  string `json:"endpoint"`
	AccountID string `json:"account_id"`
}

// AccountSnapshot is one account to plan: its provider alias ("" = the default), where it
// is, and what was observed there.
type AccountSnapshot struct {
	Provider  string
	Endpoint  string
	AccountID string
	Live      *live.Live
	// PartSize is the account's recommended part size (0 = Options.PartSize).
	PartSize int64
}

// ComputeAccounts plans every account of d (the default provider's first). opts.Endpoint,
// AccountID and Provider are taken from each snapshot.
func ComputeAccounts(d *config.Desired, accts []AccountSnapshot, opts Options) (*Plan, hcl.Diagnostics) {
	if opts.PlanID == "" {
		opts.PlanID = NewPlanID()
	}
	var merged *Plan
	var diags hcl.Diagnostics
	ids := map[string]string{}
	var changes []*Change
	var moves []*Move
	var drift []*Drift
	var refs []AccountRef
	partTargets, elsewhere := accountTargets(d, opts)
	for _, a := range accts {
		o := opts
		o.Endpoint, o.AccountID, o.Provider, o.accountPart = a.Endpoint, a.AccountID, a.Provider, true
		o.Targets, o.elsewhere = partTargets, elsewhere
		if a.PartSize > 0 {
			o.PartSize = a.PartSize
		}
		sub := d.ForProvider(a.Provider)
		pl := compute(sub, a.Live, o)
		diags = append(diags, pl.diags...)
		for k, v := range pl.ids {
			ids[k] = v
		}
		for _, ch := range pl.p.Changes {
			ch.Provider = a.Provider
		}
		for _, m := range pl.p.Moves {
			m.Provider = a.Provider
		}
		for _, dr := range pl.p.Drift {
			dr.Provider = a.Provider
		}
		changes = append(changes, pl.p.Changes...)
		moves = append(moves, pl.p.Moves...)
		drift = append(drift, pl.p.Drift...)
		if a.Provider == "" {
			merged = pl.p
		} else {
			refs = append(refs, AccountRef{Provider: a.Provider, Endpoint: pl.p.Endpoint, AccountID: pl.p.AccountID})
			if merged != nil {
				merged.Notes = append(merged.Notes, pl.p.Notes...)
			}
		}
	}
	if merged == nil {
		merged = &Plan{FormatVersion: FormatVersion, ID: opts.PlanID, CreatedAt: opts.Now.UTC(), Targets: opts.Targets, Prune: d.Settings.Prune}
	}
	sort.SliceStable(changes, func(i, j int) bool { return changeRank(changes[i]) < changeRank(changes[j]) })
	merged.Changes, merged.Moves, merged.Drift, merged.Accounts = changes, moves, drift, refs
	merged.Targets = opts.Targets // the account parts' include what replication needs
	op := &planner{d: d, p: merged, ids: ids, opts: opts}
	snaps := map[string]*live.Live{}
	for _, a := range accts {
		snaps[a.Provider] = a.Live
	}
	op.planReplication(snaps) // over every account, on the whole configuration
	merged.Errored = merged.Errored || op.diags.HasErrors()
	sort.SliceStable(merged.Changes, func(i, j int) bool { return changeRank(merged.Changes[i]) < changeRank(merged.Changes[j]) })
	merged.Outputs = nil
	op.planOutputs()
	diags = append(diags, op.diags...)
	return merged, diags
}

// Providers lists the providers of the accounts p changes or reads: "" (the default) and the
// aliases of Accounts.
func (p *Plan) Providers() []string {
	out := []string{""}
	for _, a := range p.Accounts {
		out = append(out, a.Provider)
	}
	return out
}

// ForProvider returns the part of p for one account, bound to that account's endpoint and
// id, for the executor: its changes, moves and drift (outputs stay with the whole plan).
func (p *Plan) ForProvider(alias string) *Plan {
	c := *p
	c.Accounts, c.Outputs = nil, nil
	if alias != "" {
		c.Endpoint, c.AccountID = "", ""
		for _, a := range p.Accounts {
			if a.Provider == alias {
				c.Endpoint, c.AccountID = a.Endpoint, a.AccountID
			}
		}
	}
	c.Changes = config.OfProvider(p.Changes, alias, func(ch *Change) string { return ch.Provider })
	// Replication spans accounts: applied once after all of them (ReplicationPart).
	c.Changes = slices.DeleteFunc(slices.Clone(c.Changes), IsReplication)
	c.Replication = nil
	c.Moves = config.OfProvider(p.Moves, alias, func(m *Move) string { return m.Provider })
	c.Drift = config.OfProvider(p.Drift, alias, func(d *Drift) string { return d.Provider })
	return &c
}

// accountTargets are the targets of each account's part: opts.Targets plus, but for destroy,
// the replication blocks on the source bucket of a targeted one (B2 takes a bucket's rules in
// one write, so their buckets, perhaps in another account, are needed: plan_replication.go,
// replTargets); and the targets that address a declared resource, which an account's part
// that does not declare it skips.
func accountTargets(d *config.Desired, opts Options) ([]string, map[string]bool) {
	if len(opts.Targets) == 0 {
		return nil, nil
	}
	out := slices.Clone(opts.Targets)
	elsewhere := map[string]bool{}
	var declared []string
	for _, b := range d.Buckets {
		declared = append(declared, b.Address)
	}
	for _, k := range d.Keys {
		declared = append(declared, k.Address)
	}
	for _, f := range d.Folders {
		declared = append(declared, f.Address)
	}
	for _, o := range d.Objects {
		declared = append(declared, o.Address)
	}
	for _, m := range d.Moves {
		declared = append(declared, m.Address)
	}
	for _, r := range d.Replications {
		declared = append(declared, r.Address)
	}
	hit := func(addr string) bool {
		for _, t := range opts.Targets {
			if matchesTarget(addr, t) {
				return true
			}
		}
		return false
	}
	if !opts.Destroy {
		for _, r := range d.Replications {
			if !hit(r.Address) {
				continue
			}
			for _, o := range d.Replications {
				if o != r && o.SourceProvider == r.SourceProvider && strings.EqualFold(o.SourceBucket, r.SourceBucket) && !slices.Contains(out, o.Address) {
					out = append(out, o.Address)
				}
			}
		}
	}
	for _, t := range out {
		for _, a := range declared {
			if matchesTarget(a, t) {
				elsewhere[t] = true
			}
		}
	}
	return out, elsewhere
}
