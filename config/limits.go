package config

import (
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// Limits on the values an expression may produce. The expression language and the cty
// function library put no bound on sizes, so a short configuration could otherwise make the
// loader run for minutes or exhaust memory: converting 1e99999999 to a string writes 10^8
// digits, format("%-999999999s", "") pads to a gigabyte, setproduct multiplies list lengths,
// and locals that double a string or list each grow it exponentially. No b2plan
// configuration needs values anywhere near these limits.
const (
	// maxNumberExp bounds the binary exponent of any number (about 1e±1200), far beyond
	// float64 but small enough that formatting a number stays cheap.
	maxNumberExp = 4096
	// maxValueSize bounds one value: string bytes plus collection elements, nested included.
	maxValueSize = 1 << 18
	// maxFormatWidth bounds the width and precision of a format/formatlist verb, and the
	// spaces of indent.
	maxFormatWidth = 1024
	// maxProduct bounds the number of elements setproduct may return.
	maxProduct = 10000
)

var (
	errNumberRange = errors.New("number out of range: b2plan supports magnitudes up to about 1e1200 (and down to about 1e-1200)")
	errValueSize   = fmt.Errorf("value too large: more than %d string bytes and collection elements", maxValueSize)
)

// numberInRange reports whether f's magnitude is within maxNumberExp (zero and infinities are).
func numberInRange(f *big.Float) bool {
	if f.IsInf() || f.Sign() == 0 {
		return true
	}
	exp := f.MantExp(nil)
	return exp <= maxNumberExp && exp >= -maxNumberExp
}

// checkValue returns an error when v holds a number out of range or is larger than
// maxValueSize. Unknown and null parts are ignored.
func checkValue(v cty.Value) error {
	budget := maxValueSize
	return checkValueRec(v, &budget)
}

func checkValueRec(v cty.Value, budget *int) error {
	v, _ = v.Unmark()
	if !v.IsKnown() || v.IsNull() {
		return nil
	}
	ty := v.Type()
	switch {
	case ty == cty.Number:
		if !numberInRange(v.AsBigFloat()) {
			return errNumberRange
		}
	case ty == cty.String:
		*budget -= len(v.AsString())
	case ty.IsCollectionType() || ty.IsTupleType() || ty.IsObjectType():
		for it := v.ElementIterator(); it.Next(); {
			_, ev := it.Element()
			if *budget--; *budget < 0 {
				return errValueSize
			}
			if err := checkValueRec(ev, budget); err != nil {
				return err
			}
		}
	}
	if *budget < 0 {
		return errValueSize
	}
	return nil
}

// checkLiterals reports number literals out of range in node and replaces them by an unknown
// value, so that no later evaluation formats them.
func checkLiterals(node hclsyntax.Node) hcl.Diagnostics {
	return hclsyntax.VisitAll(node, func(n hclsyntax.Node) hcl.Diagnostics {
		lit, ok := n.(*hclsyntax.LiteralValueExpr)
		if !ok || lit.Val.Type() != cty.Number || !lit.Val.IsKnown() || lit.Val.IsNull() {
			return nil
		}
		if numberInRange(lit.Val.AsBigFloat()) {
			return nil
		}
		lit.Val = cty.DynamicVal
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Number out of range",
			Detail:  "This number is too large (or too close to zero): b2plan supports magnitudes up to about 1e1200. Use a smaller number.",
			Subject: lit.SrcRange.Ptr()}}
	})
}

