package command

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/b2plan/b2plan/secretfile"
)

// authorizes reports whether b2_authorize_account accepts id:secret (raw HTTP).
func (e *keyEnv) authorizes(c secretfile.Contents) bool {
	e.t.Helper()
	return e.authStatus(c) == 200
}

// TestReplaceKey rotates a leaked key with apply -replace: after apply the old secret no
// longer authorizes, the new one (in secret_file) does, and a re-plan is empty. Addresses that
// are not declared keys are refused with a message saying why.
func TestReplaceKey(t *testing.T) {
	e := newKeyEnv(t)
	dir := filepath.Join(e.dir, "cfg")
	e.write(dir, `
bucket "site" {
  name = "replace-site"
}
key "ci" {
  access      = "read-only"
  buckets     = [bucket.site.name]
  secret_file = "ci.secret"
}
key "other" {
  access      = "read-only"
  secret_file = "other.secret"
}
`)
	if code, out, errOut := e.run("apply", "-auto-approve", dir); code != 0 {
		t.Fatalf("apply: %d\n%s\n%s", code, out, errOut)
	}
	read := func(name string) secretfile.Contents { return e.secretFile(dir, name) }
	old, other := read("ci.secret"), read("other.secret")
	if !e.authorizes(old) {
		t.Fatal("the first key does not authorize")
	}
	code, out, errOut := e.run("plan", "-replace=key.ci", dir)
	if code != 0 || !strings.Contains(out, "key.ci must be replaced") || !strings.Contains(out, "replacement requested with -replace") ||
		strings.Contains(out, "key.other must") {
		t.Fatalf("plan -replace: %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = e.run("plan", "-json", "-replace=key.ci", dir)
	if code != 0 || !strings.Contains(out, `"action":"replace","reason":"requested"`) {
		t.Fatalf("plan -json -replace: %d\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut := e.run("apply", "-auto-approve", "-replace=key.ci", dir); code != 0 || !strings.Contains(out, "1 added, 0 changed, 1 destroyed") {
		t.Fatalf("apply -replace: %d\n%s\n%s", code, out, errOut)
	}
	rotated := read("ci.secret")
	if rotated.KeyID == old.KeyID || rotated.Secret == old.Secret {
		t.Fatal("the secret file still holds the old key")
	}
	if e.authorizes(old) {
		t.Error("the old (leaked) secret still authorizes after apply -replace")
	}
	if !e.authorizes(rotated) || !e.authorizes(other) {
		t.Error("the new key, or the key not replaced, does not authorize")
	}
	if ks := e.rawKeys(); len(ks["ci"]) != 1 || ks["ci"][0] != rotated.KeyID {
		t.Errorf("live keys named ci: %v, want only %s", ks["ci"], rotated.KeyID)
	}
	if code, out, errOut := e.run("plan", "-detailed-exitcode", dir); code != 0 {
		t.Fatalf("re-plan after -replace is not empty: %d\n%s\n%s", code, out, errOut)
	}
	for addr, want := range map[string]string{
		"bucket.site": "is a bucket",
		"key.nope":    "declares no key or object key.nope",
	} {
		code, out, errOut := e.run("apply", "-auto-approve", "-replace="+addr, dir)
		if code != 1 || !strings.Contains(errOut, "No key or object matches -replace="+addr) || !strings.Contains(errOut, want) ||
			strings.Contains(out, "will be") {
			t.Errorf("-replace=%s: %d\n%s\n%s", addr, code, out, errOut)
		}
	}
	if e.authorizes(old) || !e.authorizes(rotated) {
		t.Error("a refused -replace changed keys")
	}
}
