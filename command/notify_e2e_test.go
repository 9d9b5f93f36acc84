package command

import (
	"bytes"
	"compress/gzip"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// hookReceiver is a webhook on loopback that records every delivery.
type hookReceiver struct {
	mu   sync.Mutex
	got  []hookDelivery
	srv  *httptest.Server
	news chan struct{}
}

type hookDelivery struct {
	body      []byte
	signature string
	team      string
}

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{news: make(chan struct{}, 100)}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.got = append(h.got, hookDelivery{b, r.Header.Get("X-Bz-Event-Notification-Signature"), r.Header.Get("X-Team")})
		h.mu.Unlock()
		h.news <- struct{}{}
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// uploadRaw uploads data as name through the raw native API.
func (e *keyEnv) uploadRaw(bucketID, name string, data []byte) {
	e.t.Helper()
	u := e.rawCall("b2_get_upload_url", map[string]any{"bucketId": bucketID})
	req, _ := http.NewRequest("POST", u["uploadUrl"].(string), bytes.NewReader(data))
	req.Header.Set("Authorization", u["authorizationToken"].(string))
	req.Header.Set("X-Bz-File-Name", name)
	req.Header.Set("Content-Type", "text/plain")
	sum := sha1.Sum(data)
	req.Header.Set("X-Bz-Content-Sha1", hex.EncodeToString(sum[:]))
	var out map[string]any
	e.getJSON(req, &out)
}

// planFileText is the decompressed content of a plan file.
func planFileText(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(b[len("B2PLAN\x00")+2:]))
	if err != nil {
		t.Fatal(err)
	}
	text, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return string(text)
}

