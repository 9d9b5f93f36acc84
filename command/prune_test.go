package command

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPruneNonEmptyBucket: prune never deletes files. A non-empty unmanaged bucket is a plan
// error naming its contents and the way to delete it (declare it with force_destroy, destroy
// -target); a version under Object Lock is named too, since not even force_destroy can delete
// it. Nothing is deleted by a refused plan; the suggested route then empties and deletes the
// bucket. Raw API listings check each step.
func TestPruneNonEmptyBucket(t *testing.T) {
	e := newKeyEnv(t)
	dir := filepath.Join(e.dir, "cfg")
	e.write(dir, `
b2plan {
  owns { buckets = ["prune-*"] }
  prune = true
}
bucket "keep" { name = "prune-keep" }
`)
	e.rawCall("b2_create_bucket", map[string]any{"bucketName": "prune-full", "bucketType": "allPrivate"})
	e.rawCall("b2_create_bucket", map[string]any{"bucketName": "prune-locked", "bucketType": "allPrivate", "fileLockEnabled": true})
	e.rawCall("b2_create_bucket", map[string]any{"bucketName": "prune-empty", "bucketType": "allPrivate"})
	full, locked := newRawB2(t, e.url, "prune-full"), newRawB2(t, e.url, "prune-locked")
	full.upload("a.txt", "one", nil)
	full.upload("a.txt", "two", nil)
	full.upload("b.txt", "three", nil)
	var out map[string]any
	full.call("b2_hide_file", map[string]any{"bucketId": full.bid, "fileName": "b.txt"}, &out)
	full.call("b2_start_large_file", map[string]any{"bucketId": full.bid, "fileName": "big.bin", "contentType": "b2/x-auto"}, &out)
	locked.upload("held.txt", "x", map[string]string{"X-Bz-File-Legal-Hold": "on"})

	code, so, se := e.run("plan", dir)
	t.Logf("plan:\n%s", se)
	if code != 1 {
		t.Fatalf("plan: exit %d, want 1\n%s\n%s", code, so, se)
	}
	for _, want := range []string{
		"Cannot prune non-empty bucket prune-full", "4 file versions and 1 unfinished large files",
		"a.txt", "b.txt", "big.bin (unfinished large file)", "prune never deletes files",
		`force_destroy = true`, `b2plan destroy -target=bucket.prune_full`,
		"Cannot prune non-empty bucket prune-locked", "held.txt", "legal hold on", "Even force_destroy cannot delete it now",
	} {
		if !strings.Contains(oneSpaced(se), want) {
			t.Errorf("plan errors lack %q:\n%s", want, se)
		}
	}
	if code, so, se := e.run("apply", "-auto-approve", dir); code != 1 || !strings.Contains(se, "nothing was changed") {
		t.Fatalf("apply: exit %d\n%s\n%s", code, so, se)
	}
	if bs := strings.Join(e.rawBuckets(), ","); bs != "prune-empty,prune-full,prune-locked" {
		t.Fatalf("a refused prune changed the buckets: %s", bs)
	}
	if names, unf := full.versions(); len(names) != 5 || unf != 1 { // a.txt ×2, b.txt and its hide marker, big.bin (started)
		t.Fatalf("a refused prune deleted files: %v, %d unfinished", names, unf)
	}

	// The suggested route: declare it with force_destroy, destroy it with -target.
	if err := os.WriteFile(filepath.Join(dir, "gone.hcl"), []byte(`
bucket "prune_full" {
  name          = "prune-full"
  force_destroy = true
}
bucket "prune_locked" {
  name          = "prune-locked"
  force_destroy = true
  object_lock { enabled = true }
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, so, se = e.run("destroy", "-auto-approve", "-target=bucket.prune_full", dir)
	if code != 0 || !strings.Contains(so, "force_destroy deletes its 4 file versions and 1 unfinished large files first") {
		t.Fatalf("destroy -target=bucket.prune_full: %d\n%s\n%s", code, so, se)
	}
	code, so, se = e.run("destroy", "-auto-approve", "-target=bucket.prune_locked", dir)
	if code != 1 || !strings.Contains(se, "held.txt") || !strings.Contains(se, "legal hold on") {
		t.Fatalf("destroy of the locked bucket: %d\n%s\n%s", code, so, se)
	}
	if names, _ := locked.versions(); len(names) != 1 {
		t.Errorf("the refused destroy touched the locked bucket: %v", names)
	}
	// The block removed again, prune deletes the empty bucket (the locked one still stops the plan).
	os.Remove(filepath.Join(dir, "gone.hcl"))
	if bs := strings.Join(e.rawBuckets(), ","); bs != "prune-empty,prune-locked" {
		t.Fatalf("buckets after destroy -target: %s", bs)
	}
	code, so, se = e.run("plan", dir)
	if code != 1 || strings.Contains(se, "prune-full") || !strings.Contains(se, "prune-locked") {
		t.Errorf("plan after: %d\n%s\n%s", code, so, se)
	}
	code, so, se = e.run("apply", "-auto-approve", `-target=unmanaged.bucket["prune-empty"]`, dir)
	if code != 0 {
		t.Fatalf("apply -target of the empty bucket: %d\n%s\n%s", code, so, se)
	}
	if bs := strings.Join(e.rawBuckets(), ","); bs != "prune-locked" {
		t.Errorf("buckets at the end: %s", bs)
	}
}

// oneSpaced joins runs of white space (diagnostics are wrapped).
func oneSpaced(s string) string { return strings.Join(strings.Fields(s), " ") }
