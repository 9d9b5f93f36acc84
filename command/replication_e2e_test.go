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

const replConfig = `
provider "b2" {}
provider "b2" {
  alias = "backup"
}
bucket "media" {
  name = "acme-media"
}
bucket "backup" {
  provider = b2.backup
  name     = "acme-backup"
}
bucket "copy" {
  name = "acme-media-copy"
}
replication "media_to_backup" {
  source_bucket      = bucket.media.name
  destination_bucket = bucket.backup.name
  prefix             = "photos/"
  priority           = 1
}
replication "same_account" {
  source_bucket      = bucket.media.name
  destination_bucket = bucket.copy.name
  prefix             = "docs/"
}
`

// TestReplicationTwoAccounts: replication blocks across two accounts of one b2local (and one
// within an account) are planned with the keys they need, applied (keys with exactly the
// documented capabilities, restricted to their bucket; both sides configured), and work: new
// uploads under the prefixes appear at the destinations with the SHA-1 of the bytes
// uploaded (raw listings of each account). Re-plans are empty; a rule disabled and a
// mapping removed out of band are drift that apply repairs; removing the blocks removes the
// rules, the mappings and the keys. No key secret appears in any output or plan file.
func TestReplicationTwoAccounts(t *testing.T) {
	re := newReplEnv(t)
	cfg := re.config(t, replConfig)
	var all strings.Builder
	planFile := filepath.Join(re.def.dir, "p.plan")

	code, stdout, stderr := re.run(t, &all, "plan", "-out="+planFile, cfg)
	if code != 0 || !strings.Contains(stdout, "Plan: 8 to add, 0 to change, 0 to destroy") {
		t.Fatalf("plan: %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{`replication.media_to_backup will be created`, `replication.same_account will be created`,
		`replication_key.source["acme-media"] will be created`, `replication_key.destination["acme-backup"] will be created`,
		`replication_key.destination["acme-media-copy"] will be created`, `"b2plan-repl-src-acme-media"`} {
		if !strings.Contains(stdout, want) {
			t.Errorf("plan lacks %q:\n%s", want, stdout)
		}
	}
	code, js, _ := re.run(t, &all, "show", "-json", planFile)
	if code != 0 || !strings.Contains(js, `"type":"replication"`) || !strings.Contains(js, `"type":"replication_key"`) ||
		!strings.Contains(js, `"address":"replication.media_to_backup"`) {
		t.Fatalf("show -json: %d\n%s", code, js)
	}
	if stdout = re.mustRun(t, &all, "apply", planFile); !strings.Contains(stdout, "Resources: 8 added") {
		t.Fatalf("apply:\n%s", stdout)
	}
	re.mustRun(t, &all, "plan", "-detailed-exitcode", cfg)

	// Both sides, read with plain HTTP.
	dIDs, bIDs := re.def.rawBucketIDs(), re.bak.rawBucketIDs()
	media, backup, cp := dIDs["acme-media"], bIDs["acme-backup"], dIDs["acme-media-copy"]
	dk, bk := rawKeyCaps(re.def, "b2plan-repl-"), rawKeyCaps(re.bak, "b2plan-repl-")
	if len(dk) != 2 || len(bk) != 1 {
		t.Fatalf("keys: default %v, backup %v", dk, bk)
	}
	src, dstB, dstC := dk["b2plan-repl-src-acme-media"], bk["b2plan-repl-dst-acme-backup"], dk["b2plan-repl-dst-acme-media-copy"]
	if !strings.HasPrefix(src, "readFileLegalHolds,readFileRetentions,readFiles @"+media+" ") ||
		!strings.HasPrefix(dstB, "deleteFiles,writeFileLegalHolds,writeFileRetentions,writeFiles @"+backup+" ") ||
		!strings.HasPrefix(dstC, "deleteFiles,writeFileLegalHolds,writeFileRetentions,writeFiles @"+cp+" ") {
		t.Fatalf("key capabilities: %q %q %q", src, dstB, dstC)
	}
	idOf := func(s string) string { return s[strings.LastIndexByte(s, ' ')+1:] }
	sc := sourceConf(re.def, "acme-media")
	if sc["sourceApplicationKeyId"] != idOf(src) || len(sc["replicationRules"].([]any)) != 2 {
		t.Fatalf("source configuration: %v", sc)
	}
	if m := destMapping(re.bak, "acme-backup"); len(m) != 1 || m[idOf(src)] != idOf(dstB) {
		t.Fatalf("backup mapping: %v", m)
	}

	// New uploads replicate: across accounts, and within one.
	if f := replicates(t, re.def, media, re.bak, backup, "photos/cat.jpg", 70_000); f["replicationStatus"] != "replica" {
		t.Fatalf("replica at the backup account: %v", f)
	}
	doc, _ := randomBytes(t, 1_000)
	re.def.uploadRaw(media, "other/skip.bin", doc)
	if f := replicates(t, re.def, media, re.def, cp, "docs/readme.txt", 1_000); f["replicationStatus"] != "replica" {
		t.Fatalf("replica in the same account: %v", f)
	}
	if f := waitVersion(t, re.def, media, "other/skip.bin"); f["replicationStatus"] != nil {
		t.Fatalf("a file outside the prefixes was replicated: %v", f)
	}

	// Out of band: the rule disabled, and the backup's mapping removed.
	rules := sourceConf(re.def, "acme-media")["replicationRules"].([]any)
	for _, r := range rules {
		if rm := r.(map[string]any); rm["replicationRuleName"] == "media-to-backup" {
			rm["isEnabled"] = false
		}
	}
	re.def.rawCall("b2_update_bucket", map[string]any{"bucketId": media, "replicationConfiguration": map[string]any{
		"asReplicationSource": map[string]any{"sourceApplicationKeyId": idOf(src), "replicationRules": rules}}})
	re.bak.rawCall("b2_update_bucket", map[string]any{"bucketId": backup, "replicationConfiguration": map[string]any{}})
	code, stdout, _ = re.run(t, &all, "plan", "-detailed-exitcode", cfg)
	if code != 2 || !strings.Contains(stdout, "replication.media_to_backup will be updated in-place") ||
		!strings.Contains(stdout, "B2 shows the rule disabled") || !strings.Contains(stdout, `bucket "acme-backup" maps no destination key`) ||
		!strings.Contains(stdout, "Plan: 0 to add, 1 to change, 0 to destroy") {
		t.Fatalf("drift: %d\n%s", code, stdout)
	}
	re.mustRun(t, &all, "apply", "-auto-approve", cfg)
	re.mustRun(t, &all, "plan", "-detailed-exitcode", cfg)
	replicates(t, re.def, media, re.bak, backup, "photos/dog.jpg", 5_000)

	// The blocks removed: rules, mappings and keys go; buckets and replicas stay.
	writeFiles(t, cfg, map[string]string{"main.hcl": replConfig[:strings.Index(replConfig, "replication \"media_to_backup\"")]})
	code, stdout, _ = re.run(t, &all, "plan", cfg)
	if code != 0 || !strings.Contains(stdout, "Plan: 0 to add, 0 to change, 5 to destroy") ||
		!strings.Contains(stdout, "replication.media_to_backup will be destroyed") {
		t.Fatalf("plan without the blocks: %d\n%s", code, stdout)
	}
	re.mustRun(t, &all, "apply", "-auto-approve", cfg)
	if k1, k2 := rawKeyCaps(re.def, "b2plan-repl-"), rawKeyCaps(re.bak, "b2plan-repl-"); len(k1)+len(k2) != 0 {
		t.Fatalf("replication keys left: %v %v", k1, k2)
	}
	for _, c := range []map[string]any{rawRepl(re.def, "acme-media"), rawRepl(re.bak, "acme-backup"), rawRepl(re.def, "acme-media-copy")} {
		if len(c) != 0 {
			t.Fatalf("replication configuration left: %v", c)
		}
	}
	re.mustRun(t, &all, "plan", "-detailed-exitcode", cfg)

	// No key secret anywhere b2plan wrote.
	pf, _ := os.ReadFile(planFile)
	re.mu.Lock()
	defer re.mu.Unlock()
	if len(re.secrets) != 3 {
		t.Fatalf("saw %d created keys, want 3", len(re.secrets))
	}
	noSecrets(t, all.String()+planFileText(t, planFile)+string(pf)+filesText(cfg), re.secrets)
}

// TestReplicationOneAccountDestroy: in a configuration without provider aliases, a
// replication with a bucket that exists but is not declared (given with source_provider),
// applied and then destroyed: destroy removes the rule, the mapping and both keys (raw
// listings) and deletes the declared bucket; the undeclared one stays, without replication.
func TestReplicationOneAccountDestroy(t *testing.T) {
	e := newKeyEnv(t)
	e.rawCall("b2_create_bucket", map[string]any{"bucketName": "acme-legacy", "bucketType": "allPrivate"})
	dir := filepath.Join(e.dir, "cfg")
	legacy := func(copyExtra string) string {
		return `
bucket "copy" {
  name = "acme-legacy-copy"
` + copyExtra + `}
replication "legacy" {
  source_bucket      = "acme-legacy"
  source_provider    = b2
  destination_bucket = bucket.copy.name
  include_existing   = true
}
`
	}
	e.write(dir, legacy(""))
	if out := e.mustRun("apply", "-auto-approve", dir); !strings.Contains(out, "Resources: 4 added") {
		t.Fatalf("apply:\n%s", out)
	}
	e.mustRun("plan", "-detailed-exitcode", dir)
	ids := e.rawBucketIDs()
	replicates(t, e, ids["acme-legacy"], e, ids["acme-legacy-copy"], "a/b.txt", 3000)
	// The copy holds a replica now: destroy needs force_destroy; without, it is refused.
	code, out, errOut := e.run("destroy", "-auto-approve", dir)
	if code == 0 {
		t.Fatalf("destroy of a non-empty bucket succeeded:\n%s", out)
	}
	e.write(dir, legacy("  force_destroy = true\n"))
	code, out, errOut = e.run("destroy", "-auto-approve", dir)
	if code != 0 || !strings.Contains(out, "# replication.legacy will be destroyed") {
		t.Fatalf("destroy: %d\n%s\n%s", code, out, errOut)
	}
	if ks := rawKeyCaps(e, "b2plan-repl-"); len(ks) != 0 {
		t.Fatalf("keys left: %v", ks)
	}
	if ids := e.rawBucketIDs(); ids["acme-legacy"] == "" || ids["acme-legacy-copy"] != "" {
		t.Fatalf("buckets after destroy: %v", ids)
	}
	if c := rawRepl(e, "acme-legacy"); len(c) != 0 {
		t.Fatalf("replication left on the undeclared source: %v", c)
	}
}

// TestReplicationFaults: a b2_create_key whose reply is lost after B2 created the key
// leaves exactly one key, adopted (its secret is not needed); a replication write refused
// while the blocks are removed keeps the keys (the configuration still names them), and the
// next apply finishes the removal.
func TestReplicationFaults(t *testing.T) {
	e := newKeyEnv(t)
	dir := filepath.Join(e.dir, "cfg")
	e.write(dir, replPair("acme-fault", "", "r", ""))
	var lost sync.Once
	e.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasSuffix(r.URL.Path, "/b2_create_key") || !bytes.Contains(peekBody(r), []byte("b2plan-repl-src-")) {
			return false
		}
		handled := false
		lost.Do(func() {
			e.srv.Handler().ServeHTTP(httptest.NewRecorder(), r) // the key is created ...
			w.WriteHeader(500)                                   // ... and the reply lost
			w.Write([]byte(`{"status":500,"code":"internal_error","message":"reply lost"}`))
			handled = true
		})
		return handled
	})
	e.mustRun("apply", "-auto-approve", dir)
	ks := rawKeyCaps(e, "b2plan-repl-src-")
	if len(ks) != 1 {
		t.Fatalf("source keys after a lost reply: %v", ks)
	}
	k := ks["b2plan-repl-src-acme-fault-src"]
	if sc := sourceConf(e, "acme-fault-src"); sc["sourceApplicationKeyId"] != k[strings.LastIndexByte(k, ' ')+1:] {
		t.Fatalf("the source configuration does not use the adopted key: %v vs %s", sc, k)
	}
	e.mustRun("plan", "-detailed-exitcode", dir)

	// Removal with the source's write refused: nothing deleted.
	e.write(dir, replPair("acme-fault", "", "", ""))
	e.setHook(refuse("b2_update_bucket"))
	code, out, errOut := e.run("apply", "-auto-approve", dir)
	if code == 0 || !strings.Contains(out+errOut, "refused by the test") {
		t.Fatalf("apply with refused writes: %d\n%s\n%s", code, out, errOut)
	}
	if ks := rawKeyCaps(e, "b2plan-repl-"); len(ks) != 2 {
		t.Fatalf("keys deleted although the configurations still name them: %v", ks)
	}
	e.setHook(nil)
	e.mustRun("apply", "-auto-approve", dir)
	if ks := rawKeyCaps(e, "b2plan-repl-"); len(ks) != 0 || len(rawRepl(e, "acme-fault-src")) != 0 || len(rawRepl(e, "acme-fault-dst")) != 0 {
		t.Fatalf("after the second apply: keys %v, src %v, dst %v", ks, rawRepl(e, "acme-fault-src"), rawRepl(e, "acme-fault-dst"))
	}
}

