package b2client

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Deadlines (issue 19): every request this package sends — raw, through
// blazer or through the AWS SDK — goes through deadlineTransport, which
// bounds the wait for the response headers by the kind of call and the
// pause between two reads of the response body. The default transport also
// bounds connecting and the TLS handshake. An exceeded deadline is a
// transport failure (retryable; Ambiguous for non-idempotent calls), and a
// server that has answered nothing for Timeouts.Stall ends every call.

// Timeouts bounds every request. Zero fields take the defaults documented
// in docs/b2client.md.
type Timeouts struct {
	// Dial bounds DNS resolution plus TCP connect (default 15s); TLS bounds
	// the TLS handshake (default 15s). Both apply to the default transport
	// only (Config.Transport brings its own).
	Dial time.Duration
	TLS  time.Duration
	// Response headers, by kind of call: Call for ordinary calls (authorize,
	// bucket and key calls, get_file_info, hide, delete; default 1m), List
	// for listing pages (default 2m), Upload for uploads (default 2m), Copy
	// for server-side copies of up to 5 GB (b2_copy_file, b2_copy_part,
	// CopyObject, UploadPartCopy; default 10m), Finish for calls that
	// assemble or remove many things at once (b2_finish_large_file,
	// CompleteMultipartUpload, DeleteObjects of up to 1,000 versions;
	// default 5m).
	Call, List, Upload, Copy, Finish time.Duration
	// BodyIdle bounds the pause between two reads of a response body
	// (default 1m): a body that stops arriving fails instead of hanging.
	BodyIdle time.Duration
	// Stall: when a request has timed out and the endpoint has answered no
	// request for this long, every call fails instead of retrying (default
	// 3m), so that an apply against a server that stopped answering ends.
	Stall time.Duration
}

func (t Timeouts) withDefaults() Timeouts {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&t.Dial, 15*time.Second)
	def(&t.TLS, 15*time.Second)
	def(&t.Call, time.Minute)
	def(&t.List, 2*time.Minute)
	def(&t.Upload, 2*time.Minute)
	def(&t.Copy, 10*time.Minute)
	def(&t.Finish, 5*time.Minute)
	def(&t.BodyIdle, time.Minute)
	def(&t.Stall, 3*time.Minute)
	return t
}

// callKind is the deadline class of a request.
type callKind int

const (
	kindCall callKind = iota
	kindList
	kindUpload
	kindCopy
	kindFinish
)

func (t *Timeouts) headers(k callKind) time.Duration {
	switch k {
	case kindList:
		return t.List
	case kindUpload:
		return t.Upload
	case kindCopy:
		return t.Copy
	case kindFinish:
		return t.Finish
	}
	return t.Call
}

// kindOf tells the kind of a request from its URL and headers, so that
// blazer's and the AWS SDK's requests are classified like this package's.
func kindOf(req *http.Request) callKind {
	p := req.URL.Path
	if i := strings.Index(p, "/b2api/"); i >= 0 {
		api := p[i+len("/b2api/"):]
		if j := strings.IndexByte(api, '/'); j >= 0 {
			api = api[j+1:] // drop the version
		}
		if j := strings.IndexByte(api, '/'); j >= 0 {
			api = api[:j] // upload URLs: b2_upload_file/<bucket>/<token>
		}
		switch {
		case strings.HasPrefix(api, "b2_list_"):
			return kindList
		case api == "b2_copy_file" || api == "b2_copy_part":
			return kindCopy
		case api == "b2_finish_large_file":
			return kindFinish
		case api == "b2_upload_file" || api == "b2_upload_part":
			return kindUpload
		}
		return kindCall
	}
	// The S3 API, path-style.
	q := req.URL.Query()
	switch {
	case req.Header.Get("X-Amz-Copy-Source") != "":
		return kindCopy
	case req.Method == http.MethodPost && (q.Has("uploadId") || q.Has("delete")):
		return kindFinish
	case req.Method == http.MethodPut:
		return kindUpload
	case req.Method == http.MethodGet && (q.Has("versions") || q.Has("list-type") || q.Has("uploads") || q.Has("uploadId") || strings.Count(strings.Trim(p, "/"), "/") == 0):
		return kindList
	}
	return kindCall
}

// timeoutError is an exceeded deadline. It is a net.Error with Timeout()
// true, so it reads as a transport failure everywhere.
type timeoutError struct {
	msg     string
	stalled bool // the endpoint has answered nothing for Timeouts.Stall
}

func (e *timeoutError) Error() string   { return e.msg }
func (e *timeoutError) Timeout() bool   { return true }
func (e *timeoutError) Temporary() bool { return true }

var _ net.Error = (*timeoutError)(nil)

