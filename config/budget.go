package config

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// Evaluation budget. Function results are bounded by the checks of limits.go, but the
// language itself builds values no function sees: a for expression runs its body once per
// element, nested ones multiply ([for a in range(1000): [for b in range(1000): [for c in
// range(1000): 1]]] is 10^9 iterations), and a template joins its parts whatever their size.
// So, before evaluation, every for expression's collection and every value a for expression
// or template part produces is routed through a budget function (withBudget) that charges it
// to the loader: the number of iterations and the size of the values built, over the whole
// configuration. Iterations are charged before they run. Once a budget is spent, one
// diagnostic is recorded and every budgeted expression evaluates to an unknown value, which
// stops for expressions at once and costs nothing.
const (
	maxIterations = 1 << 18 // elements iterated by all for expressions
	maxBuilt      = 1 << 20 // string bytes and elements built by for bodies, template parts and functions
)

type budget struct {
	iterations, built int
	spent             bool
	n                 int // budget functions made (their names)
}

const (
	chargeIterations = iota
	chargeSize
)

// withBudget routes the for expressions and template parts of node through budget functions
// registered in l.funcs.
func (l *loader) withBudget(node hclsyntax.Node) {
	wrap := func(e hclsyntax.Expression, kind int) hclsyntax.Expression {
		if e == nil {
			return nil
		}
		if _, lit := e.(*hclsyntax.LiteralValueExpr); lit {
			return e
		}
		l.budget.n++
		name := fmt.Sprintf("b2plan_budget_%d", l.budget.n)
		rng := e.Range()
		l.funcs[name] = l.budgetFunc(kind, rng)
		return &hclsyntax.FunctionCallExpr{Name: name, Args: []hclsyntax.Expression{e},
			NameRange: rng, OpenParenRange: rng, CloseParenRange: rng}
	}
	hclsyntax.VisitAll(node, func(n hclsyntax.Node) hcl.Diagnostics {
		switch e := n.(type) {
		case *hclsyntax.ForExpr:
			e.CollExpr = wrap(e.CollExpr, chargeIterations)
			e.KeyExpr = wrap(e.KeyExpr, chargeSize)
			e.ValExpr = wrap(e.ValExpr, chargeSize)
		case *hclsyntax.TemplateExpr:
			for i, p := range e.Parts {
				e.Parts[i] = wrap(p, chargeSize)
			}
		}
		return nil
	})
}

func (l *loader) budgetFunc(kind int, rng hcl.Range) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "value", Type: cty.DynamicPseudoType, AllowUnknown: true,
			AllowNull: true, AllowMarked: true, AllowDynamicType: true}},
		Type: func(args []cty.Value) (cty.Type, error) { return args[0].Type(), nil },
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			v := args[0]
			if kind == chargeIterations {
				if uv, _ := v.UnmarkDeep(); uv.IsKnown() && !uv.IsNull() && uv.CanIterateElements() {
					l.charge(uv.LengthInt(), 0, &rng)
				}
			} else {
				l.charge(0, sizeUpTo(v, maxBuilt-l.budget.built+1), &rng)
			}
			if l.budget.spent {
				return cty.UnknownVal(v.Type()).WithSameMarks(v), nil
			}
			return v, nil
		},
	})
}

// charge spends iterations and built size; the first time a budget runs out it records the
// diagnostic (at rng, or at the expression being evaluated).
func (l *loader) charge(iterations, built int, rng *hcl.Range) {
	b := &l.budget
	if b.spent {
		return
	}
	b.iterations += iterations
	b.built += built
	if b.iterations <= maxIterations && b.built <= maxBuilt {
		return
	}
	b.spent = true
	if rng == nil {
		rng = l.evaluating
	}
	l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Configuration too large to evaluate",
		Detail: fmt.Sprintf("The expressions of this configuration iterate more than %d times in for loops, or build more than %d string bytes and elements in all (for loops, templates and function results), so b2plan stops evaluating them here, to stay fast and bounded. Nested for loops multiply: three nested loops over 1,000 elements are 1,000,000,000 iterations. Reduce the ranges or the nesting.",
			maxIterations, maxBuilt),
		Subject: rng})
}

// charged wraps a library function for one loader: its results are charged to the budget, and
// once the budget is spent it is not called any more (its result is unknown).
func (l *loader) charged(f function.Function) function.Function {
	params := f.Params()
	for i := range params {
		params[i].AllowMarked, params[i].AllowUnknown, params[i].AllowDynamicType = true, true, true
	}
	var varParam *function.Parameter
	if vp := f.VarParam(); vp != nil {
		p := *vp
		p.AllowMarked, p.AllowUnknown, p.AllowDynamicType = true, true, true
		varParam = &p
	}
	return function.New(&function.Spec{
		Description: f.Description(),
		Params:      params,
		VarParam:    varParam,
		Type:        f.ReturnTypeForValues,
		Impl: func(args []cty.Value, ty cty.Type) (cty.Value, error) {
			if l.budget.spent {
				return cty.UnknownVal(ty), nil
			}
			v, err := f.Call(args)
			if err == nil {
				l.charge(0, sizeUpTo(v, maxBuilt-l.budget.built+1), nil)
			}
			return v, err
		},
	})
}

// sizeUpTo returns the size of v (string bytes plus elements, nested included), counting no
// further than limit.
func sizeUpTo(v cty.Value, limit int) int {
	v, _ = v.Unmark()
	if !v.IsKnown() || v.IsNull() {
		return 0
	}
	ty := v.Type()
	switch {
	case ty == cty.String:
		return len(v.AsString())
	case ty.IsCollectionType() || ty.IsTupleType() || ty.IsObjectType():
		n := 0
		for it := v.ElementIterator(); it.Next() && n < limit; {
			_, ev := it.Element()
			n += 1 + sizeUpTo(ev, limit-n)
		}
		return n
	}
	return 1
}
