package b2client

import (
	"context"
	"slices"
	"strings"
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
//     the window is larger) on a 429 or 503, and when the median latency
//     of the recent requests of one native call (b2_copy_file, …; each
//     has its own durations; listing calls excepted, whose durations
//     follow their page sizes) rises well above its lowest (queueing: more
//     than twice it and 20 ms over), at most once per round trip, so one
//     burst of refusals counts as one signal;
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
	wmax         float64 // the window at the last decrease
	rtt          time.Duration
	lats         map[string]*latencies // per native call: their durations differ (a list page, a 100 MB part copy)

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
	var l *latencies
	// A listing call's duration follows its page (1 to 10,000 entries,
	// decoded as they arrive), not the queue: it is no latency signal.
	if r.api != "" && !strings.HasPrefix(r.api, "b2_list_") {
		if l = a.lats[r.api]; l == nil {
			if a.lats == nil {
				a.lats = map[string]*latencies{}
			}
			l = &latencies{}
			a.lats[r.api] = l
		}
	}
	switch {
	case r.err == nil && (r.status == 429 || r.status == 503):
		a.throttled++
		a.decrease(now)
	case r.ok():
		if l != nil {
			l.sample(now, lat)
			if l.med > 0 {
				a.rtt = l.med
			}
		}
		if l != nil && l.med > 0 && l.med > 2*l.base && l.med-l.base > 20*time.Millisecond {
			a.decrease(now)
		} else if float64(a.inflight+1) >= a.window-1 {
			// Grow only a window in use: one that callers do not fill
			// says nothing about the account's limit. Back up to near
			// the window of the last decrease at one per round trip,
			// then probe beyond it four times slower: a rate limit is a
			// fixed ceiling, and each probe past it costs refused
			// requests.
			inc := 1 / max(1, a.window)
			if a.window >= 0.95*a.wmax {
				inc /= 4
			}
			a.window = min(a.ceiling, a.window+inc)
		}
	}
	a.signal()
}

// decrease shrinks the window, at most once per round trip.
func (a *Adaptive) decrease(now time.Time) {
	if now.Sub(a.lastDecrease) < max(a.rtt, 10*time.Millisecond) {
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

// latencies are the recent durations of one native call.
type latencies struct {
	lat        [64]time.Duration // ring
	n          int
	med        time.Duration // median of lat, recomputed every 16 samples (0 before)
	base, next time.Duration // lowest latency of the current and next period
	since      time.Time
}

func (l *latencies) sample(now time.Time, lat time.Duration) {
	l.lat[l.n%len(l.lat)] = lat
	l.n++
	if l.base == 0 || lat < l.base {
		l.base = lat
	}
	if l.next == 0 || lat < l.next {
		l.next = lat
	}
	if l.n%16 == 0 {
		k := min(l.n, len(l.lat))
		s := make([]time.Duration, k)
		copy(s, l.lat[:k])
		slices.Sort(s)
		l.med = s[k/2]
	}
	if now.Sub(l.since) > basePeriod { // forget old lows: the path may have changed
		l.base, l.next, l.since = l.next, lat, now
	}
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
