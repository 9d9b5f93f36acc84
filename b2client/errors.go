package b2client

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"time"
)

// Class is the category of a failure, decided at this boundary so that
// callers never parse B2 codes or messages. A Class is itself an error, so
// errors.Is(err, b2client.NotFound) works on any wrapped *Error.
type Class int

const (
	// Permanent: retrying will not help (bad request, cap exceeded, ...).
	Permanent Class = iota
	// NotFound: the bucket, file version or key does not exist.
	NotFound
	// Conflict: the state changed under us or already is what was asked
	// (409 conflict from ifRevisionIs, duplicate_bucket_name, already_hidden,
	// cannot_delete_non_empty_bucket).
	Conflict
	// Retryable: a transient failure (500, 503, 408, dropped connection) that
	// persisted through every retry.
	Retryable
	// RateLimited: 429 persisted through every retry.
	RateLimited
	// Unauthorized: wrong credentials, or the key lacks a capability or a
	// bucket/prefix restriction forbids the call.
	Unauthorized
	// Locked: Object Lock retention or legal hold refused the change.
	Locked
	// Ambiguous: a non-idempotent call (b2_create_key, b2_copy_file,
	// b2_finish_large_file) failed after the request may have reached B2
	// (no reply, a timeout, or a 5xx/408, which B2 may send after the
	// change was committed). It
	// may or may not have taken effect; the caller must look before retrying
	// (list keys by name, list the destination, get file info).
	Ambiguous
)

var classNames = [...]string{"permanent", "not found", "conflict", "retryable", "rate limited", "unauthorized", "locked", "ambiguous"}

func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return fmt.Sprintf("class(%d)", int(c))
}

// Error makes a Class usable as an errors.Is target.
func (c Class) Error() string { return "b2: " + c.String() }

// Error is a classified failure of one B2 operation.
type Error struct {
	Op      string // what failed, e.g. `copy_file incoming/a.txt → archive/a.txt`
	Status  int    // HTTP status; 0 for transport failures
	Code    string // B2's error code, e.g. "duplicate_bucket_name"
	Message string // B2's message, or a description of the transport failure
	Class   Class
	// Attempts is how many requests were sent.
	Attempts int
	// RetryAfter is the server's last Retry-After, if any.
	RetryAfter time.Duration
	// Err is the underlying transport error, if any.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	if e.Status != 0 {
		fmt.Fprintf(&b, "%d ", e.Status)
	}
	if e.Code != "" {
		b.WriteString(e.Code)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	switch e.Class {
	case Ambiguous:
		b.WriteString(" (outcome unknown: the request may have been carried out; check before retrying)")
	case Retryable, RateLimited:
		if e.Attempts > 1 {
			fmt.Fprintf(&b, " (gave up after %d attempts)", e.Attempts)
		}
	}
	return b.String()
}

// Unwrap exposes the transport error.
func (e *Error) Unwrap() error { return e.Err }

// Is matches a Class target.
func (e *Error) Is(target error) bool {
	if c, ok := target.(Class); ok {
		return e.Class == c
	}
	return false
}

// ClassOf returns the Class of err, and false when err carries none (nil,
// context cancellation, a programming error).
func ClassOf(err error) (Class, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e.Class, true
	}
	return Permanent, false
}

// IsRetryable reports whether a later attempt might succeed.
func IsRetryable(err error) bool {
	c, ok := ClassOf(err)
	return ok && (c == Retryable || c == RateLimited)
}

// classify maps an HTTP status and B2 code to a Class.
func classify(status int, code, msg string) Class {
	lc := strings.ToLower(code)
	switch {
	case strings.HasPrefix(lc, "file_lock") || strings.Contains(lc, "retention") || strings.Contains(lc, "legal_hold") || lc == "locked":
		return Locked
	}
	switch status {
	case 400:
		switch lc {
		case "file_not_present", "no_such_file", "bad_bucket_id", "not_found", "no_such_bucket", "no_such_key":
			return NotFound
		case "duplicate_bucket_name", "already_hidden", "cannot_delete_non_empty_bucket":
			return Conflict
		}
		return Permanent
	case 401:
		return Unauthorized
	case 403:
		lm := strings.ToLower(msg)
		if lc == "access_denied" && (strings.Contains(lm, "retention") || strings.Contains(lm, "legal hold") || strings.Contains(lm, "lock")) {
			return Locked
		}
		return Permanent
	case 404:
		return NotFound
	case 408, 500, 502, 503, 504:
		return Retryable
	case 409:
		return Conflict
	case 429:
		return RateLimited
	}
	if status >= 500 {
		return Retryable
	}
	return Permanent
}

// withOp returns err with Op set (for *Error) or wrapped with op.
func withOp(op string, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		c := *e
		c.Op = op
		return &c
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", op, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// guard runs f, turning a panic into an error so that a bug in a
// goroutine of this package ends the command with a clear internal error
// (exit status 1) instead of crashing the process (status 2, which
// -detailed-exitcode reads as "changes present").
func guard(f func() error) func() error {
	return func() (err error) {
		defer func() {
			if v := recover(); v != nil {
				err = fmt.Errorf("internal error: b2plan crashed (panic: %v)\n%s", v, debug.Stack())
			}
		}()
		return f()
	}
}
