package command

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

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

// plainInterval is how often progress lines are printed without a terminal.
const plainInterval = 5 * time.Second

// textView is the human view: a live progress bar on a terminal, periodic
// plain lines otherwise.
type textView struct {
	m     *Meta
	w     io.Writer
	tty   bool
	color bool
	width int

	mu      sync.Mutex
	mv      string // address of the running move
	total   int64
	bytesT  int64
	done    int64
	bytes   int64
	failed  int64
	skipped int64
	started time.Time
	barLen  int // characters of the bar line on screen (0 = none)
	stopTk  chan struct{}
	tkDone  chan struct{}
}

func newTextView(m *Meta, w io.Writer) *textView {
	return &textView{m: m, w: w, tty: isTerminal(w), color: m.Color(w), width: m.Width(w)}
}

func (v *textView) plan(p *planner.Plan) {
	_ = planner.RenderHuman(v.w, p, planner.RenderOptions{Color: v.color})
}

func (v *textView) savedPlan(path string, p *planner.Plan) {
	fmt.Fprintf(v.w, "Applying the saved plan %s (id %s, made %s).\n%s\n", path, p.ID, p.CreatedAt.Format(time.RFC3339), p.SummaryLine())
}

func (v *textView) start(p *planner.Plan) { fmt.Fprintln(v.w) }

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

// line prints one line above the progress bar.
func (v *textView) line(format string, args ...any) {
	v.clearBar()
	fmt.Fprintf(v.w, format+"\n", args...)
	v.drawBar()
}

func (v *textView) Event(e executor.Event) {
	v.mu.Lock()
	defer v.mu.Unlock()
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
		v.mv, v.total, v.bytesT, v.done, v.bytes, v.failed, v.skipped = e.Address, e.Objects, e.Bytes, 0, 0, 0, 0
		v.started = now()
		v.line("%s: Moving %s objects (%s)...", e.Address, commas(e.Objects), humanBytes(e.Bytes))
		v.startTicker()
	case executor.ObjectDone:
		v.done++
		v.bytes += e.Bytes
	case executor.ObjectFailed:
		v.failed++
		v.line("%s: %s: failed: %v", e.Address, e.Object, e.Err)
	case executor.ObjectSkipped:
		v.skipped++
		v.line("%s: %s: skipped: %s", e.Address, e.Object, e.Message)
	case executor.Note:
		if e.Object != "" {
			v.line("%s: %s: %s", e.Address, e.Object, e.Message)
		} else {
			v.line("%s: %s", e.Address, e.Message)
		}
	case executor.MoveDone:
		v.stopTickerLocked()
		v.clearBar()
		el := now().Sub(v.started)
		extra := ""
		if v.failed > 0 {
			extra += fmt.Sprintf(", %d failed", v.failed)
		}
		if v.skipped > 0 {
			extra += fmt.Sprintf(", %d skipped", v.skipped)
		}
		what := "Move complete"
		if e.Message == "interrupted" {
			what = "Move interrupted"
			extra += fmt.Sprintf(", %s not started", commas(max(v.total-e.Objects-v.failed-v.skipped, 0)))
		}
		fmt.Fprintf(v.w, "%s: %s: %s objects (%s) moved in %s%s\n", e.Address, what, commas(e.Objects), humanBytes(e.Bytes), el.Round(100*time.Millisecond), extra)
		v.mv = ""
	}
}

// startTicker redraws the bar (terminal) or prints a line (otherwise)
// periodically while a move runs. Called with v.mu held.
func (v *textView) startTicker() {
	iv := plainInterval
	if v.tty {
		iv = 200 * time.Millisecond
	}
	v.stopTk, v.tkDone = make(chan struct{}), make(chan struct{})
	stop, done := v.stopTk, v.tkDone
	go func() {
		defer close(done)
		t := time.NewTicker(iv)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				v.mu.Lock()
				if v.tty {
					v.clearBar()
					v.drawBar()
				} else if v.mv != "" {
					fmt.Fprintf(v.w, "%s: %s\n", v.mv, v.status())
				}
				v.mu.Unlock()
			}
		}
	}()
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

// status is "1,234/10,000 objects, 1.2 MB/3.4 MB, 512 obj/s, ETA 17s".
func (v *textView) status() string {
	el := now().Sub(v.started).Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(v.done) / el
	}
	eta := "?"
	if rate > 0 && v.total >= v.done {
		eta = (time.Duration(float64(v.total-v.done)/rate) * time.Second).Round(time.Second).String()
	}
	s := fmt.Sprintf("%s/%s objects, %s/%s, %.0f obj/s, ETA %s", commas(v.done), commas(v.total),
		humanBytes(v.bytes), humanBytes(v.bytesT), rate, eta)
	if v.failed > 0 {
		s += fmt.Sprintf(", %d failed", v.failed)
	}
	return s
}

func (v *textView) drawBar() {
	if !v.tty || v.mv == "" {
		return
	}
	st := v.status()
	frac := 0.0
	if v.total > 0 {
		frac = float64(v.done) / float64(v.total)
	}
	barW := 20
	fill := int(frac * float64(barW))
	bar := "[" + strings.Repeat("=", fill) + strings.Repeat(" ", barW-fill) + "]"
	s := fmt.Sprintf("%s %3.0f%% %s", bar, frac*100, st)
	if len(s) > v.width {
		s = s[:v.width]
	}
	fmt.Fprint(v.w, s)
	v.barLen = len(s)
}

func (v *textView) clearBar() {
	if v.barLen > 0 {
		fmt.Fprint(v.w, "\r"+strings.Repeat(" ", v.barLen)+"\r")
		v.barLen = 0
	}
}

