package command

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/b2plan/b2plan/b2client"
	"github.com/b2plan/b2plan/executor"
	"github.com/b2plan/b2plan/planner"
)

// applyView shows an apply: the plan, progress events, and the summary.
type applyView interface {
	executor.Observer
	plan(p *planner.Plan)
	savedPlan(path string, p *planner.Plan)
	start(p *planner.Plan)
	finish(res executor.Result, err error)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// plainInterval is how often a progress line is printed without a terminal
// (B2PLAN_PROGRESS_INTERVAL overrides it, e.g. "30s" for quieter CI logs).
const plainInterval = 5 * time.Second

// ttyInterval is how often a terminal's progress block is redrawn.
const ttyInterval = 200 * time.Millisecond

// textView is the human view: on a terminal, event lines scroll above a progress block
// (the overall line and a line per move) redrawn in place and cut to the terminal's width;
// otherwise a progress line every plainInterval, never one per object.
type textView struct {
	m     *Meta
	w     io.Writer
	tty   bool
	color bool
	// width is the terminal's width, read at every redraw (the window may be resized).
	width    func() int
	interval time.Duration

	mu    sync.Mutex
	prog  *progress
	drawn int // lines of the progress block on screen
	// objectLines counts the lines about single objects (objectLine).
	objectLines int
	stopTk      chan struct{}
	tkDone      chan struct{}
	// destroy: the plan is a destroy plan, summarised as Terraform's destroy.
	destroy bool
}

func newTextView(m *Meta, w io.Writer) *textView {
	v := &textView{m: m, w: w, tty: isTerminal(w), color: m.Color(w), width: func() int { return m.Width(w) },
		interval: plainInterval, prog: newProgress(nil)}
	if d, err := time.ParseDuration(m.Getenv("B2PLAN_PROGRESS_INTERVAL")); err == nil && d >= time.Second {
		v.interval = d
	}
	if v.tty {
		v.interval = ttyInterval
	}
	return v
}

// retry counts a retried call (installed with b2client.WithRetryHook).
func (v *textView) retry(r b2client.RetryInfo) { v.prog.retry(r) }

func (v *textView) plan(p *planner.Plan) {
	v.destroy = p.Destroy
	_ = planner.RenderHuman(v.w, p, planner.RenderOptions{Color: v.color})
	if p.Destroy && !p.Errored && !p.HasActions() {
		fmt.Fprintf(v.w, "\nDestroy complete! %s\n", destroyedLine(executor.Result{}))
	}
}

func (v *textView) savedPlan(path string, p *planner.Plan) {
	v.destroy = p.Destroy
	fmt.Fprintf(v.w, "Applying the saved plan %s (id %s, made %s).\n%s\n", path, p.ID, p.CreatedAt.Format(time.RFC3339), p.SummaryLine())
}

func (v *textView) start(p *planner.Plan) {
	v.mu.Lock()
	v.prog.setPlan(p)
	v.mu.Unlock()
	fmt.Fprintln(v.w)
}

func verb(a planner.Action, phase string, done bool) string {
	switch {
	case a == planner.Create && !done:
		return "Creating..."
	case a == planner.Create:
		return "Creation complete"
	case a == planner.Update && !done:
		return "Modifying..."
	case a == planner.Update:
		return "Modifications complete"
	case a == planner.Replace && phase == "create" && !done:
		return "Creating replacement..."
	case a == planner.Replace && phase == "create":
		return "Replacement created"
	case a == planner.Replace && !done:
		return "Destroying the replaced key..."
	case a == planner.Replace:
		return "Replacement complete"
	case a == planner.Delete && !done:
		return "Destroying..."
	case a == planner.Delete:
		return "Destruction complete"
	}
	return a.String()
}

// line prints one line above the progress block.
func (v *textView) line(format string, args ...any) {
	v.clearBlock()
	fmt.Fprintf(v.w, format+"\n", args...)
	v.drawBlock()
}

func (v *textView) Event(e executor.Event) {
	v.mu.Lock()
	defer v.mu.Unlock()
	t := e.Time
	if t.IsZero() {
		t = now()
	}
	v.prog.event(e, t)
	switch e.Kind {
	case executor.ResourceStart:
		v.line("%s: %s", e.Address, verb(e.Action, e.Phase, false))
	case executor.ResourceDone:
		msg := verb(e.Action, e.Phase, true)
		if e.Message != "" {
			msg += " (" + e.Message + ")"
		}
		v.line("%s: %s", e.Address, msg)
	case executor.ResourceFailed:
		v.line("%s: failed: %v", e.Address, e.Err)
	case executor.MoveStart:
		v.line("%s: Moving %s objects (%s)...", e.Address, planner.Commas(e.Objects), planner.HumanBytes(e.Bytes))
		v.startTicker()
	case executor.ObjectFailed:
		v.objectLine("%s: %s: failed: %v", e.Address, e.Object, e.Err)
	case executor.ObjectSkipped:
		v.objectLine("%s: %s: skipped: %s", e.Address, e.Object, e.Message)
	case executor.Note:
		if e.Object != "" {
			v.line("%s: %s: %s", e.Address, e.Object, e.Message)
		} else {
			v.line("%s: %s", e.Address, e.Message)
		}
	case executor.MoveDone:
		mp := v.prog.move(e.Address)
		extra := ""
		if mp.failed > 0 {
			extra += fmt.Sprintf(", %d failed", mp.failed)
		}
		if mp.skipped > 0 {
			extra += fmt.Sprintf(", %d skipped", mp.skipped)
		}
		what := "Move complete"
		if e.Message == "interrupted" {
			what = "Move interrupted"
			extra += fmt.Sprintf(", %s not started", planner.Commas(max(mp.objects-e.Objects-mp.failed-mp.skipped, 0)))
		}
		v.line("%s: %s: %s objects (%s) moved in %s%s", e.Address, what, planner.Commas(e.Objects), planner.HumanBytes(e.Bytes),
			mp.ended.Sub(mp.started).Round(100*time.Millisecond), extra)
	}
}

// maxObjectLines bounds the lines about single objects (failed, skipped) during an apply:
// the final report lists every one of them, and thousands of lines would bury the progress.
const maxObjectLines = 20

// objectLine prints a line about one object, up to maxObjectLines of them.
func (v *textView) objectLine(format string, args ...any) {
	v.objectLines++
	switch {
	case v.objectLines <= maxObjectLines:
		v.line(format, args...)
	case v.objectLines == maxObjectLines+1:
		v.line("... more objects failed or were skipped: the counts are in the progress, and every one is listed at the end")
	}
}

// startTicker redraws the block (terminal) or prints a progress line (otherwise) every
// v.interval from the first move to the end of the apply. Called with v.mu held.
func (v *textView) startTicker() {
	if v.stopTk != nil {
		return
	}
	v.stopTk, v.tkDone = make(chan struct{}), make(chan struct{})
	stop, done := v.stopTk, v.tkDone
	go func() {
		defer close(done)
		t := time.NewTicker(v.interval)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				v.tick()
			}
		}
	}()
}

