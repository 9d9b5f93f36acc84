package planner

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/b2plan/b2plan/config"
	"github.com/b2plan/b2plan/live"
)

// tfSummary counts a plan document as PR-comment tools and plan summarisers
// built on terraform-json do: only resource_changes, by actions.
type tfSummary struct{ add, change, destroy int }

func summarise(t *testing.T, p *tfjson.Plan) (s tfSummary, changed []string) {
	t.Helper()
	for _, rc := range p.ResourceChanges {
		a := rc.Change.Actions // a nil Change panics here, as in those tools
		switch {
		case a.Replace():
			s.add++
			s.destroy++
		case a.Create():
			s.add++
		case a.Update():
			s.change++
		case a.Delete():
			s.destroy++
		case a.NoOp():
			continue
		default:
			t.Errorf("%s: actions %v are none of Terraform's", rc.Address, a)
		}
		changed = append(changed, rc.Address)
	}
	return s, changed
}

// conformancePlans are plans with creates, updates, replacements, deletes,
// unmanaged resources, moves, sensitive values and errors.
func conformancePlans(t *testing.T) map[string]*Plan {
	plans := map[string]*Plan{"composite": compositePlan(t)}

	// Errors: Object Lock cannot be turned off.
	locked := liveBucket("acme-locked")
	locked.ObjectLock.Enabled = true
	p, diags := Compute(desired(func(d *config.Desired) {
		d.Buckets = []*config.Bucket{{Address: "bucket.locked", Name: "acme-locked", Type: "allPublic"},
			{Address: "bucket.new", Name: "acme-new", Type: "allPrivate"}}
	}), &live.Live{ObservedBuckets: true, Buckets: []live.Bucket{locked}}, opts())
	if !diags.HasErrors() {
		t.Fatal("the errored plan has no error")
	}
	plans["errored"] = p

	// Only a move.
	var vs []live.Version
	for i := 0; i < 3; i++ {
		vs = append(vs, ver("in/f"+string(rune('a'+i)), "f"+string(rune('a'+i)), 10, byte(i+1)))
	}
	data := liveBucket("acme-data")
	p, diags = Compute(desired(func(d *config.Desired) {
		d.Buckets = []*config.Bucket{{Address: "bucket.data", Name: "acme-data", Type: "allPrivate"}}
		d.Moves = []*config.Move{{Address: "move.only", Bucket: "acme-data", From: "in/", To: "out/"}}
	}), &live.Live{ObservedBuckets: true, Buckets: []live.Bucket{data},
		Listings: []live.Listing{{BucketName: "acme-data", BucketID: data.ID, Versions: vs}}}, opts())
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	plans["move-only"] = p

	// Unmanaged resources left in place (prune = false).
	p, diags = Compute(desired(func(d *config.Desired) {
		d.Settings.OwnsBuckets = []string{"acme-*"}
	}), &live.Live{ObservedBuckets: true, Buckets: []live.Bucket{liveBucket("acme-stray")}}, opts())
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	plans["drift-only"] = p

	// Nothing to do, with variables (one sensitive).
	p, _ = Compute(desired(func(d *config.Desired) {
		d.Variables = map[string]string{"env": `"prod"`, "token": config.SensitiveText, "n": "3",
			"tags": `{ team = "web" }`}
	}), &live.Live{}, opts())
	plans["empty"] = p
	return plans
}

