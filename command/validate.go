package command

import (
	"fmt"

	"github.com/b2plan/b2plan/config"
	"github.com/hashicorp/hcl/v2"
)

func init() {
	Register(&Command{
		Name:     "validate",
		Synopsis: "Check the configuration offline (exit 0 valid, 1 invalid)",
		Help: `
Usage: b2plan [global flags] validate [-json] [-var NAME=VALUE]... [-var-file=FILE]... [DIR | FILE]

  Loads every *.hcl file of DIR (default: the current directory), or just FILE, and checks it
  without any network call: block and argument names, types, B2 naming rules, capabilities,
  lifecycle and CORS rules, durations, duplicate names, overlapping moves, references.
  Every problem is reported in one run, with file, line, source and how to fix it.

  Input variables take their values from, lowest precedence first: the default, the
  environment (B2PLAN_VAR_NAME=VALUE), -var-file files, -var options.

Flags:
  -json                 print the result as JSON (Terraform's validate format)
  -var NAME=VALUE       set an input variable (repeatable)
  -var-file=FILE        read input variables from an HCL file of NAME = VALUE lines (repeatable)
  -no-color             no colour

Exit status: 0 valid (warnings allowed), 1 invalid.

Examples:
  b2plan validate
  b2plan validate examples/quickstart.hcl
  b2plan -chdir=infra validate -var env=prod
  b2plan validate -json ./config | jq '.diagnostics[].summary'
`,
		Run: runValidate,
	})
}

type jsonValidate struct {
	FormatVersion string           `json:"format_version"`
	Valid         bool             `json:"valid"`
	ErrorCount    int              `json:"error_count"`
	WarningCount  int              `json:"warning_count"`
	Diagnostics   []JSONDiagnostic `json:"diagnostics"`
}

func runValidate(m *Meta, args []string) int {
	c := commands["validate"]
	fs := m.FlagSet(c)
	jsonOut := fs.Bool("json", false, "")
	var vars, varFiles stringList
	fs.Var(&vars, "var", "")
	fs.Var(&varFiles, "var-file", "")
	if code, done := m.ParseFlags(c, fs, args); done {
		return code
	}
	if fs.NArg() > 1 {
		return m.Errorf("validate takes at most one DIR or FILE; got %d arguments.\n\nRun \"b2plan validate -help\" for usage.", fs.NArg())
	}
	path := "."
	if fs.NArg() == 1 {
		path = fs.Arg(0)
	}
	for i := range varFiles {
		varFiles[i] = m.Path(varFiles[i])
	}
	d, diags := config.Load(m.Path(path), config.VarInputs{Vars: vars, VarFiles: varFiles, Env: m.Env})
	errs, warns := 0, 0
	for _, dg := range diags {
		if dg.Severity == hcl.DiagError {
			errs++
		} else {
			warns++
		}
	}
	if *jsonOut {
		_ = writeJSON(m.Stdout, jsonValidate{FormatVersion: "1.0", Valid: errs == 0, ErrorCount: errs,
			WarningCount: warns, Diagnostics: relDiagnostics(m.Chdir, NewJSONDiagnostics(diags, d.Files))})
		if errs > 0 {
			return ExitError
		}
		return ExitOK
	}
	m.WriteDiagnostics(m.Stderr, diags, d.Files)
	if errs > 0 {
		return ExitError
	}
	switch warns {
	case 0:
		fmt.Fprintln(m.Stdout, "Success! The configuration is valid.")
	case 1:
		fmt.Fprintln(m.Stdout, "Success! The configuration is valid, but there was 1 warning.")
	default:
		fmt.Fprintf(m.Stdout, "Success! The configuration is valid, but there were %d warnings.\n", warns)
	}
	return ExitOK
}
