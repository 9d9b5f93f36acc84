package command

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/b2plan/b2plan/emulator"
)

// scaleEnv is a b2local on a loopback port with a bucket "scale-data" seeded
// with n names under in/, one or two versions each (versions = "all"
// moves them with their histories), and the expected destination
// histories computed while seeding.
type scaleEnv struct {
	t    *testing.T
	srv  *emulator.Server
	url  string
	dir  string
	s3   bool                // b2plan goes through the S3-compatible API
	want map[string][]string // destination name → "upload:sha1" newest first
	vers int                 // versions seeded
}

func newScaleEnv(t *testing.T, n int, latency time.Duration) *scaleEnv {
	t.Helper()
	srv, url, m, _ := seededEmulator(t, emulator.Options{Latency: latency}, "scale-data")
	ctx := context.Background()
	e := &scaleEnv{t: t, srv: srv, url: url, dir: t.TempDir(), want: map[string][]string{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			name := fmt.Sprintf("in/d%02d/f%05d", i%17, i)
			var hist []string
			for j := 0; j < 1+i%2; j++ {
				d := fmt.Sprintf("object %d version %d", i, j)
				if _, err := m.Upload(ctx, "scale-data", name, "text/plain", []byte(d), nil); err != nil {
					t.Error(err)
					return
				}
				s := sha1.Sum([]byte(d))
				hist = append([]string{"upload:" + hex.EncodeToString(s[:])}, hist...)
			}
			mu.Lock()
			e.want["out/"+name[3:]] = hist
			e.vers += len(hist)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	cfg := `move "reorg" {
  bucket   = "scale-data"
  from     = "in/"
  to       = "out/"
  versions = "all"
}
`
	if err := os.WriteFile(filepath.Join(e.dir, "main.hcl"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	srv.ResetStats()
	return e
}

func (e *scaleEnv) env() []string {
	ep := e.url
	if e.s3 {
		ep = "s3://" + strings.TrimPrefix(e.url, "http://") // loopback: plain HTTP
	}
	env := []string{"B2_ENDPOINT=" + ep, "B2_APPLICATION_KEY_ID=" + emulator.DefaultKeyID, "B2_APPLICATION_KEY=" + emulator.DefaultKey,
		"HOME=" + e.dir, "PATH=" + os.Getenv("PATH")}
	if c := os.Getenv("B2PLAN_MOVE_CHUNK"); c != "" { // chunked moves (chunk_test.go)
		env = append(env, "B2PLAN_MOVE_CHUNK="+c)
	}
	return env
}

// run runs the CLI in-process.
func (e *scaleEnv) run(args ...string) (code int, stdout, stderr string) {
	var o, er bytes.Buffer
	code = RunWithEnv(args, e.env(), strings.NewReader(""), &o, &er)
	return code, o.String(), er.String()
}

// verify checks with raw listings (plain HTTP and JSON) that every
// history is at the destination exactly once, nothing is left at the
// source, no B2 call copied or deleted a version twice (emulator call
// counts), and a new plan is empty.
func (e *scaleEnv) verify() { e.verifyHistories(true) }

// verifyHistories is verify; counts says whether to check the call counts
// (not when two applies raced on purpose).
func (e *scaleEnv) verifyHistories(counts bool) {
	t := e.t
	t.Helper()
	got := newRawB2(t, e.url, "scale-data").history()
	for name, hist := range e.want {
		if !slices.Equal(got[name], hist) {
			t.Errorf("%s: history %v, want %v", name, got[name], hist)
		}
	}
	for name := range got {
		if strings.HasPrefix(name, "in/") {
			t.Errorf("%s is still at the source: %v", name, got[name])
		} else if e.want[name] == nil {
			t.Errorf("unexpected name %s: %v", name, got[name])
		}
	}
	st := e.srv.Stats()
	if !counts {
		// nothing to check
	} else if e.s3 {
		// Deletes are batched (DeleteObjects) for names with one version.
		if c := st.Calls["s3_CopyObject"]; c != int64(e.vers) {
			t.Errorf("%d copies for %d versions: work was done twice or not at all", c, e.vers)
		}
	} else if c, d := st.Calls["b2_copy_file"], st.Calls["b2_delete_file_version"]; c != int64(e.vers) || d != int64(e.vers) {
		t.Errorf("%d copies and %d deletes for %d versions: work was done twice or not at all", c, d, e.vers)
	}
	if code, out, errOut := e.run("plan", "-detailed-exitcode", "-no-color", e.dir); code != 0 {
		t.Errorf("plan after the move: exit %d\n%s%s", code, out, errOut)
	}
}

// TestMaxDurationResumes applies a move under a time budget far too small
// for it: every run stops starting work at its deadline, finishes what is
// in flight and exits ExitIncomplete; re-running carries on until exit 0,
// and the result is the move done exactly once.
func TestMaxDurationResumes(t *testing.T) {
	e := newScaleEnv(t, 400, 10*time.Millisecond)
	// A budget spent before the apply starts: nothing is started, the JSON
	// stream's b2plan_apply_summary says incomplete, counting every name.
	code, out, errOut := e.run("apply", "-auto-approve", "-json", "-max-duration=1ns", e.dir)
	var summary string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.Contains(l, `"type":"b2plan_apply_summary"`) {
			summary = l
		}
	}
	if code != ExitIncomplete || !strings.Contains(summary, `"status":"incomplete"`) || !strings.Contains(summary, `"not_started":400`) ||
		!strings.Contains(errOut, "Warning: nothing was done: reading the account and planning took the whole budget") {
		t.Fatalf("-max-duration=1ns -json: exit %d, apply summary %s\n%s", code, summary, errOut)
	}
	runs, incomplete := 0, 0
	for {
		runs++
		if runs > 100 {
			t.Fatalf("no convergence after %d runs", runs-1)
		}
		code, out, errOut := e.run("apply", "-auto-approve", "-no-color", "-parallelism=4", "-max-duration=700ms", e.dir)
		if code == ExitOK {
			break
		}
		if code != ExitIncomplete {
			t.Fatalf("run %d: exit %d, want %d or 0\n%s%s", runs, code, ExitIncomplete, out, errOut)
		}
		if !strings.Contains(errOut, "Incomplete: the time budget (-max-duration=700ms) ran out") || !strings.Contains(out, "Apply incomplete: the time budget ran out") {
			t.Fatalf("run %d: no incomplete message:\n%s\n%s", runs, out, errOut)
		}
		incomplete++
	}
	if incomplete == 0 {
		t.Fatal("the first run completed within its budget: the test proves nothing (raise the latency or N)")
	}
	t.Logf("%d runs, %d incomplete", runs, incomplete)
	e.verify()
}

// TestShardedApply applies one saved plan with four concurrent processes,
// -shard=1/4 … 4/4, on one b2local: every name is moved by exactly one
// shard (emulator call counts) with its whole history, verified object by
// object with raw listings; a shard applied again, and the whole plan
// after its shards, are refused.
func TestShardedApply(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	t.Run("native", func(t *testing.T) { shardedApply(t, false) })
	// Over S3 each shard sweeps its own names after its batched deletes.
	t.Run("s3", func(t *testing.T) { shardedApply(t, true) })
}

func shardedApply(t *testing.T, s3 bool) {
	e := newScaleEnv(t, 800, 2*time.Millisecond)
	e.s3 = s3
	plan := filepath.Join(t.TempDir(), "move.b2plan")
	if code, out, errOut := e.run("plan", "-no-color", "-out="+plan, e.dir); code != 0 {
		t.Fatalf("plan: exit %d\n%s%s", code, out, errOut)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	const n = 4
	outs := make([]bytes.Buffer, n)
	cmds := make([]*exec.Cmd, n)
	for k := range cmds {
		cmd := exec.Command(exe, "apply", "-no-color", "-parallelism=4", fmt.Sprintf("-shard=%d/%d", k+1, n), plan)
		cmd.Env = append(e.env(), runMainEnv+"=1")
		cmd.Stdout, cmd.Stderr = &outs[k], &outs[k]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[k] = cmd
	}
	for k, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("shard %d/%d: %v\n%s", k+1, n, err, outs[k].String())
		}
	}
	e.verify()
	if code, _, errOut := e.run("apply", "-shard=2/4", plan); code != ExitError || !strings.Contains(errOut, "was applied before") {
		t.Errorf("shard 2/4 applied twice: exit %d %s", code, errOut)
	}
	if code, _, errOut := e.run("apply", plan); code != ExitError || !strings.Contains(errOut, "was applied before") {
		t.Errorf("the whole plan applied after its shards: exit %d %s", code, errOut)
	}
}

// TestShardFlagErrors: bad -shard and -max-duration values are refused
// with what to write instead.
func TestShardFlagErrors(t *testing.T) {
	e := &scaleEnv{t: t, dir: t.TempDir(), url: "http://127.0.0.1:1"}
	for _, c := range []struct{ arg, want string }{
		{"-shard=0/4", "shards are numbered from 1"},
		{"-shard=5/4", "1 ≤ K ≤ N"},
		{"-shard=2", "want K/N"},
		{"-shard=a/b", "want K/N"},
		{"-max-duration=-1s", "want a positive duration"},
	} {
		code, _, errOut := e.run("apply", "-auto-approve", c.arg, e.dir)
		if code != ExitError || !strings.Contains(errOut, c.want) {
			t.Errorf("%s: exit %d, %q; want 1 and %q", c.arg, code, errOut, c.want)
		}
	}
}

// TestShardAppliedTwiceAtOnce: a shard applied by two processes at once
// (a retried pod while the first still runs, each with its own copy of the
// plan file), next to the other shard: every history ends exactly once at
// the destination (the lock-free rules of concurrent applies).
func TestShardAppliedTwiceAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	e := newScaleEnv(t, 600, 2*time.Millisecond)
	dir := t.TempDir()
	plan := filepath.Join(dir, "move.b2plan")
	if code, out, errOut := e.run("plan", "-no-color", "-out="+plan, e.dir); code != 0 {
		t.Fatalf("plan: exit %d\n%s%s", code, out, errOut)
	}
	data, err := os.ReadFile(plan)
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var cmds []*exec.Cmd
	var outs [3]bytes.Buffer
	for i, shard := range []string{"1/2", "1/2", "2/2"} {
		p := filepath.Join(t.TempDir(), "move.b2plan") // its own copy: its own applied record
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(exe, "apply", "-no-color", "-parallelism=4", "-shard="+shard, p)
		cmd.Env = append(e.env(), runMainEnv+"=1")
		cmd.Stdout, cmd.Stderr = &outs[i], &outs[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("apply %d: %v\n%s", i, err, outs[i].String())
		}
	}
	st := e.srv.Stats()
	t.Logf("%d copies and %d deletes for %d versions (the race made the rest)", st.Calls["b2_copy_file"], st.Calls["b2_delete_file_version"], e.vers)
	e.verifyHistories(false)
}
