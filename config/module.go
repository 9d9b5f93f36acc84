package config

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Modules (docs/configuration.md, "Modules"): module "NAME" { source = "./dir", ARGS }.
//
// Each module instance is evaluated by a child loader with its own namespace (variables,
// locals, blocks, outputs) and an address prefix (module.NAME. or module.NAME["KEY"].). A
// child shares with the root what spans the configuration: the model it fills (Desired), the
// parser and its files, the evaluation budget and functions, the recorded secrets, and the
// ranges of names for the checks across items; its diagnostics and masks are handed up. The
// parent sees module.NAME as an object of the module's outputs (for for_each, an object of
// instances). The call is one node of the parent's reference graph: it is evaluated after
// what its arguments refer to and before what refers to its outputs.

// maxModuleDepth bounds the nesting of module calls (the root is depth 0).
const maxModuleDepth = 10

// maxModuleInstances bounds the module instances of one configuration (for_each at several
// levels multiplies).
const maxModuleInstances = 1000

// moduleArgsReserved are the arguments of a module block that are not its variables.
var moduleArgsReserved = []string{"source", "for_each"}

// moduleArgsRefused are Terraform arguments b2plan does not support in a module block.
var moduleArgsRefused = map[string]string{
	"version":    "version selects a release of a registry module; b2plan loads local modules only (source = \"./DIR\"), which have no versions.",
	"count":      "count is not supported; use for_each = toset([...]) or a map, which gives stable instance addresses.",
	"depends_on": "depends_on is not needed: b2plan orders everything from references.",
	"providers":  "providers is not supported: a block in a module names its provider itself (provider = b2.ALIAS, an alias declared in the root configuration), or uses the default provider.",
}

// modFiles caches the parsed files of a module directory (parsed and checked once, however
// many calls and instances use it).
type modFiles struct {
	bodies []*hclsyntax.Body
	err    string
}

func (l *loader) collectModule(b *hclsyntax.Block) {
	name := b.Labels[0]
	if prev, dup := l.modules[name]; dup {
		l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate module " + name,
			Detail:  fmt.Sprintf("A module block labelled %q is already declared at %s. Rename one of them.", name, prev.DefRange().String()),
			Subject: b.LabelRanges[0].Ptr()})
		return
	}
	for _, a := range sortedAttrs(b.Body) {
		if why, refused := moduleArgsRefused[a.Name]; refused {
			l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unsupported argument in module block",
				Detail: why, Subject: a.NameRange.Ptr()})
		}
	}
	l.modules[name] = b
	l.order = append(l.order, node{kind: "module", name: name, block: b})
}

// moduleSource checks the source argument and returns the module directory (as it appears
// in file names) and its absolute path.
func (l *loader) moduleSource(b *hclsyntax.Block) (dir, abs string, ok bool) {
	a := b.Body.Attributes["source"]
	if a == nil {
		return "", "", false // reported by checkBody
	}
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() || v.IsNull() || !v.IsKnown() || v.Type() != cty.String {
		l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid module source",
			Detail: "source must be a literal string naming a directory, e.g. source = \"./modules/site\".", Subject: a.Expr.Range().Ptr()})
		return "", "", false
	}
	src := v.AsString()
	if !strings.HasPrefix(src, "./") && !strings.HasPrefix(src, "../") {
		l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unsupported module source",
			Detail:  fmt.Sprintf("b2plan loads modules from local directories only: source must start with ./ or ../ (e.g. \"./modules/site\"). %q looks like a registry, git or URL source, which b2plan cannot download; copy the module into a directory of this configuration and point source at it.", src),
			Subject: a.Expr.Range().Ptr()})
		return "", "", false
	}
	dir = filepath.Join(l.dir, filepath.FromSlash(src))
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	if len(l.stack) > maxModuleDepth {
		l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Modules nested too deeply",
			Detail:  fmt.Sprintf("This module call is at depth %d; b2plan allows modules nested %d deep. Flatten the module tree.", len(l.stack), maxModuleDepth),
			Subject: a.Expr.Range().Ptr()})
		return "", "", false
	}
	for i, s := range l.stack {
		if s == abs {
			chain := append(append([]string(nil), l.stack[i:]...), abs)
			for j := range chain {
				chain[j] = l.relDir(chain[j])
			}
			l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Module cycle",
				Detail:  fmt.Sprintf("This module call loads %s, which is already being loaded: %s. A module cannot contain itself; break the cycle.", l.relDir(abs), strings.Join(chain, " → ")),
				Subject: a.Expr.Range().Ptr()})
			return "", "", false
		}
	}
	return dir, abs, true
}

