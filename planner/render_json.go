package planner

import (
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"time"
)

// The JSON plan document (docs/plan-format.md §3) is Terraform's JSON output
// format for plans (format 1.x, as read by github.com/hashicorp/terraform-json),
// filled with b2plan's values, plus b2plan's own fields.

// JSONFormatVersion is format_version of the JSON plan document. Its major
// version stays Terraform's (1): consumers of Terraform's format accept 1.x.
// 1.1 added Terraform's fields (planned_values, prior_state, variables,
// applyable, complete, errored, mode, provider_name, replace_paths, ...),
// moves as resources of type "move", and unmanaged_resources.
const JSONFormatVersion = "1.1"

// ProviderName is provider_name of every resource: b2plan itself.
const ProviderName = "b2plan"

// MoveType is the resource type of a move in resource_changes and planned_values.
const MoveType = "move"

// DocOptions complete the JSON document with what the plan does not hold.
type DocOptions struct {
	// ToolVersion is b2plan's version (terraform_version and b2plan_version).
	ToolVersion string
}

type jsonPlan struct {
	FormatVersion    string                  `json:"format_version"`
	TerraformVersion string                  `json:"terraform_version,omitempty"`
	B2planVersion    string                  `json:"b2plan_version,omitempty"`
	Variables        map[string]jsonVariable `json:"variables,omitempty"`
	PlannedValues    jsonValues              `json:"planned_values"`
	ResourceDrift    []jsonResourceChange    `json:"resource_drift"`
	ResourceChanges  []jsonResourceChange    `json:"resource_changes"`
	PriorState       jsonState               `json:"prior_state"`
	Timestamp        string                  `json:"timestamp"`
	Applyable        bool                    `json:"applyable"`
	Complete         bool                    `json:"complete"`
	Errored          bool                    `json:"errored"`

	// b2plan's fields.
	PlanID             string          `json:"plan_id"`
	CreatedAt          string          `json:"created_at"`
	Endpoint           string          `json:"endpoint,omitempty"`
	AccountID          string          `json:"account_id,omitempty"`
	Targets            []string        `json:"targets,omitempty"`
	UnmanagedResources []jsonUnmanaged `json:"unmanaged_resources"`
	ObjectMoves        []jsonMove      `json:"object_moves"`
	Summary            jsonSummary     `json:"summary"`
	HasChanges         bool            `json:"has_changes"`

	// Terraform's output_changes (json_lang.go).
	OutputChanges map[string]OutputChangeJSON `json:"output_changes,omitempty"`
}

// jsonVariable is Terraform's {"value": …}; a sensitive variable has a null
// value and "sensitive": true (b2plan never holds the value in a plan).
type jsonVariable struct {
	Value     json.RawMessage `json:"value"`
	Sensitive bool            `json:"sensitive,omitempty"`
}

type jsonValues struct {
	RootModule jsonModule `json:"root_module"`
}

type jsonModule struct {
	Resources []jsonStateResource `json:"resources"`
}

type jsonState struct {
	FormatVersion    string     `json:"format_version"`
	TerraformVersion string     `json:"terraform_version,omitempty"`
	Values           jsonValues `json:"values"`
}

// jsonStateResource is a resource of planned_values / prior_state.
type jsonStateResource struct {
	Address         string                     `json:"address"`
	Mode            string                     `json:"mode"`
	Type            string                     `json:"type"`
	Name            string                     `json:"name"`
	Index           json.RawMessage            `json:"index,omitempty"`
	ProviderName    string                     `json:"provider_name"`
	SchemaVersion   int                        `json:"schema_version"`
	Values          map[string]json.RawMessage `json:"values"`
	SensitiveValues map[string]any             `json:"sensitive_values"`
}

type jsonSummary struct {
	Add     int   `json:"add"`
	Change  int   `json:"change"`
	Replace int   `json:"replace"`
	Destroy int   `json:"destroy"`
	Objects int64 `json:"objects_to_move"`
	Bytes   int64 `json:"bytes_to_move"`
}

