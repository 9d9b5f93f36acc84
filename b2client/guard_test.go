package b2client

import (
	"strings"
	"testing"

	"golang.org/x/sync/errgroup"
)

// A panic in one of the package's goroutines comes back as an error from
// the group's Wait instead of crashing the process.
func TestGuardTurnsPanicIntoError(t *testing.T) {
	var g errgroup.Group
	g.Go(guard(func() error { return nil }))
	g.Go(guard(func() error {
		var m map[string]int
		m["x"] = 1 // assignment to a nil map panics
		return nil
	}))
	err := g.Wait()
	if err == nil || !strings.Contains(err.Error(), "internal error") || !strings.Contains(err.Error(), "nil map") {
		t.Fatalf("Wait() = %v, want an internal error naming the panic", err)
	}
}
