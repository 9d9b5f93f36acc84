package command

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/b2plan/b2plan/executor"
	"github.com/b2plan/b2plan/planner"
)

// The machine-readable stream of plan -json and apply -json is Terraform's
// machine-readable UI (docs/json-formats.md): JSON Lines, a version message
// first, and on every line @level, @message, @module, @timestamp and type.
// Message types are Terraform's, plus b2plan's own, all named "b2plan_…".

// UIVersion is the version of Terraform's machine-readable UI b2plan writes.
const UIVersion = "1.2"

// streamModule is @module of every line.
const streamModule = "b2plan.ui"

// Message types (Terraform's, then b2plan's).
const (
	msgVersion       = "version"
	msgLog           = "log"
	msgDiagnostic    = "diagnostic"
	msgResourceDrift = "resource_drift"
	msgPlannedChange = "planned_change"
	msgChangeSummary = "change_summary"
	msgOutputs       = "outputs"
	msgApplyStart    = "apply_start"
	msgApplyProgress = "apply_progress"
	msgApplyComplete = "apply_complete"
	msgApplyErrored  = "apply_errored"

	msgMoveStart     = "b2plan_move_start"
	msgMoveProgress  = "b2plan_move_progress"
	msgMoveComplete  = "b2plan_move_complete"
	msgObjectFailed  = "b2plan_object_failed"
	msgObjectSkipped = "b2plan_object_skipped"
	msgApplySummary  = "b2plan_apply_summary"
)

// StreamMessageTypes are every type a stream line can have.
var StreamMessageTypes = []string{msgVersion, msgLog, msgDiagnostic, msgResourceDrift, msgPlannedChange,
	msgChangeSummary, msgOutputs, msgApplyStart, msgApplyProgress, msgApplyComplete, msgApplyErrored,
	msgMoveStart, msgMoveProgress, msgMoveComplete, msgObjectFailed, msgObjectSkipped, msgApplySummary}

const (
	// moveProgressEvery bounds the b2plan_move_progress lines of a move.
	moveProgressEvery = time.Second
	// applyProgressEvery is how often a running move also gets Terraform's
	// apply_progress ("Still modifying...").
	applyProgressEvery = 10 * time.Second
	// maxStreamObjectLines bounds the per-object lines (failed, skipped) of one
	// move; the rest are counted in b2plan_move_complete.
	maxStreamObjectLines = 100
)

// uiStream writes the lines. It is safe for concurrent use.
type uiStream struct {
	mu    sync.Mutex
	w     io.Writer
	chdir string
}

// newUIStream writes the version message and returns the stream.
func newUIStream(m *Meta, w io.Writer) *uiStream {
	s := &uiStream{w: w, chdir: m.Chdir}
	v := toolVersion()
	s.emit(now(), "info", "b2plan "+Version(), msgVersion, "terraform", v, "b2plan", Version(), "ui", UIVersion)
	return s
}

// toolVersion is b2plan's version as a semantic version without the "v"
// ("0.0.0-dev" for a source build): where Terraform's formats hold
// Terraform's version (terraform_version, the version message), readers
// parse it as one, and "dev" breaks them.
func toolVersion() string {
	v := strings.TrimPrefix(Version(), "v")
	if v == "" || v == "dev" || !semverish(v) {
		return "0.0.0-dev"
	}
	return v
}

// semverish reports whether v starts with MAJOR.MINOR.PATCH digits.
func semverish(v string) bool {
	core, _, _ := strings.Cut(v, "-")
	core, _, _ = strings.Cut(core, "+")
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return false
	}
	for _, p := range parts {
		if p == "" || strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	return true
}

