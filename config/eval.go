package config

import (
	"fmt"
	"math/big"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// idMark marks the unknown value standing for the id of a bucket or key created by the same
// apply. Marks travel through expressions and functions, so every value derived from an id
// carries the address it depends on.
type idMark struct{ addr string }

type node struct {
	kind  string // local, bucket, key, folder, move
	name  string
	block *hclsyntax.Block
	attr  *hclsyntax.Attribute
}

func (n node) id() string { return n.kind + "." + n.name }

func (n node) exprs() []hclsyntax.Expression {
	if n.attr != nil {
		return []hclsyntax.Expression{n.attr.Expr}
	}
	return bodyExprs(n.block.Body)
}

func (n node) rng() hcl.Range {
	if n.attr != nil {
		return n.attr.NameRange
	}
	return n.block.DefRange()
}

// blockVal is the value other expressions see for bucket.X (or key.X, ...): one object, or one
// per for_each key.
type blockVal struct {
	failed    bool
	forEach   bool
	attrs     map[string]cty.Value
	instances map[string]map[string]cty.Value
	hasID     bool
	ctxVal    map[bool]cty.Value // the value in an evaluation context, by sentinel (evalCtx)
}

func (l *loader) evalGraph() {
	var nodes []node
	localNames := make([]string, 0, len(l.locals))
	for n := range l.locals {
		localNames = append(localNames, n)
	}
	sort.Slice(localNames, func(i, j int) bool {
		a, b := l.locals[localNames[i]].SrcRange, l.locals[localNames[j]].SrcRange
		if a.Filename != b.Filename {
			return a.Filename < b.Filename
		}
		return a.Start.Byte < b.Start.Byte
	})
	for _, n := range localNames {
		nodes = append(nodes, node{kind: "local", name: n, attr: l.locals[n]})
	}
	nodes = append(nodes, l.order...)
	byID := map[string]node{}
	for _, n := range nodes {
		byID[n.id()] = n
	}
	deps := map[string][]string{}
	for _, n := range nodes {
		seen := map[string]bool{}
		for _, e := range n.exprs() {
			for _, t := range e.Variables() {
				if len(t) < 2 {
					continue
				}
				ta, ok := t[1].(hcl.TraverseAttr)
				if !ok {
					continue
				}
				id := t.RootName() + "." + ta.Name
				if t.RootName() == "data" {
					id = "data." + dataRef(t)
				}
				if _, ok := byID[id]; ok && !seen[id] {
					seen[id] = true
					deps[n.id()] = append(deps[n.id()], id)
				}
			}
		}
	}
	// depth-first topological order; a cycle is reported once and its nodes fail.
	const (
		white = iota
		grey
		black
	)
	state := map[string]int{}
	failed := map[string]bool{}
	var sorted []node
	var stack []string
	var visit func(id string)
	visit = func(id string) {
		switch state[id] {
		case black:
			return
		case grey:
			start := 0
			for i, s := range stack {
				if s == id {
					start = i
				}
			}
			cycle := append(append([]string(nil), stack[start:]...), id)
			for _, c := range cycle {
				failed[c] = true
			}
			n := byID[id]
			l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cycle in references",
				Detail:  fmt.Sprintf("These values refer to each other: %s. Break the cycle, for example by moving a shared value into a local that does not refer back.", strings.Join(cycle, " → ")),
				Subject: n.rng().Ptr()})
			return
		}
		state[id] = grey
		stack = append(stack, id)
		for _, dep := range deps[id] {
			visit(dep)
		}
		stack = stack[:len(stack)-1]
		state[id] = black
		sorted = append(sorted, byID[id])
	}
	for _, n := range nodes {
		visit(n.id())
	}
	// Items are appended in evaluation order; restore declaration order afterwards.
	for _, n := range sorted {
		if failed[n.id()] {
			if n.kind == "local" {
				l.localVals[n.name] = cty.DynamicVal
			} else if n.kind == "data" {
				l.dataVals[n.name] = cty.DynamicVal
			} else if n.kind == "module" {
				l.moduleVals[n.name] = map[bool]cty.Value{false: cty.DynamicVal, true: cty.DynamicVal}
			} else {
				l.blockObjs[n.kind][n.name] = &blockVal{failed: true}
			}
			continue
		}
		if n.kind == "local" {
			s := l.scope("local", nil, refsOf(n.exprs()))
			v, _ := s.value(n.attr.Expr)
			l.localVals[n.name] = sized(v)
			if !v.IsWhollyKnown() && len(idRefs(v)) > 0 {
				// The same with ids as placeholders, for Deferred templates (evalCtx).
				if sv, diags := n.attr.Expr.Value(l.evalCtx(s.refs, cty.NilVal, true)); !diags.HasErrors() {
					if l.localSentinel == nil {
						l.localSentinel = map[string]cty.Value{}
					}
					l.localSentinel[n.name] = sv
				}
			}
			continue
		}
		switch n.kind {
		case "data":
			l.evalData(n)
		case "module":
			l.evalModule(n)
		default:
			l.evalBlock(n)
		}
	}
	if l.parent == nil {
		l.sortItems()
	}
}

