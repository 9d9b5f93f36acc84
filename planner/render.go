package planner

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/b2plan/b2plan/live"
)

// RenderOptions control the human plan.
type RenderOptions struct {
	// Color enables ANSI colours (the CLI decides: a terminal and no -no-color).
	Color bool
	// Sample is the number of object names shown per move (default 10).
	Sample int
}

const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiRed    = "\x1b[31m"
	ansiCyan   = "\x1b[36m"
	ansiDim    = "\x1b[90m" // Terraform's dark gray: folded content
)

type hw struct {
	w     *bufio.Writer
	color bool
}

func (h *hw) c(code, s string) string {
	if !h.color || s == "" {
		return s
	}
	return code + s + ansiReset
}

func (h *hw) f(format string, args ...any) { fmt.Fprintf(h.w, format, args...) }

func actionColor(a Action) string {
	switch a {
	case Create:
		return ansiGreen
	case Update:
		return ansiYellow
	case Replace, Delete:
		return ansiRed
	case MoveObjects:
		return ansiCyan
	}
	return ""
}

// sensitiveText is how every rendering shows a sensitive attribute (config.SensitiveText).
const sensitiveText = "(sensitive value)"

func attrText(a Attr) string {
	if a.Sensitive {
		return sensitiveText
	}
	if a.Unknown {
		return "(known after apply)"
	}
	if len(a.Value) == 0 {
		return "null"
	}
	return string(a.Value)
}

// SummaryLine is the last line of a human plan.
func (p *Plan) SummaryLine() string {
	if !p.HasChanges() {
		return "No changes. Live B2 matches the configuration."
	}
	c := p.Counts()
	line := fmt.Sprintf("Plan: %d to add, %d to change, %d to replace, %d to destroy, %d objects to move.",
		c.Add, c.Change, c.Replace, c.Destroy, c.Objects)
	var left, cancel int
	for _, m := range p.Moves {
		left += m.Remaining()
		cancel += len(m.Abandoned)
	}
	if cancel > 0 {
		line += fmt.Sprintf(" %d abandoned copies to cancel.", cancel)
	}
	if left > 0 {
		line += fmt.Sprintf(" %d objects remain under move sources (listed above with the reason).", left)
	}
	return line
}

// RenderHuman writes the Terraform-like human plan (SPEC §2.1).
func RenderHuman(w io.Writer, p *Plan, o RenderOptions) error {
	if o.Sample <= 0 {
		o.Sample = 10
	}
	h := &hw{w: bufio.NewWriter(w), color: o.Color}
	if p.HasActions() {
		h.f("b2plan will perform the following actions:\n")
	}
	for _, ch := range p.Changes {
		renderChange(h, ch)
	}
	for _, m := range p.Moves {
		renderMove(h, m, o.Sample)
	}
	var notes []string
	for _, ch := range p.Changes {
		if ch.Action == NoOp {
			for _, n := range ch.Notes {
				notes = append(notes, ch.Address+": "+n)
			}
		}
	}
	notes = append(notes, p.Notes...)
	if len(p.Targets) > 0 { // also in show: the saved plan says it is partial
		notes = append(notes, "-target="+strings.Join(p.Targets, ", -target=")+": only these addresses and what they depend on are planned; the plan may be incomplete")
	}
	if len(p.Drift) > 0 {
		h.f("\n%s\n", h.c(ansiBold, "Unmanaged resources (they match b2plan.owns but are not declared):"))
		for _, d := range p.Drift {
			state := "will be destroyed (prune = true)"
			if !d.Deleted {
				state = d.Note
			}
			h.f("  # %s %s %q (id %s): %s\n", d.Address, d.Type, d.Name, d.ID, state)
		}
	}
	if len(notes) > 0 {
		h.f("\nNotes:\n")
		for _, n := range notes {
			h.f("  - %s\n", n)
		}
	}
	h.f("\n%s\n", h.c(ansiBold, p.SummaryLine()))
	return h.w.Flush()
}

