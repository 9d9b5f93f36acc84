package command

import (
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
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
)

// Helpers shared by the replication tests (replication_e2e_test.go, replication_attack_test.go).

const (
	replBackupKeyID = "b2localREPLBACKUP"
	replBackupKey   = "K00replBackupMasterKey"
)

// replEnv is one b2local with two accounts (replication crosses accounts inside one store),
// behind a proxy that records every secret b2_create_key returns, so that tests can look for
// them in everything b2plan writes.
type replEnv struct {
	def, bak *keyEnv
	mu       sync.Mutex
	secrets  []string
	// hook, when set, sees every request first (true: handled); under hookMu.
	hookMu sync.Mutex
	hook   func(w http.ResponseWriter, r *http.Request) bool
}

func newReplEnv(t *testing.T) *replEnv {
	t.Helper()
	srv, err := emulator.NewServer(emulator.Options{Accounts: []emulator.Account{
		{KeyID: emulator.DefaultKeyID, Key: emulator.DefaultKey}, {KeyID: replBackupKeyID, Key: replBackupKey}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	re := &replEnv{}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		re.hookMu.Lock()
		h := re.hook
		re.hookMu.Unlock()
		if h != nil && h(w, r) {
			return
		}
		if !strings.HasSuffix(r.URL.Path, "/b2_create_key") {
			srv.Handler().ServeHTTP(w, r)
			return
		}
		if k := forward(srv.Handler(), w, r); k != "" {
			re.mu.Lock()
			re.secrets = append(re.secrets, k)
			re.mu.Unlock()
		}
	}))
	t.Cleanup(hs.Close)
	dir := t.TempDir()
	re.def = &keyEnv{t: t, srv: srv, url: hs.URL, dir: dir}
	re.bak = &keyEnv{t: t, srv: srv, url: hs.URL, dir: dir, keyID: replBackupKeyID, key: replBackupKey}
	return re
}

func (re *replEnv) env() []string {
	return append(re.def.env(), "B2_BACKUP_ENDPOINT="+re.def.url, "B2_BACKUP_APPLICATION_KEY_ID="+replBackupKeyID, "B2_BACKUP_APPLICATION_KEY="+replBackupKey)
}

// run runs the CLI and keeps its output for the secret check.
func (re *replEnv) run(t *testing.T, out *strings.Builder, args ...string) (int, string, string) {
	t.Helper()
	code, stdout, stderr := runLocal(t, re.env(), args...)
	out.WriteString(stdout + stderr)
	return code, stdout, stderr
}

// rawRepl is a bucket's replicationConfiguration value read with plain HTTP.
func rawRepl(e *keyEnv, bucket string) map[string]any {
	e.t.Helper()
	for _, b := range e.rawCall("b2_list_buckets", map[string]any{"bucketName": bucket})["buckets"].([]any) {
		w := b.(map[string]any)["replicationConfiguration"].(map[string]any)
		if v, ok := w["value"].(map[string]any); ok {
			return v
		}
		return map[string]any{}
	}
	e.t.Fatalf("bucket %s not found", bucket)
	return nil
}

// rawKeyCaps lists the keys named prefix* of an account: name → capabilities (sorted, joined)
// and bucket ids.
func rawKeyCaps(e *keyEnv, prefix string) map[string]string {
	e.t.Helper()
	out := map[string]string{}
	for _, k := range e.rawCall("b2_list_keys", map[string]any{"maxKeyCount": 1000})["keys"].([]any) {
		km := k.(map[string]any)
		if !strings.HasPrefix(km["keyName"].(string), prefix) {
			continue
		}
		var caps []string
		for _, c := range km["capabilities"].([]any) {
			caps = append(caps, c.(string))
		}
		sort.Strings(caps)
		var bs []string
		if ids, ok := km["bucketIds"].([]any); ok {
			for _, id := range ids {
				bs = append(bs, id.(string))
			}
		}
		if _, dup := out[km["keyName"].(string)]; dup {
			e.t.Errorf("key %s exists more than once", km["keyName"])
		}
		out[km["keyName"].(string)] = strings.Join(caps, ",") + " @" + strings.Join(bs, ",") + " " + km["applicationKeyId"].(string)
	}
	return out
}

// waitVersion polls a bucket's raw listing until name appears (b2local replicates in the
// background), and returns the file object.
func waitVersion(t *testing.T, e *keyEnv, bucketID, name string) map[string]any {
	t.Helper()
	var found map[string]any
	waitFor(t, name+" in bucket "+bucketID, func() bool {
		for _, f := range e.rawCall("b2_list_file_versions", map[string]any{"bucketId": bucketID, "prefix": name})["files"].([]any) {
			if fm := f.(map[string]any); fm["fileName"] == name {
				found = fm
				return true
			}
		}
		return false
	})
	return found
}

func randomBytes(t *testing.T, n int) ([]byte, string) {
	b := make([]byte, n)
	if _, err := io.ReadFull(rand.Reader, b); err != nil {
		t.Fatal(err)
	}
	return b, shaHex(b)
}

