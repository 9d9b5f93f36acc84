package emulator_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/Backblaze/blazer/b2"
	"github.com/b2plan/b2plan/emulator"
	"github.com/google/go-cmp/cmp"
)

// blazer v0.7.2 (API v3) end to end over real HTTP.
func TestAPIBlazerEndToEnd(t *testing.T) {
	srv, base, hc := startServer(t, emulator.Options{AbsoluteMinimumPartSize: 1000})
	ctx := context.Background()
	c := newBlazer(t, base, nil)
	name := bucketName("blazer")
	bkt, err := c.NewBucket(ctx, name, &b2.BucketAttrs{Type: b2.Private, Info: map[string]string{"owner": "tests"}})
	if err != nil {
		t.Fatal(err)
	}
	// Same name again in the same account: blazer treats duplicate_bucket_name of
	// its own bucket as success (it lists by name).
	if _, err := c.NewBucket(ctx, name, nil); err != nil {
		t.Errorf("NewBucket on an existing own bucket: %v", err)
	}
	// Small objects, names with odd characters, and info.
	objs := map[string][]byte{
		"docs/a.txt":        []byte("alpha"),
		"docs/sub/b.txt":    []byte("beta"),
		"docs/c d+e%.txt":   []byte("gamma"),
		"docs/ünïcödé.txt":  []byte("delta"),
		"top.txt":           []byte("top"),
		"docs/sub/deep/z.x": []byte("zed"),
	}
	for n, d := range objs {
		w := bkt.Object(n).NewWriter(ctx, b2.WithAttrsOption(&b2.Attrs{ContentType: "text/plain", Info: map[string]string{"Color": "blue"}, LastModified: time.UnixMilli(1700000000000)}))
		if _, err := w.Write(d); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatalf("write %q: %v", n, err)
		}
	}
	// Large file via blazer's chunked writer (b2_start_large_file / upload_part / finish).
	large := payload(99, 5500)
	w := bkt.Object("large.bin").NewWriter(ctx)
	w.ChunkSize = 1200
	w.ConcurrentUploads = 3
	if _, err := io.Copy(w, bytes.NewReader(large)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("large write: %v", err)
	}
	if n := srv.Stats().Calls["b2_upload_part"]; n < 5 {
		t.Errorf("blazer large write used %d upload_part calls, want >= 5", n)
	}
	objs["large.bin"] = large

	for n, d := range objs {
		got, err := blazerGet(ctx, bkt, n)
		if err != nil || !bytes.Equal(got, d) {
			t.Errorf("read %q: %v (len %d)", n, err, len(got))
		}
		attrs, err := bkt.Object(n).Attrs(ctx)
		if err != nil {
			t.Errorf("attrs %q: %v", n, err)
			continue
		}
		if attrs.Size != int64(len(d)) {
			t.Errorf("attrs %q size %d", n, attrs.Size)
		}
		if n != "large.bin" && (attrs.Info["color"] != "blue" || !attrs.LastModified.Equal(time.UnixMilli(1700000000000))) {
			t.Errorf("attrs %q info %v lastmod %v", n, attrs.Info, attrs.LastModified)
		}
	}
	// Ranged read.
	r := bkt.Object("large.bin").NewRangeReader(ctx, 1000, 300)
	part, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(part, large[1000:1300]) {
		t.Errorf("range read: %v len %d", err, len(part))
	}
	// Listing with delimiter and small pages.
	var got []string
	it := bkt.List(ctx, b2.ListPrefix("docs/"), b2.ListDelimiter("/"), b2.ListPageSize(1))
	for it.Next() {
		got = append(got, it.Object().Name())
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	want := []string{"docs/a.txt", "docs/c d+e%.txt", "docs/sub/", "docs/ünïcödé.txt"}
	if !cmp.Equal(got, want) {
		t.Errorf("blazer delimiter listing:\n got %q\nwant %q", got, want)
	}
	// Full listing.
	got = nil
	it = bkt.List(ctx, b2.ListPageSize(2))
	for it.Next() {
		got = append(got, it.Object().Name())
	}
	var all []string
	for n := range objs {
		all = append(all, n)
	}
	sort.Strings(all)
	if !cmp.Equal(got, all) {
		t.Errorf("blazer listing: %q want %q", got, all)
	}
	// Hide / reveal / delete.
	if err := bkt.Object("top.txt").Hide(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := blazerGet(ctx, bkt, "top.txt"); !b2.IsNotExist(err) {
		t.Errorf("read hidden: %v, want not-exist", err)
	}
	if err := bkt.Reveal(ctx, "top.txt"); err != nil {
		t.Fatalf("reveal: %v", err)
	}
	if d, err := blazerGet(ctx, bkt, "top.txt"); err != nil || string(d) != "top" {
		t.Errorf("read revealed: %q %v", d, err)
	}
	if err := bkt.Object("docs/a.txt").Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := bkt.Object("docs/a.txt").Attrs(ctx); !b2.IsNotExist(err) {
		t.Errorf("attrs after delete: %v", err)
	}
	// Versions listing includes hide markers.
	var hidden int
	it = bkt.List(ctx, b2.ListHidden(), b2.ListPrefix("top"))
	for it.Next() {
		hidden++
	}
	if hidden < 1 {
		t.Errorf("ListHidden saw %d entries", hidden)
	}
	// Download authorization URL.
	u, err := bkt.Object("docs/sub/b.txt").AuthURL(ctx, time.Hour, "")
	if err != nil {
		t.Fatal(err)
	}
	res, err := hc.Get(u.String())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(body) != "beta" {
		t.Errorf("AuthURL download: %d %q", res.StatusCode, body)
	}
	// Bucket attributes update with revision.
	attrs, err := bkt.Attrs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if attrs.Info["owner"] != "tests" {
		t.Errorf("bucket info: %v", attrs.Info)
	}
	if err := bkt.Update(ctx, &b2.BucketAttrs{Type: b2.Public}); err != nil {
		t.Errorf("bucket update: %v", err)
	}
	res, err = http.Get(bkt.BaseURL() + "/file/" + name + "/docs/sub/b.txt")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("public download after blazer update: %d", res.StatusCode)
	}
	// Keys (v3 bucketId shape).
	k, err := bkt.CreateKey(ctx, "blazer-key", b2.Capabilities("listBuckets", "listFiles", "readFiles"), b2.Prefix("docs/"), b2.Lifetime(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	kc, err := b2.NewClient(ctx, k.ID(), k.Secret(), b2.APIBase(base))
	if err != nil {
		t.Fatalf("authorize with restricted key: %v", err)
	}
	kb, err := kc.Bucket(ctx, name)
	if err != nil {
		t.Fatalf("restricted key Bucket: %v", err)
	}
	if d, err := blazerGet(ctx, kb, "docs/sub/b.txt"); err != nil || string(d) != "beta" {
		t.Errorf("restricted read: %q %v", d, err)
	}
	if _, err := blazerGet(ctx, kb, "top.txt"); err == nil {
		t.Errorf("restricted key read outside its prefix")
	}
	if err := blazerPut(ctx, kb, "docs/new", []byte("x")); err == nil {
		t.Errorf("restricted key without writeFiles wrote a file")
	}
	keys, _, err := c.ListKeys(ctx, 100, "")
	if err != nil && err != io.EOF {
		t.Fatal(err)
	}
	found := false
	for _, kk := range keys {
		if kk.ID() == k.ID() {
			found = true
			// (blazer's base.ListKeys drops capabilities, so only the name is checked.)
			if kk.Name() != "blazer-key" {
				t.Errorf("listed key: %s", kk.Name())
			}
		}
	}
	if !found {
		t.Errorf("created key not listed")
	}
	if err := k.Delete(ctx); err != nil {
		t.Errorf("delete key: %v", err)
	}
	// Delete the bucket after emptying it.
	it = bkt.List(ctx, b2.ListHidden())
	for it.Next() {
		if err := it.Object().Delete(ctx); err != nil {
			t.Errorf("delete %s: %v", it.Object().Name(), err)
		}
	}
	if err := bkt.Delete(ctx); err != nil {
		// blazer deletes only current versions; clean the rest raw.
		m := master(t, hc, base, 3)
		bl := m.call("b2_list_buckets", map[string]any{"accountId": m.accountID, "bucketName": name})
		bid := jstr(bl, "buckets", "0", "bucketId")
		for _, e := range m.allVersions(bid, "", 1000) {
			m.call("b2_delete_file_version", map[string]any{"fileName": e.Name, "fileId": e.ID})
		}
		if err := bkt.Delete(ctx); err != nil {
			t.Errorf("delete bucket: %v", err)
		}
	}
	bs, err := c.ListBuckets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		if b.Name() == name {
			t.Errorf("bucket still listed after delete")
		}
	}
	_ = fmt.Sprint
}
