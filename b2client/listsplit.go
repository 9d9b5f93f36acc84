package b2client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync/atomic"

	"github.com/b2plan/b2plan/live"
)

// Listing a large prefix in parallel (issue 17; docs/b2client.md, "Listing
// in parallel"). A prefix is split into consecutive name ranges at its
// sub-prefixes ("folders" of a delimiter listing), the ranges are listed
// concurrently with VersionPager, and their pages are handed out strictly
// in name order: the result is exactly the sequential listing.

// Pager is what VersionPager and ParallelPager have in common: Next returns
// the next page of versions in B2 order (name ascending, newest first
// within a name), or io.EOF after the last one.
type Pager interface {
	Next(ctx context.Context) ([]live.Version, error)
}

var (
	_ Pager = (*VersionPager)(nil)
	_ Pager = (*ParallelPager)(nil)
)

// NameRange is the names in [Start, End) of a prefix; End "" is the end of
// the prefix.
type NameRange struct {
	Start, End string
}

// The delimiter listing of a split reads pages of splitPage entries, at
// most maxSplitPages of them, and only while they are mostly sub-prefixes:
// what comes after is one last range, so that the split never costs as
// much as the listing it is meant to speed up.
const (
	splitPage     = 1000
	maxSplitPages = 10
)

// splitDelimiter separates the sub-prefixes a prefix is split at.
const splitDelimiter = "/"

// SplitRange splits (bucketName, prefix) into at most most consecutive,
// disjoint name ranges that together cover the prefix exactly: the first
// starts at prefix, each starts where the one before ends, and the last
// ends at "" (the end of the prefix). Boundaries are sub-prefixes from a
// delimiter listing (b2_list_file_versions with delimiter "/", native API
// on every endpoint, S3 ones included) grouped evenly; one range when there
// are none (a flat prefix). It costs one call per 1,000 entries directly
// under the prefix (sub-prefixes and names), at most maxSplitPages calls.
func (c *Conn) SplitRange(ctx context.Context, bucketName, bucketID, prefix string, most int) ([]NameRange, error) {
	sc, err := c.splitRange(ctx, bucketName, bucketID, prefix, prefix, "")
	if err != nil {
		return nil, err
	}
	return sc.group(most), nil
}

// splitCells is what a split found: cells [start, b0), [b0, b1), …
// [bn, end) with bounds at sub-prefixes, and with a tail, [tail, end) of
// unknown size.
type splitCells struct {
	start, end string
	bounds     []string
	tail       string
}

// group makes at most most ranges of about the same number of cells.
func (sc *splitCells) group(most int) []NameRange {
	return groupRanges(sc.start, sc.end, sc.bounds, sc.tail, most)
}

// splitRange splits the names in [start, end) of the prefix into cells.
func (c *Conn) splitRange(ctx context.Context, bucketName, bucketID, prefix, start, end string) (*splitCells, error) {
	if start < prefix {
		start = prefix
	}
	type req struct {
		BucketID      string `json:"bucketId"`
		StartFileName string `json:"startFileName,omitempty"`
		StartFileID   string `json:"startFileId,omitempty"`
		MaxFileCount  int    `json:"maxFileCount"`
		Prefix        string `json:"prefix,omitempty"`
		Delimiter     string `json:"delimiter"`
	}
	var page struct {
		Files []struct {
			FileName string `json:"fileName"`
			Action   string `json:"action"`
		} `json:"files"`
		NextFileName *string `json:"nextFileName"`
		NextFileID   *string `json:"nextFileId"`
	}
	op := fmt.Sprintf("split listing %s/%s", bucketName, prefix)
	r := req{BucketID: bucketID, MaxFileCount: splitPage, Prefix: prefix, Delimiter: splitDelimiter}
	if start > prefix {
		r.StartFileName = start
	}
	// Cells: the boundaries between them, ascending, each > start; each
	// sub-prefix starts one.
	var bounds []string
	leading := false // versions directly under the prefix before the first boundary
	tail := ""       // the first name the split did not see, when it stopped early
	add := func(b string) {
		if b > start && (len(bounds) == 0 || b > bounds[len(bounds)-1]) {
			bounds = append(bounds, b)
		}
	}
	for pages := 0; ; pages++ {
		if pages == maxSplitPages {
			tail = r.StartFileName
			break
		}
		page.Files, page.NextFileName, page.NextFileID = nil, nil, nil
		if _, err := c.call(ctx, op, "b2_list_file_versions", r, &page, false); err != nil {
			return nil, err
		}
		past, folders := false, 0
		for _, f := range page.Files {
			n := f.FileName
			if end != "" && n >= end {
				past = true
				break
			}
			if n < start || !strings.HasPrefix(n, prefix) {
				if f.Action == "folder" && strings.HasPrefix(start, n) {
					leading = true // start is inside this sub-prefix
				}
				continue
			}
			if f.Action == "folder" {
				// Real B2 may list a folder again on the next page.
				folders++
				add(n)
				continue
			}
			if len(bounds) == 0 {
				leading = true
			}
		}
		if past || page.NextFileName == nil || *page.NextFileName == "" {
			break
		}
		nn, ni := *page.NextFileName, ""
		if page.NextFileID != nil {
			ni = *page.NextFileID
		}
		if end != "" && nn >= end {
			break
		}
		if folders == 0 && pages == 0 {
			// No sub-prefix among a page of names: a flat prefix, one range.
			return &splitCells{start: start, end: end}, nil
		}
		if 2*folders < len(page.Files) {
			// Mostly names: reading on would cost as much as listing them.
			tail = nn
			break
		}
		if nn == r.StartFileName && ni == r.StartFileID {
			return nil, &Error{Op: op, Class: Permanent, Message: "the server repeated the same page cursor"}
		}
		r.StartFileName, r.StartFileID = nn, ni
	}
	if !leading && len(bounds) > 0 {
		// Nothing before the first sub-prefix: the first cell starts there.
		bounds = bounds[1:]
	}
	if tail != "" && len(bounds) > 0 && tail <= bounds[len(bounds)-1] {
		tail = ""
	}
	return &splitCells{start: start, end: end, bounds: bounds, tail: tail}, nil
}

