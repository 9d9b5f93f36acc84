package config

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Data sources (docs/configuration.md, "Data sources"): data "bucket", data "key" and
// data "account" read things that exist in the account but are not managed here.
//
// Loading stays I/O free: a data source is a lookup the caller performs. The first Load
// (VarInputs.Data nil) evaluates each data block's query (its name) and lists it in
// Desired.DataSources; the attributes read from the account are unknown, and whatever
// depends on them is left out silently (validate checks everything else). The caller reads
// the account, builds the values (planner.ReadData) and loads again with VarInputs.Data, where
// every reference sees the values read.

// DataSource is one data block: the lookup the caller performs before planning.
type DataSource struct {
	Address string // data.bucket.legacy
	Kind    string // bucket, key, account
	// Name is the name looked up (bucket and key; "" for account).
	Name     string
	Provider string
	Range    hcl.Range
}

// DataValues are the values read for data sources, by address: an object with the
// attributes of DataAttributes[kind].
type DataValues map[string]cty.Value

// DataAttributes lists, per kind, the attributes of a data source's value.
var DataAttributes = map[string][]string{
	"bucket":  {"id", "name", "type", "info"},
	"key":     {"id", "name", "capabilities", "buckets", "name_prefix", "expiration"},
	"account": {"account_id", "key_id", "capabilities", "buckets", "name_prefix"},
}

var dataKindNames = []string{"account", "bucket", "key"}

var dataSchemas = map[string]*schema{
	"bucket":  {attrs: []string{"for_each", "name", "provider"}, required: []string{"name"}},
	"key":     {attrs: []string{"for_each", "name", "provider"}, required: []string{"name"}},
	"account": {attrs: []string{"provider"}},
}

// collectData checks a data block's labels and body and adds it to the graph.
func (l *loader) collectData(b *hclsyntax.Block) {
	if len(b.Labels) != 2 {
		subj := b.TypeRange
		if len(b.Labels) > 2 {
			subj = b.LabelRanges[2]
		}
		l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid data block",
			Detail:  `A data block has two labels, the kind and a name: data "bucket" "NAME" { name = "..." }, data "key" "NAME" { name = "..." } or data "account" "NAME" {}.`,
			Subject: subj.Ptr()})
		return
	}
	kind, label := b.Labels[0], b.Labels[1]
	sch, ok := dataSchemas[kind]
	if !ok {
		l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unsupported data source",
			Detail:  fmt.Sprintf("There is no data source %q; use one of %s.%s", kind, quoteList(dataKindNames), didYouMean(kind, dataKindNames)),
			Subject: b.LabelRanges[0].Ptr()})
		return
	}
	if !hclsyntax.ValidIdentifier(label) {
		l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid data label",
			Detail:  fmt.Sprintf("The label %q must be a valid identifier, because it becomes the address data.%s.NAME; for example %q.", label, kind, identFrom(label)),
			Subject: b.LabelRanges[1].Ptr()})
		return
	}
	l.diags = append(l.diags, checkBody(b.Body, sch, fmt.Sprintf("data %q %q", kind, label), b.DefRange())...)
	id := kind + "." + label
	if prev, dup := l.dataBlocks[id]; dup {
		l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate address data." + id,
			Detail:  fmt.Sprintf("A data %q block labelled %q is already declared at %s. Rename one of them.", kind, label, prev.DefRange().String()),
			Subject: b.LabelRanges[1].Ptr()})
		return
	}
	l.dataBlocks[id] = b
	l.order = append(l.order, node{kind: "data", name: id, block: b})
}

// dataRef returns "KIND.LABEL" for a traversal data.KIND.LABEL..., or "".
func dataRef(t hcl.Traversal) string {
	if len(t) < 3 {
		return ""
	}
	k, ok1 := t[1].(hcl.TraverseAttr)
	n, ok2 := t[2].(hcl.TraverseAttr)
	if !ok1 || !ok2 {
		return ""
	}
	return k.Name + "." + n.Name
}

