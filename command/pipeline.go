package command

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/b2plan/b2plan/b2client"
	"github.com/b2plan/b2plan/config"
	"github.com/b2plan/b2plan/emulator"
	"github.com/b2plan/b2plan/executor"
	"github.com/b2plan/b2plan/live"
	"github.com/b2plan/b2plan/planner"
	"github.com/b2plan/b2plan/secretfile"
)

// *b2client.Mutator is the executor's Mutator.
var _ executor.Mutator = (*b2client.Mutator)(nil)

// LocalStateDir is where the embedded default endpoint keeps its state,
// relative to the configuration directory.
const LocalStateDir = ".b2plan/local"

// planInput is what plan and apply read from the command line.
type planInput struct {
	path     string
	vars     []string
	varFiles []string
	targets  []string
	// replace are the -replace addresses (planner.Options.Replace).
	replace []string
	// destroy plans the deletion of what the configuration declares (b2plan destroy).
	destroy bool
}

// pipeline is the shared front half of plan and apply: load the
// configuration, resolve the endpoint and credentials, connect, check the
// key's capabilities, observe, plan.
type pipeline struct {
	m       *Meta
	desired *config.Desired
	conn    *b2client.Conn
	live    *live.Live
	plan    *planner.Plan
	diags   hcl.Diagnostics
	// accounts are every provider's connection when the configuration has provider
	// aliases (accounts.go); nil otherwise.
	accounts []*account
	destroy  bool // planInput.destroy
}

func (pl *pipeline) close() {
	if pl != nil && pl.conn != nil {
		pl.closeAccounts()
		pl.conn.Close()
	}
}

func hasErrors(d hcl.Diagnostics) bool {
	for _, x := range d {
		if x.Severity == hcl.DiagError {
			return true
		}
	}
	return false
}

// resolveEndpoint applies SPEC §1.3 and the embedded default: provider
// endpoint, overridden by B2_ENDPOINT; with neither, and neither credential
// variable set at all (nor credentials in the provider block),
// local://<config dir>/.b2plan/local (with a note on stderr); with
// credentials, https://api.backblazeb2.com. An empty or half-set pair is an
// error rather than a silent fallback to the emulator (a CI secret that
// expands to nothing). local:// paths are made absolute so that saved plans
// bind to one directory.
func (m *Meta) resolveEndpoint(d *config.Desired) (string, error) {
	ep := strings.TrimSpace(d.Provider.Endpoint)
	if env := strings.TrimSpace(m.Getenv("B2_ENDPOINT")); env != "" {
		ep = env
	}
	if ep != "" {
		return absLocal(ep)
	}
	if d.Provider.ApplicationKeyID != "" || d.Provider.ApplicationKey.Reveal() != "" {
		return b2client.DefaultEndpoint, nil // the provider block's pair is checked when connecting
	}
	id, idSet := m.lookupEnv("B2_APPLICATION_KEY_ID")
	key, keySet := m.lookupEnv("B2_APPLICATION_KEY")
	switch {
	case !idSet && !keySet:
		dir, err := filepath.Abs(filepath.Join(d.Dir, LocalStateDir))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(m.Stderr, "Note: no endpoint and no B2 credentials are set: using the embedded local emulator (state in %s).\n", dir)
		return "local://" + dir, nil
	case id != "" && key != "":
		return b2client.DefaultEndpoint, nil
	}
	return "", errors.New(credentialProblem(id, idSet, key, keySet))
}

// credentialProblem says what is wrong with a half-set or empty pair of
// credential variables and what to set.
func credentialProblem(id string, idSet bool, key string, keySet bool) string {
	state := func(name, v string, set bool) string {
		switch {
		case !set:
			return name + " is not set"
		case v == "":
			return name + " is set but empty"
		}
		return name + " is set"
	}
	return fmt.Sprintf("incomplete B2 credentials: %s and %s: set both to your application key's id and secret, or unset both (and configure no endpoint) to use the embedded local emulator",
		state("B2_APPLICATION_KEY_ID", id, idSet), state("B2_APPLICATION_KEY", key, keySet))
}

