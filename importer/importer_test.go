package importer_test

import (
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2/hclwrite"

	"github.com/b2plan/b2plan/config"
	"github.com/b2plan/b2plan/importer"
	"github.com/b2plan/b2plan/live"
)

func hclFormat(b []byte) []byte { return hclwrite.Format(b) }

// containsNorm reports whether src contains want, comparing runs of spaces as one space
// (hclwrite aligns "=" signs).
func containsNorm(src []byte, want string) bool {
	norm := func(s string) string {
		var out []string
		for _, l := range strings.Split(s, "\n") {
			out = append(out, strings.Join(strings.Fields(l), " "))
		}
		return strings.Join(out, "\n")
	}
	return strings.Contains(norm(string(src)), norm(want))
}

func TestLabel(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"acme-assets", "acme_assets"},
		{"Acme-Logs", "Acme_Logs"},
		{"2024-archive", "b_2024_archive"},
		{"-x", "b__x"},
		{"", "b_"},
	} {
		if got := importer.Label(tc.name, "b_"); got != tc.want {
			t.Errorf("Label(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestGenerateSkips checks what cannot be declared: it is commented out with the reason, and the
// rest still loads.
func TestGenerateSkips(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := &live.Live{
		Buckets: []live.Bucket{
			{Name: "acme-a", ID: "b1", Type: "allPrivate", Encryption: live.Encryption{Readable: true}, ObjectLock: live.ObjectLock{Readable: true}},
			{Name: "acme-a_", ID: "b9", Type: "allPrivate"}, // not a valid B2 name: refused by the loader
			{Name: "acme-snap", ID: "b2", Type: "snapshot"},
			{Name: "acme-unreadable", ID: "b3", Type: "allPrivate"},
		},
		Keys: []live.Key{
			{Name: "expired", ID: "k1", Capabilities: []string{"listBuckets"}, Expires: now.Add(-time.Hour)},
			{Name: "orphan", ID: "k2", Capabilities: []string{"listFiles"}, BucketIDs: []string{"gone"}},
			{Name: "strange", ID: "k3", Capabilities: []string{"listFiles", "fly"}},
			{Name: "restricted-admin", ID: "k4", Capabilities: []string{"listKeys"}, BucketIDs: []string{"b1"}},
			{Name: "fine", ID: "k5", Capabilities: []string{"listBuckets"}, BucketIDs: []string{"b1"}},
			{Name: "fine", ID: "k6", Capabilities: []string{"listBuckets"}},
			{Name: "ok", ID: "k7", Capabilities: []string{"listBuckets"}, BucketIDs: []string{"b1", "b2"}},
		},
	}
	res, err := importer.Generate(l, importer.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	src := string(res.HCL)
	skipped := map[string]string{}
	for _, s := range res.Skipped {
		skipped[s.Kind+" "+s.Name+" "+s.ID] = s.Reason
	}
	for _, want := range []struct{ item, reason string }{
		{"bucket acme-a_ b9", "Invalid bucket name"},
		{"bucket acme-snap b2", `type "snapshot"`},
		{"key expired k1", "expired at 2025-12-31T23:00:00Z"},
		{"key orphan k2", "bucket id gone"},
		{"key strange k3", `"fly"`},
		{"key restricted-admin k4", `"listKeys"`},
		{"key fine k5", "2 keys are named"},
		{"key fine k6", "2 keys are named"},
	} {
		if !strings.Contains(skipped[want.item], want.reason) {
			t.Errorf("skip reason of %s = %q, want it to contain %q", want.item, skipped[want.item], want.reason)
		}
	}
	if len(res.Skipped) != 8 {
		t.Errorf("skipped %d items, want 8: %+v", len(res.Skipped), res.Skipped)
	}
	// key ok is restricted to acme-a (declared) and acme-snap (skipped → literal name)
	if !containsNorm(res.HCL, `buckets = [bucket.acme_a.name, "acme-snap"]`) {
		t.Errorf("key ok should refer to acme-a and name acme-snap literally:\n%s", src)
	}
	if !strings.Contains(src, "readBucketEncryption") || !strings.Contains(src, "readBucketRetentions") {
		t.Errorf("unreadable settings should be explained:\n%s", src)
	}
	if !strings.Contains(src, "# bucket \"acme-snap\"") || !containsNorm(res.HCL, "# type = \"snapshot\"") {
		t.Errorf("skipped bucket should be shown commented out:\n%s", src)
	}
	if _, diags := config.LoadSources("", map[string][]byte{"x.hcl": res.HCL}, config.VarInputs{}); diags.HasErrors() {
		t.Errorf("output does not load: %v\n%s", diags, src)
	}
	if strings.Contains(src, "prune = true") {
		t.Errorf("import must never write prune = true")
	}
}