func renderChange(h *hw, ch *Change) {
	if ch.Action == NoOp {
		return
	}
	var what string
	switch ch.Action {
	case Create:
		what = "will be created"
	case Update:
		what = "will be updated in-place"
	case Replace:
		what = "must be replaced (create the new key, then delete the old one)"
	case Delete:
		what = "will be destroyed"
	}
	h.f("\n  %s\n", h.c(ansiBold, "# "+ch.Address+" "+what))
	if ch.Reason != "" {
		h.f("  # (%s)\n", ch.Reason)
	}
	sym := h.c(actionColor(ch.Action), fmt.Sprintf("%3s", ch.Action.Symbol()))
	if ch.Action == Replace { // Terraform: a red "-", a green "+"
		sym = h.c(ansiRed, "-") + "/" + h.c(ansiGreen, "+")
	}
	label := strconv.Quote(ch.Name)
	if ch.HasIndex {
		label += fmt.Sprintf("[%q]", ch.Index)
	}
	h.f("%s %s %s {\n", sym, ch.Type, label)
	width := 0
	attrs := ch.After
	if ch.Action == Delete {
		attrs = ch.Before
	}
	for _, a := range attrs {
		if len(a.Name) > width {
			width = len(a.Name)
		}
	}
	switch ch.Action {
	case Create:
		for _, a := range ch.After {
			if string(a.Value) == "null" && !a.Unknown {
				continue
			}
			h.attr("+", width, a)
		}
	case Delete:
		for _, a := range ch.Before {
			h.attr("-", width, a)
		}
	case Update, Replace:
		before := map[string]Attr{}
		for _, a := range ch.Before {
			before[a.Name] = a
		}
		changed := map[string]bool{}
		for _, n := range ch.Changed {
			changed[n] = true
		}
		hidden := 0
		for _, a := range ch.After {
			b, had := before[a.Name]
			switch {
			case changed[a.Name] || (had && a.Unknown && !b.Unknown && ch.Action == Replace):
				h.changedAttr(width, b, a)
			case !had && string(a.Value) != "null":
				h.attr("+", width, a)
			default:
				hidden++
			}
		}
		h.hidden(6, hidden, "attribute")
	}
	h.f("    }\n")
	for _, n := range ch.Notes {
		h.f("  # note: %s\n", n)
	}
}

type elemDiff struct {
	op   byte // '+', '-' or ' '
	elem string
}