// groupRanges groups the cells [start, b0), [b0, b1), … [bn, end) into at
// most `most` consecutive ranges of about the same number of cells; with a
// tail, [tail, end) is a range of its own (its size is unknown).
func groupRanges(start, end string, bounds []string, tail string, most int) []NameRange {
	most = max(most, 1)
	if tail != "" {
		if most == 1 {
			return []NameRange{{start, end}}
		}
		out := groupRanges(start, tail, bounds, "", most-1)
		return append(out, NameRange{tail, end})
	}
	cells := len(bounds) + 1
	g := min(most, cells)
	out := make([]NameRange, 0, g)
	lo := start
	for i := 1; i < g; i++ {
		b := bounds[i*cells/g-1]
		out = append(out, NameRange{lo, b})
		lo = b
	}
	return append(out, NameRange{lo, end})
}

// ParallelOptions tunes ListParallel; zero fields take the defaults.
type ParallelOptions struct {
	// Parallel is the most ranges listed at once (default 8). Each call
	// still takes a slot of the account's adaptive window.
	Parallel int
	// Ranges is the most ranges the prefix is split into (default
	// 2 × Parallel): more ranges balance better, each costs one more call
	// (its last, partial page, which reads up to 10,000 entries past the
	// range's end: B2 bills entries returned).
	Ranges int
	// Ahead is how many pages a range lists ahead of the caller (default
	// 1); at most Parallel × (Ahead + 1) + 2 pages are held at once (the
	// first range holds two more while the split is not known).
	Ahead int
	// Always splits into Ranges whatever the first page shows (tests: a
	// small listing is otherwise never split).
	Always bool
}

func (o ParallelOptions) withDefaults() ParallelOptions {
	if o.Parallel <= 0 {
		o.Parallel = 8
	}
	if o.Ranges <= 0 {
		o.Ranges = 2 * o.Parallel
	}
	if o.Ahead <= 0 {
		o.Ahead = 1
	}
	return o
}

// ParallelPager lists the versions of a name range of a prefix like
// VersionPager, with the same pages in the same order (page boundaries
// aside), but listing up to Parallel sub-ranges at once. It is made by
// ListParallel; like VersionPager it is used by one goroutine.
//
// The listing runs in the background under the context of the first Next
// call (its deadline and cancellation) and stops at the first error, which
// Next returns (then and afterwards). A Next whose context ends returns its
// error and stops the listing too. Close stops it early; a pager dropped
// without Close or io.EOF is stopped when it is garbage collected.
type ParallelPager struct {
	s *parState
}

// ListParallel returns a parallel pager over the versions of (bucketName,
// prefix) with names in [start, end), as ListRange. On the first Next it
// splits the range (splitRange) while the first range is already being
// listed: a range that turns out flat costs one concurrent call more than
// ListRange, and no time.
func (c *Conn) ListParallel(bucketName, bucketID, prefix, start, end string, opts ParallelOptions) *ParallelPager {
	if start < prefix {
		start = prefix
	}
	p := &ParallelPager{s: &parState{c: c, bucketName: bucketName, bucketID: bucketID, prefix: prefix,
		start: start, end: end, opts: opts.withDefaults()}}
	return p
}