// tick is one period of the ticker.
func (v *textView) tick() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.tty {
		v.clearBlock()
		v.drawBlock()
	} else if v.prog.running() {
		fmt.Fprintln(v.w, v.prog.logLine(now()))
	}
}

func (v *textView) stopTickerLocked() {
	if v.stopTk == nil {
		return
	}
	close(v.stopTk)
	done := v.tkDone
	v.stopTk = nil
	v.mu.Unlock()
	<-done
	v.mu.Lock()
}

// drawBlock draws the progress block under the cursor (terminal, once a move started).
func (v *textView) drawBlock() {
	if !v.tty || !v.prog.active() {
		return
	}
	lines := v.prog.block(now(), v.width())
	for _, l := range lines {
		fmt.Fprintln(v.w, l)
	}
	v.drawn = len(lines)
}

// clearBlock erases the block: up one line and clear it, for each line drawn.
func (v *textView) clearBlock() {
	if v.drawn > 0 {
		fmt.Fprint(v.w, strings.Repeat("\x1b[1A\x1b[2K", v.drawn))
		v.drawn = 0
	}
}

func (v *textView) finish(res executor.Result, err error) {
	v.mu.Lock()
	v.stopTickerLocked()
	v.clearBlock()
	summary := v.prog.summary(now())
	v.mu.Unlock()
	if summary != "" {
		fmt.Fprintln(v.w, summary)
	}
	cs := applySummary(res, v.prog.movesMoved())
	counts := cs.line()
	if x := cs.extras(); x != "" {
		counts += "\n" + x
	}
	if v.destroy {
		counts = destroyedLine(res)
	}
	for _, s := range res.Skipped {
		fmt.Fprintf(v.m.Stderr, "Warning: %s: %s: skipped, it changed since the plan (%s)\n", s.Address, s.Object, s.Reason)
	}
	if len(res.Skipped) > 0 {
		fmt.Fprintf(v.m.Stderr, "Warning: %d objects were skipped because they changed since the plan: run plan again to move them.\n", len(res.Skipped))
	}
	for _, rp := range res.Replanned {
		fmt.Fprintf(v.m.Stderr, "Warning: %s: %s\n", rp.Address, rp.Message)
	}
	for _, f := range res.SecretFiles {
		fmt.Fprintf(v.w, "Secret written to %s (mode 0600).\n", f)
	}
	switch {
	case res.Interrupted && res.Cancelled > 0:
		fmt.Fprintf(v.w, "\n%s interrupted: %d operations in flight were cancelled (listed below), nothing else was started. %s\nRun it again to finish: it is safe.\n", operationWord(v.destroy), res.Cancelled, counts)
	case res.Interrupted:
		fmt.Fprintf(v.w, "\n%s interrupted: nothing new was started after the interrupt, and the operations in flight, if any, were finished. %s\nRun it again to finish: it is safe.\n", operationWord(v.destroy), counts)
	case res.Incomplete && len(res.Failures) == 0:
		fmt.Fprintf(v.w, "\n%s incomplete: the time budget ran out; %s objects or resources were not started, what was started is finished. %s\nRun plan and apply again to carry on.\n", operationWord(v.destroy), planner.Commas(res.NotStarted), counts)
	case err != nil:
		fmt.Fprintf(v.w, "\n%s failed. %s\n", operationWord(v.destroy), counts)
	default:
		fmt.Fprintf(v.w, "\n%s complete! %s\n", operationWord(v.destroy), counts)
	}
	if len(res.Failures) > 0 {
		fmt.Fprintf(v.m.Stderr, "\nError: %d operations failed:\n", len(res.Failures))
		for _, f := range res.Failures {
			fmt.Fprintf(v.m.Stderr, "  - %s\n", f)
		}
	}
}
