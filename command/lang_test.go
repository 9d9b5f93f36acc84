package command

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/b2plan/b2plan/emulator"
)

// rawBucketIDs lists the account's buckets with plain HTTP: name → id.
func (e *keyEnv) rawBucketIDs() map[string]string {
	e.t.Helper()
	out := e.rawCall("b2_list_buckets", map[string]any{})
	m := map[string]string{}
	for _, b := range out["buckets"].([]any) {
		bm := b.(map[string]any)
		m[bm["bucketName"].(string)] = bm["bucketId"].(string)
	}
	return m
}

const outputsConfig = `
variable "pw" {
  default   = "hunter2-output-secret"
  sensitive = true
}
bucket "logs" {
  for_each = toset(["eu", "us"])
  name     = "acme-logs-${each.key}"
}
key "up" {
  name        = "acme-uploader"
  access      = "write-only"
  buckets     = [bucket.logs["eu"].name]
  secret_file = "up.env"
}
output "bucket_ids" {
  value       = { for k, b in bucket.logs : k => b.id }
  description = "ids of the log buckets"
}
output "uploader_key_id" {
  value = key.up.id
}
output "names" {
  value = sort([for b in bucket.logs : b.name])
}
output "pw" {
  value     = var.pw
  sensitive = true
}
`

