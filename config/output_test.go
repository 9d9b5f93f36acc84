package config

import (
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func TestOutputs(t *testing.T) {
	const src = `
variable "pw" {
  default   = "hunter2-secret"
  sensitive = true
}
bucket "logs" {
  for_each = toset(["eu", "us"])
  name     = "acme-logs-${each.key}"
}
key "up" {
  access = "write-only"
}
output "bucket_ids" {
  value       = { for k, b in bucket.logs : k => b.id }
  description = "ids of the log buckets"
}
output "names" {
  value = [for b in bucket.logs : b.name]
}
output "key_ref" {
  value = "id=${key.up.id}"
}
output "pw" {
  value     = var.pw
  sensitive = true
}
`
	d := load(t, src, VarInputs{})
	if len(d.Outputs) != 4 {
		t.Fatalf("outputs: %d", len(d.Outputs))
	}
	ids := d.Outputs[0]
	if ids.Description != "ids of the log buckets" || strings.Join(ids.Refs, ",") != `bucket.logs["eu"],bucket.logs["us"]` {
		t.Errorf("bucket_ids: %+v", ids)
	}
	if got := ids.Value.GetAttr("eu").AsString(); got != `${bucket.logs["eu"].id}` {
		t.Errorf("template = %q", got)
	}
	res, err := ResolveOutputValue(ids.Value, ids.Refs, map[string]string{`bucket.logs["eu"]`: "B1", `bucket.logs["us"]`: "B2"})
	if err != nil || res.GetAttr("us").AsString() != "B2" {
		t.Errorf("resolve: %v %#v", err, res)
	}
	if _, err := ResolveOutputValue(ids.Value, ids.Refs, map[string]string{`bucket.logs["eu"]`: "B1"}); err == nil {
		t.Error("resolve without every id succeeded")
	}
	if d.Outputs[1].Refs != nil || d.Outputs[1].Value.LengthInt() != 2 {
		t.Errorf("names: %+v", d.Outputs[1])
	}
	if d.Outputs[2].Value != cty.StringVal("id=${key.up.id}") {
		t.Errorf("key_ref: %#v", d.Outputs[2].Value)
	}
	if !d.Outputs[3].Sensitive || d.Outputs[3].Value.AsString() != "hunter2-secret" {
		t.Errorf("pw: %+v", d.Outputs[3])
	}
}

func TestOutputErrors(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"key secret", `key "up" { access = "read-only" }
output "s" { value = key.up.secret }`, `main.hcl:2,22-35: Key secrets are not values`},
		{"key secret for_each", `key "up" {
  for_each = toset(["a"])
  access = "read-only"
}
output "s" { value = key.up["a"].application_key }`, `main.hcl:5,22-49: Key secrets are not values`},
		{"sensitive not declared", `variable "pw" {
  sensitive = true
  default = "hunter2-secret"
}
output "s" { value = "x${var.pw}" }`, `main.hcl:5,22-34: Output refers to sensitive values`},
		{"mangled id", `bucket "b" { name = "acme-bucket" }
output "s" { value = upper(bucket.b.id) }`, `main.hcl:2,22-40: Cannot defer this value`},
		{"compared id", `bucket "b" { name = "acme-bucket" }
output "s" { value = { ok = bucket.b.id == "x" } }`, `Cannot defer this value`},
		{"duplicate", `output "s" { value = 1 }
output "s" { value = 2 }`, `main.hcl:2,8-11: Duplicate output s`},
		{"missing value", `output "s" { description = "x" }`, `Missing required argument`},
		{"undeclared", `output "s" { value = bucket.nope.name }`, `Reference to undeclared bucket`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := LoadSources("/cfg", map[string][]byte{"main.hcl": []byte(tt.src)}, VarInputs{})
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

func TestIDThroughLocal(t *testing.T) {
	d := load(t, `
bucket "a" { name = "acme-aaaaaa" }
locals { peer = "peer-${bucket.a.id}" }
bucket "b" {
  name = "acme-bbbbbb"
  info = { peer = local.peer }
}
output "p" { value = local.peer }
`, VarInputs{})
	if dv, ok := DeferredAt(d.Buckets[1].Deferred, `info["peer"]`); !ok || dv.Template != "peer-${bucket.a.id}" {
		t.Errorf("deferred: %+v", d.Buckets[1].Deferred)
	}
	if d.Outputs[0].Value.AsString() != "peer-${bucket.a.id}" {
		t.Errorf("output: %#v", d.Outputs[0].Value)
	}
}
