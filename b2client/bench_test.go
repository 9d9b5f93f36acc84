package b2client

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/b2plan/b2plan/emulator"
	"github.com/b2plan/b2plan/live"
)

// BenchmarkObserveVersions lists N versions under one prefix from the
// in-process emulator (N = B2PLAN_BENCH_VERSIONS, default 100,000) and
// reports the list calls and memory: peak-heap-MB is the highest heap seen
// during Observe minus the heap before it (the emulator's own state lives in
// the same process and is excluded), live-MB the heap the resulting Live
// retains after a GC, alloc-MB the bytes allocated by Observe.
//
// With B2PLAN_BENCH_SERVER=URL the emulator is a separate b2local process
// (development credentials) instead, so the heap figures are the client's
// alone; in-process, the emulator's garbage inflates peak-heap-MB.
//
//	go test -run '^$' -bench ObserveVersions ./b2client/
//	B2PLAN_BENCH_VERSIONS=1000000 go test -run '^$' -bench ObserveVersions -benchtime 1x -timeout 30m ./b2client/
//	go run ./cmd/b2local -addr 127.0.0.1:8799 &
//	B2PLAN_BENCH_SERVER=http://127.0.0.1:8799 B2PLAN_BENCH_VERSIONS=1000000 go test -run '^$' -bench ObserveVersions -benchtime 1x ./b2client/
func BenchmarkObserveVersions(b *testing.B) {
	n := 100_000
	if s := os.Getenv("B2PLAN_BENCH_VERSIONS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v <= 0 {
			b.Fatalf("B2PLAN_BENCH_VERSIONS=%q", s)
		}
		n = v
	}
	var tg *target
	resetStats, listCalls := func() {}, func() int64 { return -1 }
	if u := os.Getenv("B2PLAN_BENCH_SERVER"); u != "" {
		cfg := Config{Endpoint: u, KeyID: emulator.DefaultKeyID, Key: emulator.DefaultKey, Getenv: noEnv, Retry: fastRetry}
		c, err := Connect(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		tg = &target{name: "b2local", conn: c, m: NewMutator(c), cfg: cfg, buckets: map[string]string{}, keys: map[string]string{}}
		// b2local's control endpoints take the master key as a bearer token.
		control := func(method, path string) (*http.Response, error) {
			req, err := http.NewRequest(method, u+path, nil)
			if err != nil {
				return nil, err
			}
			req.Header.Set("Authorization", "Bearer "+cfg.Key)
			return http.DefaultClient.Do(req)
		}
		resetStats = func() {
			resp, err := control("POST", "/_b2local/stats/reset")
			if err == nil {
				resp.Body.Close()
			}
		}
		listCalls = func() int64 {
			resp, err := control("GET", "/_b2local/stats")
			if err != nil {
				return -1
			}
			defer resp.Body.Close()
			var st struct {
				Calls map[string]int64 `json:"calls"`
			}
			if json.NewDecoder(resp.Body).Decode(&st) != nil {
				return -1
			}
			return st.Calls["b2_list_file_versions"]
		}
	} else {
		tg = newEmulatorTarget(b, emulator.Options{})
		resetStats = tg.srv.ResetStats
		listCalls = func() int64 { return tg.calls("b2_list_file_versions") }
	}
	// An external server is left as it is (deleting a million versions one
	// by one would dwarf the benchmark): run it in memory. Its seeded bucket
	// is reused by later runs of the same size.
	var bk live.Bucket
	reuse := false
	if tg.srv == nil {
		name := "b2plan-bench-" + strconv.Itoa(n)
		if got, err := tg.m.Bucket(context.Background(), name); err == nil && got != nil {
			bk, reuse = *got, true
		} else {
			bk = tg.bucket(b, BucketSpec{Name: name})
		}
	} else {
		bk = tg.bucket(b, BucketSpec{})
	}
	if !reuse {
		start := time.Now()
		seed(b, tg.m, bk.Name, "bench/", n, 2*runtime.GOMAXPROCS(0))
		b.Logf("seeded %d versions in %v", n, time.Since(start).Round(time.Millisecond))
	}
	req := live.Request{Prefixes: []live.PrefixRequest{{BucketName: bk.Name, Prefix: "bench/"}}}
	ctx := context.Background()

	b.ResetTimer()
	var peak, retained, alloc float64
	var calls int64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		resetStats()
		stop := make(chan struct{})
		var maxHeap atomic.Uint64
		done := make(chan struct{})
		go samplePeak(stop, done, &maxHeap)
		b.StartTimer()

		l, err := Observe(ctx, tg.conn, req)

		b.StopTimer()
		close(stop)
		<-done
		if err != nil {
			b.Fatal(err)
		}
		if got := len(l.Listings[0].Versions); got != n {
			b.Fatalf("listed %d versions, want %d", got, n)
		}
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		alloc = float64(after.TotalAlloc-before.TotalAlloc) / 1e6
		if p := maxHeap.Load(); p > before.HeapAlloc {
			peak = float64(p-before.HeapAlloc) / 1e6
		}
		if after.HeapAlloc > before.HeapAlloc && float64(after.HeapAlloc-before.HeapAlloc)/1e6 > peak {
			peak = float64(after.HeapAlloc-before.HeapAlloc) / 1e6
		}
		runtime.GC()
		var kept runtime.MemStats
		runtime.ReadMemStats(&kept)
		retained = float64(int64(kept.HeapAlloc)-int64(before.HeapAlloc)) / 1e6
		runtime.KeepAlive(l)
		calls = listCalls()
		b.StartTimer()
	}
	b.ReportMetric(float64(n), "versions")
	b.ReportMetric(float64(calls), "list-calls")
	b.ReportMetric(peak, "peak-heap-MB")
	b.ReportMetric(retained, "live-MB")
	b.ReportMetric(alloc, "alloc-MB")
}

// samplePeak records the highest heap size until stop is closed.
func samplePeak(stop, done chan struct{}, max *atomic.Uint64) {
	defer close(done)
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for {
		metrics.Read(s)
		if v := s[0].Value.Uint64(); v > max.Load() {
			max.Store(v)
		}
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}
