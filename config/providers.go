package config

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Provider aliases (docs/configuration.md, "Several accounts"): provider "b2" { alias = "x" }
// declares another account; provider = b2.x on a bucket, key, folder, move or data block puts
// it there. Provider "" is the default (unaliased) provider.

// providerAlias reads the alias of a provider block in collect: a literal identifier.
func (l *loader) providerAlias(b *hclsyntax.Block) (string, bool) {
	a, ok := b.Body.Attributes["alias"]
	if !ok {
		return "", true
	}
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() || v.IsNull() || !v.IsKnown() || v.Type() != cty.String || !hclsyntax.ValidIdentifier(v.AsString()) {
		l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid provider alias",
			Detail: "alias must be a literal name (letters, digits, _ and -, starting with a letter), e.g. alias = \"backup\"; resources then say provider = b2.backup.", Subject: a.Expr.Range().Ptr()})
		return "", false
	}
	return v.AsString(), true
}

// collectProvider records a provider "b2" block (the default one or an alias).
func (l *loader) collectProvider(b *hclsyntax.Block) {
	alias, ok := l.providerAlias(b)
	if !ok {
		return
	}
	if alias == "" {
		if l.providerBlock != nil {
			l.diags = append(l.diags, dupBlock(b, l.providerBlock, "provider block", "Merge them into one provider \"b2\" block, or give the second an alias = \"NAME\" to declare another account."))
			return
		}
		l.providerBlock = b
		return
	}
	if prev, dup := l.aliasBlocks[alias]; dup {
		l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate provider alias " + alias,
			Detail:  fmt.Sprintf("A provider \"b2\" with alias %q is already declared at %s. Aliases must be unique.", alias, prev.DefRange().String()),
			Subject: b.Body.Attributes["alias"].Expr.Range().Ptr()})
		return
	}
	l.aliasBlocks[alias] = b
}

func (l *loader) root() *loader {
	r := l
	for r.parent != nil {
		r = r.parent
	}
	return r
}

