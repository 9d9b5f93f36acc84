package b2client

import (
	"context"
	"sync"
	"testing"

	"github.com/b2plan/b2plan/emulator"
	"github.com/b2plan/b2plan/live"
)

// TestRetryHook: every injected fault that is retried is reported once to the context's hook,
// with its class; 429 counts as throttling, 500 does not. The emulator's own fault counter is
// the independent reader.
func TestRetryHook(t *testing.T) {
	tg := newEmulatorTarget(t, emulator.Options{})
	tg.srv.SetFaults(0.4, 429, 500)
	defer tg.srv.SetFaults(0)
	tg.srv.ResetStats()
	var mu sync.Mutex
	var retries, throttled int
	ctx := WithRetryHook(context.Background(), func(r RetryInfo) {
		mu.Lock()
		defer mu.Unlock()
		retries++
		if r.Throttled() {
			throttled++
		}
		if r.Op == "" || r.Attempt < 1 || (r.Status != 429 && r.Status != 500) {
			t.Errorf("retry info %+v", r)
		}
	})
	for i := 0; i < 40; i++ {
		if _, err := Observe(ctx, tg.conn, live.Request{Buckets: true}); err != nil {
			t.Fatal(err)
		}
	}
	tg.srv.SetFaults(0)
	faults := tg.srv.Stats().Faults
	if int64(retries) != faults || faults == 0 {
		t.Errorf("hook saw %d retries, the emulator injected %d faults", retries, faults)
	}
	if throttled == 0 || throttled == retries {
		t.Errorf("throttled %d of %d: 429 and 500 should both occur", throttled, retries)
	}
	// Without a hook nothing is reported (and nothing breaks).
	tg.srv.SetFaults(0.4, 503)
	if _, err := Observe(context.Background(), tg.conn, live.Request{Buckets: true}); err != nil {
		t.Fatal(err)
	}
}
