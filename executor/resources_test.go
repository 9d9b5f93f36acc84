package executor_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/b2plan/b2plan/b2client"
	"github.com/b2plan/b2plan/emulator"
	"github.com/b2plan/b2plan/executor"
	"github.com/b2plan/b2plan/live"
)

const resourcesV1 = `
b2plan {
  owns {
    buckets = ["acme-*"]
    keys    = ["acme-*"]
  }
  prune = true
}

bucket "assets" {
  name = "acme-assets"
  info = { team = "web" }
  lifecycle_rule {
    prefix = "logs/"
    days_from_uploading_to_hiding = 30
    days_from_hiding_to_deleting = 7
  }
  cors_rule {
    name               = "downloads"
    allowed_origins    = ["https://example.com"]
    allowed_operations = ["b2_download_file_by_name"]
    max_age_seconds    = 3600
  }
  encryption = "SSE-B2"
}

bucket "vault" {
  name = "acme-vault"
  object_lock {
    enabled = true
    default_retention {
      mode = "governance"
      days = 1
    }
  }
}

key "ci" {
  name        = "acme-ci"
  access      = "read-write"
  buckets     = [bucket.assets.name]
  secret_file = "secrets/ci.env"
}

folder "uploads" {
  bucket = bucket.assets.name
  path   = "uploads/"
}
`

func TestResourcesLifecycle(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	// Drift that prune deletes: an owned, undeclared, empty bucket and key.
	stray := e.bucket("acme-stray", b2client.BucketSpec{})
	strayKey, err := e.m.CreateKey(context.Background(), b2client.KeySpec{Name: "acme-stray", Capabilities: []string{"listBuckets"}})
	if err != nil {
		t.Fatal(err)
	}
	p := e.plan(resourcesV1)
	c := p.Counts()
	if c.Add != 4 || c.Destroy != 2 {
		t.Fatalf("plan counts %+v, want 4 adds and 2 destroys", c)
	}
	ev := &events{}
	res, err := e.apply(p, executor.Options{}, ev)
	if err != nil {
		t.Fatalf("apply: %v %v", err, res.Failures)
	}
	if res.Added != 4 || res.Destroyed != 2 {
		t.Errorf("result %+v", res)
	}
	l := e.observe(live.Request{Buckets: true, Keys: true})
	if l.Bucket("acme-stray") != nil || l.BucketByID(stray.ID) != nil {
		t.Errorf("stray bucket not pruned")
	}
	for _, k := range l.Keys {
		if k.ID == strayKey.Key.ID {
			t.Errorf("stray key not pruned")
		}
	}
	vault := l.Bucket("acme-vault")
	if vault == nil || !vault.ObjectLock.Enabled || vault.ObjectLock.DefaultRetention.Mode != "governance" {
		t.Errorf("vault bucket: %+v", vault)
	}
	assets := l.Bucket("acme-assets")
	ks := l.KeysNamed("acme-ci")
	if len(ks) != 1 || len(ks[0].BucketIDs) != 1 || ks[0].BucketIDs[0] != assets.ID {
		t.Fatalf("key acme-ci: %+v (assets %s)", ks, assets.ID)
	}
	secret := filepath.Join(e.dir, "secrets", "ci.env")
	checkSecretFile(t, secret, ks[0].ID)
	if vs := e.versions("acme-assets", "uploads/"); len(vs) != 1 || vs[0].Name != "uploads/.bzEmpty" {
		t.Errorf("folder placeholder: %+v", vs)
	}
	// Events: a start and a done per resource.
	if ev.count(executor.ResourceDone) != 6 || ev.count(executor.ResourceFailed) != 0 {
		t.Errorf("events: %d done, %d failed", ev.count(executor.ResourceDone), ev.count(executor.ResourceFailed))
	}
	// A plan right after the apply is empty.
	if p2 := e.plan(resourcesV1); p2.HasChanges() {
		t.Fatalf("plan after apply has changes: %s", p2.SummaryLine())
	}

	// Update the bucket and replace the key (create before delete).
	v2 := strings.Replace(resourcesV1, `team = "web"`, `team = "platform"`, 1)
	v2 = strings.Replace(v2, `access      = "read-write"`, `access      = "read-only"`, 1)
	p = e.plan(v2)
	if c := p.Counts(); c.Change != 1 || c.Replace != 1 {
		t.Fatalf("plan v2: %+v", c)
	}
	oldID := ks[0].ID
	var order []string
	ev = &events{on: func(x executor.Event) {
		if x.Kind == executor.ResourceDone && x.Address == "key.ci" {
			order = append(order, x.Phase)
		}
	}}
	res, err = e.apply(p, executor.Options{}, ev)
	if err != nil || res.Changed != 1 || res.Replaced != 1 {
		t.Fatalf("apply v2: %v %+v", err, res)
	}
	if strings.Join(order, ",") != "create,delete" {
		t.Errorf("replacement order %v, want create,delete", order)
	}
	l = e.observe(live.Request{Buckets: true, Keys: true})
	ks = l.KeysNamed("acme-ci")
	if len(ks) != 1 || ks[0].ID == oldID {
		t.Fatalf("after replace: %+v", ks)
	}
	checkSecretFile(t, secret, ks[0].ID)
	if got := l.Bucket("acme-assets").Info["team"]; got != "platform" {
		t.Errorf("info team = %q", got)
	}
	if p3 := e.plan(v2); p3.HasChanges() {
		t.Fatalf("plan after v2 has changes: %s", p3.SummaryLine())
	}
}

