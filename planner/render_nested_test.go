package planner

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/b2plan/b2plan/config"
	"github.com/b2plan/b2plan/live"
)

// renderShape plans one declared bucket against one live bucket and renders the plan.
func renderShape(t *testing.T, decl *config.Bucket, lb *live.Bucket, color bool) string {
	t.Helper()
	d := desired(func(d *config.Desired) { d.Buckets = []*config.Bucket{decl} })
	l := &live.Live{AccountID: "acct", ObservedBuckets: true}
	if lb != nil {
		l.Buckets = []live.Bucket{*lb}
	}
	p, diags := Compute(d, l, opts())
	if diags.HasErrors() {
		t.Fatal(errorsOf(diags))
	}
	var out bytes.Buffer
	if err := RenderHuman(&out, p, RenderOptions{Color: color}); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func lc(prefix string, hide, del int) live.LifecycleRule {
	return live.LifecycleRule{FileNamePrefix: prefix, DaysFromUploadingToHiding: hide, DaysFromHidingToDeleting: del}
}

func clc(prefix string, hide, del int) config.LifecycleRule {
	r := config.LifecycleRule{Prefix: prefix}
	if hide > 0 {
		r.DaysFromUploadingToHiding = ip(hide)
	}
	if del > 0 {
		r.DaysFromHidingToDeleting = ip(del)
	}
	return r
}

// TestNestedShapes: one golden file per shape of nested change, each read as a reviewer
// would: the changed value is on a line of its own, marked ~, with unchanged content folded.
func TestNestedShapes(t *testing.T) {
	base := func() (*config.Bucket, *live.Bucket) {
		lb := liveBucket("acme-b")
		return &config.Bucket{Address: "bucket.b", Name: "acme-b", Type: "allPrivate"}, &lb
	}
	cors := func(name string, origins ...string) config.CORSRule {
		return config.CORSRule{Name: name, AllowedOrigins: origins, AllowedOperations: []string{"b2_download_file_by_name", "s3_get"}, MaxAgeSeconds: 3600}
	}
	lcors := func(name string, origins ...string) live.CORSRule {
		return live.CORSRule{Name: name, AllowedOrigins: origins, AllowedOperations: []string{"b2_download_file_by_name", "s3_get"}, MaxAgeSeconds: 3600}
	}
	shapes := []struct {
		name string
		make func() (*config.Bucket, *live.Bucket)
		// want are lines the rendering must contain (checked besides the golden file).
		want []string
	}{
		{"lifecycle_days", func() (*config.Bucket, *live.Bucket) {
			d, l := base()
			d.LifecycleRules = []config.LifecycleRule{clc("", 0, 60), clc("logs/", 30, 1), clc("tmp/", 1, 1)}
			l.LifecycleRules = []live.LifecycleRule{lc("", 0, 30), lc("logs/", 30, 1), lc("tmp/", 1, 1)}
			return d, l
		}, []string{
			"      ~ lifecycle_rules = [\n          ~ {\n                prefix                       = \"\"\n              ~ days_from_hiding_to_deleting = 30 -> 60\n                # (2 unchanged attributes hidden)\n            },\n            # (2 unchanged elements hidden)\n        ]\n",
		}},
		{"lifecycle_add_remove", func() (*config.Bucket, *live.Bucket) {
			d, l := base()
			d.LifecycleRules = []config.LifecycleRule{clc("a/", 1, 0), clc("c/", 0, 7)}
			l.LifecycleRules = []live.LifecycleRule{lc("a/", 1, 0), lc("b/", 0, 3)}
			return d, l
		}, []string{"          - {\n              - prefix                       = \"b/\"\n", "          + {\n              + prefix                       = \"c/\"\n"}},
		{"cors_origins", func() (*config.Bucket, *live.Bucket) {
			d, l := base()
			d.CORSRules = []config.CORSRule{cors("assets", "https://a.example", "https://c.example"), cors("other", "*")}
			l.CORSRules = []live.CORSRule{lcors("assets", "https://a.example", "https://b.example"), lcors("other", "*")}
			return d, l
		}, []string{"              ~ allowed_origins = [\n                    \"https://a.example\",\n                  - \"https://b.example\",\n                  + \"https://c.example\",\n                ]\n"}},
		{"info_map", func() (*config.Bucket, *live.Bucket) {
			d, l := base()
			d.Info = map[string]string{"team": "web", "owner": "ops", "cost-center": "42", "tier": "gold", "added": "yes"}
			l.Info = map[string]string{"team": "web", "owner": "ops", "cost-center": "41", "tier": "gold", "gone": "x"}
			return d, l
		}, []string{"          + \"added\"       = \"yes\"\n", "          ~ \"cost-center\" = \"41\" -> \"42\"\n", "          - \"gone\"        = \"x\" -> null\n", "            # (3 unchanged elements hidden)\n"}},
		{"object_lock_retention", func() (*config.Bucket, *live.Bucket) {
			d, l := base()
			d.ObjectLock = &config.ObjectLock{Enabled: true, DefaultRetention: &config.Retention{Mode: "governance", Days: 30}}
			l.ObjectLock.Enabled = true
			return d, l
		}, []string{"      ~ object_lock     = {\n          + default_retention = {\n              + mode = \"governance\"\n              + days = 30\n            }\n            # (1 unchanged attribute hidden)\n"}},
		{"create_nested", func() (*config.Bucket, *live.Bucket) {
			d, _ := base()
			d.Info = map[string]string{"team": "web"}
			d.LifecycleRules = []config.LifecycleRule{clc("logs/", 30, 1)}
			d.CORSRules = []config.CORSRule{cors("assets", "*")}
			return d, nil
		}, []string{"      + cors_rules      = [\n          + {\n              + name               = \"assets\"\n"}},
	}
	for _, s := range shapes {
		t.Run(s.name, func(t *testing.T) {
			d, l := s.make()
			got := renderShape(t, d, l, false)
			golden(t, "nested_"+s.name+".golden", []byte(got))
			for _, w := range s.want {
				if !strings.Contains(got, w) {
					t.Errorf("missing:\n%s\nin:\n%s", w, got)
				}
			}
			colored := renderShape(t, d, l, true)
			if plain := regexp.MustCompile("\x1b\\[[0-9;]*m").ReplaceAllString(colored, ""); plain != got {
				t.Errorf("the coloured rendering differs from the plain one beyond colour:\n%s", colored)
			}
		})
	}
}

// TestLongListDiffedByElement: a long list shows its added and removed elements, one
// unchanged element of context around each, and folds the rest.
func TestLongListDiffedByElement(t *testing.T) {
	var b, a []string
	for i := 0; i < 40; i++ {
		b = append(b, fmt.Sprintf("%q", fmt.Sprintf("cap%02d", i)))
	}
	a = append(a, b[:10]...)
	a = append(a, `"cap10x"`)
	a = append(a, b[11:]...)
	var buf bytes.Buffer
	h := &hw{w: bufioWriter(&buf)}
	h.changedAttr(4, Attr{Name: "caps", Value: []byte("[" + strings.Join(b, ",") + "]")}, Attr{Name: "caps", Value: []byte("[" + strings.Join(a, ",") + "]")})
	_ = h.w.Flush()
	want := `      ~ caps = [
            # (9 unchanged elements hidden)
            "cap09",
          - "cap10",
          + "cap10x",
            "cap11",
            # (28 unchanged elements hidden)
        ]
`
	if buf.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", buf.String(), want)
	}
}

