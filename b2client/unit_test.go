package b2client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/b2plan/b2plan/live"
)

const testSecret = "K005SuperSecretValueDoNotLeak"

func TestParseEndpoint(t *testing.T) {
	tests := []struct {
		in       string
		want     Endpoint
		warnings int
		err      string
	}{
		{in: "", want: Endpoint{Kind: KindHTTP, APIBase: DefaultEndpoint}},
		{in: "https://api.backblazeb2.com/", want: Endpoint{Kind: KindHTTP, APIBase: "https://api.backblazeb2.com"}},
		{in: "http://127.0.0.1:8787", want: Endpoint{Kind: KindHTTP, APIBase: "http://127.0.0.1:8787"}},
		{in: "b2://api.backblazeb2.com", want: Endpoint{Kind: KindHTTP, APIBase: "https://api.backblazeb2.com"}},
		{in: "b2://id1:" + testSecret + "@api.backblazeb2.com/", want: Endpoint{Kind: KindHTTP, APIBase: "https://api.backblazeb2.com", KeyID: "id1", Key: NewSecret(testSecret)}, warnings: 1},
		{in: "local:///tmp/state", want: Endpoint{Kind: KindLocal, Dir: "/tmp/state"}},
		{in: "local://.b2plan", want: Endpoint{Kind: KindLocal, Dir: ".b2plan"}},
		{in: "s3://id:" + testSecret + "@s3.us-west-004.backblazeb2.com", want: Endpoint{Kind: KindS3, APIBase: "https://api.backblazeb2.com", S3Base: "https://s3.us-west-004.backblazeb2.com", Region: "us-west-004", KeyID: "id", Key: NewSecret(testSecret)}, warnings: 1},
		{in: "https://s3.us-west-004.backblazeb2.com/", want: Endpoint{Kind: KindS3, APIBase: "https://api.backblazeb2.com", S3Base: "https://s3.us-west-004.backblazeb2.com", Region: "us-west-004"}},
		{in: "s3://127.0.0.1:8787", want: Endpoint{Kind: KindS3, APIBase: "http://127.0.0.1:8787", S3Base: "http://127.0.0.1:8787", Region: "us-east-1"}},
		{in: "s3+http://b2local.invalid", want: Endpoint{Kind: KindS3, APIBase: "http://b2local.invalid", S3Base: "http://b2local.invalid", Region: "us-east-1"}},
		{in: "s3://s3.example.com:9000", want: Endpoint{Kind: KindS3, APIBase: "https://s3.example.com:9000", S3Base: "https://s3.example.com:9000", Region: "us-east-1"}},
		{in: "http://s3.us-west-004.backblazeb2.com", err: "only HTTPS"},
		{in: "s3+http://s3.us-west-004.backblazeb2.com", err: "only HTTPS"},
		{in: "s3://id@s3.us-west-004.backblazeb2.com", err: "KEY_ID:APP_KEY@HOST"},
		{in: "s3://s3.us-west-004.backblazeb2.com/bucket", err: "a path is not allowed"},
		{in: "ftp://x", err: "unknown scheme"},
		{in: "https://user:" + testSecret + "@host", err: "only accepted in b2://"},
		{in: "b2://id:" + testSecret + "@host:notaport", err: "not a valid URL"},
		{in: "https://host/path", err: "a path is not allowed"},
		{in: "api.backblazeb2.com", err: "want https://"},
	}
	for _, tt := range tests {
		got, warns, err := ParseEndpoint(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseEndpoint(%q) error = %v, want containing %q", tt.in, err, tt.err)
			}
			if err != nil && strings.Contains(err.Error(), testSecret) {
				t.Errorf("ParseEndpoint(%q) error leaks the secret: %v", tt.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseEndpoint(%q): %v", tt.in, err)
			continue
		}
		if d := cmp.Diff(tt.want, got, cmp.AllowUnexported(Secret{})); d != "" {
			t.Errorf("ParseEndpoint(%q) (-want +got):\n%s", tt.in, d)
		}
		if len(warns) != tt.warnings {
			t.Errorf("ParseEndpoint(%q) warnings = %q, want %d", tt.in, warns, tt.warnings)
		}
		if strings.Contains(got.String(), testSecret) {
			t.Errorf("Endpoint.String leaks the secret")
		}
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := NewSecret(testSecret)
	ck := CreatedKey{Key: live.Key{Name: "k"}, Secret: s}
	js, _ := json.Marshal(ck)
	for _, out := range []string{s.String(), fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s %q %x", s, ck, ck, s, s, s), string(js)} {
		if strings.Contains(out, testSecret) {
			t.Errorf("secret printed: %s", out)
		}
	}
	if s.Reveal() != testSecret {
		t.Errorf("Reveal = %q", s.Reveal())
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		status int
		code   string
		msg    string
		want   Class
	}{
		{400, "bad_request", "", Permanent},
		{400, "duplicate_bucket_name", "", Conflict},
		{400, "file_not_present", "", NotFound},
		{400, "no_such_file", "", NotFound},
		{400, "already_hidden", "", Conflict},
		{401, "unauthorized", "", Unauthorized},
		{403, "access_denied", "file is under retention", Locked},
		{400, "file_lock_governance_protected", "", Locked},
		{403, "transaction_cap_exceeded", "", Permanent},
		{404, "not_found", "", NotFound},
		{409, "conflict", "", Conflict},
		{429, "too_many_requests", "", RateLimited},
		{500, "internal_error", "", Retryable},
		{503, "service_unavailable", "", Retryable},
	}
	for _, tt := range tests {
		if got := classify(tt.status, tt.code, tt.msg); got != tt.want {
			t.Errorf("classify(%d, %q) = %v, want %v", tt.status, tt.code, got, tt.want)
		}
	}
	err := fmt.Errorf("apply: %w", &Error{Op: "x", Class: NotFound})
	if !errors.Is(err, NotFound) || errors.Is(err, Conflict) {
		t.Errorf("errors.Is on wrapped *Error does not match its class")
	}
	var e *Error
	if !errors.As(err, &e) || e.Op != "x" {
		t.Errorf("errors.As failed")
	}
}

func TestConnectCredentialErrors(t *testing.T) {
	ctx := context.Background()
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	_, err := Connect(ctx, Config{Getenv: env(nil)})
	if err == nil || !strings.Contains(err.Error(), "no B2 credentials: set B2_APPLICATION_KEY_ID and B2_APPLICATION_KEY") {
		t.Errorf("no credentials: err = %v", err)
	}
	if !errors.Is(err, Unauthorized) {
		t.Errorf("no credentials: class is not Unauthorized")
	}
	_, err = Connect(ctx, Config{Getenv: env(map[string]string{"B2_APPLICATION_KEY": testSecret})})
	if err == nil || !strings.Contains(err.Error(), "incomplete") || strings.Contains(err.Error(), testSecret) {
		t.Errorf("half credentials: err = %v", err)
	}
	// B2_ENDPOINT wins over the file.
	_, err = Connect(ctx, Config{Endpoint: "https://example.invalid", Getenv: env(map[string]string{"B2_ENDPOINT": "ftp://s3.eu-central-003.backblazeb2.com"})})
	if err == nil || !strings.Contains(err.Error(), "unknown scheme") {
		t.Errorf("B2_ENDPOINT did not win: %v", err)
	}
}

// fakeB2 is a scripted B2 for retry tests.
type fakeB2 struct {
	t       *testing.T
	srv     *httptest.Server
	mu      sync.Mutex
	calls   map[string]int
	auths   atomic.Int32
	handler func(w http.ResponseWriter, r *http.Request, api string, n int) bool // true = handled
}

func newFakeB2(t *testing.T, h func(w http.ResponseWriter, r *http.Request, api string, n int) bool) *fakeB2 {
	f := &fakeB2{t: t, calls: map[string]int{}, handler: h}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeB2) serve(w http.ResponseWriter, r *http.Request) {
	api := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
	f.mu.Lock()
	f.calls[api]++
	n := f.calls[api]
	h := f.handler
	f.mu.Unlock()
	if h != nil && h(w, r, api, n) {
		return
	}
	switch api {
	case "b2_authorize_account":
		k := f.auths.Add(1)
		json.NewEncoder(w).Encode(map[string]any{
			"accountId": "acct", "authorizationToken": fmt.Sprintf("tok%d", k),
			"apiInfo": map[string]any{"storageApi": map[string]any{
				"apiUrl": f.srv.URL, "downloadUrl": f.srv.URL, "absoluteMinimumPartSize": 5, "recommendedPartSize": 10,
				"allowed": map[string]any{"capabilities": []string{"listBuckets", "listFiles"}, "buckets": nil, "namePrefix": nil},
			}},
		})
	case "b2_list_buckets":
		json.NewEncoder(w).Encode(map[string]any{"buckets": []any{}})
	default:
		writeErr(w, 400, "bad_request", "unexpected call "+api)
	}
}

func (f *fakeB2) count(api string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[api]
}

func (f *fakeB2) setHandler(h func(w http.ResponseWriter, r *http.Request, api string, n int) bool) {
	f.mu.Lock()
	f.handler = h
	f.mu.Unlock()
}

func writeErr(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"status": status, "code": code, "message": msg})
}

