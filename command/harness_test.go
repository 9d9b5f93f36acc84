package command

import (
	"context"
	"math/rand/v2"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/b2plan/b2plan/b2client"
	"github.com/b2plan/b2plan/emulator"
	"github.com/b2plan/b2plan/live"
)

// seededEmulator starts an emulator with opts on a loopback port (closed
// when the test ends), connects to it and creates bucket.
func seededEmulator(t *testing.T, opts emulator.Options, bucket string) (*emulator.Server, string, *b2client.Mutator, live.Bucket) {
	t.Helper()
	srv, err := emulator.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	url, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	conn, err := b2client.Connect(ctx, b2client.Config{Endpoint: url, KeyID: emulator.DefaultKeyID, Key: emulator.DefaultKey,
		Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	m := b2client.NewMutator(conn)
	b, err := m.CreateBucket(ctx, b2client.BucketSpec{Name: bucket})
	if err != nil {
		t.Fatal(err)
	}
	return srv, url, m, b
}

// killRepeatedly starts apply() and SIGKILLs it after a random delay in
// [minDelay, minDelay+spread), kills times (at most 4·kills attempts; it
// stops early when an apply finishes before its kill). After each kill it
// logs progress(). It fails the test when fewer kills happened.
func killRepeatedly(t *testing.T, kills int, seed uint64, minDelay, spread time.Duration, apply func() *exec.Cmd, progress func() string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), seed))
	killed := 0
	for attempt := 0; killed < kills && attempt < kills*4; attempt++ {
		cmd := apply()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		delay := minDelay + time.Duration(rng.Int64N(int64(spread)))
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			// Finished before the kill: the move is complete, so there is
			// nothing left to interrupt.
			t.Logf("apply finished before the kill at %v (err %v)", delay, err)
			attempt = kills * 4
		case <-time.After(delay):
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-done
			killed++
		}
		t.Logf("kill %d after %v: %s", killed, delay, progress())
	}
	t.Logf("killed apply %d times", killed)
	if killed < kills {
		t.Errorf("only %d kills happened before the move completed, want %d", killed, kills)
	}
}
