package b2client

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Adaptive concurrency (docs/moves.md, "Adaptive concurrency"): every
// request a Conn sends (each attempt of a call, authorisation excepted)
// takes a slot of its account's window, shared by every Conn of that
// account and endpoint in the process. The window is AIMD:
//
//   - additive increase: +1 per window's worth of successful requests
//     (about one per round trip), a quarter of that once within 5% of the
//     window of the last decrease, up to the ceiling;
//   - multiplicative decrease (×Backoff, of the requests in flight when
//     the window is larger) on a 429 or 503, and when the
//     median latency of the recent requests rises well above the lowest
//     seen (queueing: more than twice it and 20 ms over), at most once per
//     round trip, so one burst of refusals counts as one signal;
//   - Retry-After is honoured by the refused call, which waits it out (the
//     retry policy) without holding a slot.
//
// It starts at the ceiling, so with no limit in sight it behaves like a
// fixed pool of that size.
type Adaptive struct {
	mu       sync.Mutex
	ceiling  float64
	window   float64
	inflight int
	wake     chan struct{} // closed and replaced when a slot frees

	lastDecrease time.Time
	wmax         float64           // the window at the last decrease
	lat          [64]time.Duration // recent successful request latencies (ring)
	nlat         int
	med          time.Duration // median of lat, recomputed every 16 samples
	base, next   time.Duration // lowest latency of the current and next period
	baseSince    time.Time

	requests, throttled, decreases int64
	minWindow                      float64
}

// Backoff is the multiplicative decrease of the window.
const Backoff = 0.8

// DefaultCeiling is the window's ceiling until SetCeiling: 4 × the
// executor's default parallelism (large copies run 4 part copies each).
const DefaultCeiling = 128

// basePeriod is how long the lowest latency is remembered.
const basePeriod = 30 * time.Second

func newAdaptive(ceiling int) *Adaptive {
	a := &Adaptive{wake: make(chan struct{})}
	a.SetCeiling(ceiling)
	return a
}

var adaptives sync.Map // endpoint and account → *Adaptive

// adaptiveFor is the window shared by the Conns of one account at one
// endpoint in this process.
func adaptiveFor(endpoint, accountID string) *Adaptive {
	a, _ := adaptives.LoadOrStore(endpoint+"\x00"+accountID, newAdaptive(DefaultCeiling))
	return a.(*Adaptive)
}

// Adaptive returns the concurrency window of the connection's account.
func (c *Conn) Adaptive() *Adaptive { return c.adaptive }

// SetCeiling sets the most requests in flight (at least 1). The window
// starts there (or is brought down to it).
func (a *Adaptive) SetCeiling(n int) {
	if n < 1 {
		n = 1
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ceiling = float64(n)
	if a.window == 0 || a.window > a.ceiling {
		a.window = a.ceiling
		a.minWindow = a.window
	}
	a.signal()
}

// AdaptiveStats is what the window did so far.
type AdaptiveStats struct {
	Requests, Throttled, Decreases int64
	Window, MinWindow, Ceiling     float64
}

// Stats reports the window's counters.
func (a *Adaptive) Stats() AdaptiveStats {
	a.mu.Lock()
	defer a.mu.Unlock()
	return AdaptiveStats{Requests: a.requests, Throttled: a.throttled, Decreases: a.decreases,
		Window: a.window, MinWindow: a.minWindow, Ceiling: a.ceiling}
}

func (a *Adaptive) signal() {
	close(a.wake)
	a.wake = make(chan struct{})
}

// acquire waits for a slot (or ctx).
func (a *Adaptive) acquire(ctx context.Context) error {
	for {
		a.mu.Lock()
		if float64(a.inflight) < max(1, a.window) {
			a.inflight++
			a.mu.Unlock()
			return nil
		}
		w := a.wake
		a.mu.Unlock()
		select {
		case <-w:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// release frees a slot and adapts the window to the request's outcome.
func (a *Adaptive) release(r *attemptResult, lat time.Duration) {
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.inflight--
	a.requests++
	switch {
	case r.err == nil && (r.status == 429 || r.status == 503):
		a.throttled++
		a.decrease(now)
	case r.ok():
		a.sample(now, lat)
		if rtt := a.median(); a.base > 0 && rtt > 2*a.base && rtt-a.base > 20*time.Millisecond {
			a.decrease(now)
		} else {
			if float64(a.inflight+1) >= a.window-1 {
				// Grow only a window in use: one that callers do not
				// fill says nothing about the account's limit.
				// Back up to near the window of the last decrease
				// at one per round trip, then probe beyond it four
				// times slower: a rate limit is a fixed ceiling, and
				// each probe past it costs refused requests.
				inc := 1 / max(1, a.window)
				if a.window >= 0.95*a.wmax {
					inc /= 4
				}
				a.window = min(a.ceiling, a.window+inc)
			}
		}
	}
	a.signal()
}

// decrease shrinks the window, at most once per round trip.
func (a *Adaptive) decrease(now time.Time) {
	rtt := max(a.median(), 10*time.Millisecond)
	if now.Sub(a.lastDecrease) < rtt {
		return
	}
	a.lastDecrease = now
	// From what was in flight (this request included), not from a
	// window larger than callers use (it starts at the ceiling).
	a.wmax = min(a.window, float64(a.inflight+1))
	a.window = max(1, a.wmax*Backoff)
	a.minWindow = min(a.minWindow, a.window)
	a.decreases++
}

func (a *Adaptive) sample(now time.Time, lat time.Duration) {
	a.lat[a.nlat%len(a.lat)] = lat
	a.nlat++
	if a.base == 0 || lat < a.base {
		a.base = lat
	}
	if a.next == 0 || lat < a.next {
		a.next = lat
	}
	if a.nlat%16 == 0 {
		a.med = a.computeMedian()
	}
	if now.Sub(a.baseSince) > basePeriod { // forget old lows: the path may have changed
		a.base, a.next, a.baseSince = a.next, lat, now
	}
}

// median is the median latency of the recent successful requests (0 before
// there are 16).
func (a *Adaptive) median() time.Duration { return a.med }

func (a *Adaptive) computeMedian() time.Duration {
	n := min(a.nlat, len(a.lat))
	if n < 16 {
		return 0
	}
	s := make([]time.Duration, n)
	copy(s, a.lat[:n])
	slices.Sort(s)
	return s[n/2]
}

// AdaptiveWindows reports the stats of every account window of this
// process (bench/ prints them).
func AdaptiveWindows() []AdaptiveStats {
	var out []AdaptiveStats
	adaptives.Range(func(_, v any) bool {
		out = append(out, v.(*Adaptive).Stats())
		return true
	})
	return out
}
