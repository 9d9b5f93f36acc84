package b2client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/b2plan/b2plan/emulator"
	"github.com/b2plan/b2plan/live"
)

// stallMode is how stallServer stops answering.
type stallMode int

const (
	stallHeaders stallMode = iota // read the request, never answer
	stallBody                     // answer headers and half the body, then nothing
)

// stallServer serves an emulator on a real loopback listener for the first
// n requests, then stops answering (the connections stay open).
type stallServer struct {
	ln    net.Listener
	h     http.Handler
	n     atomic.Int64
	mode  stallMode
	count atomic.Int64
	// stalled counts requests that got no (complete) answer.
	stalled atomic.Int64

	mu    sync.Mutex
	conns []net.Conn
	done  chan struct{}
}

func newStallServer(t *testing.T, n int64, mode stallMode) (*stallServer, *emulator.Server) {
	t.Helper()
	srv, err := emulator.NewServer(emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &stallServer{ln: ln, h: srv.Handler(), mode: mode, done: make(chan struct{})}
	s.n.Store(n)
	go s.accept()
	t.Cleanup(func() {
		close(s.done)
		ln.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		srv.Close()
	})
	return s, srv
}

func (s *stallServer) URL() string { return "http://" + s.ln.Addr().String() }

func (s *stallServer) accept() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		go s.serve(c)
	}
}

func (s *stallServer) serve(c net.Conn) {
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		body, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(strings.NewReader(string(body)))
		req.RequestURI = ""
		rec := httptest.NewRecorder()
		k := s.count.Add(1)
		if k > s.n.Load() && s.mode == stallHeaders {
			s.stalled.Add(1)
			<-s.done
			return
		}
		s.h.ServeHTTP(rec, req)
		out := rec.Body.Bytes()
		fmt.Fprintf(c, "HTTP/1.1 %d %s\r\n", rec.Code, http.StatusText(rec.Code))
		for k, vs := range rec.Header() {
			for _, v := range vs {
				fmt.Fprintf(c, "%s: %s\r\n", k, v)
			}
		}
		fmt.Fprintf(c, "Content-Length: %d\r\n\r\n", len(out))
		if k > s.n.Load() {
			s.stalled.Add(1)
			c.Write(out[:len(out)/2])
			<-s.done
			return
		}
		c.Write(out)
	}
}

// shortTimeouts makes stalls show within a fraction of a second.
var shortTimeouts = Timeouts{Call: 300 * time.Millisecond, List: 300 * time.Millisecond, Copy: 300 * time.Millisecond,
	Finish: 300 * time.Millisecond, Upload: 300 * time.Millisecond, BodyIdle: 300 * time.Millisecond, Stall: 2 * time.Second}

func connectStall(t *testing.T, s *stallServer, to Timeouts, attempts int) *Conn {
	t.Helper()
	c, err := Connect(context.Background(), Config{Endpoint: s.URL(), KeyID: emulator.DefaultKeyID, Key: emulator.DefaultKey, Getenv: noEnv,
		Timeouts: to, Retry: RetryPolicy{MaxAttempts: attempts, BaseDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond}})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	return c
}

// testCtx bounds a test generously: the assertions are that calls end by
// themselves, never how fast.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestStalledHeadersTimeOutAndRetry(t *testing.T) {
	s, _ := newStallServer(t, 1, stallHeaders) // authorize answered, then silence
	c := connectStall(t, s, shortTimeouts, 3)
	ctx := testCtx(t)
	_, err := Observe(ctx, c, live.Request{Buckets: true})
	if err == nil || ctx.Err() != nil {
		t.Fatalf("Observe against a stalled server: err = %v (ctx %v), want a timeout", err, ctx.Err())
	}
	var e *Error
	if !errors.As(err, &e) || e.Class != Retryable || e.Attempts != 3 || !strings.Contains(err.Error(), "no response within 300ms") {
		t.Fatalf("err = %v, want Retryable after 3 attempts saying no response within 300ms", err)
	}
	if got := s.stalled.Load(); got != 3 {
		t.Errorf("stalled requests = %d, want 3 (one per attempt)", got)
	}
}