// lookupEnv reports a variable's value and whether it is set at all.
func (m *Meta) lookupEnv(k string) (string, bool) {
	for _, kv := range m.Env {
		if key, v, ok := strings.Cut(kv, "="); ok && key == k {
			return v, true
		}
	}
	return "", false
}

func absLocal(ep string) (string, error) {
	if rest, ok := strings.CutPrefix(ep, "local://"); ok && rest != "" && !filepath.IsAbs(rest) {
		dir, err := filepath.Abs(rest)
		if err != nil {
			return "", err
		}
		return "local://" + dir, nil
	}
	return ep, nil
}

// connect opens the connection for endpoint (B2_ENDPOINT already applied).
func (m *Meta) connect(ctx context.Context, endpoint, keyID, key string) (*b2client.Conn, error) {
	getenv := func(k string) string {
		if k == "B2_ENDPOINT" {
			return "" // already resolved by the caller
		}
		return m.Getenv(k)
	}
	c, err := b2client.Connect(ctx, b2client.Config{Endpoint: endpoint, KeyID: keyID, Key: key, Getenv: getenv, Local: startLocal})
	if err != nil {
		return nil, err
	}
	for _, w := range c.Warnings() {
		fmt.Fprintf(m.Stderr, "Warning: %s\n", w)
	}
	return c, nil
}

// startLocal serves a local://DIR endpoint: the embedded emulator with its
// state in DIR (created if missing), reached through its in-process
// transport, with its development credentials.
func startLocal(dir string) (*b2client.LocalServer, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	s, err := emulator.NewServer(emulator.Options{Dir: dir})
	if err != nil {
		return nil, fmt.Errorf("start emulator: %w", err)
	}
	return &b2client.LocalServer{URL: s.URL(), Transport: s.Transport(), KeyID: emulator.DefaultKeyID, Key: emulator.DefaultKey, Close: s.Close}, nil
}

// observeCaps are the capabilities reading the account needs.
func observeCaps(req live.Request) []string {
	caps := []string{"listBuckets"}
	if req.Keys {
		caps = append(caps, "listKeys")
	}
	if len(req.Prefixes) > 0 {
		caps = append(caps, "listFiles")
	}
	return caps
}

// applyCaps are the capabilities and buckets applying p needs.
func applyCaps(p *planner.Plan) (caps, buckets []string) {
	set := map[string]bool{}
	bset := map[string]bool{}
	add := func(cs ...string) {
		for _, c := range cs {
			set[c] = true
		}
	}
	for _, ch := range p.Changes {
		switch ch.Type {
		case "bucket":
			switch ch.Action {
			case planner.Create, planner.Update:
				add("writeBuckets")
				if ch.Bucket != nil && ch.Bucket.Desired != nil {
					if ch.Bucket.Desired.Encryption.Mode != "" || ch.Bucket.SetEncryption {
						add("writeBucketEncryption")
					}
					if ch.Bucket.Desired.ObjectLock.Enabled {
						add("writeBucketRetentions")
					}
					add(planner.NotifyCaps(ch.Bucket.Notify)...)
				}
			case planner.Delete:
				add("deleteBuckets")
				if ch.Bucket != nil && len(ch.Bucket.Empty) > 0 {
					add("deleteFiles")
				}
				if ch.Bucket != nil && len(ch.Bucket.Unfinished) > 0 {
					add("writeFiles") // b2_cancel_large_file
				}
			}
		case "key":
			switch ch.Action {
			case planner.Create:
				add("writeKeys")
			case planner.Replace:
				add("writeKeys", "deleteKeys", "listKeys")
			case planner.Delete:
				add("deleteKeys")
			}
		case "folder":
			if ch.Action == planner.Create && ch.Folder != nil {
				add("writeFiles")
			}
			if ch.Action == planner.Delete {
				add("deleteFiles")
			}
		case "object":
			switch ch.Action {
			case planner.Create, planner.Update:
				add("writeFiles")
			case planner.Delete:
				add("deleteFiles")
			}
		}
	}
	add(planner.ReplicationCaps(p, "")...) // single account; several: applyAccounts
	for _, mv := range p.Moves {
		if !mv.HasOps() {
			continue
		}
		add("listFiles", "readFiles", "writeFiles")
		if mv.Deletes > 0 {
			add("deleteFiles")
		}
		bset[mv.Bucket], bset[mv.ToBucket] = true, true
	}
	for c := range set {
		caps = append(caps, c)
	}
	sort.Strings(caps)
	for b := range bset {
		buckets = append(buckets, b)
	}
	sort.Strings(buckets)
	return caps, buckets
}

