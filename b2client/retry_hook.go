package b2client

import (
	"context"
	"time"
)

// RetryInfo describes one retry of a call: the attempt that failed and the wait before the
// next one.
type RetryInfo struct {
	Op      string
	Attempt int   // the attempt that failed (1 = the first)
	Class   Class // Retryable or RateLimited
	Status  int   // HTTP status, 0 for a connection failure
	Wait    time.Duration
}

// Throttled reports whether B2 asked the client to slow down (429, or 503 "too busy").
func (r RetryInfo) Throttled() bool { return r.Class == RateLimited || r.Status == 503 }

type retryHookKey struct{}

// WithRetryHook returns a context whose calls report each retry to fn before waiting (as
// httptrace.WithClientTrace does for requests): progress displays count retries and
// throttling with it. fn must be quick and safe for concurrent use.
func WithRetryHook(ctx context.Context, fn func(RetryInfo)) context.Context {
	return context.WithValue(ctx, retryHookKey{}, fn)
}

func reportRetry(ctx context.Context, info func() RetryInfo) {
	if fn, ok := ctx.Value(retryHookKey{}).(func(RetryInfo)); ok && fn != nil {
		fn(info())
	}
}