// evalData evaluates a data block's query (per for_each instance) and sets the value
// references see: the value read (VarInputs.Data) or, before reading, the query with
// unknown attributes.
func (l *loader) evalData(n node) {
	b := n.block
	addr := l.prefix + "data." + n.name
	r := refsOf(n.exprs())
	fe, hasForEach := b.Body.Attributes["for_each"]
	if !hasForEach {
		l.dataVals[n.name] = l.dataInstance(n, l.scope("data", nil, r), addr)
		return
	}
	s := l.scope("data", nil, r)
	v, ok := s.value(fe.Expr)
	if !ok || !s.checkSensitive(fe, v) {
		l.dataVals[n.name] = cty.DynamicVal
		return
	}
	insts, ok := s.forEachInstances(fe, v)
	if !ok {
		l.dataVals[n.name] = cty.DynamicVal
		return
	}
	vals := map[string]cty.Value{}
	for _, in := range insts {
		each := cty.ObjectVal(map[string]cty.Value{"key": cty.StringVal(in.key), "value": in.value})
		vals[in.key] = l.dataInstance(n, l.scope("data", &each, r), addr+"["+quoteKey(in.key)+"]")
	}
	l.dataVals[n.name] = objOrEmpty(vals)
}

// dataInstance evaluates one data source instance and returns its value.
func (l *loader) dataInstance(n node, s *scope, addr string) cty.Value {
	b := n.block
	kind, _, _ := strings.Cut(n.name, ".")
	ds := &DataSource{Address: addr, Kind: kind, Range: b.DefRange()}
	ds.Provider, _, _ = s.providerRef(b.Body)
	attrs := map[string]cty.Value{}
	for _, a := range DataAttributes[kind] {
		attrs[a] = cty.DynamicVal
	}
	if kind != "account" {
		name, a, ok := s.str(b.Body, "name", strOpt{required: true})
		if a == nil || !ok {
			return cty.DynamicVal // reported by checkBody or str
		}
		p := bucketNameProblem(name)
		if kind == "key" {
			p = keyNameProblem(name)
		}
		if p != "" {
			s.diag(a.Expr.Range(), "Invalid "+kind+" name", p)
			return cty.DynamicVal
		}
		ds.Name = name
		attrs["name"] = cty.StringVal(name)
	}
	l.d.DataSources = append(l.d.DataSources, ds)
	if v, ok := l.dataIn[addr]; ok && v != cty.NilVal {
		return v
	}
	return cty.ObjectVal(attrs)
}

// dataCtx is the data.KIND.LABEL object of an evaluation context for the names in r.
func (l *loader) dataCtx(r refs) cty.Value {
	byKind := map[string]map[string]cty.Value{}
	for id := range r["data"] {
		kind, label, ok := strings.Cut(id, ".")
		if !ok {
			continue
		}
		if _, declared := l.dataBlocks[id]; !declared {
			continue
		}
		v, ok := l.dataVals[id]
		if !ok {
			v = cty.DynamicVal // not evaluated (a cycle)
		}
		if byKind[kind] == nil {
			byKind[kind] = map[string]cty.Value{}
		}
		byKind[kind][label] = v
		l.ctxEntries++
	}
	m := map[string]cty.Value{}
	for k, labels := range byKind {
		m[k] = cty.ObjectVal(labels)
	}
	return objOrEmpty(m)
}

// checkDataRef reports a reference data... that is not a declared data source.
func (s *scope) checkDataRef(t hcl.Traversal) bool {
	id := dataRef(t)
	if id == "" {
		s.diag(t.SourceRange(), "Invalid reference", "Write data.KIND.NAME.ATTRIBUTE, e.g. data.bucket.legacy.name, to refer to a data source.")
		return false
	}
	if _, declared := s.l.dataBlocks[id]; declared {
		return true
	}
	var names []string
	for n := range s.l.dataBlocks {
		names = append(names, n)
	}
	sort.Strings(names)
	detail := fmt.Sprintf("There is no data source data.%s in this configuration.%s", id, didYouMean(id, names))
	kind, label, _ := strings.Cut(id, ".")
	if _, ok := dataSchemas[kind]; ok {
		detail += fmt.Sprintf(" Declare data %q %q { ... } or fix the reference.", kind, label)
	} else {
		detail += " Data sources are of kind " + quoteList(dataKindNames) + "."
	}
	s.diag(t.SourceRange(), "Reference to undeclared data source", detail)
	return false
}
