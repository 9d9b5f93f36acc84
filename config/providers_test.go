package config

import (
	"strings"
	"testing"
)

func TestProviderAliases(t *testing.T) {
	const src = `
provider "b2" {}
provider "b2" {
  alias    = "backup"
  endpoint = "local://backup-state"
}
bucket "main" { name = "acme-main" }
bucket "vault" {
  provider = b2.backup
  name     = "acme-vault"
}
folder "in" {
  bucket = bucket.vault.name
  path   = "in/"
}
key "vk" {
  provider = b2.backup
  access   = "read-only"
  buckets  = [bucket.vault.name]
}
data "bucket" "old" {
  provider = b2.backup
  name     = "acme-old-vault"
}
`
	d := load(t, src, VarInputs{})
	if len(d.ProviderAliases) != 1 || d.ProviderAliases[0].Alias != "backup" || d.ProviderAliases[0].Endpoint != "local://backup-state" {
		t.Fatalf("aliases: %+v", d.ProviderAliases)
	}
	if d.Buckets[0].Provider != "" || d.Buckets[1].Provider != "backup" || d.Keys[0].Provider != "backup" ||
		d.Folders[0].Provider != "backup" || d.DataSources[0].Provider != "backup" {
		t.Fatalf("providers: %+v %+v %+v", d.Buckets[1], d.Folders[0], d.DataSources[0])
	}
	b := d.ForProvider("backup")
	if len(b.Buckets) != 1 || b.Buckets[0].Name != "acme-vault" || len(b.Folders) != 1 || len(b.Keys) != 1 ||
		b.Provider.Endpoint != "local://backup-state" || len(d.ForProvider("").Buckets) != 1 {
		t.Fatalf("ForProvider: %+v", b)
	}
	if got := strings.Join(d.Providers(), ","); got != ",backup" {
		t.Errorf("Providers = %q", got)
	}
}

func TestProviderErrors(t *testing.T) {
	const aliases = `provider "b2" {
  alias = "backup"
}
`
	tests := []struct{ name, src, want string }{
		{"unknown alias", aliases + `bucket "v" {
  provider = b2.bakup
  name     = "acme-vault"
}`, `main.hcl:5,14-22: Reference to undeclared provider; There is no provider "b2" block with alias = "bakup". Did you mean "backup"?`},
		{"string", aliases + `bucket "v" {
  provider = "b2.backup"
  name     = "acme-vault"
}`, `main.hcl:5,14-25: Invalid provider reference`},
		{"duplicate alias", aliases + aliases, `main.hcl:5,11-19: Duplicate provider alias backup`},
		{"bad alias", `provider "b2" { alias = "a b" }`, `Invalid provider alias`},
		{"cross-account move", aliases + `bucket "a" { name = "acme-main" }
bucket "v" {
  provider = b2.backup
  name     = "acme-vault"
}
move "m" {
  bucket    = bucket.a.name
  from      = "x/"
  to        = "y/"
  to_bucket = bucket.v.name
}`, `main.hcl:13,15-28: Cross-account move`},
		{"key on another account's bucket", aliases + `bucket "v" {
  provider = b2.backup
  name     = "acme-vault"
}
key "k" {
  access  = "read-only"
  buckets = [bucket.v.name]
}`, `Key restricted to another account's bucket`},
		{"folder with the wrong provider", aliases + `bucket "v" {
  provider = b2.backup
  name     = "acme-vault"
}
folder "f" {
  provider = b2
  bucket   = bucket.v.name
  path     = "in/"
}`, `main.hcl:9,14-16: Bucket of another account`},
		{"id across accounts", aliases + `bucket "a" { name = "acme-main" }
bucket "v" {
  provider = b2.backup
  name     = "acme-vault"
  info     = { peer = bucket.a.id }
}`, `main.hcl:8,23-34: Id of another account`},
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
