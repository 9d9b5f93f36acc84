//go:build linux

package command

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/b2plan/b2plan/executor"
)

// panicEnv makes the test binary, run as the CLI, register a command
// "panic" that panics with the variable's value.
const panicEnv = "B2PLAN_TEST_PANIC"

func registerPanic(msg string) {
	commands["panic"] = &Command{Name: "panic", Synopsis: "test", Run: func(*Meta, []string) int { panic(msg) }}
}

// liveness bounds how long a test waits for a process that should have
// ended: a hang fails the test instead of stalling the suite. It is not an
// assertion on how fast anything is.
const liveness = 2 * time.Minute

// child is "b2plan" run as a real process (the test binary).
type child struct {
	t   *testing.T
	cmd *exec.Cmd
	mu  sync.Mutex
	out bytes.Buffer // stdout and stderr, as they come
	upd chan struct{}
	end chan struct{}
	err error
}

func startChild(t *testing.T, env []string, stdin *os.File, sys *syscall.SysProcAttr, args ...string) *child {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	c := &child{t: t, cmd: exec.Command(exe, args...), upd: make(chan struct{}, 1), end: make(chan struct{})}
	c.cmd.Env = append(env, runMainEnv+"=1")
	c.cmd.Stdin = stdin
	c.cmd.SysProcAttr = sys
	pr, pw := io.Pipe()
	c.cmd.Stdout, c.cmd.Stderr = pw, pw
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewReader(pr)
		buf := make([]byte, 4096)
		for {
			n, err := sc.Read(buf)
			c.mu.Lock()
			c.out.Write(buf[:n])
			c.mu.Unlock()
			select {
			case c.upd <- struct{}{}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	go func() {
		c.err = c.cmd.Wait()
		pw.Close()
		close(c.end)
	}()
	t.Cleanup(func() {
		select {
		case <-c.end:
		default:
			c.cmd.Process.Kill()
			<-c.end
		}
	})
	return c
}

func (c *child) output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.String()
}

// waitFor waits until the output contains s.
func (c *child) waitFor(s string) {
	c.t.Helper()
	deadline := time.After(liveness)
	for !strings.Contains(c.output(), s) {
		select {
		case <-c.upd:
		case <-c.end:
			if !strings.Contains(c.output(), s) {
				c.t.Fatalf("exited without printing %q:\n%s", s, c.output())
			}
		case <-deadline:
			c.t.Fatalf("no %q after %v:\n%s", s, liveness, c.output())
		}
	}
}

// exitCode waits for the end of the process.
func (c *child) exitCode() int {
	c.t.Helper()
	select {
	case <-c.end:
	case <-time.After(liveness):
		c.t.Fatalf("still running after %v:\n%s", liveness, c.output())
	}
	var ee *exec.ExitError
	if errors.As(c.err, &ee) {
		return ee.ExitCode()
	}
	if c.err != nil {
		c.t.Fatal(c.err)
	}
	return 0
}

// openPTY opens a pseudo-terminal pair (Linux /dev/ptmx).
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Skipf("pty unlock: %v", e)
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Skipf("pty number: %v", e)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("pty slave: %v", err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

const oneBucket = `bucket "a" {
  name = "acme-int-a"
}
bucket "b" {
  name = "acme-int-b"
}
`

// Ctrl-C typed at the "yes" prompt (a real terminal: the test is the
// pty's other end, the child its session leader) exits at once with 130
// and says that nothing was changed, without waiting for Enter.
func TestCtrlCAtPrompt(t *testing.T) {
	e := newKeyEnv(t)
	e.write(e.dir, oneBucket)
	master, slave := openPTY(t)
	go io.Copy(io.Discard, master) // the terminal's echo
	c := startChild(t, e.env(), slave, &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}, "apply", e.dir)
	c.waitFor("Enter a value:")
	if _, err := master.Write([]byte{3}); err != nil { // ^C: the line discipline sends SIGINT
		t.Fatal(err)
	}
	if code := c.exitCode(); code != ExitInterrupted {
		t.Fatalf("exit %d, want 130:\n%s", code, c.output())
	}
	out := c.output()
	if !strings.Contains(out, "Interrupted at the confirmation prompt: nothing was changed.") || strings.Contains(out, "in flight") {
		t.Errorf("output:\n%s", out)
	}
	if ks := e.rawBuckets(); len(ks) != 0 {
		t.Errorf("buckets created: %v", ks)
	}
}

func (e *keyEnv) rawBuckets() []string {
	e.t.Helper()
	out := e.rawCall("b2_list_buckets", map[string]any{})
	var names []string
	for _, b := range out["buckets"].([]any) {
		names = append(names, b.(map[string]any)["bucketName"].(string))
	}
	return names
}

// holdCalls makes the server hold every call of api until its client goes
// away or release is closed (then the call is served). entered is closed
// at the first such call.
func (e *keyEnv) holdCalls(api string) (entered, release chan struct{}) {
	entered, release = make(chan struct{}), make(chan struct{})
	testDone := make(chan struct{})
	e.t.Cleanup(func() { close(testDone) })
	var once sync.Once
	e.mu.Lock()
	e.hook = func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasSuffix(r.URL.Path, "/"+api) {
			return false
		}
		body, _ := io.ReadAll(r.Body) // then the server notices a client's death
		r.Body = io.NopCloser(bytes.NewReader(body))
		once.Do(func() { close(entered) })
		select {
		case <-release:
			return false
		case <-r.Context().Done():
		case <-testDone:
		}
		return true
	}
	e.mu.Unlock()
	return entered, release
}

