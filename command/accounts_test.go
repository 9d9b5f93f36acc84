package command

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/b2plan/b2plan/emulator"
	"github.com/b2plan/b2plan/planner"
)

const twoAccounts = `
provider "b2" {}
provider "b2" {
  alias = "backup"
}
bucket "main" {
  name = "acme-main"
}
bucket "vault" {
  provider = b2.backup
  name     = "acme-vault"
}
key "vk" {
  provider    = b2.backup
  name        = "acme-vault-reader"
  access      = "read-only"
  buckets     = [bucket.vault.name]
  secret_file = "vk.env"
}
folder "in" {
  bucket = bucket.vault.name
  path   = "in/"
}
output "main_id" {
  value = bucket.main.id
}
output "vault_id" {
  value = bucket.vault.id
}
`

func runLocal(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	var o, e bytes.Buffer
	code := RunWithEnv(args, env, strings.NewReader(""), &o, &e)
	return code, o.String(), e.String()
}

// openState opens an emulator state directory after b2plan closed it, served over HTTP for
// the raw reader.
func openState(t *testing.T, dir string) *keyEnv {
	t.Helper()
	srv, err := emulator.NewServer(emulator.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	e := &keyEnv{t: t, srv: srv, url: hs.URL, dir: t.TempDir()}
	t.Cleanup(func() { hs.Close(); srv.Close() })
	return e
}

// TestTwoAccountsLocal: a default provider and an alias without endpoints or credentials
// get one embedded emulator (account) each; plan, a saved plan and outputs span both; each
// account holds only its own resources (read back from each state directory).
func TestTwoAccountsLocal(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "cfg")
	writeFiles(t, cfg, map[string]string{"main.hcl": twoAccounts})
	env := []string{"HOME=" + dir, "PATH=" + os.Getenv("PATH")}

	code, stdout, stderr := runLocal(t, env, "plan", "-out="+filepath.Join(dir, "p.plan"), cfg)
	if code != 0 || !strings.Contains(stdout, "Plan: 4 to add") || !strings.Contains(stderr, "provider b2.backup has no endpoint and no credentials") {
		t.Fatalf("plan: %d\n%s\n%s", code, stdout, stderr)
	}
	saved, err := planner.ReadFile(filepath.Join(dir, "p.plan"))
	if err != nil || len(saved.Accounts) != 1 || saved.Accounts[0].Endpoint != "local://"+filepath.Join(cfg, ".b2plan/local-backup") {
		t.Fatalf("the saved plan does not record the backup account: %v %+v", err, saved)
	}
	for _, ch := range saved.Changes {
		if want := map[string]string{"bucket.main": "", "bucket.vault": "backup", "key.vk": "backup", "folder.in": "backup"}[ch.Address]; ch.Provider != want {
			t.Errorf("%s: provider %q, want %q", ch.Address, ch.Provider, want)
		}
	}
	// A saved plan refuses another endpoint for an alias.
	code, _, stderr = runLocal(t, append(env, "B2_BACKUP_ENDPOINT=local://"+filepath.Join(dir, "elsewhere")), "apply", filepath.Join(dir, "p.plan"))
	if code != 1 || !strings.Contains(stderr, "made for the endpoint local://"+filepath.Join(cfg, ".b2plan/local-backup")+" for provider b2.backup") {
		t.Fatalf("apply elsewhere: %d %s", code, stderr)
	}
	code, stdout, stderr = runLocal(t, env, "apply", filepath.Join(dir, "p.plan"))
	if code != 0 || !strings.Contains(stdout, "Resources: 4 added") {
		t.Fatalf("apply: %d\n%s\n%s", code, stdout, stderr)
	}
	if code, stdout, _ := runLocal(t, env, "plan", "-detailed-exitcode", cfg); code != 0 {
		t.Fatalf("plan after apply: %d\n%s", code, stdout)
	}
	code, outRaw, _ := runLocal(t, env, "output", "-raw", cfg, "vault_id")
	code2, outMain, _ := runLocal(t, env, "output", "-raw", cfg, "main_id")
	if code != 0 || code2 != 0 {
		t.Fatal("output")
	}
	def := openState(t, filepath.Join(cfg, ".b2plan/local"))
	bak := openState(t, filepath.Join(cfg, ".b2plan/local-backup"))
	db, bb := def.rawBucketIDs(), bak.rawBucketIDs()
	if len(db) != 1 || db["acme-main"] == "" || len(bb) != 1 || bb["acme-vault"] == "" {
		t.Fatalf("default account %v, backup account %v", db, bb)
	}
	if code != 0 || outRaw != bb["acme-vault"] || outMain != db["acme-main"] {
		t.Fatalf("outputs: %q %q vs %v %v", outRaw, outMain, bb, db)
	}
	if k := bak.rawKeys()["acme-vault-reader"]; len(k) != 1 || keyID(t, filepath.Join(cfg, "vk.env")) != k[0] {
		t.Fatalf("backup keys: %v", bak.rawKeys())
	}
	if k := def.rawKeys()["acme-vault-reader"]; len(k) != 0 {
		t.Fatalf("key created in the default account too")
	}
	files := bak.rawCall("b2_list_file_names", map[string]any{"bucketId": bb["acme-vault"]})["files"].([]any)
	if len(files) != 1 {
		t.Fatalf("folder not created in the backup account: %v", files)
	}
}