// emit writes one line: the common fields, type, and kv (name, value pairs).
func (s *uiStream) emit(t time.Time, level, msg, typ string, kv ...any) {
	line := map[string]any{"@level": level, "@message": msg, "@module": streamModule,
		"@timestamp": t.Format("2006-01-02T15:04:05.000000Z07:00"), "type": typ}
	for i := 0; i+1 < len(kv); i += 2 {
		line[kv[i].(string)] = kv[i+1]
	}
	b, err := json.Marshal(line)
	if err != nil {
		b, _ = json.Marshal(map[string]any{"@level": "error", "@message": "b2plan: cannot encode a message: " + err.Error(),
			"@module": streamModule, "@timestamp": line["@timestamp"], "type": msgLog})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, _ = s.w.Write(append(b, '\n'))
}

// diagnostics writes one diagnostic message per diagnostic.
func (s *uiStream) diagnostics(diags hcl.Diagnostics, files map[string]*hcl.File) {
	for _, d := range relDiagnostics(s.chdir, NewJSONDiagnostics(diags, files)) {
		s.diagnostic(d)
	}
}

func (s *uiStream) diagnostic(d JSONDiagnostic) {
	level, word := "error", "Error"
	if d.Severity == "warning" {
		level, word = "warn", "Warning"
	}
	s.emit(now(), level, word+": "+d.Summary, msgDiagnostic, "diagnostic", d)
}

// errorText writes an error without a source location (Meta.Errorf).
func (s *uiStream) errorText(msg string) {
	summary, detail, _ := strings.Cut(msg, "\n")
	s.diagnostic(JSONDiagnostic{Severity: "error", Summary: summary, Detail: strings.TrimSpace(detail)})
}

// relDiagnostics makes diagnostic file names relative to the -chdir
// directory, as Terraform reports them (config.Load names files by the path
// it was given, which starts with the directory).
func relDiagnostics(chdir string, ds []JSONDiagnostic) []JSONDiagnostic {
	if chdir == "" {
		return ds
	}
	for i := range ds {
		if r := ds[i].Range; r != nil {
			r.Filename = relToChdir(chdir, r.Filename)
		}
	}
	return ds
}

func relToChdir(chdir, name string) string {
	rel, err := filepath.Rel(chdir, name)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return name // outside the directory (or not comparable): as given
	}
	return rel
}

// resourceAddr is Terraform's "resource" object of hooks and changes.
type resourceAddr struct {
	Addr            string `json:"addr"`
	Module          string `json:"module"`
	Resource        string `json:"resource"`
	ImpliedProvider string `json:"implied_provider"`
	ResourceType    string `json:"resource_type"`
	ResourceName    string `json:"resource_name"`
	ResourceKey     any    `json:"resource_key"`
}

func newResourceAddr(addr, typ, name string, hasIndex bool, index string) resourceAddr {
	r := resourceAddr{Addr: addr, Resource: addr, ImpliedProvider: planner.ProviderName, ResourceType: typ, ResourceName: name}
	// In a module, "module" is its path and "resource" the address within it, as Terraform
	// splits module.site["a"].bucket.logs.
	if i := strings.LastIndex(addr, "."+typ+"."+name); i > 0 && strings.HasPrefix(addr, "module.") {
		r.Module, r.Resource = addr[:i], addr[i+1:]
	}
	if hasIndex {
		r.ResourceKey = index
	}
	return r
}

// resourceChange is Terraform's "change" object of planned_change and resource_drift.
type resourceChange struct {
	Resource resourceAddr `json:"resource"`
	Action   string       `json:"action"`
	Reason   string       `json:"reason,omitempty"`
}

// changeSummary is Terraform's "changes" object of change_summary, with
// b2plan's extras.
type changeSummary struct {
	Add              int    `json:"add"`
	Change           int    `json:"change"`
	Import           int    `json:"import"`
	Remove           int    `json:"remove"`
	ActionInvocation int    `json:"action_invocation"`
	ActionFail       int    `json:"action_fail"`
	Operation        string `json:"operation"`
	B2planReplace    int    `json:"b2plan_replace"`
	B2planObjects    int64  `json:"b2plan_objects"`
	B2planBytes      int64  `json:"b2plan_bytes"`
}

// streamAction is Terraform's action word of the stream.
func streamAction(a planner.Action) string {
	switch a {
	case planner.Create:
		return "create"
	case planner.Update, planner.MoveObjects:
		return "update" // a move changes where objects are: an update of the move
	case planner.Replace:
		return "replace"
	case planner.Delete:
		return "delete"
	}
	return "noop"
}

// streamReason is the reason keyword of a planned change: the plan
// document's action_reason (planner.ActionReason) in the stream's
// vocabulary, where Terraform shortens replace_because_cannot_update and replace_by_request.
func streamReason(ch *planner.Change) string {
	switch r := planner.ActionReason(ch); r {
	case "replace_because_cannot_update":
		return "cannot_update"
	case "replace_by_request":
		return "requested"
	default:
		return r
	}
}

