package command

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/b2plan/b2plan/emulator"
)

const replKillConfig = `
bucket "src" {
  name = "acme-kill-src"
}
bucket "dst" {
  name = "acme-kill-dst"
}
bucket "dst2" {
  name = "acme-kill-dst2"
}
replication "r" {
  source_bucket      = bucket.src.name
  destination_bucket = bucket.dst.name
  prefix             = "a/"
}
replication "r2" {
  source_bucket      = bucket.src.name
  destination_bucket = bucket.dst2.name
  prefix             = "b/"
}
`

// TestReplicationKilledBetweenSteps: b2plan apply SIGKILLed right after each replication step
// took effect at B2 (its reply never seen): after a key creation, after the destination
// mapping write, after the source write; and, removing the blocks, after each configuration
// write and after a key deletion. The next apply converges: exactly one key per b2plan name
// (no duplicate, no orphan b2plan-repl-* key), both sides configured as declared (raw
// listings), replication works (SHA-1 of a replica), the re-plan is empty; and no key secret
// B2 handed out appears in any output or in the configuration directory.
func TestReplicationKilledBetweenSteps(t *testing.T) {
	type point struct {
		api string
		n   int
	}
	for _, kp := range []point{{"b2_create_key", 1}, {"b2_create_key", 2}, {"b2_create_key", 3},
		{"b2_update_bucket", 1}, {"b2_update_bucket", 2}, {"b2_update_bucket", 3}} {
		t.Run(fmt.Sprintf("%s#%d", kp.api, kp.n), func(t *testing.T) {
			e := newKeyEnv(t)
			dir := filepath.Join(e.dir, "cfg")
			e.write(dir, replKillConfig)
			var secrets []string
			var smu sync.Mutex
			var all strings.Builder
			// The buckets first, so that the kill lands in the replication steps.
			e.write(dir, replKillConfig[:strings.Index(replKillConfig, "replication")])
			e.mustRun("apply", "-auto-approve", dir)
			e.write(dir, replKillConfig)
			kill := func(kp point) {
				committed := e.killAfterCommit(kp.api, kp.n, &secrets, &smu)
				c := startChild(t, e.env(), nil, nil, "apply", "-auto-approve", "-parallelism=1", dir)
				killWhenCommitted(t, c, committed, fmt.Sprintf("%s #%d", kp.api, kp.n))
				all.WriteString(c.output()) // the hook stays: it records the secrets of later applies
			}
			converge := func(wantKeys int) {
				t.Helper()
				code, out, errOut := e.run("apply", "-auto-approve", dir)
				all.WriteString(out + errOut)
				if code != 0 {
					t.Fatalf("apply after the kill: %d\n%s\n%s", code, out, errOut)
				}
				code, out, errOut = e.run("plan", "-detailed-exitcode", dir)
				all.WriteString(out + errOut)
				if code != 0 {
					t.Fatalf("re-plan after the kill: %d\n%s\n%s", code, out, errOut)
				}
				if n := replKeyCount(t, e); n != wantKeys {
					t.Fatalf("%d b2plan-repl keys, want %d: %v", n, wantKeys, e.rawKeys())
				}
			}
			kill(kp)
			converge(3)
			bids := e.rawBucketIDs()
			keys := e.rawKeys()
			srcKey := keys["b2plan-repl-src-acme-kill-src"][0]
			sc := sourceConf(e, "acme-kill-src")
			if sc["sourceApplicationKeyId"] != srcKey || len(sc["replicationRules"].([]any)) != 2 {
				t.Fatalf("source configuration: %v (key %s)", sc, srcKey)
			}
			killMappings(t, e, keys)
			replicates(t, e, bids["acme-kill-src"], e, bids["acme-kill-dst2"], "b/x.bin", 4321)

			// Removal, killed at the same step number of its own calls.
			e.write(dir, replKillConfig[:strings.Index(replKillConfig, "replication")])
			rp := kp
			if rp.api == "b2_create_key" {
				rp = point{"b2_delete_key", kp.n}
			}
			kill(rp)
			converge(0)
			for _, b := range []string{"acme-kill-src", "acme-kill-dst", "acme-kill-dst2"} {
				if c := rawRepl(e, b); len(c) != 0 {
					t.Fatalf("replication left on %s: %v", b, c)
				}
			}

			smu.Lock()
			defer smu.Unlock()
			if len(secrets) < 3 {
				t.Fatalf("saw %d key secrets, want at least 3", len(secrets))
			}
			noSecrets(t, all.String()+filesText(e.dir), secrets)
		})
	}
}

