package command

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/b2plan/b2plan/b2client"
	"github.com/b2plan/b2plan/executor"
	"github.com/b2plan/b2plan/planner"
)

// fakeClock replaces the views' clock for a test.
func fakeClock(t *testing.T) *time.Time {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cur := &t0
	old := now
	now = func() time.Time { return *cur }
	t.Cleanup(func() { now = old })
	return cur
}

func twoMovePlan() *planner.Plan {
	op := []planner.ObjectOp{{}}
	return &planner.Plan{Moves: []*planner.Move{
		{Address: "move.archive", Objects: 15_000, Bytes: 1_500_000_000, Ops: op},
		{Address: "move.logs_with_a_rather_long_address_name", Objects: 5_000, Bytes: 500_000_000, Ops: op},
	}}
}

// testView is a text view on a fake terminal of the given width (0 = not a terminal) whose
// ticker never fires on its own: the test calls tick.
func testView(width int) (*textView, *bytes.Buffer) {
	var buf bytes.Buffer
	m := &Meta{Stdout: &buf, Stderr: &buf}
	v := newTextView(m, &buf)
	v.tty = width > 0
	v.width = func() int { return width }
	v.interval = time.Hour
	return v, &buf
}

var ansiRE = regexp.MustCompile("\x1b\\[[0-9;]*[A-Za-z]")

// lastBlock returns the progress block drawn last: the lines after the last erase sequence.
func lastBlock(out string) []string {
	i := strings.LastIndex(out, "\x1b[2K")
	if i >= 0 {
		out = out[i+len("\x1b[2K"):]
	}
	return strings.Split(strings.TrimSuffix(out, "\n"), "\n")
}

// runMoves feeds the view: the first move done in 75s with 3 retries (2 throttled), the
// second 1,000 objects in.
func runMoves(t *testing.T, v *textView, clock *time.Time, tickEvery int) {
	p := twoMovePlan()
	v.start(p)
	ev := func(e executor.Event) { e.Time = *clock; v.Event(e) }
	ev(executor.Event{Kind: executor.MoveStart, Address: "move.archive", Action: planner.MoveObjects, Objects: 15_000, Bytes: 1_500_000_000})
	for i := 0; i < 15_000; i++ {
		*clock = clock.Add(5 * time.Millisecond)
		ev(executor.Event{Kind: executor.ObjectDone, Address: "move.archive", Object: fmt.Sprint(i), Objects: 1, Bytes: 100_000})
		if tickEvery > 0 && i%tickEvery == 0 {
			v.tick()
		}
	}
	v.retry(b2client.RetryInfo{Class: b2client.RateLimited, Status: 429})
	v.retry(b2client.RetryInfo{Class: b2client.Retryable, Status: 503})
	v.retry(b2client.RetryInfo{Class: b2client.Retryable, Status: 500})
	ev(executor.Event{Kind: executor.MoveDone, Address: "move.archive", Objects: 15_000, Bytes: 1_500_000_000})
	ev(executor.Event{Kind: executor.MoveStart, Address: p.Moves[1].Address, Objects: 5_000, Bytes: 500_000_000})
	for i := 0; i < 1_000; i++ {
		*clock = clock.Add(5 * time.Millisecond)
		ev(executor.Event{Kind: executor.ObjectDone, Address: p.Moves[1].Address, Object: fmt.Sprint(i), Objects: 1, Bytes: 100_000})
	}
	v.tick()
}

