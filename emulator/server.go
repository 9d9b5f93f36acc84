package emulator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// inProcessHost is the host of URL() before Start.
const inProcessHost = "b2local.invalid"

// Server is a B2 native-API emulator. Create it with NewServer; serve it
// in-process through Transport/HTTPClient or on a port with Start.
type Server struct {
	opts Options
	st   *store

	mux http.Handler

	mu       sync.Mutex // guards base, ln, httpSrv
	base     string
	ln       *connLimiter
	httpSrv  *http.Server
	serveErr chan error

	faults atomic.Pointer[faultConfig]
	after  atomic.Pointer[afterFault] // SetFaultsAfterCommit
	rngMu  sync.Mutex
	rng    *rand.Rand

	limiter *rateLimiter // nil: no rate limit (ratelimit.go)

	faultCount atomic.Int64
	throttled  atomic.Int64
	totalCount atomic.Int64
	classCount [3]atomic.Int64
	otherCalls atomic.Int64

	closed atomic.Bool

	s3 s3State // S3-compatible API side state (s3.go)
}

type faultConfig struct {
	rate       float64
	codes      []int
	latency    time.Duration
	retryAfter time.Duration
}

// Stats are the per-call counters served at GET /_b2local/stats.
// Calls counts every API request by operation name, including faulted ones;
// Classes counts B2 transactions by class (listing calls count one per 1,000
// entries returned, at least one); Faults counts injected failures and
// Throttled the calls refused by the rate limit.
type Stats struct {
	Calls     map[string]int64 `json:"calls"`
	Classes   map[string]int64 `json:"classes"`
	Faults    int64            `json:"faults"`
	Throttled int64            `json:"throttled"`
	Total     int64            `json:"total"`
}

// ErrBadLimits wraps NewServer's refusal of inconsistent Options limits.
var ErrBadLimits = errors.New("emulator: bad limits")

// NewServer opens (or creates) the emulator state described by opts.
func NewServer(opts Options) (*Server, error) {
	opts.Accounts = append([]Account(nil), opts.Accounts...)
	if opts.MasterKeyID == "" && opts.MasterKey == "" && len(opts.Accounts) > 0 {
		opts.MasterKeyID, opts.MasterKey = opts.Accounts[0].KeyID, opts.Accounts[0].Key
		opts.Accounts = opts.Accounts[1:]
	}
	if opts.MasterKeyID == "" && opts.MasterKey == "" {
		opts.MasterKeyID, opts.MasterKey = DefaultKeyID, DefaultKey
	}
	seen := map[string]bool{opts.MasterKeyID: true}
	for _, a := range opts.Accounts {
		if a.KeyID == "" || a.Key == "" {
			return nil, errors.New("emulator: every account needs a key id and a key")
		}
		if seen[a.KeyID] {
			return nil, fmt.Errorf("emulator: account %s is given twice", a.KeyID)
		}
		seen[a.KeyID] = true
	}
	if opts.MasterKeyID == "" || opts.MasterKey == "" {
		return nil, errors.New("emulator: master key id and key must both be set")
	}
	if err := CheckFaults(opts.FailRate, opts.FailCodes, opts.Latency); err != nil {
		return nil, fmt.Errorf("emulator: %w", err)
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = 24 * time.Hour
	}
	if opts.AbsoluteMinimumPartSize <= 0 {
		opts.AbsoluteMinimumPartSize = 5_000_000
	}
	if opts.RecommendedPartSize <= 0 {
		opts.RecommendedPartSize = 100_000_000
	}
	if opts.MaxCopySize <= 0 {
		opts.MaxCopySize = 5_000_000_000
	}
	if opts.AbsoluteMinimumPartSize > opts.RecommendedPartSize {
		return nil, fmt.Errorf("%w: absolute minimum part size %d is above the recommended part size %d", ErrBadLimits, opts.AbsoluteMinimumPartSize, opts.RecommendedPartSize)
	}
	if opts.RateLimit < 0 {
		return nil, fmt.Errorf("%w: rate limit %v must not be negative", ErrBadLimits, opts.RateLimit)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RetryAfter == 0 {
		opts.RetryAfter = time.Second
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.IOTimeout <= 0 {
		opts.IOTimeout = DefaultIOTimeout
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = defaultMaxConns()
	}
	st, err := openStore(opts)
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, st: st, base: "http://" + inProcessHost}
	seed := uint64(opts.Seed)
	if opts.Seed == 0 {
		seed = rand.Uint64()
	}
	s.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	s.setFaults(opts.FailRate, opts.FailCodes, opts.Latency)
	s.limiter = newRateLimiter(opts.RateLimit)
	s.mux = http.HandlerFunc(s.serveHTTP)
	return s, nil
}

// URL is the base URL clients authorize against.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.base
}

