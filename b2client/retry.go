package b2client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// RetryPolicy is the one retry policy shared by every call this package
// makes, raw or through blazer. It mirrors blazer's: 429, 503, 500 (and
// 408, 502, 504) and connection failures are retried with exponential
// backoff and jitter, honouring Retry-After; a 401 expired_auth_token or
// bad_auth_token re-authorises (each time the token expires, not when a
// fresh token is refused at once); attempts are bounded; waiting stops when
// ctx is done. Failures that cannot succeed later (a wrong host, a bad
// certificate, 400s, rejected credentials) are not retried.
type RetryPolicy struct {
	// MaxAttempts bounds the requests per call (default 8).
	MaxAttempts int
	// BaseDelay is the first backoff (default 1s, as B2 recommends); it
	// doubles per attempt up to MaxDelay (default 32s). The wait is drawn
	// uniformly from [d/2, d).
	BaseDelay time.Duration
	MaxDelay  time.Duration
	// MaxRetryAfter caps a server's Retry-After (default 5m).
	MaxRetryAfter time.Duration
	// Sleep waits d or until ctx is done (default: a timer). Tests replace
	// it to observe the waits without spending them.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock for token ages (default time.Now; tests move it
	// together with Sleep).
	Now func() time.Time
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 8
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = time.Second
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = 32 * time.Second
	}
	if p.MaxDelay < p.BaseDelay {
		p.MaxDelay = p.BaseDelay
	}
	if p.MaxRetryAfter <= 0 {
		p.MaxRetryAfter = 5 * time.Minute
	}
	if p.Sleep == nil {
		p.Sleep = sleepCtx
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	return p
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// delay is the wait before attempt n+1 after attempt n failed.
func (p RetryPolicy) delay(n int, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		if retryAfter > p.MaxRetryAfter {
			retryAfter = p.MaxRetryAfter
		}
		// A little jitter on top, so that many waiting callers do not come
		// back in the same instant.
		return retryAfter + rand.N(p.BaseDelay/4+1)
	}
	d := p.BaseDelay
	for i := 1; i < n && d < p.MaxDelay; i++ {
		d *= 2
	}
	if d > p.MaxDelay {
		d = p.MaxDelay
	}
	return d/2 + rand.N(d/2+1)
}

// attemptResult is the outcome of one request.
type attemptResult struct {
	status     int // 0 with err != nil: transport failure
	code, msg  string
	retryAfter time.Duration
	err        error // transport failure
	// sent is false only when the request provably did not reach the server
	// (it was never completely written).
	sent bool
	// s3 says code is an S3 error code (classified by classifyS3).
	s3 bool
	// final ends the call with this error (a step of the attempt already
	// ran its own retries).
	final error
	// api names the native call ("b2_copy_file"; "" when unknown): the
	// adaptive window compares latencies per call.
	api string
}

func (r attemptResult) ok() bool { return r.err == nil && r.final == nil && r.status == 200 }

// retry runs attempt under the policy. nonIdempotent marks calls whose
// transport failure after the request was sent cannot be retried blindly:
// they fail with class Ambiguous instead. reauth, when non-nil, is called
// on 401 expired_auth_token / bad_auth_token (the default re-authorises the
// connection).
func (c *Conn) retry(ctx context.Context, op string, nonIdempotent bool, reauth func(ctx context.Context, stale *authInfo) error, attempt func(context.Context) attemptResult) (int, error) {
	// Authorisation is not subject to the account's concurrency window
	// (it runs inside calls that hold a slot, and B2 limits it apart).
	return c.retryLoop(ctx, func() string { return op }, nonIdempotent, reauth, attempt, op != authorizeOp)
}

// slotKey marks the context of an attempt that holds a slot of the
// account's window.
type slotKey struct{}

// authorizeOp is the operation name of b2_authorize_account.
const authorizeOp = "authorize account"

// retryOp is retry with the operation's description computed only when a
// message needs it (per-object calls build it from several names).
func (c *Conn) retryOp(ctx context.Context, opf func() string, nonIdempotent bool, reauth func(ctx context.Context, stale *authInfo) error, attempt func(context.Context) attemptResult) (int, error) {
	return c.retryLoop(ctx, opf, nonIdempotent, reauth, attempt, true)
}

