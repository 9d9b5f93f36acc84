package emulator

import (
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// Connection hygiene for Start: every wait on a client is bounded, and the
// number of open connections is capped so idle clients cannot exhaust the
// process's descriptors.
//
//   - A connection's first request header must arrive within IOTimeout.
//   - A keep-alive connection with no request in flight is closed after
//     IdleTimeout.
//   - Request bodies and responses have no whole-request deadline (a 5 GB
//     upload may take an hour); instead each read of the body and each write
//     of the response may wait at most IOTimeout for the client.
//   - At MaxConns open connections, a new one replaces the connection that
//     has been idle (or waiting for its first request) longest; when every
//     connection is busy, new ones wait in the kernel's backlog.

// Defaults for the Options of the same names.
const (
	DefaultIdleTimeout = 2 * time.Minute
	DefaultIOTimeout   = time.Minute
)

// connLimiter is a listener that caps and tracks open connections.
type connLimiter struct {
	net.Listener
	max       int
	ioTimeout time.Duration

	mu     sync.Mutex
	cond   *sync.Cond
	open   map[*trackedConn]struct{}
	closed bool
}

func newConnLimiter(ln net.Listener, max int, ioTimeout time.Duration) *connLimiter {
	l := &connLimiter{Listener: ln, max: max, ioTimeout: ioTimeout, open: map[*trackedConn]struct{}{}}
	l.cond = sync.NewCond(&l.mu)
	return l
}

// Accept accepts a connection, then makes room for it: it sheds the
// longest-idle connection, or waits for one to close (holding just this one
// extra descriptor).
func (l *connLimiter) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	for len(l.open) >= l.max && !l.closed {
		if v := l.oldestIdleLocked(); v != nil {
			delete(l.open, v)
			l.mu.Unlock()
			v.shed()
			l.mu.Lock()
			continue
		}
		l.cond.Wait()
	}
	if l.closed {
		l.mu.Unlock()
		c.Close()
		return nil, net.ErrClosed
	}
	tc := &trackedConn{Conn: c, l: l, state: http.StateNew, since: time.Now()}
	l.open[tc] = struct{}{}
	l.mu.Unlock()
	return tc, nil
}

func (l *connLimiter) Close() error {
	l.mu.Lock()
	l.closed = true
	l.cond.Broadcast()
	l.mu.Unlock()
	return l.Listener.Close()
}

// oldestIdleLocked is the connection without a request in flight that has
// been so longest (l.mu held).
func (l *connLimiter) oldestIdleLocked() *trackedConn {
	var v *trackedConn
	for c := range l.open {
		if (c.state == http.StateIdle || c.state == http.StateNew) && (v == nil || c.since.Before(v.since)) {
			v = c
		}
	}
	return v
}

// connState is the http.Server's ConnState hook.
func (l *connLimiter) connState(c net.Conn, s http.ConnState) {
	tc, ok := c.(*trackedConn)
	if !ok {
		return
	}
	l.mu.Lock()
	tc.state, tc.since = s, time.Now()
	if s == http.StateIdle {
		l.cond.Broadcast() // a waiting Accept may shed it
	}
	l.mu.Unlock()
}

func (l *connLimiter) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.open)
}

// trackedConn bounds each response write by the listener's IOTimeout.
type trackedConn struct {
	net.Conn
	l     *connLimiter
	state http.ConnState // guarded by l.mu
	since time.Time      // guarded by l.mu
	once  sync.Once
}

// writeChunk is the most written under one deadline: a slow but moving
// client is never cut off, one that stops reading is.
const writeChunk = 256 << 10

func (c *trackedConn) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		k := min(len(p), writeChunk)
		_ = c.Conn.SetWriteDeadline(time.Now().Add(c.l.ioTimeout))
		m, err := c.Conn.Write(p[:k])
		n += m
		if err != nil {
			return n, err
		}
		p = p[k:]
	}
	return n, nil
}

// CloseWrite lets the server half-close after a final answer, so the client
// reads it before the connection goes.
func (c *trackedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.open, c)
		c.l.cond.Broadcast()
		c.l.mu.Unlock()
	})
	return err
}

// shed closes a connection the limiter already stopped counting.
func (c *trackedConn) shed() {
	c.once.Do(func() {})
	_ = c.Conn.Close()
}

// reqBody wraps a request body: each read waits at most ioTimeout for the
// client (where the connection supports deadlines), and it records whether
// the body was read to its end.
type reqBody struct {
	rc      io.ReadCloser
	ctl     *http.ResponseController
	timeout time.Duration
	armed   bool
	eof     bool
}

func (b *reqBody) Read(p []byte) (int, error) {
	if b.eof {
		return 0, io.EOF
	}
	if b.timeout > 0 && b.ctl != nil {
		if err := b.ctl.SetReadDeadline(time.Now().Add(b.timeout)); err == nil {
			b.armed = true
		} else {
			b.ctl = nil // in-process: no connection, no deadline
		}
	}
	n, err := b.rc.Read(p)
	if err == io.EOF {
		b.eof = true
		b.disarm()
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		err = errBodyStalled
	}
	return n, err
}

// errBodyStalled is the body read error after IOTimeout without bytes.
var errBodyStalled = errors.New("no request body bytes arrived within the server's I/O timeout")

// disarm clears the read deadline so the server's own background read
// (which watches for the client going away) is not cut short.
func (b *reqBody) disarm() {
	if b.armed && b.ctl != nil {
		_ = b.ctl.SetReadDeadline(time.Time{})
	}
	b.armed = false
}

func (b *reqBody) Close() error { return b.rc.Close() }

// smallBodyLeft is the most unread body a refusal leaves for the server to
// discard (it arrives with the headers in practice, and the wait is bounded
// by IOTimeout); more, or an unknown amount, closes the connection.
const smallBodyLeft = 8 << 10

// bodyLeft reports whether the request still has more than a small unread
// body.
func bodyLeft(r *http.Request) bool {
	if r == nil || r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return false
	}
	if b, ok := r.Body.(*reqBody); ok && b.eof {
		return false
	}
	return r.ContentLength < 0 || r.ContentLength > smallBodyLeft
}

// closeIfBodyLeft marks a refusal answered before its body was read: the
// connection closes after the answer instead of the server reading (and
// waiting for) the rest of the body.
func closeIfBodyLeft(w http.ResponseWriter, r *http.Request) {
	if bodyLeft(r) {
		w.Header().Set("Connection", "close")
	}
}

// withBodyTimeout returns r with its body wrapped in a reqBody, and a
// function to call once the handler is done.
func (s *Server) withBodyTimeout(w http.ResponseWriter, r *http.Request) (*http.Request, func()) {
	if r.Body == nil || r.Body == http.NoBody {
		return r, func() {}
	}
	b := &reqBody{rc: r.Body, ctl: http.NewResponseController(w), timeout: s.opts.IOTimeout}
	r2 := r.WithContext(r.Context()) // shallow copy: the server keeps its own view of the body
	r2.Body = b
	return r2, func() {
		if b.eof || b.ctl == nil {
			return
		}
		// The server may read the rest of a small body after the handler;
		// bound that wait too.
		_ = b.ctl.SetReadDeadline(time.Now().Add(s.opts.IOTimeout))
	}
}