// TestReplicationB2SDK: what b2plan set up is what Backblaze's Python SDK (a third-party
// client) reads — the rules, the source key and the mapping — and a file uploaded with it
// arrives as a replica with the same SHA-1. Skipped without /usr/bin/python3 and b2sdk.
func TestReplicationB2SDK(t *testing.T) {
	py := needB2SDK(t)
	e := newKeyEnv(t)
	dir := filepath.Join(e.dir, "cfg")
	e.write(dir, replPair("acme-sdk", "", "sdk", "  prefix             = \"in/\"\n  priority           = 42\n"))
	e.mustRun("apply", "-auto-approve", dir)
	script := `
import sys, json, time, hashlib, io
from b2sdk.v2 import B2Api, InMemoryAccountInfo
api = B2Api(InMemoryAccountInfo())
api.authorize_account(sys.argv[1], sys.argv[2], sys.argv[3])
src, dst = api.get_bucket_by_name("acme-sdk-src"), api.get_bucket_by_name("acme-sdk-dst")
rc, dc = src.replication, dst.replication
out = {"rules": [[r.name, r.destination_bucket_id, r.file_name_prefix, r.priority, r.is_enabled] for r in rc.rules],
       "source_key": rc.source_key_id, "mapping": dc.source_to_destination_key_mapping, "dst_id": dst.id_}
data = bytes(range(256)) * 40
src.upload_bytes(data, "in/sdk.bin")
deadline = time.time() + 20
while time.time() < deadline:
    fvs = [fv for fv, _ in dst.ls(latest_only=True, recursive=True) if fv.file_name == "in/sdk.bin"]
    if fvs:
        buf = io.BytesIO()
        dst.download_file_by_id(fvs[0].id_).save(buf)
        out["replica"] = [str(fvs[0].replication_status), hashlib.sha1(buf.getvalue()).hexdigest() == hashlib.sha1(data).hexdigest()]
        break
    time.sleep(0.05)
print(json.dumps(out))
`
	raw, err := exec.Command(py, "-c", script, e.url, emulator.DefaultKeyID, emulator.DefaultKey).CombinedOutput()
	if err != nil {
		t.Fatalf("b2sdk: %v\n%s", err, raw)
	}
	var seen struct {
		Rules     [][]any
		SourceKey string `json:"source_key"`
		Mapping   map[string]string
		DstID     string `json:"dst_id"`
		Replica   []any
	}
	if err := json.Unmarshal(raw, &seen); err != nil {
		t.Fatalf("b2sdk output %s: %v", raw, err)
	}
	keys := rawKeyCaps(e, "b2plan-repl-")
	srcKey, dstKey := keys["b2plan-repl-src-acme-sdk-src"], keys["b2plan-repl-dst-acme-sdk-dst"]
	if len(seen.Rules) != 1 || seen.Rules[0][0] != "sdk" || seen.Rules[0][1] != seen.DstID || seen.Rules[0][2] != "in/" ||
		seen.Rules[0][3] != float64(42) || seen.Rules[0][4] != true {
		t.Errorf("rules as b2sdk reads them: %v", seen.Rules)
	}
	if !strings.HasSuffix(srcKey, " "+seen.SourceKey) || !strings.HasSuffix(dstKey, " "+seen.Mapping[seen.SourceKey]) {
		t.Errorf("keys: b2sdk source %s mapping %v; b2plan's %q %q", seen.SourceKey, seen.Mapping, srcKey, dstKey)
	}
	if len(seen.Replica) != 2 || !strings.Contains(strings.ToUpper(fmt.Sprint(seen.Replica[0])), "REPLICA") || seen.Replica[1] != true {
		t.Errorf("replica as b2sdk sees it: %v", seen.Replica)
	}
}

