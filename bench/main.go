// Command bench measures b2plan apply of a folder move against the b2local
// emulator served on a real loopback listener, next to a minimal
// hand-written loop of the same B2 calls (b2_list_file_versions, then
// b2_copy_file + b2_delete_file_version per object, raw HTTP) at the same
// concurrency, in the same run, and prints the ratios.
//
//	go run ./bench                       # N = 10,000
//	go run ./bench -n 10000,100000 -parallelism 16
//	go run ./bench -api s3               # b2plan through the S3-compatible API
//
// Calls are counted by the emulator (/_b2local/stats). The floor is one copy
// and one delete per object plus one list call per 10,000 objects; with
// -api s3 (endpoint s3://127.0.0.1:PORT) it is one CopyObject per object,
// one DeleteObjects per 1,000 and the listing (ListObjectVersions per 1,000
// plus b2_list_file_versions per 10,000, for the SHA-1s). The minimal loop
// stays on the native API.
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/b2plan/b2plan/b2client"
	"github.com/b2plan/b2plan/command"
	"github.com/b2plan/b2plan/emulator"
	"github.com/b2plan/b2plan/executor"
)

func main() {
	ns := flag.String("n", "10000", "comma-separated object counts")
	par := flag.Int("parallelism", executor.DefaultParallelism, "concurrency of both movers")
	rounds := flag.Int("rounds", 1, "measurements per N (the best of each is reported)")
	latency := flag.Duration("latency", 0, "latency the emulator adds to every call (seeding too)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the b2plan runs to this file")
	flag.StringVar(&api, "api", "native", "API b2plan uses: native or s3")
	flag.Parse()
	profile = *cpuprofile
	if api != "native" && api != "s3" {
		fail(fmt.Errorf("bad -api %q: want native or s3", api))
	}
	fmt.Printf("b2plan folder-move benchmark: b2plan over the %s API, parallelism %d, emulator latency %v, GOMAXPROCS default\n\n", api, *par, *latency)
	fmt.Printf("%9s  %-8s %10s %12s %11s %13s %14s\n", "N", "mover", "time", "objects/s", "calls/obj", "B2 calls", "CPU µs/object")
	for _, f := range strings.Split(*ns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			fail(fmt.Errorf("bad -n %q", f))
		}
		if err := benchN(n, *par, *rounds, *latency); err != nil {
			fail(err)
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

var profile string

// api is the API b2plan is pointed at: "native" or "s3".
var api = "native"

type result struct {
	d     time.Duration
	cpu   time.Duration // process CPU (client and emulator) during the run
	calls int64
	stats emulator.Stats
}

func benchN(n, par, rounds int, latency time.Duration) error {
	srv, err := emulator.NewServer(emulator.Options{Latency: latency})
	if err != nil {
		return err
	}
	defer srv.Close()
	url, err := srv.Start("127.0.0.1:0")
	if err != nil {
		return err
	}
	ctx := context.Background()
	conn, err := b2client.Connect(ctx, b2client.Config{Endpoint: url, Transport: srv.Transport(),
		KeyID: emulator.DefaultKeyID, Key: emulator.DefaultKey, Getenv: func(string) string { return "" }})
	if err != nil {
		return err
	}
	m := b2client.NewMutator(conn)
	var best [2]result
	for r := 0; r < rounds; r++ {
		buckets := [2]string{fmt.Sprintf("bench-b2plan-%d", r), fmt.Sprintf("bench-loop-%d", r)}
		for _, b := range buckets {
			if _, err := m.CreateBucket(ctx, b2client.BucketSpec{Name: b}); err != nil {
				return err
			}
			if err := seed(ctx, m, b, n); err != nil {
				return err
			}
		}
		order := []int{0, 1}
		if r%2 == 1 {
			order = []int{1, 0}
		}
		for _, which := range order {
			srv.ResetStats()
			var res result
			cpu0 := cpuTime()
			start := time.Now()
			if which == 0 {
				if profile != "" {
					f, perr := os.Create(profile)
					if perr != nil {
						return perr
					}
					pprof.StartCPUProfile(f)
					defer func() { pprof.StopCPUProfile(); f.Close() }()
				}
				err = runB2plan(url, buckets[0], par)
				if profile != "" {
					pprof.StopCPUProfile()
				}
			} else {
				err = runLoop(url, buckets[1], par)
			}
			res.d = time.Since(start)
			res.cpu = cpuTime() - cpu0
			if err != nil {
				return err
			}
			res.stats = srv.Stats()
			res.calls = res.stats.Total
			if err := verify(ctx, conn, buckets[which], n); err != nil {
				return fmt.Errorf("%s: %w", []string{"b2plan", "loop"}[which], err)
			}
			if best[which].d == 0 || res.d < best[which].d {
				best[which] = res
			}
		}
	}
	for i, name := range []string{"b2plan", "minimal"} {
		r := best[i]
		fmt.Printf("%9d  %-8s %10s %12.0f %11.4f %13d %14.1f\n", n, name, r.d.Round(time.Millisecond),
			float64(n)/r.d.Seconds(), float64(r.calls)/float64(n), r.calls, float64(r.cpu.Microseconds())/float64(n))
	}
	floor := 2*float64(n) + float64((n+9999)/10000)
	if api == "s3" {
		floor = float64(n) + 2*float64((n+999)/1000) + float64((n+9999)/10000)
	}
	fmt.Printf("%9d  ratio    time b2plan/minimal = %.3f; calls b2plan/floor = %.4f (floor %.0f); b2plan calls by API: %v\n\n",
		n, best[0].d.Seconds()/best[1].d.Seconds(), float64(best[0].calls)/floor, floor, best[0].stats.Calls)
	return nil
}

// cpuTime is the CPU time (user + system) used by this process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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

// runB2plan runs "b2plan apply -auto-approve" in-process on a configuration
// that moves src/ to dst/.
func runB2plan(url, bucket string, par int) error {
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
	env := []string{"B2_ENDPOINT=" + endpoint, "B2_APPLICATION_KEY_ID=" + emulator.DefaultKeyID, "B2_APPLICATION_KEY=" + emulator.DefaultKey}
	var stderr bytes.Buffer
	code := command.RunWithEnv([]string{"apply", "-auto-approve", "-parallelism=" + strconv.Itoa(par), dir}, env, strings.NewReader(""), io.Discard, &stderr)
	if code != 0 {
		return fmt.Errorf("b2plan apply exited %d: %s", code, stderr.String())
	}
	return nil
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