// TestReplicationTwoAppliesAtOnce: two b2plan apply processes of one configuration at the
// same time (each creates keys and writes whole configurations). Whatever they left, the next
// apply converges: one key per b2plan name, source and destinations naming the same keys, a
// replica arrives, the re-plan is empty.
func TestReplicationTwoAppliesAtOnce(t *testing.T) {
	e := newKeyEnv(t)
	dir := filepath.Join(e.dir, "cfg")
	e.write(dir, replKillConfig[:strings.Index(replKillConfig, "replication")])
	e.mustRun("apply", "-auto-approve", dir)
	e.write(dir, replKillConfig)
	a := startChild(t, e.env(), nil, nil, "apply", "-auto-approve", dir)
	b := startChild(t, e.env(), nil, nil, "apply", "-auto-approve", dir)
	<-a.end
	<-b.end
	t.Logf("first: %v\n%s\nsecond: %v\n%s", a.err, a.output(), b.err, b.output())
	e.mustRun("apply", "-auto-approve", dir)
	e.mustRun("plan", "-detailed-exitcode", dir)
	keys := e.rawKeys()
	for _, n := range []string{"b2plan-repl-src-acme-kill-src", "b2plan-repl-dst-acme-kill-dst", "b2plan-repl-dst-acme-kill-dst2"} {
		if len(keys[n]) != 1 {
			t.Fatalf("key %s: %v", n, keys[n])
		}
	}
	killMappings(t, e, keys)
	bids := e.rawBucketIDs()
	replicates(t, e, bids["acme-kill-src"], e, bids["acme-kill-dst"], "a/y.bin", 999)
}

// TestReplicationImportHostileNames: rules set up with raw calls whose names import cannot
// use as labels as they are — the same name on two source buckets, a name starting with a
// digit, 64 characters, '-' only where a label would have '_' — import into valid blocks, and
// the plan right after is empty (nothing renamed, removed or duplicated).
func TestReplicationImportHostileNames(t *testing.T) {
	e := newKeyEnv(t)
	mk := func(name string) string {
		return e.rawCall("b2_create_bucket", map[string]any{"bucketName": name, "bucketType": "allPrivate"})["bucketId"].(string)
	}
	s1, s2, d := mk("acme-hn-src1"), mk("acme-hn-src2"), mk("acme-hn-dst")
	key := func(name, bucket string, caps ...string) string {
		return e.rawCall("b2_create_key", map[string]any{"keyName": name, "capabilities": caps, "bucketIds": []string{bucket}})["applicationKeyId"].(string)
	}
	k1, k2, dk := key("k1", s1, "readFiles"), key("k2", s2, "readFiles"), key("kd", d, "writeFiles")
	e.rawCall("b2_update_bucket", map[string]any{"bucketId": d, "replicationConfiguration": map[string]any{
		"asReplicationDestination": map[string]any{"sourceToDestinationKeyMapping": map[string]any{k1: dk, k2: dk}}}})
	long := strings.Repeat("a-", 32)
	rule := func(name, prefix string) map[string]any {
		return map[string]any{"replicationRuleName": name, "destinationBucketId": d, "fileNamePrefix": prefix, "priority": 5,
			"isEnabled": true, "includeExistingFiles": false}
	}
	e.rawCall("b2_update_bucket", map[string]any{"bucketId": s1, "replicationConfiguration": map[string]any{
		"asReplicationSource": map[string]any{"sourceApplicationKeyId": k1, "replicationRules": []any{
			rule("same", "a/"), rule("9lives", "b/"), rule(long, "c/"), rule("x--y", "d/")}}}})
	e.rawCall("b2_update_bucket", map[string]any{"bucketId": s2, "replicationConfiguration": map[string]any{
		"asReplicationSource": map[string]any{"sourceApplicationKeyId": k2, "replicationRules": []any{rule("same", "a/")}}}})
	b := importThenPlan(t, e)
	if n := strings.Count(b, "\nreplication \""); n != 5 {
		t.Fatalf("%d replication blocks imported, want 5:\n%s", n, b)
	}
}

