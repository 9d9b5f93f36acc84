package command

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/b2plan/b2plan/secretfile"
)

// authStatus is the HTTP status of b2_authorize_account with id:secret (raw HTTP).
func (e *keyEnv) authStatus(c secretfile.Contents) int {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.url+"/b2api/v4/b2_authorize_account", nil)
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(c.KeyID+":"+c.Secret)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// secretFile reads the secret file dir/name, which must hold a secret.
func (e *keyEnv) secretFile(dir, name string) secretfile.Contents {
	e.t.Helper()
	c, err := secretfile.Read(filepath.Join(dir, name))
	if err != nil || c.Secret == "" {
		e.t.Fatalf("secret file %s: %v", name, err)
	}
	return c
}

const lifecycleHCL = `
variable "hook_secret" {
  type      = string
  sensitive = true
}
bucket "media" {
  name          = "life-media"
  force_destroy = FORCE
  notification_rule {
    name        = "on-upload"
    event_types = ["b2:ObjectCreated:*"]
    prefix      = "uploads/"
    webhook {
      url            = "HOOK"
      signing_secret = var.hook_secret
      headers        = { "X-Team" = "web" }
    }
  }
}
bucket "logs" {
  name                   = "life-logs"
  force_destroy          = FORCE
  keep_only_last_version = true
}
folder "uploads" {
  bucket = bucket.media.name
  path   = "uploads/"
}
object "robots" {
  bucket  = bucket.media.name
  name    = "robots.txt"
  content = "User-agent: *\n"
  info    = { team = "web" }
}
object "conf" {
  bucket = bucket.logs.name
  name   = "conf/app.json"
  source = "app.json"
}
key "ci" {
  access      = "read-write"
  buckets     = [bucket.media.name]
  secret_file = "ci.secret"
}
key "reader" {
  access      = "read-only"
  secret_file = "reader.secret"
}
`