func checkSecretFile(t *testing.T, path, keyID string) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("secret file mode %v", st.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 || lines[0] != "B2_APPLICATION_KEY_ID="+keyID || !strings.HasPrefix(lines[1], "B2_APPLICATION_KEY=") || len(lines[1]) < 25 {
		t.Errorf("secret file content has wrong shape (%d lines, first %q)", len(lines), lines[0])
	}
	ents, _ := os.ReadDir(filepath.Dir(path))
	for _, en := range ents {
		if strings.HasPrefix(en.Name(), ".b2plan-secret-") {
			t.Errorf("temporary secret file left behind: %s", en.Name())
		}
	}
}

func TestBucketUpdateConflictIsNotOverwritten(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	e.bucket("acme-assets", b2client.BucketSpec{Info: map[string]string{"team": "web"}})
	p := e.plan(`bucket "assets" {
  name = "acme-assets"
  info = { team = "data" }
}`)
	// Someone else changes the bucket after the plan.
	b, _ := e.m.Bucket(context.Background(), "acme-assets")
	if _, err := e.m.UpdateBucket(context.Background(), b.ID, b.Name, b2client.BucketUpdate{Info: map[string]string{"team": "ops"}, SetInfo: true}, nil); err != nil {
		t.Fatal(err)
	}
	res, err := e.apply(p, executor.Options{}, nil)
	if err == nil || len(res.Failures) != 1 || !strings.Contains(res.Failures[0].Err.Error(), "changed since the plan") {
		t.Fatalf("want a conflict failure, got %v %+v", err, res.Failures)
	}
	b, _ = e.m.Bucket(context.Background(), "acme-assets")
	if b.Info["team"] != "ops" {
		t.Errorf("someone else's change was overwritten: %v", b.Info)
	}
	// CheckStale reports the same for a saved plan.
	cur := e.observe(executor.StaleRequest(p))
	if err := executor.CheckStale(p, cur); err == nil || !strings.Contains(err.Error(), "saved plan is stale") {
		t.Errorf("CheckStale = %v", err)
	}
}

// ambiguousKeys creates the key but reports an ambiguous failure, once.
type ambiguousKeys struct {
	*b2client.Mutator
	n atomic.Int32
}

func (a *ambiguousKeys) CreateKey(ctx context.Context, s b2client.KeySpec) (b2client.CreatedKey, error) {
	ck, err := a.Mutator.CreateKey(ctx, s)
	if err == nil && a.n.Add(1) == 1 {
		return b2client.CreatedKey{}, &b2client.Error{Op: "create key", Class: b2client.Ambiguous, Message: "connection reset"}
	}
	return ck, err
}

func TestAmbiguousKeyCreateLeavesNoDuplicate(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	e.bucket("acme-assets", b2client.BucketSpec{})
	p := e.plan(`key "ci" {
  name        = "acme-ci"
  access      = "read-only"
  secret_file = "ci.env"
}`)
	am := &ambiguousKeys{Mutator: e.m}
	ev := &events{}
	res, err := executor.Options{Parallelism: 2}.Apply(context.Background(), p, am, ev)
	if err != nil {
		t.Fatalf("apply: %v %+v", err, res.Failures)
	}
	ks, _ := e.m.KeysNamed(context.Background(), "acme-ci")
	if len(ks) != 1 {
		t.Fatalf("%d keys named acme-ci, want 1", len(ks))
	}
	checkSecretFile(t, filepath.Join(e.dir, "ci.env"), ks[0].ID)
	if ev.count(executor.Note) != 1 {
		t.Errorf("want a note about the deleted duplicate")
	}
}

func TestSecretFileFailureKeepsOldKey(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	old, err := e.m.CreateKey(context.Background(), b2client.KeySpec{Name: "acme-ci", Capabilities: []string{"listBuckets"}})
	if err != nil {
		t.Fatal(err)
	}
	// secret_file's directory cannot be created: a file is in the way.
	os.WriteFile(filepath.Join(e.dir, "blocker"), nil, 0o644)
	p := e.plan(`key "ci" {
  name        = "acme-ci"
  access      = "read-only"
  secret_file = "blocker/ci.env"
}`)
	if p.Counts().Replace != 1 {
		t.Fatalf("want a replacement: %s", p.SummaryLine())
	}
	res, err := e.apply(p, executor.Options{}, nil)
	if err == nil || len(res.Failures) != 1 {
		t.Fatalf("want one failure, got %v %+v", err, res.Failures)
	}
	ks, _ := e.m.KeysNamed(context.Background(), "acme-ci")
	if len(ks) != 1 || ks[0].ID != old.Key.ID {
		t.Errorf("keys after failed secret write: %+v (old %s)", ks, old.Key.ID)
	}
}

