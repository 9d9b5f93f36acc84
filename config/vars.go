package config

import (
	"fmt"
	"os"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

type varDecl struct {
	name        string
	block       *hclsyntax.Block
	ty          cty.Type
	defaults    *typeexpr.Defaults
	def         cty.Value // cty.NilVal when no default
	description string
	sensitive   bool
	valueRange  *hcl.Range // where the current value comes from, when from a file
}

func (l *loader) declareVariable(b *hclsyntax.Block) {
	name := b.Labels[0]
	if prev, dup := l.varDecls[name]; dup {
		l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate variable declaration",
			Detail:  fmt.Sprintf("variable %q is already declared at %s. Remove one of them.", name, prev.block.DefRange().String()),
			Subject: b.LabelRanges[0].Ptr()})
		return
	}
	v := &varDecl{name: name, block: b, ty: cty.DynamicPseudoType, def: cty.NilVal}
	l.varDecls[name] = v
	l.varOrder = append(l.varOrder, name)
	if a, ok := b.Body.Attributes["type"]; ok {
		ty, defaults, diags := typeexpr.TypeConstraintWithDefaults(a.Expr)
		l.diags = append(l.diags, diags...)
		if !diags.HasErrors() {
			v.ty, v.defaults = ty, defaults
		}
	}
	if a, ok := b.Body.Attributes["description"]; ok {
		val, diags := a.Expr.Value(nil)
		l.diags = append(l.diags, diags...)
		if !diags.HasErrors() && val.Type() == cty.String && val.IsKnown() && !val.IsNull() {
			v.description = val.AsString()
		}
	}
	if a, ok := b.Body.Attributes["sensitive"]; ok {
		val, diags := a.Expr.Value(nil)
		l.diags = append(l.diags, diags...)
		if !diags.HasErrors() && val.Type() == cty.Bool && val.IsKnown() && !val.IsNull() {
			v.sensitive = val.True()
		}
	}
	if a, ok := b.Body.Attributes["default"]; ok {
		val, diags := a.Expr.Value(&hcl.EvalContext{Functions: l.funcs})
		if v.sensitive {
			l.addSecrets(val)
		}
		if diags.HasErrors() {
			for _, d := range diags {
				if d.Summary == "Variables not allowed" || d.Summary == "Unknown variable" {
					d.Detail = "A variable's default must be a literal value: it cannot refer to other variables, locals or blocks. Move the computed value into a locals block."
				}
			}
			l.diags = append(l.diags, diags...)
			v.def = cty.DynamicVal
			return
		}
		if v.sensitive {
			l.mask = append(l.mask, a.Expr.Range())
		}
		v.def = cty.DynamicVal // invalid default: no second "no value" error
		if conv, ok := l.convertVar(v, val, a.Expr.Range(), "default"); ok {
			v.def = conv
			v.valueRange = a.Expr.Range().Ptr()
		}
	}
}

func (l *loader) convertVar(v *varDecl, val cty.Value, rng hcl.Range, source string) (cty.Value, bool) {
	if v.defaults != nil {
		val = v.defaults.Apply(val)
	}
	conv, err := convert.Convert(val, v.ty)
	if err != nil {
		l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid value for variable",
			Detail: fmt.Sprintf("The %s for var.%s is not a %s: %s. Give a value of type %s.",
				source, v.name, typeexpr.TypeString(v.ty), err, typeexpr.TypeString(v.ty)),
			Subject: rng.Ptr()})
		return cty.NilVal, false
	}
	return conv, true
}