func (l *loader) sortItems() {
	pos := map[string]int{}
	for i, n := range l.order {
		pos[n.kind+"."+n.name] = i
	}
	base := func(addr string) int {
		if rest, ok := strings.CutPrefix(addr, "module."); ok {
			// items of modules sort at the position of the module call
			if i := strings.IndexAny(rest, ".["); i >= 0 {
				rest = rest[:i]
			}
			return pos["module."+rest]
		}
		if i := strings.IndexByte(addr, '['); i >= 0 {
			addr = addr[:i]
		}
		return pos[addr]
	}
	less := func(a, b string) bool {
		if base(a) != base(b) {
			return base(a) < base(b)
		}
		return a < b
	}
	sort.SliceStable(l.d.Buckets, func(i, j int) bool { return less(l.d.Buckets[i].Address, l.d.Buckets[j].Address) })
	sort.SliceStable(l.d.Keys, func(i, j int) bool { return less(l.d.Keys[i].Address, l.d.Keys[j].Address) })
	sort.SliceStable(l.d.Folders, func(i, j int) bool { return less(l.d.Folders[i].Address, l.d.Folders[j].Address) })
	sort.SliceStable(l.d.Objects, func(i, j int) bool { return less(l.d.Objects[i].Address, l.d.Objects[j].Address) })
	sort.SliceStable(l.d.Moves, func(i, j int) bool { return less(l.d.Moves[i].Address, l.d.Moves[j].Address) })
	sort.SliceStable(l.d.Replications, func(i, j int) bool { return less(l.d.Replications[i].Address, l.d.Replications[j].Address) })
	sort.SliceStable(l.d.DataSources, func(i, j int) bool { return less(l.d.DataSources[i].Address, l.d.DataSources[j].Address) })
}

// refs is what a set of expressions refers to: root (var, local, bucket ...) → names.
type refs map[string]map[string]bool

func refsOf(exprs []hclsyntax.Expression) refs {
	out := refs{}
	for _, e := range exprs {
		for _, t := range e.Variables() {
			name := ""
			if len(t) >= 2 {
				if ta, ok := t[1].(hcl.TraverseAttr); ok {
					name = ta.Name
				}
			}
			if t.RootName() == "data" {
				name = dataRef(t)
			}
			if out[t.RootName()] == nil {
				out[t.RootName()] = map[string]bool{}
			}
			out[t.RootName()][name] = true
		}
	}
	return out
}