// Next returns the next page (owned by the caller), or io.EOF after the
// last one.
func (p *ParallelPager) Next(ctx context.Context) ([]live.Version, error) {
	s := p.s
	// p must stay reachable while Next runs: its cleanup stops the listing.
	defer runtime.KeepAlive(p)
	if s.err != nil {
		return nil, s.err
	}
	if s.done {
		return nil, io.EOF
	}
	if s.ctx == nil {
		s.begin(ctx)
		// Stop the workers if the pager is dropped half-way (they hold s,
		// never p).
		runtime.AddCleanup(p, func(cancel context.CancelCauseFunc) { cancel(errPagerDropped) }, s.cancel)
	}
	for {
		if s.ranges == nil {
			// The first range's pages wait for the split (where it ends)
			// and for its first page (how many sub-prefixes a page
			// holds), unless that page is the whole listing: then it is
			// not split at all.
			if s.cells != nil && len(s.pending) > 0 {
				s.split(s.grouping())
				continue
			}
			var head chan rangeMsg
			if len(s.pending) < 2 {
				head = s.workers[0].out
			}
			splitCh := s.splitCh
			if s.cells != nil {
				splitCh = nil
			}
			select {
			case sr := <-splitCh:
				if sr.err != nil {
					return nil, s.fail(sr.err)
				}
				s.cells = sr.cells
				continue
			case m := <-head:
				s.pending = append(s.pending, m)
				if m.eof && !s.opts.Always {
					s.splitCancel()
					s.split([]NameRange{{s.start, s.end}})
				}
				continue
			case <-ctx.Done():
				return nil, s.fail(ctx.Err())
			case <-s.ctx.Done():
				return nil, s.fail(context.Cause(s.ctx))
			}
		}
		if s.cur == len(s.ranges) {
			s.done = true
			s.cancel(io.EOF)
			return nil, io.EOF
		}
		w := s.workers[s.cur]
		var m rangeMsg
		if len(s.pending) > 0 {
			m, s.pending = s.pending[0], s.pending[1:]
		} else {
			select {
			case m = <-w.out:
			case <-ctx.Done():
				return nil, s.fail(ctx.Err())
			case <-s.ctx.Done():
				return nil, s.fail(context.Cause(s.ctx))
			}
		}
		if m.eof {
			s.advance()
			continue
		}
		vs := m.vs
		if s.cur == 0 && s.cut != "" {
			if i := cutAt(vs, s.cut); i < len(vs) {
				vs = vs[:i:i]
				s.advance()
			}
		}
		if len(vs) == 0 {
			continue
		}
		return vs, nil
	}
}

// Close stops the listing; Next then returns an error.
func (p *ParallelPager) Close() {
	s := p.s
	if s.err == nil && !s.done {
		s.err = errors.New("listing closed")
	}
	if s.cancel != nil {
		s.cancel(s.err)
	}
}

// Ranges returns the ranges the listing was split into (nil before the
// split is known).
func (p *ParallelPager) Ranges() []NameRange { return p.s.ranges }

var errPagerDropped = errors.New("parallel pager dropped")

// parState is a ParallelPager's state. Its goroutines read the fields up
// to cancel and headCut (atomic); the others are the consumer's (Next's).
type parState struct {
	c                            *Conn
	bucketName, bucketID, prefix string
	start, end                   string
	opts                         ParallelOptions
	ctx                          context.Context // the listing's; its cause is the first error
	cancel                       context.CancelCauseFunc
	splitCh                      chan splitResult
	splitCancel                  context.CancelFunc
	pending                      []rangeMsg             // the first range's, taken while the split was unknown
	cells                        *splitCells            // the split, once known
	headCut                      atomic.Pointer[string] // where the first range ends, once known ("" = it does not)
	ranges                       []NameRange
	cut                          string
	workers                      []*rangeWorker
	cur                          int // the range being handed out
	err                          error
	done                         bool
}

type splitResult struct {
	cells *splitCells
	err   error
}

// rangeWorker lists one range into out.
type rangeWorker struct {
	out    chan rangeMsg
	cancel context.CancelFunc
}

// rangeMsg is a page, or the end of a range.
type rangeMsg struct {
	vs  []live.Version
	eof bool
}

