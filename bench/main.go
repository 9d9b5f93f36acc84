// Command bench measures b2plan apply of a folder move against the b2local
// emulator served on a real loopback listener, next to a minimal
// hand-written loop of the same B2 calls (b2_list_file_versions, then
// b2_copy_file + b2_delete_file_version per object, raw HTTP) at the same
// concurrency, in the same run, and prints the ratios.
//
//	go run ./bench                       # N = 10,000
//	go run ./bench -n 10000,100000 -parallelism 16
//	go run ./bench -api s3               # b2plan through the S3-compatible API
//	go run ./bench -front-limit 500 -latency 50ms -minimal=false
//	go run ./bench -n 30000,300000 -saved -minimal=false   # plan file and plan/apply memory
//
// b2plan runs as a child process (this program re-executed as the CLI),
// which reports its own peak RSS (VmHWM); calls are counted by the emulator
// (/_b2local/stats), 429 and 503 answers by a counting front
// (bench/throttle). The floor is one copy and one delete per object plus
// one list call per 10,000 objects; with -api s3 (endpoint
// s3://127.0.0.1:PORT) it is one CopyObject per object, one DeleteObjects
// per 1,000 and the listing (ListObjectVersions per 1,000 plus
// b2_list_file_versions per 10,000, for the SHA-1s). The minimal loop stays
// on the native API. With a rate limit the time floor is floor calls /
// rate.
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/b2plan/b2plan/b2client"
	"github.com/b2plan/b2plan/bench/throttle"
	"github.com/b2plan/b2plan/command"
	"github.com/b2plan/b2plan/emulator"
	"github.com/b2plan/b2plan/executor"
)

// cliEnv makes this program run as the b2plan CLI (the measured child).
const cliEnv = "B2PLAN_BENCH_CLI"

func main() {
	if os.Getenv(cliEnv) == "1" {
		if os.Getenv("B2PLAN_BENCH_TRACE") != "" { // the account window, every 500 ms
			go func() {
				for range time.Tick(500 * time.Millisecond) {
					for _, w := range b2client.AdaptiveWindows() {
						fmt.Fprintf(os.Stderr, "window %.1f (min %.1f) requests %d throttled %d decreases %d\n", w.Window, w.MinWindow, w.Requests, w.Throttled, w.Decreases)
					}
				}
			}()
		}
		if f := os.Getenv("B2PLAN_BENCH_HEAPPROFILE"); f != "" {
			go heapAtPeak(f + "." + os.Args[1])
		}
		if f := os.Getenv("B2PLAN_BENCH_CPUPROFILE"); f != "" {
			if fh, err := os.Create(f); err == nil {
				pprof.StartCPUProfile(fh)
				code := command.Run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
				pprof.StopCPUProfile()
				fh.Close()
				writePeakRSS()
				os.Exit(code)
			}
		}
		code := command.Run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
		writePeakRSS()
		os.Exit(code)
	}
	ns := flag.String("n", "10000", "comma-separated object counts")
	par := flag.Int("parallelism", executor.DefaultParallelism, "concurrency of both movers")
	rounds := flag.Int("rounds", 1, "measurements per N (the best of each is reported)")
	latency := flag.Duration("latency", 0, "latency the emulator adds to every call (seeding too)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the b2plan runs to this file")
	flag.StringVar(&api, "api", "native", "API b2plan uses: native or s3")
	rateLimit := flag.Int("rate-limit", 0, "b2local's own rate limit, requests per second (emulator.Options.RateLimit)")
	frontLimit := flag.Float64("front-limit", 0, "bench's own rate limit in front of b2local, requests per second (token bucket, burst 0.1 s, 429 with Retry-After: 1)")
	minimal := flag.Bool("minimal", true, "also run the minimal loop")
	flag.BoolVar(&withRclone, "rclone", false, "also move with rclone (needs rclone on PATH)")
	flag.BoolVar(&saved, "saved", false, "b2plan plan -out, then apply PLANFILE (reports plan memory and plan file size)")
	flag.DurationVar(&planOnly, "plan-only", 0, "only b2plan plan -out, every call delayed this long after a fast seeding (listing speed); -1ns: no delay")
	flag.Parse()
	profile = *cpuprofile
	if api != "native" && api != "s3" {
		fail(fmt.Errorf("bad -api %q: want native or s3", api))
	}
	opts := emulator.Options{Latency: *latency}
	limit := *frontLimit
	if *rateLimit > 0 {
		if *frontLimit > 0 {
			fail(fmt.Errorf("-rate-limit and -front-limit: choose one"))
		}
		if err := setRateLimit(&opts, *rateLimit); err != nil {
			fail(err)
		}
		limit = float64(*rateLimit)
	}
	fmt.Printf("b2plan folder-move benchmark: b2plan over the %s API, parallelism %d, emulator latency %v, rate limit %s, GOMAXPROCS default\n\n",
		api, *par, *latency, limitText(*rateLimit, *frontLimit))
	fmt.Printf("%9s  %-8s %10s %10s %10s %10s %9s %9s %9s\n", "N", "mover", "time", "objects/s", "calls/obj", "throttled", "peak RSS", "CPU µs/o", "100M obj")
	for _, f := range strings.Split(*ns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			fail(fmt.Errorf("bad -n %q", f))
		}
		if err := benchN(n, *par, *rounds, opts, *frontLimit, limit, *minimal); err != nil {
			fail(err)
		}
	}
}