// TestReplicationTarget: -target=replication.NAME across two accounts plans that rule, the
// keys it needs and its buckets (created by the same apply), plus the other rules of its
// source bucket (written together, with a note); a rule on another source is left for later.
// After apply the targeted rule replicates (SHA-1 at the other account), a targeted re-plan
// is empty, and a plan without -target brings in only the rest.
func TestReplicationTarget(t *testing.T) {
	re := newReplEnv(t)
	cfg := re.config(t, replConfig+`
bucket "third" {
  name = "acme-third"
}
replication "third" {
  source_bucket      = bucket.third.name
  destination_bucket = bucket.copy.name
}
`)
	var all strings.Builder
	code, stdout, stderr := re.run(t, &all, "plan", "-target=replication.media_to_backup", cfg)
	if code != 0 || !strings.Contains(stdout, "replication.media_to_backup will be created") ||
		!strings.Contains(stdout, "replication.same_account will be created") || strings.Contains(stdout, "replication.third ") ||
		!strings.Contains(stdout, "bucket.backup will be created") || strings.Contains(stdout, "bucket.third ") ||
		!strings.Contains(stdout, `replication.same_account is included because it is a rule of bucket "acme-media"`) ||
		!strings.Contains(stdout, `the whole replication configuration of bucket "acme-media" is written`) {
		t.Fatalf("targeted plan: %d\n%s\n%s", code, stdout, stderr)
	}
	// A target of one account only is no error in the other account's part; the other rule of
	// the source brings its bucket in the other account in.
	code, stdout, stderr = re.run(t, &all, "plan", "-target=replication.same_account", cfg)
	if code != 0 || !strings.Contains(stdout, "bucket.backup will be created") || strings.Contains(stdout+stderr, "No resource matches") {
		t.Fatalf("plan -target of a rule within one account: %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, stderr = re.run(t, &all, "plan", "-target=bucket.copy", cfg)
	if code != 0 || !strings.Contains(stdout, "Plan: 1 to add, 0 to change, 0 to destroy") || strings.Contains(stdout+stderr, "No resource matches") {
		t.Fatalf("plan -target of a bucket of one account: %d\n%s\n%s", code, stdout, stderr)
	}
	re.mustRun(t, &all, "apply", "-auto-approve", "-target=replication.media_to_backup", cfg)
	re.mustRun(t, &all, "plan", "-detailed-exitcode", "-target=replication.media_to_backup", cfg)
	dIDs, bIDs := re.def.rawBucketIDs(), re.bak.rawBucketIDs()
	if dIDs["acme-third"] != "" {
		t.Fatalf("an untargeted bucket was created: %v", dIDs)
	}
	replicates(t, re.def, dIDs["acme-media"], re.bak, bIDs["acme-backup"], "photos/t.jpg", 3333)
	code, stdout, _ = re.run(t, &all, "plan", cfg)
	if code != 0 || !strings.Contains(stdout, "replication.third will be created") || strings.Contains(stdout, "replication.media_to_backup will") ||
		!strings.Contains(stdout, "bucket.third will be created") {
		t.Fatalf("plan without -target: %d\n%s", code, stdout)
	}
	re.mustRun(t, &all, "apply", "-auto-approve", cfg)
	re.mustRun(t, &all, "plan", "-detailed-exitcode", cfg)
	re.mu.Lock()
	defer re.mu.Unlock()
	noSecrets(t, all.String(), re.secrets)
}

// TestReplicationFailedStatusReported: a file B2 failed to replicate (its destination's key
// mapping removed out of band) under an object block is reported by plan as a warning naming
// the replication block and the count; after apply repairs the mapping and -replace uploads
// the object again, it arrives at the destination (SHA-1) and the warning is gone.
func TestReplicationFailedStatusReported(t *testing.T) {
	e := newKeyEnv(t)
	dir := filepath.Join(e.dir, "cfg")
	e.write(dir, replPair("acme-fail", "", "r", "  prefix             = \"cfg/\"\n")+`
object "app" {
  bucket  = bucket.src.name
  name    = "cfg/app.json"
  content = "{\"v\":1}"
}
`)
	e.mustRun("apply", "-auto-approve", dir)
	ids := e.rawBucketIDs()
	e.rawCall("b2_update_bucket", map[string]any{"bucketId": ids["acme-fail-dst"], "replicationConfiguration": map[string]any{}})
	e.uploadRaw(ids["acme-fail-src"], "cfg/app.json", []byte(`{"v":1}`))
	waitFor(t, "cfg/app.json marked failed", func() bool {
		f := e.rawCall("b2_list_file_versions", map[string]any{"bucketId": ids["acme-fail-src"], "prefix": "cfg/app.json", "maxFileCount": 1})["files"].([]any)[0].(map[string]any)
		return f["replicationStatus"] == "failed"
	})
	code, out, errOut := e.run("plan", dir)
	if code != 0 || !strings.Contains(out+errOut, "Replication failed for replication.r") ||
		!strings.Contains(out+errOut, `replicationStatus "failed" for 1 file version this`) || !strings.Contains(out+errOut, `(e.g. "cfg/app.json")`) {
		t.Fatalf("plan: %d\n%s\n%s", code, out, errOut)
	}
	e.mustRun("apply", "-auto-approve", "-replace=object.app", dir)
	wantReplica(t, e, ids["acme-fail-dst"], "cfg/app.json", shaHex([]byte(`{"v":1}`)))
	code, out, errOut = e.run("plan", "-detailed-exitcode", dir)
	if code != 0 || strings.Contains(out+errOut, "Replication failed") {
		t.Fatalf("plan after the repair: %d\n%s\n%s", code, out, errOut)
	}
}

// TestReplicationSecretsNowhere: replication keys (their secrets recorded as B2 hands them
// out) and a webhook signing secret on a replicated bucket, through plan -json, apply -json,
// a saved plan (raw and decompressed), show -json, a kill-free re-plan and destroy -json: no
// secret appears in any output, plan file or file under HOME and the configuration directory.
func TestReplicationSecretsNowhere(t *testing.T) {
	re := newReplEnv(t)
	const signing = "Sig0Sig1Sig2Sig3Sig4Sig5Sig6Sig7"
	src := replConfig + `
variable "hook_secret" {
  type      = string
  sensitive = true
}
`
	src = strings.Replace(src, `bucket "media" {
  name = "acme-media"
}`, `bucket "media" {
  name = "acme-media"
  force_destroy = true
  notification_rule {
    name        = "on-upload"
    event_types = ["b2:ObjectCreated:*"]
    webhook {
      url            = "https://hooks.example.com/b2"
      signing_secret = var.hook_secret
    }
  }
}`, 1)
	src = strings.ReplaceAll(src, `name     = "acme-backup"`, "name     = \"acme-backup\"\n  force_destroy = true")
	src = strings.ReplaceAll(src, `name = "acme-media-copy"`, "name = \"acme-media-copy\"\n  force_destroy = true")
	cfg := re.config(t, src)
	env := append(re.env(), "B2PLAN_VAR_hook_secret="+signing)
	var all strings.Builder
	run := func(args ...string) int {
		t.Helper()
		code, o, e := runLocal(t, env, args...)
		all.WriteString(o + e)
		return code
	}
	planFile := filepath.Join(re.def.dir, "p.plan")
	if code := run("plan", "-json", cfg); code != 0 {
		t.Fatalf("plan -json: %d\n%s", code, all.String())
	}
	if code := run("apply", "-auto-approve", "-json", cfg); code != 0 {
		t.Fatalf("apply -json: %d\n%s", code, all.String())
	}
	if code := run("plan", "-detailed-exitcode", "-out="+planFile, cfg); code != 0 {
		t.Fatalf("re-plan: %d\n%s", code, all.String())
	}
	if code := run("show", "-json", planFile); code != 0 {
		t.Fatalf("show -json: %d", code)
	}
	ids := re.def.rawBucketIDs()
	data, _ := randomBytes(t, 100)
	re.def.uploadRaw(ids["acme-media"], "photos/p.jpg", data)
	waitVersion(t, re.bak, re.bak.rawBucketIDs()["acme-backup"], "photos/p.jpg")
	if code := run("destroy", "-auto-approve", "-json", cfg); code != 0 {
		t.Fatalf("destroy -json: %d\n%s", code, all.String())
	}
	pf, _ := os.ReadFile(planFile)
	re.mu.Lock()
	defer re.mu.Unlock()
	if len(re.secrets) < 3 {
		t.Fatalf("saw %d key secrets", len(re.secrets))
	}
	noSecrets(t, all.String()+planFileText(t, planFile)+string(pf)+filesText(re.def.dir), append([]string{signing}, re.secrets...))
	if ks := rawKeyCaps(re.def, "b2plan-repl-"); len(ks) != 0 {
		t.Errorf("replication keys left after destroy: %v", ks)
	}
}

// TestReplicationNextToB2SDK: Backblaze's Python SDK sets up replication next to b2plan's —
// another source into b2plan's destination bucket (a mapping entry there) and a rule of its
// own on b2plan's source bucket. b2plan keeps the other source's mapping entry and b2sdk's
// keys, removes the undeclared rule on the source it manages (as documented, with the
// reason), and both remaining replications work (SHA-1 of the replicas); the re-plan is
// empty. Skipped without /usr/bin/python3 and b2sdk.
func TestReplicationNextToB2SDK(t *testing.T) {
	py := needB2SDK(t)
	e := newKeyEnv(t)
	dir := filepath.Join(e.dir, "cfg")
	e.write(dir, replPair("acme-nx", "", "r", "  prefix             = \"a/\"\n"))
	e.mustRun("apply", "-auto-approve", dir)
	e.rawCall("b2_create_bucket", map[string]any{"bucketName": "acme-nx-other", "bucketType": "allPrivate"})
	e.rawCall("b2_create_bucket", map[string]any{"bucketName": "acme-nx-third", "bucketType": "allPrivate"})
	script := `
import sys
from b2sdk.v2 import B2Api, InMemoryAccountInfo, ReplicationSetupHelper
api = B2Api(InMemoryAccountInfo())
api.authorize_account(sys.argv[1], sys.argv[2], sys.argv[3])
h = ReplicationSetupHelper()
h.setup_both(api.get_bucket_by_name("acme-nx-other"), api.get_bucket_by_name("acme-nx-dst"), name="sdk-in", priority=5, prefix="o/")
h.setup_both(api.get_bucket_by_name("acme-nx-src"), api.get_bucket_by_name("acme-nx-third"), name="sdk-out", priority=6, prefix="t/")
`
	if raw, err := exec.Command(py, "-c", script, e.url, emulator.DefaultKeyID, emulator.DefaultKey).CombinedOutput(); err != nil {
		t.Fatalf("b2sdk: %v\n%s", err, raw)
	}
	keysBefore := e.rawKeys()
	otherKey := sourceConf(e, "acme-nx-other")["sourceApplicationKeyId"].(string)
	code, out, errOut := e.run("plan", dir)
	if code != 0 || !strings.Contains(out, "replication.sdk_out will be destroyed") || !strings.Contains(out, "no replication block declares this rule of bucket acme-nx-src") ||
		!strings.Contains(out, "Plan: 0 to add, 0 to change, 1 to destroy") {
		t.Fatalf("plan next to b2sdk's replication: %d\n%s\n%s", code, out, errOut)
	}
	e.mustRun("apply", "-auto-approve", dir)
	e.mustRun("plan", "-detailed-exitcode", dir)
	m := destMapping(e, "acme-nx-dst")
	if _, ok := m[otherKey]; !ok || len(m) != 2 {
		t.Fatalf("the other source's mapping entry was not kept: %v (other source key %s)", m, otherKey)
	}
	for name, ids := range keysBefore {
		if now := e.rawKeys()[name]; strings.Join(now, ",") != strings.Join(ids, ",") {
			t.Errorf("key %s: %v before, %v after", name, ids, now)
		}
	}
	ids := e.rawBucketIDs()
	replicates(t, e, ids["acme-nx-src"], e, ids["acme-nx-dst"], "a/1", 1500)   // b2plan's
	replicates(t, e, ids["acme-nx-other"], e, ids["acme-nx-dst"], "o/2", 1600) // b2sdk's
}

// TestReplicationOutOfBand: after apply, the destination bucket is deleted out of band (its
// key mapping with it), then the source key: each time the plan shows what to repair, apply
// repairs it (a new bucket, a new key restricted to it, the rule pointing at the new bucket
// id, the mapping), a new upload replicates (SHA-1), the re-plan is empty, and no
// b2plan-repl key is left twice or stale.
func TestReplicationOutOfBand(t *testing.T) {
	e := newKeyEnv(t)
	dir := filepath.Join(e.dir, "cfg")
	e.write(dir, replPair("acme-oob", "", "r", ""))
	e.mustRun("apply", "-auto-approve", dir)
	check := func(step string, n int) {
		t.Helper()
		code, out, errOut := e.run("plan", "-detailed-exitcode", dir)
		if code != 2 {
			t.Fatalf("%s: plan shows no drift: %d\n%s\n%s", step, code, out, errOut)
		}
		t.Log(step)
		e.mustRun("apply", "-auto-approve", dir)
		e.mustRun("plan", "-detailed-exitcode", dir)
		ids := e.rawBucketIDs()
		keys := e.rawKeys()
		for _, name := range []string{"b2plan-repl-src-acme-oob-src", "b2plan-repl-dst-acme-oob-dst"} {
			if len(keys[name]) != 1 {
				t.Fatalf("%s: key %s: %v", step, name, keys[name])
			}
		}
		if caps := rawKeyCaps(e, "b2plan-repl-dst-")["b2plan-repl-dst-acme-oob-dst"]; !strings.Contains(caps, "@"+ids["acme-oob-dst"]+" ") {
			t.Fatalf("%s: destination key not restricted to the new bucket %s: %s", step, ids["acme-oob-dst"], caps)
		}
		replicates(t, e, ids["acme-oob-src"], e, ids["acme-oob-dst"], fmt.Sprintf("f%d", n), 700+n)
	}
	e.rawCall("b2_delete_bucket", map[string]any{"bucketId": e.rawBucketIDs()["acme-oob-dst"]})
	check("destination bucket deleted", 1)
	e.rawCall("b2_delete_key", map[string]any{"applicationKeyId": e.rawKeys()["b2plan-repl-src-acme-oob-src"][0]})
	check("source key deleted", 2)
	e.rawCall("b2_delete_key", map[string]any{"applicationKeyId": e.rawKeys()["b2plan-repl-dst-acme-oob-dst"][0]})
	check("destination key deleted", 3)
}

// TestReplicationObjectsOfTheSameApply: an object declared in a replicated bucket, applied by
// the apply that sets up the replication (across two accounts, and within one), arrives at
// the destinations with its SHA-1: the configurations are written before objects are uploaded.
func TestReplicationObjectsOfTheSameApply(t *testing.T) {
	re := newReplEnv(t)
	cfg := re.config(t, replConfig+mediaObject("logo", "photos/logo.svg", "<svg/>")+mediaObject("readme", "docs/readme.txt", "read me"))
	var all strings.Builder
	re.mustRun(t, &all, "apply", "-auto-approve", cfg)
	wantReplica(t, re.bak, re.bak.rawBucketIDs()["acme-backup"], "photos/logo.svg", shaHex([]byte("<svg/>")))
	wantReplica(t, re.def, re.def.rawBucketIDs()["acme-media-copy"], "docs/readme.txt", shaHex([]byte("read me")))
	re.mustRun(t, &all, "plan", "-detailed-exitcode", cfg)
}

// TestReplicationDestroyClearsBeforeDelete: the server refuses to delete a bucket whose
// replication configuration is not empty (as B2 might: its documentation does not say), and
// destroy of a populated replicated configuration still succeeds: each bucket's
// configuration is cleared before the bucket is deleted. No bucket or b2plan-repl key is left.
func TestReplicationDestroyClearsBeforeDelete(t *testing.T) {
	e := newKeyEnv(t)
	dir := filepath.Join(e.dir, "cfg")
	e.write(dir, replPair("acme-del", "  force_destroy = true\n", "r", ""))
	e.mustRun("apply", "-auto-approve", dir)
	ids := e.rawBucketIDs()
	replicates(t, e, ids["acme-del-src"], e, ids["acme-del-dst"], "x", 500)
	refused := 0
	e.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasSuffix(r.URL.Path, "/b2_delete_bucket") {
			return false
		}
		var req struct {
			BucketID string `json:"bucketId"`
		}
		json.Unmarshal(peekBody(r), &req)
		for name, id := range ids {
			if id == req.BucketID && len(rawRepl(e, name)) != 0 {
				e.mu.Lock()
				refused++
				e.mu.Unlock()
				w.WriteHeader(400)
				w.Write([]byte(`{"status":400,"code":"bad_request","message":"bucket is configured for replication (refused by the test)"}`))
				return true
			}
		}
		return false
	})
	e.mustRun("destroy", "-auto-approve", dir)
	e.mu.Lock()
	n := refused
	e.hook = nil
	e.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d bucket deletions came before their replication was cleared", n)
	}
	if left := e.rawBuckets(); len(left) != 0 {
		t.Fatalf("buckets left: %v", left)
	}
	if ks := rawKeyCaps(e, "b2plan-repl-"); len(ks) != 0 {
		t.Fatalf("keys left: %v", ks)
	}
}

