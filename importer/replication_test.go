package importer_test

import (
	"context"
	"strings"
	"testing"
	"time"

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
	a, b := accountOn(t, srv, emulator.DefaultKeyID, emulator.DefaultKey), accountOn(t, srv, "b2localIMPORT2", "K00import2")
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
	checkGenerated(t, res.HCL, `replication "photos" {`, `replication "old_logs" {`, `replication "r_9lives" {`, `name = "9lives"`,
		`source_bucket = bucket.acme_src.name`, `destination_bucket = bucket.acme_dst.name`, `include_existing = true`, `enabled = false`,
		`priority = 7`, `# replication "far" {`, "set up outside b2plan")
	planIsEmpty(t, res.HCL, func(d *config.Desired) *live.Live {
		after, err := b2client.Observe(ctx, a.conn, planner.LiveRequest(d, nil))
		if err != nil {
			t.Fatal(err)
		}
		return after
	})
}
