// Package throttle is a per-account rate limit put in front of b2local by
// bench/ and tests: a token bucket of Rate requests per second (burst
// Burst) over every request except b2local's /_b2local/ control endpoints;
// a request over the limit is answered 429 too_many_requests with
// Retry-After, as B2 does, and never reaches the emulator. With Rate 0 it
// only counts: every request passes, and the 429 and 503 answers of the
// emulator (its own limit, fault injection) are counted as throttled.
package throttle

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Throttle is an http.Handler limiting the requests passed to Next.
type Throttle struct {
	Next       http.Handler
	Rate       float64       // requests per second
	Burst      float64       // bucket size (≥ 1)
	RetryAfter time.Duration // 0: no Retry-After header
	// Latency delays each refusal, as the round trip a real refusal costs.
	Latency time.Duration
	// Delay (nanoseconds), when set, delays every request passed (bench
	// -plan-only: a latency for the plan only, after a fast seeding).
	Delay atomic.Int64

	mu     sync.Mutex
	tokens float64
	last   time.Time

	passed, refused atomic.Int64
}

// New limits next to rate requests per second with a burst of a tenth of a
// second's worth and Retry-After: 1.
func New(next http.Handler, rate float64) *Throttle {
	return &Throttle{Next: next, Rate: rate, Burst: max(1, rate/10), RetryAfter: time.Second}
}

// Counts returns the requests passed, and those throttled: refused here
// or answered 429 or 503 by Next.
func (t *Throttle) Counts() (passed, throttled int64) { return t.passed.Load(), t.refused.Load() }

// Reset zeroes the counts.
func (t *Throttle) Reset() { t.passed.Store(0); t.refused.Store(0) }

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (t *Throttle) take() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	if t.last.IsZero() {
		t.tokens = t.Burst
	} else {
		t.tokens = min(t.Burst, t.tokens+now.Sub(t.last).Seconds()*t.Rate)
	}
	t.last = now
	if t.tokens < 1 {
		return false
	}
	t.tokens--
	return true
}

func (t *Throttle) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_b2local/") {
		t.Next.ServeHTTP(w, r)
		return
	}
	if t.Rate <= 0 || t.take() {
		t.passed.Add(1)
		if d := t.Delay.Load(); d > 0 {
			time.Sleep(time.Duration(d))
		}
		sw := &statusWriter{ResponseWriter: w}
		t.Next.ServeHTTP(sw, r)
		if sw.status == http.StatusTooManyRequests || sw.status == http.StatusServiceUnavailable {
			t.refused.Add(1) // b2local's own limit or fault injection
		}
		return
	}
	t.refused.Add(1)
	if t.Latency > 0 {
		time.Sleep(t.Latency)
	}
	if t.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(t.RetryAfter.Round(time.Second).Seconds())))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusTooManyRequests)
	fmt.Fprintf(w, `{"status":429,"code":"too_many_requests","message":"over %g requests per second"}`, t.Rate)
}
