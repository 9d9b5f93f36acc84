package config

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// TestValidFixtures loads the valid fixtures and every example shipped in
// ../examples.
func TestValidFixtures(t *testing.T) {
	files, _ := filepath.Glob("testdata/valid/*.hcl")
	examples, _ := filepath.Glob("../examples/*.hcl")
	if len(examples) < 4 {
		t.Fatalf("found %d examples in ../examples, want at least 4", len(examples))
	}
	files = append(files, examples...)
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			_, diags := Load(f, VarInputs{})
			for _, d := range diags {
				if d.Severity == hcl.DiagError {
					t.Errorf("unexpected error: %s", d.Error())
				}
			}
		})
	}
}

var markerRe = regexp.MustCompile(`#\s*(ERROR|WARNING):\s*(.+?)\s*$`)

type expectation struct {
	line     int
	severity hcl.DiagnosticSeverity
	summary  string
}

// TestInvalidFixtures loads each file of testdata/invalid; a comment "# ERROR: text" (or
// "# WARNING: text") marks a line where a diagnostic whose summary contains text must start.
// Errors on unmarked lines fail the test.
func TestInvalidFixtures(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid/*.hcl")
	if len(files) < 40 {
		t.Fatalf("only %d invalid fixtures", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var want []expectation
			for i, line := range strings.Split(string(src), "\n") {
				if m := markerRe.FindStringSubmatch(line); m != nil {
					sev := hcl.DiagError
					if m[1] == "WARNING" {
						sev = hcl.DiagWarning
					}
					want = append(want, expectation{i + 1, sev, m[2]})
				}
			}
			if len(want) == 0 {
				t.Fatal("fixture has no # ERROR: marker")
			}
			_, diags := Load(f, VarInputs{})
			for _, w := range want {
				found := false
				for _, d := range diags {
					if d.Severity == w.severity && d.Subject != nil && d.Subject.Start.Line == w.line && strings.Contains(d.Summary, w.summary) {
						found = true
						if strings.TrimSpace(d.Detail) == "" {
							t.Errorf("line %d: %q has no detail", w.line, d.Summary)
						}
					}
				}
				if !found {
					t.Errorf("line %d: no diagnostic %q; got:\n%s", w.line, w.summary, dump(diags))
				}
			}
			for _, d := range diags {
				if d.Severity != hcl.DiagError {
					continue
				}
				ok := false
				for _, w := range want {
					if d.Subject != nil && d.Subject.Start.Line == w.line && w.severity == hcl.DiagError {
						ok = true
					}
				}
				if !ok {
					t.Errorf("unexpected error: %s", d.Error())
				}
			}
		})
	}
}

func dump(diags hcl.Diagnostics) string {
	var sb strings.Builder
	for _, d := range diags {
		sb.WriteString("  " + d.Error() + "\n")
	}
	return sb.String()
}
