package importer_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/b2plan/b2plan/config"
	"github.com/b2plan/b2plan/importer"
	"github.com/b2plan/b2plan/live"
	"github.com/b2plan/b2plan/planner"
)

// TestImportNotifySecretVars: every signing secret gets its own variable, also when the
// base names collide across buckets and when the configuration joined already declares one;
// a suspended rule is reported, and the plan of the import shows only its resumption.
func TestImportNotifySecretVars(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	bucket := func(name, id string) live.Bucket {
		return live.Bucket{Name: name, ID: id, Type: live.AllPrivate, Encryption: live.Encryption{Readable: true},
			ObjectLock: live.ObjectLock{Readable: true}}
	}
	rule := func(name, secret string) live.NotifyRule {
		return live.NotifyRule{Name: name, EventTypes: []string{"b2:ObjectCreated:Upload"}, Enabled: true,
			URL: "https://hooks.example.com/" + name, Secret: secret, Prefix: name + "/"}
	}
	susp := rule("stalled", "")
	susp.Suspended, susp.SuspensionReason = true, "webhook answered HTTP 500 (6 attempts)"
	l := &live.Live{ObservedBuckets: true,
		Buckets: []live.Bucket{bucket("acme-media", "b1"), bucket("acme-media-on", "b2")},
		NotifyRules: map[string][]live.NotifyRule{
			"b1": {rule("on-upload", strings.Repeat("a", 32)), susp},
			"b2": {rule("upload", strings.Repeat("b", 32))},
		}}
	declared := &config.Desired{Dir: t.TempDir(), Variables: map[string]string{"acme_media_on_upload_signing_secret": `"x"`}}
	res, err := importer.Generate(l, importer.Options{Now: now, Declared: declared})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"acme_media_on_upload_signing_secret_2", "acme_media_on_upload_signing_secret_3"}
	if strings.Join(res.SecretVars, ",") != strings.Join(want, ",") {
		t.Errorf("SecretVars = %v, want %v\n%s", res.SecretVars, want, res.HCL)
	}
	if len(res.Suspended) != 1 || !strings.Contains(res.Suspended[0], `"stalled"`) || !strings.Contains(res.Suspended[0], "HTTP 500") {
		t.Errorf("Suspended = %v", res.Suspended)
	}
	if !strings.Contains(string(res.HCL), "B2 suspended this rule: webhook answered HTTP 500") {
		t.Errorf("no suspension comment:\n%s", res.HCL)
	}

	// Planned with the secrets set: the only change is the resumption of the suspended rule.
	res, err = importer.Generate(l, importer.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	in := config.VarInputs{Vars: []string{
		res.SecretVars[0] + "=" + strings.Repeat("a", 32), res.SecretVars[1] + "=" + strings.Repeat("b", 32)}}
	d, diags := config.LoadSources(t.TempDir(), map[string][]byte{"main.hcl": res.HCL}, in)
	if diags.HasErrors() {
		t.Fatalf("load: %v\n%s", diags, res.HCL)
	}
	p, pdiags := planner.Compute(d, l, planner.Options{Now: now})
	for _, dg := range pdiags {
		if dg.Severity == hcl.DiagError {
			t.Fatalf("plan error: %s: %s", dg.Summary, dg.Detail)
		}
	}
	var changed []string
	for _, ch := range p.Changes {
		if ch.Action != planner.NoOp {
			changed = append(changed, ch.Address+" "+strings.Join(ch.Changed, ",")+" "+strings.Join(ch.Notes, ";"))
		}
	}
	if len(changed) != 1 || !strings.Contains(changed[0], "bucket.acme_media notification_rules") ||
		!strings.Contains(changed[0], `"stalled" is suspended by B2`) || strings.Contains(changed[0], "signing secret changes") {
		var buf bytes.Buffer
		_ = planner.RenderHuman(&buf, p, planner.RenderOptions{})
		t.Errorf("changes %q\n%s", changed, buf.String())
	}
	// Without the suspension, the same configuration plans empty.
	l.NotifyRules["b1"][1].Suspended = false
	if p, _ := planner.Compute(d, l, planner.Options{Now: now}); p.HasChanges() {
		t.Errorf("plan of the import without the suspension has changes")
	}
}
