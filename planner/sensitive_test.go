package planner

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/b2plan/b2plan/config"
	"github.com/b2plan/b2plan/live"
)

// TestSensitiveAttributesNeverRendered: attributes config marked sensitive are shown as
// "(sensitive value)" in the human plan (create, update), are null and marked in
// before_sensitive / after_sensitive in the JSON plan, and are not in the plan's attribute
// lists (so not in a saved plan's display part either), while the executor's part keeps the
// value it needs.
func TestSensitiveAttributesNeverRendered(t *testing.T) {
	const secret = "K005sensitive-info-value"
	d := desired(func(d *config.Desired) {
		d.Buckets = []*config.Bucket{
			{Address: "bucket.new", Name: "acme-new", Type: "allPrivate", Info: map[string]string{"token": secret}, Sensitive: []string{"info"}},
			{Address: "bucket.old", Name: "acme-old", Type: "allPrivate", Info: map[string]string{"token": secret + "2"}, Sensitive: []string{"info"}},
		}
		d.Keys = []*config.Key{{Address: "key.k", Name: "acme-k", Capabilities: []string{"listFiles"}, NamePrefix: "p/" + secret + "/", SecretFile: "/cfg/k.env", Sensitive: []string{"name_prefix"}}}
	})
	old := liveBucket("acme-old")
	old.Info = map[string]string{"token": secret + "-before"}
	l := &live.Live{AccountID: "acct", ObservedBuckets: true, ObservedKeys: true, Buckets: []live.Bucket{old},
		Keys: []live.Key{{Name: "acme-k", ID: "K1", Capabilities: []string{"listFiles"}, NamePrefix: "p/" + secret + "-live/"}}}
	p, diags := Compute(d, l, opts())
	if diags.HasErrors() {
		t.Fatal(errorsOf(diags))
	}
	got := strings.Join(summary(p), "; ")
	if !strings.Contains(got, "create bucket.new") || !strings.Contains(got, "update bucket.old [info]") || !strings.Contains(got, "replace key.k [name_prefix]") {
		t.Fatalf("plan: %s", got)
	}
	var human, js, file bytes.Buffer
	if err := RenderHuman(&human, p, RenderOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := RenderJSON(&js, p, DocOptions{ToolVersion: "test"}); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"human": human.String(), "json": js.String()} {
		if strings.Contains(out, secret) {
			t.Errorf("%s plan shows the secret:\n%s", name, out)
		}
	}
	for _, want := range []string{`\+ info +\= \(sensitive value\)\n`, `~ info +\= \(sensitive value\)\n`, `~ name_prefix +\= \(sensitive value\)\n`} {
		if !regexp.MustCompile(want).MatchString(human.String()) {
			t.Errorf("human plan lacks %q:\n%s", want, human.String())
		}
	}
	var doc struct {
		ResourceChanges []struct {
			Address string
			Change  struct {
				Before          map[string]json.RawMessage `json:"before"`
				After           map[string]json.RawMessage `json:"after"`
				BeforeSensitive any                        `json:"before_sensitive"`
				AfterSensitive  any                        `json:"after_sensitive"`
			}
		} `json:"resource_changes"`
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, rc := range doc.ResourceChanges {
		switch rc.Address {
		case "bucket.new":
			if rc.Change.BeforeSensitive != false || !sensTrue(rc.Change.AfterSensitive, "info") || string(rc.Change.After["info"]) != "null" {
				t.Errorf("bucket.new: %+v", rc.Change)
			}
		case "bucket.old":
			if !sensTrue(rc.Change.BeforeSensitive, "info") || !sensTrue(rc.Change.AfterSensitive, "info") || sensTrue(rc.Change.AfterSensitive, "name") {
				t.Errorf("bucket.old: %+v", rc.Change)
			}
		case "key.k":
			if !sensTrue(rc.Change.AfterSensitive, "name_prefix") {
				t.Errorf("key.k: %+v", rc.Change)
			}
		}
	}
	// The executor still has what it needs.
	for _, ch := range p.Changes {
		if ch.Address == "key.k" && ch.Key.NamePrefix != "p/"+secret+"/" {
			t.Errorf("executor name prefix %q", ch.Key.NamePrefix)
		}
	}
	// A saved plan renders the same.
	if err := Encode(&file, p); err != nil {
		t.Fatal(err)
	}
	p2, err := Decode(&file)
	if err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	_ = RenderHuman(&again, p2, RenderOptions{})
	if again.String() != human.String() {
		t.Errorf("saved plan renders differently:\n%s", again.String())
	}
}

func sensTrue(v any, name string) bool {
	m, ok := v.(map[string]any)
	return ok && m[name] == true
}