// TestNotificationRulesEndToEnd declares a bucket with a signed webhook
// rule, applies it, uploads, and checks with the receiver that the event
// arrived signed with the secret; re-plans are empty; the secret appears in
// no output and no plan file.
func TestNotificationRulesEndToEnd(t *testing.T) {
	e := newKeyEnv(t)
	hook := newHookReceiver(t)
	const secret = "S3cretS3cretS3cretS3cretS3cret12"
	dir := filepath.Join(e.dir, "cfg")
	src := fmt.Sprintf(`
variable "hook_secret" {
  type      = string
  sensitive = true
}
bucket "notify-media" {
  notification_rule {
    name        = "on-upload"
    event_types = ["b2:ObjectCreated:*"]
    prefix      = "uploads/"
    webhook {
      url            = %q
      signing_secret = var.hook_secret
      headers        = { "X-Team" = "web" }
    }
  }
}
`, hook.srv.URL+"/b2")
	e.write(dir, src)
	varArg := "-var=hook_secret=" + secret
	var outputs []string
	check := func(what string, code, want int, stdout, stderr string) {
		t.Helper()
		outputs = append(outputs, stdout, stderr)
		if code != want {
			t.Fatalf("%s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", what, code, want, stdout, stderr)
		}
	}

	// A saved plan that would need the secret is refused.
	planPath := filepath.Join(e.dir, "first.plan")
	code, so, se := e.run("plan", varArg, "-out="+planPath, dir)
	check("plan -out (new secret)", code, 1, so, se)
	if !strings.Contains(se, "never writes secrets into plan files") {
		t.Errorf("plan -out of a new secret: want a refusal naming the reason, got:\n%s", se)
	}
	if _, err := os.Stat(planPath); err == nil {
		t.Errorf("a plan file was written although it would need the secret")
	}

	code, so, se = e.run("apply", "-auto-approve", varArg, dir)
	check("apply", code, 0, so, se)

	// An independent reader: the raw API.
	bl := e.rawCall("b2_list_buckets", map[string]any{"bucketName": "notify-media"})
	bucketID := bl["buckets"].([]any)[0].(map[string]any)["bucketId"].(string)
	rules := e.rawCall("b2_get_bucket_notification_rules", map[string]any{"bucketId": bucketID})["eventNotificationRules"].([]any)
	if len(rules) != 1 {
		t.Fatalf("rules after apply: %v", rules)
	}
	r := rules[0].(map[string]any)
	tc := r["targetConfiguration"].(map[string]any)
	if r["name"] != "on-upload" || r["objectNamePrefix"] != "uploads/" || r["isEnabled"] != true || tc["hmacSha256SigningSecret"] != secret {
		t.Fatalf("rule after apply: %v", r)
	}

	// An upload outside the prefix is not notified; one inside is, signed.
	e.uploadRaw(bucketID, "other/x.txt", []byte("no"))
	e.uploadRaw(bucketID, "uploads/a.txt", []byte("hello"))
	select {
	case <-hook.news:
	case <-time.After(20 * time.Second):
		t.Fatal("no webhook delivery within 20s of the upload")
	}
	hook.mu.Lock()
	d := hook.got[0]
	hook.mu.Unlock()
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(d.body)
	if want := "v1=" + hex.EncodeToString(m.Sum(nil)); d.signature != want {
		t.Errorf("signature %q, want %q (HMAC-SHA256 of the body with the secret)", d.signature, want)
	}
	if d.team != "web" {
		t.Errorf("custom header X-Team = %q, want web", d.team)
	}
	var payload struct {
		Events []struct{ EventType, ObjectName, MatchedRuleName string }
	}
	if err := json.Unmarshal(d.body, &payload); err != nil || len(payload.Events) != 1 ||
		payload.Events[0].ObjectName != "uploads/a.txt" || payload.Events[0].MatchedRuleName != "on-upload" ||
		payload.Events[0].EventType != "b2:ObjectCreated:Upload" {
		t.Errorf("payload %s (%v)", d.body, err)
	}

	// Re-plan: empty; now a saved plan is fine and holds no secret.
	code, so, se = e.run("plan", "-detailed-exitcode", varArg, dir)
	check("re-plan", code, 0, so, se)
	if !strings.Contains(so, "No changes.") {
		t.Errorf("re-plan: want No changes, got:\n%s", so)
	}

	// A change of another attribute keeps the secret: apply re-reads it
	// from B2, so a saved plan works.
	e.write(dir, strings.Replace(src, `"web"`, `"ops"`, 1))
	code, so, se = e.run("plan", varArg, "-out="+planPath, dir)
	check("plan -out (header change)", code, 0, so, se)
	if !strings.Contains(so, "notification_rules") {
		t.Errorf("plan of a header change does not show notification_rules:\n%s", so)
	}
	text := planFileText(t, planPath)
	if !strings.Contains(text, "notification_rules") {
		t.Errorf("plan file lacks the rules")
	}
	outputs = append(outputs, text)
	code, so, se = e.run("show", "-json", planPath)
	check("show -json", code, 0, so, se)
	if !strings.Contains(so, `"notification_rules"`) || !strings.Contains(so, `"after_sensitive":{"notification_rules":[{"webhook":{"signing_secret":true}}]}`) {
		t.Errorf("show -json: want notification_rules with a sensitive signing_secret, got:\n%s", so)
	}
	code, so, se = e.run("apply", planPath)
	check("apply saved plan", code, 0, so, se)
	rules = e.rawCall("b2_get_bucket_notification_rules", map[string]any{"bucketId": bucketID})["eventNotificationRules"].([]any)
	tc = rules[0].(map[string]any)["targetConfiguration"].(map[string]any)
	if tc["hmacSha256SigningSecret"] != secret || fmt.Sprint(tc["customHeaders"]) != "[map[name:X-Team value:ops]]" {
		t.Errorf("after the saved plan: %v", tc)
	}

	// Import writes the rule with its secret as a sensitive variable; with
	// the variable set, the imported configuration re-plans empty.
	impDir := filepath.Join(e.dir, "imported")
	os.MkdirAll(impDir, 0o755)
	code, so, se = e.run("import", "-buckets=notify-media", "-out="+filepath.Join(impDir, "main.hcl"))
	check("import", code, 0, so, se)
	imported, _ := os.ReadFile(filepath.Join(impDir, "main.hcl"))
	outputs = append(outputs, string(imported))
	if !strings.Contains(string(imported), "notification_rule {") || !strings.Contains(string(imported), "var.notify_media_on_upload_signing_secret") {
		t.Fatalf("import:\n%s", imported)
	}
	var o, er bytes.Buffer
	code = RunWithEnv([]string{"plan", "-detailed-exitcode", impDir},
		append(e.env(), "B2PLAN_VAR_notify_media_on_upload_signing_secret="+secret), strings.NewReader(""), &o, &er)
	check("plan of the import", code, 0, o.String(), er.String())

	// A changed secret is shown as a change without its value.
	const secret2 = "AnotherSecretAnotherSecret123456"
	code, so, se = e.run("plan", "-var=hook_secret="+secret2, dir)
	check("plan (secret change)", code, 0, so, se)
	if !strings.Contains(so, "signing secret changes") {
		t.Errorf("plan of a secret change does not say so:\n%s", so)
	}
	// Removing the rule block removes the rule.
	e.write(dir, `bucket "notify-media" {}`)
	code, so, se = e.run("apply", "-auto-approve", dir)
	check("apply (rule removed)", code, 0, so, se)
	rules = e.rawCall("b2_get_bucket_notification_rules", map[string]any{"bucketId": bucketID})["eventNotificationRules"].([]any)
	if len(rules) != 0 {
		t.Errorf("rules after removing the block: %v", rules)
	}
	for i, o := range outputs {
		if strings.Contains(o, secret) || strings.Contains(o, secret2) {
			t.Errorf("output %d contains the signing secret:\n%s", i, o)
		}
	}
}