func (v *textView) finish(res executor.Result, err error) {
	v.mu.Lock()
	v.stopTickerLocked()
	v.clearBar()
	v.mu.Unlock()
	counts := fmt.Sprintf("Resources: %d added, %d changed, %d replaced, %d destroyed. Objects: %s moved.",
		res.Added, res.Changed, res.Replaced, res.Destroyed, commas(res.Moved))
	for _, s := range res.Skipped {
		fmt.Fprintf(v.m.Stderr, "Warning: %s: %s: skipped, it changed since the plan (%s)\n", s.Address, s.Object, s.Reason)
	}
	if len(res.Skipped) > 0 {
		fmt.Fprintf(v.m.Stderr, "Warning: %d objects were skipped because they changed since the plan: run plan again to move them.\n", len(res.Skipped))
	}
	for _, f := range res.SecretFiles {
		fmt.Fprintf(v.w, "Secret written to %s (mode 0600).\n", f)
	}
	switch {
	case res.Interrupted && res.Cancelled > 0:
		fmt.Fprintf(v.w, "\nApply interrupted: %d operations in flight were cancelled (listed below), nothing else was started. %s\nRun apply again to finish: it is safe.\n", res.Cancelled, counts)
	case res.Interrupted:
		fmt.Fprintf(v.w, "\nApply interrupted: nothing new was started after the interrupt, and the operations in flight, if any, were finished. %s\nRun apply again to finish: it is safe.\n", counts)
	case res.Incomplete && len(res.Failures) == 0:
		fmt.Fprintf(v.w, "\nApply incomplete: the time budget ran out; %s objects or resources were not started, what was started is finished. %s\nRun plan and apply again to carry on.\n", commas(res.NotStarted), counts)
	case err != nil:
		fmt.Fprintf(v.w, "\nApply failed. %s\n", counts)
	default:
		fmt.Fprintf(v.w, "\nApply complete! %s\n", counts)
	}
	if len(res.Failures) > 0 {
		fmt.Fprintf(v.m.Stderr, "\nError: %d operations failed:\n", len(res.Failures))
		for _, f := range res.Failures {
			fmt.Fprintf(v.m.Stderr, "  - %s\n", f)
		}
	}
}

// jsonView writes one JSON object per line.
type jsonView struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func newJSONView(w io.Writer) *jsonView { return &jsonView{enc: json.NewEncoder(w)} }

type jsonEvent struct {
	Timestamp string `json:"@timestamp"`
	Type      string `json:"type"`
	Address   string `json:"address,omitempty"`
	Action    string `json:"action,omitempty"`
	Phase     string `json:"phase,omitempty"`
	Object    string `json:"object,omitempty"`
	Dest      string `json:"destination,omitempty"`
	Objects   int64  `json:"objects,omitempty"`
	Bytes     int64  `json:"bytes,omitempty"`
	Message   string `json:"message,omitempty"`
	Error     string `json:"error,omitempty"`
	Plan      any    `json:"plan,omitempty"`
	Summary   any    `json:"summary,omitempty"`
}

func (v *jsonView) write(e jsonEvent) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if e.Timestamp == "" {
		e.Timestamp = now().UTC().Format(time.RFC3339Nano)
	}
	_ = v.enc.Encode(e)
}

func (v *jsonView) plan(p *planner.Plan) {
	v.write(jsonEvent{Type: "planned_changes", Message: p.SummaryLine(), Plan: planner.JSONDocument(p)})
}

func (v *jsonView) savedPlan(path string, p *planner.Plan) {
	v.write(jsonEvent{Type: "saved_plan", Message: p.SummaryLine(), Plan: planner.JSONDocument(p)})
}

func (v *jsonView) start(p *planner.Plan) { v.write(jsonEvent{Type: "apply_start"}) }

func (v *jsonView) Event(e executor.Event) {
	je := jsonEvent{Timestamp: e.Time.UTC().Format(time.RFC3339Nano), Type: e.Kind.String(), Address: e.Address,
		Phase: e.Phase, Object: e.Object, Dest: e.Dest, Objects: e.Objects, Bytes: e.Bytes, Message: e.Message}
	if e.Action != planner.NoOp {
		je.Action = e.Action.String()
	}
	if e.Err != nil {
		je.Error = e.Err.Error()
	}
	v.write(je)
}

type jsonFailure struct {
	Address string `json:"address"`
	Object  string `json:"object,omitempty"`
	Error   string `json:"error"`
}

type jsonSkip struct {
	Address string `json:"address"`
	Object  string `json:"object"`
	Reason  string `json:"reason"`
}

func (v *jsonView) finish(res executor.Result, err error) {
	typ := "apply_complete"
	switch {
	case res.Interrupted:
		typ = "apply_interrupted"
	case res.Incomplete && len(res.Failures) == 0:
		typ = "apply_incomplete" // -max-duration ran out: run again
	case err != nil:
		typ = "apply_failed"
	}
	fails := []jsonFailure{}
	for _, f := range res.Failures {
		fails = append(fails, jsonFailure{Address: f.Address, Object: f.Object, Error: f.Err.Error()})
	}
	skips := []jsonSkip{}
	for _, s := range res.Skipped {
		skips = append(skips, jsonSkip{s.Address, s.Object, s.Reason})
	}
	v.write(jsonEvent{Type: typ, Summary: map[string]any{
		"added": res.Added, "changed": res.Changed, "replaced": res.Replaced, "destroyed": res.Destroyed,
		"objects_moved": res.Moved, "bytes_moved": res.MovedBytes, "failures": fails, "skipped": skips,
		"secret_files": res.SecretFiles, "cancelled": res.Cancelled, "not_started": res.NotStarted,
	}})
}

func humanBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for x := n / unit; x >= unit; x /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}

func commas(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return s
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