// S3URL is the endpoint of the S3-compatible API: the same listener as URL(),
// addressed path-style (http://host/bucket/key).
func (s *Server) S3URL() string { return s.URL() }

// Handler serves the whole emulator (API, downloads, upload URLs and /_b2local/).
func (s *Server) Handler() http.Handler { return s.mux }

// HTTPClient is an *http.Client whose transport is Transport().
func (s *Server) HTTPClient() *http.Client { return &http.Client{Transport: s.Transport()} }

// Transport serves requests in-process, without a port, for URL()'s host
// (and every URL the emulator hands out, which share that host).
func (s *Server) Transport() http.RoundTripper { return inProcessTransport{s} }

// Start listens on addr ("" means 127.0.0.1:0), serves in the background and
// returns the base URL.
func (s *Server) Start(addr string) (string, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return "", errors.New("emulator: already started")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	s.ln = newConnLimiter(ln, s.opts.MaxConns, s.opts.IOTimeout)
	s.base = "http://" + ln.Addr().String()
	s.httpSrv = &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: s.opts.IOTimeout,
		IdleTimeout:       s.opts.IdleTimeout,
		ConnState:         s.ln.connState,
	}
	s.serveErr = make(chan error, 1)
	srv, lim := s.httpSrv, s.ln
	go func() { s.serveErr <- srv.Serve(lim) }()
	return s.base, nil
}

// Close stops the listener, waits briefly for requests in flight, then
// flushes and closes the store.
func (s *Server) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.mu.Lock()
	srv := s.httpSrv
	s.mu.Unlock()
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = srv.Shutdown(ctx)
		cancel()
	}
	return s.st.close()
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	st := Stats{Calls: map[string]int64{}, Classes: map[string]int64{}}
	for _, op := range opList {
		if n := op.calls.Load(); n > 0 {
			st.Calls[op.name] += n
		}
	}
	if n := s.otherCalls.Load(); n > 0 {
		st.Calls["other"] = n
	}
	for i, c := range []string{"A", "B", "C"} {
		st.Classes[c] = s.classCount[i].Load()
	}
	st.Faults = s.faultCount.Load()
	st.Throttled = s.throttled.Load()
	st.Total = s.totalCount.Load()
	return st
}

// ResetStats zeroes the counters.
func (s *Server) ResetStats() {
	for _, op := range opList {
		op.calls.Store(0)
	}
	s.otherCalls.Store(0)
	for i := range s.classCount {
		s.classCount[i].Store(0)
	}
	s.faultCount.Store(0)
	s.throttled.Store(0)
	s.totalCount.Store(0)
}

// SetFaults changes the injected failure rate and codes at run time
// (rate 0 turns injection off; no codes means 503). Latency is kept.
func (s *Server) SetFaults(rate float64, codes ...int) {
	old := s.faults.Load()
	s.setFaults(rate, codes, old.latency)
}

// afterFault fails calls after they took effect.
type afterFault struct {
	rate  float64
	ops   map[string]bool
	codes []int
}

// SetFaultsAfterCommit makes the named operations (e.g. "b2_copy_file")
// fail with probability rate AFTER they took effect: the change is made
// and committed, then the reply is replaced by an error with one of codes
// (default 500), as when a server fails between committing and answering.
// rate 0 turns it off. S3 operations are named "s3_" + the S3 action, e.g.
// "s3_CopyObject".
func (s *Server) SetFaultsAfterCommit(rate float64, ops []string, codes ...int) {
	if rate <= 0 {
		s.after.Store(nil)
		return
	}
	if len(codes) == 0 {
		codes = []int{500}
	}
	m := map[string]bool{}
	for _, o := range ops {
		m[o] = true
	}
	s.after.Store(&afterFault{rate: rate, ops: m, codes: append([]int(nil), codes...)})
}