func TestStalledBodyTimesOut(t *testing.T) {
	s, _ := newStallServer(t, 2, stallBody) // authorize + create answered
	c := connectStall(t, s, shortTimeouts, 2)
	ctx := testCtx(t)
	if _, err := NewMutator(c).CreateBucket(ctx, BucketSpec{Name: "stall-body", Type: "allPrivate"}); err != nil {
		t.Fatal(err)
	}
	_, err := Observe(ctx, c, live.Request{Buckets: true})
	if err == nil || ctx.Err() != nil {
		t.Fatalf("Observe with a stalled body: err = %v (ctx %v), want a timeout", err, ctx.Err())
	}
	if !errors.Is(err, Retryable) || !strings.Contains(err.Error(), "response body stopped arriving") {
		t.Fatalf("err = %v, want Retryable saying the body stopped arriving", err)
	}
}

// A copy whose reply never comes may have been carried out: Ambiguous, not
// retried (the executor looks before copying again), never a hang.
func TestStalledCopyIsAmbiguous(t *testing.T) {
	for _, mode := range []stallMode{stallHeaders, stallBody} {
		t.Run(fmt.Sprint(mode), func(t *testing.T) {
			s, _ := newStallServer(t, 1000, mode)
			c := connectStall(t, s, shortTimeouts, 4)
			ctx := testCtx(t)
			m := NewMutator(c)
			b, err := m.CreateBucket(ctx, BucketSpec{Name: "stall-copy", Type: "allPrivate"})
			if err != nil {
				t.Fatal(err)
			}
			v, err := m.Upload(ctx, "stall-copy", "a", "text/plain", []byte("hello"), nil)
			if err != nil {
				t.Fatal(err)
			}
			s.n.Store(s.count.Load()) // everything from now on stalls
			before := s.count.Load()
			_, err = m.CopyFile(ctx, CopyRequest{SourceFileID: v.ID, SourceName: "a", DestBucketID: b.ID, DestName: "b"})
			if !errors.Is(err, Ambiguous) || ctx.Err() != nil {
				t.Fatalf("copy against a stalled server: %v, want Ambiguous", err)
			}
			if n := s.count.Load() - before; n != 1 {
				t.Errorf("copy requests = %d, want 1 (an ambiguous copy is not repeated)", n)
			}
		})
	}
}

// Once the endpoint has answered nothing for Timeouts.Stall after a
// timeout, calls stop retrying and new calls fail at once.
func TestStalledEndpointEndsEveryCall(t *testing.T) {
	s, _ := newStallServer(t, 1, stallHeaders)
	to := shortTimeouts
	to.Stall = time.Second
	c := connectStall(t, s, to, 1000) // retries alone would take minutes
	ctx := testCtx(t)
	_, err := Observe(ctx, c, live.Request{Buckets: true})
	if err == nil || ctx.Err() != nil {
		t.Fatalf("err = %v (ctx %v), want the stall error", err, ctx.Err())
	}
	if !strings.Contains(err.Error(), "has answered no request for") || !strings.Contains(err.Error(), "nothing was lost") {
		t.Fatalf("err = %v, want the stall message", err)
	}
	var e *Error
	if !errors.As(err, &e) || e.Attempts >= 1000 {
		t.Fatalf("err = %#v, want it to stop well before the attempt limit", err)
	}
	before := s.count.Load()
	_, err = NewMutator(c).Bucket(ctx, "any")
	if err == nil || !strings.Contains(err.Error(), "has answered no request for") {
		t.Fatalf("a new call on a stalled connection: %v, want the stall error", err)
	}
	if s.count.Load() != before {
		t.Errorf("a new call on a stalled connection sent %d requests, want 0", s.count.Load()-before)
	}
}

