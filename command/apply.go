package command

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/b2plan/b2plan/b2client"
	"github.com/b2plan/b2plan/executor"
	"github.com/b2plan/b2plan/live"
	"github.com/b2plan/b2plan/planner"
)

func init() {
	Register(&Command{
		Name:     "apply",
		Synopsis: "Plan and carry out the changes (or apply a saved plan)",
		Help: `
Usage: b2plan [global flags] apply [-auto-approve] [-json] [-parallelism=N] [-overwrite-secret-files]
                                   [-max-duration=DURATION] [-shard=K/N]
                                   [-var NAME=VALUE]... [-var-file=FILE]... [-target=ADDRESS]...
                                   [-replace=ADDRESS]... [DIR | FILE.hcl | PLANFILE]

  With a configuration (DIR, default the current directory, or one FILE.hcl): plans as
  "b2plan plan" does, prints the plan, asks for confirmation ("yes") on a terminal, then
  carries it out. Without a terminal it refuses unless -auto-approve is given.

  With a PLANFILE saved by "b2plan plan -out": the plan is its own approval. Before acting,
  the account is read again: a bucket revision or key that changed since the plan makes the
  plan stale (exit 1, "re-run plan"); a moved object whose version changed is skipped and
  reported. A plan file is applied at most once, and only to the endpoint and account it
  was made for.

  Order: buckets, keys, folders, objects, moves (server-side copy, verify, then delete or
  hide the source), old keys, deleted folders and objects, deleted buckets.

  Interrupt (Ctrl-C): before anything is changed (planning, the "yes" prompt), apply stops
  at once (exit 130, nothing changed). While applying, the first interrupt starts nothing
  new and gives the operations in flight up to 10s (B2PLAN_INTERRUPT_GRACE) to finish,
  then cancels them; the second cancels them at once; the third exits at once. Exit 130;
  re-running apply is safe.

  A key's secret_file is not overwritten when it holds the secret of another key that is
  still live, or is not a secret file (exit 1, nothing changed); a secret file inside a
  git work tree that git does not ignore gives a warning.

Flags:
  -auto-approve     do not ask for confirmation
  -json             print Terraform's machine-readable stream (JSON Lines; docs/json-formats.md)
  -parallelism=N    concurrent operations (default 32), a ceiling: the calls in flight adapt
                    below it to the account's rate limit (429/503 answers, rising latency)
  -max-duration=DURATION  time budget (for example 5h30m, counted from the start of apply):
                    at the deadline nothing new is started and what is in flight is finished;
                    when work was left, exit 75 ("incomplete, run again"): plan and apply again
                    to carry on (a saved plan is applied once, so run plan -out again)
  -shard=K/N        apply only shard K of N (1 ≤ K ≤ N) of every move's objects: N processes
                    (CI matrix jobs, a Kubernetes Indexed Job) apply one plan in parallel; the
                    plan may hold moves only (docs/moves.md, "Sharded apply")
  -overwrite-secret-files  write secret files even over another live key's secret
  -target=ADDRESS   apply only this address and what it depends on (repeatable; for
                    exceptional situations: the result may be incomplete)
  -replace=ADDRESS  force the replacement of this key (repeatable): a new key and secret
                    (written to its secret_file), then the old key is deleted
  -var NAME=VALUE   set an input variable (repeatable)
  -var-file=FILE    read input variables from a file (repeatable)
  -no-color         no colour

Exit status: 0 success, 1 error (every failure is listed; also an internal error),
75 incomplete: -max-duration ran out with work left, run plan and apply again,
130 interrupted.

Examples:
  b2plan apply
  b2plan apply -auto-approve examples/quickstart.hcl
  b2plan plan -out=tfplan.b2 && b2plan apply tfplan.b2
`,
		Run: runApply,
	})
}

func runApply(m *Meta, args []string) int { return applyCommand(m, args, "apply") }

