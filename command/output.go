package command

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/b2plan/b2plan/b2client"
	"github.com/b2plan/b2plan/planner"
)

func init() {
	Register(&Command{
		Name:     "output",
		Synopsis: "Show output values, computed from the configuration and the live account",
		Help: `
Usage: b2plan [global flags] output [-json | -raw] [-var NAME=VALUE]... [-var-file=FILE]...
                                    [DIR | FILE.hcl] [NAME]

  Prints the output values the configuration declares (output "NAME" blocks). b2plan keeps
  no state, so the values are computed now: the configuration is loaded and the live account
  read, as "b2plan plan" does (nothing is changed). An output that depends on the id of a
  bucket or key that does not exist yet is "(known after apply)"; asking for it by NAME is an
  error until it has been applied.

  One argument is a DIR or FILE.hcl when such a path exists, otherwise an output NAME.

  Sensitive outputs (sensitive = true) are shown as <sensitive>; -json and -raw print their
  value.

Flags:
  -json             print {"NAME": {"sensitive", "type", "value"}} (with NAME: just its value)
  -raw              print the value of NAME (a string, number or bool) without quotes or newline
  -var NAME=VALUE   set an input variable (repeatable)
  -var-file=FILE    read input variables from a file (repeatable)
  -no-color         no colour

Exit status: 0 success, 1 error.

Examples:
  b2plan output
  b2plan output -raw uploader_key_id
  b2plan output -json ./infra | jq .bucket_ids.value
`,
		Run: runOutput,
	})
}

