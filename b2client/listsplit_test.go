package b2client

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/b2plan/b2plan/emulator"
	"github.com/b2plan/b2plan/live"
)

// tcpTarget is an emulator served over a real TCP socket: seeding goes
// through the in-process transport (fast), listings through conn, a
// connection over HTTP on the socket (native or S3).
type tcpTarget struct {
	*target
	url string
}

func newTCPTarget(t testing.TB, opts emulator.Options) *tcpTarget {
	t.Helper()
	tg := newEmulatorTargetAPI(t, opts, false)
	u, err := tg.srv.Start("")
	if err != nil {
		t.Fatal(err)
	}
	return &tcpTarget{target: tg, url: u}
}

// connect opens a connection over the socket (s3: through the S3 endpoint).
func (tt *tcpTarget) connect(t testing.TB, s3 bool) *Conn {
	t.Helper()
	cfg := Config{Endpoint: tt.url, KeyID: emulator.DefaultKeyID, Key: emulator.DefaultKey, Retry: fastRetry, Getenv: noEnv}
	if s3 {
		cfg.Endpoint = "s3+" + tt.url
	}
	c, err := Connect(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// setLatency sets b2local's latency per call (its control endpoint).
func (tt *tcpTarget) setLatency(t testing.TB, ms int) {
	t.Helper()
	req, err := http.NewRequest("POST", tt.url+"/_b2local/faults", strings.NewReader(fmt.Sprintf(`{"latencyMs": %d}`, ms)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+emulator.DefaultKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte(fmt.Sprintf(`"latencyMs":%d`, ms))) {
		t.Fatalf("setting latency: %d %s", resp.StatusCode, body)
	}
}

// seeded records what was written, newest last per name: the independent
// expectation of a listing.
type seeded struct {
	mu   sync.Mutex
	byID map[string]string   // id → name
	vs   map[string][]string // name → ids, oldest first
}

func (sd *seeded) add(v live.Version) {
	sd.mu.Lock()
	defer sd.mu.Unlock()
	if sd.vs == nil {
		sd.vs, sd.byID = map[string][]string{}, map[string]string{}
	}
	sd.vs[v.Name] = append(sd.vs[v.Name], v.ID)
	sd.byID[v.ID] = v.Name
}

// want is the expected listing of [start, end) of prefix: names ascending,
// newest first within a name, as "name\x00id".
func (sd *seeded) want(prefix, start, end string) []string {
	var names []string
	for n := range sd.vs {
		if strings.HasPrefix(n, prefix) && n >= start && (end == "" || n < end) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	var out []string
	for _, n := range names {
		ids := sd.vs[n]
		for i := len(ids) - 1; i >= 0; i-- {
			out = append(out, n+"\x00"+ids[i])
		}
	}
	return out
}

// upload writes each name once (count times), w workers.
func (sd *seeded) upload(t testing.TB, m *Mutator, bucket string, names []string, w int) {
	t.Helper()
	var wg sync.WaitGroup
	var failed atomic.Value
	ch := make(chan string)
	for range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range ch {
				v, err := m.Upload(context.Background(), bucket, n, "text/plain", []byte(n), nil)
				if err != nil {
					failed.Store(err)
					continue
				}
				sd.add(v)
			}
		}()
	}
	for _, n := range names {
		ch <- n
	}
	close(ch)
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		t.Fatalf("seed: %v", err)
	}
}

func drain(ctx context.Context, p Pager) ([]live.Version, error) {
	var out []live.Version
	for {
		vs, err := p.Next(ctx)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, vs...)
	}
}

// sameVersions: every field of every version, in order (cmp.Diff only
// to show a difference: it is slow on long listings).
func sameVersions(a, b []live.Version) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !reflect.DeepEqual(a[i], b[i]) {
			return false
		}
	}
	return true
}

func keys(vs []live.Version) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.Name + "\x00" + v.ID
	}
	return out
}

