package planner

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/b2plan/b2plan/config"
	"github.com/b2plan/b2plan/live"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// compositePlan exercises every section of the renderings.
func compositePlan(t testing.TB) *Plan {
	d := desired(func(d *config.Desired) {
		d.Settings.OwnsBuckets = []string{"acme-*"}
		d.Settings.OwnsKeys = []string{"acme-*"}
		d.Settings.Prune = true
		d.Provider.ApplicationKey = config.NewSecret("K005-super-secret-provider-key")
		d.Buckets = []*config.Bucket{
			{Address: "bucket.assets", Name: "acme-assets", Type: "allPublic", Info: map[string]string{"team": "web"}, ObjectLock: &config.ObjectLock{Enabled: true}},
			{Address: `bucket.logs["eu"]`, Name: "acme-logs-eu", Type: "allPrivate", Encryption: "SSE-B2",
				LifecycleRules: []config.LifecycleRule{{Prefix: "", DaysFromHidingToDeleting: ip(1)}},
				Info:           map[string]string{"peer": "${bucket.assets.id}"},
				Deferred:       []config.Deferred{{Path: `info["peer"]`, Template: "${bucket.assets.id}", Refs: []string{"bucket.assets"}}}},
		}
		d.Keys = []*config.Key{
			{Address: "key.ci", Name: "acme-ci", Capabilities: []string{"listBuckets", "listFiles", "readFiles", "writeFiles"},
				Buckets: []string{"acme-assets"}, SecretFile: "/cfg/secrets/ci.env"},
			{Address: "key.new", Name: "acme-new", Capabilities: []string{"listBuckets"}, SecretFile: "/cfg/secrets/new.env",
				Duration: 720 * time.Hour, Buckets: []string{"acme-logs-eu"}}, // a bucket this plan creates
			{Address: "key.admin", Name: "acme-admin", SecretFile: "/cfg/secrets/admin.env", Capabilities: []string{
				"deleteFiles", "listBuckets", "listFiles", "readBucketEncryption", "readBuckets", "readFiles", "shareFiles", "writeFiles"}},
		}
		d.Folders = []*config.Folder{{Address: "folder.builds", Bucket: "acme-assets", Path: "builds/"}}
		d.Moves = []*config.Move{{Address: "move.archive", Bucket: "acme-assets", From: "incoming/", To: "archive/", OnConflict: "skip"}}
	})
	assets := liveBucket("acme-assets")
	assets.Info = map[string]string{"Team": "web"}
	old := liveBucket("acme-old")
	locked := ver("incoming/locked", "f-locked", 10, 7)
	locked.LegalHold = live.LegalHoldOn
	assets.ObjectLock.Enabled = true
	var vs []live.Version
	vs = append(vs, ver("archive/dup", "c-dup", 4, 9))
	for i := 0; i < 14; i++ {
		vs = append(vs, ver(fmt.Sprintf("incoming/f%02d", i), fmt.Sprintf("f%02d", i), int64(1000*i), byte(i+1)))
	}
	vs = append(vs, ver("incoming/dup", "f-dup", 4, 8), hide("incoming/gone", "h-gone"), locked)
	sortVersions(vs)
	l := &live.Live{AccountID: "acct", ObservedBuckets: true, ObservedKeys: true,
		Buckets: []live.Bucket{assets, old},
		Keys:    []live.Key{{Name: "acme-ci", ID: "K1", Capabilities: []string{"listBuckets", "readFiles"}}, {Name: "acme-stale", ID: "K9"}},
		Listings: []live.Listing{{BucketName: "acme-assets", BucketID: assets.ID, Versions: vs,
			Unfinished: []live.Version{{Name: "incoming/big.iso", ID: "u1", Action: live.ActionStart, Uploaded: now.UnixMilli()}}},
			{BucketName: "acme-old", BucketID: old.ID}},
	}
	p, diags := Compute(d, l, opts())
	if diags.HasErrors() {
		for _, d := range diags {
			t.Error(d.Summary, d.Detail)
		}
		t.FailNow()
	}
	return p
}

func sortVersions(vs []live.Version) {
	for i := 1; i < len(vs); i++ {
		for j := i; j > 0 && vs[j].Name < vs[j-1].Name; j-- {
			vs[j], vs[j-1] = vs[j-1], vs[j]
		}
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./planner -update)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", name, diff)
	}
}

