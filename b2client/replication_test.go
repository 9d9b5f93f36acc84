package b2client

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/b2plan/b2plan/emulator"
	"github.com/b2plan/b2plan/live"
)

// TestConformanceReplication: SetReplication writes both parts of a bucket's
// replicationConfiguration, Observe reads them back (rules sorted by name), a write without a
// part removes it, and an empty one clears the configuration; an account with replication
// gets its keys listed even when the request did not ask for them.
func TestConformanceReplication(t *testing.T) {
	forEachTarget(t, emulator.Options{}, func(t *testing.T, tg *target) {
		ctx := context.Background()
		src, dst := tg.bucket(t, BucketSpec{}), tg.bucket(t, BucketSpec{})
		sk := tg.key(t, KeySpec{Name: "conf-repl-src", Capabilities: []string{"readFiles", "readFileLegalHolds", "readFileRetentions"}, BucketIDs: []string{src.ID}})
		dk := tg.key(t, KeySpec{Name: "conf-repl-dst", Capabilities: []string{"writeFiles", "writeFileLegalHolds", "writeFileRetentions", "deleteFiles"}, BucketIDs: []string{dst.ID}})
		both := live.Replication{Readable: true, SourceKeyID: sk.Key.ID, Rules: []live.ReplicationRule{
			{Name: "zeta", DestinationBucketID: dst.ID, Prefix: "z/", Priority: 2147483647, Enabled: true},
			{Name: "alpha", DestinationBucketID: dst.ID, Priority: 1, IncludeExisting: true},
		}}
		if _, err := tg.m.SetReplication(ctx, dst.ID, dst.Name, live.Replication{Mapping: map[string]string{sk.Key.ID: dk.Key.ID}}); err != nil {
			t.Fatal(err)
		}
		got, err := tg.m.SetReplication(ctx, src.ID, src.Name, both)
		if err != nil {
			t.Fatal(err)
		}
		want := both
		want.Rules = []live.ReplicationRule{both.Rules[1], both.Rules[0]}
		if d := cmp.Diff(want, got.Replication); d != "" {
			t.Errorf("SetReplication returned (-want +got):\n%s", d)
		}
		l := tg.observe(t, live.Request{Buckets: true, KeysIfAllowed: true})
		if d := cmp.Diff(want, l.Bucket(src.Name).Replication); d != "" {
			t.Errorf("observed source (-want +got):\n%s", d)
		}
		if m := l.Bucket(dst.Name).Replication.Mapping; len(m) != 1 || m[sk.Key.ID] != dk.Key.ID {
			t.Errorf("observed mapping: %v", m)
		}
		if !l.ObservedKeys || len(l.KeysNamed("conf-repl-src")) != 1 {
			t.Errorf("keys not listed (KeysIfAllowed): observed %v, %d keys", l.ObservedKeys, len(l.Keys))
		}
		// A mapping to a key that may not write the bucket is refused; an empty write clears it.
		if got, err = tg.m.SetReplication(ctx, src.ID, src.Name, live.Replication{Mapping: map[string]string{"k1": dk.Key.ID}}); err == nil {
			t.Errorf("a mapping to a key of another bucket was accepted: %+v", got.Replication)
		}
		if got, err = tg.m.SetReplication(ctx, src.ID, src.Name, live.Replication{}); err != nil || got.Replication.IsSource() || got.Replication.Mapping != nil {
			t.Fatalf("clear: %v %+v", err, got.Replication)
		}
	})
}