// evalCtx builds the evaluation context for expressions that refer to r, from what is
// evaluated so far. It holds only the values r names, so that building it costs the size of
// the expressions, not of the configuration: evaluation stays linear in the number of blocks.
// (checkRefs has refused every other reference before evaluation.) With sentinel, ids are the
// strings "${ADDR.id}" instead of marked unknowns (used to build Deferred templates).
func (l *loader) evalCtx(r refs, each cty.Value, sentinel bool) *hcl.EvalContext {
	idVal := func(addr string) cty.Value {
		if sentinel {
			return cty.StringVal("${" + addr + ".id}")
		}
		return cty.UnknownVal(cty.String).Mark(idMark{addr})
	}
	pick := func(root string, all map[string]cty.Value) cty.Value {
		m := map[string]cty.Value{}
		for name := range r[root] {
			if v, ok := all[name]; ok {
				m[name] = v
				l.ctxEntries++
			}
		}
		return objOrEmpty(m)
	}
	varVals, localVals := l.varVals, l.localVals
	if sentinel && l.varSentinel != nil {
		varVals = l.varSentinel
	}
	if sentinel && l.localSentinel != nil {
		localVals = make(map[string]cty.Value, len(r["local"]))
		for name := range r["local"] {
			if v, ok := l.localSentinel[name]; ok {
				localVals[name] = v
			} else if v, ok := l.localVals[name]; ok {
				localVals[name] = v
			}
		}
	}
	vars := map[string]cty.Value{
		"var":   pick("var", varVals),
		"local": pick("local", localVals),
	}
	for _, kind := range blockKinds {
		m := map[string]cty.Value{}
		for label := range r[kind] {
			l.ctxEntries++
			bv, ok := l.blockObjs[kind][label]
			if !ok {
				if _, declared := l.blocks[kind][label]; declared {
					m[label] = cty.DynamicVal // not evaluated (a cycle)
				}
				continue
			}
			if bv.failed {
				m[label] = cty.DynamicVal
				continue
			}
			// A block is complete before anything that refers to it is evaluated: its value
			// is built once.
			if v, ok := bv.ctxVal[sentinel]; ok {
				m[label] = v
				continue
			}
			withID := func(addr string, attrs map[string]cty.Value) cty.Value {
				out := make(map[string]cty.Value, len(attrs)+1)
				for k, v := range attrs {
					out[k] = v
				}
				if bv.hasID {
					out["id"] = idVal(addr)
				}
				return cty.ObjectVal(out)
			}
			addr := l.prefix + kind + "." + label
			if !bv.forEach {
				m[label] = withID(addr, bv.attrs)
			} else {
				inst := map[string]cty.Value{}
				for k, attrs := range bv.instances {
					inst[k] = withID(addr+"["+quoteKey(k)+"]", attrs)
					l.ctxEntries++
				}
				m[label] = objOrEmpty(inst)
			}
			if bv.ctxVal == nil {
				bv.ctxVal = map[bool]cty.Value{}
			}
			bv.ctxVal[sentinel] = m[label]
		}
		vars[kind] = objOrEmpty(m)
	}
	if len(r["module"]) > 0 {
		m := map[string]cty.Value{}
		for label := range r["module"] {
			if mv, ok := l.moduleVals[label]; ok {
				m[label] = mv[sentinel]
			} else if _, declared := l.modules[label]; declared {
				m[label] = cty.DynamicVal // not evaluated (a cycle)
			}
			l.ctxEntries++
		}
		vars["module"] = objOrEmpty(m)
	}
	if len(r["data"]) > 0 {
		vars["data"] = l.dataCtx(r)
	}
	if each != cty.NilVal {
		vars["each"] = each
	}
	return &hcl.EvalContext{Variables: vars, Functions: l.funcs}
}

func objOrEmpty(m map[string]cty.Value) cty.Value {
	if len(m) == 0 {
		return cty.EmptyObjectVal
	}
	return cty.ObjectVal(m)
}

func quoteKey(k string) string { return fmt.Sprintf("%q", k) }

// scope evaluates the expressions of one block instance (or one local).
type scope struct {
	l        *loader
	refs     refs   // what the expressions of this scope refer to
	kind     string // local, bucket, key, folder, move, b2plan, provider
	nest     string // the nested block being decoded (lifecycle_rule ...), or ""
	each     cty.Value
	ctx      *hcl.EvalContext
	deferred []Deferred
	sens     map[string]bool // sensitive attributes (see checkSensitive)
}

// scope returns the scope for evaluating expressions that refer to r (see refsOf).
func (l *loader) scope(kind string, each *cty.Value, r refs) *scope {
	s := &scope{l: l, kind: kind, each: cty.NilVal, refs: r}
	if each != nil {
		s.each = *each
	}
	s.ctx = l.evalCtx(s.refs, s.each, false)
	return s
}