// resInfo is what the stream needs of an address.
type resInfo struct {
	typ, name, index string
	hasIndex         bool
}

// plan writes the planned changes: resource_drift per unmanaged resource,
// planned_change per change and move with something to do, and
// change_summary. An errored plan has no planned changes or summary (as in
// Terraform): its diagnostics say why.
func (s *uiStream) plan(p *planner.Plan) {
	if p.Errored {
		return
	}
	t := now()
	for _, d := range p.Drift {
		c := resourceChange{Resource: newResourceAddr(d.Address, d.Type, d.Name, false, ""), Action: "create"}
		s.emit(t, "info", fmt.Sprintf("%s: Drift detected (create)", d.Address), msgResourceDrift, "change", c)
	}
	for _, ch := range p.Changes {
		if ch.Action == planner.NoOp {
			continue
		}
		c := resourceChange{Resource: newResourceAddr(ch.Address, ch.Type, ch.Name, ch.HasIndex, ch.Index),
			Action: streamAction(ch.Action), Reason: streamReason(ch)}
		s.emit(t, "info", fmt.Sprintf("%s: Plan to %s", ch.Address, c.Action), msgPlannedChange, "change", c)
	}
	for _, mv := range p.Moves {
		if mv.Action() == planner.NoOp {
			continue
		}
		c := resourceChange{Resource: newResourceAddr(mv.Address, planner.MoveType, mv.Name, mv.HasIndex, mv.Index), Action: "update"}
		s.emit(t, "info", fmt.Sprintf("%s: Plan to update (move %d objects, %d bytes)", mv.Address, mv.Objects, mv.Bytes),
			msgPlannedChange, "change", c, "b2plan_objects", mv.Objects, "b2plan_bytes", mv.Bytes)
	}
	sum := p.Summary()
	cs := changeSummary{Add: sum.Add, Change: sum.Change, Remove: sum.Destroy, Operation: "plan",
		B2planReplace: sum.Replace, B2planObjects: sum.Objects, B2planBytes: sum.Bytes}
	msg := fmt.Sprintf("Plan: %d to add, %d to change, %d to destroy.", cs.Add, cs.Change, cs.Remove)
	s.emit(t, "info", msg, msgChangeSummary, "changes", cs)
}

// streamView is the apply view of apply -json.
type streamView struct {
	s *uiStream

	mu      sync.Mutex
	res     map[string]resInfo
	started map[string]time.Time // by address + phase
	moves   map[string]*streamMove
	// movedCount is the number of moves that moved objects.
	movedCount int
	// destroy: the plan is a destroy plan, summarised as Terraform's destroy
	// (change_summary operation "destroy").
	destroy bool
}

type streamMove struct {
	started, lastProgress, lastStill time.Time
	total, bytesTotal                int64
	done, bytes, failed, skipped     int64
}

func newStreamView(m *Meta) *streamView {
	return &streamView{s: m.startStream(m.Stdout), res: map[string]resInfo{}, started: map[string]time.Time{},
		moves: map[string]*streamMove{}}
}

// startStream begins the machine-readable stream on w: from here on, every
// error the command reports (Errorf, WriteDiagnostics) is also a diagnostic
// message of the stream.
func (m *Meta) startStream(w io.Writer) *uiStream {
	m.stream = newUIStream(m, w)
	return m.stream
}

func (v *streamView) index(p *planner.Plan) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, ch := range p.Changes {
		v.res[ch.Address] = resInfo{ch.Type, ch.Name, ch.Index, ch.HasIndex}
	}
	for _, mv := range p.Moves {
		v.res[mv.Address] = resInfo{planner.MoveType, mv.Name, mv.Index, mv.HasIndex}
	}
}

func (v *streamView) plan(p *planner.Plan) {
	v.destroy = p.Destroy
	v.index(p)
	v.s.plan(p)
	if !p.Errored && !p.HasActions() {
		// Nothing to apply: the apply is complete at once, as in Terraform.
		v.summary(executor.Result{}, nil)
	}
}

func (v *streamView) savedPlan(path string, p *planner.Plan) {
	v.destroy = p.Destroy
	v.index(p)
	v.s.emit(now(), "info", fmt.Sprintf("Applying the saved plan %s (id %s)", path, p.ID), msgLog)
	v.s.plan(p)
}

func (v *streamView) start(p *planner.Plan) {}