// killAfterCommit makes the server commit the n-th call of api (counting from 1), then hold
// its reply until the client dies: the test SIGKILLs the child b2plan while it waits, so the
// call took effect and nothing after it happened. committed is closed once the call is
// committed. Every b2_create_key secret the server hands out is recorded in secrets.
func (e *keyEnv) killAfterCommit(api string, n int, secrets *[]string, smu *sync.Mutex) (committed chan struct{}) {
	committed = make(chan struct{})
	seen := 0
	var once sync.Once
	e.mu.Lock()
	e.hook = func(w http.ResponseWriter, r *http.Request) bool {
		isCreate := strings.HasSuffix(r.URL.Path, "/b2_create_key")
		target := strings.HasSuffix(r.URL.Path, "/"+api)
		if !isCreate && !target {
			return false
		}
		rec := httptest.NewRecorder()
		e.srv.Handler().ServeHTTP(rec, r)
		if k := createdSecret(r, rec); k != "" {
			smu.Lock()
			*secrets = append(*secrets, k)
			smu.Unlock()
		}
		hold := false
		if target {
			e.mu.Lock()
			seen++
			hold = seen == n
			e.mu.Unlock()
		}
		if hold {
			once.Do(func() { close(committed) })
			holdReply(r) // the reply is never sent: the client is killed first
			return true
		}
		for h, v := range rec.Header() {
			w.Header()[h] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
		return true
	}
	e.mu.Unlock()
	return committed
}

// replPair is a configuration of buckets NAME-src and NAME-dst (bucket.src, bucket.dst), each
// with bucketExtra lines, and, unless rule is "", replication RULE from src to dst with
// ruleExtra lines.
func replPair(name, bucketExtra, rule, ruleExtra string) string {
	s := ""
	for _, b := range []string{"src", "dst"} {
		s += fmt.Sprintf("bucket %q {\n  name = \"%s-%s\"\n%s}\n", b, name, b, bucketExtra)
	}
	if rule != "" {
		s += fmt.Sprintf("replication %q {\n  source_bucket      = bucket.src.name\n  destination_bucket = bucket.dst.name\n%s}\n", rule, ruleExtra)
	}
	return s
}

// mustRun runs the CLI and fails the test unless it exits 0; it returns stdout.
func (e *keyEnv) mustRun(args ...string) string {
	e.t.Helper()
	code, out, errOut := e.run(args...)
	if code != 0 {
		e.t.Fatalf("%s: %d\n%s\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// mustRun is keyEnv.mustRun for the two-account environment, keeping the output in out.
func (re *replEnv) mustRun(t *testing.T, out *strings.Builder, args ...string) string {
	t.Helper()
	code, stdout, stderr := re.run(t, out, args...)
	if code != 0 {
		t.Fatalf("%s: %d\n%s\n%s", strings.Join(args, " "), code, stdout, stderr)
	}
	return stdout
}

// setHook installs h (nil: none) in front of the emulator.
func (e *keyEnv) setHook(h func(w http.ResponseWriter, r *http.Request) bool) {
	e.mu.Lock()
	e.hook = h
	e.mu.Unlock()
}

// setHook installs h (nil: none) in front of the two-account emulator.
func (re *replEnv) setHook(h func(w http.ResponseWriter, r *http.Request) bool) {
	re.hookMu.Lock()
	re.hook = h
	re.hookMu.Unlock()
}

// refuse is a hook that answers every call of api with a 400 "refused by the test".
func refuse(api string) func(w http.ResponseWriter, r *http.Request) bool {
	return func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasSuffix(r.URL.Path, "/"+api) {
			return false
		}
		w.WriteHeader(400)
		w.Write([]byte(`{"status":400,"code":"bad_request","message":"refused by the test"}`))
		return true
	}
}

// peekBody reads r's body and puts it back for the next reader.
func peekBody(r *http.Request) []byte {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	return body
}

// holdReply sends no reply until the client is gone (it is killed) or 30 s passed.
func holdReply(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(30 * time.Second):
	}
}

// forward serves r with h, copies the reply to w, and returns the secret when the reply
// is that of a created key ("" otherwise).
func forward(h http.Handler, w http.ResponseWriter, r *http.Request) (secret string) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
	return createdSecret(r, rec)
}

// createdSecret is the applicationKey of a b2_create_key reply ("" for other calls).
func createdSecret(r *http.Request, rec *httptest.ResponseRecorder) string {
	if !strings.HasSuffix(r.URL.Path, "/b2_create_key") {
		return ""
	}
	var k struct {
		Key string `json:"applicationKey"`
	}
	json.Unmarshal(rec.Body.Bytes(), &k)
	return k.Key
}

// killWhenCommitted SIGKILLs c once committed is closed; the test fails when c ends first or
// nothing is committed within a minute. what names the awaited call.
func killWhenCommitted(t *testing.T, c *child, committed chan struct{}, what string) {
	t.Helper()
	select {
	case <-committed:
	case <-c.end:
		t.Fatalf("apply ended before %s:\n%s", what, c.output())
	case <-time.After(60 * time.Second):
		t.Fatalf("no %s within the deadline:\n%s", what, c.output())
	}
	c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.end
}

// sourceConf is a bucket's asReplicationSource, read with plain HTTP.
func sourceConf(e *keyEnv, bucket string) map[string]any {
	return rawRepl(e, bucket)["asReplicationSource"].(map[string]any)
}

// destMapping is a bucket's sourceToDestinationKeyMapping, read with plain HTTP.
func destMapping(e *keyEnv, bucket string) map[string]any {
	return rawRepl(e, bucket)["asReplicationDestination"].(map[string]any)["sourceToDestinationKeyMapping"].(map[string]any)
}

// replKeyCount counts the account's b2plan-repl-* key names and fails the test when one of
// them exists more than once.
func replKeyCount(t *testing.T, e *keyEnv) int {
	t.Helper()
	keys := e.rawKeys()
	n := 0
	for name, ids := range keys {
		if strings.HasPrefix(name, "b2plan-repl-") {
			n++
			if len(ids) != 1 {
				t.Fatalf("key %s exists %d times: %v", name, len(ids), keys)
			}
		}
	}
	return n
}

// shaHex is the hex SHA-1 of b.
func shaHex(b []byte) string {
	sum := sha1.Sum(b)
	return hex.EncodeToString(sum[:])
}

// wantReplica waits for name in a bucket's raw listing and fails the test unless its SHA-1
// is sum; it returns the file.
func wantReplica(t *testing.T, e *keyEnv, bucketID, name, sum string) map[string]any {
	t.Helper()
	f := waitVersion(t, e, bucketID, name)
	if f["contentSha1"] != sum {
		t.Fatalf("replica of %s in bucket %s: %v (want SHA-1 %s)", name, bucketID, f, sum)
	}
	return f
}

// replicates uploads n random bytes as name to bucket srcID of src (raw API) and checks that
// they arrive in bucket dstID of dst with their SHA-1; it returns the replica.
func replicates(t *testing.T, src *keyEnv, srcID string, dst *keyEnv, dstID, name string, n int) map[string]any {
	t.Helper()
	data, sum := randomBytes(t, n)
	src.uploadRaw(srcID, name, data)
	return wantReplica(t, dst, dstID, name, sum)
}

// filesText is the content of every file below dir.
func filesText(dir string) string {
	var text strings.Builder
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			b, _ := os.ReadFile(p)
			text.Write(b)
		}
		return nil
	})
	return text.String()
}