// retryLoop is retryOp; gated attempts each take a slot of the account's
// concurrency window (adaptive.go).
func (c *Conn) retryLoop(ctx context.Context, opf func() string, nonIdempotent bool, reauth func(ctx context.Context, stale *authInfo) error, attempt func(context.Context) attemptResult, gated bool) (int, error) {
	op := ""
	opText := func() string {
		if op == "" {
			op = opf()
		}
		return op
	}
	reauths, freshRefused := 0, 0
	p := c.policy
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return n - 1, fmt.Errorf("%s: %w", opText(), err)
		}
		stale := c.current()
		if reauth == nil && stale != nil && c.tokenOld(stale.issued) && opText() != authorizeOp {
			// The token is about to expire (B2's lifetime, as observed):
			// renew it now rather than spend an attempt on a refusal. A
			// failure here is left to the attempt.
			if c.reauth(ctx, stale) == nil {
				stale = c.current()
			}
		}
		var r attemptResult
		if ad := c.adaptive; ad != nil && gated && ctx.Value(slotKey{}) == nil {
			if err := ad.acquire(ctx); err != nil {
				return n - 1, fmt.Errorf("%s: %w", opText(), err)
			}
			t0 := time.Now()
			// Calls the attempt makes itself (an upload looking up its
			// bucket) use its slot: waiting for another could deadlock.
			r = attempt(context.WithValue(ctx, slotKey{}, true))
			ad.release(&r, time.Since(t0))
		} else {
			r = attempt(ctx)
		}
		if r.ok() {
			return n, nil
		}
		if r.final != nil {
			return n, r.final
		}
		if r.status != 401 {
			freshRefused = 0
		}
		if err := ctx.Err(); err != nil {
			return n, fmt.Errorf("%s: %w", opText(), err)
		}
		var e *Error
		if r.err != nil {
			cls, msg, again := c.transportFailure(r.err)
			e = &Error{Op: opText(), Class: cls, Message: msg, Err: r.err, Attempts: n}
			if nonIdempotent && r.sent && cls == Retryable {
				e.Class = Ambiguous
				return n, e
			}
			if !again {
				return n, e
			}
		} else {
			cls := classify(r.status, r.code, r.msg)
			if r.s3 {
				cls = classifyS3(r.status, r.code, r.msg)
			}
			e = &Error{Op: opText(), Status: r.status, Code: r.code, Message: r.msg, Class: cls, Attempts: n, RetryAfter: r.retryAfter}
			if nonIdempotent && (cls == Retryable || cls == RateLimited) && (r.status >= 500 || r.status == 408) {
				// A server error may come after the change was committed
				// (B2 answers 500/503 after a copy it made; over S3 a 503
				// is SlowDown): repeating it blindly could make it twice.
				// The caller looks first. (A 429 is refused before work.)
				e.Class = Ambiguous
				return n, e
			}
		}
		// Re-authorise every time the token expires (a token can expire
		// more than once during one call's retries), but give up when
		// tokens fresh from a re-authorisation are refused at once three
		// times in a row: that would repeat forever.
		if r.status == 401 && (r.code == "expired_auth_token" || r.code == "bad_auth_token") && freshRefused < 3 && reauths < p.MaxAttempts && opText() != authorizeOp {
			reauths++
			freshRefused++
			if reauth == nil && stale != nil {
				c.noteExpiry(stale.issued)
			}
			var err error
			if reauth != nil {
				err = reauth(ctx, stale)
			} else if stale != nil {
				err = c.reauth(ctx, stale)
			} else {
				err = e
			}
			if err != nil {
				return n, fmt.Errorf("%s: re-authorise after %s: %w", opText(), r.code, err)
			}
			continue
		}
		// Re-authorisations do not use up attempts.
		if tries := n - reauths; (e.Class == Retryable || e.Class == RateLimited) && tries < p.MaxAttempts {
			wait := p.delay(tries, r.retryAfter)
			reportRetry(ctx, func() RetryInfo {
				return RetryInfo{Op: opText(), Attempt: n, Class: e.Class, Status: r.status, Wait: wait}
			})
			if err := p.Sleep(ctx, wait); err != nil {
				return n, fmt.Errorf("%s: %w (while retrying after: %v)", opText(), err, e)
			}
			continue
		}
		return n, e
	}
}

// noteExpiry records that a token issued at issued has expired: tokens
// are then renewed before they reach 80% of the shortest lifetime seen.
// A token refused within a second of its issue was revoked (or a test mode
// expired it), which says nothing about lifetimes.
func (c *Conn) noteExpiry(issued time.Time) {
	life := int64(c.policy.Now().Sub(issued))
	if life < int64(time.Second) {
		return
	}
	for {
		cur := c.tokenLife.Load()
		if cur != 0 && cur <= life || c.tokenLife.CompareAndSwap(cur, life) {
			return
		}
	}
}

// tokenOld reports whether a token issued at issued is near the end of
// the observed lifetime (never before a token has expired once).
func (c *Conn) tokenOld(issued time.Time) bool {
	life := c.tokenLife.Load()
	return life > 0 && c.policy.Now().Sub(issued) >= time.Duration(life)*8/10
}