// begin starts the split and the first range (to the end of the whole
// range until the split says where it stops).
func (s *parState) begin(ctx context.Context) {
	s.ctx, s.cancel = context.WithCancelCause(ctx)
	s.splitCh = make(chan splitResult, 1)
	var sctx context.Context
	sctx, s.splitCancel = context.WithCancel(s.ctx)
	go func() {
		sc, err := s.c.splitRange(sctx, s.bucketName, s.bucketID, s.prefix, s.start, s.end)
		s.splitCh <- splitResult{sc, err}
	}()
	s.workers = []*rangeWorker{s.launch(NameRange{s.start, s.end}, true)}
}

// grouping groups the split's cells into ranges of about two pages or
// more (each range's last page reads on past its end, up to 10,000
// entries): the first page, which covered j cells, says how many fit.
func (s *parState) grouping() []NameRange {
	most := s.opts.Ranges
	if vs := s.pending[0].vs; len(vs) > 0 && !s.opts.Always {
		last := vs[len(vs)-1].Name
		j := 0
		for j < len(s.cells.bounds) && s.cells.bounds[j] <= last {
			j++
		}
		if cells := len(s.cells.bounds) + 1; j > 0 {
			n := (cells + 2*j - 1) / (2 * j)
			if s.cells.tail != "" {
				n++ // the tail is a range of its own
			}
			most = min(most, n)
		}
	}
	return s.cells.group(most)
}

// split takes the ranges and starts the next ones, up to Parallel at once.
func (s *parState) split(rs []NameRange) {
	s.splitCancel()
	s.ranges = rs
	if len(rs) > 1 {
		s.cut = rs[0].End
	}
	cut := s.cut
	s.headCut.Store(&cut)
	head := s.workers[0]
	s.workers = make([]*rangeWorker, len(rs))
	s.workers[0] = head
	for i := 1; i < min(len(rs), s.opts.Parallel); i++ {
		s.workers[i] = s.launch(rs[i], false)
	}
}

// advance moves on to the next range and starts the one Parallel ranges
// ahead.
func (s *parState) advance() {
	s.pending = nil // the first range's only
	s.workers[s.cur].cancel()
	s.workers[s.cur] = nil
	s.cur++
	if i := s.cur + s.opts.Parallel - 1; i < len(s.ranges) {
		s.workers[i] = s.launch(s.ranges[i], false)
	}
}

// fail stops the listing with err (the first error wins).
func (s *parState) fail(err error) error {
	if s.err == nil {
		s.err = err
	}
	s.cancel(s.err)
	return s.err
}

// launch starts listing r. The head range (the first, started before the
// split) stops where the split says it ends.
func (s *parState) launch(r NameRange, head bool) *rangeWorker {
	ctx, cancel := context.WithCancel(s.ctx)
	w := &rangeWorker{out: make(chan rangeMsg, s.opts.Ahead), cancel: cancel}
	prefix := s.prefix
	if !head {
		prefix = rangePrefix(s.prefix, r)
	}
	pg := s.c.ListRange(s.bucketName, s.bucketID, prefix, r.Start, r.End)
	go func() {
		send := func(m rangeMsg) bool {
			select {
			case w.out <- m:
				return true
			case <-ctx.Done():
				return false
			}
		}
		last := ""
		for {
			cut := ""
			if head {
				if c := s.headCut.Load(); c != nil && *c != "" {
					cut = *c
					if last >= cut {
						send(rangeMsg{eof: true})
						return
					}
				}
			}
			vs, err := pg.Next(ctx)
			if err == io.EOF {
				send(rangeMsg{eof: true})
				return
			}
			if err != nil {
				if ctx.Err() == nil {
					s.cancel(err)
				}
				return
			}
			if cut != "" {
				if i := cutAt(vs, cut); i < len(vs) {
					if send(rangeMsg{vs: vs[:i:i]}) {
						send(rangeMsg{eof: true})
					}
					return
				}
			}
			if len(vs) > 0 {
				last = vs[len(vs)-1].Name
			}
			if !send(rangeMsg{vs: vs}) {
				return
			}
		}
	}()
	return w
}

// cutAt is the index of the first version named cut or after.
func cutAt(vs []live.Version, cut string) int {
	for i := range vs {
		if vs[i].Name >= cut {
			return i
		}
	}
	return len(vs)
}

// rangePrefix narrows prefix to what every name in r shares: all names in
// [Start, End) start with the longest common prefix of Start and End, so
// the server stops the last page of the range there instead of reading on.
func rangePrefix(prefix string, r NameRange) string {
	if r.End == "" {
		return prefix
	}
	n := 0
	for n < len(r.Start) && n < len(r.End) && r.Start[n] == r.End[n] {
		n++
	}
	if n > len(prefix) {
		return r.Start[:n]
	}
	return prefix
}