func (s *Server) setFaults(rate float64, codes []int, latency time.Duration) {
	if len(codes) == 0 {
		codes = []int{503}
	}
	s.faults.Store(&faultConfig{rate: rate, codes: append([]int(nil), codes...), latency: latency, retryAfter: s.opts.RetryAfter})
}

// ExpireTokens makes every account, upload and download token issued so far
// answer 401 expired_auth_token.
func (s *Server) ExpireTokens() { s.st.expireTokens() }

func (s *Server) chance(p float64) bool {
	if p <= 0 {
		return false
	}
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	return s.rng.Float64() < p
}

func (s *Server) pick(codes []int) int {
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	return codes[s.rng.IntN(len(codes))]
}

// OpenConns is the number of client connections open on the listener of
// Start (0 before Start).
func (s *Server) OpenConns() int {
	s.mu.Lock()
	ln := s.ln
	s.mu.Unlock()
	if ln == nil {
		return 0
	}
	return ln.count()
}

// serveHTTP is the top-level router.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	r, done := s.withBodyTimeout(w, r)
	defer done()
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/_b2local/"):
		s.serveAdmin(w, r)
	case strings.HasPrefix(p, "/b2api/"):
		s.serveAPI(w, r)
	case strings.HasPrefix(p, "/file/"):
		s.serveCall(w, r, opByName["b2_download_file_by_name"], 0, strings.TrimPrefix(r.URL.EscapedPath(), "/file/"))
	default:
		// Everything else is the S3-compatible API, path-style (s3.go).
		s.serveS3(w, r)
	}
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/b2api/")
	ver, rest, ok := strings.Cut(rest, "/")
	v := 0
	switch ver {
	case "v1":
		v = 1
	case "v2":
		v = 2
	case "v3":
		v = 3
	case "v4":
		v = 4
	}
	if !ok || v == 0 {
		s.otherCalls.Add(1)
		s.totalCount.Add(1)
		writeError(w, r, errNotFound("unknown API version in "+r.URL.Path))
		return
	}
	name, tail, _ := strings.Cut(rest, "/")
	op := opByName[name]
	if op == nil || (tail != "" && !op.upload) {
		s.otherCalls.Add(1)
		s.totalCount.Add(1)
		writeError(w, r, errNotFound("unknown operation "+rest))
		return
	}
	s.serveCall(w, r, op, v, tail)
}

