package command

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/b2plan/b2plan/emulator"
	"github.com/b2plan/b2plan/secretfile"
)

// keyEnv is an emulator served on a loopback port behind a hook, and a
// configuration directory.
type keyEnv struct {
	t    *testing.T
	srv  *emulator.Server
	url  string
	dir  string
	mu   sync.Mutex
	hook func(w http.ResponseWriter, r *http.Request) bool // true: handled
	// keyID and key are the master credentials of rawCall ("" = the emulator's default).
	keyID, key string
}

func newKeyEnv(t *testing.T) *keyEnv {
	t.Helper()
	srv, err := emulator.NewServer(emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	e := &keyEnv{t: t, srv: srv, dir: t.TempDir()}
	// The emulator answers with URLs of the Host it was asked on, so every
	// call comes through the hook.
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		h := e.hook
		e.mu.Unlock()
		if h != nil && h(w, r) {
			return
		}
		srv.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	e.url = hs.URL
	return e
}

func (e *keyEnv) env() []string {
	return []string{"B2_ENDPOINT=" + e.url, "B2_APPLICATION_KEY_ID=" + emulator.DefaultKeyID, "B2_APPLICATION_KEY=" + emulator.DefaultKey,
		"HOME=" + e.dir, "PATH=" + os.Getenv("PATH")}
}

func (e *keyEnv) write(dir, src string) {
	e.t.Helper()
	os.MkdirAll(dir, 0o755)
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(src), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// run runs the CLI in-process.
func (e *keyEnv) run(args ...string) (code int, stdout, stderr string) {
	var o, er bytes.Buffer
	code = RunWithEnv(args, e.env(), strings.NewReader(""), &o, &er)
	return code, o.String(), er.String()
}

// rawCall makes one call with the master key and plain HTTP (an
// independent reader, not b2client).
func (e *keyEnv) rawCall(api string, args map[string]any) map[string]any {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.url+"/b2api/v4/b2_authorize_account", nil)
	id, key := emulator.DefaultKeyID, emulator.DefaultKey
	if e.keyID != "" {
		id, key = e.keyID, e.key
	}
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(id+":"+key)))
	var auth struct {
		AccountID string `json:"accountId"`
		Token     string `json:"authorizationToken"`
	}
	e.getJSON(req, &auth)
	if _, ok := args["accountId"]; !ok && api != "b2_delete_key" {
		args["accountId"] = auth.AccountID
	}
	body, _ := json.Marshal(args)
	req, _ = http.NewRequest("POST", e.url+"/b2api/v4/"+api, bytes.NewReader(body))
	req.Header.Set("Authorization", auth.Token)
	var out map[string]any
	e.getJSON(req, &out)
	return out
}

// rawKeys lists the account's keys: name → sorted ids.
func (e *keyEnv) rawKeys() map[string][]string {
	e.t.Helper()
	out := e.rawCall("b2_list_keys", map[string]any{"maxKeyCount": 10000})
	m := map[string][]string{}
	for _, k := range out["keys"].([]any) {
		km := k.(map[string]any)
		name := km["keyName"].(string)
		m[name] = append(m[name], km["applicationKeyId"].(string))
	}
	for _, ids := range m {
		sort.Strings(ids)
	}
	return m
}

func (e *keyEnv) getJSON(req *http.Request, v any) {
	e.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		e.t.Fatalf("%s: status %d", req.URL.Path, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		e.t.Fatal(err)
	}
}

func keyID(t *testing.T, path string) string {
	t.Helper()
	c, err := secretfile.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	return c.KeyID
}

const ciKey = `key "ci" {
  name        = "acme-ci"
  access      = "%s"
  secret_file = "ci.env"
}
`