func runOutput(m *Meta, args []string) int {
	c := commands["output"]
	fs := m.FlagSet(c)
	jsonOut := fs.Bool("json", false, "")
	raw := fs.Bool("raw", false, "")
	var vars, varFiles stringList
	fs.Var(&vars, "var", "")
	fs.Var(&varFiles, "var-file", "")
	if code, done := m.ParseFlags(c, fs, args); done {
		return code
	}
	if *jsonOut && *raw {
		return m.Errorf("-json and -raw cannot be used together")
	}
	var dir, name string
	switch fs.NArg() {
	case 0:
	case 1:
		if _, err := os.Stat(m.Path(fs.Arg(0))); err == nil {
			dir = fs.Arg(0)
		} else {
			name = fs.Arg(0)
		}
	case 2:
		dir, name = fs.Arg(0), fs.Arg(1)
	default:
		return m.Errorf("output takes at most a DIR and an output NAME; got %d arguments.\n\nRun \"b2plan output -help\" for usage.", fs.NArg())
	}
	if *raw && name == "" {
		return m.Errorf("-raw needs the NAME of one output")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	pl, code, ok := m.runPipeline(ctx, planInput{path: dir, vars: vars, varFiles: varFiles})
	defer pl.close()
	if !ok {
		if ctx.Err() != nil {
			return ExitInterrupted
		}
		return code
	}
	// Errors of the plan (a bucket prune cannot delete, say) do not change the outputs, which
	// are computed from the configuration and the account: they are shown, and outputs too.
	m.WriteDiagnostics(m.Stderr, pl.diags, pl.desired.Files)
	outs := pl.plan.Outputs
	if name != "" {
		var o *planner.Output
		var names []string
		for _, x := range outs {
			names = append(names, x.Name)
			if x.Name == name {
				o = x
			}
		}
		if o == nil {
			if len(names) == 0 {
				return m.Errorf("no output named %q: the configuration declares no outputs", name)
			}
			return m.Errorf("no output named %q; declared: %s", name, strings.Join(names, ", "))
		}
		if o.Unknown {
			return m.Errorf("output %q depends on %s, which does not exist in the account yet (or the plan replaces it): run \"b2plan apply\" first", name, refList(o))
		}
		return m.printOneOutput(o, *jsonOut, *raw)
	}
	if *jsonOut {
		var unknown []string
		for _, o := range outs {
			if o.Unknown {
				unknown = append(unknown, o.Name)
			}
		}
		if len(unknown) > 0 {
			fmt.Fprintf(m.Stderr, "Warning: not yet known (they depend on resources not created yet; run \"b2plan apply\"): %s\n", strings.Join(unknown, ", "))
		}
		return m.writeJSON(outputsJSON(outs, true))
	}
	if len(outs) == 0 {
		fmt.Fprintln(m.Stderr, "Warning: no outputs found: the configuration declares no output blocks.")
		return ExitOK
	}
	writeOutputs(m.Stdout, outs)
	return ExitOK
}

func refList(o *planner.Output) string {
	var out []string
	for _, r := range o.Refs {
		out = append(out, r.Address)
	}
	return strings.Join(out, ", ")
}

func (m *Meta) writeJSON(v any) int {
	enc := json.NewEncoder(m.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return m.Errorf("%v", err)
	}
	return ExitOK
}

func (m *Meta) printOneOutput(o *planner.Output, jsonOut, raw bool) int {
	switch {
	case jsonOut:
		m.Stdout.Write(append(o.Reveal(), '\n'))
		return ExitOK
	case raw:
		v, err := o.CtyValue()
		if err != nil {
			return m.Errorf("%v", err)
		}
		switch {
		case v.IsNull():
			return m.Errorf("output %q is null: -raw prints only strings, numbers and bools", o.Name)
		case v.Type() == cty.String:
			fmt.Fprint(m.Stdout, v.AsString())
		case v.Type() == cty.Number:
			fmt.Fprint(m.Stdout, v.AsBigFloat().Text('f', -1))
		case v.Type() == cty.Bool:
			fmt.Fprint(m.Stdout, v.True())
		default:
			return m.Errorf("output %q is a %s: -raw prints only strings, numbers and bools; use -json", o.Name, v.Type().FriendlyName())
		}
		return ExitOK
	}
	if o.Sensitive {
		fmt.Fprintln(m.Stdout, "<sensitive>")
		return ExitOK
	}
	v, err := o.CtyValue()
	if err != nil {
		return m.Errorf("%v", err)
	}
	fmt.Fprintln(m.Stdout, formatValue(v, ""))
	return ExitOK
}

type jsonOutput struct {
	Sensitive bool            `json:"sensitive"`
	Type      json.RawMessage `json:"type"`
	Value     json.RawMessage `json:"value,omitempty"`
}

// outputsJSON is Terraform's "output -json" object; reveal includes sensitive values (the
// outputs command); the apply stream leaves them out. Unknown outputs are left out.
func outputsJSON(outs []*planner.Output, reveal bool) map[string]jsonOutput {
	res := map[string]jsonOutput{}
	for _, o := range outs {
		if o.Unknown {
			continue
		}
		jo := jsonOutput{Sensitive: o.Sensitive, Type: o.Type, Value: o.Value}
		if reveal {
			jo.Value = o.Reveal()
		}
		res[o.Name] = jo
	}
	return res
}

// writeOutputs prints outputs as Terraform does: NAME = VALUE, sorted by name.
func writeOutputs(w io.Writer, outs []*planner.Output) {
	sorted := append([]*planner.Output(nil), outs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	for _, o := range sorted {
		switch {
		case o.Sensitive:
			fmt.Fprintf(w, "%s = <sensitive>\n", o.Name)
		case o.Unknown:
			fmt.Fprintf(w, "%s = (known after apply)\n", o.Name)
		default:
			v, err := o.CtyValue()
			if err != nil {
				fmt.Fprintf(w, "%s = (cannot be shown: %v)\n", o.Name, err)
				continue
			}
			fmt.Fprintf(w, "%s = %s\n", o.Name, formatValue(v, ""))
		}
	}
}

// formatValue renders a value as Terraform prints outputs: strings quoted, lists and maps
// one element per line.
func formatValue(v cty.Value, indent string) string {
	if v.IsNull() {
		return "null"
	}
	ty := v.Type()
	switch {
	case ty == cty.String:
		b, _ := json.Marshal(v.AsString())
		return string(b)
	case ty == cty.Number:
		return v.AsBigFloat().Text('f', -1)
	case ty == cty.Bool:
		return fmt.Sprint(v.True())
	case ty.IsListType() || ty.IsSetType() || ty.IsTupleType():
		if v.LengthInt() == 0 {
			return "[]"
		}
		var sb strings.Builder
		sb.WriteString("[\n")
		for it := v.ElementIterator(); it.Next(); {
			_, ev := it.Element()
			sb.WriteString(indent + "  " + formatValue(ev, indent+"  ") + ",\n")
		}
		sb.WriteString(indent + "]")
		return sb.String()
	case ty.IsMapType() || ty.IsObjectType():
		if v.LengthInt() == 0 {
			return "{}"
		}
		type kv struct{ k, v string }
		var items []kv
		width := 0
		for it := v.ElementIterator(); it.Next(); {
			k, ev := it.Element()
			ks, _ := json.Marshal(k.AsString())
			items = append(items, kv{string(ks), formatValue(ev, indent+"  ")})
			width = max(width, len(ks))
		}
		var sb strings.Builder
		sb.WriteString("{\n")
		for _, it := range items {
			fmt.Fprintf(&sb, "%s  %-*s = %s\n", indent, width, it.k, it.v)
		}
		sb.WriteString(indent + "}")
		return sb.String()
	}
	return v.GoString()
}

// applyOutputs computes and prints the outputs at the end of a successful apply: the ids
// of what the apply created are read from the account (bounded by a deadline).
func (m *Meta) applyOutputs(ctx context.Context, conn *b2client.Conn, accts []*account, p *planner.Plan, jsonOut bool) {
	if len(p.Outputs) == 0 {
		return
	}
	if accts == nil {
		accts = []*account{{conn: conn}}
	}
	ids := map[string]string{}
	for _, o := range p.Outputs {
		if o.Unknown {
			ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			var err error
			ids, err = accountOutputIDs(ctx, p, accts)
			cancel()
			if err != nil {
				fmt.Fprintf(m.Stderr, "Warning: outputs: read the account: %v (run \"b2plan output\" to see them)\n", err)
			}
			break
		}
	}
	outs := planner.ResolveOutputs(p, ids)
	if jsonOut {
		b, _ := json.Marshal(map[string]any{"@timestamp": now().UTC().Format(time.RFC3339Nano), "type": "outputs", "outputs": outputsJSON(outs, false)})
		m.Stdout.Write(append(b, '\n'))
		return
	}
	fmt.Fprint(m.Stdout, "\nOutputs:\n\n")
	writeOutputs(m.Stdout, outs)
}
