package b2client

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/b2plan/b2plan/emulator"
)

// BenchmarkListParallel lists N versions (B2PLAN_BENCH_LISTPAR, default
// 30,000) under one prefix sequentially (ListRange) and in parallel
// (ListParallel, 4 and 8 ranges at once, default Ranges) from b2local over
// a real TCP socket, with 0, 50 and 200 ms added per call, on two layouts:
// 100 sub-prefixes of N/100 names, and a flat prefix (no sub-prefixes).
// The variants take turns B2PLAN_BENCH_REPS times (default 3; the machine
// is shared) and the table printed at the end shows, per variant, the
// median wall time and its speed-up over sequential, the median CPU time
// of the process (client and b2local: not skewed by other processes),
// the list calls and the class C transactions billed (one per 1,000
// entries returned: what each range's last page reads past its end).
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
	variants := []variant{{"seq", nil}, {"par4", &ParallelOptions{Parallel: 4}}, {"par8", &ParallelOptions{Parallel: 8}}}
	type result struct {
		d, cpu       time.Duration
		calls, units int64
		ranges       int
	}
	var rows []string
	ctx := context.Background()
	list := func(layout string, v variant) result {
		var r result
		tt.srv.ResetStats()
		cpu0 := cpuTime()
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
		r.d, r.cpu = time.Since(t0), cpuTime()-cpu0
		if got != n {
			b.Fatalf("listed %d versions, want %d", got, n)
		}
		st := tt.srv.Stats()
		r.calls, r.units = st.Calls["b2_list_file_versions"], st.Classes["C"]
		if p, ok := pg.(*ParallelPager); ok {
			r.ranges = len(p.Ranges())
		}
		return r
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rows = rows[:0]
		for _, lat := range []int{0, 50, 200} {
			tt.setLatency(b, lat)
			for _, layout := range []string{"folders/", "flat/"} {
				// The variants take turns, reps times: the machine's load
				// weighs on all of them alike; the median run counts.
				times := make([][]time.Duration, len(variants))
				cpus := make([][]time.Duration, len(variants))
				last := make([]result, len(variants))
				for range reps {
					for j, v := range variants {
						last[j] = list(layout, v)
						times[j] = append(times[j], last[j].d)
						cpus[j] = append(cpus[j], last[j].cpu)
					}
				}
				med := make([]time.Duration, len(variants))
				medCPU := make([]time.Duration, len(variants))
				for j := range variants {
					slices.Sort(times[j])
					slices.Sort(cpus[j])
					med[j], medCPU[j] = times[j][len(times[j])/2], cpus[j][len(cpus[j])/2]
				}
				for j, v := range variants {
					r := last[j]
					rows = append(rows, fmt.Sprintf("%-8s %4d ms  %-6s %8.3f s  ×%5.2f  %7.3f s CPU  %4d calls  %5d class C  %3d ranges",
						layout, lat, v.name, med[j].Seconds(), med[0].Seconds()/med[j].Seconds(), medCPU[j].Seconds(), r.calls, r.units, r.ranges))
					if v.par != nil {
						b.ReportMetric(med[0].Seconds()/med[j].Seconds(), fmt.Sprintf("×%s-%s%dms", v.name, strings.TrimSuffix(layout, "/"), lat))
					}
				}
			}
		}
	}
	b.StopTimer()
	tt.setLatency(b, 0)
	fmt.Printf("%d versions per prefix, median of %d runs taking turns (speed-up = sequential time / this time; calls include the split's):\n%s\n", n, reps, strings.Join(rows, "\n"))
}

// cpuTime is the CPU time this process (client and in-process b2local)
// has used: unlike wall time, the load of other processes does not show.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