// relDir shows an absolute module directory relative to the working directory when shorter.
func (l *loader) relDir(abs string) string {
	if wd, err := os.Getwd(); err == nil {
		if r, err := filepath.Rel(wd, abs); err == nil && len(r) < len(abs) {
			return r
		}
	}
	return abs
}

// moduleFiles parses (once) the files of a module directory.
func (l *loader) moduleFiles(dir string, call hcl.Range) ([]*hclsyntax.Body, bool) {
	mf, ok := l.modCache[dir]
	if !ok {
		mf = &modFiles{}
		l.modCache[dir] = mf
		names, err := hclFiles(dir)
		switch {
		case err != nil:
			mf.err = fmt.Sprintf("Cannot read the module directory %s: %v. source must name a directory of .hcl files.", dir, err)
		case len(names) == 0:
			mf.err = fmt.Sprintf("The module directory %s contains no .hcl files.", dir)
		}
		for _, n := range names {
			src, err := os.ReadFile(n)
			if err != nil {
				l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot read file", Detail: err.Error()})
				continue
			}
			before := len(l.bodies)
			l.addSource(n, src)
			mf.bodies = append(mf.bodies, l.bodies[before:]...)
			l.bodies = l.bodies[:before]
		}
	}
	if mf.err != "" {
		l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot load module", Detail: mf.err, Subject: call.Ptr()})
		return nil, false
	}
	return mf.bodies, true
}

// child returns a loader for one module instance.
func (l *loader) child(prefix, dir, abs string, bodies []*hclsyntax.Body) *loader {
	c := &loader{
		parser: l.parser, d: l.d, budget: l.budget, funcs: l.funcs, secrets: l.secrets, rawFiles: l.rawFiles,
		nameRng: l.nameRng, badMove: l.badMove, badRepl: l.badRepl, dataIn: l.dataIn, modCache: l.modCache, providerSet: l.providerSet,
		parent: l, prefix: prefix, dir: dir, stack: append(append([]string(nil), l.stack...), abs),
		bodies:     bodies,
		varDecls:   map[string]*varDecl{},
		varVals:    map[string]cty.Value{},
		locals:     map[string]*hclsyntax.Attribute{},
		localVals:  map[string]cty.Value{},
		blocks:     map[string]map[string]*hclsyntax.Block{},
		blockObjs:  map[string]map[string]*blockVal{},
		outputs:    map[string]*hclsyntax.Block{},
		dataBlocks: map[string]*hclsyntax.Block{},
		dataVals:   map[string]cty.Value{},
		modules:    map[string]*hclsyntax.Block{},
		moduleVals: map[string]map[bool]cty.Value{},
		outputVals: map[string]map[bool]cty.Value{},
	}
	for _, k := range blockKinds {
		c.blocks[k] = map[string]*hclsyntax.Block{}
		c.blockObjs[k] = map[string]*blockVal{}
	}
	return c
}

// evalModule evaluates every instance of a module call and sets module.NAME.
func (l *loader) evalModule(n node) {
	b := n.block
	name := n.name
	fail := func() { l.moduleVals[name] = map[bool]cty.Value{false: cty.DynamicVal, true: cty.DynamicVal} }
	dir, abs, ok := l.moduleSource(b)
	if !ok {
		fail()
		return
	}
	bodies, ok := l.moduleFiles(dir, b.Body.Attributes["source"].Expr.Range())
	if !ok {
		fail()
		return
	}
	var args []*hclsyntax.Attribute
	for _, a := range sortedAttrs(b.Body) {
		if !inList(moduleArgsReserved, a.Name) && moduleArgsRefused[a.Name] == "" {
			args = append(args, a)
		}
	}
	r := refsOf(n.exprs())
	base := l.prefix + "module." + name
	fe, hasForEach := b.Body.Attributes["for_each"]
	if !hasForEach {
		v, sv := l.moduleInstance(b, base+".", dir, abs, bodies, args, r, nil)
		l.moduleVals[name] = map[bool]cty.Value{false: v, true: sv}
		return
	}
	s := l.scope("module", nil, r)
	v, ok := s.value(fe.Expr)
	if !ok || !s.checkSensitive(fe, v) {
		fail()
		return
	}
	insts, ok := s.forEachInstances(fe, v)
	if !ok {
		fail()
		return
	}
	vals, svals := map[string]cty.Value{}, map[string]cty.Value{}
	for _, in := range insts {
		each := cty.ObjectVal(map[string]cty.Value{"key": cty.StringVal(in.key), "value": in.value})
		vals[in.key], svals[in.key] = l.moduleInstance(b, base+"["+quoteKey(in.key)+"].", dir, abs, bodies, args, r, &each)
	}
	l.moduleVals[name] = map[bool]cty.Value{false: objOrEmpty(vals), true: objOrEmpty(svals)}
}

