package emulator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Backblaze/blazer/b2"
	"github.com/b2plan/b2plan/emulator"
)

func newBlazer(t testing.TB, base string, rt http.RoundTripper, opts ...b2.ClientOption) *b2.Client {
	t.Helper()
	ctx := context.Background()
	o := []b2.ClientOption{b2.APIBase(base)}
	if rt != nil {
		o = append(o, b2.Transport(rt))
	}
	o = append(o, opts...)
	c, err := b2.NewClient(ctx, emulator.DefaultKeyID, emulator.DefaultKey, o...)
	if err != nil {
		t.Fatalf("blazer NewClient: %v", err)
	}
	return c
}

func blazerPut(ctx context.Context, b *b2.Bucket, name string, data []byte, opts ...b2.WriterOption) error {
	w := b.Object(name).NewWriter(ctx, opts...)
	if _, err := io.Copy(w, bytes.NewReader(data)); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

func blazerGet(ctx context.Context, b *b2.Bucket, name string) ([]byte, error) {
	r := b.Object(name).NewReader(ctx)
	defer r.Close()
	return io.ReadAll(r)
}

func payload(i, n int) []byte {
	var buf bytes.Buffer
	for buf.Len() < n {
		fmt.Fprintf(&buf, "obj-%d-%d;", i, buf.Len())
	}
	return buf.Bytes()[:n]
}

// §2.3, SPEC §4: a blazer client keeps working under 503/429/500 faults and
// the data stays intact.
func TestAPIFaultsBlazer(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: blazer backs off for >= 1 s per fault")
	}
	srv, base, hc := startServer(t, emulator.Options{Seed: 7})
	ctx := context.Background()
	c := newBlazer(t, base, nil)
	bkt, err := c.NewBucket(ctx, bucketName("faulty"), &b2.BucketAttrs{Type: b2.Private})
	if err != nil {
		t.Fatal(err)
	}
	srv.SetFaults(0.2, 503, 429, 500)
	srv.ResetStats()
	const n = 12
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := blazerPut(ctx, bkt, fmt.Sprintf("f/%02d", i), payload(i, 1000+i*37)); err != nil {
				errs <- fmt.Errorf("put %d: %w", i, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var got []string
	it := bkt.List(ctx, b2.ListPrefix("f/"), b2.ListPageSize(5))
	for it.Next() {
		got = append(got, it.Object().Name())
	}
	if err := it.Err(); err != nil {
		t.Errorf("list under faults: %v", err)
	}
	if len(got) != n {
		t.Errorf("listed %d objects, want %d: %v", len(got), n, got)
	}
	for i := 0; i < n; i++ {
		b, err := blazerGet(ctx, bkt, fmt.Sprintf("f/%02d", i))
		if err != nil || !bytes.Equal(b, payload(i, 1000+i*37)) {
			t.Errorf("read back %d under faults: err=%v len=%d", i, err, len(b))
		}
	}
	st := srv.Stats()
	if st.Faults == 0 {
		t.Errorf("fault rate 0.2 injected no faults: %+v", st)
	}
	srv.SetFaults(0)
	// Exactly n versions: no failed call left anything behind.
	m := master(t, hc, base, 4)
	bl := m.call("b2_list_buckets", map[string]any{"accountId": m.accountID, "bucketName": bkt.Name()})
	vs := m.allVersions(jstr(bl, "buckets", "0", "bucketId"), "", 1000)
	if len(vs) != n {
		t.Errorf("versions after faulty run = %d, want %d: %v", len(vs), n, vs)
	}
}

// Faults: envelope, Retry-After, /_b2local never faulted, failed calls change nothing,
// copies under faults keep data intact.
func TestAPIFaultsRaw(t *testing.T) {
	srv, base, hc := startServer(t, emulator.Options{Seed: 3})
	s := master(t, hc, base, 4)
	bn := bucketName("rawfault")
	bid := s.bucket(bn)
	src := s.upload(bid, "src", []byte("source-data"), nil)

	for _, tc := range []struct {
		code      int
		b2code    string
		retryHdr  bool
		b2codeAlt string
	}{{503, "service_unavailable", true, ""}, {429, "too_many_requests", true, ""}, {500, "internal_error", false, ""}} {
		srv.SetFaults(1, tc.code)
		r := s.try("b2_list_buckets", map[string]any{"accountId": s.accountID})
		wantErr(t, fmt.Sprintf("injected %d", tc.code), r, tc.code, tc.b2code)
		if tc.retryHdr && r.Header.Get("Retry-After") == "" {
			t.Errorf("injected %d must carry Retry-After", tc.code)
		}
		// A failed mutating call changes nothing.
		r = s.try("b2_copy_file", map[string]any{"sourceFileId": jstr(src, "fileId"), "fileName": "should-not-exist"})
		if r.Status != tc.code {
			t.Errorf("copy under rate 1: %v", r)
		}
		// Control endpoints are never faulted.
		for _, p := range []string{"/_b2local/health", "/_b2local/stats"} {
			res, err := control(hc, "GET", base+p, "")
			if err != nil || res.StatusCode != 200 {
				t.Errorf("GET %s under faults: %v %v", p, res, err)
			} else {
				res.Body.Close()
			}
		}
	}
	// Authorization is an API call too and gets faulted.
	if r, _ := authorizeRaw(hc, base, 4, emulator.DefaultKeyID, emulator.DefaultKey); r.Status != 500 {
		t.Errorf("authorize under rate 1: %v", r)
	}
	// Turn faults off over HTTP.
	res, err := control(hc, "POST", base+"/_b2local/faults", `{"rate":0}`)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("POST /_b2local/faults: %v %v", res, err)
	}
	res.Body.Close()
	if got := names(s.allNames(bid, "", "", 100)); len(got) != 1 || got[0] != "src" {
		t.Errorf("failed calls left state behind: %v", got)
	}
	// Negative RetryAfter omits the header (Options doc).
	srv2, base2, hc2 := startServer(t, emulator.Options{RetryAfter: -1})
	s2 := master(t, hc2, base2, 4)
	srv2.SetFaults(1, 503)
	if r := s2.try("b2_list_buckets", map[string]any{"accountId": s2.accountID}); r.Status != 503 || r.Header.Get("Retry-After") != "" {
		t.Errorf("RetryAfter<0: %v Retry-After=%q", r, r.Header.Get("Retry-After"))
	}
	srv2.SetFaults(0)

	// Copies under a 50% fault rate: every 200 is a version, every failure nothing.
	res, err = control(hc, "POST", base+"/_b2local/faults", `{"rate":0.5,"codes":[503,500]}`)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("POST /_b2local/faults: %v %v", res, err)
	}
	res.Body.Close()
	ok := 0
	var fails int
	for i := 0; i < 60; i++ {
		r := s.try("b2_copy_file", map[string]any{"sourceFileId": jstr(src, "fileId"), "fileName": fmt.Sprintf("copy/%02d", i)})
		switch r.Status {
		case 200:
			ok++
		case 500, 503:
			fails++
		default:
			t.Errorf("copy %d: unexpected %v", i, r)
		}
	}
	if fails == 0 || ok == 0 {
		t.Errorf("rate 0.5 gave %d ok, %d faults", ok, fails)
	}
	srv.SetFaults(0)
	got := s.allVersions(bid, "copy/", 1000)
	if len(got) != ok {
		t.Errorf("copy versions = %d, successful copies = %d", len(got), ok)
	}
	for _, e := range got {
		if d := s.byID(e.ID); string(d.Raw) != "source-data" {
			t.Errorf("copy %s corrupted: %v", e.Name, d)
		}
	}
	// Latency via HTTP control: calls still succeed.
	res, err = control(hc, "POST", base+"/_b2local/faults", `{"rate":0,"latencyMs":5}`)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("POST /_b2local/faults latency: %v %v", res, err)
	}
	res.Body.Close()
	if r := s.try("b2_list_buckets", map[string]any{"accountId": s.accountID}); r.Status != 200 {
		t.Errorf("call with latency: %v", r)
	}
}

