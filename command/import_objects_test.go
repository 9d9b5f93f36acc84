package command

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestImportObjects: -objects declares the selected visible files as object blocks with
// their content downloaded next to the output (the newest version; hidden names, folder
// placeholders and names outside the glob left out; a name that cannot be a local file
// commented out with the reason), and the import re-plans empty. Importing again leaves the
// declared objects out and overwrites nothing; without -out, or with too broad a glob, it is
// refused.
func TestImportObjects(t *testing.T) {
	e := newKeyEnv(t)
	e.rawCall("b2_create_bucket", map[string]any{"bucketName": "imp-site", "bucketType": "allPublic"})
	r := newRawB2(t, e.url, "imp-site")
	r.upload("index.html", "<h1>old</h1>", map[string]string{"Content-Type": "text/html; charset=utf-8"})
	r.upload("index.html", "<h1>new</h1>", map[string]string{"Content-Type": "text/html; charset=utf-8", "X-Bz-Info-team": "web", "X-Bz-Info-Src_last_modified_millis": "1700000000000"})
	r.upload("robots.txt", "User-agent: *\n", map[string]string{"Content-Type": "text/plain"})
	r.upload("gone.html", "<h1>gone</h1>", map[string]string{"Content-Type": "text/html"})
	var out map[string]any
	r.call("b2_hide_file", map[string]any{"bucketId": r.bid, "fileName": "gone.html"}, &out)
	r.upload("sub/deep.html", "deep", nil)
	r.upload("bad/./dot.txt", "dot", nil)
	r.upload("bad/x/.bzEmpty", "", nil)
	r.upload("conf", "a file", nil)
	r.upload("conf/x.txt", "under the file's name", nil)
	r.upload("long/"+strings.Repeat("a", 300), "long", nil)

	dir := filepath.Join(e.dir, "adopt")
	code, so, se := e.run("import", "-buckets=imp-site", "-keys=none", "-objects=imp-site/*.html", "-objects=imp-site/robots.txt",
		"-objects=imp-site/bad/*/*", "-objects=imp-site/conf", "-objects=imp-site/conf/*", "-objects=imp-site/long/*", "-out="+filepath.Join(dir, "main.hcl"))
	if code != 0 {
		t.Fatalf("import: %d\n%s\n%s", code, so, se)
	}
	src, _ := os.ReadFile(filepath.Join(dir, "main.hcl"))
	t.Logf("%s\n%s", src, se)
	if !strings.Contains(se, "Imported 1 bucket and 0 keys, 3 objects") || !strings.Contains(se, `object "imp-site/bad/./dot.txt"`) ||
		!strings.Contains(se, `would be under the file of "conf"`) || !strings.Contains(se, "longer than 255 bytes") {
		t.Errorf("stderr:\n%s", se)
	}
	for _, want := range []string{`object "index_html" {`, `bucket = bucket.imp_site.name`, `source = "files/imp-site/index.html"`,
		`info = { src_last_modified_millis = "1700000000000" team = "web" }`, `object "robots_txt" {`, `content_type = "text/plain"`,
		`# object "bad___dot_txt" {`} {
		if !containsNormCmd(oneSpaced(string(src)), want) {
			t.Errorf("import lacks %q", want)
		}
	}
	for _, not := range []string{"gone.html", "deep.html", ".bzEmpty", `content_type = "text/html`} {
		if strings.Contains(string(src), not) {
			t.Errorf("import declares %q", not)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "files/imp-site/index.html")); err != nil || string(b) != "<h1>new</h1>" {
		t.Errorf("downloaded index.html: %q %v", b, err)
	}
	if code, so, se := e.run("plan", "-detailed-exitcode", dir); code != 0 || !strings.Contains(so, "No changes.") {
		t.Fatalf("plan of the import: %d\n%s\n%s", code, so, se)
	}

	// Again: the declared objects are left out, nothing is downloaded or overwritten.
	code, so, se = e.run("import", "-buckets=imp-site", "-keys=none", "-objects=imp-site/*.html", "-out="+filepath.Join(dir, "more.hcl"))
	if code != 0 || !strings.Contains(se, "Nothing to import") || !strings.Contains(se, "object imp-site/index.html") {
		t.Errorf("import again: %d\n%s\n%s", code, so, se)
	}
	// Refusals.
	if code, _, se := e.run("import", "-objects=imp-site/*"); code != 1 || !strings.Contains(se, "-objects needs -out=FILE") {
		t.Errorf("without -out: %d\n%s", code, se)
	}
	if code, _, se := e.run("import", "-objects=*", "-out="+filepath.Join(e.dir, "x", "a.hcl")); code != 1 || !strings.Contains(se, "want BUCKET/GLOB") {
		t.Errorf("bad -objects: %d\n%s", code, se)
	}
	if code, _, se := e.run("import", "-objects=nope/*", "-out="+filepath.Join(e.dir, "x", "a.hcl")); code != 1 || !strings.Contains(se, `no bucket named "nope"`) {
		t.Errorf("unknown bucket: %d\n%s", code, se)
	}
	other := filepath.Join(e.dir, "other")
	os.MkdirAll(filepath.Join(other, "files/imp-site"), 0o755)
	os.WriteFile(filepath.Join(other, "files/imp-site/robots.txt"), []byte("mine"), 0o644)
	if code, _, se := e.run("import", "-objects=imp-site/robots.txt", "-out="+filepath.Join(other, "a.hcl")); code != 1 || !strings.Contains(se, "never overwrites") {
		t.Errorf("a file in the way: %d\n%s", code, se)
	}
	if b, _ := os.ReadFile(filepath.Join(other, "files/imp-site/robots.txt")); string(b) != "mine" {
		t.Errorf("a file in the way was overwritten: %q", b)
	}

	// A symlink in the import directory cannot lead a download out of it: refused, and
	// nothing is written outside (nor left inside).
	escape, outside := filepath.Join(e.dir, "escape"), filepath.Join(e.dir, "outside")
	os.MkdirAll(escape, 0o755)
	os.MkdirAll(outside, 0o755)
	if err := os.Symlink(outside, filepath.Join(escape, "files")); err != nil {
		t.Fatal(err)
	}
	if code, _, se := e.run("import", "-objects=imp-site/robots.txt", "-out="+filepath.Join(escape, "a.hcl")); code != 1 || !strings.Contains(se, "download imp-site/robots.txt") {
		t.Errorf("through a symlink: %d\n%s", code, se)
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Errorf("written outside the import directory: %v", ents)
	}
	if _, err := os.Stat(filepath.Join(escape, "a.hcl")); err == nil {
		t.Errorf("a failed import wrote its configuration")
	}
}
