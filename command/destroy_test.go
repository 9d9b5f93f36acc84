package command

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// upload puts one file into the raw client's bucket with plain HTTP; hdr adds headers
// (Object Lock settings).
func (r *rawB2) upload(name, data string, hdr map[string]string) string {
	r.t.Helper()
	var up struct {
		URL   string `json:"uploadUrl"`
		Token string `json:"authorizationToken"`
	}
	r.call("b2_get_upload_url", map[string]any{"bucketId": r.bid}, &up)
	sum := sha1.Sum([]byte(data))
	req, _ := http.NewRequest("POST", up.URL, strings.NewReader(data))
	req.Header.Set("Authorization", up.Token)
	req.Header.Set("X-Bz-File-Name", name)
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("X-Bz-Content-Sha1", hex.EncodeToString(sum[:]))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	req.ContentLength = int64(len(data))
	var out struct {
		ID string `json:"fileId"`
	}
	r.do(req, &out)
	return out.ID
}

// versions lists every version and unfinished large file of the bucket (raw listings).
func (r *rawB2) versions() (names []string, unfinished int) {
	r.t.Helper()
	var vs struct {
		Files []struct {
			Name string `json:"fileName"`
		} `json:"files"`
	}
	r.call("b2_list_file_versions", map[string]any{"bucketId": r.bid, "maxFileCount": 10000}, &vs)
	for _, f := range vs.Files {
		names = append(names, f.Name)
	}
	var uf struct {
		Files []any `json:"files"`
	}
	r.call("b2_list_unfinished_large_files", map[string]any{"bucketId": r.bid}, &uf)
	return names, len(uf.Files)
}

const destroyConfig = `
bucket "site" {
  name          = "destroy-site"
  force_destroy = true
}
bucket "plain" {
  name = "destroy-plain"
}
key "ci" {
  access      = "read-write"
  buckets     = [bucket.site.name]
  secret_file = "ci.secret"
}
folder "docs" {
  bucket = bucket.site.name
  path   = "docs/"
}
folder "notes" {
  bucket = bucket.plain.name
  path   = "notes/"
}
`