// TestTerraformJSONConformance feeds every plan document to
// github.com/hashicorp/terraform-json as a Terraform plan: it must
// unmarshal and validate, every resource change and drift entry must have a
// change with Terraform's actions, and a summariser that reads only
// resource_changes must count every change (moves included) as
// Plan.Summary does.
func TestTerraformJSONConformance(t *testing.T) {
	docs := map[string][]byte{}
	plans := conformancePlans(t)
	for name, p := range plans {
		var b bytes.Buffer
		if err := RenderJSON(&b, p, DocOptions{ToolVersion: "v1.2.3"}); err != nil {
			t.Fatal(err)
		}
		docs[name] = b.Bytes()
	}
	golden, err := os.ReadFile(filepath.Join("testdata", "plan_json.golden"))
	if err != nil {
		t.Fatal(err)
	}
	docs["golden"] = golden
	plans["golden"] = plans["composite"]

	for name, doc := range docs {
		t.Run(name, func(t *testing.T) {
			p := plans[name]
			var tp tfjson.Plan
			if err := json.Unmarshal(doc, &tp); err != nil {
				t.Fatalf("terraform-json cannot read it: %v", err)
			}
			if err := tp.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			fl := flagsOf(doc)
			if fl.Errored != p.Errored || fl.Applyable != (!p.Errored && p.HasActions()) {
				t.Errorf("errored %v applyable %v; plan errored %v, has actions %v", fl.Errored, fl.Applyable, p.Errored, p.HasActions())
			}
			for _, list := range [][]*tfjson.ResourceChange{tp.ResourceChanges, tp.ResourceDrift} {
				for _, rc := range list {
					if rc.Change == nil {
						t.Fatalf("%s: no change object", rc.Address)
					}
					if rc.Mode != tfjson.ManagedResourceMode || rc.ProviderName == "" || rc.Type == "" || rc.Name == "" {
						t.Errorf("%s: mode %q provider %q type %q name %q", rc.Address, rc.Mode, rc.ProviderName, rc.Type, rc.Name)
					}
					if len(rc.Change.Actions) == 0 {
						t.Errorf("%s: no actions", rc.Address)
					}
				}
			}
			// Every change and every move with operations is counted,
			// independently of Plan.Summary: from the plan's own lists.
			got, changed := summarise(t, &tp)
			var want []string
			for _, ch := range p.Changes {
				if ch.Action != NoOp {
					want = append(want, ch.Address)
				}
			}
			for _, m := range p.Moves {
				if len(m.Ops) > 0 {
					want = append(want, m.Address)
				}
			}
			sort.Strings(want)
			sort.Strings(changed)
			if strings.Join(want, " ") != strings.Join(changed, " ") {
				t.Errorf("changes seen by a summariser %v, want %v", changed, want)
			}
			s := p.Summary()
			if got != (tfSummary{s.Add, s.Change, s.Destroy}) {
				t.Errorf("summariser %+v, Plan.Summary %+v", got, s)
			}
			if len(p.Moves) > 0 {
				seen := 0
				for _, rc := range tp.ResourceChanges {
					if rc.Type == MoveType {
						seen++
						if before, ok := rc.Change.Before.(map[string]any); !ok || before["objects"] == nil || before["bytes"] == nil {
							t.Errorf("%s: before %v has no objects / bytes", rc.Address, rc.Change.Before)
						}
					}
				}
				if seen != len(p.Moves) {
					t.Errorf("%d moves in resource_changes, want %d", seen, len(p.Moves))
				}
			}
			if len(tp.ResourceDrift) != len(p.Drift) {
				t.Errorf("%d drift entries, want %d", len(tp.ResourceDrift), len(p.Drift))
			}
			// planned_values and prior_state read as Terraform state values.
			if tp.PlannedValues == nil || tp.PlannedValues.RootModule == nil || tp.PriorState == nil {
				t.Fatal("no planned_values / prior_state")
			}
			for _, r := range tp.PlannedValues.RootModule.Resources {
				if r.Mode != tfjson.ManagedResourceMode || r.AttributeValues == nil {
					t.Errorf("planned_values %s: mode %q values %v", r.Address, r.Mode, r.AttributeValues)
				}
			}
		})
	}

	// What the documents must say, plan by plan.
	var tp tfjson.Plan
	_ = json.Unmarshal(docs["errored"], &tp)
	if fl := flagsOf(docs["errored"]); !fl.Errored || fl.Applyable || fl.Complete {
		t.Errorf("errored plan: %+v", fl)
	}
	tp = tfjson.Plan{}
	_ = json.Unmarshal(docs["move-only"], &tp)
	if s, _ := summarise(t, &tp); s.change != 1 || !flagsOf(docs["move-only"]).Applyable {
		t.Errorf("move-only plan: summariser %+v, %+v: the move is invisible", s, flagsOf(docs["move-only"]))
	}
	tp = tfjson.Plan{}
	_ = json.Unmarshal(docs["empty"], &tp)
	if fl := flagsOf(docs["empty"]); fl.Applyable || !fl.Complete || len(tp.ResourceChanges) != 0 {
		t.Errorf("empty plan: %+v, changes %d", fl, len(tp.ResourceChanges))
	}
	wantVars := map[string]any{"env": "prod", "n": json.Number("3"), "tags": map[string]any{"team": "web"}, "token": nil}
	for n, want := range wantVars {
		v := tp.Variables[n]
		if v == nil {
			t.Errorf("variable %s missing", n)
			continue
		}
		if num, ok := want.(json.Number); ok {
			if f, _ := num.Float64(); v.Value != f {
				t.Errorf("variable %s = %#v, want %v", n, v.Value, want)
			}
			continue
		}
		if gb, _ := json.Marshal(v.Value); string(gb) != mustJSON(want) {
			t.Errorf("variable %s = %s, want %s", n, gb, mustJSON(want))
		}
	}
	if !bytes.Contains(docs["empty"], []byte(`"token":{"value":null,"sensitive":true}`)) {
		t.Errorf("the sensitive variable is not marked: %s", docs["empty"])
	}
}

// planFlags are the plan's status fields (terraform-json does not decode them).
type planFlags struct{ Applyable, Complete, Errored bool }

func flagsOf(doc []byte) planFlags {
	var f planFlags
	_ = json.Unmarshal(doc, &f)
	return f
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestSummaryLine: Terraform's line, the extras on their own line, and
// never "No changes" for an errored plan or one with unmanaged resources.
func TestSummaryLine(t *testing.T) {
	plans := conformancePlans(t)
	cases := map[string][]string{
		"composite": {"Plan: 5 to add, 2 to change, 3 to destroy.",
			"b2plan: 1 key replacement (each 1 to add and 1 to destroy), 15 objects to move (91.0 kB) in 1 move, 2 objects remain under move sources (listed above with the reason)."},
		"move-only":  {"Plan: 0 to add, 1 to change, 0 to destroy.", "b2plan: 3 objects to move (30 B) in 1 move."},
		"drift-only": {"Plan: 0 to add, 0 to change, 0 to destroy.", "b2plan: 1 unmanaged resource left in place."},
		"empty":      {NoChangesLine},
	}
	for name, want := range cases {
		if got := plans[name].SummaryLine(); got != strings.Join(want, "\n") {
			t.Errorf("%s:\n got %q\nwant %q", name, got, strings.Join(want, "\n"))
		}
	}
	got := plans["errored"].SummaryLine()
	if strings.Contains(got, "No changes") || strings.HasPrefix(got, "Plan: ") || !strings.Contains(got, "errors") {
		t.Errorf("errored plan: %q", got)
	}
	// Even an errored plan with nothing planned never says "No changes".
	p := &Plan{Errored: true}
	if got := p.SummaryLine(); strings.Contains(got, "No changes") {
		t.Errorf("errored empty plan: %q", got)
	}
	var b bytes.Buffer
	_ = RenderHuman(&b, plans["errored"], RenderOptions{})
	if strings.Contains(b.String(), "No changes") {
		t.Errorf("errored plan rendering says No changes:\n%s", b.String())
	}
}
