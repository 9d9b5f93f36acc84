package emulator_test

// Benchmarks (no timing assertions). Goals from the issue: >= 5,000 calls/s for
// small b2_copy_file / b2_delete_file_version with 32 concurrent clients over
// loopback HTTP; <= 50 ms per 10,000-entry list page at 1,000,000 versions;
// <= 600 bytes per stored version.
//
// The list/memory benchmarks seed B2LOCAL_BENCH_VERSIONS versions (default
// 100,000; B2LOCAL_BENCH_BIG=1 seeds 1,000,000) through b2_copy_file fan-out on
// the in-process transport.
//
//	go test ./emulator/ -run '^$' -bench . -benchtime 3x
//	B2LOCAL_BENCH_BIG=1 go test ./emulator/ -run '^$' -bench 'List|Memory' -benchtime 20x -timeout 30m

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/b2plan/b2plan/emulator"
)

const benchClients = 32

func setParallel32(b *testing.B) {
	p := benchClients / runtime.GOMAXPROCS(0)
	if p < 1 {
		p = 1
	}
	b.SetParallelism(p)
}

func benchServer(b *testing.B) (*sess, string) {
	_, base, hc := startServer(b, emulator.Options{})
	hc.Transport.(*http.Transport).MaxIdleConnsPerHost = 2 * benchClients
	s := master(b, hc, base, 4)
	bid := s.bucket(bucketName("bench"))
	return s, bid
}

// copyFanOut creates n versions by copying src concurrently; names come from nameOf.
func copyFanOut(tb testing.TB, s *sess, srcID string, n, workers int, nameOf func(i int) string) []string {
	ids := make([]string, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Int64
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				r := s.tryNoFatal("b2_copy_file", map[string]any{"sourceFileId": srcID, "fileName": nameOf(i)})
				if r.Status != 200 {
					if failed.Add(1) == 1 {
						tb.Errorf("seed copy %d: %v", i, r)
					}
					return
				}
				ids[i] = jstr(r.Body, "fileId")
			}
		}()
	}
	wg.Wait()
	if failed.Load() > 0 {
		tb.FailNow()
	}
	return ids
}

func BenchmarkCopyFile(b *testing.B) {
	s, bid := benchServer(b)
	src := jstr(s.upload(bid, "src", []byte("small source object"), nil), "fileId")
	var n atomic.Int64
	setParallel32(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			r := s.tryNoFatal("b2_copy_file", map[string]any{"sourceFileId": src, "fileName": "c/" + strconv.FormatInt(i, 10)})
			if r.Status != 200 {
				b.Errorf("copy: %v", r)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}

func BenchmarkDeleteFileVersion(b *testing.B) {
	s, bid := benchServer(b)
	src := jstr(s.upload(bid, "src", []byte("small source object"), nil), "fileId")
	ids := copyFanOut(b, s, src, b.N, benchClients, func(i int) string { return "d/" + strconv.Itoa(i) })
	var n atomic.Int64
	setParallel32(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(n.Add(1) - 1)
			r := s.tryNoFatal("b2_delete_file_version", map[string]any{"fileName": "d/" + strconv.Itoa(i), "fileId": ids[i]})
			if r.Status != 200 {
				b.Errorf("delete: %v", r)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}

type bigBucket struct {
	s              *sess
	bid            string
	names          []string // sorted sample of names
	versions       int
	bytesPerVer    float64
	seedDur        time.Duration
	keepAliveSrv   *emulator.Server
	loopback       *sess
	seedingFailure string
}

var (
	bigOnce sync.Once
	big     *bigBucket
)

func benchVersions() int {
	if v, err := strconv.Atoi(os.Getenv("B2LOCAL_BENCH_VERSIONS")); err == nil && v > 0 {
		return v
	}
	if os.Getenv("B2LOCAL_BENCH_BIG") == "1" {
		return 1000000
	}
	return 100000
}

// seedBig builds one bucket with benchVersions() versions (2 per name) and
// measures heap growth per version.
func seedBig(b *testing.B) *bigBucket {
	bigOnce.Do(func() {
		nv := benchVersions()
		bb := &bigBucket{versions: nv}
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		srv, err := emulator.NewServer(emulator.Options{})
		if err != nil {
			bb.seedingFailure = err.Error()
			big = bb
			return
		}
		bb.keepAliveSrv = srv
		s := master(b, srv.HTTPClient(), srv.URL(), 4)
		bid := s.bucket(bucketName("big"))
		src := jstr(s.upload(bid, "src", []byte("0123456789"), nil), "fileId")
		nameOf := func(i int) string { return fmt.Sprintf("dir%03d/file%08d", (i/2)%1000, i/2) }
		start := time.Now()
		copyFanOut(b, s, src, nv, 2*runtime.GOMAXPROCS(0)+2, nameOf)
		bb.seedDur = time.Since(start)
		// remove the source so the bucket holds exactly nv versions
		s.call("b2_delete_file_version", map[string]any{"fileName": "src", "fileId": src})
		runtime.GC()
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		bb.bytesPerVer = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(nv)
		u, err := srv.Start("")
		if err != nil {
			bb.seedingFailure = err.Error()
			big = bb
			return
		}
		hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
		bb.loopback = master(b, hc, u, 4)
		bb.s, bb.bid = s, bid
		for i := 0; i < nv/2; i += 97 {
			bb.names = append(bb.names, nameOf(2*i))
		}
		sort.Strings(bb.names)
		big = bb
	})
	if big.seedingFailure != "" {
		b.Fatal(big.seedingFailure)
	}
	return big
}

func benchListPage(b *testing.B, op string) {
	bb := seedBig(b)
	b.Logf("%d versions seeded in %v (%.0f copies/s)", bb.versions, bb.seedDur, float64(bb.versions)/bb.seedDur.Seconds())
	rng := rand.New(rand.NewSource(1))
	ls := bb.loopback
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := bb.names[rng.Intn(len(bb.names)/2)] // leave >= 10k entries after it
		body, _ := json.Marshal(map[string]any{"bucketId": bb.bid, "startFileName": start, "maxFileCount": 10000})
		req, _ := http.NewRequest("POST", ls.opURL(op), bytes.NewReader(body))
		req.Header.Set("Authorization", ls.token)
		res, err := ls.hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		raw, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			b.Fatal(err)
		}
		// Validation is not part of the measured server time.
		b.StopTimer()
		var page struct {
			Files []struct {
				FileName string `json:"fileName"`
			} `json:"files"`
		}
		if err := json.Unmarshal(raw, &page); err != nil || res.StatusCode != 200 || len(page.Files) != 10000 {
			b.Fatalf("%s page: status %d, %d files, %v", op, res.StatusCode, len(page.Files), err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/page")
	b.ReportMetric(float64(bb.versions), "versions")
}

func BenchmarkListFileNames10k(b *testing.B)    { benchListPage(b, "b2_list_file_names") }
func BenchmarkListFileVersions10k(b *testing.B) { benchListPage(b, "b2_list_file_versions") }

func BenchmarkMemoryPerVersion(b *testing.B) {
	bb := seedBig(b)
	for i := 0; i < b.N; i++ {
		_ = bb.versions
	}
	b.ReportMetric(bb.bytesPerVer, "bytes/version")
	b.ReportMetric(float64(bb.versions), "versions")
}
