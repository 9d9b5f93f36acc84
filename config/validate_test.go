package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Two keys whose secret files are one file under two names (a symlink)
// are rejected too, naming the first key and where it is declared.
func TestDuplicateSecretFileThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "secrets"), 0o700)
	os.WriteFile(filepath.Join(dir, "secrets", "ci.env"), []byte("B2_APPLICATION_KEY_ID=x\n"), 0o600)
	if err := os.Symlink("ci.env", filepath.Join(dir, "secrets", "alias.env")); err != nil {
		t.Skip(err)
	}
	src := `key "a" {
  name        = "acme-a"
  access      = "read-only"
  secret_file = "secrets/ci.env"
}
key "b" {
  name        = "acme-b"
  access      = "read-only"
  secret_file = "secrets/alias.env"
}
`
	os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(src), 0o644)
	_, diags := Load(dir, VarInputs{})
	if len(diags) != 1 || diags[0].Summary != "Duplicate secret_file" {
		t.Fatalf("diags: %v", diags)
	}
	d := diags[0]
	if d.Subject == nil || d.Subject.Start.Line != 9 || !strings.Contains(d.Detail, "key.b and key.a (at ") || !strings.Contains(d.Detail, "main.hcl:4,") {
		t.Errorf("diagnostic: %s at %v", d.Detail, d.Subject)
	}
}