// listDiff lists the elements of before and after once each, marking those
// only in after (+) and only in before (-). Sorted lists (capabilities,
// buckets) are merged in order; otherwise after's order is kept and the
// removed elements follow.
func listDiff(before, after []string) []elemDiff {
	inB := make(map[string]bool, len(before))
	for _, e := range before {
		inB[e] = true
	}
	inA := make(map[string]bool, len(after))
	for _, e := range after {
		inA[e] = true
	}
	var out []elemDiff
	if sort.StringsAreSorted(before) && sort.StringsAreSorted(after) {
		i, j := 0, 0
		for i < len(before) || j < len(after) {
			switch {
			case j == len(after) || (i < len(before) && before[i] < after[j]):
				out = append(out, elemDiff{'-', before[i]})
				i++
			case i == len(before) || after[j] < before[i]:
				out = append(out, elemDiff{'+', after[j]})
				j++
			default:
				out = append(out, elemDiff{' ', after[j]})
				i++
				j++
			}
		}
		return out
	}
	for _, e := range after {
		op := byte('+')
		if inB[e] {
			op = ' '
		}
		out = append(out, elemDiff{op, e})
	}
	for _, e := range before {
		if !inA[e] {
			out = append(out, elemDiff{'-', e})
		}
	}
	return out
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
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// SampleLines returns up to n lines "source -> destination" for the first
// source names of a move, and the number of names left out.
func (m *Move) SampleLines(n int) (lines []string, more int) {
	last := ""
	count := 0
	for i, op := range m.Ops {
		name := m.Sources[op.Src].Name
		if i > 0 && name == last {
			continue
		}
		last = name
		count++
		if len(lines) >= n {
			continue
		}
		copies, verify, hideOnly := false, false, true
		for _, o := range m.Ops[i:] {
			if m.Sources[o.Src].Name != name {
				break
			}
			switch o.Kind {
			case OpCopy, OpCopyLarge:
				copies = true
			case OpVerify:
				verify = true
			}
			if m.Sources[o.Src].Action != live.ActionHide {
				hideOnly = false
			}
		}
		switch {
		case hideOnly:
			lines = append(lines, name+" (hide markers only, no content: removed)")
		case copies:
			lines = append(lines, name+" -> "+m.DestName(op))
		case verify:
			lines = append(lines, name+" (at "+m.DestName(op)+" without a SHA-1: compared by download, then source removal)")
		default:
			lines = append(lines, name+" (already at "+m.DestName(op)+": source removal only)")
		}
	}
	return lines, count - len(lines)
}

func renderMove(h *hw, m *Move, sample int) {
	if len(m.Ops) == 0 && len(m.Conflicts) == 0 && len(m.Locked) == 0 && len(m.Unfinished) == 0 &&
		len(m.Hidden) == 0 && len(m.Notes) == 0 && len(m.Abandoned) == 0 && len(m.Unprotected) == 0 {
		return
	}
	if len(m.Ops) > 0 {
		h.f("\n  %s\n", h.c(ansiBold, fmt.Sprintf("# %s will move %s objects (%s)", m.Address, commas(int64(m.Objects)), humanBytes(m.Bytes))))
	} else {
		h.f("\n  %s\n", h.c(ansiBold, fmt.Sprintf("# %s has nothing to move", m.Address)))
	}
	label := strconv.Quote(m.Name)
	if m.HasIndex {
		label += fmt.Sprintf("[%q]", m.Index)
	}
	h.f("%s move %s {\n", h.c(ansiCyan, fmt.Sprintf("%3s", m.Action().Symbol())), label)
	h.f("        from        = %q (bucket %s)\n", m.From, m.Bucket)
	h.f("        to          = %q (bucket %s)\n", m.To, m.ToBucket)
	h.f("        policy      = versions %s, source %s, on_conflict %s", m.Versions, m.Source, m.OnConflict)
	if m.Verify != "" {
		h.f(", verify %s", m.Verify)
	}
	h.f("\n")
	h.f("        objects     = %s (%s bytes)\n", commas(int64(m.Objects)), commas(m.Bytes))
	h.f("        operations  = %s copies", commas(int64(m.Copies)))
	if m.LargeCopies > 0 {
		h.f(" (%s large, %s parts)", commas(int64(m.LargeCopies)), commas(int64(m.Parts)))
	}
	h.f(", %s version deletes, %s hide markers\n", commas(int64(m.Deletes)), commas(int64(m.Hides)))
	if m.AlreadyCopied > 0 {
		h.f("        already at the destination (source removal only) = %s\n", commas(int64(m.AlreadyCopied)))
	}
	if m.Verifies > 0 {
		h.f("        compared by download (verify) = %s (%s downloaded)\n", commas(int64(m.Verifies)), humanBytes(m.VerifyBytes))
	}
	h.f("        calls       = class A %s, class B %s, class C %s (estimate)\n",
		commas(m.Calls.ClassA), commas(m.Calls.ClassB), commas(m.Calls.ClassC))
	if lines, more := m.SampleLines(sample); len(lines) > 0 {
		h.f("        sample:\n")
		for _, l := range lines {
			h.f("          %s\n", l)
		}
		if more > 0 {
			h.f("          … and %s more\n", commas(int64(more)))
		}
	}
	if len(m.Conflicts) > 0 {
		h.f("        conflicts (%d):\n", len(m.Conflicts))
		for _, c := range m.Conflicts {
			h.f("          %s -> %s: %s", c.Source, c.Dest, c.Reason)
			if c.DestID != "" {
				h.f(" (source %d bytes sha1 %s, destination %d bytes sha1 %s)", c.SourceSize, orNone(c.SourceSHA1), c.DestSize, orNone(c.DestSHA1))
			}
			h.f(" [%s]\n", c.Resolution)
		}
	}
	if len(m.Locked) > 0 {
		h.f("        locked (left in place, %d versions):\n", len(m.Locked))
		for _, l := range m.Locked {
			var why []string
			if l.Mode != "" {
				s := "retention " + l.Mode
				if l.RetainUntil > 0 {
					s += " until " + time.UnixMilli(l.RetainUntil).UTC().Format(time.RFC3339)
				}
				why = append(why, s)
			}
			if l.LegalHold != "" {
				why = append(why, "legal hold "+l.LegalHold)
			}
			h.f("          %s (%s): %s\n", l.Name, l.FileID, strings.Join(why, ", "))
		}
	}
	if len(m.Unfinished) > 0 {
		h.f("        unfinished large files (left alone, %d):\n", len(m.Unfinished))
		for _, u := range m.Unfinished {
			h.f("          %s (%s) started %s\n", u.Name, u.FileID, time.UnixMilli(u.Started).UTC().Format(time.RFC3339))
		}
	}
	if len(m.Unprotected) > 0 {
		h.f("        copies that will be unprotected (source under Object Lock, copy without it, %d):\n", len(m.Unprotected))
		for _, l := range m.Unprotected {
			h.f("          %s (%s)\n", l.Name, l.FileID)
		}
	}
	if len(m.Abandoned) > 0 {
		h.f("        abandoned copies (unfinished large files b2plan started; cancelled first, %d):\n", len(m.Abandoned))
		for _, u := range m.Abandoned {
			h.f("          %s (%s) started %s\n", u.Name, u.FileID, time.UnixMilli(u.Started).UTC().Format(time.RFC3339))
		}
	}
	if r := m.Remaining(); r > 0 {
		h.f("        remaining under the source after this apply = %s names (reasons below)\n", commas(int64(r)))
	}
	if len(m.Hidden) > 0 {
		h.f("        hidden names left alone (newest version is a hide marker; versions = \"all\" moves them): %d\n", len(m.Hidden))
		for i, n := range m.Hidden {
			if i == sample {
				h.f("          … and %s more\n", commas(int64(len(m.Hidden)-sample)))
				break
			}
			h.f("          %s\n", n)
		}
	}
	for _, n := range m.Notes {
		h.f("        # note: %s\n", n)
	}
	h.f("    }\n")
}

func orNone(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// JSON document (SPEC §2.1).

type jsonPlan struct {
	FormatVersion   string         `json:"format_version"`
	PlanID          string         `json:"plan_id"`
	CreatedAt       string         `json:"created_at"`
	Endpoint        string         `json:"endpoint,omitempty"`
	AccountID       string         `json:"account_id,omitempty"`
	Targets         []string       `json:"targets,omitempty"`
	ResourceChanges []jsonResource `json:"resource_changes"`
	ResourceDrift   []jsonDrift    `json:"resource_drift"`
	ObjectMoves     []jsonMove     `json:"object_moves"`
	Summary         jsonSummary    `json:"summary"`
	HasChanges      bool           `json:"has_changes"`
}

type jsonSummary struct {
	Add     int   `json:"add"`
	Change  int   `json:"change"`
	Replace int   `json:"replace"`
	Destroy int   `json:"destroy"`
	Objects int64 `json:"objects_to_move"`
}

type jsonResource struct {
	Address      string     `json:"address"`
	Type         string     `json:"type"`
	Name         string     `json:"name"`
	Index        *string    `json:"index,omitempty"`
	Change       jsonChange `json:"change"`
	ActionReason string     `json:"action_reason,omitempty"`
	Notes        []string   `json:"notes,omitempty"`
}

// jsonChange is Terraform's change object. A sensitive attribute is null in before/after and
// true in before_sensitive/after_sensitive (which are false when before/after is null, as in
// Terraform). Unlike Terraform, which prints sensitive values in its JSON plan, b2plan never
// holds them in a plan.
type jsonChange struct {
	Actions         []string                   `json:"actions"`
	Before          map[string]json.RawMessage `json:"before"`
	After           map[string]json.RawMessage `json:"after"`
	AfterUnknown    map[string]bool            `json:"after_unknown"`
	BeforeSensitive any                        `json:"before_sensitive"`
	AfterSensitive  any                        `json:"after_sensitive"`
}

// sensitiveMap is before_sensitive / after_sensitive for an attribute list.
func sensitiveMap(list []Attr) any {
	if list == nil {
		return false
	}
	out := map[string]bool{}
	for _, a := range list {
		if a.Sensitive {
			out[a.Name] = true
		}
	}
	return out
}

type jsonDrift struct {
	Address string   `json:"address"`
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	ID      string   `json:"id"`
	Actions []string `json:"actions"`
	Note    string   `json:"note,omitempty"`
}

type jsonMove struct {
	Address       string       `json:"address"`
	Bucket        string       `json:"bucket"`
	ToBucket      string       `json:"to_bucket"`
	From          string       `json:"from"`
	To            string       `json:"to"`
	Versions      string       `json:"versions"`
	Source        string       `json:"source"`
	OnConflict    string       `json:"on_conflict"`
	Actions       []string     `json:"actions"`
	Objects       int          `json:"objects"`
	Bytes         int64        `json:"bytes"`
	Copies        int          `json:"copies"`
	LargeCopies   int          `json:"large_copies"`
	Parts         int          `json:"parts"`
	Deletes       int          `json:"deletes"`
	Hides         int          `json:"hides"`
	AlreadyCopied int          `json:"already_copied"`
	Verify        string       `json:"verify,omitempty"`
	Verifies      int          `json:"verifies"`
	VerifyBytes   int64        `json:"verify_bytes"`
	Sample        []string     `json:"sample"`
	Conflicts     []Conflict   `json:"conflicts"`
	Locked        []Locked     `json:"locked"`
	Unfinished    []Unfinished `json:"unfinished"`
	Abandoned     []Unfinished `json:"abandoned"`
	Unprotected   []Locked     `json:"unprotected,omitempty"`
	Remaining     int          `json:"remaining"`
	Hidden        int          `json:"hidden"`
	Calls         Calls        `json:"calls"`
	Notes         []string     `json:"notes,omitempty"`
}

func attrMap(list []Attr, unknown map[string]bool) map[string]json.RawMessage {
	if list == nil {
		return nil
	}
	out := make(map[string]json.RawMessage, len(list))
	for _, a := range list {
		if a.Sensitive {
			out[a.Name] = json.RawMessage("null")
			continue
		}
		if a.Unknown {
			out[a.Name] = json.RawMessage("null")
			if unknown != nil {
				unknown[a.Name] = true
			}
			continue
		}
		if len(a.Value) == 0 {
			out[a.Name] = json.RawMessage("null")
		} else {
			out[a.Name] = a.Value
		}
	}
	return out
}

// JSONDocument builds the JSON plan document.
func JSONDocument(p *Plan) any {
	c := p.Counts()
	doc := jsonPlan{FormatVersion: p.FormatVersion, PlanID: p.ID, CreatedAt: p.CreatedAt.UTC().Format(time.RFC3339),
		Endpoint: p.Endpoint, AccountID: p.AccountID, Targets: p.Targets,
		ResourceChanges: []jsonResource{}, ResourceDrift: []jsonDrift{}, ObjectMoves: []jsonMove{},
		Summary:    jsonSummary{c.Add, c.Change, c.Replace, c.Destroy, c.Objects},
		HasChanges: p.HasChanges()}
	if doc.FormatVersion == "" {
		doc.FormatVersion = FormatVersion
	}
	for _, ch := range p.Changes {
		r := jsonResource{Address: ch.Address, Type: ch.Type, Name: ch.Name, ActionReason: ch.Reason, Notes: ch.Notes}
		if ch.HasIndex {
			idx := ch.Index
			r.Index = &idx
		}
		unk := map[string]bool{}
		r.Change = jsonChange{Actions: ch.Action.JSONActions(), Before: attrMap(ch.Before, nil),
			After: attrMap(ch.After, unk), AfterUnknown: unk}
		if ch.Action == Delete {
			r.Change.After = nil
		}
		if ch.Action == Create {
			r.Change.Before = nil
		}
		r.Change.BeforeSensitive, r.Change.AfterSensitive = false, false
		if r.Change.Before != nil {
			r.Change.BeforeSensitive = sensitiveMap(ch.Before)
		}
		if r.Change.After != nil {
			r.Change.AfterSensitive = sensitiveMap(ch.After)
		}
		doc.ResourceChanges = append(doc.ResourceChanges, r)
	}
	for _, d := range p.Drift {
		a := []string{"no-op"}
		if d.Deleted {
			a = []string{"delete"}
		}
		doc.ResourceDrift = append(doc.ResourceDrift, jsonDrift{Address: d.Address, Type: d.Type, Name: d.Name, ID: d.ID, Actions: a, Note: d.Note})
	}
	for _, m := range p.Moves {
		sample, _ := m.SampleLines(10)
		jm := jsonMove{Address: m.Address, Bucket: m.Bucket, ToBucket: m.ToBucket, From: m.From, To: m.To,
			Versions: m.Versions, Source: m.Source, OnConflict: m.OnConflict, Actions: m.Action().JSONActions(),
			Objects: m.Objects, Bytes: m.Bytes, Copies: m.Copies, LargeCopies: m.LargeCopies, Parts: m.Parts,
			Deletes: m.Deletes, Hides: m.Hides, AlreadyCopied: m.AlreadyCopied, Sample: nonNil(sample),
			Verify: m.Verify, Verifies: m.Verifies, VerifyBytes: m.VerifyBytes,
			Conflicts: m.Conflicts, Locked: m.Locked, Unfinished: m.Unfinished, Hidden: len(m.Hidden),
			Abandoned: nonNilU(m.Abandoned), Remaining: m.Remaining(), Unprotected: m.Unprotected,
			Calls: m.Calls, Notes: m.Notes}
		if jm.Conflicts == nil {
			jm.Conflicts = []Conflict{}
		}
		if jm.Locked == nil {
			jm.Locked = []Locked{}
		}
		if jm.Unfinished == nil {
			jm.Unfinished = []Unfinished{}
		}
		doc.ObjectMoves = append(doc.ObjectMoves, jm)
	}
	return doc
}

// RenderJSON writes the JSON plan document (one line, newline-terminated).
func RenderJSON(w io.Writer, p *Plan) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(JSONDocument(p))
}

func nonNilU(u []Unfinished) []Unfinished {
	if u == nil {
		return []Unfinished{}
	}
	return u
}
