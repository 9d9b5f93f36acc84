package planner

import (
	"bytes"
	"crypto/sha1"
	"fmt"
	"os"
	"runtime"
	"sort"
	"testing"

	"github.com/b2plan/b2plan/config"
	"github.com/b2plan/b2plan/live"
)

// moveFixture lists n objects under src/ (names share strings as the live
// package does), with a few older versions.
func moveFixture(n int) (*config.Desired, *live.Live) {
	vs := make([]live.Version, 0, n+n/10)
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("src/%03d/object-%08d.dat", i%1000, i)
		v := live.Version{Name: name, ID: fmt.Sprintf("4_zb0c1d2e3f4a5b6c7d8e9f0a1_f1%015d_d20260301_m120000_c005_v0001000_t%04d", i, i%10000),
			ContentType: "application/octet-stream", Size: int64(1000 + i%5000), Uploaded: 1772366400000 + int64(i)}
		v.SHA1 = sha1.Sum([]byte(name)) // realistic, incompressible
		v.Flags = live.FlagSHA1
		vs = append(vs, v)
		if i%10 == 0 {
			old := v
			old.ID += "-old"
			old.Uploaded -= 1000
			vs = append(vs, old)
		}
	}
	// Sort by name (names are generated out of order because of i%1000).
	sortByName(vs)
	d := &config.Desired{Moves: []*config.Move{{Address: "move.big", Bucket: "acme-big", From: "src/", To: "dst/"}}}
	b := liveBucket("acme-big")
	l := &live.Live{Buckets: []live.Bucket{b}, Listings: []live.Listing{
		{BucketName: "acme-big", BucketID: b.ID, Prefix: "src/", Versions: vs},
		{BucketName: "acme-big", BucketID: b.ID, Prefix: "dst/"}}}
	return d, l
}

func sortByName(vs []live.Version) {
	// stable: keeps newest-first within a name
	sortStable(vs, func(a, b *live.Version) bool { return a.Name < b.Name })
}

func BenchmarkPlanMove1M(b *testing.B) {
	n := 100_000
	if os.Getenv("B2PLAN_BENCH_BIG") == "1" {
		n = 1_000_000
	}
	d, l := moveFixture(n)
	runtime.GC()
	var p *Plan
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p, _ = Compute(d, l, Options{PlanID: "bench"})
	}
	b.StopTimer()
	if p.Moves[0].Objects != n {
		b.Fatalf("objects = %d, want %d", p.Moves[0].Objects, n)
	}
	var buf bytes.Buffer
	if err := Encode(&buf, p); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(buf.Len()), "planfile-bytes")
	b.ReportMetric(float64(len(p.Moves[0].Ops)), "ops")
}

func BenchmarkPlanFileEncode(b *testing.B) {
	n := 100_000
	if os.Getenv("B2PLAN_BENCH_BIG") == "1" {
		n = 1_000_000
	}
	d, l := moveFixture(n)
	p, _ := Compute(d, l, Options{PlanID: "bench"})
	var buf bytes.Buffer
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		buf.Reset()
		if err := Encode(&buf, p); err != nil {
			b.Fatal(err)
		}
		if _, err := Decode(bytes.NewReader(buf.Bytes())); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "planfile-bytes")
}

func sortStable(vs []live.Version, less func(a, b *live.Version) bool) {
	sort.SliceStable(vs, func(i, j int) bool { return less(&vs[i], &vs[j]) })
}
