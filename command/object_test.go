package command

import (
	"crypto/sha1"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// download fetches the newest version of name with plain HTTP and returns its SHA-1,
// content type and X-Bz-Info-* headers (lowercased keys).
func (r *rawB2) download(bucket, name string) (sha, ct string, info map[string]string) {
	r.t.Helper()
	req, _ := http.NewRequest("GET", r.dl+"/file/"+bucket+"/"+name, nil)
	req.Header.Set("Authorization", r.token)
	resp, err := r.hc.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		r.t.Fatalf("download %s: %d", name, resp.StatusCode)
	}
	h := sha1.New()
	io.Copy(h, resp.Body)
	info = map[string]string{}
	for k, v := range resp.Header {
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-bz-info-") {
			info[strings.TrimPrefix(lk, "x-bz-info-")] = v[0]
		}
	}
	return hex.EncodeToString(h.Sum(nil)), resp.Header.Get("Content-Type"), info
}

func sha1Hex(s string) string {
	h := sha1.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

// TestObjects applies object blocks (a source file and inline content), checks them with
// independent downloads, re-plans empty, uploads again only what changed (a source edit, a
// content type, -replace), and destroys them with the bucket.
func TestObjects(t *testing.T) {
	e := newKeyEnv(t)
	dir := filepath.Join(e.dir, "cfg")
	robots := "User-agent: *\nDisallow: /private/\n"
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "robots.txt"), []byte(robots), 0o644)
	cfg := `
bucket "site" {
  name = "objects-site"
}
object "robots" {
  bucket = bucket.site.name
  name   = "robots.txt"
  source = "robots.txt"
  info   = { Team = "web" }
}
object "index" {
  bucket  = bucket.site.name
  name    = "index.html"
  content = "<h1>hello</h1>"
}
`
	e.write(dir, cfg)
	code, out, errOut := e.run("apply", "-auto-approve", dir)
	if code != 0 || !strings.Contains(out, "3 added") {
		t.Fatalf("apply: %d\n%s\n%s", code, out, errOut)
	}
	r := newRawB2(t, e.url, "objects-site")
	sha, ct, info := r.download("objects-site", "robots.txt")
	if sha != sha1Hex(robots) || ct != "text/plain; charset=utf-8" || info["team"] != "web" || len(info) != 1 {
		t.Errorf("robots.txt: sha %s ct %q info %v", sha, ct, info)
	}
	if sha, ct, _ := r.download("objects-site", "index.html"); sha != sha1Hex("<h1>hello</h1>") || ct != "text/html; charset=utf-8" {
		t.Errorf("index.html: sha %s ct %q", sha, ct)
	}
	if code, out, errOut := e.run("plan", "-detailed-exitcode", dir); code != 0 {
		t.Fatalf("re-plan is not empty: %d\n%s\n%s", code, out, errOut)
	}

	// A source edit uploads that object only; -replace uploads an unchanged one again.
	robots2 := "User-agent: *\nDisallow: /\n"
	os.WriteFile(filepath.Join(dir, "robots.txt"), []byte(robots2), 0o644)
	code, out, errOut = e.run("apply", "-auto-approve", "-replace=object.index", dir)
	if code != 0 || !strings.Contains(out, "object.robots will be updated in-place") || !strings.Contains(out, "replacement requested with -replace") ||
		!strings.Contains(out, "0 added, 2 changed") {
		t.Fatalf("apply after an edit: %d\n%s\n%s", code, out, errOut)
	}
	if sha, _, _ := r.download("objects-site", "robots.txt"); sha != sha1Hex(robots2) {
		t.Errorf("robots.txt after the edit: %s", sha)
	}
	if names, _ := r.versions(); len(names) != 4 {
		t.Errorf("versions after the second apply: %v, want 2 of each name", names)
	}
	if code, out, errOut := e.run("plan", "-detailed-exitcode", dir); code != 0 {
		t.Fatalf("re-plan is not empty: %d\n%s\n%s", code, out, errOut)
	}

	// Removing the block leaves the object.
	os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(cfg[:strings.Index(cfg, `object "index"`)]), 0o644)
	if code, out, errOut := e.run("apply", "-auto-approve", dir); code != 0 || !strings.Contains(out, "No changes") {
		t.Fatalf("apply without the index block: %d\n%s\n%s", code, out, errOut)
	}
	if sha, _, _ := r.download("objects-site", "index.html"); sha != sha1Hex("<h1>hello</h1>") {
		t.Errorf("index.html after its block was removed: %s", sha)
	}

	// destroy deletes the declared object's versions; the undeclared index.html makes the
	// bucket non-empty.
	code, out, errOut = e.run("destroy", "-auto-approve", dir)
	if code != 1 || !strings.Contains(errOut, "index.html") || strings.Contains(errOut, "robots.txt") {
		t.Fatalf("destroy: %d\n%s\n%s", code, out, errOut)
	}
	e.write(dir, cfg)
	code, out, errOut = e.run("destroy", "-auto-approve", dir)
	if code != 0 || !strings.Contains(out, "object.robots will be destroyed") {
		t.Fatalf("destroy: %d\n%s\n%s", code, out, errOut)
	}
	if bs := e.rawBuckets(); len(bs) != 0 {
		t.Errorf("buckets after destroy: %v", bs)
	}
}