// parseRawVar turns a -var or environment string into a value: a plain string for string (or
// untyped) variables, an HCL expression otherwise (as Terraform does).
func (l *loader) parseRawVar(v *varDecl, raw, source string) (cty.Value, bool) {
	if v.ty == cty.String || v.ty == cty.DynamicPseudoType {
		return cty.StringVal(raw), true
	}
	var expr hclsyntax.Expression
	var diags hcl.Diagnostics
	if d := nestingProblem([]byte(raw), source); d != nil {
		diags = hcl.Diagnostics{d}
	} else {
		expr, diags = hclsyntax.ParseExpression([]byte(raw), source, hcl.InitialPos)
	}
	if !diags.HasErrors() {
		diags = checkLiterals(expr)
		l.withBudget(expr)
	}
	if !diags.HasErrors() {
		var vd hcl.Diagnostics
		val, vd := expr.Value(&hcl.EvalContext{Functions: l.funcs})
		if !vd.HasErrors() {
			return val, true
		}
		diags = vd
	}
	l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid value for variable",
		Detail: fmt.Sprintf("The value %s for var.%s (type %s) is not a valid HCL expression: %s. Write it as HCL, e.g. -var '%s=[\"a\", \"b\"]' for a list.",
			source, v.name, typeexpr.TypeString(v.ty), diags[0].Summary, v.name)})
	return cty.NilVal, false
}

func (l *loader) loadVariables(in VarInputs) {
	vals := map[string]cty.Value{}
	for name, v := range l.varDecls {
		if v.def != cty.NilVal {
			vals[name] = v.def
		}
	}
	// environment
	for _, kv := range in.Env {
		k, raw, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(k, EnvVarPrefix) {
			continue
		}
		name := strings.TrimPrefix(k, EnvVarPrefix)
		v, declared := l.varDecls[name]
		if !declared {
			continue // like Terraform: stray environment variables are ignored
		}
		if v.sensitive {
			l.secrets[raw] = true
		}
		if val, ok := l.parseRawVar(v, raw, "from environment variable "+k); ok {
			if conv, ok := l.convertVar(v, val, hcl.Range{}, "environment variable "+k); ok {
				vals[name] = conv
				v.valueRange = nil
			}
		}
	}
	// var files
	for _, fn := range in.VarFiles {
		src, err := os.ReadFile(fn)
		if err != nil {
			l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot read variables file",
				Detail: fmt.Sprintf("%v. Check the -var-file path.", err)})
			continue
		}
		l.maskLiterals(fn, src, func(n string) bool { d := l.varDecls[n]; return d != nil && d.sensitive })
		if d := nestingProblem(src, fn); d != nil {
			l.diags = append(l.diags, d)
			l.rawFiles[fn] = &hcl.File{Bytes: src}
			continue
		}
		l.budget.source += len(src)
		f, diags := l.parser.ParseHCL(src, fn)
		l.diags = append(l.diags, diags...)
		if f == nil {
			continue
		}
		body, ok := f.Body.(*hclsyntax.Body)
		if !ok {
			continue
		}
		l.diags = append(l.diags, checkLiterals(body)...)
		l.withBudget(body)
		for _, b := range body.Blocks {
			l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unexpected block in variables file",
				Detail: "A variables file holds only NAME = VALUE assignments.", Subject: b.TypeRange.Ptr()})
		}
		for _, a := range sortedAttrs(body) {
			v, declared := l.varDecls[a.Name]
			if !declared {
				l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Value for undeclared variable",
					Detail:  fmt.Sprintf("The file sets %q but the configuration declares no variable %q; the value is ignored.%s", a.Name, a.Name, didYouMean(a.Name, l.varOrder)),
					Subject: a.NameRange.Ptr()})
				continue
			}
			val, vd := a.Expr.Value(&hcl.EvalContext{Functions: l.funcs})
			l.diags = append(l.diags, vd...)
			if vd.HasErrors() {
				continue
			}
			if v.sensitive {
				l.addSecrets(val)
			}
			if conv, ok := l.convertVar(v, val, a.Expr.Range(), "value in "+fn); ok {
				vals[a.Name] = conv
				v.valueRange = a.Expr.Range().Ptr()
			}
		}
	}
	// -var
	for _, kv := range in.Vars {
		name, raw, ok := strings.Cut(kv, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			// Not echoed: a malformed option may well be a secret.
			l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid -var option",
				Detail: fmt.Sprintf("A -var option (%d characters, not shown) is not of the form NAME=VALUE. Write e.g. -var 'env=prod'.", len(kv))})
			continue
		}
		v, declared := l.varDecls[name]
		if !declared {
			l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Value for undeclared variable",
				Detail: fmt.Sprintf("-var sets %q but the configuration declares no such variable.%s Declare it with variable %q { } or remove the option.", name, didYouMean(name, l.varOrder), name)})
			continue
		}
		if v.sensitive {
			l.secrets[raw] = true
		}
		if val, ok := l.parseRawVar(v, raw, "given with -var"); ok {
			if conv, ok := l.convertVar(v, val, hcl.Range{}, "-var value"); ok {
				vals[name] = conv
				v.valueRange = nil
			}
		}
	}
	for _, name := range l.varOrder {
		v := l.varDecls[name]
		val, ok := vals[name]
		if !ok {
			l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "No value for required variable",
				Detail: fmt.Sprintf("var.%s has no default and no value was given. Set it with -var '%s=VALUE', in a file passed with -var-file (%s = VALUE), or in the environment as %s%s=VALUE; or add a default to the variable block.",
					name, name, name, EnvVarPrefix, name),
				Subject: v.block.LabelRanges[0].Ptr()})
			l.varVals[name] = cty.DynamicVal
			continue
		}
		if err := checkValue(val); err != nil {
			// e.g. a string default converted to a number type
			l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid value for variable",
				Detail:  fmt.Sprintf("The value of var.%s is out of bounds: %s.", name, err),
				Subject: v.block.LabelRanges[0].Ptr()})
			l.varVals[name] = cty.DynamicVal
			l.d.Variables[name] = "(invalid)"
			continue
		}
		if v.sensitive {
			l.addSecrets(val)
			val = val.Mark(sensitiveMark{})
		}
		val = sized(val)
		l.varVals[name] = val
		l.checkVarValidations(v, val)
		if v.sensitive {
			l.d.Variables[name] = redacted
		} else {
			l.d.Variables[name] = renderValue(val)
		}
	}
}

