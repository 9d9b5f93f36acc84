package importer_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/b2plan/b2plan/b2client"
	"github.com/b2plan/b2plan/config"
	"github.com/b2plan/b2plan/emulator"
	"github.com/b2plan/b2plan/importer"
	"github.com/b2plan/b2plan/live"
	"github.com/b2plan/b2plan/planner"
)

// account is an emulator prepared through b2client the way another B2 tool would set it up.
type account struct {
	conn *b2client.Conn
	m    *b2client.Mutator
}

func newAccount(t *testing.T) *account {
	t.Helper()
	s, err := emulator.NewServer(emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return accountOn(t, s, emulator.DefaultKeyID, emulator.DefaultKey)
}

// accountOn connects to the account id of emulator s.
func accountOn(t *testing.T, s *emulator.Server, id, key string) *account {
	t.Helper()
	c, err := b2client.Connect(context.Background(), b2client.Config{Endpoint: s.URL(), Transport: s.Transport(),
		KeyID: id, Key: key, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &account{conn: c, m: b2client.NewMutator(c)}
}

// checkGenerated fails the test unless the generated configuration contains every want and
// is formatted.
func checkGenerated(t *testing.T, src []byte, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !containsNorm(src, want) {
			t.Errorf("generated configuration lacks %q", want)
		}
	}
	if !bytes.Equal(src, hclFormat(src)) {
		t.Errorf("generated configuration is not formatted")
	}
}

// planIsEmpty loads the generated configuration, observes the account with observe, and
// fails the test unless the plan has no errors and no changes; it returns what was observed.
func planIsEmpty(t *testing.T, src []byte, observe func(d *config.Desired) *live.Live) *live.Live {
	t.Helper()
	d, diags := config.LoadSources(t.TempDir(), map[string][]byte{"main.hcl": src}, config.VarInputs{})
	if diags.HasErrors() {
		t.Fatalf("generated configuration does not load: %v", diags)
	}
	after := observe(d)
	p, pdiags := planner.Compute(d, after, planner.Options{Now: time.Now()})
	for _, dg := range pdiags {
		if dg.Severity == hcl.DiagError {
			t.Errorf("plan error: %s: %s", dg.Summary, dg.Detail)
		}
	}
	if p.HasChanges() {
		var buf bytes.Buffer
		_ = planner.RenderHuman(&buf, p, planner.RenderOptions{})
		t.Fatalf("plan after import has changes:\n%s", buf.String())
	}
	return after
}

func (a *account) bucket(t *testing.T, spec b2client.BucketSpec) live.Bucket {
	t.Helper()
	b, err := a.m.CreateBucket(context.Background(), spec)
	if err != nil {
		t.Fatalf("create bucket %s: %v", spec.Name, err)
	}
	return b
}

func (a *account) key(t *testing.T, spec b2client.KeySpec) live.Key {
	t.Helper()
	k, err := a.m.CreateKey(context.Background(), spec)
	if err != nil {
		t.Fatalf("create key %s: %v", spec.Name, err)
	}
	return k.Key
}

func (a *account) observe(t *testing.T) *live.Live {
	t.Helper()
	l, err := b2client.Observe(context.Background(), a.conn, live.Request{Buckets: true, Keys: true})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestImportThenPlanIsEmpty is the adoption property: import an account prepared with
// another client, load the generated configuration, observe again, plan: no changes.
func TestImportThenPlanIsEmpty(t *testing.T) {
	a := newAccount(t)
	assets := a.bucket(t, b2client.BucketSpec{
		Name: "acme-assets", Type: "allPublic",
		Info: map[string]string{"Team": "web", "cost-center": "42"},
		LifecycleRules: []live.LifecycleRule{
			{FileNamePrefix: "tmp/", DaysFromStartingToCancelingUnfinishedLargeFiles: 1},
			{FileNamePrefix: "logs/", DaysFromUploadingToHiding: 30, DaysFromHidingToDeleting: 7},
		},
		CORSRules: []live.CORSRule{{
			Name: "web-downloads", AllowedOrigins: []string{"https://example.com", "https://*.example.org"},
			AllowedOperations: []string{"b2_download_file_by_name", "s3_get", "s3_head"},
			AllowedHeaders:    []string{"range"}, ExposeHeaders: []string{"x-bz-content-sha1"}, MaxAgeSeconds: 3600,
		}},
		Encryption: "SSE-B2", ObjectLock: true,
		DefaultRetention: live.Retention{Mode: "governance", Period: live.Period{Duration: 30, Unit: "days"}},
	})
	logs := a.bucket(t, b2client.BucketSpec{Name: "acme-logs",
		LifecycleRules: []live.LifecycleRule{{FileNamePrefix: "", DaysFromHidingToDeleting: 1}}})
	a.bucket(t, b2client.BucketSpec{Name: "2024-archive", ObjectLock: true,
		DefaultRetention: live.Retention{Mode: "compliance", Period: live.Period{Duration: 1, Unit: "years"}}})
	other := a.bucket(t, b2client.BucketSpec{Name: "other-team-data"})

	a.key(t, b2client.KeySpec{Name: "acme-ci", Capabilities: config.AccessPresets["read-write"],
		BucketIDs: []string{assets.ID}, NamePrefix: "builds/"})
	a.key(t, b2client.KeySpec{Name: "acme-multi", Capabilities: config.AccessPresets["read-only"],
		BucketIDs: []string{assets.ID, logs.ID}})
	a.key(t, b2client.KeySpec{Name: "acme-admin", Capabilities: []string{"listKeys", "writeKeys", "deleteKeys", "listBuckets", "writeBuckets"}})
	a.key(t, b2client.KeySpec{Name: "acme-temp", Capabilities: config.AccessPresets["write-only"], Duration: 30 * 24 * time.Hour})
	a.key(t, b2client.KeySpec{Name: "acme-short", Capabilities: []string{"listBuckets", "readFiles"}, Duration: 90 * time.Minute})
	a.key(t, b2client.KeySpec{Name: "other-reader", Capabilities: config.AccessPresets["read-only"], BucketIDs: []string{other.ID}})
	a.key(t, b2client.KeySpec{Name: "dup", Capabilities: []string{"listBuckets"}})
	a.key(t, b2client.KeySpec{Name: "dup", Capabilities: []string{"listBuckets"}})

	before := a.observe(t)
	res, err := importer.Generate(before, importer.Options{Now: time.Now(), Source: "the test emulator"})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("generated:\n%s", res.HCL)

	wantBuckets := []string{"2024-archive", "acme-assets", "acme-logs", "other-team-data"}
	if strings.Join(res.Buckets, ",") != strings.Join(wantBuckets, ",") {
		t.Errorf("buckets = %v, want %v", res.Buckets, wantBuckets)
	}
	if len(res.Skipped) != 2 || res.Skipped[0].Name != "dup" || res.Skipped[1].Name != "dup" {
		t.Errorf("skipped = %+v, want the two keys named dup", res.Skipped)
	}
	checkGenerated(t, res.HCL,
		`bucket "b_2024_archive" {`, `keep_only_last_version = true`, `access = "read-write"`,
		`buckets = [bucket.acme_assets.name]`, `[bucket.acme_assets.name, bucket.acme_logs.name]`,
		`duration = "30d"`, `duration = "2h"`, `# secret_file = "secrets/acme-ci.env"`,
		`mode  = "compliance"`, `years = 1`, `encryption = "SSE-B2"`, "cannot be recovered")
	after := planIsEmpty(t, res.HCL, func(*config.Desired) *live.Live { return a.observe(t) })

	// The same with a filter: keys restricted to buckets outside the selection name them
	// literally.
	res, err = importer.Generate(after, importer.Options{Now: time.Now(), Buckets: []string{"acme-*"}, Keys: []string{"other-*", "acme-ci"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(res.Keys, ","); got != "acme-ci,other-reader" {
		t.Errorf("filtered keys = %s", got)
	}
	if !containsNorm(res.HCL, `buckets = ["other-team-data"]`) {
		t.Errorf("filtered import should name other-team-data literally:\n%s", res.HCL)
	}
	d, diags := config.LoadSources(t.TempDir(), map[string][]byte{"main.hcl": res.HCL}, config.VarInputs{})
	if diags.HasErrors() {
		t.Fatalf("filtered configuration does not load: %v", diags)
	}
	if p, _ := planner.Compute(d, after, planner.Options{Now: time.Now()}); p.HasChanges() {
		t.Errorf("plan after filtered import has changes")
	}
}