type sleepLog struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleepLog) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func connectFake(t *testing.T, f *fakeB2, sl *sleepLog) *Conn {
	t.Helper()
	c, err := Connect(context.Background(), Config{Endpoint: f.srv.URL, KeyID: "kid", Key: testSecret,
		Retry: RetryPolicy{MaxAttempts: 4, BaseDelay: time.Millisecond, Sleep: sl.sleep}})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	return c
}

func TestRetryHonoursRetryAfterAndGivesUp(t *testing.T) {
	f := newFakeB2(t, func(w http.ResponseWriter, r *http.Request, api string, n int) bool {
		if api == "b2_list_buckets" {
			w.Header().Set("Retry-After", "3")
			writeErr(w, 429, "too_many_requests", "slow down")
			return true
		}
		return false
	})
	sl := &sleepLog{}
	c := connectFake(t, f, sl)
	_, err := Observe(context.Background(), c, live.Request{Buckets: true})
	if !errors.Is(err, RateLimited) {
		t.Fatalf("err = %v, want RateLimited", err)
	}
	var e *Error
	errors.As(err, &e)
	if e.Attempts != 4 || f.count("b2_list_buckets") != 4 {
		t.Errorf("attempts = %d, calls = %d, want 4", e.Attempts, f.count("b2_list_buckets"))
	}
	if len(sl.d) != 3 {
		t.Fatalf("slept %d times, want 3", len(sl.d))
	}
	for _, d := range sl.d {
		if d < 3*time.Second {
			t.Errorf("waited %v, want at least the Retry-After of 3s", d)
		}
	}
}