func TestGoldenRenderings(t *testing.T) {
	p := compositePlan(t)
	var human, color, js bytes.Buffer
	if err := RenderHuman(&human, p, RenderOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := RenderHuman(&color, p, RenderOptions{Color: true}); err != nil {
		t.Fatal(err)
	}
	if err := RenderJSON(&js, p, DocOptions{ToolVersion: "test"}); err != nil {
		t.Fatal(err)
	}
	golden(t, "plan.golden", human.Bytes())
	golden(t, "plan_color.golden", color.Bytes())
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, js.Bytes(), "", "  "); err != nil {
		t.Fatal(err)
	}
	golden(t, "plan_json.golden", pretty.Bytes())
	if bytes.Contains(human.Bytes(), []byte("\x1b[")) {
		t.Error("colour without Color")
	}

	// An empty plan.
	var empty bytes.Buffer
	ep, _ := Compute(desired(nil), &live.Live{}, opts())
	if err := RenderHuman(&empty, ep, RenderOptions{}); err != nil {
		t.Fatal(err)
	}
	golden(t, "empty.golden", empty.Bytes())
	if ep.HasChanges() {
		t.Error("empty plan has changes")
	}
}

func TestPlanFileRoundTrip(t *testing.T) {
	p := compositePlan(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "p.b2plan")
	if err := WriteFile(path, p); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("super-secret")) {
		t.Fatal("plan file holds the provider secret")
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode())
	}
	got, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The file keeps only the versions the operations refer to.
	if diff := cmp.Diff(opsOf(p.Moves[0]), opsOf(got.Moves[0])); diff != "" {
		t.Errorf("ops (-want +got):\n%s", diff)
	}
	want := *p
	want.Moves = nil
	got2 := *got
	got2.Moves = nil
	if diff := cmp.Diff(&want, &got2, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("plan (-want +got):\n%s", diff)
	}
	var a, b bytes.Buffer
	_ = RenderHuman(&a, p, RenderOptions{})
	_ = RenderHuman(&b, got, RenderOptions{})
	if diff := cmp.Diff(a.String(), b.String()); diff != "" {
		t.Errorf("rendering differs after round trip:\n%s", diff)
	}
	// Decrypting the gzip body must not show the secret either.
	var js bytes.Buffer
	_ = RenderJSON(&js, got, DocOptions{ToolVersion: "test"})
	if bytes.Contains(js.Bytes(), []byte("super-secret")) {
		t.Fatal("JSON plan holds the provider secret")
	}

	// Unknown major version.
	bad := append([]byte(nil), raw...)
	bad[len(fileMagic)] = 9
	if _, err := Decode(bytes.NewReader(bad)); err == nil || !bytes.Contains([]byte(err.Error()), []byte("not supported")) {
		t.Errorf("major version 9: %v", err)
	}
	// Newer minor version: refused (it may carry work this reader would skip).
	bad[len(fileMagic)], bad[len(fileMagic)+1] = FileMajor, FileMinor+1
	if _, err := Decode(bytes.NewReader(bad)); err == nil || !bytes.Contains([]byte(err.Error()), []byte("newer b2plan")) {
		t.Errorf("minor version %d: %v", FileMinor+1, err)
	}
	if _, err := Decode(bytes.NewReader([]byte("hello"))); err != ErrNotPlanFile {
		t.Errorf("garbage: %v", err)
	}
}

func FuzzPlanFile(f *testing.F) {
	var buf bytes.Buffer
	if err := Encode(&buf, compositePlan(f)); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte(fileMagic + "\x01\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Decode(bytes.NewReader(data))
		if err != nil {
			return
		}
		// Whatever decodes must encode and decode to the same plan.
		var out bytes.Buffer
		if err := Encode(&out, p); err != nil {
			t.Fatal(err)
		}
		q, err := Decode(bytes.NewReader(out.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(p, q, cmpopts.EquateEmpty(), cmp.AllowUnexported(live.Interner{}), cmpopts.IgnoreUnexported(live.Interner{})); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
		var sink bytes.Buffer
		_ = RenderHuman(&sink, p, RenderOptions{})
		_ = RenderJSON(&sink, p, DocOptions{ToolVersion: "test"})
	})
}

// TestPlanFileMinorVersions: 1.1 adds the copy limits to the header; a 1.0
// file (without them) still decodes and means B2's defaults.
func TestPlanFileMinorVersions(t *testing.T) {
	d := desired(func(d *config.Desired) {
		d.Moves = []*config.Move{{Address: "move.m", Bucket: "acme-src", From: "a/", To: "b/"}}
	})
	b := liveBucket("acme-src")
	l := &live.Live{Buckets: []live.Bucket{b}, Listings: []live.Listing{{BucketName: "acme-src", BucketID: b.ID,
		Versions: []live.Version{ver("a/big", "f1", 25_000, 1), ver("a/small", "f2", 10_000, 2)}}}}
	o := opts()
	o.MaxCopyFileSize, o.PartSize = 10_000, 6_000
	p, diags := Compute(d, l, o)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	var buf bytes.Buffer
	if err := Encode(&buf, p); err != nil {
		t.Fatal(err)
	}
	raw := buf.Bytes()
	if raw[len(fileMagic)] != 1 || raw[len(fileMagic)+1] != FileMinor {
		t.Fatalf("format %d.%d, want 1.%d", raw[len(fileMagic)], raw[len(fileMagic)+1], FileMinor)
	}
	got, err := Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if lim := got.CopyLimits(); lim != (CopyLimits{MaxCopyFileSize: 10_000, PartSize: 6_000}) {
		t.Errorf("1.1 limits = %+v", lim)
	}
	if diff := cmp.Diff([]string{"copy-large a/big(f1) -> b/big parts=5", "delete a/big(f1)",
		"copy a/small(f2) -> b/small", "delete a/small(f2)"}, opsOf(got.Moves[0])); diff != "" {
		t.Errorf("ops (-want +got):\n%s", diff)
	}

	// A 1.0 file: no limits in the header.
	old := *p
	old.MaxCopyFileSize, old.PartSize = 0, 0
	buf.Reset()
	if err := Encode(&buf, &old); err != nil {
		t.Fatal(err)
	}
	raw = buf.Bytes()
	raw[len(fileMagic)+1] = 0
	got, err = Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("1.0 file: %v", err)
	}
	if lim := got.CopyLimits(); lim != (CopyLimits{MaxCopyFileSize: MaxCopyFileSize, PartSize: RecommendedPartSize}) {
		t.Errorf("1.0 limits = %+v, want B2's defaults", lim)
	}
	if len(got.Moves) != 1 || len(got.Moves[0].Ops) != 4 {
		t.Errorf("1.0 file moves: %+v", got.Moves)
	}
}