func (v *streamView) addr(address string) resourceAddr {
	v.mu.Lock()
	ri, ok := v.res[address]
	v.mu.Unlock()
	if !ok { // not in the plan (cannot happen): derive type and name from the address
		typ, name, _ := strings.Cut(address, ".")
		ri = resInfo{typ: typ, name: name}
	}
	return newResourceAddr(address, ri.typ, ri.name, ri.hasIndex, ri.index)
}

// hookAction is the action of an apply hook: each half of a key
// replacement is its own create or delete, as in Terraform.
func hookAction(e executor.Event) string {
	if e.Action == planner.Replace && (e.Phase == "create" || e.Phase == "delete") {
		return e.Phase
	}
	return streamAction(e.Action)
}

var (
	startVerbs = map[string]string{"create": "Creating...", "update": "Modifying...", "delete": "Destroying...", "replace": "Replacing..."}
	nouns      = map[string]string{"create": "Creation", "update": "Modifications", "delete": "Destruction", "replace": "Replacement"}
)

type hook struct {
	Resource resourceAddr `json:"resource"`
	Action   string       `json:"action"`
	IDKey    string       `json:"id_key,omitempty"`
	IDValue  string       `json:"id_value,omitempty"`
	Elapsed  *float64     `json:"elapsed_seconds,omitempty"`
}

func elapsed(d time.Duration) *float64 {
	s := d.Seconds()
	return &s
}

func (v *streamView) Event(e executor.Event) {
	t := e.Time
	if t.IsZero() {
		t = now()
	}
	key := e.Address + "\x00" + e.Phase
	act := hookAction(e)
	switch e.Kind {
	case executor.ResourceStart:
		v.mu.Lock()
		v.started[key] = t
		v.mu.Unlock()
		v.s.emit(t, "info", e.Address+": "+startVerbs[act], msgApplyStart, "hook", hook{Resource: v.addr(e.Address), Action: act})
	case executor.ResourceDone, executor.ResourceFailed:
		v.mu.Lock()
		el := t.Sub(v.started[key])
		if v.started[key].IsZero() {
			el = 0
		}
		v.mu.Unlock()
		h := hook{Resource: v.addr(e.Address), Action: act, Elapsed: elapsed(el)}
		if e.Kind == executor.ResourceDone {
			msg := fmt.Sprintf("%s: %s complete after %s", e.Address, nouns[act], el.Round(time.Second))
			if e.Message != "" {
				msg += " (" + e.Message + ")"
			}
			v.s.emit(t, "info", msg, msgApplyComplete, "hook", h)
			return
		}
		if e.Action == planner.MoveObjects {
			h.Action = "update"
		}
		v.s.emit(t, "error", fmt.Sprintf("%s: %s errored after %s", e.Address, nouns[h.Action], el.Round(time.Second)), msgApplyErrored, "hook", h)
		v.s.diagnostic(JSONDiagnostic{Severity: "error", Summary: e.Address + ": " + errText(e.Err)})
	case executor.MoveStart:
		v.mu.Lock()
		v.moves[e.Address] = &streamMove{started: t, lastProgress: t, lastStill: t, total: e.Objects, bytesTotal: e.Bytes}
		v.mu.Unlock()
		a := v.addr(e.Address)
		v.s.emit(t, "info", e.Address+": Modifying...", msgApplyStart, "hook", hook{Resource: a, Action: "update"})
		v.s.emit(t, "info", fmt.Sprintf("%s: Moving %d objects (%d bytes)...", e.Address, e.Objects, e.Bytes), msgMoveStart,
			"move", map[string]any{"resource": a, "objects": e.Objects, "bytes": e.Bytes})
	case executor.ObjectDone, executor.ObjectFailed, executor.ObjectSkipped:
		v.object(t, e)
	case executor.Note:
		msg := e.Address + ": " + e.Message
		if e.Object != "" {
			msg = e.Address + ": " + e.Object + ": " + e.Message
		}
		v.s.emit(t, "info", msg, msgLog)
	case executor.MoveDone:
		v.mu.Lock()
		mp := v.moves[e.Address]
		delete(v.moves, e.Address)
		if e.Objects > 0 {
			v.movedCount++
		}
		v.mu.Unlock()
		if mp == nil {
			mp = &streamMove{started: t}
		}
		el := t.Sub(mp.started)
		a := v.addr(e.Address)
		interrupted := e.Message == "interrupted"
		v.s.emit(t, "info", fmt.Sprintf("%s: %d objects (%d bytes) moved, %d failed, %d skipped", e.Address, e.Objects, e.Bytes, mp.failed, mp.skipped),
			msgMoveComplete, "move", map[string]any{"resource": a, "objects": e.Objects, "bytes": e.Bytes, "failed": mp.failed,
				"skipped": mp.skipped, "planned_objects": mp.total, "interrupted": interrupted, "elapsed_seconds": el.Seconds()})
		h := hook{Resource: a, Action: "update", Elapsed: elapsed(el)}
		if mp.failed > 0 || interrupted {
			v.s.emit(t, "error", fmt.Sprintf("%s: Modifications errored after %s", e.Address, el.Round(time.Second)), msgApplyErrored, "hook", h)
			return
		}
		v.s.emit(t, "info", fmt.Sprintf("%s: Modifications complete after %s", e.Address, el.Round(time.Second)), msgApplyComplete, "hook", h)
	}
}

