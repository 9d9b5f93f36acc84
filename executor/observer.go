package executor

import (
	"time"

	"github.com/b2plan/b2plan/planner"
)

// EventKind says what happened.
type EventKind uint8

const (
	// ResourceStart: a bucket, key or folder change begins.
	ResourceStart EventKind = iota + 1
	// ResourceDone: a bucket, key or folder change succeeded.
	ResourceDone
	// ResourceFailed: a bucket, key or folder change failed (Err).
	ResourceFailed
	// MoveStart: a move begins (Objects, Bytes are its planned totals).
	MoveStart
	// ObjectDone: one source name was moved (Bytes copied for it).
	ObjectDone
	// ObjectSkipped: one source name was left alone because it changed
	// since the plan (Message says how).
	ObjectSkipped
	// ObjectFailed: one source name failed (Err); the rest continue.
	ObjectFailed
	// MoveDone: a move finished (Objects, Bytes are what was moved;
	// Message is "interrupted" when scheduling stopped early).
	MoveDone
	// Note: informational (Message), e.g. a duplicate copy cleaned up.
	Note
)

func (k EventKind) String() string {
	switch k {
	case ResourceStart:
		return "resource_start"
	case ResourceDone:
		return "resource_done"
	case ResourceFailed:
		return "resource_failed"
	case MoveStart:
		return "move_start"
	case ObjectDone:
		return "object_done"
	case ObjectSkipped:
		return "object_skipped"
	case ObjectFailed:
		return "object_failed"
	case MoveDone:
		return "move_done"
	case Note:
		return "note"
	}
	return "unknown"
}

// Event is one progress report.
type Event struct {
	Kind    EventKind
	Time    time.Time
	Address string
	Action  planner.Action // resource events: the change's action (a key
	// replacement reports Replace for both halves)
	// Phase names the half of a replacement ("create", "delete") or "" .
	Phase string
	// Object is the source name of an object event; Dest its destination.
	Object string
	Dest   string
	// Objects and Bytes: planned totals on MoveStart, the object's bytes on
	// ObjectDone, what was moved on MoveDone.
	Objects int64
	Bytes   int64
	Message string
	Err     error
}

// Observer receives progress. Events are delivered one at a time (the
// executor serialises the calls), in the order they happen; Event must
// return quickly because workers wait for it.
type Observer interface {
	Event(e Event)
}

// ObserverFunc is a function that is an Observer.
type ObserverFunc func(Event)

// Event calls f.
func (f ObserverFunc) Event(e Event) { f(e) }

type nopObserver struct{}

func (nopObserver) Event(Event) {}
