package command

import (
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/b2plan/b2plan/b2client"
	"github.com/b2plan/b2plan/executor"
	"github.com/b2plan/b2plan/planner"
)

// progress is the state of the moves of an apply, as the text view shows it: one overall line
// (objects, bytes, rates, ETA across every move, retries and throttling) above a line per move.
// It does no I/O; times are passed in, so that tests need no clock.
type progress struct {
	moves  []*moveProgress
	byAddr map[string]*moveProgress
	// objects and bytes are the planned totals of every move.
	objects, bytes int64
	started        time.Time // the first MoveStart
	// retries and throttled count the retried calls (b2client.WithRetryHook), of the moves and
	// of everything else.
	retries, throttled atomic.Int64
}

type moveProgress struct {
	addr                             string
	objects, bytes                   int64 // planned
	done, doneBytes, failed, skipped int64
	state                            string // "waiting", "running", "done", "interrupted", "failed"
	started, ended                   time.Time
}

// movesMoved is how many moves moved objects.
func (g *progress) movesMoved() int {
	n := 0
	for _, m := range g.moves {
		if m.done > 0 {
			n++
		}
	}
	return n
}

func newProgress(p *planner.Plan) *progress {
	g := &progress{byAddr: map[string]*moveProgress{}}
	g.setPlan(p)
	return g
}

// setPlan lists the moves of p (with their planned totals) as waiting.
func (g *progress) setPlan(p *planner.Plan) {
	if p == nil {
		return
	}
	for _, m := range p.Moves {
		if !m.HasOps() || g.byAddr[m.Address] != nil {
			continue
		}
		mp := &moveProgress{addr: m.Address, objects: int64(m.Objects), bytes: m.Bytes, state: "waiting"}
		g.moves = append(g.moves, mp)
		g.byAddr[m.Address] = mp
		g.objects += mp.objects
		g.bytes += mp.bytes
	}
}

func (g *progress) move(addr string) *moveProgress {
	mp := g.byAddr[addr]
	if mp == nil { // not in the plan given to newProgress: track it anyway
		mp = &moveProgress{addr: addr, state: "waiting"}
		g.moves = append(g.moves, mp)
		g.byAddr[addr] = mp
	}
	return mp
}

// event updates the state; t is the time of the event.
func (g *progress) event(e executor.Event, t time.Time) {
	switch e.Kind {
	case executor.MoveStart:
		mp := g.move(e.Address)
		if mp.objects == 0 && mp.bytes == 0 {
			mp.objects, mp.bytes = e.Objects, e.Bytes
			g.objects += e.Objects
			g.bytes += e.Bytes
		}
		mp.state, mp.started = "running", t
		if g.started.IsZero() {
			g.started = t
		}
	case executor.ObjectDone:
		mp := g.move(e.Address)
		mp.done++
		mp.doneBytes += e.Bytes
	case executor.ObjectFailed:
		g.move(e.Address).failed++
	case executor.ObjectSkipped:
		g.move(e.Address).skipped++
	case executor.MoveDone:
		mp := g.move(e.Address)
		mp.state, mp.ended = "done", t
		if e.Message == "interrupted" {
			mp.state = "interrupted"
		}
	case executor.ResourceFailed:
		if mp := g.byAddr[e.Address]; mp != nil {
			mp.state, mp.ended = "failed", t
		}
	}
}

// retry counts one retried call (b2client.WithRetryHook).
func (g *progress) retry(r b2client.RetryInfo) {
	g.retries.Add(1)
	if r.Throttled() {
		g.throttled.Add(1)
	}
}

func (g *progress) active() bool { return !g.started.IsZero() }

func (g *progress) running() bool {
	for _, mp := range g.moves {
		if mp.state == "running" {
			return true
		}
	}
	return false
}

type totals struct {
	done, bytes, failed, skipped, remaining, remainingBytes int64
}

func (g *progress) totals() totals {
	var t totals
	for _, mp := range g.moves {
		t.done += mp.done
		t.bytes += mp.doneBytes
		t.failed += mp.failed
		t.skipped += mp.skipped
	}
	t.remaining = max(g.objects-t.done-t.failed-t.skipped, 0)
	t.remainingBytes = max(g.bytes-t.bytes, 0)
	return t
}

// rates are objects and bytes per second since the first move started.
func (g *progress) rates(now time.Time) (objs, bytes float64, el time.Duration) {
	el = now.Sub(g.started)
	if g.started.IsZero() || el <= 0 {
		return 0, 0, 0
	}
	t := g.totals()
	return float64(t.done) / el.Seconds(), float64(t.bytes) / el.Seconds(), el
}