// TestReplicationCapabilities: a key that may not write replication configurations is
// refused before apply changes anything, naming the capability; one that may not read them
// makes the plan fail, saying which capability is missing.
func TestReplicationCapabilities(t *testing.T) {
	e := newKeyEnv(t)
	dir := filepath.Join(e.dir, "cfg")
	e.write(dir, replPair("acme-caps", "", "r", ""))
	base := []string{"listBuckets", "writeBuckets", "listKeys", "writeKeys", "deleteKeys", "readBucketEncryption", "readBucketRetentions", "readBucketNotifications"}
	run := func(caps []string, args ...string) (int, string) {
		k := e.rawCall("b2_create_key", map[string]any{"keyName": "caps-test", "capabilities": caps})
		env := []string{"B2_ENDPOINT=" + e.url, "B2_APPLICATION_KEY_ID=" + k["applicationKeyId"].(string),
			"B2_APPLICATION_KEY=" + k["applicationKey"].(string), "HOME=" + e.dir, "PATH=" + os.Getenv("PATH")}
		code, out, errOut := runLocal(t, env, append(args, dir)...)
		return code, out + errOut
	}
	code, out := run(append(base, "readBucketReplications"), "apply", "-auto-approve")
	if code != 1 || !strings.Contains(out, "writeBucketReplications") {
		t.Fatalf("apply without writeBucketReplications: %d\n%s", code, out)
	}
	if ids := e.rawBucketIDs(); len(ids) != 0 {
		t.Fatalf("buckets created although apply was refused: %v", ids)
	}
	e.rawCall("b2_create_bucket", map[string]any{"bucketName": "acme-caps-src", "bucketType": "allPrivate"})
	code, out = run(append(base, "writeBucketReplications"), "plan")
	if code != 1 || !strings.Contains(out, "Replication not readable") || !strings.Contains(out, "readBucketReplications") {
		t.Fatalf("plan without readBucketReplications: %d\n%s", code, out)
	}
}