// A key restricted to a bucket this plan creates shows the bucket's name:
// only its id is unknown before apply.
func TestKeyOnPlannedBucketShowsNames(t *testing.T) {
	for _, live0 := range []bool{false, true} {
		d := desired(func(d *config.Desired) {
			d.Buckets = []*config.Bucket{{Address: "bucket.assets", Name: "quickstart-assets"}}
			d.Keys = []*config.Key{{Address: "key.ci", Name: "acme-ci", Capabilities: []string{"listBuckets"},
				Buckets: []string{"quickstart-assets"}, SecretFile: "/cfg/ci.env"}}
		})
		l := &live.Live{ObservedBuckets: true, ObservedKeys: true}
		want := "create key.ci"
		if live0 {
			l.Keys = []live.Key{{Name: "acme-ci", ID: "K1", Capabilities: []string{"listBuckets"}, BucketIDs: []string{"gone"}}}
			want = "replace key.ci [buckets]"
		}
		p, diags := Compute(d, l, opts())
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		if got := summary(p); len(got) != 2 || got[1] != want {
			t.Fatalf("plan %v, want %s", got, want)
		}
		var human bytes.Buffer
		if err := RenderHuman(&human, p, RenderOptions{}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(human.Bytes(), []byte(`["quickstart-assets"]`)) || bytes.Contains(human.Bytes(), []byte("buckets      = (known")) {
			t.Errorf("human plan:\n%s", human.String())
		}
		var js bytes.Buffer
		if err := RenderJSON(&js, p, DocOptions{ToolVersion: "test"}); err != nil {
			t.Fatal(err)
		}
		var doc struct {
			ResourceChanges []struct {
				Address string `json:"address"`
				Change  struct {
					After        map[string]json.RawMessage `json:"after"`
					AfterUnknown map[string]bool            `json:"after_unknown"`
				} `json:"change"`
			} `json:"resource_changes"`
		}
		if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		rc := doc.ResourceChanges[1]
		if rc.Address != "key.ci" || string(rc.Change.After["buckets"]) != `["quickstart-assets"]` || rc.Change.AfterUnknown["buckets"] || !rc.Change.AfterUnknown["key_id"] {
			t.Errorf("JSON %s: after.buckets %s, after_unknown %v", rc.Address, rc.Change.After["buckets"], rc.Change.AfterUnknown)
		}
	}
}

func TestListDiff(t *testing.T) {
	got := listDiff([]string{`"a"`, `"c"`, `"d"`}, []string{`"a"`, `"b"`, `"d"`, `"e"`})
	want := []elemDiff{{' ', `"a"`}, {'+', `"b"`}, {'-', `"c"`}, {' ', `"d"`}, {'+', `"e"`}}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(elemDiff{})); diff != "" {
		t.Errorf("sorted (-want +got):\n%s", diff)
	}
	got = listDiff([]string{`"z"`, `"a"`}, []string{`"b"`, `"z"`})
	want = []elemDiff{{'+', `"b"`}, {' ', `"z"`}, {'-', `"a"`}}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(elemDiff{})); diff != "" {
		t.Errorf("unsorted (-want +got):\n%s", diff)
	}
}
