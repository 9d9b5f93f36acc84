package emulator

import (
	"net"
	"net/http"
	"testing"
)

// The limiter sheds the connection idle (or waiting for its first request)
// longest, never one with a request in flight.
func TestConnLimiterShedsOldestIdle(t *testing.T) {
	l := newConnLimiter(nil, 3, 0)
	mk := func() *trackedConn {
		a, b := net.Pipe()
		t.Cleanup(func() { a.Close(); b.Close() })
		c := &trackedConn{Conn: a, l: l}
		l.open[c] = struct{}{}
		return c
	}
	c1, c2, c3 := mk(), mk(), mk()
	l.connState(c1, http.StateNew)
	l.connState(c2, http.StateNew)
	l.connState(c3, http.StateNew)
	l.connState(c1, http.StateActive)
	l.connState(c2, http.StateActive)
	l.connState(c2, http.StateIdle)
	l.connState(c3, http.StateActive)
	l.connState(c3, http.StateIdle)
	l.mu.Lock()
	v := l.oldestIdleLocked()
	l.mu.Unlock()
	if v != c2 {
		t.Fatalf("shed %p, want the longest idle %p (active %p)", v, c2, c1)
	}
	l.connState(c2, http.StateActive)
	l.connState(c3, http.StateActive)
	l.mu.Lock()
	v = l.oldestIdleLocked()
	l.mu.Unlock()
	if v != nil {
		t.Fatalf("shed %p while every connection is active", v)
	}
	c4 := mk()
	l.connState(c4, http.StateNew)
	l.mu.Lock()
	v = l.oldestIdleLocked()
	l.mu.Unlock()
	if v != c4 {
		t.Fatalf("a connection still waiting for its first request is sheddable")
	}
}
