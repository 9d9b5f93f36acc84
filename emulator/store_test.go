package emulator

import (
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Test helpers: the walks collected into slices.

type listItem struct {
	name   string
	v      *version // nil for a folder
	folder bool
}

// listNames collects walkNames: up to max items and the next start name.
func (b *bucket) listNames(start, prefix, delim string, max int) ([]listItem, string) {
	var items []listItem
	next := b.walkNames(start, prefix, delim, max, func(name string, v *version) {
		items = append(items, listItem{name: name, v: v, folder: v == nil})
	})
	return items, next
}

func (it listItem) nextName() string { return pageNextName(it.name, it.folder) }

// listVersions collects walkVersions: the items and the next (name, id).
func (b *bucket) listVersions(start string, startID uint64, prefix, delim string, max int) ([]listItem, string, uint64) {
	var items []listItem
	nextName, nextID := b.walkVersions(start, startID, prefix, delim, max, func(name string, v *version) {
		items = append(items, listItem{name: name, v: v, folder: v == nil})
	})
	return items, nextName, nextID
}

func names(items []listItem) []string {
	var out []string
	for _, it := range items {
		n := it.name
		if it.folder {
			n += "(folder)"
		} else if it.v.kind == kindHide {
			n += "(hide)"
		}
		out = append(out, n)
	}
	return out
}

func testBucket() (*store, *bucket) {
	st := newMemStore(Options{MasterKeyID: "a", MasterKey: "b", Now: time.Now})
	b := &bucket{ID: strings.Repeat("0", 24), Name: "bkt"}
	newBucketState(b)
	return st, b
}

func add(st *store, b *bucket, name string, kind uint8) *version {
	v := &version{id: st.allocID(), ts: st.nextTS(b), kind: kind}
	b.insertVersion(name, v)
	return v
}

func TestStoreVersionsAndResurfacing(t *testing.T) {
	st, b := testBucket()
	v1 := add(st, b, "a", kindUpload)
	v2 := add(st, b, "a", kindUpload)
	e := b.entry("a")
	if e.current() != v2 {
		t.Fatal("newest version not current")
	}
	h := add(st, b, "a", kindHide)
	if items, _ := b.listNames("", "", "", 100); len(items) != 0 {
		t.Errorf("hidden name listed: %v", names(items))
	}
	b.removeVersion(e, h)
	if e.current() != v2 {
		t.Errorf("deleting the hide marker must un-hide")
	}
	b.removeVersion(e, v2)
	if e.current() != v1 {
		t.Errorf("deleting the newest version must resurface the previous one")
	}
	// versions newest first, unfinished large files not current
	add(st, b, "a", kindStart)
	items, _, _ := b.listVersions("", 0, "", "", 100)
	if len(items) != 2 || items[0].v.kind != kindStart || items[1].v != v1 {
		t.Errorf("versions = %v", names(items))
	}
	if e.current() != v1 {
		t.Errorf("a start entry must not mask the upload")
	}
	if b.count != 2 {
		t.Errorf("count = %d", b.count)
	}
}

func TestStoreOrderingIsByteOrder(t *testing.T) {
	st, b := testBucket()
	for _, n := range []string{"é", "z", "Z", "a b", "a", "\U0001F600", "ｱ"} {
		add(st, b, n, kindUpload)
	}
	items, _ := b.listNames("", "", "", 100)
	got := names(items)
	want := []string{"Z", "a", "a b", "z", "é", "ｱ", "\U0001F600"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("order %q, want %q", got, want)
	}
}

func TestStoreListDelimiterPagination(t *testing.T) {
	st, b := testBucket()
	for _, n := range []string{"photos/a.jpg", "photos/cats/x.jpg", "photos/cats/y.jpg", "photos/dogs/y.jpg", "photos/z.jpg", "photos/hidden/h", "other"} {
		add(st, b, n, kindUpload)
	}
	add(st, b, "photos/hidden/h", kindHide)
	items, next := b.listNames("", "photos/", "/", 100)
	want := "[photos/a.jpg photos/cats/(folder) photos/dogs/(folder) photos/z.jpg]"
	if fmt.Sprint(names(items)) != want || next != "" {
		t.Errorf("delimiter listing %v next %q", names(items), next)
	}
	// page by 1: folders never repeat
	var all []string
	start := ""
	for i := 0; i < 10; i++ {
		items, next := b.listNames(start, "photos/", "/", 1)
		all = append(all, names(items)...)
		if next == "" {
			break
		}
		start = next
	}
	if fmt.Sprint(all) != want {
		t.Errorf("paged delimiter listing %v", all)
	}
	items, _ = b.listNames("", "photos/c", "/", 100)
	if fmt.Sprint(names(items)) != "[photos/cats/(folder)]" {
		t.Errorf("partial prefix: %v", names(items))
	}
	// nextFileName = last + " "
	items, next = b.listNames("", "", "", 2)
	if next != items[1].name+" " {
		t.Errorf("next %q", next)
	}
}

func TestStoreListVersionsPagination(t *testing.T) {
	st, b := testBucket()
	var want []string
	for i := 0; i < 5; i++ {
		n := fmt.Sprintf("f%d", i)
		for j := 0; j < 3; j++ {
			add(st, b, n, kindUpload)
		}
	}
	full, _, _ := b.listVersions("", 0, "", "", 1000)
	for _, it := range full {
		want = append(want, fmt.Sprint(it.name, it.v.id))
	}
	var got []string
	start, sid := "", uint64(0)
	for i := 0; i < 100; i++ {
		items, nn, ni := b.listVersions(start, sid, "", "", 4)
		for _, it := range items {
			got = append(got, fmt.Sprint(it.name, it.v.id))
		}
		if nn == "" {
			break
		}
		start, sid = nn, ni
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("paged versions\n got %v\nwant %v", got, want)
	}
	for i := 1; i < len(full); i++ {
		a, c := full[i-1], full[i]
		if a.name == c.name && a.v.ts <= c.v.ts {
			t.Errorf("versions of %s not newest first", a.name)
		}
	}
}

func TestStoreFileIDRoundTrip(t *testing.T) {
	bid := "0123456789abcdef01234567"
	ts := time.Date(2026, 3, 1, 12, 34, 56, 0, time.UTC).UnixMilli()
	for i, id := range []uint64{1, 0xabc, 1<<60 - 1, 7} {
		at := []int64{ts, ts, 0, 1 << 60}[i] // 1<<60 ms is past year 9999
		s := fileIDString(bid, id, at)
		b, got, ok := parseFileID(s)
		if !ok || b != bid || got != id || len(s) != 83 {
			t.Errorf("round trip %q → %q %x %v", s, b, got, ok)
		}
	}
	// B2's shape, checked against a real id's layout.
	want := "4_z0123456789abcdef01234567_f1000000000000abc_d20260301_m123456_c005_v0001000_t2748"
	if s := fileIDString(bid, 0xabc, ts); s != want {
		t.Errorf("file id %q, want %q", s, want)
	}
	for _, bad := range []string{"4_zshort", "4_z0123456789abcdef01234567_f1abc",
		"4_z0123456789abcdef01234567_f1000000000000abc_d2026030x_m123456_c005_v0001000_t2748",
		"4_z0123456789abcdef01234567_f1000000000000000_d20260301_m123456_c005_v0001000_t0000",
		"4_z27c88f1d182b150646ff0b16_f1004ba650fe24e6b_d20180809_m012036_c100_v0001015_t00280"} {
		if _, _, ok := parseFileID(bad); ok {
			t.Errorf("malformed id %q accepted", bad)
		}
	}
}

func TestStoreSuccessor(t *testing.T) {
	for in, want := range map[string]string{"a/": "a0", "ab": "ac", "a\xff": "b", "": ""} {
		if got := successor(in); got != want {
			t.Errorf("successor(%q) = %q, want %q", in, got, want)
		}
	}
}

// BenchmarkServerListPage1M times one 10,000-entry list page, server side
// only (handler + encoding), in a bucket of 1,000,000 versions.
func BenchmarkServerListPage1M(b *testing.B) {
	s, c := newWB(b, Options{})
	bid := c.bucket("bench-list", "allPrivate")
	st := s.st
	bk := st.buckets[bid]
	blob := &blob{data: []byte("0123456789"), size: 10}
	st.mu.Lock()
	for i := 0; i < 1_000_000; i++ {
		v := &version{id: st.allocID(), ts: st.nextTS(bk), size: 10, kind: kindUpload, flags: fSHA1 | fMD5, ctype: st.intern("text/plain"), segs: []seg{{b: blob, n: 10}}}
		bk.insertVersion(fmt.Sprintf("dir%03d/file%08d", (i/2)%1000, i/2), v)
	}
	st.mu.Unlock()
	for _, op := range []string{"b2_list_file_names", "b2_list_file_versions"} {
		b.Run(op, func(b *testing.B) {
			// the seeding garbage must not be collected on the clock
			runtime.GC()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				body := fmt.Sprintf(`{"bucketId":%q,"startFileName":"dir%03d/","maxFileCount":10000}`, bid, i%900)
				req, _ := http.NewRequest("POST", "http://b2local.invalid/b2api/v4/"+op, strings.NewReader(body))
				req.Header.Set("Authorization", c.tok)
				rec := &recorder{header: http.Header{}}
				s.Handler().ServeHTTP(rec, req)
				if rec.status != 200 {
					b.Fatalf("%d %s", rec.status, rec.body.String())
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/page")
		})
	}
}
