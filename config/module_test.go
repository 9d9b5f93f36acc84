package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var moduleTree = map[string]string{
	"main.hcl": `
module "site" {
  for_each = toset(["a", "b"])
  source   = "./modules/site"
  name     = "acme-${each.key}"
}
output "ids" {
  value = { for k, m in module.site : k => m.bucket_id }
}
output "peer" {
  value = module.site["a"].log_peer
}
output "names" {
  value = sort([for m in module.site : m.bucket_name])
}
`,
	"modules/site/main.hcl": `
variable "name" {
  type = string
}
bucket "assets" {
  name = "${var.name}-assets"
}
key "reader" {
  name        = "${var.name}-reader"
  access      = "read-only"
  buckets     = [bucket.assets.name]
  secret_file = "${var.name}.env"
}
module "logs" {
  source = "../logs"
  bucket = bucket.assets.name
  id     = bucket.assets.id
}
output "bucket_name" { value = bucket.assets.name }
output "bucket_id"   { value = bucket.assets.id }
output "log_peer"    { value = module.logs.peer }
`,
	"modules/logs/main.hcl": `
variable "bucket" {}
variable "id" {}
variable "path" {
  default = "incoming/"
}
bucket "logs" {
  name = "${var.bucket}-logs"
  info = { peer = var.id }
}
folder "in" {
  bucket = bucket.logs.name
  path   = var.path
}
output "peer" { value = "peer=${var.id}" }
`,
}

func TestModulesNestedForEach(t *testing.T) {
	dir := writeTree(t, moduleTree)
	d, diags := Load(dir, VarInputs{})
	if diags.HasErrors() {
		t.Fatal(dump(diags))
	}
	var addrs []string
	for _, b := range d.Buckets {
		addrs = append(addrs, b.Address+"="+b.Name)
	}
	want := `module.site["a"].bucket.assets=acme-a-assets module.site["a"].module.logs.bucket.logs=acme-a-assets-logs ` +
		`module.site["b"].bucket.assets=acme-b-assets module.site["b"].module.logs.bucket.logs=acme-b-assets-logs`
	if got := strings.Join(addrs, " "); got != want {
		t.Errorf("buckets:\n%s\nwant\n%s", got, want)
	}
	logs := d.Buckets[1]
	if dv, ok := DeferredAt(logs.Deferred, `info["peer"]`); !ok || dv.Template != `${module.site["a"].bucket.assets.id}` ||
		strings.Join(dv.Refs, ",") != `module.site["a"].bucket.assets` {
		t.Errorf("deferred: %+v", logs.Deferred)
	}
	if len(d.Keys) != 2 || d.Keys[0].Address != `module.site["a"].key.reader` || d.Keys[0].Buckets[0] != "acme-a-assets" ||
		d.Keys[0].SecretFile != filepath.Join(dir, "acme-a.env") {
		t.Errorf("keys: %+v", d.Keys[0])
	}
	if len(d.Folders) != 2 || d.Folders[1].Address != `module.site["b"].module.logs.folder.in` || d.Folders[1].Bucket != "acme-b-assets-logs" {
		t.Errorf("folders: %+v", d.Folders)
	}
	outs := map[string]*Output{}
	for _, o := range d.Outputs {
		outs[o.Name] = o
	}
	if o := outs["ids"]; o == nil || o.Value.GetAttr("b").AsString() != `${module.site["b"].bucket.assets.id}` || len(o.Refs) != 2 {
		t.Errorf("ids: %+v", o)
	}
	if o := outs["peer"]; o == nil || o.Value.AsString() != `peer=${module.site["a"].bucket.assets.id}` {
		t.Errorf("peer: %+v", o)
	}
	if o := outs["names"]; o == nil || o.Value.LengthInt() != 2 || len(o.Refs) != 0 {
		t.Errorf("names: %+v", o)
	}
}