// TestNestedHostileValues: values a hostile plan file may hold render without panics and
// without unbounded recursion.
func TestNestedHostileValues(t *testing.T) {
	deep := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	for _, v := range []string{deep, `{"a":`, `[1,2`, `"x"`, `{}`, `[]`, `null`, `{"a":{"b":[{"c":null}]}}`, `[{"x":1},{"x":1},{"x":2}]`} {
		var buf bytes.Buffer
		h := &hw{w: bufioWriter(&buf)}
		h.attr("+", 4, Attr{Name: "info", Value: []byte(v)})
		h.changedAttr(4, Attr{Name: "info", Value: []byte(`{"a":[{"x":0}]}`)}, Attr{Name: "info", Value: []byte(v)})
		_ = h.w.Flush()
		if buf.Len() == 0 {
			t.Errorf("%.20s: no output", v)
		}
	}
}

func bufioWriter(w *bytes.Buffer) *bufio.Writer { return bufio.NewWriter(w) }

// TestPartlyKnownInfo: an info map with a value known only after apply (another new
// resource's id) shows its other elements, and that one as (known after apply).
func TestPartlyKnownInfo(t *testing.T) {
	d := desired(func(d *config.Desired) {
		d.Keys = []*config.Key{{Address: "key.ci", Name: "acme-ci", Capabilities: []string{"listBuckets"}, SecretFile: "/cfg/ci.env"}}
		d.Buckets = []*config.Bucket{{Address: "bucket.b", Name: "acme-b", Info: map[string]string{"team": "web", "ci": "key ${key.ci.id}"},
			Deferred: []config.Deferred{{Path: `info["ci"]`, Template: "key ${key.ci.id}", Refs: []string{"key.ci"}}}}}
	})
	for _, existing := range []bool{false, true} {
		l := &live.Live{AccountID: "acct", ObservedBuckets: true, ObservedKeys: true}
		want := "      + info            = {\n          + \"ci\"   = (known after apply)\n          + \"team\" = \"web\"\n        }\n"
		if existing {
			b := liveBucket("acme-b")
			b.Info = map[string]string{"team": "web", "ci": "key K-old"}
			l.Buckets = []live.Bucket{b}
			want = "      ~ info            = {\n          ~ \"ci\" = \"key K-old\" -> (known after apply)\n            # (1 unchanged element hidden)\n        }\n"
		}
		p, diags := Compute(d, l, opts())
		if diags.HasErrors() {
			t.Fatal(errorsOf(diags))
		}
		var out bytes.Buffer
		if err := RenderHuman(&out, p, RenderOptions{}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), want) || strings.Contains(out.String(), "${") {
			t.Errorf("existing=%v: want\n%s\nin:\n%s", existing, want, out.String())
		}
	}
}

// TestHugeObjectList: a list of objects too long for the element-by-element diff is diffed by
// set membership, still marking the added and removed elements.
func TestHugeObjectList(t *testing.T) {
	mk := func(n int, extra string) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = fmt.Sprintf(`{"name":"r%05d"}`, i)
		}
		if extra != "" {
			parts[n-1] = extra
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	var buf bytes.Buffer
	h := &hw{w: bufioWriter(&buf)}
	h.changedAttr(10, Attr{Name: "cors_rules", Value: []byte(mk(1500, ""))}, Attr{Name: "cors_rules", Value: []byte(mk(1500, `{"name":"zz"}`))})
	_ = h.w.Flush()
	out := buf.String()
	if !strings.Contains(out, "+ {\n") || !strings.Contains(out, `"zz"`) || !strings.Contains(out, `- {`) || !strings.Contains(out, "# (1499 unchanged elements hidden)") {
		t.Errorf("huge list diff:\n%s", out)
	}
}