func errText(err error) string {
	if err == nil {
		return "failed"
	}
	return err.Error()
}

// object counts one object of a move and writes progress at a bounded rate:
// b2plan_move_progress at most every moveProgressEvery, apply_progress
// every applyProgressEvery, and at most maxStreamObjectLines failed / skipped
// lines per move.
func (v *streamView) object(t time.Time, e executor.Event) {
	v.mu.Lock()
	mp := v.moves[e.Address]
	if mp == nil {
		mp = &streamMove{started: t, lastProgress: t, lastStill: t}
		v.moves[e.Address] = mp
	}
	var detail bool
	switch e.Kind {
	case executor.ObjectDone:
		mp.done++
		mp.bytes += e.Bytes
	case executor.ObjectFailed:
		mp.failed++
		detail = mp.failed <= maxStreamObjectLines
	case executor.ObjectSkipped:
		mp.skipped++
		detail = mp.skipped <= maxStreamObjectLines
	}
	progress := t.Sub(mp.lastProgress) >= moveProgressEvery
	if progress {
		mp.lastProgress = t
	}
	still := t.Sub(mp.lastStill) >= applyProgressEvery
	if still {
		mp.lastStill = t
	}
	snap := *mp
	v.mu.Unlock()

	a := v.addr(e.Address)
	switch {
	case detail && e.Kind == executor.ObjectFailed:
		v.s.emit(t, "error", fmt.Sprintf("%s: %s: failed: %s", e.Address, e.Object, errText(e.Err)), msgObjectFailed,
			"object", map[string]any{"resource": a, "object": e.Object, "destination": e.Dest, "error": errText(e.Err)})
	case detail && e.Kind == executor.ObjectSkipped:
		v.s.emit(t, "warn", fmt.Sprintf("%s: %s: skipped: %s", e.Address, e.Object, e.Message), msgObjectSkipped,
			"object", map[string]any{"resource": a, "object": e.Object, "destination": e.Dest, "reason": e.Message})
	}
	el := t.Sub(snap.started)
	if progress {
		v.s.emit(t, "info", fmt.Sprintf("%s: %d/%d objects, %d/%d bytes", e.Address, snap.done, snap.total, snap.bytes, snap.bytesTotal),
			msgMoveProgress, "move", map[string]any{"resource": a, "objects": snap.done, "bytes": snap.bytes,
				"planned_objects": snap.total, "planned_bytes": snap.bytesTotal, "failed": snap.failed, "skipped": snap.skipped,
				"elapsed_seconds": el.Seconds()})
	}
	if still {
		v.s.emit(t, "info", fmt.Sprintf("%s: Still modifying... [%s elapsed]", e.Address, el.Round(time.Second)), msgApplyProgress,
			"hook", hook{Resource: a, Action: "update", Elapsed: elapsed(el)})
	}
}

func (v *streamView) finish(res executor.Result, err error) { v.summary(res, err) }