func TestInterruptDrains(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	e.bucket("acme-data", b2client.BucketSpec{})
	for i := 0; i < 120; i++ {
		e.put("acme-data", "in/"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+strconv.Itoa(i), "data"+strconv.Itoa(i))
	}
	p := e.plan(moveHCL("acme-data", "in/", "out/"))
	ctx, cancel := context.WithCancel(context.Background())
	var done atomic.Int32
	ev := &events{on: func(x executor.Event) {
		if x.Kind == executor.ObjectDone && done.Add(1) == 20 {
			cancel()
		}
	}}
	res, err := executor.Options{Parallelism: 4, List: e.lister(), ListRange: e.rangeLister()}.Apply(ctx, p, e.m, ev)
	if !errors.Is(err, executor.ErrInterrupted) || !res.Interrupted {
		t.Fatalf("want interrupted, got %v", err)
	}
	if res.Moved < 20 || res.Moved >= 120 {
		t.Fatalf("moved %d", res.Moved)
	}
	// Every object is wholly at the source or wholly at the destination.
	src, _ := e.visible("acme-data", "in/")
	dst, _ := e.visible("acme-data", "out/")
	if len(src)+len(dst) != 120 || int64(len(dst)) != res.Moved {
		t.Fatalf("src %d + dst %d, moved %d", len(src), len(dst), res.Moved)
	}
	for n := range src {
		if _, ok := dst["out/"+strings.TrimPrefix(n, "in/")]; ok {
			t.Errorf("%s is at both places after a drained interrupt", n)
		}
	}
	// A re-plan finishes the job.
	p = e.plan(moveHCL("acme-data", "in/", "out/"))
	e.mustApply(p, executor.Options{})
	if src, _ := e.visible("acme-data", "in/"); len(src) != 0 {
		t.Errorf("%d objects left at the source", len(src))
	}
}

func TestDeferredIDsAreResolved(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	p := e.plan(`bucket "a" {
  name = "acme-a"
  info = { peer = bucket.b.id, tag = "x-${bucket.b.id}" }
}

bucket "b" {
  name = "acme-b"
}

key "k" {
  name        = "acme-k"
  access      = "read-only"
  buckets     = [bucket.a.name, bucket.b.name]
  name_prefix = "p-${bucket.b.id}/"
  secret_file = "k.env"
}
`)
	res := e.mustApply(p, executor.Options{})
	if res.Added != 3 {
		t.Errorf("added %d", res.Added)
	}
	l := e.observe(live.Request{Buckets: true, Keys: true})
	a, b := l.Bucket("acme-a"), l.Bucket("acme-b")
	if a.Info["peer"] != b.ID || a.Info["tag"] != "x-"+b.ID {
		t.Errorf("info %v (a %s, b %s)", a.Info, a.ID, b.ID)
	}
	ks := l.KeysNamed("acme-k")
	if len(ks) != 1 || ks[0].NamePrefix != "p-"+b.ID+"/" || len(ks[0].BucketIDs) != 2 {
		t.Errorf("key %+v", ks)
	}
	if p := e.plan(`bucket "a" {
  name = "acme-a"
  info = { peer = bucket.b.id, tag = "x-${bucket.b.id}" }
}

bucket "b" {
  name = "acme-b"
}

key "k" {
  name        = "acme-k"
  access      = "read-only"
  buckets     = [bucket.a.name, bucket.b.name]
  name_prefix = "p-${bucket.b.id}/"
  secret_file = "k.env"
}
`); p.HasChanges() {
		t.Errorf("re-plan: %s", p.SummaryLine())
	}
}

func TestResourcesUnderFaults(t *testing.T) {
	e := newEnv(t, emulator.Options{Seed: 3})
	p := e.plan(resourcesV1)
	e.s.SetFaults(0.2, 503, 429, 500)
	e.s.ExpireTokens()
	res, err := e.apply(p, executor.Options{}, nil)
	e.s.SetFaults(0)
	if err != nil {
		t.Fatalf("apply under faults: %v %v", err, res.Failures)
	}
	if e.stats().Faults == 0 {
		t.Fatal("no faults injected")
	}
	l := e.observe(live.Request{Buckets: true, Keys: true})
	if len(l.KeysNamed("acme-ci")) != 1 {
		t.Errorf("keys named acme-ci: %d", len(l.KeysNamed("acme-ci")))
	}
	if p2 := e.plan(resourcesV1); p2.HasChanges() {
		t.Errorf("plan after apply under faults: %s", p2.SummaryLine())
	}
}