// Latency option: a blazer client works, just slower (no timing assertions).
func TestAPILatencyBlazer(t *testing.T) {
	_, base, _ := startServer(t, emulator.Options{Latency: 2 * time.Millisecond})
	ctx := context.Background()
	c := newBlazer(t, base, nil)
	bkt, err := c.NewBucket(ctx, bucketName("latency"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := blazerPut(ctx, bkt, "a", []byte("abc")); err != nil {
		t.Fatal(err)
	}
	if b, err := blazerGet(ctx, bkt, "a"); err != nil || string(b) != "abc" {
		t.Errorf("read with latency: %q %v", b, err)
	}
}

// Short TokenTTL / ExpireTokens: blazer re-authorizes.
func TestAPIBlazerReauth(t *testing.T) {
	clock := &fakeClock{}
	srv, base, _ := startServer(t, emulator.Options{TokenTTL: time.Minute, Now: clock.Now})
	ctx := context.Background()
	c := newBlazer(t, base, nil)
	bkt, err := c.NewBucket(ctx, bucketName("reauth"), nil)
	if err != nil {
		t.Fatal(err)
	}
	srv.ResetStats()
	clock.Advance(2 * time.Minute)
	if err := blazerPut(ctx, bkt, "after-ttl", []byte("x")); err != nil {
		t.Fatalf("upload after TTL: %v", err)
	}
	srv.ExpireTokens()
	if _, err := c.ListBuckets(ctx); err != nil {
		t.Fatalf("list after ExpireTokens: %v", err)
	}
	srv.ExpireTokens()
	if b, err := blazerGet(ctx, bkt, "after-ttl"); err != nil || string(b) != "x" {
		t.Fatalf("download after ExpireTokens: %q %v", b, err)
	}
	if n := srv.Stats().Calls["b2_authorize_account"]; n < 2 {
		t.Errorf("blazer re-authorized %d times, want >= 2", n)
	}
}

// X-Bz-Test-Mode hooks (§2.3).
func TestAPITestModes(t *testing.T) {
	_, base, hc := inProcessServer(t, emulator.Options{})
	s := master(t, hc, base, 4)
	bid := s.bucket(bucketName("testmode"))

	fails := 0
	for i := 0; i < 300 && fails == 0; i++ {
		u := s.getUploadURL(bid)
		r, _ := rawUpload(hc, u, fmt.Sprintf("fsu/%d", i), []byte("x"), "", map[string]string{"X-Bz-Test-Mode": "fail_some_uploads"})
		if r.Status != 200 {
			fails++
			if r.Status < 400 || r.Body == nil || r.code() == "" {
				t.Errorf("fail_some_uploads failure must be a B2 error envelope: %v", r)
			}
		}
	}
	if fails == 0 {
		t.Errorf("fail_some_uploads: no upload failed in 300")
	}
	ex := 0
	for i := 0; i < 300 && ex == 0; i++ {
		tm := *s
		tm.extraHeader = http.Header{"X-Bz-Test-Mode": {"expire_some_account_authorization_tokens"}}
		r := tm.try("b2_list_file_names", map[string]any{"bucketId": bid, "maxFileCount": 1})
		if r.Status == 401 {
			if r.code() != "expired_auth_token" {
				t.Errorf("expire_some_account_authorization_tokens gave %v", r)
			}
			ex++
		}
	}
	if ex == 0 {
		t.Errorf("expire_some_account_authorization_tokens: no expiry in 300 calls")
	}
	s = master(t, hc, base, 4)
	u := s.getUploadURL(bid)
	r, _ := rawUpload(hc, u, "cap", []byte("x"), "", map[string]string{"X-Bz-Test-Mode": "force_cap_exceeded"})
	if r.Status != 403 || !strings.HasSuffix(r.code(), "cap_exceeded") {
		t.Errorf("force_cap_exceeded upload: %v, want 403 *cap_exceeded", r)
	}
	// blazer's own test-mode options still result in correct data.
	for _, opt := range []b2.ClientOption{b2.FailSomeUploads(), b2.ExpireSomeAuthTokens()} {
		c := newBlazer(t, base, hc.Transport, opt)
		ctx := context.Background()
		bname := jstr(s.call("b2_list_buckets", map[string]any{"accountId": s.accountID, "bucketId": bid}), "buckets", "0", "bucketName")
		// Like the puts below: under expire_some_account_authorization_tokens
		// a single blazer call can fail; an application retries.
		var bkt *b2.Bucket
		var err error
		for try := 0; try < 5; try++ {
			if bkt, err = c.Bucket(ctx, bname); err == nil {
				break
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 5; i++ {
			name := fmt.Sprintf("blz/%p/%d", opt, i)
			// blazer re-authorizes only once per call, so under
			// expire_some_account_authorization_tokens a call can still fail;
			// an application retries.
			var err error
			for try := 0; try < 5; try++ {
				if err = blazerPut(ctx, bkt, name, payload(i, 300)); err == nil {
					break
				}
			}
			if err != nil {
				t.Errorf("blazer put with test mode (5 tries): %v", err)
				continue
			}
			// Read back with a plain client: blazer re-authorizes only once per
			// call, so with expire_some_… its own reads can fail spuriously.
			if d := s.byName(bkt.Name(), name); !bytes.Equal(d.Raw, payload(i, 300)) {
				t.Errorf("blazer put with test mode stored wrong data: %v", d)
			}
		}
	}
}

// Stats counters and classes (§16).
func TestAPIStats(t *testing.T) {
	srv, base, hc := startServer(t, emulator.Options{})
	s := master(t, hc, base, 4)
	bn := bucketName("stats")
	bid := s.bucket(bn)
	f := s.upload(bid, "a", []byte("a"), nil)
	srv.ResetStats()
	if st := srv.Stats(); st.Total != 0 || len(st.Calls) != 0 && sum(st.Calls) != 0 {
		t.Errorf("after ResetStats: %+v", st)
	}
	master(t, hc, base, 3)                                                                      // C authorize
	s.call("b2_list_buckets", map[string]any{"accountId": s.accountID})                         // C
	s.tryGet("b2_list_buckets", url.Values(any2q(map[string]string{"accountId": s.accountID}))) // C
	s.upload(bid, "b", []byte("b"), nil)                                                        // A get_upload_url + A upload_file
	s.byName(bn, "a")                                                                           // B
	s.byID(jstr(f, "fileId"))                                                                   // B
	s.call("b2_get_file_info", map[string]any{"fileId": jstr(f, "fileId")})                     // B
	s.call("b2_copy_file", map[string]any{"sourceFileId": jstr(f, "fileId"), "fileName": "c"})  // C
	s.call("b2_hide_file", map[string]any{"bucketId": bid, "fileName": "c"})                    // A
	// Control endpoints do not count.
	for i := 0; i < 3; i++ {
		res, _ := hc.Get(base + "/_b2local/health")
		res.Body.Close()
	}
	st := srv.Stats()
	wantCalls := map[string]int64{
		"b2_authorize_account": 1, "b2_list_buckets": 2, "b2_get_upload_url": 1, "b2_upload_file": 1,
		"b2_download_file_by_name": 1, "b2_download_file_by_id": 1, "b2_get_file_info": 1, "b2_copy_file": 1, "b2_hide_file": 1,
	}
	for k, v := range wantCalls {
		if st.Calls[k] != v {
			t.Errorf("Stats.Calls[%s] = %d, want %d (all: %v)", k, st.Calls[k], v, st.Calls)
		}
	}
	if st.Classes["A"] != 3 || st.Classes["B"] != 3 || st.Classes["C"] != 4 {
		t.Errorf("Stats.Classes = %v, want A=3 B=3 C=4 (§16)", st.Classes)
	}
	if st.Total != 10 {
		t.Errorf("Stats.Total = %d, want 10", st.Total)
	}
	// HTTP stats endpoint mirrors Stats.
	res, err := control(hc, "GET", base+"/_b2local/stats", "")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.NewDecoder(res.Body).Decode(&m)
	res.Body.Close()
	calls := findKey(m, "calls")
	if jnum(calls, "b2_list_buckets") != 2 {
		t.Errorf("/_b2local/stats calls: %v", m)
	}
	if cl := findKey(m, "classes"); jnum(cl, "C") != 4 {
		t.Errorf("/_b2local/stats classes: %v", m)
	}
	res, err = control(hc, "POST", base+"/_b2local/stats/reset", "")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("stats reset: %v %v", res, err)
	}
	res.Body.Close()
	if st := srv.Stats(); st.Total != 0 || st.Calls["b2_list_buckets"] != 0 {
		t.Errorf("after POST /_b2local/stats/reset: %+v", st)
	}
	// Faulted calls are counted as faults.
	srv.SetFaults(1, 503)
	s.try("b2_list_buckets", map[string]any{"accountId": s.accountID})
	srv.SetFaults(0)
	if st := srv.Stats(); st.Faults != 1 {
		t.Errorf("Stats.Faults = %d, want 1", st.Faults)
	}
}

func sum(m map[string]int64) (n int64) {
	for _, v := range m {
		n += v
	}
	return
}

func any2q(m map[string]string) map[string][]string {
	q := map[string][]string{}
	for k, v := range m {
		q[k] = []string{v}
	}
	return q
}

func findKey(m map[string]any, k string) any {
	for kk, v := range m {
		if strings.EqualFold(kk, k) {
			return v
		}
	}
	return nil
}