type jsonResourceChange struct {
	Address       string          `json:"address"`
	Mode          string          `json:"mode"`
	Type          string          `json:"type"`
	Name          string          `json:"name"`
	Index         json.RawMessage `json:"index,omitempty"`
	ModuleAddress string          `json:"module_address,omitempty"`
	ProviderName  string          `json:"provider_name"`
	Deposed       string          `json:"deposed,omitempty"`
	// b2plan's: the provider block ("b2" or "b2.ALIAS") when the plan spans several accounts.
	B2planProvider string     `json:"b2plan_provider,omitempty"`
	Change         jsonChange `json:"change"`
	ActionReason   string     `json:"action_reason,omitempty"`
	// b2plan's: the reason in words, and remarks.
	B2planReason string   `json:"b2plan_reason,omitempty"`
	B2planNotes  []string `json:"b2plan_notes,omitempty"`
}

// jsonChange is Terraform's change object. A sensitive attribute is null in before/after and
// true in before_sensitive/after_sensitive (which are false when before/after is null, as in
// Terraform). Unlike Terraform, which prints sensitive values in its JSON plan, b2plan never
// holds them in a plan.
type jsonChange struct {
	Actions         []string                   `json:"actions"`
	Before          map[string]json.RawMessage `json:"before"`
	After           map[string]json.RawMessage `json:"after"`
	AfterUnknown    map[string]bool            `json:"after_unknown"`
	BeforeSensitive any                        `json:"before_sensitive"`
	AfterSensitive  any                        `json:"after_sensitive"`
	ReplacePaths    [][]string                 `json:"replace_paths,omitempty"`
}

type jsonUnmanaged struct {
	Address string `json:"address"`
	Type    string `json:"type"`
	Name    string `json:"name"`
	ID      string `json:"id"`
	// Deleted: the plan deletes it (prune = true); the delete is in resource_changes.
	Deleted bool     `json:"deleted"`
	Actions []string `json:"actions"`
	Note    string   `json:"note,omitempty"`
}

type jsonMove struct {
	Address       string       `json:"address"`
	Bucket        string       `json:"bucket"`
	ToBucket      string       `json:"to_bucket"`
	From          string       `json:"from"`
	To            string       `json:"to"`
	Versions      string       `json:"versions"`
	Source        string       `json:"source"`
	OnConflict    string       `json:"on_conflict"`
	Actions       []string     `json:"actions"`
	Objects       int          `json:"objects"`
	Bytes         int64        `json:"bytes"`
	Copies        int          `json:"copies"`
	LargeCopies   int          `json:"large_copies"`
	Parts         int          `json:"parts"`
	Deletes       int          `json:"deletes"`
	Hides         int          `json:"hides"`
	AlreadyCopied int          `json:"already_copied"`
	Verify        string       `json:"verify,omitempty"`
	Verifies      int          `json:"verifies"`
	VerifyBytes   int64        `json:"verify_bytes"`
	Sample        []string     `json:"sample"`
	Conflicts     []Conflict   `json:"conflicts"`
	Locked        []Locked     `json:"locked"`
	Unfinished    []Unfinished `json:"unfinished"`
	Abandoned     []Unfinished `json:"abandoned"`
	Unprotected   []Locked     `json:"unprotected,omitempty"`
	Remaining     int          `json:"remaining"`
	Hidden        int          `json:"hidden"`
	Calls         Calls        `json:"calls"`
	Notes         []string     `json:"notes,omitempty"`
	// The totals of a chunked move's lists cut at MaxListed entries
	// (present only when a list was cut).
	ConflictCount    int `json:"conflict_count,omitempty"`
	LockedCount      int `json:"locked_count,omitempty"`
	UnprotectedCount int `json:"unprotected_count,omitempty"`
}

// sensitiveMap is before_sensitive / after_sensitive for an attribute list.
func sensitiveMap(list []Attr) any {
	if list == nil {
		return false
	}
	return sensitiveValues(list)
}