// The first interrupt during apply lets the operation in flight finish
// within the grace period and starts nothing new.
func TestInterruptDuringApplyFinishesInFlight(t *testing.T) {
	e := newKeyEnv(t)
	e.write(e.dir, oneBucket)
	entered, release := e.holdCalls("b2_create_bucket")
	c := startChild(t, append(e.env(), graceEnv+"=1h"), nil, nil, "apply", "-auto-approve", "-parallelism=1", e.dir)
	<-entered
	c.cmd.Process.Signal(os.Interrupt)
	c.waitFor("Interrupt received: no new operations are started; operations already in flight get up to 1h0m0s to finish")
	close(release)
	if code := c.exitCode(); code != ExitInterrupted {
		t.Fatalf("exit %d:\n%s", code, c.output())
	}
	if out := c.output(); !strings.Contains(out, "Apply interrupted: nothing new was started after the interrupt, and the operations in flight, if any, were finished.") {
		t.Errorf("output:\n%s", out)
	}
	if bs := e.rawBuckets(); len(bs) != 1 {
		t.Errorf("buckets %v, want the one in flight only", bs)
	}
}

// After the grace period the call in flight is cancelled; the summary
// says so; a re-run completes the apply.
func TestInterruptGraceExpires(t *testing.T) {
	e := newKeyEnv(t)
	e.write(e.dir, oneBucket)
	entered, _ := e.holdCalls("b2_create_bucket")
	c := startChild(t, append(e.env(), graceEnv+"=50ms"), nil, nil, "apply", "-auto-approve", "-parallelism=1", e.dir)
	<-entered
	c.cmd.Process.Signal(os.Interrupt)
	if code := c.exitCode(); code != ExitInterrupted {
		t.Fatalf("exit %d:\n%s", code, c.output())
	}
	out := c.output()
	if !strings.Contains(out, "Apply interrupted: 1 operations in flight were cancelled") || !strings.Contains(out, "cancelled after the interrupt") {
		t.Errorf("output:\n%s", out)
	}
	e.mu.Lock()
	e.hook = nil
	e.mu.Unlock()
	if code, _, stderr := e.run("apply", "-auto-approve", e.dir); code != 0 {
		t.Fatalf("re-run: %d %s", code, stderr)
	}
	if bs := e.rawBuckets(); len(bs) != 2 {
		t.Errorf("buckets %v", bs)
	}
}

// The second interrupt cancels the call in flight at once: with a grace
// period of an hour, nothing else could end this apply.
func TestSecondInterruptCancels(t *testing.T) {
	e := newKeyEnv(t)
	e.write(e.dir, oneBucket)
	entered, _ := e.holdCalls("b2_create_bucket")
	c := startChild(t, append(e.env(), graceEnv+"=1h"), nil, nil, "apply", "-auto-approve", "-parallelism=1", e.dir)
	<-entered
	c.cmd.Process.Signal(os.Interrupt)
	c.waitFor("Interrupt received")
	c.cmd.Process.Signal(os.Interrupt)
	if code := c.exitCode(); code != ExitInterrupted {
		t.Fatalf("exit %d:\n%s", code, c.output())
	}
	out := c.output()
	if !strings.Contains(out, "Second interrupt: cancelling the operations in flight now") || !strings.Contains(out, "1 operations in flight were cancelled") {
		t.Errorf("output:\n%s", out)
	}
}

// An interrupt while the account is read (before anything changes) ends
// apply at once with 130.
func TestInterruptWhilePlanning(t *testing.T) {
	e := newKeyEnv(t)
	e.write(e.dir, oneBucket)
	entered, _ := e.holdCalls("b2_list_buckets")
	c := startChild(t, append(e.env(), graceEnv+"=1h"), nil, nil, "apply", "-auto-approve", e.dir)
	<-entered
	c.cmd.Process.Signal(os.Interrupt)
	if code := c.exitCode(); code != ExitInterrupted {
		t.Fatalf("exit %d:\n%s", code, c.output())
	}
	if out := c.output(); !strings.Contains(out, "Interrupted: nothing was changed.") {
		t.Errorf("output:\n%s", out)
	}
}

// A panic is an internal error with exit status 1 (never 2), in a real
// process and in-process.
func TestPanicExitsOne(t *testing.T) {
	c := startChild(t, append(os.Environ(), panicEnv+"=boom"), nil, nil, "panic")
	if code := c.exitCode(); code != ExitError || !strings.Contains(c.output(), "internal error: b2plan crashed (boom)") {
		t.Fatalf("exit %d:\n%s", code, c.output())
	}
	var o, er bytes.Buffer
	registerPanic("boom")
	defer delete(commands, "panic")
	if code := RunWithEnv([]string{"panic"}, nil, strings.NewReader(""), &o, &er); code != ExitError ||
		!strings.Contains(er.String(), "Error: internal error: b2plan crashed (boom)") || !strings.Contains(er.String(), "goroutine") {
		t.Fatalf("in-process: %d\n%s", code, er.String())
	}
	er.Reset()
	m := &Meta{Stderr: &er}
	if code := m.internalError(&executor.PanicError{Value: "in a worker", Stack: []byte("goroutine 7 [running]:\nworker")}); code != ExitError ||
		!strings.Contains(er.String(), "crashed (in a worker)") || !strings.Contains(er.String(), "goroutine 7") {
		t.Fatalf("PanicError: %d\n%s", code, er.String())
	}
}