// moduleInstance evaluates one instance: its arguments in the caller's scope, then the
// module's files in a child loader. It returns the object of its outputs, normal and with
// ids as placeholders (see evalCtx).
func (l *loader) moduleInstance(b *hclsyntax.Block, prefix, dir, abs string, bodies []*hclsyntax.Body,
	args []*hclsyntax.Attribute, r refs, each *cty.Value) (cty.Value, cty.Value) {
	if l.budget.modules++; l.budget.modules > maxModuleInstances {
		if l.budget.modules == maxModuleInstances+1 {
			l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Too many module instances",
				Detail:  fmt.Sprintf("This configuration has more than %d module instances (for_each on nested modules multiplies); b2plan stops here. Reduce the for_each sets or the nesting.", maxModuleInstances),
				Subject: b.DefRange().Ptr()})
		}
		return cty.DynamicVal, cty.DynamicVal
	}
	s := l.scope("module", each, r)
	sctx := l.evalCtx(r, s.each, true)
	in, sin := map[string]cty.Value{}, map[string]cty.Value{}
	argRng := map[string]hcl.Range{}
	for _, a := range args {
		v, ok := s.value(a.Expr)
		if !ok {
			v = cty.DynamicVal
		}
		in[a.Name] = v
		argRng[a.Name] = a.Expr.Range()
		if sv, diags := a.Expr.Value(sctx); !diags.HasErrors() {
			sin[a.Name] = sv
		} else {
			sin[a.Name] = v
		}
	}
	c := l.child(prefix, dir, abs, bodies)
	c.collect()
	c.moduleVariables(b, in, sin, argRng)
	c.evalGraph()
	c.evalOutputs()
	l.diags = append(l.diags, c.diags...)
	l.mask = append(l.mask, c.mask...)
	l.ctxEntries += c.ctxEntries
	outs, souts := map[string]cty.Value{}, map[string]cty.Value{}
	for name := range c.outputs {
		if ov, ok := c.outputVals[name]; ok {
			outs[name], souts[name] = ov[false], ov[true]
		} else {
			outs[name], souts[name] = cty.DynamicVal, cty.DynamicVal
		}
	}
	return objOrEmpty(outs), objOrEmpty(souts)
}

// moduleVariables sets the variables of a module instance from the call's arguments.
func (l *loader) moduleVariables(call *hclsyntax.Block, in, sin map[string]cty.Value, argRng map[string]hcl.Range) {
	what := fmt.Sprintf("module %q (%s)", call.Labels[0], l.dir)
	names := make([]string, 0, len(in))
	for n := range in {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if _, declared := l.varDecls[n]; !declared {
			l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unsupported argument",
				Detail:  fmt.Sprintf("%s declares no variable %q.%s Arguments of a module block set its variables (and source, for_each).", what, n, didYouMean(n, l.varOrder)),
				Subject: call.Body.Attributes[n].NameRange.Ptr()})
		}
	}
	for _, name := range l.varOrder {
		v := l.varDecls[name]
		val, given := in[name]
		sval := sin[name]
		if !given {
			if v.def == cty.NilVal {
				l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Missing required argument",
					Detail:  fmt.Sprintf("%s needs the argument %q: its variable has no default (declared at %s). Add %s = ... to the module block.", what, name, v.block.DefRange().String(), name),
					Subject: call.DefRange().Ptr()})
				l.varVals[name] = cty.DynamicVal
				continue
			}
			val, sval = v.def, v.def
		} else {
			rng := argRng[name]
			conv, ok := l.convertVar(v, val, rng, "argument")
			if !ok {
				l.varVals[name] = cty.DynamicVal
				continue
			}
			val = conv
			if sc, ok := l.convertQuiet(v, sval); ok {
				sval = sc
			} else {
				sval = conv
			}
		}
		if v.sensitive {
			l.addSecrets(val)
			val, sval = val.Mark(sensitiveMark{}), sval.Mark(sensitiveMark{})
		}
		l.varVals[name] = sized(val)
		if l.varSentinel == nil {
			l.varSentinel = map[string]cty.Value{}
		}
		l.varSentinel[name] = sval
		l.checkVarValidations(v, val)
	}
}

// convertQuiet converts a value to a variable's type without reporting problems.
func (l *loader) convertQuiet(v *varDecl, val cty.Value) (cty.Value, bool) {
	if v.defaults != nil {
		val = v.defaults.Apply(val)
	}
	conv, err := convert.Convert(val, v.ty)
	return conv, err == nil
}
