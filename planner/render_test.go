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
				Duration: 720 * time.Hour},
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
	if err := RenderJSON(&js, p); err != nil {
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
	_ = RenderJSON(&js, got)
	if bytes.Contains(js.Bytes(), []byte("super-secret")) {
		t.Fatal("JSON plan holds the provider secret")
	}

	// Unknown major version.
	bad := append([]byte(nil), raw...)
	bad[len(fileMagic)] = 9
	if _, err := Decode(bytes.NewReader(bad)); err == nil || !bytes.Contains([]byte(err.Error()), []byte("not supported")) {
		t.Errorf("major version 9: %v", err)
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
		_ = RenderJSON(&sink, p)
	})
}