// TestDestroy applies a populated configuration, then destroys it: a non-empty bucket without
// force_destroy is a plan error that deletes nothing; with it, every version, hide marker and
// unfinished large file goes, then the bucket. Raw API listings check the result.
func TestDestroy(t *testing.T) {
	e := newKeyEnv(t)
	dir := filepath.Join(e.dir, "cfg")
	e.write(dir, destroyConfig)
	if code, out, errOut := e.run("apply", "-auto-approve", dir); code != 0 {
		t.Fatalf("apply: %d\n%s\n%s", code, out, errOut)
	}
	site, plain := newRawB2(t, e.url, "destroy-site"), newRawB2(t, e.url, "destroy-plain")
	site.upload("a.txt", "one", nil)
	site.upload("a.txt", "two", nil)
	site.upload("b.txt", "three", nil)
	var hidden map[string]any
	site.call("b2_hide_file", map[string]any{"bucketId": site.bid, "fileName": "b.txt"}, &hidden)
	var st map[string]any
	site.call("b2_start_large_file", map[string]any{"bucketId": site.bid, "fileName": "big.bin", "contentType": "b2/x-auto"}, &st)
	plain.upload("keep/me.txt", "data", nil)
	if names, unf := site.versions(); len(names) != 6 || unf != 1 { // a.txt ×2, b.txt and its hide marker, big.bin (started), docs/.bzEmpty
		t.Fatalf("seeded site: %v, %d unfinished", names, unf)
	}

	code, out, errOut := e.run("destroy", "-auto-approve", dir)
	if code != 1 || !strings.Contains(errOut, "Cannot destroy non-empty bucket destroy-plain") ||
		!strings.Contains(errOut, "keep/me.txt") || !strings.Contains(errOut, "force_destroy = true") {
		t.Fatalf("destroy of a non-empty bucket without force_destroy: %d\n%s\n%s", code, out, errOut)
	}
	if bs := e.rawBuckets(); len(bs) != 2 || len(e.rawKeys()["ci"]) != 1 {
		t.Fatalf("a refused destroy deleted something: buckets %v keys %v", bs, e.rawKeys())
	}

	// Without the object, the plain bucket holds only its folder placeholder: destroy goes.
	var vs struct {
		Files []struct {
			Name string `json:"fileName"`
			ID   string `json:"fileId"`
		} `json:"files"`
	}
	plain.call("b2_list_file_versions", map[string]any{"bucketId": plain.bid, "prefix": "keep/"}, &vs)
	var del map[string]any
	plain.call("b2_delete_file_version", map[string]any{"fileName": vs.Files[0].Name, "fileId": vs.Files[0].ID}, &del)

	code, out, errOut = e.run("destroy", "-auto-approve", dir)
	if code != 0 {
		t.Fatalf("destroy: %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"bucket.site will be destroyed", "key.ci will be destroyed", "folder.docs will be destroyed",
		"4 file versions and 1 unfinished large files", "Destroy complete! Resources: 5 destroyed."} {
		if !strings.Contains(out, want) {
			t.Errorf("destroy output lacks %q:\n%s", want, out)
		}
	}
	if bs := e.rawBuckets(); len(bs) != 0 {
		t.Errorf("buckets left after destroy: %v", bs)
	}
	if ks := e.rawKeys(); len(ks["ci"]) != 0 {
		t.Errorf("key left after destroy: %v", ks)
	}
	// Nothing left to destroy: a second run changes nothing.
	if code, out, errOut := e.run("destroy", "-auto-approve", dir); code != 0 || !strings.Contains(out, "No changes. No objects need to be destroyed.") || !strings.Contains(out, "Destroy complete! Resources: 0 destroyed.") {
		t.Fatalf("second destroy: %d\n%s\n%s", code, out, errOut)
	}
}

// TestDestroyProtection: prevent_destroy refuses, Object Lock stops force_destroy with the
// locked version named, and -target destroys a bucket with what depends on it only.
func TestDestroyProtection(t *testing.T) {
	e := newKeyEnv(t)
	dir := filepath.Join(e.dir, "cfg")
	e.write(dir, `
bucket "keep" {
  name            = "destroy-keep"
  prevent_destroy = true
}
bucket "locked" {
  name          = "destroy-locked"
  force_destroy = true
  object_lock { enabled = true }
}
bucket "scratch" {
  name = "destroy-scratch"
}
key "scratch" {
  access      = "read-only"
  buckets     = [bucket.scratch.name]
  secret_file = "scratch.secret"
}
key "other" {
  access      = "read-only"
  buckets     = [bucket.keep.name]
  secret_file = "other.secret"
}
`)
	if code, out, errOut := e.run("apply", "-auto-approve", dir); code != 0 {
		t.Fatalf("apply: %d\n%s\n%s", code, out, errOut)
	}
	locked := newRawB2(t, e.url, "destroy-locked")
	locked.upload("held.txt", "x", map[string]string{"X-Bz-File-Legal-Hold": "on"})
	until := fmt.Sprint(time.Now().Add(24 * time.Hour).UnixMilli())
	locked.upload("kept.txt", "y", map[string]string{"X-Bz-File-Retention-Mode": "governance",
		"X-Bz-File-Retention-Retain-Until-Timestamp": until})

	code, out, errOut := e.run("destroy", "-auto-approve", dir)
	if code != 1 || !strings.Contains(errOut, "Bucket destroy-keep has prevent_destroy") ||
		!strings.Contains(errOut, "held.txt") || !strings.Contains(errOut, "legal hold on") ||
		!strings.Contains(errOut, "kept.txt") || !strings.Contains(errOut, "retention governance") ||
		!strings.Contains(errOut, "Object Lock") {
		t.Fatalf("destroy of protected buckets: %d\n%s\n%s", code, out, errOut)
	}
	if bs := e.rawBuckets(); len(bs) != 3 {
		t.Fatalf("a refused destroy deleted buckets: %v", bs)
	}

	// The JSON stream is apply's: planned deletions, then the summary.
	code, out, errOut = e.run("destroy", "-auto-approve", "-json", "-target=bucket.scratch", dir)
	if code != 0 || !strings.Contains(out, `"resource":{"addr":"key.scratch"`) || strings.Contains(out, "key.other") ||
		!strings.Contains(out, `"action":"delete"`) || !strings.Contains(out, `"remove":2`) {
		t.Fatalf("destroy -target: %d\n%s\n%s", code, out, errOut)
	}
	bs := strings.Join(e.rawBuckets(), ",")
	if strings.Contains(bs, "destroy-scratch") || !strings.Contains(bs, "destroy-keep") || !strings.Contains(bs, "destroy-locked") {
		t.Errorf("after destroy -target=bucket.scratch: buckets %s", bs)
	}
	if ks := e.rawKeys(); len(ks["scratch"]) != 0 || len(ks["other"]) != 1 {
		t.Errorf("after destroy -target=bucket.scratch: keys %v", ks)
	}
}

// TestDestroyTwoAccounts: destroy of a configuration with a provider alias deletes each
// account's resources (the key and folder of the backup account before its bucket); each
// state directory is read back afterwards.
func TestDestroyTwoAccounts(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "cfg")
	writeFiles(t, cfg, map[string]string{"main.hcl": twoAccounts})
	env := []string{"HOME=" + dir, "PATH=" + os.Getenv("PATH")}
	if code, out, errOut := runLocal(t, env, "apply", "-auto-approve", cfg); code != 0 {
		t.Fatalf("apply: %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut := runLocal(t, env, "destroy", "-auto-approve", cfg)
	if code != 0 || !strings.Contains(out, "Destroy complete! Resources: 4 destroyed.") {
		t.Fatalf("destroy: %d\n%s\n%s", code, out, errOut)
	}
	def := openState(t, filepath.Join(cfg, ".b2plan/local"))
	bak := openState(t, filepath.Join(cfg, ".b2plan/local-backup"))
	if b1, b2 := def.rawBuckets(), bak.rawBuckets(); len(b1)+len(b2) != 0 {
		t.Errorf("buckets left: %v %v", b1, b2)
	}
	if ks := bak.rawKeys(); len(ks["acme-vault-reader"]) != 0 {
		t.Errorf("keys left: %v", ks)
	}
}

// TestPlanDestroySaved: plan -destroy -out saves a destroy plan (objects, a force_destroy
// bucket, a key), apply FILE carries it out, and a second plan -destroy has nothing to do.
func TestPlanDestroySaved(t *testing.T) {
	e := newKeyEnv(t)
	dir := filepath.Join(e.dir, "cfg")
	src, err := os.ReadFile("../examples/site.hcl")
	if err != nil {
		t.Fatal(err)
	}
	e.write(dir, string(src))
	if code, out, errOut := e.run("apply", "-auto-approve", dir); code != 0 {
		t.Fatalf("apply: %d\n%s\n%s", code, out, errOut)
	}
	planFile := filepath.Join(e.dir, "destroy.plan")
	if code, out, errOut := e.run("plan", "-destroy", "-out="+planFile, dir); code != 0 || !strings.Contains(out, "4 to destroy") {
		t.Fatalf("plan -destroy: %d\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut := e.run("apply", planFile); code != 0 || !strings.Contains(out, "4 destroyed") {
		t.Fatalf("apply of the destroy plan: %d\n%s\n%s", code, out, errOut)
	}
	if bs, ks := e.rawBuckets(), e.rawKeys(); len(bs) != 0 || len(ks["deploy"]) != 0 {
		t.Errorf("left after the destroy plan: buckets %v keys %v", bs, ks)
	}
	if code, out, errOut := e.run("plan", "-destroy", "-detailed-exitcode", dir); code != 0 {
		t.Fatalf("second plan -destroy: %d\n%s\n%s", code, out, errOut)
	}
}
