package config

import (
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

var (
	funcsOnce sync.Once
	funcs     map[string]function.Function
)

// functions returns the Terraform-like function library available in expressions. None of
// them does I/O, so evaluation stays offline and deterministic. Each (but try and can) is wrapped
// by bounded (limits.go): arguments or results too large for a configuration are refused with
// an error instead of making the loader run for minutes or exhaust memory.
func functions() map[string]function.Function {
	funcsOnce.Do(func() {
		funcs = map[string]function.Function{
			"abs": stdlib.AbsoluteFunc, "ceil": stdlib.CeilFunc, "floor": stdlib.FloorFunc,
			"log": stdlib.LogFunc, "max": stdlib.MaxFunc, "min": stdlib.MinFunc,
			"parseint": stdlib.ParseIntFunc, "pow": stdlib.PowFunc, "signum": stdlib.SignumFunc,

			"chomp": stdlib.ChompFunc, "format": stdlib.FormatFunc, "formatlist": stdlib.FormatListFunc,
			"indent": stdlib.IndentFunc, "join": stdlib.JoinFunc, "lower": stdlib.LowerFunc,
			"upper": stdlib.UpperFunc, "regex": stdlib.RegexFunc, "regexall": stdlib.RegexAllFunc,
			"replace": stdlib.ReplaceFunc, "split": stdlib.SplitFunc, "strrev": stdlib.ReverseFunc,
			"substr": stdlib.SubstrFunc, "title": stdlib.TitleFunc, "trim": stdlib.TrimFunc,
			"trimprefix": stdlib.TrimPrefixFunc, "trimsuffix": stdlib.TrimSuffixFunc,
			"trimspace": stdlib.TrimSpaceFunc, "strlen": stdlib.StrlenFunc,
			"startswith": startsWithFunc, "endswith": endsWithFunc,

			"chunklist": stdlib.ChunklistFunc, "coalesce": stdlib.CoalesceFunc,
			"coalescelist": stdlib.CoalesceListFunc, "compact": stdlib.CompactFunc,
			"concat": stdlib.ConcatFunc, "contains": stdlib.ContainsFunc, "distinct": stdlib.DistinctFunc,
			"element": stdlib.ElementFunc, "flatten": stdlib.FlattenFunc, "index": stdlib.IndexFunc,
			"keys": stdlib.KeysFunc, "length": lengthFunc, "lookup": stdlib.LookupFunc,
			"merge": stdlib.MergeFunc, "range": stdlib.RangeFunc, "reverse": stdlib.ReverseListFunc,
			"setintersection": stdlib.SetIntersectionFunc, "setproduct": stdlib.SetProductFunc,
			"setsubtract": stdlib.SetSubtractFunc, "setunion": stdlib.SetUnionFunc,
			"slice": stdlib.SliceFunc, "sort": stdlib.SortFunc, "values": stdlib.ValuesFunc,
			"zipmap": stdlib.ZipmapFunc,

			"jsonencode": stdlib.JSONEncodeFunc, "jsondecode": stdlib.JSONDecodeFunc,
			"csvdecode":  stdlib.CSVDecodeFunc,
			"formatdate": stdlib.FormatDateFunc, "timeadd": stdlib.TimeAddFunc,

			"tostring": stdlib.MakeToFunc(cty.String), "tonumber": stdlib.MakeToFunc(cty.Number),
			"tobool": stdlib.MakeToFunc(cty.Bool), "toset": stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
			"tolist": stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
			"tomap":  stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType)),
		}
		pre := map[string]func([]cty.Value) error{
			"format": both(checkFormatArg, checkFormatSize), "formatlist": both(checkFormatArg, checkFormatSize),
			"indent": checkIndentSize, "setproduct": checkProductArgs, "replace": checkReplaceArgs,
			"join": checkJoinArgs, "jsondecode": checkJSONDepth,
		}
		for name, f := range funcs {
			funcs[name] = bounded(f, pre[name])
		}
		// try and can take their arguments unevaluated; their results come from the others.
		funcs["try"], funcs["can"] = tryfunc.TryFunc, tryfunc.CanFunc
		funcs["sensitive"], funcs["nonsensitive"] = sensitiveFunc, nonsensitiveFunc
	})
	return funcs
}

func both(a, b func([]cty.Value) error) func([]cty.Value) error {
	return func(args []cty.Value) error {
		if err := a(args); err != nil {
			return err
		}
		return b(args)
	}
}

// lengthFunc is Terraform's length: characters of a string, or elements of a collection.
var lengthFunc = function.New(&function.Spec{
	Params: []function.Parameter{{
		Name: "value", Type: cty.DynamicPseudoType, AllowDynamicType: true, AllowUnknown: true, AllowMarked: true,
	}},
	Type: func(args []cty.Value) (cty.Type, error) {
		ty := args[0].Type()
		if ty == cty.String || ty == cty.DynamicPseudoType || ty.IsCollectionType() || ty.IsTupleType() || ty.IsObjectType() {
			return cty.Number, nil
		}
		return cty.NilType, function.NewArgErrorf(0, "argument must be a string, a collection type, or a structural type")
	},
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		v, marks := args[0].Unmark()
		if v.Type() == cty.String {
			if !v.IsKnown() {
				return cty.UnknownVal(cty.Number).WithMarks(marks), nil
			}
			return stdlib.Strlen(v)
		}
		l, err := stdlib.Length(v)
		return l.WithMarks(marks), err
	},
})

var startsWithFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "str", Type: cty.String}, {Name: "prefix", Type: cty.String}},
	Type:   function.StaticReturnType(cty.Bool),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		return cty.BoolVal(strings.HasPrefix(args[0].AsString(), args[1].AsString())), nil
	},
})

var endsWithFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "str", Type: cty.String}, {Name: "suffix", Type: cty.String}},
	Type:   function.StaticReturnType(cty.Bool),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		return cty.BoolVal(strings.HasSuffix(args[0].AsString(), args[1].AsString())), nil
	},
})

// renderValue writes a known value as HCL text (for display).
func renderValue(v cty.Value) string {
	v, _ = v.UnmarkDeep()
	if !v.IsWhollyKnown() {
		return "(known after apply)"
	}
	return strings.TrimSpace(string(hclwrite.TokensForValue(v).Bytes()))
}
