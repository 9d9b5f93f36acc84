package importer_test

import (
	"crypto/sha1"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/b2plan/b2plan/config"
	"github.com/b2plan/b2plan/importer"
	"github.com/b2plan/b2plan/live"
	"github.com/b2plan/b2plan/planner"
)

// TestImportObjectBlocks: an object with a SHA-1 and downloaded content is declared so that
// the next plan keeps it (content type written only when it is not the default by extension;
// large_file_sha1 left out of info); one without a SHA-1 is commented out with the reason; one
// the joined configuration declares is left out.
func TestImportObjectBlocks(t *testing.T) {
	dir := t.TempDir()
	content := "<h1>hi</h1>"
	os.MkdirAll(filepath.Join(dir, "files/acme-site"), 0o755)
	os.WriteFile(filepath.Join(dir, "files/acme-site/index.html"), []byte(content), 0o644)
	os.WriteFile(filepath.Join(dir, "files/acme-site/a.bin"), []byte("abc"), 0o644)
	ver := func(name, id, ct, data string, info map[string]string) live.Version {
		v := live.Version{Name: name, ID: id, Size: int64(len(data)), ContentType: ct, Info: info, Action: live.ActionUpload}
		v.SetSHA1Hex(sha1Hex(data), false)
		return v
	}
	index := ver("index.html", "f1", "text/html; charset=utf-8", content, map[string]string{"large_file_sha1": sha1Hex(content), "Team": "web"})
	noSHA := live.Version{Name: "big.bin", ID: "f2", Size: 10, ContentType: "application/octet-stream", Action: live.ActionUpload}
	bin := ver("a.bin", "f3", "application/x-thing", "abc", nil)
	l := &live.Live{ObservedBuckets: true, Buckets: []live.Bucket{{Name: "acme-site", ID: "b1", Type: live.AllPrivate,
		Encryption: live.Encryption{Readable: true}, ObjectLock: live.ObjectLock{Readable: true}}},
		Listings: []live.Listing{{BucketName: "acme-site", BucketID: "b1", Versions: []live.Version{bin, noSHA, index}}}}
	objs := []importer.Object{
		{Bucket: "acme-site", Version: index, Source: "files/acme-site/index.html"},
		{Bucket: "acme-site", Version: noSHA},
		{Bucket: "acme-site", Version: bin, Source: "files/acme-site/a.bin"},
	}
	res, err := importer.Generate(l, importer.Options{Now: time.Now(), Objects: objs, Declared: &config.Desired{Dir: dir}})
	if err != nil {
		t.Fatal(err)
	}
	src := string(res.HCL)
	if strings.Join(res.Objects, ",") != "acme-site/index.html,acme-site/a.bin" || len(res.Skipped) != 1 || !strings.Contains(res.Skipped[0].Reason, "no SHA-1") {
		t.Fatalf("objects %v skipped %+v\n%s", res.Objects, res.Skipped, src)
	}
	if strings.Contains(src, "large_file_sha1 =") || strings.Contains(src, `content_type = "text/html`) || !containsNorm(res.HCL, `content_type = "application/x-thing"`) {
		t.Errorf("generated:\n%s", src)
	}
	d, diags := config.LoadSources(dir, map[string][]byte{"main.hcl": res.HCL}, config.VarInputs{})
	if diags.HasErrors() {
		t.Fatalf("load: %v", diags)
	}
	if p, _ := planner.Compute(d, l, planner.Options{Now: time.Now()}); p.HasChanges() {
		t.Errorf("plan of the import has changes: %v", p.Changes)
	}
	// Joined to that configuration, the objects are already declared.
	res, err = importer.Generate(l, importer.Options{Now: time.Now(), Objects: objs[:1], Declared: d, Buckets: []string{"none"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Objects) != 0 || strings.Join(res.AlreadyDeclared, ",") != "object acme-site/index.html" {
		t.Errorf("again: objects %v already %v", res.Objects, res.AlreadyDeclared)
	}
}

func sha1Hex(s string) string {
	h := sha1.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}
