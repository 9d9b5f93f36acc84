package planner

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/b2plan/b2plan/config"
	"github.com/b2plan/b2plan/live"
)

// Output is an output value of the configuration (output "NAME" blocks). b2plan keeps no
// state: the value is computed from the configuration and the live account, each time.
//
// A sensitive output's value is never in the plan's JSON (nor in a plan file): it is kept in
// memory for "b2plan output -raw/-json" (Reveal) and is lost when the plan is saved.
type Output struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Sensitive   bool   `json:"sensitive,omitempty"`
	// Type is the value's type in cty's JSON form: "string", ["map","string"], ...
	Type json.RawMessage `json:"type"`
	// Value is the JSON value when known (and not sensitive).
	Value json.RawMessage `json:"value,omitempty"`
	// Unknown marks a value that depends on ids B2 assigns during apply (Refs); Template is
	// the value with each such id written "${ADDRESS.id}" (not for sensitive outputs).
	Unknown  bool            `json:"unknown,omitempty"`
	Template json.RawMessage `json:"template,omitempty"`
	Refs     []OutputRef     `json:"refs,omitempty"`

	secret json.RawMessage // a sensitive output's value (or template), in memory only
}

// OutputRef names a bucket or key whose id an output needs.
type OutputRef struct {
	Address string `json:"address"`
	Type    string `json:"type"` // "bucket" or "key"
	Name    string `json:"name"` // the B2 name, to find the id in the account
	// Provider is the alias of the account that holds it ("" = the default provider).
	Provider string `json:"provider,omitempty"`
}

// Reveal returns the value's JSON, also for a sensitive output (nil when unknown, or when a
// sensitive output was read from a plan file).
func (o *Output) Reveal() json.RawMessage {
	if o.Unknown {
		return nil
	}
	if o.Sensitive {
		return o.secret
	}
	return o.Value
}

// CtyValue decodes the revealed value (cty.NilVal when there is none).
func (o *Output) CtyValue() (cty.Value, error) {
	raw := o.Reveal()
	if raw == nil {
		return cty.NilVal, nil
	}
	ty, err := ctyjson.UnmarshalType(o.Type)
	if err != nil {
		return cty.NilVal, fmt.Errorf("output %s: %w", o.Name, err)
	}
	return ctyjson.Unmarshal(raw, ty)
}

func (pl *planner) planOutputs() {
	names := map[string]string{} // address → B2 name
	provs := map[string]string{}
	for _, b := range pl.d.Buckets {
		names[b.Address], provs[b.Address] = b.Name, b.Provider
	}
	for _, k := range pl.d.Keys {
		names[k.Address], provs[k.Address] = k.Name, k.Provider
	}
	for _, co := range pl.d.Outputs {
		o := &Output{Name: co.Name, Description: co.Description, Sensitive: co.Sensitive}
		v := co.Value
		if len(co.Refs) > 0 {
			if rv, err := config.ResolveOutputValue(v, co.Refs, pl.ids); err == nil {
				v = rv
			} else {
				o.Unknown = true
				for _, r := range co.Refs {
					_, res := SplitModule(r)
					typ, _, _ := cutDot(res)
					o.Refs = append(o.Refs, OutputRef{Address: r, Type: typ, Name: names[r], Provider: provs[r]})
				}
			}
		}
		if err := o.set(v, o.Unknown); err != nil {
			pl.errorf(rangePtr(co.Range), "Invalid output value", "Output %q cannot be encoded: %v.", co.Name, err)
			continue
		}
		pl.p.Outputs = append(pl.p.Outputs, o)
	}
	sort.Slice(pl.p.Outputs, func(i, j int) bool { return pl.p.Outputs[i].Name < pl.p.Outputs[j].Name })
}

// set stores v as the value (or the template when unknown), hidden when sensitive.
func (o *Output) set(v cty.Value, unknown bool) error {
	ty := v.Type()
	tj, err := ctyjson.MarshalType(ty)
	if err != nil {
		return err
	}
	vj, err := ctyjson.Marshal(v, ty)
	if err != nil {
		return err
	}
	o.Type, o.Value, o.Template, o.secret = tj, nil, nil, nil
	switch {
	case o.Sensitive:
		o.secret = vj
	case unknown:
		o.Template = vj
	default:
		o.Value = vj
	}
	return nil
}

func cutDot(addr string) (string, string, bool) {
	for i := 0; i < len(addr); i++ {
		if addr[i] == '.' {
			return addr[:i], addr[i+1:], true
		}
	}
	return addr, "", false
}

// OutputIDs returns the ids, by address, of what the unknown outputs of p refer to, found
// by name in l (a bucket by name; a key when exactly one has the name).
func OutputIDs(p *Plan, l *live.Live) map[string]string {
	return OutputIDsFor(p, "", l)
}

// OutputIDsFor is OutputIDs for the refs of one provider's account (l is that account).
func OutputIDsFor(p *Plan, provider string, l *live.Live) map[string]string {
	ids := map[string]string{}
	for _, o := range p.Outputs {
		for _, r := range o.Refs {
			if r.Provider != provider {
				continue
			}
			switch r.Type {
			case "bucket":
				if b := l.Bucket(r.Name); b != nil {
					ids[r.Address] = b.ID
				}
			case "key":
				if ks := l.KeysNamed(r.Name); len(ks) == 1 {
					ids[r.Address] = ks[0].ID
				}
			}
		}
	}
	return ids
}

// OutputsNeedKeys reports whether resolving the outputs of p needs the account's keys.
func (p *Plan) OutputsNeedKeys() bool {
	for _, o := range p.Outputs {
		for _, r := range o.Refs {
			if r.Type == "key" {
				return true
			}
		}
	}
	return false
}

// ResolveOutputs returns the outputs of p with the unknown values computed from ids (see
// OutputIDs), after apply. An output whose ids are still missing stays unknown; a sensitive
// output read from a plan file stays without a value.
func ResolveOutputs(p *Plan, ids map[string]string) []*Output {
	out := make([]*Output, 0, len(p.Outputs))
	for _, o := range p.Outputs {
		c := *o
		out = append(out, &c)
		if !o.Unknown {
			continue
		}
		tmpl := o.Template
		if o.Sensitive {
			tmpl = o.secret
		}
		if tmpl == nil {
			continue
		}
		ty, err := ctyjson.UnmarshalType(o.Type)
		if err != nil {
			continue
		}
		v, err := ctyjson.Unmarshal(tmpl, ty)
		if err != nil {
			continue
		}
		refs := make([]string, len(o.Refs))
		for i, r := range o.Refs {
			refs[i] = r.Address
		}
		rv, err := config.ResolveOutputValue(v, refs, ids)
		if err != nil {
			continue
		}
		if c.set(rv, false) == nil {
			c.Unknown, c.Refs = false, nil
		}
	}
	return out
}
