package executor_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/b2plan/b2plan/emulator"
	"github.com/b2plan/b2plan/executor"
	"github.com/b2plan/b2plan/live"
	"github.com/b2plan/b2plan/planner"
)

const largeObjectHCL = `
bucket "b" {
  name = "objects-large"
}
object "blob" {
  bucket = bucket.b.name
  name   = "blob.bin"
  source = "blob.bin"
}
`

// TestObjectLargeUpload: an object above the part size is uploaded as a large file in parts;
// an independent download has the declared SHA-1, and a re-plan is empty. A source changed
// after the plan is not uploaded.
func TestObjectLargeUpload(t *testing.T) {
	e := newEnv(t, emulator.Options{AbsoluteMinimumPartSize: 100, RecommendedPartSize: 1000})
	data := bytes.Repeat([]byte("0123456789abcdef"), 220) // 3,520 bytes: 4 parts of 1,000
	os.WriteFile(filepath.Join(e.dir, "blob.bin"), data, 0o644)
	p := e.plan(largeObjectHCL)
	res := e.mustApply(p, executor.Options{PartSize: 1000})
	if res.Added != 2 {
		t.Fatalf("added %d, want 2", res.Added)
	}
	vs := e.versions("objects-large", "blob.bin")
	if len(vs) != 1 || vs[0].Info["large_file_sha1"] != sha(string(data)) || vs[0].Size != int64(len(data)) {
		t.Fatalf("live versions: %+v", vs)
	}
	got, err := e.m.HashVersion(context.Background(), vs[0].ID, "blob.bin") // downloads and hashes
	if err != nil || hex.EncodeToString(got.SHA1[:]) != sha(string(data)) || got.Size != int64(len(data)) {
		t.Fatalf("download: %+v %v", got, err)
	}
	if p := e.plan(largeObjectHCL); p.HasChanges() {
		t.Fatalf("re-plan not empty: %v", p.Changes)
	}

	// Changed after the plan: refused, nothing uploaded.
	os.WriteFile(filepath.Join(e.dir, "blob.bin"), append(data, 'x'), 0o644)
	p = e.plan(largeObjectHCL)
	os.WriteFile(filepath.Join(e.dir, "blob.bin"), append(data, 'y'), 0o644)
	res, err = e.apply(p, executor.Options{PartSize: 1000}, nil)
	if err == nil || len(res.Failures) != 1 || !strings.Contains(res.Failures[0].Err.Error(), "changed since the plan") {
		t.Fatalf("apply of a changed source: %v %+v", err, res.Failures)
	}
	if vs := e.versions("objects-large", "blob.bin"); len(vs) != 1 {
		t.Errorf("versions after a refused upload: %d", len(vs))
	}
	var ch *planner.Change
	for _, c := range p.Changes {
		if c.Address == "object.blob" {
			ch = c
		}
	}
	if ch == nil || ch.Action != planner.Update {
		t.Errorf("plan of a changed source: %+v", ch)
	}
}

// TestObjectLargeUploadFaults: with 30% of calls failing (503), a large object's parts are
// retried (each with a new part URL) and the file finishes with the declared SHA-1; no
// unfinished large file is left behind.
func TestObjectLargeUploadFaults(t *testing.T) {
	e := newEnv(t, emulator.Options{AbsoluteMinimumPartSize: 100, RecommendedPartSize: 500, FailRate: 0.3, Seed: 15})
	data := bytes.Repeat([]byte("fault-tolerant!\n"), 400) // 6,400 bytes: 13 parts of 500
	os.WriteFile(filepath.Join(e.dir, "blob.bin"), data, 0o644)
	e.mustApply(e.plan(largeObjectHCL), executor.Options{PartSize: 500})
	vs := e.versions("objects-large", "")
	var files, started int
	for _, v := range vs {
		if v.Action == live.ActionStart {
			started++
			continue
		}
		files++
		if v.Name != "blob.bin" || v.SHA1Hex() != sha(string(data)) {
			t.Errorf("version %s: SHA-1 %s", v.Name, v.SHA1Hex())
		}
	}
	if files != 1 || started != 0 {
		t.Errorf("%d files, %d unfinished large files; want 1 and 0", files, started)
	}
	if st := e.stats(); st.Faults == 0 {
		t.Errorf("no fault was injected: %+v", st)
	}
}

// TestObjectReplaceKeepsEarlierVersions: -replace of an unchanged object uploads one more
// version and deletes none: the version the plan saw holds the same content, and the
// duplicate cleanup after an upload (settleUpload) must tell it from a copy left by a
// retried upload. A large file's info carries large_file_sha1 and an auto content type is
// resolved by B2: neither makes the earlier version a "copy".
func TestObjectReplaceKeepsEarlierVersions(t *testing.T) {
	for _, tc := range []struct {
		name, hcl string
		data      []byte
	}{
		{"large", largeObjectHCL, bytes.Repeat([]byte("0123456789abcdef"), 220)},
		{"small auto content type", strings.ReplaceAll(largeObjectHCL, `source = "blob.bin"`, `source = "blob.bin"
  content_type = "b2/x-auto"`), []byte("small content\n")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, emulator.Options{AbsoluteMinimumPartSize: 100, RecommendedPartSize: 1000})
			os.WriteFile(filepath.Join(e.dir, "blob.bin"), tc.data, 0o644)
			e.mustApply(e.plan(tc.hcl), executor.Options{PartSize: 1000})
			first := e.versions("objects-large", "blob.bin")
			if len(first) != 1 {
				t.Fatalf("after the first apply: %+v", first)
			}
			e.replace = []string{"object.blob"}
			for round := 2; round <= 3; round++ {
				p := e.plan(tc.hcl)
				res := e.mustApply(p, executor.Options{PartSize: 1000})
				if res.Changed != 1 {
					t.Fatalf("round %d: changed %d, want 1", round, res.Changed)
				}
				vs := e.versions("objects-large", "blob.bin")
				if len(vs) != round || vs[len(vs)-1].ID != first[0].ID {
					t.Fatalf("round %d: %d versions (want %d, the first one kept): %+v", round, len(vs), round, vs)
				}
				for _, v := range vs {
					if v.Size != int64(len(tc.data)) {
						t.Errorf("round %d: version %s has %d bytes", round, v.ID, v.Size)
					}
				}
			}
		})
	}
}