// eta is the time left at the current rates (the longer of the object and byte estimates),
// or "" when unknown.
func (g *progress) eta(now time.Time) string {
	t := g.totals()
	if t.remaining == 0 {
		return "0s"
	}
	ro, rb, _ := g.rates(now)
	if ro <= 0 {
		return ""
	}
	secs := float64(t.remaining) / ro
	if rb > 0 && t.remainingBytes > 0 {
		secs = max(secs, float64(t.remainingBytes)/rb)
	}
	return shortDuration(time.Duration(secs * float64(time.Second)))
}

// shortDuration is 45s, 3m07s, 2h05m.
func shortDuration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

func pct(done, total int64) string {
	if total <= 0 {
		return "100%"
	}
	return fmt.Sprintf("%d%%", done*100/total)
}

// seg is one part of a progress line; lower prio survives a narrow terminal longer.
type seg struct {
	text string
	prio int
}

// fit joins the segments with sep, dropping the least important ones until the line fits in
// width columns (0 = no limit); a single segment that is still too wide is cut with "…".
// dropped is the most important priority dropped (-1: none).
func fit(segs []seg, sep string, width int) string {
	s, _ := fitDropped(segs, sep, width)
	return s
}

func fitDropped(segs []seg, sep string, width int) (line string, dropped int) {
	keep := make([]seg, 0, len(segs))
	for _, s := range segs {
		if s.text != "" {
			keep = append(keep, s)
		}
	}
	join := func() string {
		parts := make([]string, len(keep))
		for i, s := range keep {
			parts[i] = s.text
		}
		return strings.Join(parts, sep)
	}
	dropped = -1
	line = join()
	for width > 0 && utf8.RuneCountInString(line) > width && len(keep) > 1 {
		worst := 0
		for i, s := range keep {
			if s.prio >= keep[worst].prio {
				worst = i
			}
		}
		dropped = keep[worst].prio
		keep = append(keep[:worst], keep[worst+1:]...)
		line = join()
	}
	return cut(line, width), dropped
}

func cut(s string, width int) string {
	if width <= 0 || utf8.RuneCountInString(s) <= width {
		return s
	}
	r := []rune(s)
	return string(r[:max(width-1, 0)]) + "…"
}

// bar is a progress bar of w columns ("[=====>    ]").
func bar(done, total int64, w int) string {
	in := w - 2
	fill := in
	if total > 0 {
		fill = int(float64(in) * float64(min(done, total)) / float64(total))
	}
	s := strings.Repeat("=", fill)
	if fill < in {
		s += ">" + strings.Repeat(" ", in-fill-1)
	}
	return "[" + s + "]"
}

// overallSegs are the parts of the overall line.
func (g *progress) overallSegs(now time.Time) []seg {
	t := g.totals()
	ro, rb, _ := g.rates(now)
	eta := g.eta(now)
	if eta != "" {
		eta = "ETA " + eta
	}
	segs := []seg{
		{fmt.Sprintf("%s/%s objects", planner.Commas(t.done), planner.Commas(g.objects)), 0},
		{pct(t.done+t.failed+t.skipped, g.objects), 1},
		{fmt.Sprintf("%s/%s", planner.HumanBytes(t.bytes), planner.HumanBytes(g.bytes)), 5},
		{fmt.Sprintf("%.0f obj/s", ro), 6},
		{planner.HumanBytes(int64(rb)) + "/s", 7},
		{eta, 2},
	}
	if n := g.retries.Load(); n > 0 {
		segs = append(segs, seg{retriesText(n, g.throttled.Load()), 4})
	}
	if t.failed > 0 {
		segs = append(segs, seg{planner.Commas(t.failed) + " failed", 3})
	}
	if t.skipped > 0 {
		segs = append(segs, seg{planner.Commas(t.skipped) + " skipped", 8})
	}
	return segs
}

// minBar is the narrowest progress bar worth drawing.
const minBar = 12

// barPrio is the importance of the bar among the overall line's segments: it gives way to
// the counts, ETA, failures, retries and bytes, not to the rates.
const barPrio = 5

// overallLine is the terminal's overall line: a bar taking the columns the text leaves over,
// "Moving", then the segments that fit. Below narrowWidth: counts, percentage and ETA only.
func (g *progress) overallLine(now time.Time, width int) string {
	t := g.totals()
	if width < narrowWidth {
		segs := g.overallSegs(now)
		segs[0].text = planner.Commas(t.done) + "/" + planner.Commas(g.objects)
		return fit([]seg{segs[0], segs[1], segs[5]}, ", ", width)
	}
	label := "Moving"
	if len(g.moves) > 1 {
		label = fmt.Sprintf("Moving (%d moves)", len(g.moves))
	}
	segs := append([]seg{{label, 9}}, g.overallSegs(now)...)
	text := fit(segs, ", ", width)
	free := width - utf8.RuneCountInString(text) - 1
	if free < minBar {
		// Make room for the bar by dropping what matters less than it.
		alt, dropped := fitDropped(segs, ", ", width-minBar-1)
		if dropped > barPrio {
			text, free = alt, width-utf8.RuneCountInString(alt)-1
		}
	}
	if free >= minBar {
		return bar(t.done+t.failed+t.skipped, g.objects, free) + " " + text
	}
	return text
}