// TestReplicationImportCommand: b2plan import of an account whose replication was set up with
// raw API calls writes replication blocks, and plan right after reports no changes.
func TestReplicationImportCommand(t *testing.T) {
	e := newKeyEnv(t)
	src := e.rawCall("b2_create_bucket", map[string]any{"bucketName": "acme-imp-src", "bucketType": "allPrivate"})["bucketId"].(string)
	dst := e.rawCall("b2_create_bucket", map[string]any{"bucketName": "acme-imp-dst", "bucketType": "allPrivate"})["bucketId"].(string)
	sk := e.rawCall("b2_create_key", map[string]any{"keyName": "cli-repl-src", "capabilities": []string{"readFiles"}, "bucketIds": []string{src}})["applicationKeyId"].(string)
	dk := e.rawCall("b2_create_key", map[string]any{"keyName": "cli-repl-dst", "capabilities": []string{"writeFiles"}, "bucketIds": []string{dst}})["applicationKeyId"].(string)
	e.rawCall("b2_update_bucket", map[string]any{"bucketId": dst, "replicationConfiguration": map[string]any{
		"asReplicationDestination": map[string]any{"sourceToDestinationKeyMapping": map[string]any{sk: dk}}}})
	e.rawCall("b2_update_bucket", map[string]any{"bucketId": src, "replicationConfiguration": map[string]any{
		"asReplicationSource": map[string]any{"sourceApplicationKeyId": sk, "replicationRules": []any{
			map[string]any{"replicationRuleName": "cli-rule", "destinationBucketId": dst, "fileNamePrefix": "x/", "priority": 3,
				"isEnabled": true, "includeExistingFiles": false}}}}})
	if b := importThenPlan(t, e); !strings.Contains(b, `replication "cli_rule"`) {
		t.Fatalf("imported configuration:\n%s", b)
	}
}