func limitText(rate int, front float64) string {
	switch {
	case rate > 0:
		return fmt.Sprintf("%d/s (b2local)", rate)
	case front > 0:
		return fmt.Sprintf("%g/s (bench front)", front)
	}
	return "none"
}

// setRateLimit sets b2local's own rate limit, which only emulators that
// have it (Options.RateLimit) offer.
func setRateLimit(o *emulator.Options, n int) error {
	f := reflect.ValueOf(o).Elem().FieldByName("RateLimit")
	switch {
	case !f.IsValid():
		return fmt.Errorf("-rate-limit %d: this b2local has no rate limit (emulator.Options.RateLimit); use -front-limit %d for bench's own token bucket in front of it", n, n)
	case f.CanInt():
		f.SetInt(int64(n))
	case f.CanFloat():
		f.SetFloat(float64(n))
	default:
		return fmt.Errorf("-rate-limit: emulator.Options.RateLimit is a %s, not a number of requests per second", f.Type())
	}
	return nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

var profile string

// api is the API b2plan is pointed at: "native" or "s3".
var api = "native"

var saved bool

// planOnly (-plan-only): measure "b2plan plan -out" only, with this delay
// on every call.
var planOnly time.Duration

// rssFileEnv names the file the b2plan child writes its own peak RSS to.
// The child's rusage ru_maxrss cannot be used: Go starts children with
// vfork (CLONE_VM), and Linux carries the high-water mark of the memory the
// child shared until exec, this process's with its emulator, into the
// child's maxrss, so it reported this process's peak when that was higher.
// VmHWM of /proc/self/status counts the child's own memory only.
const rssFileEnv = "B2PLAN_BENCH_RSS_FILE"

// writePeakRSS writes VmHWM (bytes) to the file in rssFileEnv.
func writePeakRSS() {
	path := os.Getenv(rssFileEnv)
	if path == "" {
		return
	}
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "VmHWM:" {
			if kb, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				os.WriteFile(path, []byte(strconv.FormatInt(kb*1024, 10)), 0o600)
			}
		}
	}
}

// heapAtPeak writes a heap profile to path each time the heap in use
// reaches a new peak (checked every 100 ms): B2PLAN_BENCH_HEAPPROFILE=FILE
// shows what the b2plan child holds at its peak (FILE.plan, FILE.apply).
func heapAtPeak(path string) {
	var peak uint64
	var ms runtime.MemStats
	for range time.Tick(100 * time.Millisecond) {
		runtime.ReadMemStats(&ms)
		if ms.HeapInuse <= peak+peak/10 {
			continue
		}
		peak = ms.HeapInuse
		if f, err := os.Create(path); err == nil {
			pprof.WriteHeapProfile(f)
			f.Close()
		}
	}
}

type result struct {
	d         time.Duration
	cpu       time.Duration // CPU of this process and its children during the run
	calls     int64
	throttled int64 // 429 and 503 answers
	rss       int64 // peak RSS of the b2plan child (bytes); plan's with -saved in planRSS
	planRSS   int64
	planTime  time.Duration
	planBytes int64
	stats     emulator.Stats
}

