package executor_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/b2plan/b2plan/b2client"
	"github.com/b2plan/b2plan/config"
	"github.com/b2plan/b2plan/emulator"
	"github.com/b2plan/b2plan/executor"
	"github.com/b2plan/b2plan/live"
	"github.com/b2plan/b2plan/planner"
	"github.com/b2plan/b2plan/secretfile"
	"github.com/hashicorp/hcl/v2"
)

var _ executor.Mutator = (*b2client.Mutator)(nil)

var fastRetry = b2client.RetryPolicy{MaxAttempts: 15, BaseDelay: time.Millisecond, MaxDelay: 20 * time.Millisecond}

// env is one in-process emulator with a b2client connection.
type env struct {
	t    *testing.T
	s    *emulator.Server
	conn *b2client.Conn
	m    *b2client.Mutator
	dir  string
	// replace is planner.Options.Replace of the plans made (-replace).
	replace []string
}

func newEnv(t *testing.T, opts emulator.Options) *env {
	t.Helper()
	if opts.RetryAfter == 0 {
		opts.RetryAfter = -1
	}
	s, err := emulator.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c, err := b2client.Connect(context.Background(), b2client.Config{Endpoint: s.URL(), Transport: s.Transport(),
		KeyID: emulator.DefaultKeyID, Key: emulator.DefaultKey, Retry: fastRetry, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, s: s, conn: c, m: b2client.NewMutator(c), dir: t.TempDir()}
}

func (e *env) bucket(name string, spec b2client.BucketSpec) live.Bucket {
	e.t.Helper()
	spec.Name = name
	b, err := e.m.CreateBucket(context.Background(), spec)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

func (e *env) put(bucket, name, data string) live.Version {
	e.t.Helper()
	v, err := e.m.Upload(context.Background(), bucket, name, "text/plain", []byte(data), map[string]string{"src_last_modified_millis": "1700000000000"})
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

func sha(data string) string {
	s := sha1.Sum([]byte(data))
	return hex.EncodeToString(s[:])
}

// load writes the configuration to the env's directory and loads it.
func (e *env) load(src string) *config.Desired {
	e.t.Helper()
	if err := os.WriteFile(filepath.Join(e.dir, "main.hcl"), []byte(src), 0o644); err != nil {
		e.t.Fatal(err)
	}
	d, diags := config.Load(e.dir, config.VarInputs{})
	if diags.HasErrors() {
		e.t.Fatalf("config: %v", diags)
	}
	return d
}

func (e *env) observe(req live.Request) *live.Live {
	e.t.Helper()
	l, err := b2client.Observe(context.Background(), e.conn, req)
	if err != nil {
		e.t.Fatal(err)
	}
	return l
}

// plan loads and plans; wantErr says the plan may carry error diagnostics.
func (e *env) planD(d *config.Desired) (*planner.Plan, hcl.Diagnostics) {
	e.t.Helper()
	liveRequest := planner.LiveRequest
	chunk := chunkSize(e.t)
	if chunk > 0 {
		liveRequest = planner.StreamingLiveRequest
	}
	req := liveRequest(d, nil)
	l := e.observe(req)
	if d.Settings.Prune {
		l = e.observe(liveRequest(d, l))
	}
	var files []string
	for _, k := range d.Keys {
		files = append(files, k.SecretFile)
	}
	opts := planner.Options{Now: time.Now(), Endpoint: e.s.URL(), AccountID: e.conn.AccountID(),
		SecretKeyIDs: secretfile.KeyIDs(files), Replace: e.replace}
	if chunk > 0 {
		opts.ListRange, opts.MoveChunk, opts.MoveChunkThreshold = e.rangeLister(), chunk, -1
		if os.Getenv("B2PLAN_PARALLEL_LISTING") == "1" {
			opts.ListSource = func(bucket, bucketID, prefix, start, end string) planner.Pager {
				return e.conn.ListParallel(bucket, bucketID, prefix, start, end, b2client.ParallelOptions{Parallel: 3, Ranges: 5, Always: true})
			}
		}
	}
	p, diags := planner.Compute(d, l, opts)
	if chunk > 0 && p != nil {
		// The chunked path must be the one tested: every move with work is chunked, but
		// those whose prefixes nest in one bucket (always planned whole).
		for _, m := range p.Moves {
			nested := strings.EqualFold(m.Bucket, m.ToBucket) && (strings.HasPrefix(m.To, m.From) || strings.HasPrefix(m.From, m.To))
			if m.Objects > 0 && !m.Errored && !nested && !m.Chunked() {
				e.t.Fatalf("%s was planned whole with B2PLAN_MOVE_CHUNK=%d", m.Address, chunk)
			}
		}
	}
	return p, diags
}

// chunkSize is B2PLAN_MOVE_CHUNK: when set, every move of these tests is
// planned and applied in chunks of that many versions (tests of the
// chunked path run the move tests with tiny chunks: chunk_test.go).
func chunkSize(t *testing.T) int {
	v := os.Getenv("B2PLAN_MOVE_CHUNK")
	if v == "" {
		return 0
	}
	var n int
	if _, err := fmt.Sscan(v, &n); err != nil || n < 1 {
		t.Fatalf("B2PLAN_MOVE_CHUNK=%q: want a number of versions per chunk", v)
	}
	return n
}

func (e *env) rangeLister() planner.RangeLister {
	return func(bucket, bucketID, prefix, start, end string) planner.Pager {
		return e.conn.ListRange(bucket, bucketID, prefix, start, end)
	}
}

func (e *env) plan(src string) *planner.Plan {
	e.t.Helper()
	p, diags := e.planD(e.load(src))
	if diags.HasErrors() {
		e.t.Fatalf("plan: %v", diags)
	}
	return p
}

func (e *env) lister() executor.Lister {
	return executor.ListFunc(func(ctx context.Context, req live.Request) (*live.Live, error) {
		return b2client.Observe(ctx, e.conn, req)
	})
}

// events records observer events.
type events struct {
	mu   sync.Mutex
	list []executor.Event
	on   func(executor.Event)
}

func (ev *events) Event(x executor.Event) {
	ev.mu.Lock()
	ev.list = append(ev.list, x)
	on := ev.on
	ev.mu.Unlock()
	if on != nil {
		on(x)
	}
}

func (ev *events) count(k executor.EventKind) int {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	n := 0
	for _, x := range ev.list {
		if x.Kind == k {
			n++
		}
	}
	return n
}

func (e *env) apply(p *planner.Plan, opts executor.Options, obs executor.Observer) (executor.Result, error) {
	if opts.List == nil {
		opts.List = e.lister()
	}
	if opts.Parallelism == 0 {
		opts.Parallelism = 8
	}
	if opts.ListRange == nil {
		opts.ListRange = e.rangeLister()
	}
	return opts.Apply(context.Background(), p, e.m, obs)
}

func (e *env) mustApply(p *planner.Plan, opts executor.Options) executor.Result {
	e.t.Helper()
	res, err := e.apply(p, opts, nil)
	if err != nil {
		e.t.Fatalf("apply: %v\nfailures: %v", err, res.Failures)
	}
	return res
}

// versions lists every version under prefix (newest first per name).
func (e *env) versions(bucket, prefix string) []live.Version {
	e.t.Helper()
	l := e.observe(live.Request{Prefixes: []live.PrefixRequest{{BucketName: bucket, Prefix: prefix}}})
	return l.Listings[0].Versions
}

// visible maps each visible name under prefix to the SHA-1 of its newest
// version; counts maps names to their number of versions.
func (e *env) visible(bucket, prefix string) (vis map[string]string, counts map[string]int) {
	vis, counts = map[string]string{}, map[string]int{}
	seen := map[string]bool{}
	for _, v := range e.versions(bucket, prefix) {
		if v.Action == live.ActionStart {
			continue
		}
		counts[v.Name]++
		if seen[v.Name] {
			continue
		}
		seen[v.Name] = true
		if v.Action == live.ActionUpload {
			vis[v.Name] = v.SHA1Hex()
		}
	}
	return vis, counts
}

func (e *env) stats() emulator.Stats { return e.s.Stats() }

// raw makes one API call with the master key (for calls b2client lacks).
func (e *env) raw(api string, body any) map[string]any {
	e.t.Helper()
	hc := e.s.HTTPClient()
	req, _ := http.NewRequest("GET", e.s.URL()+"/b2api/v4/b2_authorize_account", nil)
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(emulator.DefaultKeyID+":"+emulator.DefaultKey)))
	resp, err := hc.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	var auth struct {
		Token   string `json:"authorizationToken"`
		APIInfo struct {
			Storage struct {
				APIURL string `json:"apiUrl"`
			} `json:"storageApi"`
		} `json:"apiInfo"`
	}
	json.NewDecoder(resp.Body).Decode(&auth)
	resp.Body.Close()
	b, _ := json.Marshal(body)
	req, _ = http.NewRequest("POST", auth.APIInfo.Storage.APIURL+"/b2api/v4/"+api, bytes.NewReader(b))
	req.Header.Set("Authorization", auth.Token)
	resp, err = hc.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		e.t.Fatalf("%s: %d %s", api, resp.StatusCode, data)
	}
	var out map[string]any
	json.Unmarshal(data, &out)
	return out
}

func moveHCL(bucket, from, to string, extra ...string) string {
	return fmt.Sprintf("move \"m\" {\n  bucket = %q\n  from = %q\n  to = %q\n%s\n}\n", bucket, from, to, strings.Join(extra, "\n"))
}

// perObject skips a test that reads or edits a plan's per-object
// operations (Move.Ops), which a chunked move does not have.
func perObject(t *testing.T) {
	t.Helper()
	if chunkSize(t) > 0 {
		t.Skip("reads per-object operations of the plan; moves are chunked (B2PLAN_MOVE_CHUNK)")
	}
}