// aliasNames are the declared aliases, sorted.
func (l *loader) aliasNames() []string {
	var out []string
	for a := range l.root().aliasBlocks {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// providerRef evaluates the provider argument of a block: b2 (the default) or b2.ALIAS.
// It returns the alias ("" for the default) and the argument's range (nil when absent).
func (s *scope) providerRef(body *hclsyntax.Body) (string, *hcl.Range, bool) {
	return s.providerRefAttr(body, "provider")
}

// providerRefAttr is providerRef for an argument named attr (source_provider, ...).
func (s *scope) providerRefAttr(body *hclsyntax.Body, attr string) (string, *hcl.Range, bool) {
	a, ok := body.Attributes[attr]
	if !ok {
		return "", nil, true
	}
	rng := a.Expr.Range()
	t, diags := hcl.AbsTraversalForExpr(a.Expr)
	bad := func() (string, *hcl.Range, bool) {
		hint := ""
		if names := s.l.aliasNames(); len(names) > 0 {
			hint = " Declared aliases: " + strings.Join(names, ", ") + "."
		}
		s.diag(rng, "Invalid provider reference",
			attr+" takes a provider reference, not a string: "+attr+" = b2.ALIAS for a provider \"b2\" block with alias = \"ALIAS\" (or b2 for the default one)."+hint)
		return "", &rng, false
	}
	if diags.HasErrors() || t.RootName() != "b2" || len(t) > 2 {
		return bad()
	}
	if len(t) == 1 {
		return "", &rng, true
	}
	ta, ok := t[1].(hcl.TraverseAttr)
	if !ok {
		return bad()
	}
	if _, declared := s.l.root().aliasBlocks[ta.Name]; !declared {
		names := s.l.aliasNames()
		detail := fmt.Sprintf("There is no provider \"b2\" block with alias = %q.%s", ta.Name, didYouMean(ta.Name, names))
		if len(names) > 0 {
			detail += " Declared aliases: " + strings.Join(names, ", ") + "."
		}
		detail += fmt.Sprintf(" Declare provider \"b2\" { alias = %q ... } in the root configuration, or fix the reference.", ta.Name)
		s.diag(rng, "Reference to undeclared provider", detail)
		return "", &rng, false
	}
	return ta.Name, &rng, true
}

// EnvName is the environment variable of a provider setting: B2_APPLICATION_KEY for the
// default provider, B2_BACKUP_APPLICATION_KEY for alias "backup" (upper-cased, '-' as '_').
func EnvName(alias, name string) string {
	if alias == "" {
		return "B2_" + name
	}
	return "B2_" + strings.ToUpper(strings.ReplaceAll(alias, "-", "_")) + "_" + name
}

// ProviderLabel names a provider in messages: b2 or b2.ALIAS.
func ProviderLabel(alias string) string {
	if alias == "" {
		return "b2"
	}
	return "b2." + alias
}

// decodeProviders decodes the default provider block and every alias.
func (l *loader) decodeProviders() {
	if l.providerBlock != nil {
		l.decodeProvider(l.providerBlock, &l.d.Provider)
	}
	for _, alias := range l.aliasNames() {
		p := &Provider{Alias: alias}
		l.decodeProvider(l.aliasBlocks[alias], p)
		l.d.ProviderAliases = append(l.d.ProviderAliases, p)
	}
}

// Providers returns "" (the default provider) and every alias, sorted.
func (d *Desired) Providers() []string {
	out := []string{""}
	for _, p := range d.ProviderAliases {
		out = append(out, p.Alias)
	}
	return out
}

// ProviderByAlias returns the provider ("" = the default one), or nil.
func (d *Desired) ProviderByAlias(alias string) *Provider {
	if alias == "" {
		return &d.Provider
	}
	for _, p := range d.ProviderAliases {
		if p.Alias == alias {
			return p
		}
	}
	return nil
}

// ForProvider returns the part of d that belongs to one provider's account: its buckets,
// keys, folders, moves and data sources, with that provider as the default one. Settings
// (owns, prune) apply to each account. Outputs span accounts and are left out.
func (d *Desired) ForProvider(alias string) *Desired {
	out := *d
	if p := d.ProviderByAlias(alias); p != nil {
		out.Provider = *p
	}
	out.ProviderAliases, out.Outputs = nil, nil
	// Replications span accounts (planned over all of them): each account's part keeps those
	// with a bucket there, so that it reads what they need.
	out.Replications = nil
	for _, r := range d.Replications {
		if r.SourceProvider == alias || r.DestinationProvider == alias {
			out.Replications = append(out.Replications, r)
		}
	}
	out.Buckets = OfProvider(d.Buckets, alias, func(b *Bucket) string { return b.Provider })
	out.Keys = OfProvider(d.Keys, alias, func(k *Key) string { return k.Provider })
	out.Folders = OfProvider(d.Folders, alias, func(f *Folder) string { return f.Provider })
	out.Objects = OfProvider(d.Objects, alias, func(o *Object) string { return o.Provider })
	out.Moves = OfProvider(d.Moves, alias, func(m *Move) string { return m.Provider })
	out.DataSources = OfProvider(d.DataSources, alias, func(ds *DataSource) string { return ds.Provider })
	return &out
}

// validateProviders checks that what refers to a bucket by name is in the bucket's account:
// a folder or move without provider takes the provider of the declared bucket it names; a
// move between accounts, a key restricted to another account's bucket, or a deferred id of
// another account are errors.
func (l *loader) validateProviders() {
	if len(l.aliasBlocks) == 0 {
		return
	}
	owner := map[string]*Bucket{}
	for _, b := range l.d.Buckets {
		owner[strings.ToLower(b.Name)] = b
	}
	provOf := map[string]string{}
	for _, b := range l.d.Buckets {
		provOf[b.Address] = b.Provider
	}
	for _, k := range l.d.Keys {
		provOf[k.Address] = k.Provider
	}
	inherit := func(addr string, cur *string, bucket string, rng hcl.Range) {
		b := owner[strings.ToLower(bucket)]
		if b == nil || b.Provider == *cur {
			return
		}
		if _, explicit := l.providerSet[addr]; !explicit {
			*cur = b.Provider
			return
		}
		l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Bucket of another account",
			Detail: fmt.Sprintf("%s uses provider %s, but the bucket %q is declared by %s with provider %s. Use the bucket's provider, or remove provider = ... to take it from the bucket.",
				addr, ProviderLabel(*cur), bucket, b.Address, ProviderLabel(b.Provider)),
			Subject: rng.Ptr()})
	}
	for _, f := range l.d.Folders {
		inherit(f.Address, &f.Provider, f.Bucket, l.rangeAt(f.Address, f.Range))
	}
	for _, o := range l.d.Objects {
		inherit(o.Address, &o.Provider, o.Bucket, l.rangeAt(o.Address, o.Range))
	}
	for _, m := range l.d.Moves {
		inherit(m.Address, &m.Provider, m.Bucket, l.rangeAt(m.Address, m.Range))
		if tb := owner[strings.ToLower(m.ToBucket)]; tb != nil && tb.Provider != m.Provider {
			l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cross-account move",
				Detail: fmt.Sprintf("%s moves from bucket %q (provider %s) to bucket %q, which %s declares with provider %s: B2 copies server-side only within one account, so b2plan cannot move objects between accounts. Move within one account, or copy the data with a client that downloads and uploads (e.g. rclone) and then delete the source.",
					m.Address, m.Bucket, ProviderLabel(m.Provider), m.ToBucket, tb.Address, ProviderLabel(tb.Provider)),
				Subject: l.rngOrPtr(m.Address+"#to_bucket", m.Range)})
		}
	}
	for _, k := range l.d.Keys {
		for _, bn := range k.Buckets {
			if b := owner[strings.ToLower(bn)]; b != nil && b.Provider != k.Provider {
				l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Key restricted to another account's bucket",
					Detail: fmt.Sprintf("%s (provider %s) lists bucket %q, which %s declares with provider %s: a key can only be restricted to buckets of its own account. Give the key provider = %s.",
						k.Address, ProviderLabel(k.Provider), bn, b.Address, ProviderLabel(b.Provider), ProviderLabel(b.Provider)),
					Subject: k.Range.Ptr()})
			}
		}
		for _, dv := range k.Deferred {
			l.crossDeferred(k.Address, k.Provider, dv, provOf)
		}
	}
	for _, b := range l.d.Buckets {
		for _, dv := range b.Deferred {
			l.crossDeferred(b.Address, b.Provider, dv, provOf)
		}
	}
}

func (l *loader) crossDeferred(addr, prov string, dv Deferred, provOf map[string]string) {
	for _, r := range dv.Refs {
		if p, ok := provOf[r]; ok && p != prov {
			l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Id of another account",
				Detail: fmt.Sprintf("%s (provider %s) uses %s.id, which belongs to provider %s and is only known after apply; b2plan applies each account separately, so it cannot carry an id from one account to another. Use the name, or apply the other account first and read the id with a data source.",
					addr, ProviderLabel(prov), r, ProviderLabel(p)),
				Subject: dv.Range.Ptr()})
		}
	}
}

func (l *loader) rangeAt(addr string, def hcl.Range) hcl.Range {
	if r, ok := l.providerSet[addr]; ok {
		return r
	}
	return def
}

// OfProvider returns the elements of xs that belong to the provider alias ("" = the default),
// as provider tells.
func OfProvider[T any](xs []*T, alias string, provider func(*T) string) []*T {
	var out []*T
	for _, x := range xs {
		if provider(x) == alias {
			out = append(out, x)
		}
	}
	return out
}
