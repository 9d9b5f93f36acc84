package importer_test

import (
	"strings"
	"testing"
	"time"

	"github.com/b2plan/b2plan/config"
	"github.com/b2plan/b2plan/importer"
	"github.com/b2plan/b2plan/live"
)

// TestGenerateJoinsDeclared: with the configuration the output joins, what it declares is left
// out, its labels (for_each ones too) are not reused, new keys refer to its buckets by address
// (an instance address too), and the two together load and declare each name once.
func TestGenerateJoinsDeclared(t *testing.T) {
	existing := map[string][]byte{"/cfg/main.hcl": []byte(`
bucket "logs" {
  for_each = toset(["eu"])
  name     = "acme-logs-${each.key}"
}

bucket "acme_new" {
  name = "acme-other"
}
`)}
	declared, diags := config.LoadSources("/cfg", existing, config.VarInputs{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	ok := func(b live.Bucket) live.Bucket {
		b.Type, b.Encryption.Readable, b.ObjectLock.Readable = "allPrivate", true, true
		return b
	}
	l := &live.Live{
		Buckets: []live.Bucket{ok(live.Bucket{Name: "acme-logs-eu", ID: "b1"}), ok(live.Bucket{Name: "acme-new", ID: "b2"}), ok(live.Bucket{Name: "acme-other", ID: "b3"})},
		Keys:    []live.Key{{Name: "writer", ID: "k1", Capabilities: []string{"listBuckets", "listFiles"}, BucketIDs: []string{"b1", "b2"}}},
	}
	res, err := importer.Generate(l, importer.Options{Now: time.Now(), Declared: declared})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.AlreadyDeclared, ",") != "bucket acme-logs-eu,bucket acme-other" || strings.Join(res.Buckets, ",") != "acme-new" || len(res.Skipped) != 0 {
		t.Fatalf("result %+v\n%s", res, res.HCL)
	}
	for _, want := range []string{`bucket "acme_new_2" {`, `buckets = [bucket.logs["eu"].name, bucket.acme_new_2.name]`} {
		if !containsNorm(res.HCL, want) {
			t.Errorf("lacks %q:\n%s", want, res.HCL)
		}
	}
	existing["/cfg/imported.hcl"] = res.HCL
	all, diags := config.LoadSources("/cfg", existing, config.VarInputs{})
	if diags.HasErrors() {
		t.Fatalf("together: %v", diags)
	}
	if len(all.Buckets) != 3 || len(all.Keys) != 1 {
		t.Errorf("together: %d buckets, %d keys", len(all.Buckets), len(all.Keys))
	}
}
