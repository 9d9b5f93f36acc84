package emulator

import (
	"encoding/base64"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Rate limiting (Options.RateLimit): a token bucket per account, refilled
// at RateLimit requests per second and holding at most one second's worth
// (at least one request). A request that finds its account's bucket empty is
// refused before it takes effect: 429 too_many_requests with Retry-After on
// the native API, 503 SlowDown with Retry-After on S3, as B2 answers under
// load. Requests are charged to the account owning their token or key;
// anonymous ones (public downloads) to the default account. Real time is
// used, not Options.Now.

type rateLimiter struct {
	now     func() time.Time // time.Now; tests freeze it
	rate    float64
	burst   float64
	mu      sync.Mutex
	buckets map[string]*tokenBucket
}

type tokenBucket struct {
	tokens float64
	last   time.Time
}

func newRateLimiter(perSecond float64) *rateLimiter {
	if perSecond <= 0 {
		return nil
	}
	return &rateLimiter{now: time.Now, rate: perSecond, burst: math.Max(1, perSecond), buckets: map[string]*tokenBucket{}}
}

// take spends one token of account's bucket; when there is none it returns
// how long until there is.
func (l *rateLimiter) take(account string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[account]
	if b == nil {
		b = &tokenBucket{tokens: l.burst, last: now}
		l.buckets[account] = b
	}
	if d := now.Sub(b.last); d > 0 {
		b.tokens = math.Min(l.burst, b.tokens+d.Seconds()*l.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// throttle charges r to its account; it returns the refusal when the
// account is over its rate (nil without a limit).
func (s *Server) throttle(r *http.Request, s3 bool) *apiError {
	if s.limiter == nil {
		return nil
	}
	ok, wait := s.limiter.take(s.st.accountOfKey(requestKeyID(r, s3, s.st)), s.limiter.now())
	if ok {
		return nil
	}
	s.throttled.Add(1)
	if wait < time.Second {
		wait = time.Second // Retry-After is in whole seconds, at least 1
	}
	status, code := 429, "too_many_requests"
	if s3 {
		status, code = 503, "service_unavailable" // worded SlowDown by toS3Error
	}
	return &apiError{status: status, code: code, msg: "too many requests for this account; retry after the Retry-After delay", retryAfter: wait}
}

// requestKeyID is the application key id a request authenticates with, or ""
// when it has none this cheap look can find.
func requestKeyID(r *http.Request, s3 bool, st *store) string {
	h := r.Header.Get("Authorization")
	if s3 {
		cred := r.URL.Query().Get("X-Amz-Credential")
		if _, c, ok := strings.Cut(h, "Credential="); ok {
			cred = c
		}
		id, _, _ := strings.Cut(cred, "/")
		return id
	}
	if enc, ok := strings.CutPrefix(h, "Basic "); ok {
		raw, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(enc))
		id, _, _ := strings.Cut(string(raw), ":")
		return id
	}
	if h == "" {
		h = r.URL.Query().Get("Authorization")
	}
	if t := st.tok.get(h); t != nil {
		return t.key.ID
	}
	return ""
}