// runPipeline loads, connects, observes and plans. On failure it prints the
// problem and returns the exit code with ok = false.
func (m *Meta) runPipeline(ctx context.Context, in planInput) (pl *pipeline, code int, ok bool) {
	for i := range in.varFiles {
		in.varFiles[i] = m.Path(in.varFiles[i])
	}
	path := in.path
	if path == "" {
		path = "."
	}
	d, diags := config.Load(m.Path(path), config.VarInputs{Vars: in.vars, VarFiles: in.varFiles, Env: m.Env})
	pl = &pipeline{m: m, desired: d, destroy: in.destroy}
	if hasErrors(diags) {
		m.WriteDiagnostics(m.Stderr, diags, d.Files)
		return pl, ExitError, false
	}
	pl.diags = diags
	ep, err := m.resolveEndpoint(d)
	if err != nil {
		return pl, m.Errorf("%v", err), false
	}
	conn, err := m.connect(ctx, ep, d.Provider.ApplicationKeyID, d.Provider.ApplicationKey.Reveal())
	if err != nil {
		m.WriteDiagnostics(m.Stderr, diags, d.Files)
		return pl, m.Errorf("%v", err), false
	}
	pl.conn = conn
	if len(d.ProviderAliases) > 0 {
		code, ok := m.runAccounts(ctx, pl, in, path, ep)
		return pl, code, ok
	}
	// Moves are listed by name range while planning (bounded memory,
	// planner/move_chunk.go).
	req := planner.StreamingLiveRequest(d, nil)
	if err := conn.Require(observeCaps(req), nil); err != nil {
		m.WriteDiagnostics(m.Stderr, diags, d.Files)
		return pl, m.Errorf("%v", err), false
	}
	l, err := b2client.Observe(ctx, conn, req)
	if err != nil {
		m.WriteDiagnostics(m.Stderr, diags, d.Files)
		return pl, m.Errorf("read the account: %v", err), false
	}
	if d.Settings.Prune || in.destroy {
		req2 := planner.StreamingLiveRequest(d, l)
		if in.destroy {
			req2 = planner.DestroyRequest(d, l)
		}
		if !reflect.DeepEqual(req2, req) {
			if l, err = b2client.Observe(ctx, conn, req2); err != nil {
				m.WriteDiagnostics(m.Stderr, diags, d.Files)
				return pl, m.Errorf("read the account: %v", err), false
			}
		}
	}
	if len(d.DataSources) > 0 {
		var ddiags hcl.Diagnostics
		d, l, ddiags, err = m.readData(ctx, conn, m.Path(path), config.VarInputs{Vars: in.vars, VarFiles: in.varFiles, Env: m.Env}, d, l, req)
		pl.desired, pl.diags = d, ddiags
		if err != nil || hasErrors(ddiags) {
			m.WriteDiagnostics(m.Stderr, ddiags, d.Files)
			if err != nil {
				return pl, m.Errorf("read the account: %v", err), false
			}
			return pl, ExitError, false
		}
	}
	pl.live = l
	// Part counts and call estimates of large copies use the part size the
	// account recommends (what the client copies with); the b2_copy_file
	// limit stays B2's 5 GB.
	chunk, threshold, err := m.moveChunk()
	if err != nil {
		return pl, m.Errorf("%v", err), false
	}
	absMinPart, partSize := conn.PartSizes()
	if partSize < absMinPart {
		partSize = absMinPart
	}
	p, pdiags := planner.Compute(d, l, planner.Options{Targets: in.targets, Endpoint: conn.Endpoint().String(),
		AccountID: conn.AccountID(), Now: time.Now(), PartSize: partSize, SecretKeyIDs: secretfile.KeyIDs(secretFiles(d)),
		Destroy: in.destroy, Replace: in.replace, ListRange: rangeLister(conn), ForgetListed: conn.ForgetListed, Context: ctx, ListSource: m.sourceLister(conn), MoveChunk: chunk, MoveChunkThreshold: threshold})
	pl.plan = p
	pl.diags = append(pl.diags, pdiags...)
	for _, x := range pdiags {
		if strings.HasPrefix(x.Summary, planner.NoTargetMatch) || strings.HasPrefix(x.Summary, planner.NoReplaceMatch) { // no plan to show
			m.WriteDiagnostics(m.Stderr, pl.diags, d.Files)
			return pl, ExitError, false
		}
	}
	return pl, 0, true
}