// TestProgressWidths: on a terminal the block never exceeds the width (so it never wraps and
// the redraw stays in place), keeps the essentials when narrow, and uses the room when wide.
func TestProgressWidths(t *testing.T) {
	for _, width := range []int{200, 120, 80, 60, 40, 30, 20, 12} {
		t.Run(fmt.Sprint(width), func(t *testing.T) {
			clock := fakeClock(t)
			v, buf := testView(width)
			runMoves(t, v, clock, 0)
			out := buf.String()
			block := lastBlock(out)
			for _, l := range block {
				if n := utf8.RuneCountInString(ansiRE.ReplaceAllString(l, "")); n > width {
					t.Errorf("line of %d columns at width %d: %q", n, width, l)
				}
			}
			overall := block[0]
			// 16,000 of 20,000 in 80s: 200 obj/s, 4,000 left: ETA 20s.
			must := []string{}
			if width >= 20 {
				must = append(must, "16,000/20,000")
			}
			if width >= 30 {
				must = append(must, "80%", "ETA 20s")
			}
			if width >= 80 {
				must = append(must, "3 retries (2 throttled)", "1.6 GB/2.0 GB", "objects")
			}
			if width >= 120 {
				must = append(must, "200 obj/s", "20.0 MB/s", "[")
			}
			for _, s := range must {
				if !strings.Contains(overall, s) {
					t.Errorf("overall line at width %d lacks %q: %q", width, s, overall)
				}
			}
			if width >= 120 && utf8.RuneCountInString(overall) < width-2 {
				t.Errorf("overall line does not use the width %d: %q", width, overall)
			}
			if width >= narrowWidth {
				if len(block) != 3 || !strings.Contains(block[1], "move.logs") || !strings.Contains(block[1], "20%") ||
					!strings.Contains(block[2], "move.archive") || !strings.Contains(block[2], "done in 1m15s") {
					t.Errorf("per-move lines at width %d: %q", width, block)
				}
			} else if len(block) != 1 {
				t.Errorf("narrow terminal %d draws %d lines: %q", width, len(block), block)
			}
			// Event lines scroll above the block; the move's end is one of them.
			if !strings.Contains(out, "move.archive: Move complete: 15,000 objects (1.5 GB) moved in 1m15s\n") {
				t.Errorf("no move-complete line:\n%s", out)
			}
			v.finish(executor.Result{Moved: 16_000}, nil)
			tail := buf.String()[len(out):]
			if !strings.HasPrefix(tail, strings.Repeat("\x1b[1A\x1b[2K", len(block))) {
				t.Errorf("the block is not erased before the summary: %q", tail)
			}
			if !strings.Contains(tail, "Moved 16,000 of 20,000 objects (1.6 GB) in 1m20s across 2 moves: 200 obj/s, 20.0 MB/s; 3 retries (2 throttled).") {
				t.Errorf("summary: %q", tail)
			}
		})
	}
}

// TestProgressWithoutTerminal: a log gets a progress line per tick, never one per object, and
// no escape sequence.
func TestProgressWithoutTerminal(t *testing.T) {
	clock := fakeClock(t)
	v, buf := testView(0)
	runMoves(t, v, clock, 5_000) // a tick every 5,000 objects
	v.finish(executor.Result{Moved: 16_000}, nil)
	out := buf.String()
	if strings.Contains(out, "\x1b") {
		t.Errorf("escape sequences in a log:\n%q", out)
	}
	lines := strings.Count(out, "Progress: ")
	if lines != 4 { // 3 ticks during the first move, 1 during the second
		t.Errorf("%d progress lines:\n%s", lines, out)
	}
	if n := strings.Count(out, "\n"); n > 20 {
		t.Errorf("%d lines for 16,000 objects:\n%s", n, out)
	}
	for _, s := range []string{
		"Progress: 1/20,000 objects, 0%, 100.0 kB/2.0 GB",
		"Progress: 16,000/20,000 objects, 80%, 1.6 GB/2.0 GB, 200 obj/s, 20.0 MB/s, ETA 20s, 3 retries (2 throttled); move.logs_with_a_rather_long_address_name 1,000/5,000 objects",
		"Moved 16,000 of 20,000 objects (1.6 GB) in 1m20s across 2 moves",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("log lacks %q:\n%s", s, out)
		}
	}
}

func TestFit(t *testing.T) {
	segs := []seg{{"a-long-first", 0}, {"second", 2}, {"third", 1}}
	for width, want := range map[int]string{0: "a-long-first, second, third", 27: "a-long-first, second, third", 26: "a-long-first, third", 19: "a-long-first, third", 18: "a-long-first", 5: "a-lo…"} {
		if got := fit(segs, ", ", width); got != want {
			t.Errorf("fit(%d) = %q, want %q", width, got, want)
		}
	}
	if got := bar(5, 10, 12); got != "[=====>    ]" {
		t.Errorf("bar %q", got)
	}
	if got := bar(10, 10, 12); got != "[==========]" {
		t.Errorf("bar %q", got)
	}
}

// TestObjectLinesBounded: thousands of failed objects print a bounded number of lines while
// the apply runs (the final report lists them all).
func TestObjectLinesBounded(t *testing.T) {
	clock := fakeClock(t)
	v, buf := testView(0)
	v.start(twoMovePlan())
	v.Event(executor.Event{Kind: executor.MoveStart, Address: "move.archive", Objects: 15_000, Time: *clock})
	for i := 0; i < 5_000; i++ {
		v.Event(executor.Event{Kind: executor.ObjectFailed, Address: "move.archive", Object: fmt.Sprint(i), Err: fmt.Errorf("boom"), Time: *clock})
	}
	v.tick()
	out := buf.String()
	if n := strings.Count(out, ": failed: boom"); n != maxObjectLines {
		t.Errorf("%d failure lines", n)
	}
	if !strings.Contains(out, "more objects failed or were skipped") || !strings.Contains(out, "5,000 failed") {
		t.Errorf("output:\n%s", out)
	}
}
