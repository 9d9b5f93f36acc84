package command

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/b2plan/b2plan/planner"
)

func init() {
	Register(&Command{
		Name:     "plan",
		Synopsis: "Read the live account and show what apply would change",
		Help: `
Usage: b2plan [global flags] plan [-out=FILE] [-json] [-detailed-exitcode] [-destroy] [-var NAME=VALUE]...
                                  [-var-file=FILE]... [-target=ADDRESS]... [-replace=ADDRESS]...
                                  [DIR | FILE]

  Loads the configuration (every *.hcl file of DIR, default the current directory, or just
  FILE), reads the live account (buckets, keys, and the object listings of the folders and
  moves it declares) and prints what apply would do: buckets and keys to create, update,
  replace or delete, folders to create, objects to move, and unmanaged resources (drift).
  Nothing is changed.

  Endpoint: the provider block's endpoint, overridden by B2_ENDPOINT. With neither and no
  B2_APPLICATION_KEY_ID, the embedded emulator local://<config dir>/.b2plan/local is used.

Flags:
  -out=FILE             save the plan; "b2plan apply FILE" then performs exactly these actions
  -json                 print Terraform's machine-readable stream (JSON Lines); the plan
                        document is "b2plan show -json PLANFILE" (docs/json-formats.md)
  -detailed-exitcode    exit 0 when there are no changes, 2 when there are, 1 on error
  -target=ADDRESS       plan only this address and what it depends on (repeatable), e.g.
                        -target=bucket.assets; an address that matches nothing is an error.
                        For exceptional situations: the plan may be incomplete (a warning says so)
  -destroy              plan the deletion of what the configuration declares, as "b2plan destroy"
                        does; with -out, "b2plan apply FILE" carries it out
  -replace=ADDRESS      force the replacement of this key (repeatable), e.g. -replace=key.ci
                        after its secret leaked: a new key and secret, then the old key is deleted
  -var NAME=VALUE       set an input variable (repeatable)
  -var-file=FILE        read input variables from a file (repeatable)
  -no-color             no colour

Exit status: 0 success (with -detailed-exitcode: no changes), 1 error, 2 changes present
(only with -detailed-exitcode).

Examples:
  b2plan plan
  b2plan plan -out=tfplan.b2 && b2plan apply tfplan.b2
  b2plan plan -detailed-exitcode -json ./infra > plan.jsonl
  b2plan plan -out=tfplan.b2 && b2plan show -json tfplan.b2 > plan.json
`,
		Run: runPlan,
	})
}

func runPlan(m *Meta, args []string) int {
	c := commands["plan"]
	fs := m.FlagSet(c)
	out := fs.String("out", "", "")
	jsonOut := fs.Bool("json", false, "")
	detailed := fs.Bool("detailed-exitcode", false, "")
	destroy := fs.Bool("destroy", false, "")
	var vars, varFiles, targets, replace stringList
	fs.Var(&replace, "replace", "")
	fs.Var(&vars, "var", "")
	fs.Var(&varFiles, "var-file", "")
	fs.Var(&targets, "target", "")
	if code, done := m.ParseFlags(c, fs, args); done {
		return code
	}
	if fs.NArg() > 1 {
		return m.Errorf("plan takes at most one DIR or FILE; got %d arguments.\n\nRun \"b2plan plan -help\" for usage.", fs.NArg())
	}
	if *destroy && len(replace) > 0 {
		return m.Errorf("-replace cannot be used with -destroy: a destroy plan deletes, it does not replace")
	}
	if *jsonOut {
		m.startStream(m.Stdout)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	pl, code, ok := m.runPipeline(ctx, planInput{path: fs.Arg(0), vars: vars, varFiles: varFiles, targets: targets, replace: replace, destroy: *destroy})
	defer pl.close()
	if !ok {
		if ctx.Err() != nil {
			return ExitInterrupted
		}
		return code
	}
	failed := hasErrors(pl.diags)
	if *jsonOut {
		m.stream.plan(pl.plan)
		m.WriteDiagnostics(m.Stderr, pl.diags, pl.desired.Files)
	} else {
		m.WriteDiagnostics(m.Stderr, pl.diags, pl.desired.Files)
		if err := planner.RenderHuman(m.Stdout, pl.plan, planner.RenderOptions{Color: m.Color(m.Stdout)}); err != nil {
			return m.Errorf("%v", err)
		}
	}
	if ctx.Err() != nil {
		return ExitInterrupted
	}
	if failed {
		return m.Errorf("the plan has errors (above): nothing can be applied until they are fixed")
	}
	if *out != "" {
		if err := planner.WriteFile(m.Path(*out), pl.plan); err != nil {
			return m.Errorf("%v", err)
		}
		if !*jsonOut {
			fmt.Fprintf(m.Stdout, "\nSaved the plan to: %s\n\nTo perform exactly these actions, run:\n  b2plan apply %s\n", *out, *out)
		}
	}
	if *detailed && pl.plan.HasChanges() {
		return ExitChanges
	}
	return ExitOK
}
