package command

import (
	"errors"

	"github.com/b2plan/b2plan/planner"
)

func init() {
	Register(&Command{
		Name:     "show",
		Synopsis: "Render a saved plan (human or JSON)",
		Help: `
Usage: b2plan [global flags] show [-json] PLANFILE

  Prints a plan saved with "b2plan plan -out=PLANFILE", as plan printed it, or with -json as
  the JSON plan document: Terraform's JSON plan format (what "terraform show -json" prints),
  which terraform-json, conftest/OPA and PR-comment tools read (docs/json-formats.md).
  No network access.

Flags:
  -json      print the plan as one JSON document (Terraform's plan format)
  -no-color  no colour

Examples:
  b2plan show tfplan.b2
  b2plan show -json tfplan.b2 | jq '.object_moves[].objects'
  b2plan show -json tfplan.b2 > plan.json && conftest test -p examples/policy/policy plan.json
`,
		Run: runShow,
	})
}

func runShow(m *Meta, args []string) int {
	c := commands["show"]
	fs := m.FlagSet(c)
	jsonOut := fs.Bool("json", false, "")
	if code, done := m.ParseFlags(c, fs, args); done {
		return code
	}
	if fs.NArg() != 1 {
		return m.Errorf("show needs exactly one PLANFILE.\n\nRun \"b2plan show -help\" for usage.")
	}
	p, err := planner.ReadFile(m.Path(fs.Arg(0)))
	if err != nil {
		if errors.Is(err, planner.ErrNotPlanFile) {
			return m.Errorf("%s is not a b2plan plan file (make one with \"b2plan plan -out=FILE\")", fs.Arg(0))
		}
		return m.Errorf("%v", err)
	}
	if *jsonOut {
		err = planner.RenderJSON(m.Stdout, p, planner.DocOptions{ToolVersion: toolVersion()})
	} else {
		err = planner.RenderHuman(m.Stdout, p, planner.RenderOptions{Color: m.Color(m.Stdout)})
	}
	if err != nil {
		return m.Errorf("%v", err)
	}
	return ExitOK
}