func (mp *moveProgress) line(now time.Time, width int) string {
	state := mp.state
	switch mp.state {
	case "done":
		state = "done in " + shortDuration(mp.ended.Sub(mp.started))
	case "running":
		state = ""
	}
	segs := []seg{
		{"  " + cut(mp.addr, max(width/2, 12)), 0},
		{pct(mp.done+mp.failed+mp.skipped, mp.objects), 1},
		{fmt.Sprintf("%s/%s objects", planner.Commas(mp.done), planner.Commas(mp.objects)), 3},
		{fmt.Sprintf("%s/%s", planner.HumanBytes(mp.doneBytes), planner.HumanBytes(mp.bytes)), 4},
		{state, 2},
	}
	if mp.failed > 0 {
		segs = append(segs, seg{planner.Commas(mp.failed) + " failed", 2})
	}
	return fit(segs, " ", width)
}

// maxMoveLines bounds the per-move lines under the overall line.
const maxMoveLines = 5

// narrowWidth is the width below which only the overall line is drawn.
const narrowWidth = 40

// block is what a terminal shows while moves run: the overall line and, with several moves
// and room for them, a line per move (running ones first; the rest counted).
func (g *progress) block(now time.Time, width int) []string {
	lines := []string{g.overallLine(now, width)}
	if len(g.moves) < 2 || width < narrowWidth {
		return lines
	}
	order := make([]*moveProgress, len(g.moves))
	copy(order, g.moves)
	rank := map[string]int{"running": 0, "failed": 1, "interrupted": 1, "waiting": 2, "done": 3}
	sort.SliceStable(order, func(i, j int) bool { return rank[order[i].state] < rank[order[j].state] })
	shown := order
	if len(order) > maxMoveLines {
		shown = order[:maxMoveLines-1]
	}
	for _, mp := range shown {
		lines = append(lines, mp.line(now, width))
	}
	if rest := order[len(shown):]; len(rest) > 0 {
		count := map[string]int{}
		for _, mp := range rest {
			count[mp.state]++
		}
		var parts []string
		for _, s := range []string{"running", "waiting", "done", "failed", "interrupted"} {
			if count[s] > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", count[s], s))
			}
		}
		lines = append(lines, cut(fmt.Sprintf("  … %d more moves (%s)", len(rest), strings.Join(parts, ", ")), width))
	}
	return lines
}

// logLine is the periodic line of a log (no terminal): everything, no width limit.
func (g *progress) logLine(now time.Time) string {
	parts := []string{}
	for _, s := range g.overallSegs(now) {
		if s.text != "" {
			parts = append(parts, s.text)
		}
	}
	line := "Progress: " + strings.Join(parts, ", ")
	if len(g.moves) > 1 {
		for _, mp := range g.moves {
			if mp.state == "running" {
				line += fmt.Sprintf("; %s %s/%s objects", mp.addr, planner.Commas(mp.done), planner.Commas(mp.objects))
			}
		}
	}
	return line
}

// summary is the final line about the moves (and retries), or "" when nothing moved or
// retried.
func (g *progress) summary(now time.Time) string {
	retries := ""
	if n := g.retries.Load(); n > 0 {
		retries = retriesText(n, g.throttled.Load())
	}
	if !g.active() {
		if retries == "" {
			return ""
		}
		return "Calls: " + retries + "."
	}
	t := g.totals()
	end := g.started
	for _, mp := range g.moves {
		if mp.ended.After(end) {
			end = mp.ended
		}
	}
	if g.running() || end.Equal(g.started) {
		end = now
	}
	el := end.Sub(g.started)
	ro, rb := 0.0, 0.0
	if el > 0 {
		ro, rb = float64(t.done)/el.Seconds(), float64(t.bytes)/el.Seconds()
	}
	s := fmt.Sprintf("Moved %s of %s objects (%s) in %s across %s: %.0f obj/s, %s/s", planner.Commas(t.done), planner.Commas(g.objects),
		planner.HumanBytes(t.bytes), shortDuration(el), plural(len(g.moves), "move"), ro, planner.HumanBytes(int64(rb)))
	var extra []string
	if retries != "" {
		extra = append(extra, retries)
	}
	if t.failed > 0 {
		extra = append(extra, planner.Commas(t.failed)+" failed")
	}
	if t.skipped > 0 {
		extra = append(extra, planner.Commas(t.skipped)+" skipped")
	}
	if len(extra) > 0 {
		s += "; " + strings.Join(extra, ", ")
	}
	return s + "."
}

func retriesText(n, throttled int64) string {
	word := "retries"
	if n == 1 {
		word = "retry"
	}
	return fmt.Sprintf("%s %s (%s throttled)", planner.Commas(n), word, planner.Commas(throttled))
}