func TestKindOf(t *testing.T) {
	for _, tc := range []struct {
		method, url string
		hdr         string
		want        callKind
	}{
		{"GET", "https://api.backblazeb2.com/b2api/v4/b2_authorize_account", "", kindCall},
		{"POST", "https://api001.backblazeb2.com/b2api/v4/b2_list_file_versions", "", kindList},
		{"POST", "https://api001.backblazeb2.com/b2api/v4/b2_copy_part", "", kindCopy},
		{"POST", "https://api001.backblazeb2.com/b2api/v4/b2_copy_file", "", kindCopy},
		{"POST", "https://api001.backblazeb2.com/b2api/v4/b2_finish_large_file", "", kindFinish},
		{"POST", "https://pod-000-1016-09.backblaze.com/b2api/v4/b2_upload_file/4a48fe8875c6214145260818/c001_v0001016_t0042", "", kindUpload},
		{"POST", "https://api001.backblazeb2.com/b2api/v4/b2_delete_file_version", "", kindCall},
		{"GET", "https://s3.us-west-004.backblazeb2.com/bkt?versions&prefix=a", "", kindList},
		{"GET", "https://s3.us-west-004.backblazeb2.com/bkt?list-type=2", "", kindList},
		{"PUT", "https://s3.us-west-004.backblazeb2.com/bkt/a/b", "bkt/x", kindCopy},
		{"PUT", "https://s3.us-west-004.backblazeb2.com/bkt/a/b?partNumber=1&uploadId=x", "bkt/x", kindCopy},
		{"PUT", "https://s3.us-west-004.backblazeb2.com/bkt/a/.bzEmpty", "", kindUpload},
		{"POST", "https://s3.us-west-004.backblazeb2.com/bkt?delete", "", kindFinish},
		{"POST", "https://s3.us-west-004.backblazeb2.com/bkt/a?uploadId=x", "", kindFinish},
		{"DELETE", "https://s3.us-west-004.backblazeb2.com/bkt/a?versionId=x", "", kindCall},
	} {
		req, _ := http.NewRequest(tc.method, tc.url, nil)
		if tc.hdr != "" {
			req.Header.Set("X-Amz-Copy-Source", tc.hdr)
		}
		if got := kindOf(req); got != tc.want {
			t.Errorf("kindOf(%s %s) = %d, want %d", tc.method, tc.url, got, tc.want)
		}
	}
}

// The AWS SDK's requests go through the same deadlines: an S3 listing and
// an S3 copy against a server that stopped answering (no headers, or half
// a body) end with a timeout; the copy is Ambiguous and sent once.
func TestStalledS3Calls(t *testing.T) {
	for _, mode := range []stallMode{stallHeaders, stallBody} {
		t.Run(fmt.Sprint(mode), func(t *testing.T) {
			s, _ := newStallServer(t, 1000, mode)
			c, err := Connect(context.Background(), Config{Endpoint: "s3+" + s.URL(), KeyID: emulator.DefaultKeyID, Key: emulator.DefaultKey, Getenv: noEnv,
				Timeouts: shortTimeouts, Retry: RetryPolicy{MaxAttempts: 2, BaseDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond}})
			if err != nil {
				t.Fatal(err)
			}
			ctx := testCtx(t)
			m := NewMutator(c)
			b, err := m.CreateBucket(ctx, BucketSpec{Name: "stall-s3", Type: "allPrivate"})
			if err != nil {
				t.Fatal(err)
			}
			v, err := m.Upload(ctx, "stall-s3", "a", "text/plain", []byte("hello"), nil)
			if err != nil {
				t.Fatal(err)
			}
			// One copy while the server answers: bucket names are cached, so
			// the stalled copy below is the CopyObject itself.
			if _, err := m.CopyFile(ctx, CopyRequest{SourceFileID: v.ID, SourceName: "a", SourceBucket: "stall-s3", DestBucketID: b.ID, DestName: "b0"}); err != nil {
				t.Fatal(err)
			}
			s.n.Store(s.count.Load())
			_, err = Observe(ctx, c, live.Request{Prefixes: []live.PrefixRequest{{BucketName: "stall-s3", Prefix: ""}}})
			if !errors.Is(err, Retryable) || ctx.Err() != nil {
				t.Fatalf("S3 listing against a stalled server: %v, want Retryable", err)
			}
			before := s.count.Load()
			_, err = m.CopyFile(ctx, CopyRequest{SourceFileID: v.ID, SourceName: "a", SourceBucket: "stall-s3", DestBucketID: b.ID, DestName: "b"})
			if !errors.Is(err, Ambiguous) || ctx.Err() != nil {
				t.Fatalf("S3 copy against a stalled server: %v, want Ambiguous", err)
			}
			if n := s.count.Load() - before; n != 1 {
				t.Errorf("CopyObject requests = %d, want 1", n)
			}
		})
	}
}