func (s *scope) diag(subject hcl.Range, summary, detail string) {
	s.l.diags = append(s.l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: subject.Ptr()})
}

var refRoots = []string{"var", "local", "bucket", "key", "folder", "object", "move", "replication", "data", "module", "each"}

// checkRefs reports references to undeclared things, with did-you-mean. It returns false when
// the expression must not be evaluated.
func (s *scope) checkRefs(expr hcl.Expression) bool {
	ok := true
	l := s.l
	for _, t := range expr.Variables() {
		root := t.RootName()
		rng := t.SourceRange()
		var name string
		if len(t) >= 2 {
			if ta, isAttr := t[1].(hcl.TraverseAttr); isAttr {
				name = ta.Name
			}
		}
		switch root {
		case "var":
			if name == "" {
				s.diag(rng, "Invalid reference", "Write var.NAME to refer to an input variable.")
				ok = false
			} else if _, declared := l.varDecls[name]; !declared {
				s.diag(rng, "Reference to undeclared input variable",
					fmt.Sprintf("There is no variable named %q.%s Declare it with variable %q { ... } or fix the name.", name, didYouMean(name, l.varOrder), name))
				ok = false
			}
		case "local":
			if name == "" {
				s.diag(rng, "Invalid reference", "Write local.NAME to refer to a local value.")
				ok = false
			} else if _, declared := l.locals[name]; !declared {
				names := make([]string, 0, len(l.locals))
				for n := range l.locals {
					names = append(names, n)
				}
				sort.Strings(names)
				s.diag(rng, "Reference to undeclared local value",
					fmt.Sprintf("There is no local value named %q.%s Define it in a locals block or fix the name.", name, didYouMean(name, names)))
				ok = false
			}
		case "bucket", "key", "folder", "object", "move", "replication":
			if name == "" {
				s.diag(rng, "Invalid reference", fmt.Sprintf("Write %s.LABEL.ATTRIBUTE, e.g. %s.example.name, to refer to a %s block.", root, root, root))
				ok = false
			} else if root == "key" && keySecretRef(t) {
				s.diag(rng, "Key secrets are not values", keySecretDetail)
				ok = false
			} else if _, declared := l.blocks[root][name]; !declared {
				names := make([]string, 0, len(l.blocks[root]))
				for n := range l.blocks[root] {
					names = append(names, n)
				}
				sort.Strings(names)
				detail := fmt.Sprintf("There is no %s block labelled %q in this configuration.%s", root, name, didYouMean(name, names))
				if len(names) > 0 && suggest(name, names) == "" {
					detail += " Declared: " + quoteList(names) + "."
				}
				detail += fmt.Sprintf(" Declare %s %q { ... } or fix the reference.", root, name)
				s.diag(rng, "Reference to undeclared "+root, detail)
				ok = false
			}
		case "data":
			ok = s.checkDataRef(t) && ok
		case "module":
			if name == "" {
				s.diag(rng, "Invalid reference", "Write module.NAME.OUTPUT, e.g. module.site.bucket_name, to read an output of a module.")
				ok = false
			} else if _, declared := l.modules[name]; !declared {
				names := make([]string, 0, len(l.modules))
				for n := range l.modules {
					names = append(names, n)
				}
				sort.Strings(names)
				s.diag(rng, "Reference to undeclared module",
					fmt.Sprintf("There is no module block labelled %q here.%s Declare module %q { source = \"./DIR\" } or fix the reference.", name, didYouMean(name, names), name))
				ok = false
			}
		case "each":
			if s.each == cty.NilVal {
				s.diag(rng, "each is only valid with for_each",
					"each.key and each.value exist only inside a bucket, key, folder or move block that sets for_each. Add for_each = ... or remove the reference.")
				ok = false
			} else if name != "key" && name != "value" {
				s.diag(rng, "Invalid each reference", "Only each.key and each.value exist."+didYouMean(name, []string{"key", "value"}))
				ok = false
			}
		default:
			s.diag(rng, "Unknown variable",
				fmt.Sprintf("There is no variable named %q.%s References start with var., local., bucket., key., folder., move., data., module. or each.", root, didYouMean(root, refRoots)))
			ok = false
		}
	}
	return ok
}