func TestRetryTransientThenSuccessAndReauth(t *testing.T) {
	f := newFakeB2(t, func(w http.ResponseWriter, r *http.Request, api string, n int) bool {
		if api != "b2_list_buckets" {
			return false
		}
		switch n {
		case 1:
			writeErr(w, 503, "service_unavailable", "busy")
		case 2:
			writeErr(w, 500, "internal_error", "oops")
		case 3:
			writeErr(w, 401, "expired_auth_token", "expired")
		case 4:
			if r.Header.Get("Authorization") != "tok2" {
				writeErr(w, 401, "bad_auth_token", "old token used after re-authorisation")
				return true
			}
			return false
		}
		return true
	})
	sl := &sleepLog{}
	c := connectFake(t, f, sl)
	if _, err := Observe(context.Background(), c, live.Request{Buckets: true}); err != nil {
		t.Fatalf("Observe: %v", err)
	}
	if f.auths.Load() != 2 {
		t.Errorf("authorisations = %d, want 2", f.auths.Load())
	}
	if len(sl.d) != 2 {
		t.Errorf("slept %d times, want 2 (none for the re-authorisation)", len(sl.d))
	}
}

// A server that refuses every token, fresh ones too, ends the call after
// three re-authorisations in a row.
func TestReauthGivesUpOnRefusedFreshTokens(t *testing.T) {
	f := newFakeB2(t, func(w http.ResponseWriter, r *http.Request, api string, n int) bool {
		if api == "b2_list_buckets" {
			writeErr(w, 401, "expired_auth_token", "expired")
			return true
		}
		return false
	})
	c := connectFake(t, f, &sleepLog{})
	_, err := Observe(context.Background(), c, live.Request{Buckets: true})
	if !errors.Is(err, Unauthorized) {
		t.Fatalf("err = %v, want Unauthorized", err)
	}
	if f.count("b2_list_buckets") != 4 {
		t.Errorf("calls = %d, want 4", f.count("b2_list_buckets"))
	}
}

