package config

import (
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// TestHugeValuesAreRefused: inputs that used to make the loader run for minutes or exhaust
// memory (number formatting, format widths, indent, setproduct, exponential locals) are
// refused quickly with a diagnostic.
func TestHugeValuesAreRefused(t *testing.T) {
	cases := map[string]struct{ src, want string }{
		"number literal":    {"bucket \"b\" {\n  name = \"acme-${1e99999999}\"\n}\n", "Number out of range"},
		"tiny literal":      {"locals {\n  n = 1e-99999999\n}\n", "Number out of range"},
		"tonumber":          {"locals {\n  n = tonumber(\"1e99999999\")\n}\nbucket \"b\" {\n  name = \"acme-${local.n}\"\n}\n", "number out of range"},
		"jsondecode":        {"locals {\n  n = jsondecode(\"[1e-99999999]\")\n}\n", "number out of range"},
		"format width":      {"bucket \"b\" {\n  name = format(\"%-999999999s\", \"acme\")\n}\n", "larger than 1024"},
		"format precision":  {"bucket \"b\" {\n  name = formatlist(\"%.99999999f\", [1])[0]\n}\n", "larger than 1024"},
		"indent":            {"bucket \"b\" {\n  info = { x = indent(99999999, \"a\\nb\") }\n}\n", "too many spaces"},
		"setproduct":        {"locals {\n  p = setproduct(range(1000), range(1000), range(1000))\n}\n", "more than 10000"},
		"exponential local": {"locals {\n  a = \"xxxxxxxxxxxxxxxx\"\n" + doubling("b", "a") + doubling("c", "b") + doubling("d", "c") + doubling("e", "d") + doubling("f", "e") + doubling("g", "f") + doubling("h", "g") + doubling("i", "h") + "}\nbucket \"b\" {\n  name = local.i\n}\n", "too large"},
		"var number":        {"variable \"n\" {\n  type = number\n  default = \"1e99999999\"\n}\n", "out of bounds"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			d, diags := LoadSources("/cfg", map[string][]byte{"main.hcl": []byte(c.src)}, VarInputs{})
			if el := time.Since(start); el > 2*time.Second {
				t.Errorf("took %v", el)
			}
			if d == nil {
				t.Fatal("nil Desired")
			}
			found := false
			for _, dg := range diags {
				if dg.Severity == hcl.DiagError && strings.Contains(dg.Summary+" "+dg.Detail, c.want) {
					found = true
				}
			}
			if !found {
				t.Errorf("no error containing %q; got:\n%s", c.want, dump(diags))
			}
		})
	}
}

func doubling(name, of string) string {
	ref := "${local." + of + "}"
	return "  " + name + " = \"" + strings.Repeat(ref, 8) + "\"\n"
}

// TestOrdinaryValuesPass: the limits leave realistic values alone.
func TestOrdinaryValuesPass(t *testing.T) {
	src := `locals {
  big   = 1e300 * 1e300
  small = 1 / 1e300
  w     = format("%-20s|%08.3f", "x", 3.14159)
  ind   = indent(4, "a\nb")
  prod  = setproduct(range(10), range(10), range(10))
}
bucket "b" {
  name = "acme-${length(local.prod)}-${floor(local.big / 1e590)}"
  info = { w = local.w, ind = local.ind, small = tostring(local.small > 0) }
}
`
	d, diags := LoadSources("/cfg", map[string][]byte{"main.hcl": []byte(src)}, VarInputs{})
	for _, dg := range diags {
		if dg.Severity == hcl.DiagError {
			t.Errorf("unexpected error: %s", dg.Error())
		}
	}
	if len(d.Buckets) != 1 || d.Buckets[0].Name != "acme-1000-10000000000" {
		t.Fatalf("buckets: %+v", d.Buckets)
	}
}