// value evaluates an expression. ok is false when it could not be evaluated (diagnostics are
// recorded); the value may still be unknown when it depends on an id.
func (s *scope) value(expr hcl.Expression) (cty.Value, bool) {
	if !s.checkRefs(expr) {
		return cty.DynamicVal, false
	}
	if s.l.budget.spent {
		return cty.DynamicVal, false // reported once; evaluating more would cost what it saves
	}
	rng := expr.Range()
	s.l.evaluating = &rng
	v, diags := expr.Value(s.ctx)
	// Every use of the value (checks, conversions) walks it: charge it first.
	s.l.charge(0, 0, elemsOf(v, s.l.walkedLeft()+1), nil)
	s.l.evaluating = nil
	s.l.diags = append(s.l.diags, diags...)
	if diags.HasErrors() || s.l.budget.spent {
		return cty.DynamicVal, false
	}
	if err := checkValue(v); err != nil {
		s.diag(expr.Range(), "Value out of bounds", fmt.Sprintf("This value is out of bounds: %s.", err))
		return cty.DynamicVal, false
	}
	return v, true
}

// idRefs returns the addresses whose id a value depends on.
func idRefs(v cty.Value) []string {
	set := map[string]bool{}
	_, pvms := v.UnmarkDeepWithPaths()
	for _, pvm := range pvms {
		for m := range pvm.Marks {
			if im, ok := m.(idMark); ok {
				set[im.addr] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for a := range set {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// knownOrDiag reports a value that must be known at plan time but depends on an id.
func (s *scope) knownOrDiag(a *hclsyntax.Attribute, v cty.Value) bool {
	if v.IsWhollyKnown() {
		return true
	}
	refs := idRefs(v)
	if len(refs) == 0 {
		return false // unknown because of an earlier error, already reported
	}
	hint := ""
	if strings.HasPrefix(refs[0], "bucket.") {
		hint = fmt.Sprintf(" Refer to the bucket by name instead: %s.name.", refs[0])
	}
	s.diag(a.Expr.Range(), "Value known only after apply",
		fmt.Sprintf("%s depends on %s.id, which B2 assigns when it is created, so it is not known when b2plan plans. %s must be known before apply.%s",
			a.Name, refs[0], a.Name, hint))
	return false
}

// template evaluates expr with ids as "${ADDR.id}" placeholders and returns the string (or
// the element at key, for maps) when every reference survived intact.
func (s *scope) template(expr hcl.Expression, refs []string, key *string) (string, bool) {
	ctx := s.l.evalCtx(s.refs, s.each, true)
	v, diags := expr.Value(ctx)
	if diags.HasErrors() {
		return "", false
	}
	v, _ = v.UnmarkDeep()
	if key != nil {
		if !v.CanIterateElements() {
			return "", false
		}
		found := false
		for it := v.ElementIterator(); it.Next(); {
			k, ev := it.Element()
			if k.Type() == cty.String && k.AsString() == *key {
				v, found = ev, true
			}
		}
		if !found {
			return "", false
		}
	}
	v, err := convert.Convert(v, cty.String)
	if err != nil || v.IsNull() || !v.IsKnown() {
		return "", false
	}
	out := v.AsString()
	for _, r := range refs {
		if !strings.Contains(out, "${"+r+".id}") {
			return "", false
		}
	}
	return out, true
}

type strOpt struct {
	required   bool
	deferrable bool
	path       string // attribute path for Deferred, defaults to the attribute name
}

// str evaluates a string attribute. It returns ok=false when the attribute is absent or null
// (a diagnostic is recorded only when required) or invalid.
func (s *scope) str(body *hclsyntax.Body, name string, opt strOpt) (string, *hclsyntax.Attribute, bool) {
	a, present := body.Attributes[name]
	if !present {
		return "", nil, false
	}
	v, ok := s.value(a.Expr)
	if !ok || !s.checkSensitive(a, v) {
		return "", a, false
	}
	if v.IsNull() {
		if opt.required {
			s.diag(a.Expr.Range(), "Missing value for "+name, fmt.Sprintf("%s must not be null: give it a string value.", name))
		}
		return "", a, false
	}
	if !v.IsWhollyKnown() {
		refs := idRefs(v)
		if len(refs) == 0 {
			return "", a, false
		}
		if !opt.deferrable {
			s.knownOrDiag(a, v)
			return "", a, false
		}
		tmpl, ok := s.template(a.Expr, refs, nil)
		if !ok {
			s.diag(a.Expr.Range(), "Cannot defer this value",
				fmt.Sprintf("%s depends on %s.id, which is only known after apply, and b2plan can carry such a value only when the id appears unchanged in a string (e.g. \"${%s.id}\" or a template around it). Remove the function applied to the id.", name, refs[0], refs[0]))
			return "", a, false
		}
		path := opt.path
		if path == "" {
			path = name
		}
		s.deferred = append(s.deferred, Deferred{Path: path, Template: tmpl, Refs: refs, Range: a.Expr.Range()})
		return tmpl, a, true
	}
	v, _ = v.UnmarkDeep()
	sv, err := convert.Convert(v, cty.String)
	if err != nil {
		s.diag(a.Expr.Range(), "Incorrect attribute value type", fmt.Sprintf("%s must be a string; got %s.", name, v.Type().FriendlyName()))
		return "", a, false
	}
	return sv.AsString(), a, true
}

func (s *scope) boolean(body *hclsyntax.Body, name string) (bool, *hclsyntax.Attribute, bool) {
	a, present := body.Attributes[name]
	if !present {
		return false, nil, false
	}
	v, ok := s.value(a.Expr)
	if !ok || !s.checkSensitive(a, v) || v.IsNull() || !s.knownOrDiag(a, v) {
		return false, a, false
	}
	v, _ = v.UnmarkDeep()
	bv, err := convert.Convert(v, cty.Bool)
	if err != nil {
		s.diag(a.Expr.Range(), "Incorrect attribute value type", fmt.Sprintf("%s must be true or false; got %s.", name, v.Type().FriendlyName()))
		return false, a, false
	}
	return bv.True(), a, true
}

func (s *scope) integer(body *hclsyntax.Body, name string) (int, *hclsyntax.Attribute, bool) {
	a, present := body.Attributes[name]
	if !present {
		return 0, nil, false
	}
	v, ok := s.value(a.Expr)
	if !ok || !s.checkSensitive(a, v) || v.IsNull() || !s.knownOrDiag(a, v) {
		return 0, a, false
	}
	v, _ = v.UnmarkDeep()
	nv, err := convert.Convert(v, cty.Number)
	if err != nil {
		s.diag(a.Expr.Range(), "Incorrect attribute value type", fmt.Sprintf("%s must be a whole number; got %s.", name, v.Type().FriendlyName()))
		return 0, a, false
	}
	bf := nv.AsBigFloat()
	if !bf.IsInt() {
		s.diag(a.Expr.Range(), "Invalid number", fmt.Sprintf("%s must be a whole number; got %s.", name, bf.Text('g', -1)))
		return 0, a, false
	}
	i, acc := bf.Int64()
	if acc != big.Exact || i > 1<<40 || i < -(1<<40) {
		s.diag(a.Expr.Range(), "Invalid number", fmt.Sprintf("%s is out of range.", name))
		return 0, a, false
	}
	return int(i), a, true
}

func (s *scope) strList(body *hclsyntax.Body, name string) ([]string, *hclsyntax.Attribute, bool) {
	a, present := body.Attributes[name]
	if !present {
		return nil, nil, false
	}
	v, ok := s.value(a.Expr)
	if !ok || !s.checkSensitive(a, v) || v.IsNull() || !s.knownOrDiag(a, v) {
		return nil, a, false
	}
	v, _ = v.UnmarkDeep()
	lv, err := convert.Convert(v, cty.List(cty.String))
	if err != nil {
		s.diag(a.Expr.Range(), "Incorrect attribute value type", fmt.Sprintf("%s must be a list of strings, e.g. [\"a\", \"b\"]; got %s.", name, v.Type().FriendlyName()))
		return nil, a, false
	}
	out := []string{}
	for it := lv.ElementIterator(); it.Next(); {
		_, ev := it.Element()
		if ev.IsNull() {
			s.diag(a.Expr.Range(), "Invalid list element", fmt.Sprintf("%s must not contain null.", name))
			return nil, a, false
		}
		out = append(out, ev.AsString())
	}
	return out, a, true
}

// strMap evaluates a map of strings; values (not keys) may be deferred when deferrable.
func (s *scope) strMap(body *hclsyntax.Body, name string, deferrable bool) (map[string]string, *hclsyntax.Attribute, bool) {
	a, present := body.Attributes[name]
	if !present {
		return nil, nil, false
	}
	v, ok := s.value(a.Expr)
	if !ok || !s.checkSensitive(a, v) || v.IsNull() {
		return nil, a, false
	}
	if !v.IsKnown() {
		s.knownOrDiag(a, v)
		return nil, a, false
	}
	v, marks := v.Unmark()
	ty := v.Type()
	if !(ty.IsMapType() || ty.IsObjectType()) {
		s.diag(a.Expr.Range(), "Incorrect attribute value type", fmt.Sprintf("%s must be a map of strings, e.g. { team = \"web\" }; got %s.", name, ty.FriendlyName()))
		return nil, a, false
	}
	_ = marks
	out := map[string]string{}
	good := true
	for it := v.ElementIterator(); it.Next(); {
		kv, ev := it.Element()
		k := kv.AsString()
		if !ev.IsWhollyKnown() {
			refs := idRefs(ev)
			if len(refs) == 0 {
				good = false
				continue
			}
			if !deferrable {
				s.knownOrDiag(a, ev)
				good = false
				continue
			}
			tmpl, ok := s.template(a.Expr, refs, &k)
			if !ok {
				s.diag(s.mapItemRange(a, k, false), "Cannot defer this value",
					fmt.Sprintf("%s[%q] depends on %s.id, which is only known after apply; b2plan can carry it only when the id appears unchanged in a string. Remove the function applied to the id.", name, k, refs[0]))
				good = false
				continue
			}
			s.deferred = append(s.deferred, Deferred{Path: fmt.Sprintf("%s[%q]", name, strings.ToLower(k)), Template: tmpl, Refs: refs, Range: s.mapItemRange(a, k, false)})
			out[k] = tmpl
			continue
		}
		ev, _ = ev.UnmarkDeep()
		if ev.IsNull() {
			s.diag(s.mapItemRange(a, k, false), "Invalid map value", fmt.Sprintf("%s[%q] is null; give it a string value or remove the entry.", name, k))
			good = false
			continue
		}
		sv, err := convert.Convert(ev, cty.String)
		if err != nil {
			s.diag(s.mapItemRange(a, k, false), "Incorrect attribute value type", fmt.Sprintf("%s[%q] must be a string; got %s.", name, k, ev.Type().FriendlyName()))
			good = false
			continue
		}
		out[k] = sv.AsString()
	}
	return out, a, good
}

// mapItemRange is the range of one entry's key (or value) of an object constructor, or the
// whole expression when the map is computed.
func (s *scope) mapItemRange(a *hclsyntax.Attribute, key string, wantKey bool) hcl.Range {
	oc, ok := a.Expr.(*hclsyntax.ObjectConsExpr)
	if !ok {
		return a.Expr.Range()
	}
	for _, item := range oc.Items {
		kv, diags := item.KeyExpr.Value(s.ctx)
		if diags.HasErrors() || !kv.IsKnown() || kv.IsNull() {
			continue
		}
		kv, _ = kv.Unmark()
		if ks, err := convert.Convert(kv, cty.String); err == nil && ks.AsString() == key {
			if wantKey {
				return item.KeyExpr.Range()
			}
			return item.ValueExpr.Range()
		}
	}
	return a.Expr.Range()
}

// elemRange is the range of element i of a list constructor, or the whole expression.
func elemRange(a *hclsyntax.Attribute, i int) hcl.Range {
	if tc, ok := a.Expr.(*hclsyntax.TupleConsExpr); ok && i < len(tc.Exprs) {
		return tc.Exprs[i].Range()
	}
	return a.Expr.Range()
}