func TestModuleErrors(t *testing.T) {
	deep := map[string]string{"main.hcl": `module "m" { source = "./m0" }`}
	for i := 0; i < 12; i++ {
		deep[fmt.Sprintf("m%d/main.hcl", i)] = fmt.Sprintf(`module "m" { source = "../m%d" }`, i+1)
	}
	deep["m12/main.hcl"] = `locals { x = 1 }`
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"cycle", map[string]string{
			"main.hcl":   `module "a" { source = "./a" }`,
			"a/main.hcl": `module "b" { source = "../b" }`,
			"b/main.hcl": `module "a" { source = "../a" }`,
		}, `b/main.hcl:1,23-29: Module cycle`},
		{"self", map[string]string{"main.hcl": `module "me" { source = "./" }`}, `main.hcl:1,24-28: Module cycle`},
		{"too deep", deep, `Modules nested too deeply`},
		{"registry", map[string]string{"main.hcl": `module "s3" { source = "terraform-aws-modules/s3-bucket/aws" }`}, `main.hcl:1,24-61: Unsupported module source`},
		{"git", map[string]string{"main.hcl": `module "g" { source = "git::https://example.com/m.git" }`}, `Unsupported module source`},
		{"missing dir", map[string]string{"main.hcl": `module "g" { source = "./nope" }`}, `main.hcl:1,23-31: Cannot load module`},
		{"missing arg", map[string]string{
			"main.hcl":   `module "a" { source = "./a" }`,
			"a/main.hcl": `variable "name" {}`,
		}, `main.hcl:1,1-11: Missing required argument`},
		{"unknown arg", map[string]string{
			"main.hcl":   "module \"a\" {\n  source = \"./a\"\n  nmae = \"x\"\n}",
			"a/main.hcl": `variable "name" { default = "y" }`,
		}, `main.hcl:3,3-7: Unsupported argument`},
		{"wrong type", map[string]string{
			"main.hcl":   "module \"a\" {\n  source = \"./a\"\n  n = [1]\n}",
			"a/main.hcl": `variable "n" { type = number }`,
		}, `main.hcl:3,7-10: Invalid value for variable`},
		{"provider in module", map[string]string{
			"main.hcl":   `module "a" { source = "./a" }`,
			"a/main.hcl": `provider "b2" {}`,
		}, `a/main.hcl:1,1-9: Unsupported block in a module`},
		{"undeclared module", map[string]string{"main.hcl": `output "o" { value = module.nope.x }`}, `main.hcl:1,22-35: Reference to undeclared module`},
		{"unknown output", map[string]string{
			"main.hcl":   "module \"a\" { source = \"./a\" }\noutput \"o\" { value = module.a.nope }",
			"a/main.hcl": `output "x" { value = 1 }`,
		}, `Unsupported attribute`},
		{"count", map[string]string{
			"main.hcl":   "module \"a\" {\n  source = \"./a\"\n  count = 2\n}",
			"a/main.hcl": `locals {}`,
		}, `main.hcl:3,3-8: Unsupported argument in module block`},
		{"error inside module", map[string]string{
			"main.hcl":   `module "a" { source = "./a" }`,
			"a/main.hcl": `bucket "x" { name = "no_underscores" }`,
		}, `a/main.hcl:1,21-37: Invalid bucket name`},
		{"too many instances", map[string]string{
			"main.hcl":   `module "a" {` + "\n" + `for_each = toset([for i in range(40) : tostring(i)])` + "\n" + `source = "./a"` + "\n}",
			"a/main.hcl": `module "b" {` + "\n" + `for_each = toset([for i in range(40) : tostring(i)])` + "\n" + `source = "../b"` + "\n}",
			"b/main.hcl": `locals { x = 1 }`,
		}, `Too many module instances`},
		{"sensitive module output", map[string]string{
			"main.hcl": `variable "pw" {
  sensitive = true
  default   = "hunter2-module"
}
module "a" {
  source = "./a"
  pw     = var.pw
}`,
			"a/main.hcl": "variable \"pw\" {}\noutput \"o\" { value = var.pw }",
		}, `a/main.hcl:2,22-28: Output refers to sensitive values`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTree(t, tt.files)
			_, diags := Load(dir, VarInputs{})
			got := dump(diags)
			if !diags.HasErrors() || !strings.Contains(got, tt.want) {
				t.Fatalf("want %q in:\n%s", tt.want, got)
			}
			if strings.Contains(got, "hunter2") {
				t.Errorf("secret in diagnostics:\n%s", got)
			}
		})
	}
}

func TestModuleSensitiveArgument(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"main.hcl": `variable "pw" {
  sensitive = true
  default   = "hunter2-in-module"
}
module "a" {
  source = "./a"
  suffix = var.pw
}`,
		"a/main.hcl": `variable "suffix" {}
bucket "b" { name = "acme-${var.suffix}" }`,
	})
	_, diags := Load(dir, VarInputs{})
	got := dump(diags)
	if !strings.Contains(got, "a/main.hcl:2,21-41: Sensitive value not allowed here") || strings.Contains(got, "hunter2") {
		t.Fatalf("diagnostics:\n%s", got)
	}
}