func benchN(n, par, rounds int, opts emulator.Options, front, limit float64, minimal bool) error {
	srv, err := emulator.NewServer(opts)
	if err != nil {
		return err
	}
	defer srv.Close()
	// b2local served through a counting (and, with -front-limit, limiting)
	// front on a loopback listener.
	th := throttle.New(srv.Handler(), front)
	th.Rate, th.Latency = front, opts.Latency
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: th}
	go hs.Serve(ln)
	defer hs.Close()
	url := "http://" + ln.Addr().String()
	ctx := context.Background()
	conn, err := b2client.Connect(ctx, b2client.Config{Endpoint: srv.URL(), Transport: srv.Transport(),
		KeyID: emulator.DefaultKeyID, Key: emulator.DefaultKey, Getenv: func(string) string { return "" }})
	if err != nil {
		return err
	}
	m := b2client.NewMutator(conn)
	var best [3]result
	movers := []int{0}
	if minimal {
		movers = append(movers, 1)
	}
	if withRclone {
		movers = append(movers, 2)
	}
	for r := 0; r < rounds; r++ {
		buckets := [3]string{fmt.Sprintf("bench-b2plan-%d", r), fmt.Sprintf("bench-loop-%d", r), fmt.Sprintf("bench-rclone-%d", r)}
		for _, which := range movers {
			b := buckets[which]
			if _, err := m.CreateBucket(ctx, b2client.BucketSpec{Name: b}); err != nil {
				return err
			}
			if err := seed(ctx, m, b, n); err != nil {
				return err
			}
		}
		order := movers
		if r%2 == 1 {
			order = slices.Clone(movers)
			slices.Reverse(order)
		}
		for _, which := range order {
			srv.ResetStats()
			th.Reset()
			var res result
			cpu0 := cpuTime()
			start := time.Now()
			if which == 0 && planOnly != 0 {
				th.Delay.Store(int64(max(planOnly, 0)))
				err = runPlanOnly(url, buckets[0], &res)
				th.Delay.Store(0)
				res.d = res.planTime
				fmt.Printf("%9d  b2plan plan -out: %v, %d calls, peak RSS %.1f MB, plan file %d bytes\n", n, res.planTime.Round(time.Millisecond), srv.Stats().Total, float64(res.planRSS)/1e6, res.planBytes)
				continue
			} else if which == 0 {
				err = runB2plan(url, buckets[0], par, &res)
			} else if which == 1 {
				err = runLoop(url, buckets[1], par)
			} else {
				err = runRclone(url, buckets[2], par)
			}
			res.d = time.Since(start)
			res.cpu = cpuTime() - cpu0
			if err != nil {
				return err
			}
			res.stats = srv.Stats()
			res.calls = res.stats.Total
			_, res.throttled = th.Counts()
			if err := verify(ctx, conn, buckets[which], n); err != nil {
				return fmt.Errorf("%s: %w", moverNames[which], err)
			}
			if best[which].d == 0 || res.d < best[which].d {
				best[which] = res
			}
		}
	}
	if planOnly != 0 {
		return nil
	}
	for _, i := range movers {
		r := best[i]
		rate := float64(n) / r.d.Seconds()
		rss := "-"
		if r.rss > 0 {
			rss = fmt.Sprintf("%.1f MB", float64(r.rss)/1e6)
		}
		fmt.Printf("%9d  %-8s %10s %10.0f %10.4f %9.2f%% %9s %9.1f %9s\n", n, moverNames[i], r.d.Round(time.Millisecond),
			rate, float64(r.calls)/float64(n), 100*float64(r.throttled)/float64(max(1, r.calls+r.throttled)), rss,
			float64(r.cpu.Microseconds())/float64(n), projection(1e8/rate))
	}
	floor := 2*float64(n) + float64((n+9999)/10000)
	if api == "s3" {
		floor = float64(n) + 2*float64((n+999)/1000) + float64((n+9999)/10000)
	}
	b := best[0]
	line := fmt.Sprintf("%9d  b2plan   calls/floor = %.4f (floor %.0f)", n, float64(b.calls)/floor, floor)
	if minimal {
		line += fmt.Sprintf("; time b2plan/minimal = %.3f", b.d.Seconds()/best[1].d.Seconds())
	}
	if withRclone {
		line += fmt.Sprintf("; time b2plan/rclone = %.3f", b.d.Seconds()/best[2].d.Seconds())
	}
	if limit > 0 {
		fl := time.Duration(floor / limit * float64(time.Second))
		line += fmt.Sprintf("; rate floor %v, b2plan/floor = %.3f", fl.Round(time.Millisecond), b.d.Seconds()/fl.Seconds())
		if withRclone {
			line += fmt.Sprintf(", rclone/floor = %.3f", best[2].d.Seconds()/fl.Seconds())
		}
	}
	if saved {
		line += fmt.Sprintf("; plan %v, peak RSS %.1f MB, plan file %d bytes (%.1f bytes/object)", b.planTime.Round(time.Millisecond), float64(b.planRSS)/1e6, b.planBytes, float64(b.planBytes)/float64(n))
	}
	fmt.Printf("%s; calls by API: %v\n\n", line, b.stats.Calls)
	return nil
}