// TestReplicationBothWays: two buckets replicating into each other are each a source and a
// destination; both parts of each configuration are written together, uploads cross in both
// directions (SHA-1 compared), and the plan after apply is empty.
func TestReplicationBothWays(t *testing.T) {
	e := newKeyEnv(t)
	dir := filepath.Join(e.dir, "cfg")
	e.write(dir, `
bucket "east" {
  name = "acme-east"
}
bucket "west" {
  name = "acme-west"
}
replication "east_to_west" {
  source_bucket      = bucket.east.name
  destination_bucket = bucket.west.name
}
replication "west_to_east" {
  source_bucket      = bucket.west.name
  destination_bucket = bucket.east.name
}
`)
	if out := e.mustRun("apply", "-auto-approve", dir); !strings.Contains(out, "Resources: 8 added") {
		t.Fatalf("apply:\n%s", out)
	}
	e.mustRun("plan", "-detailed-exitcode", dir)
	for _, b := range []string{"acme-east", "acme-west"} {
		c := rawRepl(e, b)
		if c["asReplicationSource"] == nil || c["asReplicationDestination"] == nil {
			t.Fatalf("%s is not both a source and a destination: %v", b, c)
		}
	}
	ids := e.rawBucketIDs()
	if f := replicates(t, e, ids["acme-east"], e, ids["acme-west"], "from-east", 2000); f["replicationStatus"] != "replica" {
		t.Fatalf("east → west: %v", f)
	}
	if f := replicates(t, e, ids["acme-west"], e, ids["acme-east"], "from-west", 3000); f["replicationStatus"] != "replica" {
		t.Fatalf("west → east: %v", f)
	}
}

