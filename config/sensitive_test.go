package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
)

const secretVal = "K005sup3rs3cretvalue"

// noSecret fails when a secret appears in any diagnostic or in the source bytes that
// diagnostics quote as snippets, or when the hcl text writer's output holds it.
func noSecret(t *testing.T, d *Desired, diags hcl.Diagnostics, secrets ...string) {
	t.Helper()
	var text bytes.Buffer
	w := hcl.NewDiagnosticTextWriter(&text, d.Files, 0, false)
	_ = w.WriteDiagnostics(diags)
	for _, s := range secrets {
		for _, dg := range diags {
			if strings.Contains(dg.Summary+dg.Detail, s) {
				t.Errorf("secret %q in diagnostic: %s: %s", s, dg.Summary, dg.Detail)
			}
		}
		for n, f := range d.Files {
			if bytes.Contains(f.Bytes, []byte(s)) {
				t.Errorf("secret %q in the snippet source of %s", s, n)
			}
		}
		if strings.Contains(text.String(), s) {
			t.Errorf("secret %q in rendered diagnostics:\n%s", s, text.String())
		}
	}
}

func hasDiag(diags hcl.Diagnostics, summary string) bool {
	for _, d := range diags {
		if strings.Contains(d.Summary, summary) {
			return true
		}
	}
	return false
}

// TestSensitiveValuesAreMarked: values derived from a sensitive variable are recorded as
// sensitive plan attributes, also through references between blocks, and nonsensitive()
// lifts the mark.
func TestSensitiveValuesAreMarked(t *testing.T) {
	src := `
variable "token" {
  sensitive = true
  default   = "` + secretVal + `"
}
variable "env" {
  sensitive = true
  default   = "prod"
}
bucket "a" {
  name = "acme-${nonsensitive(var.env)}"
  info = { token = upper(var.token), team = "web" }
}
key "k" {
  access      = "read-only"
  name_prefix = "p/${bucket.a.info.token}/"
}
key "plain" {
  access = "read-only"
  name_prefix = "p/"
}
`
	d, diags := LoadSources("/cfg", map[string][]byte{"main.hcl": []byte(src)}, VarInputs{})
	if diags.HasErrors() {
		t.Fatalf("diagnostics:\n%s", dump(diags))
	}
	if diff := cmp.Diff([]string{"info"}, d.Buckets[0].Sensitive); diff != "" {
		t.Errorf("bucket sensitive (-want +got):\n%s", diff)
	}
	if d.Buckets[0].Name != "acme-prod" || d.Buckets[0].Info["token"] != strings.ToUpper(secretVal) {
		t.Errorf("values: %q %q", d.Buckets[0].Name, d.Buckets[0].Info)
	}
	if diff := cmp.Diff([]string{"name_prefix"}, d.Keys[0].Sensitive); diff != "" {
		t.Errorf("key sensitive (-want +got):\n%s", diff)
	}
	if len(d.Keys[1].Sensitive) != 0 {
		t.Errorf("plain key marked sensitive: %v", d.Keys[1].Sensitive)
	}
	if d.Variables["token"] != SensitiveText {
		t.Errorf("Variables[token] = %q", d.Variables["token"])
	}
	noSecret(t, d, diags, secretVal)
}