// projection formats how long 100,000,000 objects take at the measured
// rate (seconds given).
func projection(sec float64) string {
	d := time.Duration(sec * float64(time.Second))
	if d >= 48*time.Hour {
		return fmt.Sprintf("%.1f d", d.Hours()/24)
	}
	return fmt.Sprintf("%.1f h", d.Hours())
}

// cpuTime is the CPU time (user + system) used by this process so far.
func cpuTime() time.Duration {
	var t time.Duration
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if err := syscall.Getrusage(who, &ru); err == nil {
			t += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	return t
}

// seed uploads n small objects under src/ (in-process transport: fast).
func seed(ctx context.Context, m *b2client.Mutator, bucket string, n int) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	work := make(chan int)
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				data := []byte(fmt.Sprintf("object %d of the benchmark", i))
				if _, err := m.Upload(ctx, bucket, fmt.Sprintf("src/d%03d/f%07d", i%500, i), "text/plain", data, nil); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	return first
}

// runB2plan runs "b2plan apply -auto-approve" (or, with -saved, "plan
// -out" then "apply PLANFILE") as a child process on a configuration that
// moves src/ to dst/, and records its peak RSS (and the plan's).
func runB2plan(url, bucket string, par int, res *result) error {
	dir, err := os.MkdirTemp("", "b2plan-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg := fmt.Sprintf("move \"bench\" {\n  bucket = %q\n  from   = \"src/\"\n  to     = \"dst/\"\n}\n", bucket)
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(cfg), 0o644); err != nil {
		return err
	}
	endpoint := url
	if api == "s3" {
		endpoint = "s3://" + strings.TrimPrefix(url, "http://") // loopback: plain HTTP
	}
	env := append(os.Environ(), cliEnv+"=1", "B2_ENDPOINT="+endpoint, "B2_APPLICATION_KEY_ID="+emulator.DefaultKeyID, "B2_APPLICATION_KEY="+emulator.DefaultKey)
	if profile != "" {
		env = append(env, "B2PLAN_BENCH_CPUPROFILE="+profile)
	}
	run := func(args ...string) (int64, error) {
		cmd := exec.Command(os.Args[0], args...)
		rssFile := filepath.Join(dir, "rss")
		os.Remove(rssFile)
		cmd.Env = append(env, rssFileEnv+"="+rssFile)
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = io.Discard, &stderr
		if os.Getenv("B2PLAN_BENCH_TRACE") != "" {
			cmd.Stderr = io.MultiWriter(&stderr, os.Stderr)
		}
		if err := cmd.Run(); err != nil {
			return 0, fmt.Errorf("b2plan %s: %v: %s", args[0], err, stderr.String())
		}
		b, err := os.ReadFile(rssFile)
		if err != nil {
			return 0, fmt.Errorf("b2plan %s: no peak RSS reported: %v", args[0], err)
		}
		return strconv.ParseInt(string(b), 10, 64)
	}
	if saved {
		planFile := filepath.Join(dir, "move.plan")
		start := time.Now()
		if res.planRSS, err = run("plan", "-out="+planFile, dir); err != nil {
			return err
		}
		res.planTime = time.Since(start)
		if fi, err := os.Stat(planFile); err == nil {
			res.planBytes = fi.Size()
		}
		if planOnlyStop {
			return nil
		}
		res.rss, err = run("apply", "-parallelism="+strconv.Itoa(par), planFile)
		return err
	}
	res.rss, err = run("apply", "-auto-approve", "-parallelism="+strconv.Itoa(par), dir)
	return err
}

// runPlanOnly runs "b2plan plan -out" (bench -plan-only).
func runPlanOnly(url, bucket string, res *result) error {
	saved = true
	defer func() { saved = false }()
	planOnlyStop = true
	defer func() { planOnlyStop = false }()
	return runB2plan(url, bucket, 1, res)
}

// planOnlyStop makes runB2plan stop after the plan.
var planOnlyStop bool

var moverNames = []string{"b2plan", "minimal", "rclone"}

// withRclone adds rclone (-rclone) as a third mover.
var withRclone bool

