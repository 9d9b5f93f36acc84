package planner

import (
	"bufio"
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

// HumanBytes writes n bytes in decimal units ("1.5 MB").
func HumanBytes(n int64) string {
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

// Commas writes n with thousands separators ("1,234,567").
func Commas(n int64) string {
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
	if m.Chunked() {
		lines = m.Sample[:min(n, len(m.Sample))]
		return lines, max(m.Objects-len(lines), 0)
	}
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
	if !m.HasOps() && len(m.Conflicts) == 0 && len(m.Locked) == 0 && len(m.Unfinished) == 0 &&
		len(m.Hidden) == 0 && len(m.Notes) == 0 && len(m.Abandoned) == 0 && len(m.Unprotected) == 0 {
		return
	}
	if m.HasOps() {
		h.f("\n  %s\n", h.c(ansiBold, fmt.Sprintf("# %s will move %s objects (%s)", m.Address, Commas(int64(m.Objects)), HumanBytes(m.Bytes))))
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
	h.f("        objects     = %s (%s bytes)\n", Commas(int64(m.Objects)), Commas(m.Bytes))
	h.f("        operations  = %s copies", Commas(int64(m.Copies)))
	if m.LargeCopies > 0 {
		h.f(" (%s large, %s parts)", Commas(int64(m.LargeCopies)), Commas(int64(m.Parts)))
	}
	h.f(", %s version deletes, %s hide markers\n", Commas(int64(m.Deletes)), Commas(int64(m.Hides)))
	if m.AlreadyCopied > 0 {
		h.f("        already at the destination (source removal only) = %s\n", Commas(int64(m.AlreadyCopied)))
	}
	if m.Verifies > 0 {
		h.f("        compared by download (verify) = %s (%s downloaded)\n", Commas(int64(m.Verifies)), HumanBytes(m.VerifyBytes))
	}
	h.f("        calls       = class A %s, class B %s, class C %s (estimate)\n",
		Commas(m.Calls.ClassA), Commas(m.Calls.ClassB), Commas(m.Calls.ClassC))
	if lines, more := m.SampleLines(sample); len(lines) > 0 {
		h.f("        sample:\n")
		for _, l := range lines {
			h.f("          %s\n", l)
		}
		if more > 0 {
			h.f("          … and %s more\n", Commas(int64(more)))
		}
	}
	if len(m.Conflicts) > 0 {
		h.f("        conflicts (%d%s):\n", m.NConflicts(), firstShown(len(m.Conflicts), m.NConflicts()))
		for _, c := range m.Conflicts {
			h.f("          %s -> %s: %s", c.Source, c.Dest, c.Reason)
			if c.DestID != "" {
				h.f(" (source %d bytes sha1 %s, destination %d bytes sha1 %s)", c.SourceSize, orNone(c.SourceSHA1), c.DestSize, orNone(c.DestSHA1))
			}
			h.f(" [%s]\n", c.Resolution)
		}
	}
	if len(m.Locked) > 0 {
		h.f("        locked (left in place, %d versions%s):\n", m.NLocked(), firstShown(len(m.Locked), m.NLocked()))
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
		h.f("        copies that will be unprotected (source under Object Lock, copy without it, %d%s):\n", m.NUnprotected(), firstShown(len(m.Unprotected), m.NUnprotected()))
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
		h.f("        remaining under the source after this apply = %s names (reasons below)\n", Commas(int64(r)))
	}
	if len(m.Hidden) > 0 {
		h.f("        hidden names left alone (newest version is a hide marker; versions = \"all\" moves them): %d\n", m.NHidden())
		for i, n := range m.Hidden {
			if i == sample {
				h.f("          … and %s more\n", Commas(int64(m.NHidden()-sample)))
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

// firstShown is the note of a list a chunked move cut at MaxListed entries.
func firstShown(shown, total int) string {
	if shown >= total {
		return ""
	}
	return fmt.Sprintf(", the first %s shown", Commas(int64(shown)))
}

func orNone(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
