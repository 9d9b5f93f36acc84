package config

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Replication blocks (docs/configuration.md, "replication"): one B2
// replication rule from a source bucket to a destination bucket, possibly
// in another account.

// Replication is one declared replication rule.
type Replication struct {
	Address string
	// Name is B2's replicationRuleName: the name argument, or the label
	// with '_' written as '-'.
	Name string
	// SourceBucket and DestinationBucket are bucket names; their providers
	// are taken from the declared buckets or given (source_provider,
	// destination_provider; "" = the default provider).
	SourceBucket        string
	DestinationBucket   string
	SourceProvider      string
	DestinationProvider string
	Prefix              string
	Priority            int
	IncludeExisting     bool
	Enabled             bool
	Range               hcl.Range
}

// B2's limits of replication rules.
const (
	// DefaultReplicationPriority is the priority of a rule without one (what B2's SDK uses).
	DefaultReplicationPriority = 128
	MaxReplicationPriority     = 2147483647
	// MaxReplicationRules is the most rules one source bucket takes.
	MaxReplicationRules = 10
)

var replicationSchema = &schema{
	attrs: []string{"for_each", "name", "source_bucket", "destination_bucket", "source_provider", "destination_provider",
		"prefix", "priority", "include_existing", "enabled"},
	required: []string{"source_bucket", "destination_bucket"},
}

// ReplicationRuleName is the rule name of a replication block without a name argument.
func ReplicationRuleName(label string) string { return strings.ReplaceAll(label, "_", "-") }

func (l *loader) decodeReplication(s *scope, b *hclsyntax.Block, addr string) map[string]cty.Value {
	r := &Replication{Address: addr, Priority: DefaultReplicationPriority, Enabled: true, Range: b.DefRange()}
	name, rng, nameOK := b.Labels[0], b.LabelRanges[0], true
	if v, a, ok := s.str(b.Body, "name", strOpt{required: true}); a != nil {
		name, rng, nameOK = v, a.Expr.Range(), ok
	} else {
		name = ReplicationRuleName(name)
	}
	r.Name = name
	if nameOK {
		if p := ReplicationRuleNameProblem(name); p != "" {
			if _, explicit := b.Body.Attributes["name"]; !explicit {
				p += " The name defaults to the label (with '_' as '-'); set name = \"...\" in the block."
			}
			s.diag(rng, "Invalid replication rule name", p)
			nameOK = false
		}
	}
	src, srcOK := s.bucketRef(b.Body, "source_bucket")
	dst, dstOK := s.bucketRef(b.Body, "destination_bucket")
	r.SourceBucket, r.DestinationBucket = src, dst
	for _, side := range []struct {
		attr string
		into *string
	}{{"source_provider", &r.SourceProvider}, {"destination_provider", &r.DestinationProvider}} {
		alias, prng, _ := s.providerRefAttr(b.Body, side.attr)
		*side.into = alias
		if prng != nil {
			l.providerSet[addr+"#"+side.attr] = *prng
		}
	}
	if a := b.Body.Attributes["source_bucket"]; a != nil {
		l.nameRng[addr+"#source_bucket"] = a.Expr.Range()
	}
	if a := b.Body.Attributes["destination_bucket"]; a != nil {
		l.nameRng[addr+"#destination_bucket"] = a.Expr.Range()
	}
	if srcOK && dstOK && strings.EqualFold(src, dst) {
		s.diag(b.Body.Attributes["destination_bucket"].Expr.Range(), "Replication to the same bucket",
			fmt.Sprintf("source_bucket and destination_bucket are both %q; B2 cannot replicate a bucket into itself. Name another destination bucket.", src))
	}
	if p, a, ok := s.str(b.Body, "prefix", strOpt{}); a != nil && ok {
		r.Prefix = p
		if p != "" {
			if msg := fileNameProblem(p); msg != "" {
				s.diag(a.Expr.Range(), "Invalid replication prefix", msg)
			}
		}
	}
	if v, a, ok := s.integer(b.Body, "priority"); a != nil && ok {
		r.Priority = v
		if v < 1 || v > MaxReplicationPriority {
			s.diag(a.Expr.Range(), "Invalid replication priority",
				fmt.Sprintf("B2 takes a priority from 1 to %d (a higher number wins when several rules cover a file); got %d.", MaxReplicationPriority, v))
		}
	}
	if v, a, ok := s.boolean(b.Body, "include_existing"); a != nil && ok {
		r.IncludeExisting = v
	}
	if v, a, ok := s.boolean(b.Body, "enabled"); a != nil && ok {
		r.Enabled = v
	}
	if !(nameOK && srcOK && dstOK) {
		l.badRepl[addr] = true
	}
	l.d.Replications = append(l.d.Replications, r)
	return map[string]cty.Value{"name": strOr(nameOK, name), "source_bucket": strOr(srcOK, src),
		"destination_bucket": strOr(dstOK, dst), "prefix": cty.StringVal(r.Prefix)}
}

