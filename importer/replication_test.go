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

// TestImportReplication: an account whose replication another tool set up (its own keys,
// rules within the account, one bucket with a rule into a second account) imports as
// replication blocks that re-plan empty; the bucket with the other account's destination is
// commented out entirely (all its rules), so the plan leaves its rules alone.
func TestImportReplication(t *testing.T) {
	srv, err := emulator.NewServer(emulator.Options{Accounts: []emulator.Account{
		{KeyID: emulator.DefaultKeyID, Key: emulator.DefaultKey}, {KeyID: "b2localIMPORT2", Key: "K00import2"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	connect := func(id, key string) *account {
		c, err := b2client.Connect(context.Background(), b2client.Config{Endpoint: srv.URL(), Transport: srv.Transport(),
			KeyID: id, Key: key, Getenv: func(string) string { return "" }})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return &account{conn: c, m: b2client.NewMutator(c)}
	}
	a, b := connect(emulator.DefaultKeyID, emulator.DefaultKey), connect("b2localIMPORT2", "K00import2")
	ctx := context.Background()
	src := a.bucket(t, b2client.BucketSpec{Name: "acme-src"})
	dst := a.bucket(t, b2client.BucketSpec{Name: "acme-dst"})
	mixed := a.bucket(t, b2client.BucketSpec{Name: "acme-mixed"})
	far := b.bucket(t, b2client.BucketSpec{Name: "acme-far"})
	sk := a.key(t, b2client.KeySpec{Name: "ops-repl-read", Capabilities: []string{"listFiles", "readFiles"}, BucketIDs: []string{src.ID}})
	mk := a.key(t, b2client.KeySpec{Name: "ops-repl-mixed", Capabilities: []string{"readFiles"}, BucketIDs: []string{mixed.ID}})
	dk := a.key(t, b2client.KeySpec{Name: "ops-repl-write", Capabilities: []string{"writeFiles"}, BucketIDs: []string{dst.ID}})
	fk := b.key(t, b2client.KeySpec{Name: "far-write", Capabilities: []string{"writeFiles"}, BucketIDs: []string{far.ID}})
	set := func(m *b2client.Mutator, bk live.Bucket, r live.Replication) {
		if _, err := m.SetReplication(ctx, bk.ID, bk.Name, r); err != nil {
			t.Fatalf("set replication of %s: %v", bk.Name, err)
		}
	}
	set(a.m, dst, live.Replication{Mapping: map[string]string{sk.ID: dk.ID, mk.ID: dk.ID}})
	set(b.m, far, live.Replication{Mapping: map[string]string{mk.ID: fk.ID}})
	set(a.m, src, live.Replication{SourceKeyID: sk.ID, Rules: []live.ReplicationRule{
		{Name: "photos", DestinationBucketID: dst.ID, Prefix: "photos/", Priority: 5, Enabled: true},
		{Name: "old-logs", DestinationBucketID: dst.ID, Prefix: "logs/", Priority: 7, IncludeExisting: true},
		{Name: "9lives", DestinationBucketID: dst.ID, Prefix: "cats/", Priority: 1, Enabled: true},
	}})
	set(a.m, mixed, live.Replication{SourceKeyID: mk.ID, Rules: []live.ReplicationRule{
		{Name: "near", DestinationBucketID: dst.ID, Priority: 1, Enabled: true},
		{Name: "far", DestinationBucketID: far.ID, Priority: 2, Enabled: true},
	}})

	before := a.observe(t)
	res, err := importer.Generate(before, importer.Options{Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("generated:\n%s", res.HCL)
	if got := strings.Join(res.Replications, ","); got != "acme-src/9lives,acme-src/old-logs,acme-src/photos" {
		t.Errorf("replications declared: %s", got)
	}
	if len(res.Skipped) != 2 || res.Skipped[0].Kind != "replication" || res.Skipped[1].Kind != "replication" {
		t.Errorf("skipped: %+v", res.Skipped)
	}
	for _, want := range []string{`replication "photos" {`, `replication "old_logs" {`, `replication "r_9lives" {`, `name = "9lives"`,
		`source_bucket = bucket.acme_src.name`, `destination_bucket = bucket.acme_dst.name`, `include_existing = true`, `enabled = false`,
		`priority = 7`, `# replication "far" {`, "set up outside b2plan"} {
		if !containsNorm(res.HCL, want) {
			t.Errorf("generated configuration lacks %q", want)
		}
	}
	if !bytes.Equal(res.HCL, hclFormat(res.HCL)) {
		t.Errorf("generated configuration is not formatted")
	}
	d, diags := config.LoadSources(t.TempDir(), map[string][]byte{"main.hcl": res.HCL}, config.VarInputs{})
	if diags.HasErrors() {
		t.Fatalf("generated configuration does not load: %v", diags)
	}
	after, err := b2client.Observe(ctx, a.conn, planner.LiveRequest(d, nil))
	if err != nil {
		t.Fatal(err)
	}
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
}
