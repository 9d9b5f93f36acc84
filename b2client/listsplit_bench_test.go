package b2client

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/b2plan/b2plan/emulator"
)

// BenchmarkListParallel lists N versions (B2PLAN_BENCH_LISTPAR, default
// 30,000) under one prefix sequentially (ListRange) and in parallel
// (ListParallel with 4, 8 and 16 ranges at once, default Ranges), from b2local over a real
// socket, with no latency and with 50 ms per call, on two layouts: 100
// sub-prefixes of N/100 names, and a flat prefix (no sub-prefixes). Each
// run reports its list calls and the class C transactions billed (one per
// 1,000 entries returned: what the last, partial page of each range reads
// past its end shows there) and the median time of B2PLAN_BENCH_REPS runs
// (default 3: the machine is shared); the parent prints the table with
// speed-ups.
//
//	B2PLAN_BENCH_LISTPAR=300000 go test -run '^$' -bench ListParallel -benchtime 1x -timeout 30m ./b2client/
func BenchmarkListParallel(b *testing.B) {
	n := 30_000
	if s := os.Getenv("B2PLAN_BENCH_LISTPAR"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 100 {
			b.Fatalf("B2PLAN_BENCH_LISTPAR=%q: want a number of versions, at least 100", s)
		}
		n = v
	}
	reps := 3
	if s := os.Getenv("B2PLAN_BENCH_REPS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			b.Fatalf("B2PLAN_BENCH_REPS=%q: want a number of runs, at least 1", s)
		}
		reps = v
	}
	tt := newTCPTarget(b, emulator.Options{})
	bk := tt.bucket(b, BucketSpec{})
	start := time.Now()
	var names []string
	for i := range n {
		names = append(names, fmt.Sprintf("folders/d%03d/f%08d", i%100, i))
	}
	(&seeded{}).upload(b, tt.m, bk.Name, names, 8)
	names = names[:0]
	for i := range n {
		names = append(names, fmt.Sprintf("flat/f%08d", i))
	}
	(&seeded{}).upload(b, tt.m, bk.Name, names, 8)
	names = nil
	b.Logf("seeded 2 × %d versions in %v", n, time.Since(start).Round(time.Millisecond))
	c := tt.connect(b, false)
	type variant struct {
		name string
		par  *ParallelOptions
	}
	variants := []variant{{"seq", nil}, {"par4", &ParallelOptions{Parallel: 4}}, {"par8", &ParallelOptions{Parallel: 8}}, {"par16", &ParallelOptions{Parallel: 16}}}
	type result struct {
		d            time.Duration
		calls, units int64
		ranges       int
	}
	res := map[string]result{}
	var rows []string
	ctx := context.Background()
	for _, lat := range []int{0, 50} {
		tt.setLatency(b, lat)
		for _, layout := range []string{"folders/", "flat/"} {
			for _, v := range variants {
				key := fmt.Sprintf("%s/lat%dms/%s", strings.TrimSuffix(layout, "/"), lat, v.name)
				b.Run(key, func(b *testing.B) {
					var r result
					var times []time.Duration
					for i := 0; i < b.N*reps; i++ {
						tt.srv.ResetStats()
						t0 := time.Now()
						var pg Pager
						if v.par == nil {
							pg = c.ListRange(bk.Name, bk.ID, layout, "", "")
						} else {
							pg = c.ListParallel(bk.Name, bk.ID, layout, "", "", *v.par)
						}
						got := 0
						for {
							vs, err := pg.Next(ctx)
							if err == io.EOF {
								break
							}
							if err != nil {
								b.Fatal(err)
							}
							got += len(vs)
						}
						times = append(times, time.Since(t0))
						if got != n {
							b.Fatalf("listed %d versions, want %d", got, n)
						}
						st := tt.srv.Stats()
						r.calls, r.units = st.Calls["b2_list_file_versions"], st.Classes["C"]
						if p, ok := pg.(*ParallelPager); ok {
							r.ranges = len(p.Ranges())
						}
					}
					slices.Sort(times)
					r.d = times[len(times)/2]
					b.ReportMetric(float64(r.d.Milliseconds()), "median-ms")
					b.ReportMetric(float64(r.calls), "list-calls")
					b.ReportMetric(float64(r.units), "class-C")
					res[key] = r
				})
				if r, ok := res[key]; ok {
					seq := res[fmt.Sprintf("%s/lat%dms/seq", strings.TrimSuffix(layout, "/"), lat)]
					rows = append(rows, fmt.Sprintf("%-8s %4d ms  %-6s %9.3f s  ×%5.2f  %4d calls  %5d class C  %3d ranges",
						layout, lat, v.name, r.d.Seconds(), seq.d.Seconds()/r.d.Seconds(), r.calls, r.units, r.ranges))
				}
			}
		}
	}
	tt.setLatency(b, 0)
	fmt.Printf("%d versions per prefix (speed-up = sequential time / this time; calls include the split's):\n%s\n", n, strings.Join(rows, "\n"))
}