func transportMessage(err error) string {
	// Transport errors quote the request URL, which never holds
	// credentials (they travel in headers only).
	return "connection failed: " + err.Error()
}

// transportFailure decides what a transport failure means. Failures that
// cannot succeed later are Permanent and not retried, with a message that
// says what to fix: an unknown host or a refused connection before the host
// ever answered (a wrong endpoint), an untrusted or invalid TLS certificate,
// plain HTTP where HTTPS was expected. An endpoint that has answered
// nothing for Timeouts.Stall ends the call (Retryable, not retried).
// Everything else (timeouts, resets, DNS hiccups after the host answered)
// is Retryable.
func (c *Conn) transportFailure(err error) (cls Class, msg string, retry bool) {
	host := failedHost(err)
	first := host == "" || c.health == nil || !c.health.hasAnswered(host)
	shown := host
	if shown == "" {
		shown = "the endpoint"
	}
	var te *timeoutError
	var dns *net.DNSError
	var unknownCA x509.UnknownAuthorityError
	var badHost x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	var record tls.RecordHeaderError
	es := err.Error()
	switch {
	case errors.As(err, &te) && te.stalled, c.health != nil && c.health.stalled(time.Now()):
		return Retryable, fmt.Sprintf("%s has answered no request for %v: giving up: check the network and B2's status, then run again (nothing was lost: what was done is done, the rest is still to do)",
			shown, c.health.silentFor(time.Now()).Round(time.Second)), false
	case errors.As(err, &te):
		return Retryable, fmt.Sprintf("timed out: %s", te.msg), true
	case errors.As(err, &dns) && dns.IsNotFound && first:
		return Permanent, fmt.Sprintf("cannot resolve host %s (%s): check the endpoint (provider block endpoint or B2_ENDPOINT)", dnsName(dns, host), dns.Err), false
	case errors.As(err, &verify) || errors.As(err, &unknownCA) || errors.As(err, &badHost) || errors.As(err, &invalid) ||
		strings.Contains(es, "x509: ") || strings.Contains(es, "tls: failed to verify certificate"):
		return Permanent, fmt.Sprintf("the TLS certificate of %s is not valid for it (%s): check the endpoint's host name; a private certificate authority must be trusted by the system (SSL_CERT_FILE)", shown, innermost(err)), false
	case errors.As(err, &record) || strings.Contains(es, "server gave HTTP response to HTTPS client") || strings.Contains(es, "first record does not look like a TLS handshake"):
		return Permanent, fmt.Sprintf("%s does not speak TLS (%s): use an http:// (or s3+http://) endpoint for a plain-HTTP server, or check the port", shown, innermost(err)), false
	case first && (errors.Is(err, syscall.ECONNREFUSED) || strings.Contains(es, "connection refused")):
		return Permanent, fmt.Sprintf("%s refused the connection (nothing listens there): check the endpoint's host and port", shown), false
	case first && (dns != nil && dns.IsNotFound || strings.Contains(es, "no such host")):
		return Permanent, fmt.Sprintf("cannot resolve host %s: check the endpoint (provider block endpoint or B2_ENDPOINT)", shown), false
	}
	return Retryable, transportMessage(err), true
}

// failedHost is the host:port of the request a transport error is about.
func failedHost(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			return u.Host
		}
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Addr != nil {
		return oe.Addr.String()
	}
	return ""
}

func dnsName(e *net.DNSError, host string) string {
	if e.Name != "" {
		return e.Name
	}
	return host
}

// innermost is the message of the deepest wrapped error (without the
// request URL and operation that wrap it).
func innermost(err error) string {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err.Error()
		}
		err = u
	}
}

// doJSON performs one JSON request: POST (or GET for authorize) with the
// given Authorization header. resp receives the decoded 200 body.
//
// track asks whether the request was completely written (attemptResult.sent,
// which only matters for non-idempotent calls); without it a failure counts
// as sent.
func (c *Conn) doJSON(ctx context.Context, method, url, authz string, body []byte, resp any, track bool) attemptResult {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	var wrote *bool
	if track {
		wrote = new(bool)
		trace := &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
			if i.Err == nil {
				*wrote = true
			}
		}}
		ctx = httptrace.WithClientTrace(ctx, trace)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return attemptResult{err: err}
	}
	// Canonical header names, set directly.
	if body != nil {
		req.Header["Content-Type"] = jsonContentType
	}
	req.Header["Authorization"] = []string{authz}
	if c.uaHeader != nil {
		req.Header["User-Agent"] = c.uaHeader
	} else {
		req.Header["User-Agent"] = []string{c.ua}
	}
	hresp, err := c.client.Do(req)
	r := c.finish(hresp, err, wrote, resp)
	r.api = apiName(url)
	return r
}

