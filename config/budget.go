package config

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// Evaluation budget. Function results are bounded by the checks of limits.go, but the
// language itself builds values no function sees, and work can be repeated without building
// anything: a for expression runs its body once per element, nested ones multiply ([for a in
// range(1000): [for b in range(1000): [for c in range(1000): 1]]] is 10^9 iterations), a
// template joins its parts whatever their size, and a 100 KB file can pass one large local
// 10,000 times to one function, or compare it 10,000 times, each costing its size.
//
// So the loader keeps a budget, charged before the work is done:
//   - iterations: every for expression's collection is routed through a budget function that
//     charges its length before the loop runs (at most maxIterations in all);
//   - size: the values of for bodies, template parts, operands of == and !=, arguments and
//     results of every function, and every attribute value are charged their size (string
//     bytes plus elements), at most maxBuilt plus builtPerSourceByte per byte of source.
//
// Measuring a value must not cost its size each time it is referenced, so values stored for
// reference (locals, variables) carry a sizeMark with their size, computed once; sizeOf reads
// it in O(1), and cty stops its mark searches at the first marked value. Once a budget is
// spent, one diagnostic is recorded and every budgeted expression, function and attribute
// evaluates to an unknown value without doing the work.
const (
	maxIterations      = 1 << 18 // elements iterated by all for expressions
	maxBuilt           = 1 << 19 // size charged, plus builtPerSourceByte per source byte
	builtPerSourceByte = 8
)

// sizeMark records the size of a stored value (a pointer, so that each is its own mark).
type sizeMark struct{ n int }

// sized returns v marked with its size (replacing size marks it carried), when it is large
// enough for the walk to matter.
func sized(v cty.Value) cty.Value {
	v = withoutSizeMarks(v)
	if n := sizeOf(v, maxValueSize+1); n >= 64 {
		return v.Mark(&sizeMark{n})
	}
	return v
}

// withoutSizeMarks removes the size marks at the top of v.
func withoutSizeMarks(v cty.Value) cty.Value {
	if !v.IsMarked() {
		return v
	}
	uv, marks := v.Unmark()
	keep := cty.ValueMarks{}
	for m := range marks {
		if _, isSize := m.(*sizeMark); !isSize {
			keep[m] = struct{}{}
		}
	}
	return uv.WithMarks(keep)
}

// sizeOf returns the size of v (string bytes plus elements, nested included), counting no
// further than limit; a part with size marks counts their sum without being walked.
func sizeOf(v cty.Value, limit int) int {
	if v.IsMarked() {
		n, marked := 0, false
		for m := range v.Marks() {
			if sm, ok := m.(*sizeMark); ok {
				n, marked = n+sm.n, true
			}
		}
		if marked {
			return n
		}
		v, _ = v.Unmark()
	}
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
			n += 1 + sizeOf(ev, limit-n)
		}
		return n
	}
	return 1
}

type budget struct {
	iterations, built int
	source            int // bytes of source read
	spent             bool
	n                 int // budget functions made (their names)
}

// budgetLeft is the size that may still be charged.
func (l *loader) budgetLeft() int {
	return max(0, maxBuilt+l.budget.source*builtPerSourceByte-l.budget.built)
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
		case *hclsyntax.BinaryOpExpr:
			// Equality compares whole values.
			if e.Op == hclsyntax.OpEqual || e.Op == hclsyntax.OpNotEqual {
				e.LHS = wrap(e.LHS, chargeSize)
				e.RHS = wrap(e.RHS, chargeSize)
			}
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
				l.charge(0, sizeOf(v, l.budgetLeft()+1), &rng)
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
	if b.iterations <= maxIterations && b.built <= maxBuilt+b.source*builtPerSourceByte {
		return
	}
	b.spent = true
	if rng == nil {
		rng = l.evaluating
	}
	l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Configuration too large to evaluate",
		Detail: fmt.Sprintf("The expressions of this configuration iterate more than %d times in for loops, or handle more than %d string bytes and elements in all (%d plus %d per byte of configuration: values built by for loops, templates and functions, passed to functions or compared), so b2plan stops evaluating them here, to stay fast and bounded. Nested for loops multiply: three nested loops over 1,000 elements are 1,000,000,000 iterations. Reduce the ranges or the nesting, or pass large values around less often.",
			maxIterations, maxBuilt+l.budget.source*builtPerSourceByte, maxBuilt, builtPerSourceByte),
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
		Type: func(args []cty.Value) (cty.Type, error) {
			// The arguments are charged before f (and cty) walk them.
			n := 0
			for _, a := range args {
				n += sizeOf(a, l.budgetLeft()+1-n)
			}
			if l.charge(0, n, nil); l.budget.spent {
				return cty.DynamicPseudoType, nil
			}
			return f.ReturnTypeForValues(args)
		},
		Impl: func(args []cty.Value, ty cty.Type) (cty.Value, error) {
			if l.budget.spent {
				return cty.UnknownVal(ty), nil
			}
			v, err := f.Call(args)
			if err == nil {
				// The result carries the marks of the arguments: not their sizes.
				v = withoutSizeMarks(v)
				l.charge(0, sizeOf(v, l.budgetLeft()+1), nil)
			}
			return v, err
		},
	})
}
