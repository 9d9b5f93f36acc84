package planner

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/b2plan/b2plan/config"
	"github.com/b2plan/b2plan/live"
)

func targetDesired() *config.Desired {
	return desired(func(d *config.Desired) {
		d.Buckets = []*config.Bucket{
			{Address: "bucket.assets", Name: "acme-assets"},
			{Address: `bucket.logs["eu"]`, Name: "acme-logs-eu"},
			{Address: `bucket.logs["us"]`, Name: "acme-logs-us"},
			{Address: "bucket.peer", Name: "acme-peer", Info: map[string]string{"ci": "${key.ci.id}"},
				Deferred: []config.Deferred{{Path: `info["ci"]`, Template: "${key.ci.id}", Refs: []string{"key.ci"}}}},
			{Address: "bucket.other", Name: "acme-other"},
		}
		d.Keys = []*config.Key{
			{Address: "key.ci", Name: "acme-ci", Capabilities: []string{"listBuckets"}, Buckets: []string{"acme-assets"}, SecretFile: "/cfg/ci.env"},
			{Address: "key.solo", Name: "acme-solo", Capabilities: []string{"listBuckets"}, SecretFile: "/cfg/solo.env"},
		}
		d.Folders = []*config.Folder{{Address: "folder.up", Bucket: "acme-other", Path: "up/"}}
		d.Moves = []*config.Move{{Address: "move.m", Bucket: "acme-logs-eu", From: "a/", To: "b/", ToBucket: "acme-logs-us"}}
		d.Settings.OwnsBuckets = []string{"acme-*"}
		d.Settings.Prune = true
	})
}

func planAddrs(p *Plan) []string {
	var out []string
	for _, ch := range p.Changes {
		out = append(out, ch.Action.String()+" "+ch.Address)
	}
	for _, m := range p.Moves {
		out = append(out, "move "+m.Address)
	}
	return out
}

func TestTargetIncludesDependencies(t *testing.T) {
	old := liveBucket("acme-old")
	l := &live.Live{AccountID: "acct", ObservedBuckets: true, ObservedKeys: true, Buckets: []live.Bucket{old},
		Listings: []live.Listing{{BucketName: "acme-old", BucketID: old.ID}}}
	tests := []struct {
		targets []string
		want    []string
		notes   []string
	}{
		// The key is restricted to a bucket this plan creates: the bucket comes along.
		{[]string{"key.ci"}, []string{"create bucket.assets", "create key.ci"},
			[]string{"-target: bucket.assets is included because key.ci depends on it"}},
		// Transitively: the bucket's info uses the key's id, the key needs its bucket.
		{[]string{"bucket.peer"}, []string{"create bucket.assets", "create bucket.peer", "create key.ci"}, nil},
		// A for_each base address selects its instances; a move brings both its buckets.
		{[]string{"bucket.logs"}, []string{`create bucket.logs["eu"]`, `create bucket.logs["us"]`}, nil},
		{[]string{"move.m"}, []string{`create bucket.logs["eu"]`, `create bucket.logs["us"]`, "move move.m"}, nil},
		{[]string{"folder.up"}, []string{"create bucket.other", "create folder.up"}, nil},
		{[]string{"key.solo"}, []string{"create key.solo"}, nil},
		{[]string{`unmanaged.bucket["acme-old"]`}, []string{`delete unmanaged.bucket["acme-old"]`}, nil},
	}
	for _, tc := range tests {
		o := opts()
		o.Targets = tc.targets
		p, diags := Compute(targetDesired(), l, o)
		if diags.HasErrors() {
			t.Fatalf("%v: %v", tc.targets, errorsOf(diags))
		}
		if diff := cmp.Diff(tc.want, planAddrs(p)); diff != "" {
			t.Errorf("%v (-want +got):\n%s", tc.targets, diff)
		}
		if w := warningsOf(diags); len(w) != 1 || w[0] != TargetWarning {
			t.Errorf("%v: warnings %v", tc.targets, w)
		}
		for _, n := range tc.notes {
			if !strings.Contains(strings.Join(p.Notes, "\n"), n) {
				t.Errorf("%v: notes %q lack %q", tc.targets, p.Notes, n)
			}
		}
	}
	// No target: no warning.
	if _, diags := Compute(targetDesired(), l, opts()); len(warningsOf(diags)) != 0 {
		t.Errorf("warnings without -target: %v", warningsOf(diags))
	}
}

func TestTargetMatchingNothing(t *testing.T) {
	l := &live.Live{AccountID: "acct", ObservedBuckets: true, ObservedKeys: true}
	tests := []struct{ target, suggestion string }{
		{"foo", ""},
		{"bucket.asets", `Did you mean "bucket.assets"?`},
		{"assets", `Did you mean "bucket.assets"?`},
		{"key.cl", `Did you mean "key.ci"?`},
		{`bucket.logs["fr"]`, `Did you mean "bucket.logs[\"eu\"]"?`},
		{`unmanaged.bucket["acme-old"]`, ""},
	}
	for _, tc := range tests {
		o := opts()
		o.Targets = []string{"key.ci", tc.target}
		p, diags := Compute(targetDesired(), l, o)
		var detail string
		for _, d := range diags {
			if d.Summary == "No resource matches -target="+tc.target {
				detail = d.Detail
			}
		}
		if detail == "" {
			t.Errorf("%s: no error; diagnostics %v", tc.target, diags)
			continue
		}
		if tc.suggestion != "" && !strings.Contains(detail, tc.suggestion) {
			t.Errorf("%s: %q lacks %q", tc.target, detail, tc.suggestion)
		}
		if tc.suggestion == "" && strings.Contains(detail, "Did you mean") {
			t.Errorf("%s: unexpected suggestion in %q", tc.target, detail)
		}
		if len(p.Changes)+len(p.Moves) > 0 { // nothing is planned
			t.Errorf("%s: planned %v", tc.target, planAddrs(p))
		}
	}
}
