package config

import (
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func TestDataSourcesTwoPasses(t *testing.T) {
	const src = `
locals { base = "acme" }
data "bucket" "legacy" { name = "${local.base}-legacy" }
data "account" "me" {}
key "r" {
  access      = "read-only"
  buckets     = [data.bucket.legacy.name]
  name_prefix = "${data.account.me.account_id}/"
}
bucket "m" {
  name = "acme-mirror"
  info = { src = data.bucket.legacy.id }
}
output "id" { value = data.bucket.legacy.id }
`
	d := load(t, src, VarInputs{}) // before reading: no errors, the lookups listed
	if len(d.DataSources) != 2 || d.DataSources[0].Address != "data.bucket.legacy" || d.DataSources[0].Name != "acme-legacy" ||
		d.DataSources[1].Kind != "account" {
		t.Fatalf("data sources: %+v %+v", d.DataSources[0], d.DataSources[1])
	}
	if len(d.Keys) != 1 || len(d.Keys[0].Buckets) != 1 || len(d.Outputs) != 0 {
		t.Fatalf("first pass: %+v outputs %d", d.Keys[0], len(d.Outputs))
	}
	vals := DataValues{
		"data.bucket.legacy": cty.ObjectVal(map[string]cty.Value{"id": cty.StringVal("B123"), "name": cty.StringVal("acme-legacy"),
			"type": cty.StringVal("allPrivate"), "info": cty.MapValEmpty(cty.String)}),
		"data.account.me": cty.ObjectVal(map[string]cty.Value{"account_id": cty.StringVal("ACC"), "key_id": cty.StringVal("K"),
			"capabilities": cty.ListValEmpty(cty.String), "buckets": cty.ListValEmpty(cty.String), "name_prefix": cty.StringVal("")}),
	}
	d = load(t, src, VarInputs{Data: vals})
	if d.Keys[0].NamePrefix != "ACC/" || d.Buckets[0].Info["src"] != "B123" || len(d.Outputs) != 1 || d.Outputs[0].Value.AsString() != "B123" {
		t.Fatalf("second pass: %+v %+v %+v", d.Keys[0], d.Buckets[0], d.Outputs)
	}
}

func TestDataSourceErrors(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"one label", `data "bucket" {}`, `main.hcl:1,1-5: Invalid data block`},
		{"unknown kind", `data "file" "x" {}`, `main.hcl:1,6-12: Unsupported data source`},
		{"missing name", `data "bucket" "x" {}`, `Missing required argument`},
		{"bad name", `data "bucket" "x" { name = "a_b" }`, `main.hcl:1,28-33: Invalid bucket name`},
		{"account takes nothing", `data "account" "x" { name = "y" }`, `Unsupported argument`},
		{"duplicate", `data "account" "x" {}
data "account" "x" {}`, `main.hcl:2,16-19: Duplicate address data.account.x`},
		{"undeclared", `output "o" { value = data.bucket.nope.id }`, `main.hcl:1,22-41: Reference to undeclared data source`},
		{"bare data", `output "o" { value = data.bucket }`, `Invalid reference`},
		{"sensitive name", `variable "v" {
  sensitive = true
  default   = "acme-hidden"
}
data "bucket" "x" { name = var.v }`, `main.hcl:5,28-33: Sensitive value not allowed here`},
		{"cycle", `data "bucket" "x" { name = bucket.b.name }
bucket "b" { name = "acme-${data.bucket.x.id}" }`, `Cycle in references`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := LoadSources("/cfg", map[string][]byte{"main.hcl": []byte(tt.src)}, VarInputs{})
			got := dump(diags)
			if !diags.HasErrors() || !strings.Contains(got, tt.want) {
				t.Fatalf("want %q in:\n%s", tt.want, got)
			}
		})
	}
}

func TestDataSourceForEach(t *testing.T) {
	const src = `
data "bucket" "old" {
  for_each = toset(["eu", "us"])
  name     = "acme-old-${each.key}"
}
key "r" {
  access      = "read-only"
  buckets     = [for b in data.bucket.old : b.name]
}
output "ids" { value = { for k, b in data.bucket.old : k => b.id } }
`
	d := load(t, src, VarInputs{})
	if len(d.DataSources) != 2 || d.DataSources[1].Address != `data.bucket.old["us"]` || d.DataSources[1].Name != "acme-old-us" {
		t.Fatalf("data sources: %+v", d.DataSources)
	}
	obj := func(id, name string) cty.Value {
		return cty.ObjectVal(map[string]cty.Value{"id": cty.StringVal(id), "name": cty.StringVal(name),
			"type": cty.StringVal("allPrivate"), "info": cty.MapValEmpty(cty.String)})
	}
	d = load(t, src, VarInputs{Data: DataValues{`data.bucket.old["eu"]`: obj("E", "acme-old-eu"), `data.bucket.old["us"]`: obj("U", "acme-old-us")}})
	if len(d.Keys[0].Buckets) != 2 || d.Outputs[0].Value.GetAttr("us").AsString() != "U" {
		t.Fatalf("second pass: %+v %#v", d.Keys[0], d.Outputs)
	}
}
