package planner

import (
	"context"
	"errors"
	"io"

	"github.com/b2plan/b2plan/live"
)

// Parallel listing of a big source (Options.SplitPoints): its name range is
// split at sub-prefixes into ranges listed concurrently, at most
// listAhead ranges at a time, their pages handed on in name order, so that
// the pages of the following ranges are read while one is consumed. At
// most listAhead pages wait (each reader holds the page it read until it
// is taken).
const listAhead = 4

// DefaultParallelAfter: a source listed in more pages than this (of
// 10,000 versions) is listed again by ranges, concurrently. Smaller ones
// are listed in one sequence: a split costs a delimiter listing and a call
// per range, which a few pages do not repay.
const DefaultParallelAfter = 5

// sourcePager returns the pager of a move's source: the plain listing, or
// with Options.SplitPoints, for a source of more than ParallelAfter pages,
// a listing by ranges read concurrently (the first pages, read to decide,
// are read again: a few calls).
func (pl *planner) sourcePager(ctx context.Context, m *Move) (Pager, error) {
	seq := pl.opts.ListRange(m.Bucket, m.BucketID, m.From, "", "")
	if pl.opts.SplitPoints == nil || m.overlapping() {
		return seq, nil
	}
	after := pl.opts.ParallelAfter
	if after == 0 {
		after = DefaultParallelAfter
	}
	var pages [][]live.Version
	for len(pages) <= after {
		vs, err := seq.Next(ctx)
		if errors.Is(err, io.EOF) {
			return &replayPager{pages: pages}, nil // small: as listed
		}
		if err != nil {
			return nil, err
		}
		pages = append(pages, vs)
	}
	points, err := pl.opts.SplitPoints(ctx, m.Bucket, m.BucketID, m.From)
	if err != nil {
		return nil, err
	}
	if len(points) < 2 {
		return &replayPager{pages: pages, rest: seq}, nil
	}
	if f := pl.opts.ForgetListed; f != nil {
		for _, vs := range pages { // read again below
			f(vs)
		}
	}
	return newOrderedPager(ctx, pl.opts.ListRange, m.Bucket, m.BucketID, m.From, points), nil
}

// replayPager returns pages read before, then the rest of a listing.
type replayPager struct {
	pages [][]live.Version
	rest  Pager
}

func (p *replayPager) Next(ctx context.Context) ([]live.Version, error) {
	if len(p.pages) > 0 {
		vs := p.pages[0]
		p.pages[0], p.pages = nil, p.pages[1:]
		return vs, nil
	}
	if p.rest == nil {
		return nil, io.EOF
	}
	return p.rest.Next(ctx)
}

// orderedPager reads ranges[i] … concurrently and returns their pages in
// order.
type orderedPager struct {
	ranges []Pager
	out    []chan pageResult
	next   int // range being consumed
	slots  chan struct{}
	ctx    context.Context
}

type pageResult struct {
	vs  []live.Version
	err error
}

// newOrderedPager lists prefix in the ranges cut at points (sorted, under
// prefix) with list; ctx bounds the background reads (cancel it to stop
// them).
func newOrderedPager(ctx context.Context, list RangeLister, bucket, bucketID, prefix string, points []string) Pager {
	var bounds []string
	for _, p := range points {
		if p > prefix && (len(bounds) == 0 || p > bounds[len(bounds)-1]) {
			bounds = append(bounds, p)
		}
	}
	if len(bounds) == 0 {
		return list(bucket, bucketID, prefix, "", "")
	}
	// About 4 ranges per listing slot: each range is one or more
	// sub-prefixes in a row.
	want := 4 * listAhead
	step := max(1, (len(bounds)+want-1)/want)
	o := &orderedPager{slots: make(chan struct{}, listAhead), ctx: ctx}
	lo := ""
	for i := step; ; i += step {
		hi := ""
		if i < len(bounds) {
			hi = bounds[i]
		}
		o.ranges = append(o.ranges, list(bucket, bucketID, prefix, lo, hi))
		o.out = append(o.out, make(chan pageResult))
		if hi == "" {
			break
		}
		lo = hi
	}
	go o.start()
	return o
}

// start launches the range readers in order, listAhead at a time (a slot
// is freed when its range is consumed).
func (o *orderedPager) start() {
	for i := range o.ranges {
		select {
		case o.slots <- struct{}{}:
		case <-o.ctx.Done():
			return
		}
		go o.read(i)
	}
}

func (o *orderedPager) read(i int) {
	defer close(o.out[i])
	for {
		vs, err := o.ranges[i].Next(o.ctx)
		if errors.Is(err, io.EOF) {
			return
		}
		select {
		case o.out[i] <- pageResult{vs, err}:
		case <-o.ctx.Done():
			return
		}
		if err != nil {
			return
		}
	}
}

func (o *orderedPager) Next(ctx context.Context) ([]live.Version, error) {
	for o.next < len(o.out) {
		select {
		case r, ok := <-o.out[o.next]:
			if !ok {
				o.next++
				<-o.slots
				continue
			}
			return r.vs, r.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return nil, io.EOF
}
