package b2client

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/b2plan/b2plan/emulator"
	"github.com/b2plan/b2plan/live"
)

// Tokens that live 5 seconds under 30% injected faults, with the retry
// policy's real backoff (1s doubling) spent at once on a fake clock that the
// emulator also reads: tokens expire during calls' retries, often more than
// once per call. Every object must still succeed, over both APIs.
func TestShortTokensUnderFaults(t *testing.T) {
	// The case: 5 s tokens, 30% faults, B2's backoff (1 s
	// doubling to 32 s), one object at a time on a fake clock. 12 attempts
	// rather than 8: at 30% faults, 8 faults in a row happen to one call in
	// about 15,000, which is the policy's limit, not what is tested here.
	runShortTokens(t, 5*time.Second, RetryPolicy{MaxAttempts: 12}, true, 1, 60)
}

// The same with 8 objects at a time in real time: 1 s tokens and a
// backoff of 100 ms doubling to 1.6 s, so tokens expire during retries.
func TestShortTokensUnderFaultsConcurrent(t *testing.T) {
	if testing.Short() {
		t.Skip("real time")
	}
	runShortTokens(t, time.Second, RetryPolicy{MaxAttempts: 12, BaseDelay: 100 * time.Millisecond, MaxDelay: 1600 * time.Millisecond}, false, 8, 40)
}

func runShortTokens(t *testing.T, ttl time.Duration, policy RetryPolicy, fakeClock bool, par, n int) {
	for _, s3 := range []bool{false, true} {
		t.Run(fmt.Sprintf("s3=%v", s3), func(t *testing.T) {
			var offset atomic.Int64 // nanoseconds the fake clock is ahead
			now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
			// Sleeping d moves the clock to at least d later: concurrent
			// sleeps overlap, as they do in real time.
			sleep := func(ctx context.Context, d time.Duration) error {
				target := now().Add(d)
				for {
					cur := offset.Load()
					if !time.Now().Add(time.Duration(cur)).Before(target) || offset.CompareAndSwap(cur, int64(target.Sub(time.Now()))) {
						return ctx.Err()
					}
				}
			}
			opts := emulator.Options{TokenTTL: ttl, RetryAfter: -1, Seed: 19}
			if fakeClock {
				opts.Now = now
				policy.Now, policy.Sleep = now, sleep
			}
			srv, err := emulator.NewServer(opts)
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			ep := srv.URL()
			if s3 {
				ep = "s3+" + srv.S3URL()
			}
			c, err := Connect(context.Background(), Config{Endpoint: ep, Transport: srv.Transport(), KeyID: emulator.DefaultKeyID, Key: emulator.DefaultKey,
				Getenv: noEnv, Retry: policy})
			if err != nil {
				t.Fatal(err)
			}
			m := NewMutator(c)
			ctx := context.Background()
			b, err := m.CreateBucket(ctx, BucketSpec{Name: "short-tokens", Type: "allPrivate"})
			if err != nil {
				t.Fatal(err)
			}
			srv.SetFaults(0.3, 503, 500)
			// On the fake clock one object at a time: the clock is then
			// moved only by this goroutine's own waits, as real time would be.
			var g errgroup.Group
			g.SetLimit(par)
			var hidden atomic.Int64
			for i := range n {
				g.Go(func() error {
					name := fmt.Sprintf("f/%03d", i)
					v, err := m.Upload(ctx, "short-tokens", name, "text/plain", []byte(name), nil)
					if err != nil {
						return fmt.Errorf("upload %s: %w", name, err)
					}
					if _, err := m.GetFileInfo(ctx, v.ID); err != nil {
						return fmt.Errorf("get %s: %w", name, err)
					}
					if _, err := m.HideFile(ctx, b.ID, name); err != nil {
						return fmt.Errorf("hide %s: %w", name, err)
					}
					hidden.Add(1)
					return nil
				})
			}
			if err := g.Wait(); err != nil {
				t.Fatalf("after %d objects (%d re-authorisations; %+v): %v", hidden.Load(), c.authGeneration(), srv.Stats(), err)
			}
			srv.SetFaults(0)
			if auths := srv.Stats().Calls["b2_authorize_account"]; auths < 3 {
				t.Errorf("authorisations = %d: the tokens did not expire during the run", auths)
			}
			// An independent reader: the emulator's own listing.
			l, err := Observe(ctx, c, live.Request{Prefixes: []live.PrefixRequest{{BucketName: "short-tokens", Prefix: "f/"}}})
			if err != nil {
				t.Fatal(err)
			}
			if got := len(l.Listings[0].Versions); got != 2*n {
				t.Errorf("versions = %d, want %d (an upload and a hide marker per name)", got, 2*n)
			}
		})
	}
}
