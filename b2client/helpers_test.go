package b2client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/b2plan/b2plan/emulator"
	"github.com/b2plan/b2plan/live"
)

// target is one B2 the conformance suite runs against: the in-process
// emulator always, real B2 when B2PLAN_TEST_KEY_ID / B2PLAN_TEST_KEY are set.
type target struct {
	name string
	real bool
	// s3 says folders and moves go through the S3-compatible API.
	s3   bool
	srv  *emulator.Server // nil for real B2
	conn *Conn
	m    *Mutator
	cfg  Config // how conn was made, for reconnecting with other keys

	mu      sync.Mutex
	buckets map[string]string // id → name, to clean up
	keys    map[string]string // id → name
}

// fastRetry keeps tests quick against the emulator; real B2 gets the
// defaults.
var fastRetry = RetryPolicy{MaxAttempts: 12, BaseDelay: time.Millisecond, MaxDelay: 20 * time.Millisecond}

func newEmulatorTarget(t testing.TB, opts emulator.Options) *target {
	t.Helper()
	return newEmulatorTargetAPI(t, opts, false)
}

// newEmulatorTargetAPI connects to a new in-process emulator through its
// native API, or with s3 through its S3-compatible API (s3+http://).
func newEmulatorTargetAPI(t testing.TB, opts emulator.Options, s3 bool) *target {
	t.Helper()
	if opts.RetryAfter == 0 {
		opts.RetryAfter = -1 // no Retry-After header: our backoff, in milliseconds
	}
	s, err := emulator.NewServer(opts)
	if err != nil {
		t.Fatalf("emulator.NewServer: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	cfg := Config{Endpoint: s.URL(), Transport: s.Transport(), KeyID: emulator.DefaultKeyID, Key: emulator.DefaultKey, Retry: fastRetry, Getenv: noEnv}
	name := "emulator"
	if s3 {
		cfg.Endpoint = "s3+" + s.S3URL()
		name = "emulator-s3"
	}
	c, err := Connect(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Connect to emulator: %v", err)
	}
	if c.IsS3() != s3 {
		t.Fatalf("Connect(%s): IsS3 = %v", cfg.Endpoint, c.IsS3())
	}
	return &target{name: name, s3: s3, srv: s, conn: c, m: NewMutator(c), cfg: cfg, buckets: map[string]string{}, keys: map[string]string{}}
}

func noEnv(string) string { return "" }

func realTarget(t testing.TB) *target { return realTargetAPI(t, false) }

// realTargetAPI connects to real B2; with s3 through the S3 endpoint in
// B2PLAN_TEST_S3_ENDPOINT (e.g. https://s3.us-west-004.backblazeb2.com),
// or nil when that is not set.
func realTargetAPI(t testing.TB, s3 bool) *target {
	id, key := os.Getenv("B2PLAN_TEST_KEY_ID"), os.Getenv("B2PLAN_TEST_KEY")
	if id == "" || key == "" {
		return nil
	}
	cfg := Config{Endpoint: os.Getenv("B2PLAN_TEST_ENDPOINT"), KeyID: id, Key: key, Getenv: noEnv}
	if s3 {
		if cfg.Endpoint = os.Getenv("B2PLAN_TEST_S3_ENDPOINT"); cfg.Endpoint == "" {
			return nil
		}
	}
	c, err := Connect(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Connect to real B2: %v", err)
	}
	return &target{name: "b2", real: true, s3: s3, conn: c, m: NewMutator(c), cfg: cfg, buckets: map[string]string{}, keys: map[string]string{}}
}

// forEachTarget runs f against the emulator and, when configured, real B2,
// each through the native API and through the S3-compatible API.
func forEachTarget(t *testing.T, opts emulator.Options, f func(t *testing.T, tg *target)) {
	for _, s3 := range []bool{false, true} {
		suffix := ""
		if s3 {
			suffix = "-s3"
		}
		t.Run("emulator"+suffix, func(t *testing.T) {
			tg := newEmulatorTargetAPI(t, opts, s3)
			t.Cleanup(func() { tg.cleanup(t) })
			f(t, tg)
		})
		t.Run("b2"+suffix, func(t *testing.T) {
			tg := realTargetAPI(t, s3)
			if tg == nil {
				t.Skip("set B2PLAN_TEST_KEY_ID and B2PLAN_TEST_KEY (and B2PLAN_TEST_S3_ENDPOINT for -s3) to run against real B2")
			}
			t.Cleanup(func() { tg.cleanup(t) })
			f(t, tg)
		})
	}
}

func uniqueName(prefix string) string {
	var b [6]byte
	rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}

// bucket creates a bucket with a unique name, removed (with its content) at
// the end of the test.
func (tg *target) bucket(t testing.TB, spec BucketSpec) live.Bucket {
	t.Helper()
	if spec.Name == "" {
		spec.Name = uniqueName("b2plan-test")
	}
	b, err := tg.m.CreateBucket(context.Background(), spec)
	if err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	tg.mu.Lock()
	tg.buckets[b.ID] = b.Name
	tg.mu.Unlock()
	return b
}

func (tg *target) key(t testing.TB, spec KeySpec) CreatedKey {
	t.Helper()
	if spec.Name == "" {
		spec.Name = uniqueName("b2plan-test")
	}
	k, err := tg.m.CreateKey(context.Background(), spec)
	for try := 0; errors.Is(err, Ambiguous) && try < 5; try++ {
		// Under injected faults the key may exist without its secret
		// having reached us: delete what exists, then create it again.
		ks, lerr := tg.m.KeysNamed(context.Background(), spec.Name)
		if lerr != nil {
			t.Fatalf("CreateKey: %v (listing: %v)", err, lerr)
		}
		for _, old := range ks {
			if derr := tg.m.DeleteKey(context.Background(), old.ID, old.Name); derr != nil {
				t.Fatalf("CreateKey: %v (deleting: %v)", err, derr)
			}
		}
		k, err = tg.m.CreateKey(context.Background(), spec)
	}
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	tg.mu.Lock()
	tg.keys[k.Key.ID] = k.Key.Name
	tg.mu.Unlock()
	return k
}

// connectAs connects to the same target with another key.
func (tg *target) connectAs(t testing.TB, keyID string, key Secret) (*Conn, error) {
	cfg := tg.cfg
	cfg.KeyID, cfg.Key = keyID, key.Reveal()
	return Connect(context.Background(), cfg)
}

// cleanup deletes every version of every bucket the test made, the buckets
// and the keys.
func (tg *target) cleanup(t testing.TB) {
	ctx := context.Background()
	tg.mu.Lock()
	defer tg.mu.Unlock()
	for id, name := range tg.keys {
		if err := tg.m.DeleteKey(ctx, id, name); err != nil && !errors.Is(err, NotFound) && !strings.Contains(err.Error(), "bad_request") {
			t.Logf("cleanup key %s: %v", name, err)
		}
	}
	for id, name := range tg.buckets {
		l, err := Observe(ctx, tg.conn, live.Request{Prefixes: []live.PrefixRequest{{BucketName: name}}})
		if err != nil {
			t.Logf("cleanup list %s: %v", name, err)
			continue
		}
		if l.Listings[0].BucketID == "" {
			continue
		}
		for _, v := range l.Listings[0].Versions {
			if v.Action == live.ActionStart {
				continue
			}
			if err := tg.m.DeleteVersion(ctx, v.Name, v.ID, true); err != nil && !errors.Is(err, NotFound) {
				t.Logf("cleanup version %s: %v", v.Name, err)
			}
		}
		for _, v := range l.Listings[0].Unfinished {
			req := map[string]string{"fileId": v.ID}
			if _, err := tg.conn.call(ctx, "cleanup", "b2_cancel_large_file", req, nil, false); err != nil && !errors.Is(err, NotFound) {
				t.Logf("cleanup unfinished %s: %v", v.Name, err)
			}
		}
		if err := tg.m.DeleteBucket(ctx, id, name); err != nil && !errors.Is(err, NotFound) {
			t.Logf("cleanup bucket %s: %v", name, err)
		}
	}
}

func (tg *target) observe(t testing.TB, req live.Request) *live.Live {
	t.Helper()
	l, err := Observe(context.Background(), tg.conn, req)
	if err != nil {
		t.Fatalf("Observe: %v", err)
	}
	return l
}

func (tg *target) listing(t testing.TB, bucket, prefix string) *live.Listing {
	t.Helper()
	l := tg.observe(t, live.Request{Prefixes: []live.PrefixRequest{{BucketName: bucket, Prefix: prefix}}})
	return &l.Listings[0]
}

// calls returns the emulator's count for one API call.
func (tg *target) calls(api string) int64 {
	if tg.srv == nil {
		return -1
	}
	return tg.srv.Stats().Calls[api]
}

// seed uploads n tiny objects name0000..  under prefix with w workers.
func seed(t testing.TB, m *Mutator, bucket, prefix string, n, workers int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	jobs := make(chan int)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				name := prefix + "f" + pad(i)
				if _, err := m.Upload(ctx, bucket, name, "text/plain", []byte(name), nil); err != nil {
					once.Do(func() { first = err; cancel() })
				}
			}
		}()
	}
	for i := 0; i < n && ctx.Err() == nil; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if first != nil {
		t.Fatalf("seed: %v", first)
	}
}

func pad(i int) string {
	s := "0000000" + itoa(i)
	return s[len(s)-8:]
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

// copyLooking is CopyFile as the Ambiguous contract asks callers to use it:
// after an unknown outcome it lists the destination name and copies again
// only when nothing is there.
func copyLooking(ctx context.Context, c *Conn, m *Mutator, destBucket string, r CopyRequest) (live.Version, error) {
	for try := 0; ; try++ {
		v, err := m.CopyFile(ctx, r)
		if !errors.Is(err, Ambiguous) || try == 5 {
			return v, err
		}
		l, lerr := Observe(ctx, c, live.Request{Prefixes: []live.PrefixRequest{{BucketName: destBucket, Prefix: r.DestName}}})
		if lerr != nil {
			return v, lerr
		}
		for _, x := range l.Listings[0].Versions {
			if x.Name == r.DestName && x.Action == live.ActionUpload {
				return x, nil
			}
		}
	}
}