// bounded wraps a library function so that it refuses arguments that would make it produce a
// huge result (pre, optional) and fails when its result breaks the limits of checkValue.
//
// It also keeps sensitive values out of error messages: the library quotes its arguments in
// some errors (tonumber("...")), so an error of a call with a sensitive argument is replaced.
// The wrapper's parameters accept marked, unknown and dynamic values and hand them all to f,
// which deals with them (and carries the marks to its result) as its own parameters say.
func bounded(f function.Function, pre func(args []cty.Value) error) function.Function {
	params, varParam := permissiveParams(f)
	return function.New(&function.Spec{
		Description: f.Description(),
		Params:      params,
		VarParam:    varParam,
		Type: func(args []cty.Value) (cty.Type, error) {
			// Before f sees them: f's own checks walk every element of its arguments.
			// (Some functions do their work here: jsondecode parses its argument.)
			if err := checkArgsSize(args); err != nil {
				return cty.NilType, err
			}
			if pre != nil {
				if err := pre(args); err != nil {
					return cty.NilType, sensitiveErr(args, err)
				}
			}
			ty, err := f.ReturnTypeForValues(args)
			return ty, sensitiveErr(args, err)
		},
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			v, err := f.Call(args)
			if err != nil {
				return v, sensitiveErr(args, err)
			}
			if err := checkValue(v); err != nil {
				return cty.NilVal, err
			}
			return v, nil
		},
	})
}

// knownArg returns args[i] unmarked, and whether it is known and not null.
func knownArg(args []cty.Value, i int) (cty.Value, bool) {
	if i >= len(args) {
		return cty.NilVal, false
	}
	v, _ := args[i].UnmarkDeep()
	return v, v.IsKnown() && !v.IsNull()
}

// sensitiveErr replaces err when an argument holds a sensitive value (the argument index of
// an ArgError is kept, so that HCL still points at the argument).
func sensitiveErr(args []cty.Value, err error) error {
	if err == nil {
		return nil
	}
	for _, a := range args {
		if isSensitive(a) {
			msg := "this call failed on a sensitive value; the error is not shown because it may quote the value"
			var ae function.ArgError
			if errors.As(err, &ae) {
				return function.NewArgErrorf(ae.Index, "%s", msg)
			}
			return errors.New(msg)
		}
	}
	return err
}

// checkFormatArg bounds the widths and precisions in the format string args[0] of format
// and formatlist.
func checkFormatArg(args []cty.Value) error {
	v, ok := knownArg(args, 0)
	if !ok || v.Type() != cty.String {
		return nil
	}
	s := v.AsString()
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			continue
		}
		i++
		if i < len(s) && s[i] == '%' {
			continue
		}
		// flags, an optional [n] argument index, width, .precision: every digit run before
		// the verb letter is checked.
		for ; i < len(s); i++ {
			c := s[i]
			if c >= '0' && c <= '9' {
				n := 0
				for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
					if n = n*10 + int(s[i]-'0'); n > maxFormatWidth {
						return function.NewArgErrorf(0, "a width or precision in the format string is larger than %d", maxFormatWidth)
					}
				}
				i--
				continue
			}
			if c != '+' && c != '-' && c != '#' && c != ' ' && c != '.' && c != '[' && c != ']' {
				break
			}
		}
	}
	return nil
}

func checkIndentArg(args []cty.Value) error {
	v, ok := knownArg(args, 0)
	if !ok || v.Type() != cty.Number {
		return nil
	}
	if f := v.AsBigFloat(); f.Cmp(big.NewFloat(maxFormatWidth)) > 0 {
		return function.NewArgErrorf(0, "too many spaces; the maximum is %d", maxFormatWidth)
	}
	return nil
}

func checkProductArgs(args []cty.Value) error {
	total := 1
	for i := range args {
		v, ok := knownArg(args, i)
		if !ok || !v.CanIterateElements() {
			continue
		}
		n := v.LengthInt()
		if n == 0 {
			return nil
		}
		if total *= n; total > maxProduct {
			return fmt.Errorf("the product would have more than %d elements", maxProduct)
		}
	}
	return nil
}

// checkArgsSize refuses arguments larger than maxValueSize together: most functions build a
// result about as large as their arguments (concat(l, l, l, ...) or flatten of a list that
// repeats a large value would otherwise build it before checkValue could refuse it).
func checkArgsSize(args []cty.Value) error {
	n := 0
	for _, a := range args {
		if n += sizeOf(a, maxValueSize-n+1); n > maxValueSize {
			return fmt.Errorf("arguments too large: more than %d string bytes and collection elements together", maxValueSize)
		}
	}
	return nil
}

