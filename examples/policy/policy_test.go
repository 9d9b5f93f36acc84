// Package policy tests the Rego policies of examples/policy/policy against
// real b2plan plan documents (planner.Compute, then the JSON document that
// "b2plan show -json" prints), with OPA, the engine conftest runs.
package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/b2plan/b2plan/config"
	"github.com/b2plan/b2plan/live"
	"github.com/b2plan/b2plan/planner"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// eval runs the policies on doc with settings (data.b2plan) and returns
// the deny and warn messages, sorted.
func eval(t *testing.T, doc []byte, settings map[string]any) (deny, warn []string) {
	t.Helper()
	var input any
	if err := json.Unmarshal(doc, &input); err != nil {
		t.Fatal(err)
	}
	data := map[string]any{}
	if settings != nil {
		data["b2plan"] = settings
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	opts := []func(*rego.Rego){rego.Query("deny := data.main.deny; warn := data.main.warn"),
		rego.Store(inmem.NewFromObject(data)), rego.Input(input)}
	files, err := filepath.Glob(filepath.Join("policy", "*.rego"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no policies: %v", err)
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		opts = append(opts, rego.Module(f, string(src)))
	}
	rs, err := rego.New(opts...).Eval(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 {
		t.Fatalf("%d results", len(rs))
	}
	list := func(v any) []string {
		var out []string
		for _, m := range v.([]any) {
			out = append(out, m.(string))
		}
		sort.Strings(out)
		return out
	}
	return list(rs[0].Bindings["deny"]), list(rs[0].Bindings["warn"])
}

func document(t *testing.T, d *config.Desired, l *live.Live) []byte {
	t.Helper()
	p, _ := planner.Compute(d, l, planner.Options{Now: now, PlanID: "policy-test", Endpoint: "https://api.example", AccountID: "acct"})
	var b bytes.Buffer
	if err := planner.RenderJSON(&b, p, planner.DocOptions{ToolVersion: "1.0.0"}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func bucket(name string) live.Bucket {
	return live.Bucket{Name: name, ID: "id-" + name, Type: live.AllPrivate, Revision: 1,
		Encryption: live.Encryption{Readable: true}, ObjectLock: live.ObjectLock{Readable: true}}
}

// goodKey is a key every policy accepts.
func goodKey() *config.Key {
	return &config.Key{Address: "key.app", Name: "acme-app", Capabilities: []string{"listFiles", "readFiles"},
		Buckets: []string{"acme-data"}, NamePrefix: "app/", Duration: 720 * time.Hour, SecretFile: "/cfg/app.env"}
}

// moveLive is a bucket acme-data with n objects under in/.
func moveLive(n int) *live.Live {
	b := bucket("acme-data")
	var vs []live.Version
	for i := 0; i < n; i++ {
		v := live.Version{Name: fmt.Sprintf("in/f%04d", i), ID: fmt.Sprintf("id%04d", i), Size: 100, ContentType: "text/plain",
			Uploaded: now.UnixMilli(), Flags: live.FlagSHA1}
		v.SHA1[0], v.SHA1[1] = byte(i), byte(i>>8)
		vs = append(vs, v)
	}
	return &live.Live{AccountID: "acct", ObservedBuckets: true, ObservedKeys: true, Buckets: []live.Bucket{b},
		Listings: []live.Listing{{BucketName: "acme-data", BucketID: b.ID, Versions: vs}}}
}

func desired(mut func(d *config.Desired)) *config.Desired {
	d := &config.Desired{Dir: "/cfg", Variables: map[string]string{}}
	d.Buckets = []*config.Bucket{{Address: "bucket.data", Name: "acme-data", Type: "allPrivate"}}
	d.Keys = []*config.Key{goodKey()}
	if mut != nil {
		mut(d)
	}
	return d
}

func wantDeny(t *testing.T, name string, deny []string, want ...string) {
	t.Helper()
	if len(want) == 0 && len(deny) > 0 {
		t.Errorf("%s: denied: %q", name, deny)
		return
	}
	for _, w := range want {
		found := false
		for _, d := range deny {
			found = found || strings.Contains(d, w)
		}
		if !found {
			t.Errorf("%s: no denial containing %q; got %q", name, w, deny)
		}
	}
}

func TestPolicies(t *testing.T) {
	// A compliant plan: private bucket, a scoped expiring key, a move of 3 objects.
	good := document(t, desired(func(d *config.Desired) {
		d.Moves = []*config.Move{{Address: "move.in", Bucket: "acme-data", From: "in/", To: "out/", Versions: "latest", Source: "delete", OnConflict: "fail"}}
	}), moveLive(3))
	deny, warn := eval(t, good, nil)
	wantDeny(t, "compliant plan", deny)
	if len(warn) != 1 || !strings.Contains(warn[0], "move.in moves 3 objects") {
		t.Errorf("compliant plan: warnings %q, want the move reported", warn)
	}

	// No public buckets, unless allowed.
	public := document(t, desired(func(d *config.Desired) { d.Buckets[0].Type = "allPublic" }), moveLive(0))
	deny, _ = eval(t, public, nil)
	wantDeny(t, "public bucket", deny, `bucket.data: bucket "acme-data" would be public`)
	deny, _ = eval(t, public, map[string]any{"public_buckets": []string{"acme-data"}})
	wantDeny(t, "allowed public bucket", deny)

	// Keys must expire, and be scoped to buckets and a prefix.
	loose := document(t, desired(func(d *config.Desired) {
		k := d.Keys[0]
		k.Duration, k.NamePrefix, k.Buckets = 0, "", nil
	}), moveLive(0))
	deny, _ = eval(t, loose, nil)
	wantDeny(t, "loose key", deny, "never expires", "not restricted to buckets", "not limited to a name prefix")

	// A sensitive prefix cannot be checked: it does not pass silently.
	hidden := document(t, desired(func(d *config.Desired) { d.Keys[0].Sensitive = []string{"name_prefix"} }), moveLive(0))
	if !bytes.Contains(hidden, []byte(`"name_prefix":true`)) {
		t.Fatalf("the prefix is not marked sensitive: %s", hidden)
	}
	deny, _ = eval(t, hidden, nil)
	wantDeny(t, "sensitive prefix", deny, "not limited to a name prefix")

	// A replacement is checked on its new key (actions ["create","delete"]).
	l := moveLive(0)
	l.Keys = []live.Key{{Name: "acme-app", ID: "K1", Capabilities: []string{"listFiles"}, BucketIDs: []string{"id-acme-data"}, NamePrefix: "app/"}}
	replaced := document(t, desired(func(d *config.Desired) { d.Keys[0].NamePrefix = "" }), l)
	if !bytes.Contains(replaced, []byte(`"actions":["create","delete"]`)) {
		t.Fatalf("no replacement: %s", replaced)
	}
	deny, _ = eval(t, replaced, nil)
	wantDeny(t, "replaced key", deny, "key.app: key \"acme-app\" is not limited to a name prefix")

	// At most N objects moved or deleted.
	big := document(t, desired(func(d *config.Desired) {
		d.Moves = []*config.Move{{Address: "move.in", Bucket: "acme-data", From: "in/", To: "out/", Versions: "latest", Source: "delete", OnConflict: "fail"}}
	}), moveLive(20))
	deny, _ = eval(t, big, map[string]any{"max_objects": 10})
	wantDeny(t, "big move", deny, "moves 20 objects, more than 10", "deletes 20 object versions, more than 10")
	deny, _ = eval(t, big, nil) // the default limit
	wantDeny(t, "big move, default limit", deny)

	// No prune in production.
	pl := moveLive(0)
	pl.Buckets = append(pl.Buckets, bucket("acme-old"))
	pl.Listings = append(pl.Listings, live.Listing{BucketName: "acme-old", BucketID: "id-acme-old"})
	pruneDoc := func(env string) []byte {
		return document(t, desired(func(d *config.Desired) {
			d.Settings.OwnsBuckets, d.Settings.Prune = []string{"acme-*"}, true
			d.Variables["env"] = env
		}), pl)
	}
	deny, _ = eval(t, pruneDoc(`"prod"`), nil)
	wantDeny(t, "prune in prod", deny, `unmanaged.bucket["acme-old"]: prune would delete it in production`)
	deny, _ = eval(t, pruneDoc(`"dev"`), nil)
	wantDeny(t, "prune in dev", deny)
	deny, _ = eval(t, pruneDoc(`"dev"`), map[string]any{"production": true})
	wantDeny(t, "prune, production by setting", deny, "prune would delete it in production")

	// An errored plan never passes.
	locked := bucket("acme-data")
	locked.ObjectLock.Enabled = true
	errored := document(t, desired(nil), &live.Live{ObservedBuckets: true, Buckets: []live.Bucket{locked}})
	deny, _ = eval(t, errored, nil)
	wantDeny(t, "errored plan", deny, "the plan has errors")

	// Something that is not a plan document (e.g. the plan -json stream's
	// first line) does not pass silently.
	deny, _ = eval(t, []byte(`{"@level":"info","type":"version"}`), nil)
	wantDeny(t, "not a plan", deny, "not a plan")

	// The planner's golden document (creates, updates, a replacement,
	// prune deletes, unmanaged resources, a move) is judged too.
	golden, err := os.ReadFile("../../planner/testdata/plan_json.golden")
	if err != nil {
		t.Fatal(err)
	}
	deny, _ = eval(t, golden, map[string]any{"production": true})
	wantDeny(t, "golden", deny, `bucket.assets: bucket "acme-assets" would be public`, `key.ci: key "acme-ci" never expires`,
		`unmanaged.bucket["acme-old"]: prune would delete it in production`)
}