func TestNonIdempotentAmbiguous(t *testing.T) {
	f := newFakeB2(t, func(w http.ResponseWriter, r *http.Request, api string, n int) bool {
		if api == "b2_copy_file" || api == "b2_create_key" {
			// The request arrived; the connection drops before any reply.
			hj, _ := w.(http.Hijacker)
			conn, _, _ := hj.Hijack()
			conn.Close()
			return true
		}
		return false
	})
	c := connectFake(t, f, &sleepLog{})
	m := NewMutator(c)
	_, err := m.CopyFile(context.Background(), CopyRequest{SourceFileID: "f1", SourceName: "incoming/a.txt", DestName: "archive/a.txt"})
	if !errors.Is(err, Ambiguous) {
		t.Fatalf("copy err = %v, want Ambiguous", err)
	}
	if !strings.HasPrefix(err.Error(), "copy_file incoming/a.txt → archive/a.txt: ") {
		t.Errorf("copy err = %q", err)
	}
	if f.count("b2_copy_file") != 1 {
		t.Errorf("copy_file sent %d times, want 1", f.count("b2_copy_file"))
	}
	_, err = m.CreateKey(context.Background(), KeySpec{Name: "k", Capabilities: []string{"listFiles"}})
	if !errors.Is(err, Ambiguous) || f.count("b2_create_key") != 1 {
		t.Errorf("create key err = %v after %d calls, want Ambiguous after 1", err, f.count("b2_create_key"))
	}
	// An idempotent call is retried through the same failure.
	f.setHandler(func(w http.ResponseWriter, r *http.Request, api string, n int) bool {
		if api == "b2_list_buckets" && n == 1 {
			hj, _ := w.(http.Hijacker)
			conn, _, _ := hj.Hijack()
			conn.Close()
			return true
		}
		return false
	})
	if _, err := Observe(context.Background(), c, live.Request{Buckets: true}); err != nil {
		t.Errorf("list after dropped connection: %v", err)
	}
}

func TestNonIdempotentRetriedWhenNeverSent(t *testing.T) {
	f := newFakeB2(t, nil)
	c := connectFake(t, f, &sleepLog{})
	// Point the API at a closed port: the dial fails, nothing was sent.
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	a := *c.current()
	a.apiURL = deadURL
	c.auth = &a
	// A host that answered before and now refuses (restarting) is retried;
	// one that never answered is a wrong endpoint (TestFailFast).
	c.health.answer(strings.TrimPrefix(deadURL, "http://"))
	_, err := NewMutator(c).CreateKey(context.Background(), KeySpec{Name: "k", Capabilities: []string{"listFiles"}})
	var e *Error
	if !errors.As(err, &e) || e.Class != Retryable || e.Attempts != 4 {
		t.Errorf("err = %v, want Retryable after 4 attempts", err)
	}
}

func TestContextCancelStopsRetrying(t *testing.T) {
	f := newFakeB2(t, func(w http.ResponseWriter, r *http.Request, api string, n int) bool {
		if api == "b2_list_buckets" {
			writeErr(w, 503, "service_unavailable", "busy")
			return true
		}
		return false
	})
	ctx, cancel := context.WithCancel(context.Background())
	c, err := Connect(ctx, Config{Endpoint: f.srv.URL, KeyID: "kid", Key: testSecret, Retry: RetryPolicy{MaxAttempts: 100, Sleep: func(ctx context.Context, d time.Duration) error {
		cancel()
		return ctx.Err()
	}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Observe(ctx, c, live.Request{Buckets: true})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if f.count("b2_list_buckets") != 1 {
		t.Errorf("calls = %d, want 1", f.count("b2_list_buckets"))
	}
}

func TestDelayBounds(t *testing.T) {
	p := RetryPolicy{BaseDelay: time.Second, MaxDelay: 8 * time.Second}.withDefaults()
	for n := 1; n < 10; n++ {
		d := p.delay(n, 0)
		if d < 500*time.Millisecond || d > 8*time.Second {
			t.Errorf("delay(%d) = %v out of bounds", n, d)
		}
	}
	if d := p.delay(1, 2*time.Second); d < 2*time.Second {
		t.Errorf("Retry-After not honoured: %v", d)
	}
}

func TestDefaultTransportHonoursProxyEnv(t *testing.T) {
	f := newFakeB2(t, nil)
	c, err := Connect(context.Background(), Config{Endpoint: f.srv.URL, KeyID: "kid", Key: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	tr, ok := c.rt.(*deadlineTransport).base.(*http.Transport)
	if !ok || tr.Proxy == nil {
		t.Fatalf("default transport %T has no proxy function", c.rt)
	}
	// The proxy function is http.ProxyFromEnvironment: with no proxy
	// variables set for this host it answers "direct".
	req, _ := http.NewRequest("GET", f.srv.URL, nil)
	if u, err := tr.Proxy(req); err != nil || u != nil {
		t.Errorf("proxy for loopback = %v, %v; want direct", u, err)
	}
}