func sensitiveValues(list []Attr) map[string]any {
	out := map[string]any{}
	for _, a := range list {
		if a.Sensitive {
			out[a.Name] = true
		} else if len(a.SensitivePaths) > 0 {
			out[a.Name] = a.SensitivePaths
		}
	}
	return out
}

// attrMap is the JSON object of an attribute list: sensitive and unknown
// values are null (unknown ones are recorded in unknown when it is not nil).
func attrMap(list []Attr, unknown map[string]bool) map[string]json.RawMessage {
	if list == nil {
		return nil
	}
	out := make(map[string]json.RawMessage, len(list))
	for _, a := range list {
		if a.Sensitive {
			out[a.Name] = json.RawMessage("null")
			continue
		}
		if a.Unknown {
			out[a.Name] = json.RawMessage("null")
			if unknown != nil {
				unknown[a.Name] = true
			}
			continue
		}
		if len(a.Value) == 0 {
			out[a.Name] = json.RawMessage("null")
		} else {
			out[a.Name] = a.Value
		}
	}
	return out
}

// ActionReason is Terraform's action_reason keyword for a change ("" for none).
func ActionReason(ch *Change) string {
	switch ch.Action {
	case Replace:
		if ch.Reason == ReplaceReason {
			return "replace_by_request" // -replace, and nothing else differs
		}
		return "replace_because_cannot_update" // B2 application keys are immutable
	case Delete:
		if ch.Key != nil && ch.Key.Deposed {
			return "" // Terraform gives deposed objects no reason: "deposed" says it
		}
		if !strings.HasPrefix(ch.Address, "unmanaged.") {
			return "" // a declared resource: b2plan destroy, where Terraform gives no reason
		}
		return "delete_because_no_resource_config"
	}
	return ""
}

// replacePaths are the attributes whose difference forces a replacement.
func replacePaths(ch *Change) [][]string {
	if ch.Action != Replace {
		return nil
	}
	var out [][]string
	for _, n := range ch.Changed {
		out = append(out, []string{n})
	}
	return out
}

func indexJSON(has bool, idx string) json.RawMessage {
	if !has {
		return nil
	}
	return json.RawMessage(strconv.Quote(idx))
}

func resourceChange(ch *Change) jsonResourceChange {
	r := jsonResourceChange{Address: ch.Address, Mode: "managed", Type: ch.Type, Name: ch.Name,
		Index: indexJSON(ch.HasIndex, ch.Index), ProviderName: ProviderName,
		ActionReason: ActionReason(ch), B2planReason: ch.Reason, B2planNotes: ch.Notes}
	if ch.Key != nil && ch.Key.Deposed {
		r.Deposed = ch.Key.OldID
	}
	unk := map[string]bool{}
	c := jsonChange{Actions: ch.Action.JSONActions(), Before: attrMap(ch.Before, nil),
		After: attrMap(ch.After, unk), AfterUnknown: unk, ReplacePaths: replacePaths(ch)}
	switch ch.Action {
	case Delete:
		c.After = nil
	case Create:
		c.Before = nil
	}
	c.BeforeSensitive, c.AfterSensitive = false, false
	if c.Before != nil {
		c.BeforeSensitive = sensitiveMap(ch.Before)
	}
	if c.After != nil {
		c.AfterSensitive = sensitiveMap(ch.After)
	}
	r.Change = c
	return r
}

// moveValues are the attributes of a move as a resource: where from and to,
// and what it still has to move. Before the move, objects and bytes are the
// planned totals; after it, they are 0 (the same for a completed move).
func moveValues(m *Move, pending bool) map[string]json.RawMessage {
	objects, bytes := 0, int64(0)
	if pending {
		objects, bytes = m.Objects, m.Bytes
	}
	return map[string]json.RawMessage{
		"bucket":      raw(m.Bucket),
		"from":        raw(m.From),
		"to_bucket":   raw(m.ToBucket),
		"to":          raw(m.To),
		"versions":    raw(m.Versions),
		"source":      raw(m.Source),
		"on_conflict": raw(m.OnConflict),
		"objects":     raw(objects),
		"bytes":       raw(bytes),
	}
}

