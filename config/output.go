package config

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Output is one output "NAME" block (docs/configuration.md, "Outputs").
//
// Value is the evaluated value without marks. When it depends on the id of a bucket or key
// that the same apply creates (Refs non-empty), each such string holds the id as the
// placeholder "${ADDRESS.id}", as Deferred templates do; ResolveOutputValue substitutes the
// ids once they exist.
type Output struct {
	Name        string
	Description string
	// Sensitive is the declared sensitive = true: the value is shown only on request
	// (b2plan output -raw / -json) and never written to a plan file.
	Sensitive bool
	Value     cty.Value
	Refs      []string
	Range     hcl.Range
}

// keySecretAttrs are attribute names a user may try for a key's secret; references to them
// get an explanation rather than "Unsupported attribute".
var keySecretAttrs = []string{"secret", "application_key", "key", "secret_key", "application_key_secret"}

// keySecretRef reports whether traversal t reads a key's secret (key.NAME.secret, also
// through an instance key.NAME["k"].secret).
func keySecretRef(t hcl.Traversal) bool {
	for _, step := range t[2:] {
		switch st := step.(type) {
		case hcl.TraverseIndex:
			continue
		case hcl.TraverseAttr:
			return inList(keySecretAttrs, st.Name)
		}
		return false
	}
	return false
}

const keySecretDetail = "B2 returns an application key's secret only once, when the key is created; b2plan writes it to the key's secret_file and never holds it as a value, so it can be neither an output nor an argument of another block. Read it from the secret_file (B2_APPLICATION_KEY=...) instead."

// evalOutputs evaluates the output blocks, after everything they may refer to.
func (l *loader) evalOutputs() {
	for _, b := range l.outputOrder {
		l.evalOutput(b)
	}
}

func (l *loader) evalOutput(b *hclsyntax.Block) {
	o := &Output{Name: b.Labels[0], Range: b.DefRange()}
	if a, ok := b.Body.Attributes["description"]; ok {
		v, diags := a.Expr.Value(nil)
		if diags.HasErrors() || v.IsNull() || !v.IsKnown() || v.Type() != cty.String {
			l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid output description",
				Detail: "description must be a literal string.", Subject: a.Expr.Range().Ptr()})
		} else {
			o.Description = v.AsString()
		}
	}
	if a, ok := b.Body.Attributes["sensitive"]; ok {
		v, diags := a.Expr.Value(nil)
		if diags.HasErrors() || v.IsNull() || !v.IsKnown() || v.Type() != cty.Bool {
			l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid output sensitive",
				Detail: "sensitive must be true or false (a literal).", Subject: a.Expr.Range().Ptr()})
		} else {
			o.Sensitive = v.True()
		}
	}
	a, ok := b.Body.Attributes["value"]
	if !ok {
		return // reported by checkBody
	}
	s := l.scope("output", nil, refsOf([]hclsyntax.Expression{a.Expr}))
	v, ok := s.value(a.Expr)
	if !ok {
		return
	}
	if isSensitive(v) {
		l.addSecrets(v)
		if !o.Sensitive {
			s.diag(a.Expr.Range(), "Output refers to sensitive values",
				fmt.Sprintf("The value of output %q is derived from a variable declared sensitive = true. b2plan prints outputs at the end of apply (and a module's outputs flow into its caller), so an output holding sensitive data must say so: add sensitive = true to the output block (it is then shown only with b2plan output -raw or -json), or wrap the value in nonsensitive(...) if it is not secret.", o.Name))
			return
		}
	}
	if l.parent != nil {
		// A module's output: the caller sees the value with its marks (ids known only
		// after apply, sensitivity), and the same with ids as placeholders.
		sv, diags := a.Expr.Value(l.evalCtx(s.refs, s.each, true))
		if diags.HasErrors() {
			sv = v
		}
		if o.Sensitive {
			v, sv = v.Mark(sensitiveMark{}), sv.Mark(sensitiveMark{})
		}
		l.outputVals[o.Name] = map[bool]cty.Value{false: v, true: sv}
		return
	}
	if !v.IsWhollyKnown() {
		refs := idRefs(v)
		if len(refs) == 0 {
			return // unknown because of an earlier error, or a data source not read yet
		}
		tv, ok := s.outputTemplate(a.Expr, v)
		if !ok {
			s.diag(a.Expr.Range(), "Cannot defer this value",
				fmt.Sprintf("Output %q depends on %s.id, which is only known after apply, and b2plan can carry such a value only when the id appears unchanged in a string (e.g. %s.id or \"${%s.id}\" inside a template, list or map). Remove the function or comparison applied to the id.", o.Name, refs[0], refs[0], refs[0]))
			return
		}
		o.Value, o.Refs = tv, refs
	} else {
		o.Value, _ = v.UnmarkDeep()
	}
	l.d.Outputs = append(l.d.Outputs, o)
}

// outputTemplate returns v with every unknown string (an id not known before apply) replaced
// by the same value evaluated with ids as "${ADDR.id}" placeholders; ok is false when an id
// did not survive intact (a function or comparison changed it).
func (s *scope) outputTemplate(expr hcl.Expression, v cty.Value) (cty.Value, bool) {
	ctx := s.l.evalCtx(s.refs, s.each, true)
	sv, diags := expr.Value(ctx)
	if diags.HasErrors() {
		return cty.NilVal, false
	}
	sv, _ = sv.UnmarkDeep()
	uv, _ := v.UnmarkDeep()
	good := true
	out, err := cty.Transform(uv, func(p cty.Path, x cty.Value) (cty.Value, error) {
		if x.IsKnown() {
			return x, nil
		}
		sx, err := p.Apply(sv)
		if err != nil {
			good = false
			return x, nil
		}
		str, err := convert.Convert(sx, cty.String)
		if err != nil || str.IsNull() || !str.IsKnown() || !strings.Contains(str.AsString(), ".id}") {
			good = false
			return x, nil
		}
		if x.Type() != cty.String && x.Type() != cty.DynamicPseudoType {
			good = false
			return x, nil
		}
		return str, nil
	})
	if err != nil || !good || !out.IsWhollyKnown() {
		return cty.NilVal, false
	}
	return out, true
}

// ResolveOutputValue substitutes ids (by address, e.g. ids["bucket.assets"]) into the
// placeholders of an output value whose refs are listed; every ref must have an id.
func ResolveOutputValue(v cty.Value, refs []string, ids map[string]string) (cty.Value, error) {
	var pairs []string
	for _, r := range refs {
		id, ok := ids[r]
		if !ok || id == "" {
			return cty.NilVal, fmt.Errorf("the id of %s is not known", r)
		}
		pairs = append(pairs, "${"+r+".id}", id)
	}
	rep := strings.NewReplacer(pairs...)
	return cty.Transform(v, func(_ cty.Path, x cty.Value) (cty.Value, error) {
		if x.Type() == cty.String && x.IsKnown() && !x.IsNull() {
			return cty.StringVal(rep.Replace(x.AsString())), nil
		}
		return x, nil
	})
}
