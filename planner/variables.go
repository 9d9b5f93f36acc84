package planner

import (
	"encoding/json"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/b2plan/b2plan/config"
)

// planVariables lists the variables of d, sorted by name. config renders each
// value as HCL text (config.Desired.Variables); it is parsed back here into
// JSON. A sensitive variable (config.SensitiveText) has no value, only the
// mark; one whose value is not a literal (invalid, unknown) has a null value.
func planVariables(d *config.Desired) []Variable {
	names := make([]string, 0, len(d.Variables))
	for n := range d.Variables {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []Variable
	for _, n := range names {
		text := d.Variables[n]
		if text == config.SensitiveText {
			out = append(out, Variable{Name: n, Sensitive: true})
			continue
		}
		out = append(out, Variable{Name: n, Value: hclTextToJSON(text)})
	}
	return out
}

func hclTextToJSON(text string) json.RawMessage {
	expr, diags := hclsyntax.ParseExpression([]byte(text), "variable", hcl.InitialPos)
	if diags.HasErrors() {
		return json.RawMessage("null")
	}
	v, diags := expr.Value(nil)
	if diags.HasErrors() || !v.IsWhollyKnown() {
		return json.RawMessage("null")
	}
	b, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		return json.RawMessage("null")
	}
	return b
}