// TestReplicationKilledAcrossAccounts: a two-account apply (buckets, keys, replication,
// objects) SIGKILLed right after its first replication configuration write took effect: the
// next apply converges (one key per b2plan name, re-plan empty), and the objects it uploads
// are replicated to the other account (SHA-1).
func TestReplicationKilledAcrossAccounts(t *testing.T) {
	re := newReplEnv(t)
	cfg := re.config(t, replConfig+mediaObject("logo", "photos/logo.svg", "<svg>k</svg>"))
	committed := make(chan struct{})
	var once sync.Once
	re.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasSuffix(r.URL.Path, "/b2_update_bucket") || !bytes.Contains(peekBody(r), []byte("replicationConfiguration")) {
			return false
		}
		held := false
		once.Do(func() {
			re.def.srv.Handler().ServeHTTP(httptest.NewRecorder(), r) // committed ...
			close(committed)
			held = true
			holdReply(r) // ... and the reply never sent: the process is killed
		})
		return held
	})
	c := startChild(t, re.env(), nil, nil, "apply", "-auto-approve", "-parallelism=1", cfg)
	killWhenCommitted(t, c, committed, "replication write")
	re.setHook(nil)
	var all strings.Builder
	all.WriteString(c.output())
	re.mustRun(t, &all, "apply", "-auto-approve", cfg)
	re.mustRun(t, &all, "plan", "-detailed-exitcode", cfg)
	if n, m := replKeyCount(t, re.def), replKeyCount(t, re.bak); n != 2 || m != 1 {
		// replConfig: the default account has media's source key and the destination key of
		// its same-account rule; the backup account one destination key.
		t.Errorf("replication keys: %d in the default account, %d in the backup account; want 2 and 1", n, m)
	}
	wantReplica(t, re.bak, re.bak.rawBucketIDs()["acme-backup"], "photos/logo.svg", shaHex([]byte("<svg>k</svg>")))
	re.mu.Lock()
	defer re.mu.Unlock()
	noSecrets(t, all.String(), re.secrets)
}