// serveCall counts the call, applies latency and fault injection, and runs
// the operation.
func (s *Server) serveCall(w http.ResponseWriter, r *http.Request, op *opDef, v int, tail string) {
	op.calls.Add(1)
	s.totalCount.Add(1)
	c := &call{s: s, w: w, r: r, op: op, v: v, tail: tail, units: 1}
	defer func() {
		if c.units > 0 {
			s.classCount[op.class].Add(c.units)
		}
	}()
	if s.closed.Load() {
		writeError(w, r, &apiError{status: 503, code: "service_unavailable", msg: "emulator is shutting down"})
		return
	}
	if err := s.throttle(r, false); err != nil {
		writeError(w, r, err)
		return
	}
	fc := s.faults.Load()
	if fc.latency > 0 {
		t := time.NewTimer(fc.latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if err := s.injectFault(c, fc); err != nil {
		s.faultCount.Add(1)
		writeError(w, r, err)
		return
	}
	if s.opts.Logf != nil {
		s.opts.Logf("%s %s", r.Method, r.URL.Path)
	}
	if !op.upload && !op.download {
		switch r.Method {
		case http.MethodGet, http.MethodPost:
		default:
			writeError(w, r, errMethod(r.Method))
			return
		}
	}
	resp, err := op.fn(c)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if af := s.after.Load(); af != nil && af.ops[op.name] && s.chance(af.rate) {
		s.faultCount.Add(1)
		writeError(w, r, faultError(s.pick(af.codes), fc.retryAfter))
		return
	}
	if resp != nil {
		writeJSON(w, 200, resp)
	}
}

// injectFault decides whether this call fails before taking effect.
func (s *Server) injectFault(c *call, fc *faultConfig) error {
	switch c.r.Header.Get("X-Bz-Test-Mode") {
	case "fail_some_uploads":
		if c.op.upload && s.chance(0.3) {
			return &apiError{status: 503, code: "service_unavailable", msg: "test mode: fail_some_uploads", retryAfter: -1}
		}
	case "expire_some_account_authorization_tokens":
		if c.op.name != "b2_authorize_account" && !c.op.upload && c.r.Header.Get("Authorization") != "" && s.chance(0.3) {
			return errExpired()
		}
	case "force_cap_exceeded":
		switch {
		case c.op.download:
			return &apiError{status: 403, code: "download_cap_exceeded", msg: "test mode: force_cap_exceeded"}
		case c.op.upload || c.op.name == "b2_copy_file" || c.op.name == "b2_copy_part":
			return &apiError{status: 403, code: "storage_cap_exceeded", msg: "test mode: force_cap_exceeded"}
		default:
			return &apiError{status: 403, code: "transaction_cap_exceeded", msg: "test mode: force_cap_exceeded"}
		}
	}
	if fc.rate > 0 && s.chance(fc.rate) {
		return faultError(s.pick(fc.codes), fc.retryAfter)
	}
	return nil
}

// faultError is the injected error of an HTTP status code.
func faultError(code int, retryAfter time.Duration) *apiError {
	e := &apiError{status: code, msg: "injected fault"}
	switch code {
	case 429:
		e.code = "too_many_requests"
	case 503:
		e.code = "service_unavailable"
	case 500:
		e.code = "internal_error"
	case 408:
		e.code = "request_timeout"
	case 401:
		e.code = "expired_auth_token"
	default:
		e.code = strings.ToLower(strings.ReplaceAll(http.StatusText(code), " ", "_"))
		if e.code == "" {
			e.code = "injected_fault"
		}
	}
	if code == 429 || code == 503 {
		e.retryAfter = retryAfter
	}
	return e
}

// drain reads what is left of a small request body a call ignores (at most
// 1 MiB, each read bounded by IOTimeout). Refusals do not drain: the error
// writers close the connection instead (closeIfBodyLeft).
func drain(r *http.Request) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
	}
}

// inProcessTransport runs requests through the handler without a socket.
type inProcessTransport struct{ s *Server }

func (t inProcessTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	host := req.URL.Host
	if host != inProcessHost {
		base := t.s.URL()
		if host == "" || "http://"+host != base {
			if req.Body != nil {
				req.Body.Close()
			}
			return nil, fmt.Errorf("b2local transport: unknown host %q (serving %s)", host, base)
		}
	}
	sreq := req.Clone(req.Context())
	sreq.Host = host
	sreq.RequestURI = req.URL.RequestURI()
	sreq.RemoteAddr = "127.0.0.1:1"
	sreq.Proto, sreq.ProtoMajor, sreq.ProtoMinor = "HTTP/1.1", 1, 1
	if sreq.Body == nil {
		sreq.Body = http.NoBody
	} else if sreq.ContentLength == 0 && req.Body != http.NoBody {
		sreq.ContentLength = -1
	}
	if sreq.ContentLength >= 0 && sreq.Body != http.NoBody {
		sreq.Header.Set("Content-Length", strconv.FormatInt(sreq.ContentLength, 10))
	}
	rec := &recorder{header: http.Header{}}
	t.s.mux.ServeHTTP(rec, sreq)
	if req.Body != nil {
		req.Body.Close()
	}
	if rec.status == 0 {
		rec.status = 200
	}
	resp := &http.Response{
		Status:        fmt.Sprintf("%d %s", rec.status, http.StatusText(rec.status)),
		StatusCode:    rec.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        rec.header,
		Body:          io.NopCloser(bytes.NewReader(rec.body.Bytes())),
		ContentLength: int64(rec.body.Len()),
		Request:       req,
	}
	if req.Method == http.MethodHead {
		resp.ContentLength = -1
		if cl, err := strconv.ParseInt(rec.header.Get("Content-Length"), 10, 64); err == nil {
			resp.ContentLength = cl
		}
		resp.Body = http.NoBody
	}
	return resp, nil
}

type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}
func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = 200
	}
	return r.body.Write(p)
}
func (r *recorder) Flush() {}