// TestReplicationWriteRefusedThenResumed: apply creates the keys but B2 refuses the
// configuration writes (as after a crash between the two): the keys are kept, the next plan
// reuses them (only the rule is left to add), and the next apply finishes.
func TestReplicationWriteRefusedThenResumed(t *testing.T) {
	e := newKeyEnv(t)
	dir := filepath.Join(e.dir, "cfg")
	e.write(dir, replPair("acme-resume", "", "r", ""))
	e.setHook(refuse("b2_update_bucket"))
	if code, out, errOut := e.run("apply", "-auto-approve", dir); code == 0 {
		t.Fatalf("apply with refused writes succeeded:\n%s\n%s", out, errOut)
	}
	e.setHook(nil)
	if ks := rawKeyCaps(e, "b2plan-repl-"); len(ks) != 2 {
		t.Fatalf("keys after the refused writes: %v", ks)
	}
	code, out, _ := e.run("plan", dir)
	if code != 0 || !strings.Contains(out, "Plan: 1 to add, 0 to change, 0 to destroy") || strings.Contains(out, "replication_key") {
		t.Fatalf("plan after the refused writes: %d\n%s", code, out)
	}
	e.mustRun("apply", "-auto-approve", dir)
	ids := e.rawBucketIDs()
	replicates(t, e, ids["acme-resume-src"], e, ids["acme-resume-dst"], "f", 1234)
	if ks := rawKeyCaps(e, "b2plan-repl-"); len(ks) != 2 {
		t.Fatalf("keys after resuming: %v", ks)
	}
}