func (l *loader) checkVarValidations(v *varDecl, val cty.Value) {
	ctx := &hcl.EvalContext{
		Variables: map[string]cty.Value{"var": cty.ObjectVal(map[string]cty.Value{v.name: val})},
		Functions: l.funcs,
	}
	for _, b := range v.block.Body.Blocks {
		if b.Type != "validation" {
			continue
		}
		cond, ok := b.Body.Attributes["condition"]
		msgAttr, ok2 := b.Body.Attributes["error_message"]
		if !ok || !ok2 {
			continue
		}
		for _, t := range cond.Expr.Variables() {
			if t.RootName() != "var" || len(t) < 2 {
				l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid variable validation condition",
					Detail: fmt.Sprintf("A validation condition may only refer to var.%s.", v.name), Subject: t.SourceRange().Ptr()})
				return
			}
			if ta, ok := t[1].(hcl.TraverseAttr); ok && ta.Name != v.name {
				l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid variable validation condition",
					Detail: fmt.Sprintf("A validation condition may only refer to var.%s, not var.%s.", v.name, ta.Name), Subject: t.SourceRange().Ptr()})
				return
			}
		}
		res, diags := cond.Expr.Value(ctx)
		l.diags = append(l.diags, diags...)
		if diags.HasErrors() {
			continue
		}
		res, _ = res.UnmarkDeep() // a condition on a sensitive value is marked
		res, err := convert.Convert(res, cty.Bool)
		if err != nil || res.IsNull() {
			l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid variable validation condition",
				Detail: "The condition must be true or false.", Subject: cond.Expr.Range().Ptr()})
			continue
		}
		if !res.IsKnown() || res.True() {
			continue
		}
		msg := "The value is not valid."
		if mv, md := msgAttr.Expr.Value(ctx); !md.HasErrors() && mv.Type() == cty.String && mv.IsKnown() && !mv.IsNull() {
			if isSensitive(mv) {
				msg = "The error message refers to the sensitive value, so it is not shown."
			} else {
				msg = mv.AsString()
			}
		}
		subj := v.valueRange
		if subj == nil {
			subj = cond.Expr.Range().Ptr()
		}
		l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid value for variable",
			Detail: fmt.Sprintf("%s\n\nThis was checked by the validation rule at %s.", msg, cond.SrcRange.String()), Subject: subj})
	}
}