// A key that may not read notification rules cannot plan declared rules;
// one that may read but not write them cannot apply, and nothing changes.
func TestNotificationRulesCapabilities(t *testing.T) {
	e := newKeyEnv(t)
	dir := filepath.Join(e.dir, "cfg")
	e.write(dir, `bucket "notify-caps" {
  notification_rule {
    name        = "on-upload"
    event_types = ["b2:ObjectCreated:*"]
    webhook { url = "https://hooks.example.com/b2" }
  }
}
`)
	e.rawCall("b2_create_bucket", map[string]any{"bucketName": "notify-caps", "bucketType": "allPrivate"})
	runAs := func(caps ...string) (int, string) {
		k := e.rawCall("b2_create_key", map[string]any{"keyName": "caps-" + fmt.Sprint(len(caps)), "capabilities": caps})
		env := []string{"B2_ENDPOINT=" + e.url, "B2_APPLICATION_KEY_ID=" + k["applicationKeyId"].(string),
			"B2_APPLICATION_KEY=" + k["applicationKey"].(string), "HOME=" + e.dir, "PATH=" + os.Getenv("PATH")}
		var o, er bytes.Buffer
		code := RunWithEnv([]string{"apply", "-auto-approve", dir}, env, strings.NewReader(""), &o, &er)
		return code, o.String() + er.String()
	}
	code, out := runAs("listBuckets", "writeBuckets")
	if code == 0 || !strings.Contains(out, "readBucketNotifications") {
		t.Errorf("without readBucketNotifications: exit %d\n%s", code, out)
	}
	code, out = runAs("listBuckets", "writeBuckets", "readBucketNotifications")
	if code == 0 || !strings.Contains(out, "writeBucketNotifications") {
		t.Errorf("without writeBucketNotifications: exit %d\n%s", code, out)
	}
	bl := e.rawCall("b2_list_buckets", map[string]any{"bucketName": "notify-caps"})
	id := bl["buckets"].([]any)[0].(map[string]any)["bucketId"].(string)
	if rules := e.rawCall("b2_get_bucket_notification_rules", map[string]any{"bucketId": id})["eventNotificationRules"].([]any); len(rules) != 0 {
		t.Errorf("rules were set by a refused apply: %v", rules)
	}
}

// A rule B2 suspends (its webhook kept failing) is drift with B2's reason,
// and apply resumes it; its import is declared as it is and plans only the resumption.
// b2local suspends after about 31 s of retries, so
// this runs only with B2PLAN_TEST_SUSPEND=1.
func TestNotificationRuleSuspendedDrift(t *testing.T) {
	if os.Getenv("B2PLAN_TEST_SUSPEND") == "" {
		t.Skip("set B2PLAN_TEST_SUSPEND=1 (takes about 35 s)")
	}
	e := newKeyEnv(t)
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer failing.Close()
	dir := filepath.Join(e.dir, "cfg")
	e.write(dir, fmt.Sprintf(`bucket "notify-susp" {
  notification_rule {
    name        = "on-upload"
    event_types = ["b2:ObjectCreated:*"]
    webhook { url = %q }
  }
}
`, failing.URL))
	if code, so, se := e.run("apply", "-auto-approve", dir); code != 0 {
		t.Fatalf("apply: %d\n%s%s", code, so, se)
	}
	bl := e.rawCall("b2_list_buckets", map[string]any{"bucketName": "notify-susp"})
	id := bl["buckets"].([]any)[0].(map[string]any)["bucketId"].(string)
	e.uploadRaw(id, "a.txt", []byte("x"))
	suspended := func() bool {
		rules := e.rawCall("b2_get_bucket_notification_rules", map[string]any{"bucketId": id})["eventNotificationRules"].([]any)
		return rules[0].(map[string]any)["isSuspended"] == true
	}
	for start := time.Now(); !suspended(); time.Sleep(500 * time.Millisecond) {
		if time.Since(start) > 90*time.Second {
			t.Fatal("the rule was not suspended within 90 s")
		}
	}
	code, so, se := e.run("plan", "-detailed-exitcode", dir)
	if code != ExitChanges || !strings.Contains(so, "suspended by B2: webhook answered HTTP 500") || !strings.Contains(so, "is_suspended") {
		t.Fatalf("plan of a suspended rule: %d\n%s%s", code, so, se)
	}
	// Import of the suspended rule: declared as it is, with a warning; its plan shows only
	// the resumption, and after the apply it plans empty.
	impDir := filepath.Join(e.dir, "imported")
	code, so, se = e.run("import", "-buckets=notify-susp", "-out="+filepath.Join(impDir, "main.hcl"))
	if code != 0 || !strings.Contains(se, `Warning: B2 suspended notification rule "on-upload" of bucket "notify-susp": webhook answered HTTP 500`) {
		t.Fatalf("import of a suspended rule: %d\n%s%s", code, so, se)
	}
	if code, so, se := e.run("plan", "-detailed-exitcode", impDir); code != ExitChanges || !strings.Contains(so, "suspended by B2") ||
		!strings.Contains(so, "Plan: 0 to add, 1 to change, 0 to destroy.") {
		t.Fatalf("plan of the import of a suspended rule: %d\n%s%s", code, so, se)
	}
	if code, so, se := e.run("apply", "-auto-approve", dir); code != 0 {
		t.Fatalf("apply: %d\n%s%s", code, so, se)
	}
	if code, so, _ := e.run("plan", "-detailed-exitcode", impDir); code != 0 {
		t.Errorf("plan of the import after resuming: %d\n%s", code, so)
	}
	if suspended() {
		t.Error("apply did not resume the rule")
	}
	if code, so, _ := e.run("plan", "-detailed-exitcode", dir); code != 0 {
		t.Errorf("re-plan after resuming: %d\n%s", code, so)
	}
}