// moveChange is a move as a resource change: type "move", actions
// ["update"] when it has operations (["no-op"] when it is complete).
func moveChange(m *Move) jsonResourceChange {
	actions := []string{"no-op"}
	if m.Action() == MoveObjects {
		actions = []string{"update"}
	}
	return jsonResourceChange{Address: m.Address, Mode: "managed", Type: MoveType, Name: m.Name,
		Index: indexJSON(m.HasIndex, m.Index), ProviderName: ProviderName, B2planNotes: m.Notes,
		Change: jsonChange{Actions: actions, Before: moveValues(m, true), After: moveValues(m, false),
			AfterUnknown: map[string]bool{}, BeforeSensitive: map[string]bool{}, AfterSensitive: map[string]bool{}}}
}

func stateResource(r jsonResourceChange, values map[string]json.RawMessage, sens map[string]any) jsonStateResource {
	return jsonStateResource{Address: r.Address, Mode: r.Mode, Type: r.Type, Name: r.Name, Index: r.Index,
		ProviderName: r.ProviderName, Values: values, SensitiveValues: sens}
}

// driftChange is an unmanaged resource as Terraform's drift: b2plan keeps
// no state, so the drift it sees is a resource in the namespace it owns
// (b2plan.owns) that exists in B2 and is declared nowhere, i.e. created
// outside the configuration: actions ["create"], before null, after its
// live attributes (those of its delete when prune deletes it).
func driftChange(d *Drift, del *Change) jsonResourceChange {
	after := map[string]json.RawMessage{"name": raw(d.Name), "id": raw(d.ID)}
	var sens any = map[string]bool{}
	if del != nil && del.Before != nil {
		after = attrMap(del.Before, nil)
		sens = sensitiveMap(del.Before)
	}
	return jsonResourceChange{Address: d.Address, Mode: "managed", Type: d.Type, Name: d.Name,
		ProviderName: ProviderName, B2planReason: "exists in B2, matches b2plan.owns, declared nowhere",
		Change: jsonChange{Actions: []string{"create"}, After: after, AfterUnknown: map[string]bool{},
			BeforeSensitive: false, AfterSensitive: sens}}
}

