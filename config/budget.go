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
//   - size built: the values of for bodies, template parts and function results are charged
//     their size (string bytes plus elements), at most maxBuilt plus builtPerSourceByte per
//     byte of source;
//   - elements walked: the arguments of every function, the operands of == and !=, and every
//     attribute value are charged their number of elements (maxWalked plus
//     walkedPerSourceByte per byte of source).
//
// Measuring a value must not cost its size each time it is referenced, so values stored for
// reference (locals, variables) carry a sizeMark with their size and shape, computed once;
// sizeOf reads it in O(1) for a value of that shape, and cty stops its mark searches at the
// first marked value. Once a budget is
// spent, one diagnostic is recorded and every budgeted expression, function and attribute
// evaluates to an unknown value without doing the work.
const (
	maxIterations      = 1 << 18 // elements iterated by all for expressions
	maxBuilt           = 1 << 19 // size built, plus builtPerSourceByte per source byte
	builtPerSourceByte = 8
	// Elements walked: function arguments, == operands and attribute values are walked
	// (compared, unmarked, converted: cty walks every argument of every call, about 1 µs per
	// element). 5,000 for_each instances each calling length(local.list_of_5000) walk
	// 25,000,000 elements, over a minute: such a configuration is refused in a second, and the
	// message says to compute such values once, in a local, or to look maps up by key.
	maxWalked           = 1 << 22
	walkedPerSourceByte = 16
)

// sizeMark records the size of a stored value (a pointer, so that each is its own mark).
// Marks travel to values derived from the stored one (local.m[each.key] carries the mark of
// local.m), so a mark counts only for a value of the same shape (kind and length).
type sizeMark struct {
	n, elems int
	shape    shape
}

type shape struct {
	kind   byte // 's' string, 'l' list, 't' tuple, 'm' map, 'o' object, 'e' set, '?' other
	length int
}

func shapeOf(v cty.Value) shape {
	if !v.IsKnown() || v.IsNull() {
		return shape{'?', 0}
	}
	ty := v.Type()
	switch {
	case ty == cty.String:
		return shape{'s', len(v.AsString())}
	case ty.IsListType():
		return shape{'l', v.LengthInt()}
	case ty.IsTupleType():
		return shape{'t', v.LengthInt()}
	case ty.IsMapType():
		return shape{'m', v.LengthInt()}
	case ty.IsObjectType():
		return shape{'o', v.LengthInt()}
	case ty.IsSetType():
		return shape{'e', v.LengthInt()}
	}
	return shape{'?', 0}
}

// sized returns v marked with its size (replacing size marks it carried), when it is large
// enough for the walk to matter.
func sized(v cty.Value) cty.Value {
	v = withoutSizeMarks(v)
	if n := sizeOf(v, maxValueSize+1); n >= 64 {
		uv, _ := v.Unmark()
		return v.Mark(&sizeMark{n, elemsOf(v, maxValueSize+1), shapeOf(uv)})
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
// further than limit; a part with a size mark of its shape counts without being walked.
func sizeOf(v cty.Value, limit int) int { return measure(v, limit, true) }

// elemsOf is sizeOf counting a string as one element.
func elemsOf(v cty.Value, limit int) int { return measure(v, limit, false) }

func measure(v cty.Value, limit int, bytes bool) int {
	if v.IsMarked() {
		uv, marks := v.Unmark()
		var sh *shape
		for m := range marks {
			if sm, ok := m.(*sizeMark); ok {
				if sh == nil {
					s := shapeOf(uv)
					sh = &s
				}
				if sm.shape == *sh {
					if bytes {
						return sm.n
					}
					return sm.elems
				}
			}
		}
		v = uv
	}
	if !v.IsKnown() || v.IsNull() {
		return 0
	}
	ty := v.Type()
	switch {
	case ty == cty.String && bytes:
		return len(v.AsString())
	case ty.IsCollectionType() || ty.IsTupleType() || ty.IsObjectType():
		n := 0
		for it := v.ElementIterator(); it.Next() && n < limit; {
			_, ev := it.Element()
			n += 1 + measure(ev, limit-n, bytes)
		}
		return n
	}
	return 1
}

type budget struct {
	iterations, built, walked int
	source                    int // bytes of source read
	spent                     bool
	n                         int // budget functions made (their names)
	modules                   int // module instances evaluated (module.go, maxModuleInstances)
}

// builtLeft and walkedLeft are what may still be charged.
func (l *loader) builtLeft() int {
	return max(0, maxBuilt+l.budget.source*builtPerSourceByte-l.budget.built)
}

func (l *loader) walkedLeft() int {
	return max(0, maxWalked+l.budget.source*walkedPerSourceByte-l.budget.walked)
}

const (
	chargeIterations = iota
	chargeSize
	chargeWalk
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
				e.LHS = wrap(e.LHS, chargeWalk)
				e.RHS = wrap(e.RHS, chargeWalk)
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
			switch kind {
			case chargeIterations:
				if uv, _ := v.Unmark(); uv.IsKnown() && !uv.IsNull() && uv.CanIterateElements() {
					l.charge(uv.LengthInt(), 0, 0, &rng)
				}
			case chargeSize:
				l.charge(0, sizeOf(v, l.builtLeft()+1), 0, &rng)
			default:
				l.charge(0, 0, elemsOf(v, l.walkedLeft()+1), &rng)
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
func (l *loader) charge(iterations, built, walked int, rng *hcl.Range) {
	b := l.budget
	if b.spent {
		return
	}
	b.iterations += iterations
	b.built += built
	b.walked += walked
	if b.iterations <= maxIterations && l.builtLeft() > 0 && l.walkedLeft() > 0 {
		return
	}
	b.spent = true
	if rng == nil {
		rng = l.evaluating
	}
	l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Configuration too large to evaluate",
		Detail: fmt.Sprintf("The expressions of this configuration iterate more than %d times in for loops, build more than %d string bytes and elements (for loops, templates, function results), or pass more than %d elements to functions, comparisons and attributes (both grow with the size of the configuration), so b2plan stops evaluating them here, to stay fast and bounded. Nested for loops multiply: three nested loops over 1,000 elements are 1,000,000,000 iterations. Reduce the ranges or the nesting; and in a block with for_each, do not pass a large collection to a function for every instance: compute the result once in a local, or look a map up by key (local.m[each.key]).",
			maxIterations, maxBuilt+b.source*builtPerSourceByte, maxWalked+b.source*walkedPerSourceByte),
		Subject: rng})
}

// charged wraps a library function for one loader: its results are charged to the budget, and
// once the budget is spent it is not called any more (its result is unknown).
func (l *loader) charged(f function.Function) function.Function {
	params, varParam := permissiveParams(f)
	return function.New(&function.Spec{
		Description: f.Description(),
		Params:      params,
		VarParam:    varParam,
		Type: func(args []cty.Value) (cty.Type, error) {
			// The arguments are charged before f (and cty) walk them.
			n := 0
			for _, a := range args {
				n += elemsOf(a, l.walkedLeft()+1-n)
			}
			if l.charge(0, 0, n, nil); l.budget.spent {
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
				l.charge(0, sizeOf(v, l.builtLeft()+1), 0, nil)
			}
			return v, err
		},
	})
}