// apiName is the last path element of url, without the query
// ("b2_copy_file").
func apiName(url string) string {
	if i := strings.IndexByte(url, '?'); i >= 0 {
		url = url[:i]
	}
	return url[strings.LastIndexByte(url, '/')+1:]
}

// jsonContentType is the Content-Type header of every JSON request (never
// modified by net/http).
var jsonContentType = []string{"application/json"}

// finish reads a response into an attemptResult. wrote reports whether the
// request was known to be completely written (nil: unknown).
func (c *Conn) finish(hresp *http.Response, err error, wrote *bool, resp any) attemptResult {
	sent := true
	if wrote != nil && !*wrote && isPreSendError(err) {
		sent = false
	}
	if err != nil {
		return attemptResult{err: err, sent: sent}
	}
	defer hresp.Body.Close()
	if hresp.StatusCode == 200 {
		if resp == nil {
			_, err := io.Copy(io.Discard, hresp.Body)
			if err != nil {
				return attemptResult{err: err, sent: true}
			}
			return attemptResult{status: 200}
		}
		var err error
		switch rd := resp.(type) {
		case readerDecoder:
			err = rd.decodeFrom(hresp.Body)
		case bytesDecoder:
			bp := getBuf()
			var data []byte
			if data, err = readAllInto((*bp)[:0], hresp.Body); err == nil {
				err = rd.decodeBytes(data)
			}
			*bp = data
			putBuf(bp)
		default:
			err = json.NewDecoder(hresp.Body).Decode(resp)
		}
		if err != nil {
			var se *json.SyntaxError
			var te *json.UnmarshalTypeError
			if errors.As(err, &se) || errors.As(err, &te) {
				return attemptResult{status: 500, code: "bad_response", msg: "could not decode the response: " + err.Error()}
			}
			return attemptResult{err: err, sent: true}
		}
		return attemptResult{status: 200}
	}
	r := attemptResult{status: hresp.StatusCode, sent: true}
	data, _ := io.ReadAll(io.LimitReader(hresp.Body, 64<<10))
	var env struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	if json.Unmarshal(data, &env) == nil {
		r.code, r.msg = env.Code, env.Message
	}
	if r.msg == "" {
		r.msg = http.StatusText(hresp.StatusCode)
	}
	if ra := hresp.Header.Get("Retry-After"); ra != "" {
		if s, err := strconv.Atoi(ra); err == nil && s > 0 {
			r.retryAfter = time.Duration(s) * time.Second
		}
	}
	return r
}

// readerDecoder is a response that decodes itself as it reads, so a large
// page is never held in memory whole.
type readerDecoder interface {
	decodeFrom(r io.Reader) error
}

// bytesDecoder is a (small) response that decodes itself from the whole
// body, read into a pooled buffer.
type bytesDecoder interface {
	decodeBytes(data []byte) error
}

// isPreSendError reports errors that happen before a request can have
// reached a server. Without that evidence a failure counts as "sent".
func isPreSendError(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	for _, s := range []string{"dial tcp", "no such host", "connection refused", "proxyconnect", "tls: "} {
		if bytesContains(msg, s) {
			return true
		}
	}
	return false
}

func bytesContains(s, sub string) bool { return bytes.Contains([]byte(s), []byte(sub)) }

// call makes one JSON API call under /b2api/v4 with the connection's token.
func (c *Conn) call(ctx context.Context, op, api string, req, resp any, nonIdempotent bool) (int, error) {
	return c.callPath(ctx, op, "/b2api/v4/"+api, req, resp, nonIdempotent)
}

// callPath makes one JSON API call to apiUrl+path.
func (c *Conn) callPath(ctx context.Context, op, path string, req, resp any, nonIdempotent bool) (int, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	return c.retry(ctx, op, nonIdempotent, nil, func(ctx context.Context) attemptResult {
		a := c.current()
		return c.doJSON(ctx, "POST", a.apiURL+path, a.token, body, resp, nonIdempotent)
	})
}

// callLazy is call with the operation's description built only when a
// message needs it.
func (c *Conn) callLazy(ctx context.Context, op func() string, api string, req, resp any, nonIdempotent bool) (int, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", op(), err)
	}
	path := "/b2api/v4/" + api
	return c.retryOp(ctx, op, nonIdempotent, nil, func(ctx context.Context) attemptResult {
		a := c.current()
		return c.doJSON(ctx, "POST", a.apiURL+path, a.token, body, resp, nonIdempotent)
	})
}