// applyCommand runs apply, or destroy (name "destroy": the plan deletes what the
// configuration declares; destroy.go).
func applyCommand(m *Meta, args []string, name string) int {
	c := commands[name]
	destroy := name == "destroy"
	fs := m.FlagSet(c)
	auto := fs.Bool("auto-approve", false, "")
	jsonOut := fs.Bool("json", false, "")
	par := fs.Int("parallelism", executor.DefaultParallelism, "")
	overwrite := fs.Bool("overwrite-secret-files", false, "")
	maxDur := fs.Duration("max-duration", 0, "")
	shardFlag := fs.String("shard", "", "")
	var vars, varFiles, targets, replace stringList
	fs.Var(&replace, "replace", "")
	fs.Var(&vars, "var", "")
	fs.Var(&varFiles, "var-file", "")
	fs.Var(&targets, "target", "")
	if code, done := m.ParseFlags(c, fs, args); done {
		return code
	}
	if fs.NArg() > 1 {
		return m.Errorf("apply takes at most one DIR, FILE or PLANFILE; got %d arguments.\n\nRun \"b2plan apply -help\" for usage.", fs.NArg())
	}
	if *par < 1 {
		return m.Errorf("-parallelism must be at least 1")
	}
	var deadline time.Time
	if *maxDur < 0 {
		return m.Errorf("-max-duration=%v: want a positive duration, for example -max-duration=5h30m", *maxDur)
	} else if *maxDur > 0 {
		deadline = time.Now().Add(*maxDur)
	}
	var shard *planner.Shard
	if *shardFlag != "" {
		var err error
		if shard, err = planner.ParseShard(*shardFlag); err != nil {
			return m.Errorf("%v", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	in, err := m.handleInterrupts(cancel)
	if err != nil {
		return m.Errorf("%v", err)
	}
	defer in.stop()
	notChanged := func() int {
		fmt.Fprintln(m.Stderr, "\nInterrupted: nothing was changed.")
		return ExitInterrupted
	}

	var view applyView
	if *jsonOut {
		view = newStreamView(m)
	} else {
		view = newTextView(m, m.Stdout)
	}

	var (
		p     *planner.Plan
		accts []*account // every provider's account, with provider aliases (accounts.go)
		conn  *b2client.Conn
		opts  = executor.Options{Parallelism: *par, Deadline: deadline, Shard: shard}
		mark  func() error
	)
	arg := fs.Arg(0)
	if destroy && len(replace) > 0 {
		return m.Errorf("-replace cannot be used with destroy: destroy deletes, it does not replace")
	}
	if arg != "" && isPlanFile(m.Path(arg)) {
		if destroy {
			return m.Errorf("destroy takes a configuration (DIR or FILE.hcl), not a saved plan: to apply a saved plan, run \"b2plan apply %s\"", arg)
		}
		if len(vars)+len(varFiles)+len(targets)+len(replace) > 0 {
			return m.Errorf("-var, -var-file, -target and -replace cannot be used with a saved plan: they were fixed when it was made")
		}
		var code int
		var ok bool
		p, conn, mark, code, ok = m.loadSavedPlan(ctx, m.Path(arg), &opts, shard)
		if conn != nil {
			defer conn.Close()
		}
		if !ok {
			if ctx.Err() != nil {
				return notChanged()
			}
			return code
		}
		if len(p.Accounts) > 0 {
			more, err := m.savedAccounts(ctx, p)
			for _, a := range more {
				defer a.conn.Close()
			}
			if err != nil {
				if ctx.Err() != nil {
					return notChanged()
				}
				return m.Errorf("%v", err)
			}
			accts = append([]*account{{conn: conn, current: opts.Current}}, more...)
		}
		view.savedPlan(arg, p)
		if !m.checkAccountSecretFiles(ctx, conn, accts, p, *overwrite) {
			if ctx.Err() != nil {
				return notChanged()
			}
			return m.Errorf("nothing was changed")
		}
	} else {
		pl, code, ok := m.runPipeline(ctx, planInput{path: arg, vars: vars, varFiles: varFiles, targets: targets, replace: replace, destroy: destroy})
		defer pl.close()
		if !ok {
			if ctx.Err() != nil {
				return notChanged()
			}
			return code
		}
		p, conn, accts = pl.plan, pl.conn, pl.accounts
		if !*jsonOut {
			m.WriteDiagnostics(m.Stderr, pl.diags, pl.desired.Files)
		}
		view.plan(p)
		if *jsonOut {
			m.WriteDiagnostics(m.Stderr, pl.diags, pl.desired.Files)
		}
		if hasErrors(pl.diags) {
			return m.Errorf("the plan has errors (above): nothing was changed")
		}
		if !p.HasActions() {
			m.applyOutputs(ctx, conn, accts, p, *jsonOut)
			return ExitOK
		}
		if !m.checkAccountSecretFiles(ctx, conn, accts, p, *overwrite) {
			if ctx.Err() != nil {
				return notChanged()
			}
			return m.Errorf("nothing was changed")
		}
		if !*auto && *jsonOut {
			return m.Errorf("apply -json cannot ask for confirmation: pass -auto-approve, or apply a saved plan")
		}
		if !*auto {
			in.setStage(stagePrompt)
			if code, ok := m.confirm(ctx, destroy); !ok {
				return code
			}
		}
	}
	// From here an interrupt stops the apply gracefully; one that came
	// before is seen by the check below.
	in.setStage(stageApply)
	if ctx.Err() != nil {
		return notChanged()
	}
	if shard != nil {
		if err := shardable(p); err != nil {
			return m.Errorf("%v", err)
		}
	}
	if accts == nil {
		caps, buckets := applyCaps(p)
		if err := conn.Require(caps, buckets); err != nil {
			return m.Errorf("%v", err)
		}
	}
	if mark != nil {
		if err := mark(); err != nil {
			return m.Errorf("%v", err)
		}
	}
	opts.List = executor.ListFunc(func(ctx context.Context, req live.Request) (*live.Live, error) {
		return b2client.Observe(ctx, conn, req)
	})
	opts.ListRange, opts.ForgetListed = rangeLister(conn), conn.ForgetListed
	opts.Grace, opts.Abort = in.grace, in.abort
	// The account's adaptive window (docs/moves.md, "Adaptive
	// concurrency") never exceeds what -parallelism workers can have in
	// flight, large copies' 4 parts each included.
	conn.Adaptive().SetCeiling(4 * *par)
	view.start(p)
	actx := ctx
	if tv, ok := view.(*textView); ok { // retries and throttling in the progress display
		actx = b2client.WithRetryHook(ctx, tv.retry)
	}
	var res executor.Result
	if accts != nil {
		res, err = m.applyAccounts(actx, p, accts, opts, view)
	} else {
		res, err = opts.Apply(actx, p, b2client.NewMutator(conn), view)
	}
	view.finish(res, err)
	if len(p.Targets) > 0 && !*jsonOut {
		fmt.Fprintf(m.Stderr, "\nWarning: Applied changes may be incomplete\n\n  The plan was made with -target (%s): what the configuration declares beyond the targets\n  and what they depend on was not applied. Run \"b2plan plan\" without -target to see what\n  remains; -target is for exceptional situations, not for routine use.\n", strings.Join(p.Targets, ", "))
	}
	switch {
	case errors.Is(err, executor.ErrInterrupted):
		return ExitInterrupted
	case errors.Is(err, executor.ErrIncomplete):
		fmt.Fprintf(m.Stderr, "\nIncomplete: the time budget (-max-duration=%v) ran out with %d objects or resources not started; what was started is finished. Run plan and apply again to carry on (exit %d).\n", *maxDur, res.NotStarted, ExitIncomplete)
		if res.Moved+int64(res.Added+res.Changed+res.Replaced+res.Destroyed+len(res.Skipped)) == 0 {
			// Running again with the same budget would do the same.
			fmt.Fprintf(m.Stderr, "Warning: nothing was done: reading the account and planning took the whole budget (%v since apply started). Raise -max-duration.\n", time.Since(deadline.Add(-*maxDur)).Round(time.Millisecond))
		}
		return ExitIncomplete
	case err != nil:
		return ExitError
	}
	m.applyOutputs(ctx, conn, accts, p, *jsonOut)
	return ExitOK
}

// ExitIncomplete is apply's exit status when -max-duration ran out with work
// left: not a failure; run plan and apply again to carry on (75 is
// EX_TEMPFAIL of sysexits.h, "try again later").
const ExitIncomplete = 75

// shardable refuses a sharded apply of a plan with changes besides moves:
// every shard would make them, and moves may need them first.
func shardable(p *planner.Plan) error {
	for _, ch := range p.Changes {
		if ch.Action != planner.NoOp {
			return fmt.Errorf("-shard applies moves only, but the plan also changes %s (%s): apply those first without -shard (for example with -target=%s), then plan again and apply the shards", ch.Address, ch.Action, ch.Address)
		}
	}
	return nil
}

// confirm asks for "yes" on a terminal; without one it refuses. An
// interrupt (ctx done) ends the wait at once: the read of the line is
// left behind, and the process exits.
func (m *Meta) confirm(ctx context.Context, destroy bool) (int, bool) {
	f, ok := m.Stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return m.Errorf("apply needs confirmation, but stdin is not a terminal: pass -auto-approve, or save the plan with \"b2plan plan -out=FILE\" and run \"b2plan apply FILE\""), false
	}
	if destroy { // Terraform's destroy prompt
		fmt.Fprint(m.Stdout, "\nDo you really want to destroy all resources?\n  b2plan will destroy all the resources shown above.\n  There is no undo. Only 'yes' will be accepted to confirm.\n\n  Enter a value: ")
	} else {
		fmt.Fprint(m.Stdout, "\nDo you want to perform these actions?\n  b2plan will perform the actions described above.\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ")
	}
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(m.Stdin).ReadString('\n')
		lines <- line
	}()
	var line string
	select {
	case line = <-lines:
	case <-ctx.Done():
		fmt.Fprintln(m.Stderr, "\n\nInterrupted at the confirmation prompt: nothing was changed.")
		return ExitInterrupted, false
	}
	if strings.TrimSpace(line) != "yes" {
		fmt.Fprintf(m.Stdout, "\n%s cancelled.\n", operationWord(destroy))
		return ExitError, false
	}
	fmt.Fprintln(m.Stdout)
	return 0, true
}

// appliedFiles are where the id of an applied plan is recorded: next to the
// plan file, and in the state directory of a local:// endpoint.
func appliedFiles(planPath, endpoint string) []string {
	out := []string{planPath + ".applied"}
	if dir, ok := strings.CutPrefix(endpoint, "local://"); ok && dir != "" {
		out = append(out, filepath.Join(dir, "applied-plans"))
	}
	return out
}

// appliedBefore says whether id is recorded in files; an id ending in "*"
// matches every id that starts with the rest (any shard of a plan).
func appliedBefore(files []string, id string) bool {
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			line = strings.TrimSpace(line)
			if pre, ok := strings.CutSuffix(id, "*"); ok && strings.HasPrefix(line, pre) || line == id {
				return true
			}
		}
	}
	return false
}

