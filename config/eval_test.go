package config

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
)

func load(t *testing.T, src string, vars VarInputs) *Desired {
	t.Helper()
	d, diags := LoadSources("/cfg", map[string][]byte{"main.hcl": []byte(src)}, vars)
	if diags.HasErrors() {
		t.Fatalf("unexpected diagnostics:\n%s", dump(diags))
	}
	return d
}

func TestVariablePrecedence(t *testing.T) {
	const src = `
variable "env" {
  default = "default"
}
bucket "b" {
  name = "acme-${var.env}"
}
`
	dir := t.TempDir()
	vf1 := filepath.Join(dir, "one.hcl")
	vf2 := filepath.Join(dir, "two.hcl")
	os.WriteFile(vf1, []byte(`env = "file1"`), 0o644)
	os.WriteFile(vf2, []byte(`env = "file2"`), 0o644)
	tests := []struct {
		name string
		in   VarInputs
		want string
	}{
		{"default", VarInputs{}, "acme-default"},
		{"env", VarInputs{Env: []string{"B2PLAN_VAR_env=fromenv", "OTHER=x"}}, "acme-fromenv"},
		{"var-file beats env", VarInputs{Env: []string{"B2PLAN_VAR_env=fromenv"}, VarFiles: []string{vf1}}, "acme-file1"},
		{"later var-file wins", VarInputs{VarFiles: []string{vf1, vf2}}, "acme-file2"},
		{"-var beats all", VarInputs{Env: []string{"B2PLAN_VAR_env=fromenv"}, VarFiles: []string{vf1}, Vars: []string{"env=cli"}}, "acme-cli"},
		{"last -var wins", VarInputs{Vars: []string{"env=one", "env=two"}}, "acme-two"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := load(t, src, tt.in)
			if got := d.Buckets[0].Name; got != tt.want {
				t.Errorf("name = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTypedVariableFromCLI(t *testing.T) {
	d := load(t, `
variable "regions" {
  type = list(string)
}
variable "days" {
  type = number
}
bucket "logs" {
  for_each = toset(var.regions)
  name     = "acme-logs-${each.key}"
  lifecycle_rule {
    days_from_hiding_to_deleting = var.days
  }
}
`, VarInputs{Vars: []string{`regions=["eu","us"]`}, Env: []string{"B2PLAN_VAR_days=7"}})
	var got []string
	for _, b := range d.Buckets {
		got = append(got, b.Address+"="+b.Name+fmt.Sprintf("/%d", *b.LifecycleRules[0].DaysFromHidingToDeleting))
	}
	want := []string{`bucket.logs["eu"]=acme-logs-eu/7`, `bucket.logs["us"]=acme-logs-us/7`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Error(diff)
	}
}

func TestMissingVariableSaysHowToSetIt(t *testing.T) {
	_, diags := LoadSources("/cfg", map[string][]byte{"main.hcl": []byte(`variable "env" {}`)}, VarInputs{})
	if len(diags) != 1 || !strings.Contains(diags[0].Detail, "-var 'env=VALUE'") || !strings.Contains(diags[0].Detail, "B2PLAN_VAR_env") {
		t.Fatalf("got %s", dump(diags))
	}
}

func TestEvaluation(t *testing.T) {
	tests := []struct {
		name string
		src  string
		get  func(d *Desired) any
		want any
	}{
		{"locals and functions", `
locals {
  org  = upper("acme")
  envs = ["dev", "prod"]
}
bucket "b" {
  name = lower(format("%s-%s", local.org, join("-", local.envs)))
  info = merge({ A = "1" }, { b = tostring(length(local.envs)) }, { c = coalesce(null, "x") }, { j = jsonencode({ k = 1 }) })
}`, func(d *Desired) any { return []any{d.Buckets[0].Name, d.Buckets[0].Info} },
			[]any{"acme-dev-prod", map[string]string{"a": "1", "b": "2", "c": "x", "j": `{"k":1}`}}},
		{"name defaults to label", `
bucket "acme-assets" {}
key "ci" {
  access = "write-only"
}`, func(d *Desired) any {
			return []string{d.Buckets[0].Name, d.Keys[0].Name, strings.Join(d.Keys[0].Capabilities, ",")}
		},
			[]string{"acme-assets", "ci", strings.Join(AccessPresets["write-only"], ",")}},
		{"references between blocks", `
bucket "a" {
  name = "acme-a"
}
bucket "b" {
  name = "${bucket.a.name}-b"
}
folder "f" {
  bucket = bucket.b.name
  path   = "x/"
}
move "m" {
  bucket = folder.f.bucket
  from   = folder.f.path
  to     = "y/"
}`, func(d *Desired) any {
			return []string{d.Buckets[1].Name, d.Folders[0].Bucket, d.Moves[0].Bucket, d.Moves[0].From, d.Moves[0].ToBucket}
		},
			[]string{"acme-a-b", "acme-a-b", "acme-a-b", "x/", "acme-a-b"}},
		{"for_each map with each.value", `
key "ci" {
  for_each = { dev = "read-write", prod = "read-only" }
  name     = "acme-ci-${each.key}"
  access   = each.value
}`, func(d *Desired) any {
			var out []string
			for _, k := range d.Keys {
				out = append(out, k.Address+" "+k.Name+" "+k.Access)
			}
			return out
		}, []string{`key.ci["dev"] acme-ci-dev read-write`, `key.ci["prod"] acme-ci-prod read-only`}},
		{"reference into for_each instance", `
bucket "logs" {
  for_each = toset(["eu", "us"])
  name     = "acme-logs-${each.key}"
}
folder "f" {
  bucket = bucket.logs["us"].name
  path   = "x/"
}`, func(d *Desired) any { return d.Folders[0].Bucket }, "acme-logs-us"},
		{"durations and defaults", `
key "k" {
  capabilities = ["readFiles", "listFiles", "readFiles"]
  duration     = "1d12h"
  renew_before = "90m"
  secret_file  = "s/k.env"
}
move "m" {
  bucket = "acme-assets"
  from   = "a/"
  to     = "b/"
}`, func(d *Desired) any {
			k, m := d.Keys[0], d.Moves[0]
			return []any{k.Capabilities, k.Access, k.Duration, k.RenewBefore, k.SecretFile, m.Versions, m.Source, m.OnConflict}
		}, []any{[]string{"listFiles", "readFiles"}, "", 36 * time.Hour, 90 * time.Minute, "/cfg/s/k.env", "latest", "delete", "fail"}},
		{"keep_only_last_version", `
bucket "b" {
  name                   = "acme-b"
  keep_only_last_version = true
}`, func(d *Desired) any {
			r := d.Buckets[0].LifecycleRules[0]
			return []any{len(d.Buckets[0].LifecycleRules), r.Prefix, *r.DaysFromHidingToDeleting, r.DaysFromUploadingToHiding == nil}
		}, []any{1, "", 1, true}},
		{"object lock", `
bucket "b" {
  name = "acme-b"
  object_lock {
    default_retention {
      mode  = "compliance"
      years = 2
    }
  }
}`, func(d *Desired) any { ol := d.Buckets[0].ObjectLock; return []any{ol.Enabled, *ol.DefaultRetention} },
			[]any{true, Retention{Mode: "compliance", Years: 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := load(t, tt.src, VarInputs{})
			if diff := cmp.Diff(tt.want, tt.get(d)); diff != "" {
				t.Errorf("-want +got:\n%s", diff)
			}
		})
	}
}

func TestUnknownIDsAreDeferred(t *testing.T) {
	d := load(t, `
bucket "a" {
  name = "acme-a"
}
bucket "b" {
  name = "acme-b"
  info = {
    Peer  = bucket.a.id
    Plain = "x"
  }
}
key "k" {
  access      = "read-only"
  name_prefix = "ids/${bucket.a.id}/${key.other.id}/"
}
key "other" {
  access = "read-only"
}
`, VarInputs{})
	b := d.Buckets[1]
	if b.Info["plain"] != "x" || b.Info["peer"] != "${bucket.a.id}" {
		t.Errorf("info = %v", b.Info)
	}
	want := []Deferred{{Path: `info["peer"]`, Template: "${bucket.a.id}", Refs: []string{"bucket.a"}}}
	if diff := cmp.Diff(want, b.Deferred, cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Range" }, cmp.Ignore())); diff != "" {
		t.Error(diff)
	}
	k := d.Keys[0]
	dk, ok := DeferredAt(k.Deferred, "name_prefix")
	if !ok || dk.Template != "ids/${bucket.a.id}/${key.other.id}/" || k.NamePrefix != dk.Template {
		t.Fatalf("deferred = %+v, prefix %q", k.Deferred, k.NamePrefix)
	}
	got, err := dk.Resolve(map[string]string{"bucket.a": "4a48fe8875c6214145260818", "key.other": "K1"})
	if err != nil || got != "ids/4a48fe8875c6214145260818/K1/" {
		t.Errorf("Resolve = %q, %v", got, err)
	}
	if _, err := dk.Resolve(map[string]string{"bucket.a": "x"}); err == nil {
		t.Error("Resolve with a missing id succeeded")
	}
	if len(d.Buckets[0].Deferred) != 0 {
		t.Error("bucket.a has deferred values")
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := NewSecret("K005topsecret")
	p := Provider{ApplicationKey: s}
	j, _ := json.Marshal(p)
	for _, out := range []string{s.String(), fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s %q", p, p, p, s, s), string(j)} {
		if strings.Contains(out, "topsecret") {
			t.Errorf("secret leaked: %s", out)
		}
	}
	if s.Reveal() != "K005topsecret" {
		t.Error("Reveal")
	}
}

func TestAccessPresetsAreBucketSafe(t *testing.T) {
	for name, caps := range AccessPresets {
		for _, c := range caps {
			if !inList(Capabilities, c) || !inList(BucketRestrictedCapabilities, c) {
				t.Errorf("%s: %s is not a bucket-restricted capability", name, c)
			}
		}
	}
	if len(Capabilities) != 26 {
		t.Errorf("%d capabilities", len(Capabilities))
	}
}

func TestOneRunReportsEverything(t *testing.T) {
	_, diags := LoadSources("/cfg", map[string][]byte{
		"a.hcl": []byte("bucket \"x\" {\n  name = \"ab\"\n}\n"),
		"b.hcl": []byte("key \"k\" {\n  access = \"all\"\n}\nfolder \"f\" {\n  bucket = \"acme-a\"\n  path = \"p\"\n}\n"),
	}, VarInputs{})
	var got []string
	for _, d := range diags {
		got = append(got, fmt.Sprintf("%s:%d %s", d.Subject.Filename, d.Subject.Start.Line, d.Summary))
	}
	want := []string{"a.hcl:2 Invalid bucket name", "b.hcl:2 Invalid access preset", "b.hcl:6 Invalid folder path"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Error(diff)
	}
	_ = hcl.DiagError
}