// parGoroutines counts the goroutines of parallel pagers.
func parGoroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "(*parState)")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// noPagerGoroutines fails when a pager goroutine is still running once the
// pager is done (polled: they exit as their calls return).
func noPagerGoroutines(t *testing.T) {
	t.Helper()
	for i := 0; i < 500; i++ {
		if parGoroutines() == 0 {
			return
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true)
	t.Fatalf("%d parallel pager goroutines left:\n%s", parGoroutines(), buf[:n])
}

// checkRanges: consecutive, disjoint, covering [start, end) of prefix.
func checkRanges(t *testing.T, rs []NameRange, start, end string, most int) {
	t.Helper()
	if len(rs) == 0 || len(rs) > most {
		t.Fatalf("%d ranges, want 1..%d: %q", len(rs), most, rs)
	}
	if rs[0].Start != start || rs[len(rs)-1].End != end {
		t.Fatalf("ranges %q do not cover [%q, %q)", rs, start, end)
	}
	for i := range rs {
		if i > 0 && rs[i].Start != rs[i-1].End {
			t.Fatalf("ranges %q: %d does not start where %d ends", rs, i, i-1)
		}
		if rs[i].End != "" && rs[i].Start >= rs[i].End {
			t.Fatalf("ranges %q: %d is empty or reversed", rs, i)
		}
	}
}

// TestListParallelExact: a parallel listing is exactly the sequential one
// (and both are exactly what was written), version by version in order, on
// prefixes with nested folders, names directly under the prefix, the
// delimiter at odd places, unicode, hide markers (a folder of hidden names
// too), versions of one name across a page boundary, the empty
// prefix, one folder, thousands of tiny folders, a flat prefix and one
// whose first split page is mostly names (the rest one range); for whole prefixes and sub-ranges, with several
// parallelisms; over the native API and over S3; then again with 20% of
// calls failing.
func TestListParallelExact(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	tt := newTCPTarget(t, emulator.Options{})
	ctx := context.Background()
	b := tt.bucket(t, BucketSpec{})
	sd := &seeded{}
	var names []string
	for _, n := range []string{
		"t/a", "t/b!", "t/z", "t/a b/c", "t/d1/x", "t/d1/x/y", "t/d1/x/y/z", "t/d1//z", "t//x", "t///",
		"t/d2/", "t/d2/q", "t/e", "t/é/ü", "t/日本/x", "t/日本", "t/\u00ff", "t/~", "t/d10/a", "t/d1.x",
		"t/h/1", "t/h/2", "t/m/a", "t/m/zz", "one/f/1", "one/f/2/3", "u",
	} {
		names = append(names, n)
	}
	for i := range 3000 {
		names = append(names, fmt.Sprintf("many/%04d/x", i))
		if i%500 == 0 {
			names = append(names, fmt.Sprintf("many/%04d", i))
		}
	}
	for i := range 31000 { // more than the split reads (3 pages)
		names = append(names, fmt.Sprintf("flat/%06d", i))
	}
	for i := range 700 {
		names = append(names, fmt.Sprintf("t/d3/%04d", i))
	}
	for i := range 1200 { // a first split page of mostly names, then sub-prefixes
		names = append(names, fmt.Sprintf("mix/%04d", i))
		if i%2 == 0 {
			names = append(names, fmt.Sprintf("mix/%04d/x", i), fmt.Sprintf("mix/%04d/y", i))
		}
	}
	// 9,990 names then 30 versions of one name: a page boundary (10,000)
	// falls among them.
	for i := range 9990 {
		names = append(names, fmt.Sprintf("t/m/a%05d", i))
	}
	sd.upload(t, tt.m, b.Name, names, 8)
	many := make([]string, 30)
	for i := range many {
		many[i] = "t/m/many"
	}
	sd.upload(t, tt.m, b.Name, many, 1)
	sd.upload(t, tt.m, b.Name, []string{"t/a", "t/d1/x", "t/日本"}, 1)
	for _, n := range []string{"t/h/1", "t/h/2", "t/d1/x/y", "t/z"} {
		v, err := tt.m.HideFile(ctx, b.ID, n)
		if err != nil {
			t.Fatal(err)
		}
		sd.add(v)
	}

	type rng struct{ prefix, start, end string }
	cases := []rng{
		{"t/", "", ""}, {"", "", ""}, {"one/", "", ""}, {"many/", "", ""}, {"flat/", "", ""},
		{"t/d", "", ""}, {"t/", "t/d1/x", "t/m/many"}, {"t/", "t/d1/x/", "t/m/zz"}, {"many/", "many/0100/", "many/2000"},
		{"none/", "", ""}, {"t/m/", "", ""}, {"mix/", "", ""},
	}
	// always: split into Ranges even when the first page is all of it or
	// holds many sub-prefixes (as on bigger listings).
	optsList := []ParallelOptions{{Parallel: 1, Ranges: 1}, {Parallel: 2, Ranges: 3, Always: true}, {}, {Parallel: 8, Ranges: 64, Ahead: 2, Always: true}}
	run := func(t *testing.T, c *Conn, cases []rng, optsList []ParallelOptions) {
		for _, r := range cases {
			start := r.start
			if start == "" {
				start = r.prefix
			}
			seq, err := drain(ctx, c.ListRange(b.Name, b.ID, r.prefix, r.start, r.end))
			if err != nil {
				t.Fatalf("%q: sequential: %v", r, err)
			}
			if want := sd.want(r.prefix, start, r.end); !slices.Equal(want, keys(seq)) {
				t.Fatalf("%q: the sequential listing is not what was written (-written +listed):\n%s", r, cmp.Diff(want, keys(seq)))
			}
			for _, v := range seq { // each upload's content is its name
				if v.Action == live.ActionUpload && (v.SHA1 != sha1.Sum([]byte(v.Name)) || v.Size != int64(len(v.Name))) {
					t.Fatalf("%q: %s listed with %d bytes, SHA-1 %s", r, v.Name, v.Size, v.SHA1Hex())
				}
			}
			for _, o := range optsList {
				p := c.ListParallel(b.Name, b.ID, r.prefix, r.start, r.end, o)
				got, err := drain(ctx, p)
				if err != nil {
					t.Fatalf("%q %+v: %v", r, o, err)
				}
				if !sameVersions(seq, got) {
					t.Fatalf("%q %+v: parallel listing differs (-sequential +parallel):\n%s", r, o, cmp.Diff(seq, got, cmpopts.EquateEmpty()))
				}
				o = o.withDefaults()
				checkRanges(t, p.Ranges(), start, r.end, o.Ranges)
				if o.Always && r == (rng{"many/", "", ""}) && len(p.Ranges()) != o.Ranges {
					t.Fatalf("3,000 tiny folders: %d ranges, want %d", len(p.Ranges()), o.Ranges)
				}
			}
		}
		noPagerGoroutines(t)
	}
	// Every case with every option set natively; over S3 (each page joined
	// with ListObjectVersions, slow) and under faults, fewer.
	few := []ParallelOptions{{Parallel: 2, Ranges: 3, Always: true}, {Parallel: 8, Ranges: 64, Ahead: 2, Always: true}}
	some := []rng{cases[0], cases[3], cases[6], cases[8], cases[10]}
	s3Cases := slices.Concat(cases[:1], cases[2:4], cases[5:])
	for _, s3 := range []bool{false, true} {
		t.Run(fmt.Sprintf("s3=%v", s3), func(t *testing.T) {
			c := tt.connect(t, s3)
			if s3 {
				run(t, c, s3Cases, few)
			} else {
				run(t, c, cases, optsList)
			}
			tt.srv.SetFaults(0.2, 503, 500, 429)
			defer tt.srv.SetFaults(0)
			t.Run("faults", func(t *testing.T) {
				if s3 {
					run(t, c, some[2:], few[:1])
				} else {
					run(t, c, some, few)
				}
			})
		})
	}
}

// TestSplitRange: how a prefix is split, and at what cost.
func TestSplitRange(t *testing.T) {
	tt := newTCPTarget(t, emulator.Options{})
	ctx := context.Background()
	b := tt.bucket(t, BucketSpec{})
	sd := &seeded{}
	var names []string
	for i := range 2000 {
		names = append(names, fmt.Sprintf("p/%04d/x", i))
	}
	names = append(names, "p/a", "p/zz", "q/only/1", "q/only/2", "f/1", "f/2", "p/0100")
	// 600 names then 500 sub-prefixes: the first page is mostly names, so
	// the split stops there and the rest is one last range.
	for i := range 600 {
		names = append(names, fmt.Sprintf("mix/a%04d", i))
	}
	for i := range 500 {
		names = append(names, fmt.Sprintf("mix/f%04d/x", i))
	}
	sd.upload(t, tt.m, b.Name, names, 8)
	c := tt.connect(t, false)
	tt.srv.ResetStats()
	rs, err := c.SplitRange(ctx, b.Name, b.ID, "p/", 16)
	if err != nil {
		t.Fatal(err)
	}
	if n := tt.calls("b2_list_file_versions"); n != 3 {
		t.Errorf("split of 2,003 entries: %d calls, want 3 (1,000 a page)", n)
	}
	checkRanges(t, rs, "p/", "", 16)
	if len(rs) != 16 {
		t.Errorf("2,000 folders in at most 16 ranges: got %d: %q", len(rs), rs)
	}
	for i, r := range rs[1:] {
		if !strings.HasSuffix(r.Start, "/") {
			t.Errorf("range %d starts at %q, not at a sub-prefix", i+1, r.Start)
		}
	}
	for _, pr := range []string{"q/", "f/", "zz/"} {
		rs, err := c.SplitRange(ctx, b.Name, b.ID, pr, 16)
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != 1 || rs[0] != (NameRange{pr, ""}) {
			t.Errorf("prefix %q (one folder, flat, empty): ranges %q, want one", pr, rs)
		}
	}
	if rs, err := c.SplitRange(ctx, b.Name, b.ID, "p/", 1); err != nil || len(rs) != 1 {
		t.Errorf("at most one range: %q, %v", rs, err)
	}
	tt.srv.ResetStats()
	rs, err = c.SplitRange(ctx, b.Name, b.ID, "mix/", 8)
	if err != nil {
		t.Fatal(err)
	}
	checkRanges(t, rs, "mix/", "", 8)
	if n := tt.calls("b2_list_file_versions"); n != 1 || len(rs) != 8 || rs[7].Start != "mix/f0400/" || rs[1].Start <= "mix/f0000/" {
		t.Errorf("names then sub-prefixes: %d calls, ranges %q; want 1 call, 7 ranges over the first 400 sub-prefixes (the names in the first) and the rest from mix/f0400/", n, rs)
	}
	tt.srv.ResetStats()
	if rs, err := c.SplitRange(ctx, b.Name, b.ID, "", 8); err != nil || len(rs) != 4 {
		t.Errorf("whole bucket (4 sub-prefixes): %q, %v", rs, err)
	}
}

// failingLists answers b2_list_file_versions pages (not the split's
// delimiter listing) starting at failFrom or after with a permanent error,
// and holds those before it but the first until the client gives up on
// them, counting the ones it gave up on.
type failingLists struct {
	h        http.Handler
	failFrom string
	aborted  atomic.Int64
	failed   atomic.Int64
}

func (f *failingLists) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasSuffix(r.URL.Path, "/b2_list_file_versions") {
		f.h.ServeHTTP(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	var req struct {
		Start     string `json:"startFileName"`
		Delimiter string `json:"delimiter"`
	}
	_ = json.Unmarshal(body, &req)
	switch {
	case req.Delimiter != "" || req.Start == "":
	case req.Start >= f.failFrom:
		f.failed.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(400)
		io.WriteString(w, `{"status":400,"code":"bad_request","message":"injected failure"}`)
		return
	default:
		select {
		case <-r.Context().Done():
			f.aborted.Add(1)
			return
		case <-time.After(time.Minute):
		}
	}
	f.h.ServeHTTP(w, r)
}

// TestListParallelCancel: an error in one range stops the others (their
// calls in flight are abandoned) and is returned; a cancelled context, a
// deadline, Close and a dropped pager all stop every goroutine.
func TestListParallelCancel(t *testing.T) {
	tt := newTCPTarget(t, emulator.Options{})
	ctx := context.Background()
	b := tt.bucket(t, BucketSpec{})
	sd := &seeded{}
	// 8 sub-prefixes of 3,000: the first page (10,000) covers 3 of them, so
	// the listing is split in two: [p/, p/04/) and [p/04/, end).
	var names []string
	for i := range 8 {
		for j := range 3000 {
			names = append(names, fmt.Sprintf("p/%02d/%04d", i, j))
		}
	}
	sd.upload(t, tt.m, b.Name, names, 8)

	t.Run("error in one range", func(t *testing.T) {
		f := &failingLists{h: tt.srv.Handler(), failFrom: "p/04/"}
		hs := httptest.NewServer(f)
		defer hs.Close()
		c, err := Connect(ctx, Config{Endpoint: hs.URL, KeyID: emulator.DefaultKeyID, Key: emulator.DefaultKey, Retry: fastRetry, Getenv: noEnv})
		if err != nil {
			t.Fatal(err)
		}
		p := c.ListParallel(b.Name, b.ID, "p/", "", "", ParallelOptions{Parallel: 8, Ranges: 8})
		vs, err := drain(ctx, p)
		if err == nil || !strings.Contains(err.Error(), "injected failure") {
			t.Fatalf("listing = %d versions, %v; want the injected failure", len(vs), err)
		}
		if _, err2 := p.Next(ctx); err2 == nil || err2.Error() != err.Error() {
			t.Errorf("Next after the failure: %v, want %v again", err2, err)
		}
		if rs := p.Ranges(); len(rs) != 2 || rs[1].Start != "p/04/" {
			t.Errorf("ranges %q, want [p/, p/04/) and [p/04/, end)", rs)
		}
		noPagerGoroutines(t)
		for i := 0; f.aborted.Load() == 0 && i < 500; i++ {
			time.Sleep(10 * time.Millisecond)
		}
		if f.aborted.Load() == 0 || f.failed.Load() == 0 {
			t.Errorf("failed %d, abandoned %d list calls; want the held ones abandoned", f.failed.Load(), f.aborted.Load())
		}
	})

	tt.setLatency(t, 20)
	defer tt.setLatency(t, 0)
	sb := b
	c := tt.connect(t, false)
	stops := map[string]func(p *ParallelPager, cancel context.CancelFunc){
		"cancel": func(_ *ParallelPager, cancel context.CancelFunc) { cancel() },
		"close":  func(p *ParallelPager, _ context.CancelFunc) { p.Close() },
	}
	for name, stop := range stops {
		t.Run(name, func(t *testing.T) {
			cctx, cancel := context.WithCancel(ctx)
			defer cancel()
			p := c.ListParallel(sb.Name, sb.ID, "p/", "", "", ParallelOptions{Parallel: 4, Ranges: 40})
			if _, err := p.Next(cctx); err != nil {
				t.Fatal(err)
			}
			stop(p, cancel)
			if _, err := drain(ctx, p); err == nil {
				t.Fatal("the listing went on after being stopped")
			}
			noPagerGoroutines(t)
		})
	}
	t.Run("deadline", func(t *testing.T) {
		dctx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
		defer cancel()
		_, err := drain(dctx, c.ListParallel(sb.Name, sb.ID, "p/", "", "", ParallelOptions{Parallel: 4, Ranges: 40}))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("past the deadline: %v", err)
		}
		noPagerGoroutines(t)
	})
	t.Run("dropped", func(t *testing.T) {
		func() {
			p := c.ListParallel(sb.Name, sb.ID, "p/", "", "", ParallelOptions{Parallel: 4, Ranges: 40})
			if _, err := p.Next(ctx); err != nil {
				t.Fatal(err)
			}
		}()
		noPagerGoroutines(t) // it runs GCs
	})
}

// TestAdaptiveListDurations: listing pages of 10,000 entries next to short
// ones (a parallel listing's last pages, a split) do not look like
// queueing, so they leave the account's window alone; a 429 still counts.
func TestAdaptiveListDurations(t *testing.T) {
	a := newAdaptive(8)
	for i := 0; i < 200; i++ {
		for j := 0; j < 8; j++ {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err := a.acquire(ctx)
			cancel()
			if err != nil {
				t.Fatalf("list pages of mixed sizes shrank the window: %+v", a.Stats())
			}
		}
		for j := 0; j < 8; j++ {
			r, lat := attemptResult{status: 200, api: "b2_list_file_versions"}, 5*time.Millisecond
			if j%2 == 1 {
				lat = 400 * time.Millisecond
			}
			a.release(&r, lat)
		}
	}
	if s := a.Stats(); s.Decreases != 0 || s.Window != 8 {
		t.Fatalf("list pages of mixed sizes: %+v, want no decrease", s)
	}
	a.acquire(context.Background())
	a.release(&attemptResult{status: 429, api: "b2_list_file_versions"}, time.Millisecond)
	if s := a.Stats(); s.Decreases != 1 {
		t.Fatalf("a refused list call: %+v, want a decrease", s)
	}
}