func recordApplied(files []string, id string) error {
	for _, f := range files {
		fh, err := os.OpenFile(f, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			return fmt.Errorf("record the plan as applied in %s: %w", f, err)
		}
		_, err = fmt.Fprintln(fh, id)
		if cerr := fh.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = syncFile(f)
		}
		if err != nil {
			return fmt.Errorf("record the plan as applied in %s: %w", f, err)
		}
	}
	return nil
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// loadSavedPlan reads a saved plan, connects to its endpoint and checks that
// it may be applied: not applied before, same endpoint and account, not
// stale. mark records it as applied (called just before executing).
func (m *Meta) loadSavedPlan(ctx context.Context, path string, opts *executor.Options, shard *planner.Shard) (p *planner.Plan, conn *b2client.Conn, mark func() error, code int, ok bool) {
	p, err := planner.ReadFile(path)
	if err != nil {
		return nil, nil, nil, m.Errorf("%v", err), false
	}
	ep := p.Endpoint
	if env := strings.TrimSpace(m.Getenv("B2_ENDPOINT")); env != "" {
		envEp, err := absLocal(env)
		if err != nil {
			return nil, nil, nil, m.Errorf("%v", err), false
		}
		parsed, _, perr := b2client.ParseEndpoint(envEp)
		if perr != nil {
			return nil, nil, nil, m.Errorf("%v", perr), false
		}
		if parsed.String() != p.Endpoint {
			return nil, nil, nil, m.Errorf("the saved plan was made for the endpoint %s, but B2_ENDPOINT points to %s: refusing to apply it elsewhere; re-run plan", p.Endpoint, parsed.String()), false
		}
		ep = envEp
	}
	if ep == "" {
		return nil, nil, nil, m.Errorf("the saved plan names no endpoint: re-run plan"), false
	}
	files := appliedFiles(path, p.Endpoint)
	id := p.ID
	if shard != nil {
		// Each shard of a plan is applied at most once.
		id += " shard " + shard.String()
	}
	if appliedBefore(files, p.ID) || appliedBefore(files, id) || (shard == nil && appliedBefore(files, p.ID+" shard *")) {
		return nil, nil, nil, m.Errorf("the saved plan %s (id %s) was applied before: a plan is applied at most once; re-run plan", path, id), false
	}
	conn, err = m.connect(ctx, ep, "", "")
	if err != nil {
		return nil, nil, nil, m.Errorf("%v", err), false
	}
	if p.AccountID != "" && conn.AccountID() != p.AccountID {
		return nil, conn, nil, m.Errorf("the saved plan was made for account %s, but the credentials are for account %s: refusing; re-run plan", p.AccountID, conn.AccountID()), false
	}
	req := executor.StaleRequest(p.ForProvider("")) // the default account (aliases: savedAccounts)
	if err := conn.Require(observeCaps(req), nil); err != nil {
		return nil, conn, nil, m.Errorf("%v", err), false
	}
	cur, err := b2client.Observe(ctx, conn, req)
	if err != nil {
		return nil, conn, nil, m.Errorf("read the account: %v", err), false
	}
	if err := executor.CheckStale(p.ForProvider(""), cur); err != nil {
		return nil, conn, nil, m.Errorf("%v", err), false
	}
	opts.Current = cur
	mark = func() error { return recordApplied(files, id) }
	return p, conn, mark, 0, true
}

// now is the clock of views (tests may replace it).
var now = time.Now