// runRclone moves src/ to dst/ with "rclone move" on the b2 backend
// pointed at the emulator: server-side copies, then hard deletes of the
// sources (--b2-hard-delete; rclone hides them otherwise), par transfers
// and checkers.
func runRclone(url, bucket string, par int) error {
	p := strconv.Itoa(par)
	cmd := exec.Command("rclone", "move", ":b2:"+bucket+"/src", ":b2:"+bucket+"/dst",
		"--b2-endpoint", url, "--b2-hard-delete", "--transfers", p, "--checkers", p,
		"--config", "/dev/null", "--retries", "10", "--low-level-retries", "20")
	cmd.Env = append(os.Environ(), "RCLONE_B2_ACCOUNT="+emulator.DefaultKeyID, "RCLONE_B2_KEY="+emulator.DefaultKey)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("rclone move: %v: %s", err, tail(string(out), 2000))
	}
	return nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// runLoop is the minimal mover: authorize, list every version under src/,
// then copy_file + delete_file_version per object with par workers.
func runLoop(url, bucket string, par int) error {
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	req, _ := http.NewRequest("GET", url+"/b2api/v4/b2_authorize_account", nil)
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(emulator.DefaultKeyID+":"+emulator.DefaultKey)))
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	var auth struct {
		AccountID string `json:"accountId"`
		Token     string `json:"authorizationToken"`
		APIInfo   struct {
			Storage struct {
				APIURL string `json:"apiUrl"`
			} `json:"storageApi"`
		} `json:"apiInfo"`
	}
	err = json.NewDecoder(resp.Body).Decode(&auth)
	resp.Body.Close()
	if err != nil {
		return err
	}
	call := func(api string, in, out any) error {
		b, _ := json.Marshal(in)
		for {
			r, _ := http.NewRequest("POST", auth.APIInfo.Storage.APIURL+"/b2api/v4/"+api, bytes.NewReader(b))
			r.Header.Set("Authorization", auth.Token)
			resp, err := hc.Do(r)
			if err != nil {
				return err
			}
			if resp.StatusCode == 429 || resp.StatusCode == 503 {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				time.Sleep(10 * time.Millisecond)
				continue
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 {
				msg, _ := io.ReadAll(resp.Body)
				return fmt.Errorf("%s: %d %s", api, resp.StatusCode, msg)
			}
			if out == nil {
				_, err = io.Copy(io.Discard, resp.Body)
				return err
			}
			return json.NewDecoder(resp.Body).Decode(out)
		}
	}
	var lb struct {
		Buckets []struct {
			ID string `json:"bucketId"`
		} `json:"buckets"`
	}
	if err := call("b2_list_buckets", map[string]any{"accountId": auth.AccountID, "bucketName": bucket}, &lb); err != nil {
		return err
	}
	if len(lb.Buckets) != 1 {
		return fmt.Errorf("bucket %s not found", bucket)
	}
	bucketID := lb.Buckets[0].ID
	type file struct {
		ID   string `json:"fileId"`
		Name string `json:"fileName"`
	}
	var files []file
	start := map[string]any{"bucketId": bucketID, "prefix": "src/", "maxFileCount": 10000}
	for {
		var page struct {
			Files    []file  `json:"files"`
			NextName *string `json:"nextFileName"`
			NextID   *string `json:"nextFileId"`
		}
		if err := call("b2_list_file_versions", start, &page); err != nil {
			return err
		}
		files = append(files, page.Files...)
		if page.NextName == nil {
			break
		}
		start = map[string]any{"bucketId": bucketID, "prefix": "src/", "maxFileCount": 10000, "startFileName": *page.NextName}
		if page.NextID != nil {
			start["startFileId"] = *page.NextID
		}
	}
	work := make(chan file)
	errs := make(chan error, par)
	var wg sync.WaitGroup
	for w := 0; w < par; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range work {
				if err := call("b2_copy_file", map[string]any{"sourceFileId": f.ID, "fileName": "dst/" + f.Name[4:]}, nil); err != nil {
					select {
					case errs <- err:
					default:
					}
					continue
				}
				if err := call("b2_delete_file_version", map[string]any{"fileName": f.Name, "fileId": f.ID}, nil); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	for _, f := range files {
		work <- f
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	return nil
}

// verify checks that the move completed: n objects under dst/, none under src/.
func verify(ctx context.Context, c *b2client.Conn, bucket string, n int) error {
	l, err := b2client.Observe(ctx, c, liveReq(bucket))
	if err != nil {
		return err
	}
	src, dst := 0, 0
	for _, v := range l.Listings[0].Versions {
		switch {
		case strings.HasPrefix(v.Name, "src/"):
			src++
		case strings.HasPrefix(v.Name, "dst/"):
			dst++
		}
	}
	if src != 0 || dst != n {
		return fmt.Errorf("after the move: %d versions at the source, %d at the destination (want 0, %d)", src, dst, n)
	}
	return nil
}