// ReplicationRuleNameProblem checks a replicationRuleName as B2 documents it: 1 to 64
// letters, digits and '-'.
func ReplicationRuleNameProblem(n string) string {
	if len(n) < 1 || len(n) > 64 {
		return fmt.Sprintf("A replication rule name has 1 to 64 characters; %q has %d.", n, len(n))
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-') {
			return fmt.Sprintf("A replication rule name may contain only letters, digits and '-'; %q has %q.", n, string(c))
		}
	}
	return ""
}

// validateReplications resolves the providers of each replication's buckets and checks what
// spans blocks: a bucket that is neither declared nor given a provider, a provider that
// differs from the declared bucket's, rule names used twice on one source bucket, and B2's
// limit of rules per source bucket.
func (l *loader) validateReplications() {
	if len(l.d.Replications) == 0 {
		return
	}
	owner := map[string]*Bucket{}
	for _, b := range l.d.Buckets {
		owner[strings.ToLower(b.Name)] = b
	}
	type srcKey struct{ prov, bucket string }
	names := map[srcKey]map[string]*Replication{}
	counts := map[srcKey]int{}
	for _, r := range l.d.Replications {
		if l.badRepl[r.Address] {
			continue
		}
		good := true
		for _, side := range []struct {
			attr, bucketAttr, bucket string
			prov                     *string
		}{{"source_provider", "source_bucket", r.SourceBucket, &r.SourceProvider},
			{"destination_provider", "destination_bucket", r.DestinationBucket, &r.DestinationProvider}} {
			prng, explicit := l.providerSet[r.Address+"#"+side.attr]
			b := owner[strings.ToLower(side.bucket)]
			switch {
			case b == nil && !explicit:
				l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Undeclared bucket in replication",
					Detail: fmt.Sprintf("%s: %s %q is not declared by a bucket block, so b2plan does not know its account. Declare it (bucket \"...\" { name = %q }) and refer to it as bucket.LABEL.name, or, for an existing bucket managed elsewhere, give %s = b2 (or b2.ALIAS).",
						r.Address, side.bucketAttr, side.bucket, side.bucket, side.attr),
					Subject: l.rngOrPtr(r.Address+"#"+side.bucketAttr, r.Range)})
				good = false
			case b != nil && explicit && b.Provider != *side.prov:
				l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Bucket of another account",
					Detail: fmt.Sprintf("%s sets %s = %s, but the bucket %q is declared by %s with provider %s. Remove %s to take it from the bucket, or fix it.",
						r.Address, side.attr, ProviderLabel(*side.prov), side.bucket, b.Address, ProviderLabel(b.Provider), side.attr),
					Subject: prng.Ptr()})
				good = false
			case b != nil:
				*side.prov = b.Provider
			}
		}
		if !good {
			continue
		}
		k := srcKey{r.SourceProvider, strings.ToLower(r.SourceBucket)}
		if names[k] == nil {
			names[k] = map[string]*Replication{}
		}
		if prev, dup := names[k][r.Name]; dup {
			l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate replication rule name",
				Detail: fmt.Sprintf("%s and %s both declare the rule %q on source bucket %q; rule names must be unique per source bucket. Set name = \"...\" in one of them.%s",
					r.Address, prev.Address, r.Name, r.SourceBucket, forEachHint(r.Address)),
				Subject: r.Range.Ptr()})
			continue
		}
		names[k][r.Name] = r
		if counts[k]++; counts[k] == MaxReplicationRules+1 {
			l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Too many replication rules",
				Detail:  fmt.Sprintf("B2 takes at most %d replication rules per source bucket; bucket %q has more (%s is rule %d). Merge rules or use fewer prefixes.", MaxReplicationRules, r.SourceBucket, r.Address, counts[k]),
				Subject: r.Range.Ptr()})
		}
	}
}