// TestTwoAccountsHTTP: an alias on another b2local server with credentials from
// B2_BACKUP_APPLICATION_KEY_ID / _KEY; owns and prune apply per account (the stray bucket
// in the backup account is addressed unmanaged.b2.backup.bucket["..."]).
func TestTwoAccountsHTTP(t *testing.T) {
	e := newKeyEnv(t)
	bsrv, err := emulator.NewServer(emulator.Options{MasterKeyID: "b2localBACKUP", MasterKey: "K00backupMasterKey"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bsrv.Close() })
	bhs := httptest.NewServer(bsrv.Handler())
	t.Cleanup(bhs.Close)
	bak := &keyEnv{t: t, srv: bsrv, url: bhs.URL, dir: e.dir, keyID: "b2localBACKUP", key: "K00backupMasterKey"}
	bak.rawCall("b2_create_bucket", map[string]any{"bucketName": "acme-stray", "bucketType": "allPrivate"})
	e.rawCall("b2_create_bucket", map[string]any{"bucketName": "other-untouched", "bucketType": "allPrivate"})

	cfg := filepath.Join(e.dir, "cfg")
	writeFiles(t, cfg, map[string]string{"main.hcl": strings.Replace(twoAccounts, `provider "b2" {}`, `b2plan {
  prune = true
  owns {
    buckets = ["acme-*"]
  }
}`, 1)})
	env := append(e.env(), "B2_BACKUP_ENDPOINT="+bhs.URL, "B2_BACKUP_APPLICATION_KEY_ID=b2localBACKUP", "B2_BACKUP_APPLICATION_KEY=K00backupMasterKey")
	code, stdout, stderr := runLocal(t, env, "plan", cfg)
	if code != 0 || !strings.Contains(stdout, `unmanaged.b2.backup.bucket["acme-stray"]`) || !strings.Contains(stdout, "Plan: 4 to add, 0 to change, 1 to destroy") {
		t.Fatalf("plan: %d\n%s\n%s", code, stdout, stderr)
	}
	if code, stdout, stderr = runLocal(t, env, "apply", "-auto-approve", cfg); code != 0 {
		t.Fatalf("apply: %d\n%s\n%s", code, stdout, stderr)
	}
	db, bb := e.rawBucketIDs(), bak.rawBucketIDs()
	if len(db) != 2 || db["acme-main"] == "" || db["other-untouched"] == "" || len(bb) != 1 || bb["acme-vault"] == "" {
		t.Fatalf("default %v backup %v", db, bb)
	}
	if !strings.Contains(stdout, `vault_id = "`+bb["acme-vault"]+`"`) || !strings.Contains(stdout, `main_id = "`+db["acme-main"]+`"`) {
		t.Fatalf("outputs:\n%s", stdout)
	}
	// Without the alias's credentials: the default provider's are never used for it.
	code, _, stderr = runLocal(t, append(e.env(), "B2_BACKUP_ENDPOINT="+bhs.URL), "plan", cfg)
	if code != 1 || !strings.Contains(stderr, "provider b2.backup: ") || !strings.Contains(stderr, "credentials") {
		t.Fatalf("plan without the alias credentials: %d %s", code, stderr)
	}
}