// estimate returns an error when a result estimated at n string bytes and elements would break
// maxValueSize.
func estimate(n int) error {
	if n > maxValueSize || n < 0 {
		return errValueSize
	}
	return nil
}

func knownString(args []cty.Value, i int) (string, bool) {
	v, ok := knownArg(args, i)
	if !ok || v.Type() != cty.String {
		return "", false
	}
	return v.AsString(), true
}

// checkReplaceArgs bounds replace(str, substr, replacement): one replacement per match.
func checkReplaceArgs(args []cty.Value) error {
	str, ok1 := knownString(args, 0)
	sub, ok2 := knownString(args, 1)
	rep, ok3 := knownString(args, 2)
	if !ok1 || !ok2 || !ok3 {
		return nil
	}
	matches := len(str) + 1 // a regular expression (/re/) or "" may match everywhere
	if !(len(sub) > 1 && sub[0] == '/' && sub[len(sub)-1] == '/') && sub != "" {
		matches = strings.Count(str, sub)
	}
	return estimate(len(str) + matches*len(rep))
}

// checkFormatSize bounds format and formatlist: each verb may print the largest argument
// (%[1]s repeats one), padded to at most maxFormatWidth; formatlist repeats it per element.
func checkFormatSize(args []cty.Value) error {
	f, ok := knownString(args, 0)
	if !ok {
		return nil
	}
	verbs := strings.Count(f, "%")
	largest, rows := 0, 1
	for i := 1; i < len(args); i++ {
		v, ok := knownArg(args, i)
		if !ok {
			continue
		}
		if v.Type().IsListType() || v.Type().IsTupleType() || v.Type().IsSetType() {
			rows = max(rows, v.LengthInt())
			for it := v.ElementIterator(); it.Next(); {
				_, ev := it.Element()
				largest = max(largest, sizeOf(ev, maxValueSize+1))
			}
			continue
		}
		largest = max(largest, sizeOf(v, maxValueSize+1))
	}
	if verbs > maxValueSize || rows > maxValueSize {
		return errValueSize
	}
	return estimate(rows * (len(f) + verbs*(largest+maxFormatWidth)))
}

// checkJoinArgs bounds join(sep, lists...): a separator between every two elements.
func checkJoinArgs(args []cty.Value) error {
	sep, ok := knownString(args, 0)
	if !ok {
		return nil
	}
	elems := 0
	for i := 1; i < len(args); i++ {
		if v, ok := knownArg(args, i); ok && v.CanIterateElements() {
			elems += v.LengthInt()
		}
	}
	if elems > maxValueSize {
		return errValueSize
	}
	return estimate(elems * len(sep))
}

// checkIndentSize bounds indent(n, str): n spaces per line.
func checkIndentSize(args []cty.Value) error {
	if err := checkIndentArg(args); err != nil {
		return err
	}
	v, ok := knownArg(args, 0)
	str, ok2 := knownString(args, 1)
	if !ok || !ok2 || v.Type() != cty.Number {
		return nil
	}
	n, _ := v.AsBigFloat().Int64()
	return estimate(len(str) + int(n)*strings.Count(str, "\n"))
}

// checkJSONDepth refuses JSON nested deeper than maxNesting: the decoder recurses per level.
func checkJSONDepth(args []cty.Value) error {
	s, ok := knownString(args, 0)
	if !ok {
		return nil
	}
	depth, inStr := 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inStr && c == '\\':
			i++
		case c == '"':
			inStr = !inStr
		case inStr:
		case c == '[' || c == '{':
			if depth++; depth > maxNesting {
				return function.NewArgErrorf(0, "the JSON is nested more than %d levels deep", maxNesting)
			}
		case c == ']' || c == '}':
			depth--
		}
	}
	return nil
}

// permissiveParams are f's parameters accepting marked, unknown and dynamic values, for a
// wrapper that hands its arguments to f unchanged (f then deals with them as its own
// parameters say).
func permissiveParams(f function.Function) ([]function.Parameter, *function.Parameter) {
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
	return params, varParam
}