// health is what a Conn knows about its endpoint's liveness.
type health struct {
	stall time.Duration
	// lastAnswer and lastTimeout are Unix nanoseconds of the last response
	// headers received (any status) and of the last exceeded deadline.
	lastAnswer  atomic.Int64
	lastTimeout atomic.Int64
	// answered holds the hosts that answered at least once: before that,
	// a refused connection or an unknown host is a configuration error.
	answered sync.Map
}

func newHealth(stall time.Duration) *health {
	h := &health{stall: stall}
	h.lastAnswer.Store(time.Now().UnixNano())
	return h
}

func (h *health) answer(host string) {
	h.lastAnswer.Store(time.Now().UnixNano())
	if _, ok := h.answered.Load(host); !ok {
		h.answered.Store(host, true)
	}
}

func (h *health) hasAnswered(host string) bool {
	_, ok := h.answered.Load(host)
	return ok
}

// silentFor returns how long the endpoint has answered nothing while at
// least one request timed out (0 when it answered since the last timeout).
func (h *health) silentFor(now time.Time) time.Duration {
	la, lt := h.lastAnswer.Load(), h.lastTimeout.Load()
	if lt <= la {
		return 0
	}
	return now.Sub(time.Unix(0, la))
}

func (h *health) stalled(now time.Time) bool { return h.silentFor(now) >= h.stall }

func (h *health) stallError() *timeoutError {
	return &timeoutError{stalled: true, msg: fmt.Sprintf("the endpoint has answered no request for %v: giving up", h.silentFor(time.Now()).Round(time.Second))}
}

// deadlineTransport applies Timeouts to every request.
type deadlineTransport struct {
	base http.RoundTripper
	t    *Timeouts
	h    *health
}

func (d *deadlineTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if d.h.stalled(time.Now()) {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, d.h.stallError()
	}
	limit := d.t.headers(kindOf(req))
	ctx, cancel := context.WithCancelCause(req.Context())
	start := time.Now()
	// The header watchdog fires at the deadline, or earlier once the
	// endpoint is known to be stalled (checked every Stall/4).
	var mu sync.Mutex
	var timer *time.Timer
	done := false
	var check func()
	arm := func() {
		next := limit - time.Since(start)
		if q := d.t.Stall / 4; q < next {
			next = q
		}
		timer = time.AfterFunc(next, check)
	}
	check = func() {
		mu.Lock()
		defer mu.Unlock()
		if done {
			return
		}
		switch {
		case time.Since(start) >= limit:
			d.h.lastTimeout.Store(time.Now().UnixNano())
			cancel(&timeoutError{msg: fmt.Sprintf("no response within %v", limit)})
		case d.h.stalled(time.Now()):
			cancel(d.h.stallError())
		default:
			arm()
		}
	}
	mu.Lock()
	arm()
	mu.Unlock()
	resp, err := d.base.RoundTrip(req.WithContext(ctx))
	mu.Lock()
	done = true
	timer.Stop()
	mu.Unlock()
	if cause := context.Cause(ctx); cause != nil && ctx.Err() != nil && req.Context().Err() == nil {
		// Our deadline, not the caller's cancellation.
		if resp != nil {
			resp.Body.Close()
		}
		cancel(nil)
		return nil, cause
	}
	if err != nil {
		cancel(nil)
		return nil, err
	}
	d.h.answer(req.URL.Host)
	resp.Body = &idleBody{rc: resp.Body, ctx: ctx, cancel: cancel, idle: d.t.BodyIdle, h: d.h}
	return resp, nil
}

// idleBody fails a read that waits longer than idle for data.
type idleBody struct {
	rc     io.ReadCloser
	ctx    context.Context
	cancel context.CancelCauseFunc
	idle   time.Duration
	h      *health

	mu    sync.Mutex
	timer *time.Timer
}

func (b *idleBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	if b.timer == nil {
		b.timer = time.AfterFunc(b.idle, func() {
			b.h.lastTimeout.Store(time.Now().UnixNano())
			b.cancel(&timeoutError{msg: fmt.Sprintf("the response body stopped arriving (nothing for %v)", b.idle)})
		})
	} else {
		b.timer.Reset(b.idle)
	}
	b.mu.Unlock()
	n, err := b.rc.Read(p)
	b.mu.Lock()
	b.timer.Stop()
	b.mu.Unlock()
	if err != nil && err != io.EOF && b.ctx.Err() != nil {
		if cause := context.Cause(b.ctx); cause != nil {
			if _, ok := cause.(*timeoutError); ok {
				err = cause
			}
		}
	}
	return n, err
}

func (b *idleBody) Close() error {
	err := b.rc.Close()
	b.mu.Lock()
	if b.timer != nil {
		b.timer.Stop()
	}
	b.mu.Unlock()
	b.cancel(nil)
	return err
}