// JSONDocument builds the JSON plan document.
func JSONDocument(p *Plan, o DocOptions) any {
	s := p.Summary()
	c := p.Counts()
	doc := jsonPlan{FormatVersion: JSONFormatVersion, TerraformVersion: o.ToolVersion, B2planVersion: o.ToolVersion,
		PlannedValues:   jsonValues{RootModule: jsonModule{Resources: []jsonStateResource{}}},
		ResourceDrift:   []jsonResourceChange{},
		ResourceChanges: []jsonResourceChange{},
		PriorState: jsonState{FormatVersion: "1.0", TerraformVersion: o.ToolVersion,
			Values: jsonValues{RootModule: jsonModule{Resources: []jsonStateResource{}}}},
		Timestamp: p.CreatedAt.UTC().Format(time.RFC3339),
		Applyable: !p.Errored && p.HasActions(),
		Complete:  !p.Errored && len(p.Targets) == 0,
		Errored:   p.Errored,
		PlanID:    p.ID, CreatedAt: p.CreatedAt.UTC().Format(time.RFC3339),
		Endpoint: p.Endpoint, AccountID: p.AccountID, Targets: p.Targets,
		UnmanagedResources: []jsonUnmanaged{}, ObjectMoves: []jsonMove{},
		Summary:    jsonSummary{c.Add, c.Change, c.Replace, c.Destroy, s.Objects, s.Bytes},
		HasChanges: p.HasChanges(), OutputChanges: p.OutputChangesJSON()}
	if len(p.Variables) > 0 {
		doc.Variables = map[string]jsonVariable{}
		for _, v := range p.Variables {
			jv := jsonVariable{Value: v.Value, Sensitive: v.Sensitive}
			if v.Sensitive || len(jv.Value) == 0 {
				jv.Value = json.RawMessage("null")
			}
			doc.Variables[v.Name] = jv
		}
	}
	planned := &doc.PlannedValues.RootModule.Resources
	prior := &doc.PriorState.Values.RootModule.Resources
	byAddr := map[string]*Change{}
	for _, ch := range p.Changes {
		byAddr[ch.Address] = ch
		r := resourceChange(ch)
		r.ModuleAddress, r.B2planProvider = ch.Module, p.providerName(ch)
		doc.ResourceChanges = append(doc.ResourceChanges, r)
		if r.Change.After != nil {
			*planned = append(*planned, stateResource(r, attrMap(ch.After, nil), sensitiveValues(ch.After)))
		}
		if r.Change.Before != nil {
			*prior = append(*prior, stateResource(r, r.Change.Before, sensitiveValues(ch.Before)))
		}
	}
	for _, m := range p.Moves {
		r := moveChange(m)
		doc.ResourceChanges = append(doc.ResourceChanges, r)
		*planned = append(*planned, stateResource(r, r.Change.After, map[string]any{}))
		*prior = append(*prior, stateResource(r, r.Change.Before, map[string]any{}))
	}
	for _, d := range p.Drift {
		var del *Change
		if d.Deleted {
			del = byAddr[d.Address]
		}
		doc.ResourceDrift = append(doc.ResourceDrift, driftChange(d, del))
		a := []string{"no-op"}
		if d.Deleted {
			a = []string{"delete"}
		}
		doc.UnmanagedResources = append(doc.UnmanagedResources, jsonUnmanaged{Address: d.Address, Type: d.Type,
			Name: d.Name, ID: d.ID, Deleted: d.Deleted, Actions: a, Note: d.Note})
	}
	for _, m := range p.Moves {
		sample, _ := m.SampleLines(10)
		jm := jsonMove{Address: m.Address, Bucket: m.Bucket, ToBucket: m.ToBucket, From: m.From, To: m.To,
			Versions: m.Versions, Source: m.Source, OnConflict: m.OnConflict, Actions: m.Action().JSONActions(),
			Objects: m.Objects, Bytes: m.Bytes, Copies: m.Copies, LargeCopies: m.LargeCopies, Parts: m.Parts,
			Deletes: m.Deletes, Hides: m.Hides, AlreadyCopied: m.AlreadyCopied, Sample: nonNil(sample),
			Verify: m.Verify, Verifies: m.Verifies, VerifyBytes: m.VerifyBytes,
			Conflicts: m.Conflicts, Locked: m.Locked, Unfinished: m.Unfinished, Hidden: m.NHidden(),
			Abandoned: m.Abandoned, Remaining: m.Remaining(), Unprotected: m.Unprotected,
			Calls: m.Calls, Notes: m.Notes}
		if n := m.NConflicts(); n > len(m.Conflicts) {
			jm.ConflictCount = n
		}
		if n := m.NLocked(); n > len(m.Locked) {
			jm.LockedCount = n
		}
		if n := m.NUnprotected(); n > len(m.Unprotected) {
			jm.UnprotectedCount = n
		}
		if jm.Conflicts == nil {
			jm.Conflicts = []Conflict{}
		}
		if jm.Locked == nil {
			jm.Locked = []Locked{}
		}
		if jm.Unfinished == nil {
			jm.Unfinished = []Unfinished{}
		}
		if jm.Abandoned == nil {
			jm.Abandoned = []Unfinished{}
		}
		doc.ObjectMoves = append(doc.ObjectMoves, jm)
	}
	return doc
}

// RenderJSON writes the JSON plan document (one line, newline-terminated).
func RenderJSON(w io.Writer, p *Plan, o DocOptions) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(JSONDocument(p, o))
}