// TestAliasSameAccountRefused: an alias on the default provider's local:// directory, or
// with the default provider's endpoint and key, is the same account: refused before reading
// anything.
func TestAliasSameAccountRefused(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "cfg")
	state := "local://" + filepath.Join(dir, "state")
	writeFiles(t, cfg, map[string]string{"main.hcl": `
provider "b2" {
  endpoint = "` + state + `"
}
provider "b2" {
  alias    = "twin"
  endpoint = "` + state + `"
}
bucket "a" { name = "acme-twin-a" }
`})
	env := []string{"HOME=" + dir, "PATH=" + os.Getenv("PATH")}
	code, _, stderr := runLocal(t, append(env, "B2_ENDPOINT="), "-chdir="+cfg, "plan")
	if code != 1 || !strings.Contains(stderr, "provider b2.twin uses the same endpoint") || !strings.Contains(stderr, "it is the same account") {
		t.Fatalf("%d %s", code, stderr)
	}
	e := newKeyEnv(t)
	writeFiles(t, cfg, map[string]string{"main.hcl": `
provider "b2" {
  alias = "twin"
}
bucket "a" { name = "acme-twin-a" }
`})
	code, _, stderr = runLocal(t, append(e.env(), "B2_TWIN_ENDPOINT="+e.url, "B2_TWIN_APPLICATION_KEY_ID="+emulator.DefaultKeyID,
		"B2_TWIN_APPLICATION_KEY="+emulator.DefaultKey), "plan", cfg)
	if code != 1 || !strings.Contains(stderr, "same account") {
		t.Fatalf("%d %s", code, stderr)
	}
}

// TestSavedPlanAliasOtherAccount: a saved plan refuses to apply an alias's changes to
// another account reached at the same endpoint (credentials of another account); nothing is
// changed in either account.
func TestSavedPlanAliasOtherAccount(t *testing.T) {
	e := newKeyEnv(t)
	mk := func(id, key string) *emulator.Server {
		s, err := emulator.NewServer(emulator.Options{MasterKeyID: id, MasterKey: key})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := mk("b2localAAAA", "K00aaaaKey"), mk("b2localBBBB", "K00bbbbKey")
	var mu sync.Mutex
	target := a
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		s := target
		mu.Unlock()
		s.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	cfg := filepath.Join(e.dir, "cfg")
	writeFiles(t, cfg, map[string]string{"main.hcl": twoAccounts})
	plan := filepath.Join(e.dir, "p.plan")
	env := append(e.env(), "B2_BACKUP_ENDPOINT="+hs.URL, "B2_BACKUP_APPLICATION_KEY_ID=b2localAAAA", "B2_BACKUP_APPLICATION_KEY=K00aaaaKey")
	if code, stdout, stderr := runLocal(t, env, "plan", "-out="+plan, cfg); code != 0 {
		t.Fatalf("plan: %s %s", stdout, stderr)
	}
	saved, err := planner.ReadFile(plan)
	if err != nil {
		t.Fatal(err)
	}
	if js, _ := json.Marshal(saved); bytes.Contains(js, []byte("K00aaaaKey")) || bytes.Contains(js, []byte(emulator.DefaultKey)) {
		t.Fatal("a key secret in the saved plan")
	}
	mu.Lock()
	target = b
	mu.Unlock()
	env = append(e.env(), "B2_BACKUP_ENDPOINT="+hs.URL, "B2_BACKUP_APPLICATION_KEY_ID=b2localBBBB", "B2_BACKUP_APPLICATION_KEY=K00bbbbKey")
	code, _, stderr := runLocal(t, env, "apply", plan)
	if code != 1 || !strings.Contains(stderr, "made for account b2localAAAA for provider b2.backup, but the credentials (B2_BACKUP_APPLICATION_KEY_ID) are for account b2localBBBB") {
		t.Fatalf("apply to another account: %d %s", code, stderr)
	}
	if got := e.rawBucketIDs(); len(got) != 0 {
		t.Errorf("default account changed: %v", got)
	}
	other := &keyEnv{t: t, url: hs.URL, keyID: "b2localBBBB", key: "K00bbbbKey"}
	if got := other.rawBucketIDs(); len(got) != 0 {
		t.Errorf("other account changed: %v", got)
	}
}