// TestOutputsEndToEnd: outputs printed by apply, by "b2plan output" in every form, compared
// with the ids an independent reader (raw HTTP) and the secret file see; sensitive values
// only on request, never in a plan file.
func TestOutputsEndToEnd(t *testing.T) {
	e := newKeyEnv(t)
	cfg := filepath.Join(e.dir, "cfg")
	e.write(cfg, outputsConfig)

	code, _, stderr := e.run("output", cfg, "uploader_key_id")
	if code != 1 || !strings.Contains(stderr, `depends on key.up, which does not exist in the account yet`) {
		t.Fatalf("output before apply: %d %s", code, stderr)
	}
	code, stdout, _ := e.run("output", cfg)
	if code != 0 || !strings.Contains(stdout, "uploader_key_id = (known after apply)") ||
		!strings.Contains(stdout, "names = [\n  \"acme-logs-eu\",\n  \"acme-logs-us\",\n]") {
		t.Fatalf("output before apply: %d\n%s", code, stdout)
	}

	planFile := filepath.Join(e.dir, "p.plan")
	if code, _, stderr := e.run("plan", "-out="+planFile, cfg); code != 0 {
		t.Fatalf("plan: %s", stderr)
	}
	raw, _ := os.ReadFile(planFile)
	if strings.Contains(string(raw), "hunter2") {
		t.Fatal("sensitive output value in the plan file")
	}
	code, stdout, stderr = e.run("apply", planFile)
	if code != 0 {
		t.Fatalf("apply: %d %s %s", code, stdout, stderr)
	}
	if strings.Contains(stdout+stderr, "hunter2") {
		t.Fatal("sensitive output shown by apply")
	}
	buckets := e.rawBucketIDs()
	keyIDs := e.rawKeys()["acme-uploader"]
	if len(keyIDs) != 1 || keyID(t, filepath.Join(cfg, "up.env")) != keyIDs[0] {
		t.Fatalf("keys: %v", keyIDs)
	}
	want := "\nOutputs:\n\n" +
		"bucket_ids = {\n  \"eu\" = \"" + buckets["acme-logs-eu"] + "\"\n  \"us\" = \"" + buckets["acme-logs-us"] + "\"\n}\n" +
		"names = [\n  \"acme-logs-eu\",\n  \"acme-logs-us\",\n]\n" +
		"pw = <sensitive>\n" +
		"uploader_key_id = \"" + keyIDs[0] + "\"\n"
	if !strings.HasSuffix(stdout, want) {
		t.Fatalf("apply outputs:\n%s\nwant suffix:\n%s", stdout, want)
	}

	code, stdout, _ = e.run("output", "-json", cfg)
	var all map[string]struct {
		Sensitive bool
		Type      any
		Value     any
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &all) != nil {
		t.Fatalf("output -json: %d %s", code, stdout)
	}
	if all["uploader_key_id"].Value != keyIDs[0] || all["uploader_key_id"].Type != "string" ||
		all["bucket_ids"].Value.(map[string]any)["us"] != buckets["acme-logs-us"] ||
		!all["pw"].Sensitive || all["pw"].Value != "hunter2-output-secret" {
		t.Fatalf("output -json: %s", stdout)
	}
	if code, stdout, _ = e.run("output", "-raw", cfg, "uploader_key_id"); code != 0 || stdout != keyIDs[0] {
		t.Fatalf("output -raw: %q", stdout)
	}
	if code, stdout, _ = e.run("output", "-raw", cfg, "pw"); code != 0 || stdout != "hunter2-output-secret" {
		t.Fatalf("output -raw pw: %q", stdout)
	}
	if code, stdout, _ = e.run("output", cfg, "pw"); code != 0 || stdout != "<sensitive>\n" {
		t.Fatalf("output pw: %q", stdout)
	}
	if code, stdout, _ = e.run("output", "-json", cfg, "bucket_ids"); code != 0 ||
		!regexp.MustCompile(`^\{"eu":"[^"]+","us":"[^"]+"\}\n$`).MatchString(stdout) {
		t.Fatalf("output -json NAME: %q", stdout)
	}
	if code, _, stderr = e.run("output", "-raw", cfg, "names"); code != 1 || !strings.Contains(stderr, "use -json") {
		t.Fatalf("output -raw of a list: %d %s", code, stderr)
	}
	if code, _, stderr = e.run("output", cfg, "nope"); code != 1 || !strings.Contains(stderr, "declared: bucket_ids, names, pw, uploader_key_id") {
		t.Fatalf("unknown output: %d %s", code, stderr)
	}
	// With nothing to change, apply still prints the outputs (JSON stream: one outputs
	// message, sensitive values left out).
	code, stdout, stderr = e.run("apply", "-auto-approve", "-json", cfg)
	if code != 0 || strings.Contains(stdout, "hunter2") {
		t.Fatalf("apply -json: %d %s %s", code, stdout, stderr)
	}
	var last struct {
		Type    string
		Outputs map[string]struct {
			Sensitive bool
			Value     any
		}
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if json.Unmarshal([]byte(lines[len(lines)-1]), &last) != nil || last.Type != "outputs" ||
		last.Outputs["uploader_key_id"].Value != keyIDs[0] || !last.Outputs["pw"].Sensitive || last.Outputs["pw"].Value != nil {
		t.Fatalf("apply -json outputs: %s", lines[len(lines)-1])
	}
}

const dataConfig = `
data "bucket" "legacy" {
  name = "acme-legacy-assets"
}
data "key" "ops" {
  name = "acme-ops"
}
data "account" "me" {}

key "reader" {
  name    = "acme-legacy-reader"
  access  = "read-only"
  buckets = [data.bucket.legacy.name]
  secret_file = "reader.env"
}
bucket "mirror" {
  name = "acme-mirror"
  info = { source = data.bucket.legacy.id, ops = data.key.ops.id }
}
folder "incoming" {
  bucket = data.bucket.legacy.name
  path   = "incoming/"
}
output "legacy_id" {
  value = data.bucket.legacy.id
}
output "account" {
  value = data.account.me.account_id
}
output "ops_caps" {
  value = data.key.ops.capabilities
}
`

// TestDataSourcesEndToEnd: data sources read at plan time from b2local, used by a key, a
// bucket's info, a folder and outputs; checked against the raw API. A missing one is a plan
// error naming its block with file and line.
func TestDataSourcesEndToEnd(t *testing.T) {
	e := newKeyEnv(t)
	legacy := e.rawCall("b2_create_bucket", map[string]any{"bucketName": "acme-legacy-assets", "bucketType": "allPrivate"})
	legacyID := legacy["bucketId"].(string)
	ops := e.rawCall("b2_create_key", map[string]any{"keyName": "acme-ops", "capabilities": []string{"listBuckets", "readFiles"}})
	opsID := ops["applicationKeyId"].(string)
	cfg := filepath.Join(e.dir, "cfg")
	e.write(cfg, dataConfig)

	code, stdout, stderr := e.run("validate", cfg)
	if code != 0 {
		t.Fatalf("validate: %s %s", stdout, stderr)
	}
	code, stdout, stderr = e.run("apply", "-auto-approve", cfg)
	if code != 0 {
		t.Fatalf("apply: %d %s %s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, `legacy_id = "`+legacyID+`"`) || !strings.Contains(stdout, `account = "`+emulatorAccount(e)+`"`) ||
		!strings.Contains(stdout, "ops_caps = [\n  \"listBuckets\",\n  \"readFiles\",\n]") {
		t.Fatalf("outputs:\n%s", stdout)
	}
	// Independent reader: the key is restricted to the legacy bucket, the mirror carries the
	// ids in its info, the folder placeholder exists in the legacy bucket.
	keys := e.rawCall("b2_list_keys", map[string]any{"maxKeyCount": 1000})["keys"].([]any)
	found := false
	for _, k := range keys {
		km := k.(map[string]any)
		if km["keyName"] == "acme-legacy-reader" {
			found = true
			if ids, _ := km["bucketIds"].([]any); len(ids) != 1 || ids[0] != legacyID {
				t.Errorf("reader key buckets: %v", km["bucketIds"])
			}
		}
	}
	if !found {
		t.Fatal("reader key not created")
	}
	for _, b := range e.rawCall("b2_list_buckets", map[string]any{})["buckets"].([]any) {
		bm := b.(map[string]any)
		if bm["bucketName"] == "acme-mirror" {
			info := bm["bucketInfo"].(map[string]any)
			if info["source"] != legacyID || info["ops"] != opsID {
				t.Errorf("mirror info: %v", info)
			}
		}
	}
	files := e.rawCall("b2_list_file_names", map[string]any{"bucketId": legacyID})["files"].([]any)
	if len(files) != 1 || files[0].(map[string]any)["fileName"] != "incoming/.bzEmpty" {
		t.Errorf("legacy bucket files: %v", files)
	}
	if code, stdout, _ := e.run("plan", "-detailed-exitcode", cfg); code != 0 {
		t.Fatalf("plan after apply is not empty: %d\n%s", code, stdout)
	}

	// A data source that finds nothing: a plan error naming it, with file and line.
	e.write(cfg, strings.Replace(dataConfig, `name = "acme-legacy-assets"`, `name = "acme-missing-assets"`, 1))
	code, _, stderr = e.run("plan", cfg)
	if code != 1 || !strings.Contains(stderr, "Data source not found: data.bucket.legacy") ||
		!strings.Contains(stderr, "main.hcl line 2") && !strings.Contains(stderr, "main.hcl:2") {
		t.Fatalf("missing data source: %d\n%s", code, stderr)
	}
	e.write(cfg, strings.Replace(dataConfig, `name = "acme-ops"`, `name = "acme-nobody"`, 1))
	if code, _, stderr = e.run("plan", cfg); code != 1 || !strings.Contains(stderr, "Data source not found: data.key.ops") {
		t.Fatalf("missing key data source: %d\n%s", code, stderr)
	}
}

func emulatorAccount(e *keyEnv) string {
	return e.rawCall("b2_list_buckets", map[string]any{})["buckets"].([]any)[0].(map[string]any)["accountId"].(string)
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, src := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

var moduleFiles = map[string]string{
	"main.hcl": `
module "site" {
  for_each = toset(["a", "b"])
  source   = "./modules/site"
  name     = "acme-${each.key}"
}
output "ids" {
  value = { for k, m in module.site : k => m.bucket_id }
}
output "peer" {
  value = module.site["a"].log_peer
}
`,
	"modules/site/main.hcl": `
variable "name" {
  type = string
}
bucket "assets" {
  name = "${var.name}-assets"
}
key "reader" {
  name        = "${var.name}-reader"
  access      = "read-only"
  buckets     = [bucket.assets.name]
  secret_file = "${var.name}.env"
}
module "logs" {
  source = "../logs"
  bucket = bucket.assets.name
  id     = bucket.assets.id
}
output "bucket_id" { value = bucket.assets.id }
output "log_peer"    { value = module.logs.peer }
`,
	"modules/logs/main.hcl": `
variable "bucket" {}
variable "id" {}
bucket "logs" {
  name = "${var.bucket}-logs"
  info = { peer = var.id }
}
folder "in" {
  bucket = bucket.logs.name
  path   = "incoming/"
}
output "peer" { value = "peer=${var.id}" }
`,
}

// TestModulesEndToEnd: nested modules with for_each planned (-target on a module instance,
// JSON addresses) and applied against b2local; ids passed into a nested module and out
// through outputs match what the raw API reports.
func TestModulesEndToEnd(t *testing.T) {
	e := newKeyEnv(t)
	cfg := filepath.Join(e.dir, "cfg")
	writeFiles(t, cfg, moduleFiles)

	if code, stdout, stderr := e.run("validate", cfg); code != 0 {
		t.Fatalf("validate: %s %s", stdout, stderr)
	}
	code, stdout, stderr := e.run("plan", cfg)
	if code != 0 || !strings.Contains(stdout, `# module.site["a"].module.logs.bucket.logs will be created`) ||
		!strings.Contains(stdout, `+ bucket "logs" {`) || !strings.Contains(stdout, "Plan: 8 to add") {
		t.Fatalf("plan: %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, _ = e.run("plan", "-json", cfg)
	if code != 0 || !strings.Contains(stdout, `"addr":"module.site[\"b\"].key.reader"`) {
		t.Fatalf("plan -json: %s", stdout)
	}
	code, stdout, stderr = e.run("apply", "-auto-approve", `-target=module.site["a"]`, cfg)
	if code != 0 || !strings.Contains(stdout, "Resources: 4 added") {
		t.Fatalf("targeted apply: %d\n%s\n%s", code, stdout, stderr)
	}
	if b := e.rawBucketIDs(); len(b) != 2 || b["acme-a-assets"] == "" || b["acme-a-assets-logs"] == "" {
		t.Fatalf("after the targeted apply: %v", b)
	}
	code, stdout, stderr = e.run("apply", "-auto-approve", cfg)
	if code != 0 || !strings.Contains(stdout, "Resources: 4 added") {
		t.Fatalf("apply: %d\n%s\n%s", code, stdout, stderr)
	}
	b := e.rawBucketIDs()
	if !strings.Contains(stdout, `peer = "peer=`+b["acme-a-assets"]+`"`) ||
		!strings.Contains(stdout, `"b" = "`+b["acme-b-assets"]+`"`) {
		t.Fatalf("outputs:\n%s", stdout)
	}
	for _, bk := range e.rawCall("b2_list_buckets", map[string]any{})["buckets"].([]any) {
		bm := bk.(map[string]any)
		if name := bm["bucketName"].(string); strings.HasSuffix(name, "-logs") {
			if got := bm["bucketInfo"].(map[string]any)["peer"]; got != b[strings.TrimSuffix(name, "-logs")] {
				t.Errorf("%s info peer = %v", name, got)
			}
		}
	}
	if k := e.rawKeys(); len(k["acme-a-reader"]) != 1 || keyID(t, filepath.Join(cfg, "acme-b.env")) != k["acme-b-reader"][0] {
		t.Errorf("keys: %v", k)
	}
	if code, stdout, _ := e.run("plan", "-detailed-exitcode", cfg); code != 0 {
		t.Fatalf("plan after apply: %d\n%s", code, stdout)
	}
	// fmt -recursive formats the modules' files.
	if code, stdout, _ := e.run("fmt", "-check", "-recursive", cfg); code != 3 || !strings.Contains(stdout, filepath.Join("modules", "site", "main.hcl")) {
		t.Fatalf("fmt -check -recursive: %d %s", code, stdout)
	}
}

// TestPlanJSONOutputsAndModules: the plan document carries output_changes and module
// addresses.
func TestPlanJSONOutputsAndModules(t *testing.T) {
	e := newKeyEnv(t)
	cfg := filepath.Join(e.dir, "cfg")
	writeFiles(t, cfg, moduleFiles)
	planFile := filepath.Join(e.dir, "plan.b2")
	if code, _, stderr := e.run("plan", "-out="+planFile, cfg); code != 0 {
		t.Fatalf("plan -out: %s", stderr)
	}
	code, stdout, stderr := e.run("show", "-json", planFile)
	if code != 0 {
		t.Fatalf("show -json: %s", stderr)
	}
	var doc struct {
		ResourceChanges []struct {
			Address       string `json:"address"`
			ModuleAddress string `json:"module_address"`
			Name          string `json:"name"`
		} `json:"resource_changes"`
		OutputChanges map[string]struct {
			Actions      []string        `json:"actions"`
			After        json.RawMessage `json:"after"`
			AfterUnknown bool            `json:"after_unknown"`
		} `json:"output_changes"`
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range doc.ResourceChanges {
		if r.Address == `module.site["a"].module.logs.bucket.logs` {
			found = r.ModuleAddress == `module.site["a"].module.logs` && r.Name == "logs"
		}
	}
	if !found {
		t.Errorf("module resource: %+v", doc.ResourceChanges)
	}
	if o := doc.OutputChanges["ids"]; !o.AfterUnknown || string(o.After) != "null" || len(o.Actions) != 1 || o.Actions[0] != "create" {
		t.Errorf("output_changes: %+v", doc.OutputChanges)
	}
}

// TestOutputsMatchB2SDK: the ids b2plan output reports are the ones Backblaze's Python SDK
// (a third-party client) sees. Skipped without /usr/bin/python3 and b2sdk.
func TestOutputsMatchB2SDK(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import b2sdk.v2").Run(); err != nil {
		t.Skip("b2sdk not available")
	}
	e := newKeyEnv(t)
	cfg := filepath.Join(e.dir, "cfg")
	e.write(cfg, outputsConfig)
	if code, stdout, stderr := e.run("apply", "-auto-approve", cfg); code != 0 {
		t.Fatalf("apply: %s %s", stdout, stderr)
	}
	code, stdout, _ := e.run("output", "-json", cfg)
	var outs map[string]struct{ Value any }
	if code != 0 || json.Unmarshal([]byte(stdout), &outs) != nil {
		t.Fatalf("output -json: %s", stdout)
	}
	script := `
import sys, json
from b2sdk.v2 import B2Api, InMemoryAccountInfo
api = B2Api(InMemoryAccountInfo())
api.authorize_account(sys.argv[1], sys.argv[2], sys.argv[3])
out = {"buckets": {b.name: b.id_ for b in api.list_buckets()},
       "keys": {k.key_name: k.id_ for k in api.list_keys()}}
print(json.dumps(out))
`
	cmd := exec.Command(py, "-c", script, e.url, emulator.DefaultKeyID, emulator.DefaultKey)
	raw, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("b2sdk: %v\n%s", err, raw)
	}
	var seen struct{ Buckets, Keys map[string]string }
	if err := json.Unmarshal(raw, &seen); err != nil {
		t.Fatalf("b2sdk output %s: %v", raw, err)
	}
	ids := outs["bucket_ids"].Value.(map[string]any)
	if ids["eu"] != seen.Buckets["acme-logs-eu"] || ids["us"] != seen.Buckets["acme-logs-us"] || seen.Buckets["acme-logs-eu"] == "" {
		t.Errorf("bucket ids: b2plan %v, b2sdk %v", ids, seen.Buckets)
	}
	if outs["uploader_key_id"].Value != seen.Keys["acme-uploader"] || seen.Keys["acme-uploader"] == "" {
		t.Errorf("key id: b2plan %v, b2sdk %v", outs["uploader_key_id"].Value, seen.Keys)
	}
}
