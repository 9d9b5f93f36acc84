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
// most 2 × listAhead pages are held.
const listAhead = 4

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
		o.out = append(o.out, make(chan pageResult, 1))
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
