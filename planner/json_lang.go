package planner

import "encoding/json"

// The JSON plan document's parts for outputs, modules and provider aliases (the rest of the
// document is render.go). b2plan keeps no state, so an output has no previous value: its
// change is always a "create" with before null.

// OutputChangeJSON is one entry of the document's output_changes (Terraform's shape).
type OutputChangeJSON struct {
	Actions         []string        `json:"actions"`
	Before          json.RawMessage `json:"before"`
	After           json.RawMessage `json:"after"`
	AfterUnknown    bool            `json:"after_unknown"`
	BeforeSensitive bool            `json:"before_sensitive"`
	AfterSensitive  bool            `json:"after_sensitive"`
}

// OutputChangesJSON returns output_changes: every output by name; a sensitive or unknown
// value is null (with after_sensitive / after_unknown).
func (p *Plan) OutputChangesJSON() map[string]OutputChangeJSON {
	if len(p.Outputs) == 0 {
		return nil
	}
	out := make(map[string]OutputChangeJSON, len(p.Outputs))
	for _, o := range p.Outputs {
		c := OutputChangeJSON{Actions: []string{"create"}, Before: json.RawMessage("null"), After: json.RawMessage("null"),
			AfterUnknown: o.Unknown, AfterSensitive: o.Sensitive}
		if !o.Unknown && !o.Sensitive && o.Value != nil {
			c.After = o.Value
		}
		out[o.Name] = c
	}
	return out
}

// ProviderName is a change's provider as Terraform's JSON names it: "b2" or "b2.ALIAS".
func (ch *Change) ProviderName() string {
	if ch.Provider == "" {
		return "b2"
	}
	return "b2." + ch.Provider
}

// providerName is provider_name in the document: set on every change when the plan spans
// several accounts, absent otherwise.
func (p *Plan) providerName(ch *Change) string {
	if len(p.Accounts) == 0 {
		return ""
	}
	return ch.ProviderName()
}
