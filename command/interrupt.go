package command

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"sync"
	"time"

	"github.com/b2plan/b2plan/executor"
)

// graceEnv overrides the grace period of operations in flight after the
// first interrupt (a Go duration; docs/commands.md).
const graceEnv = "B2PLAN_INTERRUPT_GRACE"

// Stages of an apply, for the interrupt handler.
const (
	stagePrepare = iota // reading the configuration and the account, planning
	stagePrompt         // waiting for "yes"
	stageApply          // changing things
)

// interrupts handles SIGINT during apply:
//   - before anything is changed (reading, planning, the prompt), the
//     first interrupt cancels ctx: calls stop at once and apply exits 130
//     saying that nothing was changed;
//   - while applying, the first interrupt stops new work and gives the
//     operations in flight the grace period, the second cancels them at
//     once (Abort), the third exits the process at once.
type interrupts struct {
	m      *Meta
	cancel context.CancelFunc
	grace  time.Duration
	abort  chan struct{}
	ch     chan os.Signal
	done   chan struct{}

	mu    sync.Mutex
	stage int
	n     int // interrupts received in stageApply
}

func (m *Meta) handleInterrupts(cancel context.CancelFunc) (*interrupts, error) {
	in := &interrupts{m: m, cancel: cancel, grace: executor.DefaultGrace, abort: make(chan struct{}),
		ch: make(chan os.Signal, 4), done: make(chan struct{})}
	if v := m.Getenv(graceEnv); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("%s=%q: want a duration such as \"10s\" or \"0s\"", graceEnv, v)
		}
		in.grace = d
		if d == 0 {
			in.grace = -1 // executor: cancel at once
		}
	}
	signal.Notify(in.ch, os.Interrupt)
	go in.loop()
	return in, nil
}

func (in *interrupts) setStage(s int) {
	in.mu.Lock()
	in.stage = s
	in.mu.Unlock()
}

func (in *interrupts) stop() {
	signal.Stop(in.ch)
	close(in.done)
}

func (in *interrupts) loop() {
	for {
		select {
		case <-in.done:
			return
		case <-in.ch:
		}
		in.mu.Lock()
		stage := in.stage
		n := 0
		if stage == stageApply {
			in.n++
			n = in.n
		}
		in.mu.Unlock()
		w := in.m.Stderr
		switch {
		case stage == stagePrompt:
			in.cancel() // confirm says so and returns
		case stage == stagePrepare:
			in.cancel()
		case n == 1:
			what := fmt.Sprintf("operations already in flight get up to %s to finish, then are cancelled", in.grace)
			if in.grace < 0 {
				what = "operations in flight are cancelled"
			}
			in.cancel() // before the message: what it says holds once it is read
			fmt.Fprintf(w, "\nInterrupt received: no new operations are started; %s (interrupt again to cancel them now).\n", what)
		case n == 2:
			close(in.abort)
			fmt.Fprintln(w, "\nSecond interrupt: cancelling the operations in flight now (interrupt again to exit at once).")
		default:
			fmt.Fprintln(w, "\nThird interrupt: exiting now. Re-run apply to finish: it is safe.")
			os.Exit(ExitInterrupted)
		}
	}
}

// internalError reports a panic: a bug. Exit status 1, never 2 (which
// plan -detailed-exitcode uses for "changes present").
func (m *Meta) internalError(v any) int {
	stack := debug.Stack()
	if pe, ok := v.(*executor.PanicError); ok {
		v, stack = pe.Value, pe.Stack
	}
	fmt.Fprintf(m.Stderr, `
Error: internal error: b2plan crashed (%v)

This is a bug in b2plan; please report it with the details below. If this
was an apply, the operations started before the crash may be incomplete:
re-running apply is safe (b2plan resumes from what B2 holds).

%s`, v, stack)
	return ExitError
}