// noSecrets fails the test when text contains one of secrets.
func noSecrets(t *testing.T, text string, secrets []string) {
	t.Helper()
	if len(secrets) == 0 {
		t.Fatalf("no key secret was recorded: the check for secrets would prove nothing")
	}
	for _, s := range secrets {
		if strings.Contains(text, s) {
			t.Fatalf("a secret appears in b2plan's output or files")
		}
	}
}

// importThenPlan runs b2plan import into a new configuration directory and fails the test
// unless the plan right after is empty; it returns the imported configuration.
func importThenPlan(t *testing.T, e *keyEnv) string {
	t.Helper()
	dir := filepath.Join(e.dir, "cfg")
	os.MkdirAll(dir, 0o755)
	e.mustRun("import", "-out="+filepath.Join(dir, "imported.hcl"), dir)
	b, _ := os.ReadFile(filepath.Join(dir, "imported.hcl"))
	if code, out, errOut := e.run("plan", "-detailed-exitcode", dir); code != 0 {
		t.Fatalf("plan after import: %d\n%s\n%s\n%s", code, out, errOut, b)
	}
	return string(b)
}

// killMappings checks that both destinations of replKillConfig map the source key, and only
// it, to their own key (keys: rawKeys).
func killMappings(t *testing.T, e *keyEnv, keys map[string][]string) {
	t.Helper()
	srcKey := keys["b2plan-repl-src-acme-kill-src"][0]
	for _, d := range []string{"acme-kill-dst", "acme-kill-dst2"} {
		if m := destMapping(e, d); len(m) != 1 || m[srcKey] != keys["b2plan-repl-dst-"+d][0] {
			t.Fatalf("mapping of %s: %v (keys %v)", d, m, keys)
		}
	}
}

// needB2SDK skips the test unless /usr/bin/python3 has b2sdk; it returns the interpreter.
func needB2SDK(t *testing.T) string {
	t.Helper()
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import b2sdk.v2").Run(); err != nil {
		t.Skip("b2sdk not available")
	}
	return py
}

// waitFor polls ok every 20 ms and fails the test when it is not true within 20 s (b2local
// replicates in the background); what says what was awaited.
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within the deadline", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// config writes src as the configuration directory's main.hcl and returns the directory.
func (re *replEnv) config(t *testing.T, src string) string {
	t.Helper()
	cfg := filepath.Join(re.def.dir, "cfg")
	writeFiles(t, cfg, map[string]string{"main.hcl": src})
	return cfg
}

// mediaObject is an object block LABEL in replConfig's bucket.media.
func mediaObject(label, name, content string) string {
	return fmt.Sprintf("\nobject %q {\n  bucket  = bucket.media.name\n  name    = %q\n  content = %q\n}\n", label, name, content)
}