// secretFiles are the declared keys' secret files.
func secretFiles(d *config.Desired) []string {
	var out []string
	for _, k := range d.Keys {
		if k.SecretFile != "" {
			out = append(out, k.SecretFile)
		}
	}
	return out
}

// isPlanFile reports whether path is a saved plan (by its magic bytes).
func isPlanFile(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || st.IsDir() {
		return false
	}
	var b [7]byte
	n, _ := f.Read(b[:])
	return n == 7 && string(b[:]) == "B2PLAN\x00"
}

// rangeLister lists move prefixes by name range, page by page (chunked
// moves: planner/move_chunk.go, executor/move_chunk.go).
func rangeLister(conn *b2client.Conn) planner.RangeLister {
	return func(bucket, bucketID, prefix, start, end string) planner.Pager {
		return conn.ListRange(bucket, bucketID, prefix, start, end)
	}
}

// sourceLister lists the whole source of a move with b2client's
// ListParallel (sub-prefix ranges listed concurrently, pages in name order;
// docs/b2client.md) unless B2PLAN_PARALLEL_LISTING=0; =1 splits every
// source, however small (tests, bench).
func (m *Meta) sourceLister(conn *b2client.Conn) planner.RangeLister {
	var opts b2client.ParallelOptions
	switch m.Getenv("B2PLAN_PARALLEL_LISTING") {
	case "0":
		return nil
	case "1":
		opts.Always = true
	}
	opts.Parallel = planParallelListing
	return func(bucket, bucketID, prefix, start, end string) planner.Pager {
		return conn.ListParallel(bucket, bucketID, prefix, start, end, opts)
	}
}

// planParallelListing is how many ranges of a move source plan lists at
// once: at most 2 × 4 + 2 pages of 10,000 versions are held (README, "Moves
// at scale").
const planParallelListing = 4

// moveChunk reads B2PLAN_MOVE_CHUNK: when set, every move is planned in
// chunks of that many versions (tests and bench force small chunks with
// it); unset, moves above planner.DefaultMoveChunkThreshold versions are
// chunked by planner.DefaultMoveChunk.
func (m *Meta) moveChunk() (chunk, threshold int, err error) {
	v := m.Getenv("B2PLAN_MOVE_CHUNK")
	if v == "" {
		return 0, 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, 0, fmt.Errorf("B2PLAN_MOVE_CHUNK=%q: want a number of versions per chunk, at least 1 (or unset it)", v)
	}
	return n, -1, nil
}