// TestSensitiveValuesNeverInMessages: every message that would quote a sensitive value
// (b2plan's own checks, function errors, validation rules, -var and var-file errors) leaves it
// out, and the source snippets of diagnostics mask the literal.
func TestSensitiveValuesNeverInMessages(t *testing.T) {
	decl := "variable \"secret\" {\n  sensitive = true\n}\n"
	cases := map[string]struct {
		src  string
		vars VarInputs
		want string
	}{
		"as a bucket name":  {decl + "bucket \"b\" {\n  name = var.secret\n}\n", VarInputs{Vars: []string{"secret=" + secretVal}}, "Sensitive value not allowed here"},
		"as for_each":       {decl + "bucket \"b\" {\n  for_each = toset([var.secret])\n  name = \"acme-x\"\n}\n", VarInputs{Vars: []string{"secret=" + secretVal}}, "Sensitive value not allowed here"},
		"in a move":         {decl + "move \"m\" {\n  bucket = \"acme-a\"\n  from = var.secret\n  to = \"b/\"\n}\n", VarInputs{Vars: []string{"secret=" + secretVal}}, "Sensitive value not allowed here"},
		"invalid enum":      {decl + "bucket \"b\" {\n  name = \"acme-b\"\n  type = var.secret\n}\n", VarInputs{Vars: []string{"secret=" + secretVal}}, "Invalid value for type"},
		"as a duration":     {decl + "key \"k\" {\n  access = \"read-only\"\n  duration = var.secret\n}\n", VarInputs{Vars: []string{"secret=" + secretVal}}, "Sensitive value not allowed here"},
		"invalid access":    {decl + "key \"k\" {\n  access = var.secret\n}\n", VarInputs{Vars: []string{"secret=" + secretVal}}, "Invalid access preset"},
		"invalid prefix":    {decl + "key \"k\" {\n  access = \"read-only\"\n  name_prefix = \"\\u0001${var.secret}\"\n}\n", VarInputs{Vars: []string{"secret=" + secretVal}}, "Invalid name_prefix"},
		"tonumber":          {decl + "bucket \"b\" {\n  name = \"acme-b\"\n  info = { n = tonumber(var.secret) }\n}\n", VarInputs{Vars: []string{"secret=" + secretVal}}, "Invalid function argument"},
		"regex":             {decl + "bucket \"b\" {\n  name = \"acme-b\"\n  info = { n = regex(\"(\", var.secret) }\n}\n", VarInputs{Vars: []string{"secret=" + secretVal}}, "Invalid function argument"},
		"from environment":  {decl + "bucket \"b\" {\n  name = var.secret\n}\n", VarInputs{Env: []string{"B2PLAN_VAR_secret=" + secretVal}}, "Sensitive value not allowed here"},
		"-var wrong type":   {"variable \"secret\" {\n  sensitive = true\n  type = number\n}\n", VarInputs{Vars: []string{"secret=" + secretVal}}, "Invalid value for variable"},
		"-var without name": {"", VarInputs{Vars: []string{secretVal}}, "Invalid -var option"},
		"validation message": {"variable \"secret\" {\n  sensitive = true\n  validation {\n    condition = length(var.secret) < 5\n    error_message = \"too long: ${var.secret}\"\n  }\n}\n",
			VarInputs{Vars: []string{"secret=" + secretVal}}, "Invalid value for variable"},
		"default of wrong type": {"variable \"secret\" {\n  sensitive = true\n  type = number\n  default = \"" + secretVal + "\"\n}\n", VarInputs{}, "Invalid value for variable"},
		"literal provider key":  {"provider \"b2\" {\n  application_key = \"" + secretVal + "\"\n}\n", VarInputs{}, "Literal secret in provider block"},
		"literal key, bad file": {"provider \"b2\" {\n  application_key = \"" + secretVal + "\" x\n}\n", VarInputs{}, ""},
		"derived key in endpoint": {decl + "provider \"b2\" {\n  application_key = var.secret\n  endpoint = \"zz${var.secret}\"\n}\n",
			VarInputs{Vars: []string{"secret=" + secretVal}}, "Sensitive value not allowed here"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			d, diags := LoadSources("/cfg", map[string][]byte{"main.hcl": []byte(c.src)}, c.vars)
			if c.want != "" && !hasDiag(diags, c.want) {
				t.Errorf("no diagnostic %q; got:\n%s", c.want, dump(diags))
			}
			if c.want == "" && len(diags) == 0 {
				t.Error("no diagnostics")
			}
			noSecret(t, d, diags, secretVal)
		})
	}
}

// TestSensitiveVarFileMasked: a var file line assigning a sensitive variable is masked in
// snippets, even when the value has the wrong type or the file does not parse.
func TestSensitiveVarFileMasked(t *testing.T) {
	dir := t.TempDir()
	vf := filepath.Join(dir, "secret.vars")
	os.WriteFile(vf, []byte("secret = \""+secretVal+"\"\nplain = 3 x\n"), 0o600)
	src := "variable \"secret\" {\n  sensitive = true\n  type = number\n}\nvariable \"plain\" {}\n"
	d, diags := LoadSources("/cfg", map[string][]byte{"main.hcl": []byte(src)}, VarInputs{VarFiles: []string{vf}})
	if !diags.HasErrors() {
		t.Fatal("no errors")
	}
	noSecret(t, d, diags, secretVal)
	if f := d.Files[vf]; f == nil || !bytes.Contains(f.Bytes, []byte("plain = 3 x")) {
		t.Errorf("the rest of the var file should stay readable")
	}
}