// TestLifecycleEndToEnd is issue 15's check of a populated configuration, through the CLI
// and verified with raw API calls: apply buckets with a signed notification rule, a folder,
// object blocks and keys; the account gains versions, hide markers and an unfinished large
// file from another client (the webhook receives the signed event); re-plans are empty;
// -replace=key.ci makes the old secret answer 401; destroy without force_destroy is a plan
// error that loses nothing (raw listings equal before and after); with force_destroy it
// deletes everything — no bucket, no key, every secret refused — and a second destroy has
// nothing to do.
func TestLifecycleEndToEnd(t *testing.T) {
	e := newKeyEnv(t)
	hook := newHookReceiver(t)
	const secret = "LifecycleSecretLifecycleSecret12"
	dir := filepath.Join(e.dir, "cfg")
	const appJSON = `{"level": "info"}`
	writeConfig := func(force bool) {
		src := strings.ReplaceAll(lifecycleHCL, "HOOK", hook.srv.URL+"/b2")
		src = strings.ReplaceAll(src, "FORCE", fmt.Sprint(force))
		writeFiles(t, dir, map[string]string{"main.hcl": src, "app.json": appJSON})
	}
	writeConfig(false)
	varArg := "-var=hook_secret=" + secret
	var outputs []string
	run := func(want int, args ...string) (string, string) {
		t.Helper()
		code, so, se := e.run(args...)
		outputs = append(outputs, so, se)
		if code != want {
			t.Fatalf("b2plan %s: exit %d, want %d\n%s\n%s", strings.Join(args, " "), code, want, so, se)
		}
		return so, se
	}
	so, _ := run(0, "apply", "-auto-approve", varArg, dir)
	if !strings.Contains(so, "Apply complete! Resources: 7 added, 0 changed, 0 destroyed.") {
		t.Errorf("apply:\n%s", so)
	}

	// Raw checks of what apply made.
	ids := e.rawBucketIDs()
	if len(ids) != 2 || ids["life-media"] == "" || ids["life-logs"] == "" {
		t.Fatalf("buckets: %v", ids)
	}
	rules := e.rawCall("b2_get_bucket_notification_rules", map[string]any{"bucketId": ids["life-media"]})["eventNotificationRules"].([]any)
	if len(rules) != 1 || rules[0].(map[string]any)["targetConfiguration"].(map[string]any)["hmacSha256SigningSecret"] != secret {
		t.Fatalf("rules: %v", rules)
	}
	media, logs := newRawB2(t, e.url, "life-media"), newRawB2(t, e.url, "life-logs")
	if sha, ct, info := media.download("life-media", "robots.txt"); sha != sha1Hex("User-agent: *\n") || ct != "text/plain; charset=utf-8" || info["team"] != "web" {
		t.Errorf("robots.txt: %s %s %v", sha, ct, info)
	}
	if sha, _, _ := logs.download("life-logs", "conf/app.json"); sha != sha1Hex(appJSON) {
		t.Errorf("conf/app.json: %s", sha)
	}
	readSecret := func(name string) secretfile.Contents { return e.secretFile(dir, name) }
	ci, reader := readSecret("ci.secret"), readSecret("reader.secret")
	if e.authStatus(ci) != 200 || e.authStatus(reader) != 200 {
		t.Fatal("the created keys do not authorize")
	}

	// Another client adds versions, a hide marker and an unfinished large file.
	e.uploadRaw(ids["life-media"], "uploads/a.txt", []byte("one"))
	e.uploadRaw(ids["life-media"], "uploads/a.txt", []byte("two"))
	e.uploadRaw(ids["life-media"], "uploads/b.txt", []byte("three"))
	e.rawCall("b2_hide_file", map[string]any{"bucketId": ids["life-media"], "fileName": "uploads/b.txt"})
	e.uploadRaw(ids["life-logs"], "x/y.log", []byte("log line"))
	e.rawCall("b2_start_large_file", map[string]any{"bucketId": ids["life-logs"], "fileName": "big.bin", "contentType": "b2/x-auto"})
	select {
	case <-hook.news:
	case <-time.After(20 * time.Second):
		t.Fatal("no webhook delivery within 20s of the uploads")
	}
	hook.mu.Lock()
	d := hook.got[0]
	hook.mu.Unlock()
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(d.body)
	if want := "v1=" + hex.EncodeToString(mac.Sum(nil)); d.signature != want || d.team != "web" || !strings.Contains(string(d.body), `"objectName":"uploads/`) {
		t.Errorf("webhook delivery: signature %q (want %q), X-Team %q, body %s", d.signature, want, d.team, d.body)
	}
	run(0, "plan", "-detailed-exitcode", varArg, dir)

	// -replace: the old secret answers 401, the new one works, the other key is kept.
	run(0, "apply", "-auto-approve", varArg, "-replace=key.ci", dir)
	ci2 := readSecret("ci.secret")
	if st := e.authStatus(ci); st != 401 {
		t.Errorf("the replaced secret: authorize answered %d, want 401", st)
	}
	if e.authStatus(ci2) != 200 || e.authStatus(reader) != 200 {
		t.Error("the new key, or the key not replaced, does not authorize")
	}
	run(0, "plan", "-detailed-exitcode", varArg, dir)

	// destroy without force_destroy: a plan error naming what is in the way; nothing lost.
	snapshot := func() map[string]any {
		_, unfLogs := logs.versions()
		return map[string]any{"buckets": e.rawBuckets(), "keys": e.rawKeys(), "media": media.history(), "logs": logs.history(),
			"unfinished": unfLogs, "rules": fmt.Sprint(e.rawCall("b2_get_bucket_notification_rules", map[string]any{"bucketId": ids["life-media"]}))}
	}
	before := snapshot()
	_, se := run(1, "destroy", "-auto-approve", varArg, dir)
	for _, want := range []string{"Cannot destroy non-empty bucket life-media", "uploads/a.txt", "uploads/b.txt",
		"Cannot destroy non-empty bucket life-logs", "x/y.log", "big.bin (unfinished large file)", "force_destroy = true"} {
		if !strings.Contains(oneSpaced(se), want) {
			t.Errorf("destroy without force_destroy does not say %q:\n%s", want, se)
		}
	}
	if after := snapshot(); !reflect.DeepEqual(before, after) {
		t.Fatalf("a refused destroy changed the account:\nbefore %v\nafter  %v", before, after)
	}

	// With force_destroy: everything goes.
	writeConfig(true)
	so, _ = run(0, "destroy", "-auto-approve", varArg, dir)
	if !strings.Contains(so, "Destroy complete! Resources: 7 destroyed.") {
		t.Errorf("destroy:\n%s", so)
	}
	bl := e.rawCall("b2_list_buckets", map[string]any{})["buckets"].([]any)
	if len(bl) != 0 {
		t.Errorf("buckets left: %v", bl)
	}
	if ks := e.rawKeys(); len(ks["ci"])+len(ks["reader"]) != 0 {
		t.Errorf("keys left: %v", ks)
	}
	for _, c := range []secretfile.Contents{ci, ci2, reader} {
		if st := e.authStatus(c); st != 401 {
			t.Errorf("key %s authorizes after destroy (%d)", c.KeyID, st)
		}
	}
	so, _ = run(0, "destroy", "-auto-approve", varArg, dir)
	if !strings.Contains(so, "No changes. No objects need to be destroyed.") {
		t.Errorf("second destroy:\n%s", so)
	}
	for i, o := range outputs {
		if strings.Contains(o, secret) || strings.Contains(o, ci.Secret) || strings.Contains(o, ci2.Secret) || strings.Contains(o, reader.Secret) {
			t.Errorf("output %d contains a secret:\n%s", i, o)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "ci.secret")); err != nil {
		t.Errorf("destroy removed the secret file: %v", err)
	}
}