// summary writes the end of an apply: change_summary (operation "apply",
// counted as Terraform counts: a replacement is 1 added and 1 destroyed, a
// move that moved objects 1 changed), b2plan_apply_summary with everything
// else, and outputs (b2plan has none).
func (v *streamView) summary(res executor.Result, err error) {
	t := now()
	cs := applySummary(res, v.movesDone())
	counts := cs.line()
	if v.destroy {
		cs.Operation, counts = "destroy", destroyedLine(res)
	}
	op := operationWord(v.destroy)
	level, msg := "info", op+" complete! "+counts
	switch {
	case res.Interrupted:
		level, msg = "error", op+" interrupted. "+counts
	case res.Incomplete && len(res.Failures) == 0:
		level, msg = "warn", op+" incomplete: the time budget (-max-duration) ran out; run plan and apply again to carry on. "+counts
	case err != nil:
		level, msg = "error", op+" failed. "+counts
	}
	v.s.emit(t, level, msg, msgChangeSummary, "changes", cs)
	fails := []map[string]string{}
	for _, f := range res.Failures {
		fails = append(fails, map[string]string{"address": f.Address, "object": f.Object, "error": errText(f.Err)})
	}
	skips := []map[string]string{}
	for _, s := range res.Skipped {
		skips = append(skips, map[string]string{"address": s.Address, "object": s.Object, "reason": s.Reason})
	}
	secrets := res.SecretFiles
	if secrets == nil {
		secrets = []string{}
	}
	status := "complete"
	switch {
	case res.Interrupted:
		status = "interrupted"
	case res.Incomplete && len(res.Failures) == 0:
		status = "incomplete" // -max-duration ran out with work left: run again (exit 75)
	case err != nil:
		status = "failed"
	}
	v.s.emit(t, level, fmt.Sprintf("b2plan: apply %s; %d objects moved (%d bytes), %d failures, %d skipped", status, res.Moved, res.MovedBytes, len(res.Failures), len(res.Skipped)),
		msgApplySummary, "summary", map[string]any{"status": status, "added": res.Added, "changed": res.Changed, "replaced": res.Replaced,
			"destroyed": res.Destroyed, "objects_moved": res.Moved, "bytes_moved": res.MovedBytes, "failures": fails,
			"skipped": skips, "secret_files": secrets, "cancelled": res.Cancelled, "not_started": res.NotStarted})
	if err != nil { // what failed in one line; resource failures also have their own diagnostics
		v.s.diagnostic(JSONDiagnostic{Severity: "error", Summary: errText(err)})
	}
	v.s.emit(t, "info", "Outputs: 0", msgOutputs, "outputs", map[string]any{})
}

// applySummary counts an apply as Terraform does: a replacement is 1 added
// and 1 destroyed, a move that moved objects 1 changed (moves is how many
// did). It is the one rule behind the human and the JSON apply summaries.
func applySummary(res executor.Result, moves int) changeSummary {
	return changeSummary{Add: res.Added + res.Replaced, Change: res.Changed + moves, Remove: res.Destroyed + res.Replaced,
		Operation: "apply", B2planReplace: res.Replaced, B2planObjects: res.Moved, B2planBytes: res.MovedBytes}
}

// destroyedLine is Terraform's count of a destroy: "Resources: N destroyed.".
func destroyedLine(res executor.Result) string {
	return fmt.Sprintf("Resources: %d destroyed.", res.Destroyed+res.Replaced)
}

// operationWord names what ran in the summary: Terraform says "Destroy
// complete!" after a destroy plan, "Apply complete!" otherwise.
func operationWord(destroy bool) string {
	if destroy {
		return "Destroy"
	}
	return "Apply"
}

// line is Terraform's "Resources: N added, N changed, N destroyed.".
func (cs changeSummary) line() string {
	return fmt.Sprintf("Resources: %d added, %d changed, %d destroyed.", cs.Add, cs.Change, cs.Remove)
}

// extras is b2plan's second summary line ("" when there is nothing to add).
func (cs changeSummary) extras() string {
	var parts []string
	if cs.B2planReplace > 0 {
		one := "key replacement"
		if cs.B2planReplace > 1 {
			one += "s"
		}
		parts = append(parts, fmt.Sprintf("%d %s (each 1 added and 1 destroyed)", cs.B2planReplace, one))
	}
	if cs.B2planObjects > 0 {
		parts = append(parts, fmt.Sprintf("%s objects moved (%s)", planner.Commas(cs.B2planObjects), planner.HumanBytes(cs.B2planBytes)))
	}
	if len(parts) == 0 {
		return ""
	}
	return "b2plan: " + strings.Join(parts, ", ") + "."
}

// movesDone is the number of moves that moved objects (each counts as one
// changed resource).
func (v *streamView) movesDone() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.movedCount
}