// TestKilledKeyReplacementConverges kills "b2plan apply" (a real process)
// with SIGKILL while it replaces a key, exactly between creating the new
// key (secret written) and deleting the old one: the server holds the
// b2_delete_key call until the kill. The next plan shows the replacement
// being finished (the old key, deposed, is deleted) instead of failing
// with "Two live keys share the name", and the apply after it converges.
func TestKilledKeyReplacementConverges(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	e := newKeyEnv(t)
	cfg := filepath.Join(e.dir, "cfg")
	e.write(cfg, strings.Replace(ciKey, "%s", "read-only", 1))
	if code, _, errOut := e.run("apply", "-auto-approve", cfg); code != 0 {
		t.Fatalf("first apply: %d %s", code, errOut)
	}
	secret := filepath.Join(cfg, "ci.env")
	oldID := keyID(t, secret)

	reached, testDone := make(chan struct{}), make(chan struct{})
	defer close(testDone)
	var once sync.Once
	e.mu.Lock()
	e.hook = func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasSuffix(r.URL.Path, "/b2_delete_key") {
			return false
		}
		io.Copy(io.Discard, r.Body) // then the server notices the client's death
		once.Do(func() { close(reached) })
		select { // held until the client dies
		case <-r.Context().Done():
		case <-testDone:
		}
		return true
	}
	e.mu.Unlock()
	e.write(cfg, strings.Replace(ciKey, "%s", "read-write", 1))
	exe, _ := os.Executable()
	cmd := exec.Command(exe, "apply", "-auto-approve", cfg)
	cmd.Env = append(e.env(), runMainEnv+"=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-reached:
	case <-time.After(2 * time.Minute): // liveness bound only
		cmd.Process.Kill()
		t.Fatalf("apply never deleted the old key:\n%s", out.String())
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	e.mu.Lock()
	e.hook = nil
	e.mu.Unlock()

	newID := keyID(t, secret)
	ks := e.rawKeys()["acme-ci"]
	if len(ks) != 2 || newID == oldID || (ks[0] != newID && ks[1] != newID) {
		t.Fatalf("after the kill: keys %v, secret file %s, old %s", ks, newID, oldID)
	}
	code, stdout, stderr := e.run("plan", "-detailed-exitcode", cfg)
	if code != ExitChanges || strings.Contains(stderr, "Two live keys") || !strings.Contains(stdout, "deposed") || !strings.Contains(stdout, oldID) {
		t.Fatalf("plan after the kill: %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "Plan: 0 to add, 0 to change, 1 to destroy.") {
		t.Errorf("plan summary:\n%s", stdout)
	}
	if code, _, stderr := e.run("apply", "-auto-approve", cfg); code != 0 {
		t.Fatalf("apply after the kill: %d %s", code, stderr)
	}
	if ks := e.rawKeys()["acme-ci"]; len(ks) != 1 || ks[0] != newID {
		t.Fatalf("keys %v, want only %s", ks, newID)
	}
	if code, stdout, _ := e.run("plan", "-detailed-exitcode", cfg); code != 0 {
		t.Errorf("plan after convergence: %d\n%s", code, stdout)
	}
}

// Apply refuses to overwrite a secret file holding the secret of another
// key that is still live, or a file that is not a secret file; it
// overwrites a dead key's file; -overwrite-secret-files overrides.
func TestSecretFileOverwriteRefused(t *testing.T) {
	e := newKeyEnv(t)
	shared := filepath.Join(e.dir, "shared", "ci.env")
	a, b := filepath.Join(e.dir, "a"), filepath.Join(e.dir, "b")
	key := func(name string) string {
		return `key "k" {
  name        = "` + name + `"
  access      = "read-only"
  secret_file = "` + shared + `"
}
`
	}
	e.write(a, key("acme-a"))
	e.write(b, key("acme-b"))
	if code, _, errOut := e.run("apply", "-auto-approve", a); code != 0 {
		t.Fatalf("apply a: %d %s", code, errOut)
	}
	aID := keyID(t, shared)
	before, _ := os.ReadFile(shared)

	// Another configuration's key writing the same file: refused, nothing created.
	code, _, stderr := e.run("apply", "-auto-approve", b)
	if code != ExitError || !strings.Contains(stderr, "refusing to overwrite "+shared) || !strings.Contains(stderr, aID+", which is still live") {
		t.Fatalf("apply b: %d\n%s", code, stderr)
	}
	if after, _ := os.ReadFile(shared); !bytes.Equal(before, after) {
		t.Fatal("the secret file was changed")
	}
	if ks := e.rawKeys(); len(ks["acme-b"]) != 0 || len(ks["acme-a"]) != 1 {
		t.Fatalf("keys after the refusal: %v", ks)
	}
	if strings.Contains(stderr, "B2_APPLICATION_KEY=") || strings.Contains(stderr, secretOf(t, shared)) {
		t.Fatal("a secret in the output")
	}

	// A key that authorizes at the endpoint without being listed in the
	// account (here the master key, which b2_list_keys does not show).
	secretfile.Write(shared, emulator.DefaultKeyID, emulator.DefaultKey)
	if code, _, stderr := e.run("apply", "-auto-approve", b); code != ExitError || !strings.Contains(stderr, "which is still live") {
		t.Fatalf("apply b over the master key's file: %d\n%s", code, stderr)
	}

	// Not a secret file: refused.
	os.WriteFile(shared, []byte("my notes\n"), 0o600)
	if code, _, stderr := e.run("apply", "-auto-approve", b); code != ExitError || !strings.Contains(stderr, "not a b2plan secret file") {
		t.Fatalf("apply b over notes: %d\n%s", code, stderr)
	}

	// The override.
	if code, _, stderr := e.run("apply", "-auto-approve", "-overwrite-secret-files", b); code != 0 {
		t.Fatalf("apply b with the override: %d\n%s", code, stderr)
	}
	bID := keyID(t, shared)
	if ks := e.rawKeys()["acme-b"]; len(ks) != 1 || ks[0] != bID {
		t.Fatalf("acme-b keys %v, file %s", ks, bID)
	}

	// A file whose key is gone (deleted by hand) is overwritten without asking.
	code, _, _ = e.run("apply", "-auto-approve", b) // no changes
	if code != 0 {
		t.Fatal("re-apply b")
	}
	secretfile.Write(shared, aID, "K00stale")
	if code, _, _ := e.run("apply", "-auto-approve", "-overwrite-secret-files", b); code != 0 {
		t.Fatal("no-op apply")
	}
	e.deleteKeys("acme-a")
	e.write(a, key("acme-a"))
	if code, _, stderr := e.run("apply", "-auto-approve", a); code != 0 {
		t.Fatalf("apply a over a dead key's file: %d\n%s", code, stderr)
	}
	if id := keyID(t, shared); id == aID || len(e.rawKeys()["acme-a"]) != 1 || e.rawKeys()["acme-a"][0] != id {
		t.Errorf("file %s, keys %v", id, e.rawKeys())
	}
}

func secretOf(t *testing.T, path string) string {
	c, err := secretfile.Read(path)
	if err != nil || c.Secret == "" {
		t.Fatalf("secret of %s: %v", path, err)
	}
	return c.Secret
}

func (e *keyEnv) deleteKeys(name string) {
	e.t.Helper()
	for _, id := range e.rawKeys()[name] {
		e.rawCall("b2_delete_key", map[string]any{"applicationKeyId": id})
	}
}

// A secret file inside a git work tree and not ignored gives a warning;
// ignored, none. Apply succeeds either way.
func TestSecretFileGitWarning(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	e := newKeyEnv(t)
	repo := filepath.Join(e.dir, "repo")
	os.MkdirAll(repo, 0o755)
	if out, err := exec.Command("git", "init", "-q", repo).CombinedOutput(); err != nil {
		t.Skipf("git init: %v %s", err, out)
	}
	e.write(repo, strings.Replace(ciKey, "%s", "read-only", 1))
	code, _, stderr := e.run("apply", "-auto-approve", repo)
	if code != 0 || !strings.Contains(stderr, "is inside a git work tree and is not ignored by git") {
		t.Fatalf("apply: %d\n%s", code, stderr)
	}
	os.WriteFile(filepath.Join(repo, ".gitignore"), []byte("*.env\n"), 0o644)
	e.write(repo, strings.Replace(ciKey, "%s", "read-write", 1)) // a replacement
	code, _, stderr = e.run("apply", "-auto-approve", repo)
	if code != 0 || strings.Contains(stderr, "git work tree") {
		t.Fatalf("apply with .gitignore: %d\n%s", code, stderr)
	}
}
