package command

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/b2plan/b2plan/b2client"
	"github.com/b2plan/b2plan/emulator"
	"github.com/b2plan/b2plan/live"
	"github.com/b2plan/b2plan/planner"
)

// seedLocal uploads n small objects under prefix into bucket, in the state directory of a
// local:// endpoint (nothing else may have it open).
func seedLocal(t *testing.T, dir, bucket, prefix string, n int) {
	t.Helper()
	srv, err := emulator.NewServer(emulator.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()
	conn, err := b2client.Connect(ctx, b2client.Config{Endpoint: srv.URL(), Transport: srv.Transport(),
		KeyID: emulator.DefaultKeyID, Key: emulator.DefaultKey, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	m := b2client.NewMutator(conn)
	var wg sync.WaitGroup
	work := make(chan int)
	errs := make(chan error, 1)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if _, err := m.Upload(ctx, bucket, fmt.Sprintf("%sf%06d", prefix, i), "text/plain", []byte(fmt.Sprintf("object %d", i)), nil); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
}

// countLocal counts the objects under prefix, read with the emulator's API (independent of
// b2plan's planner and executor).
func countLocal(t *testing.T, dir, bucket, prefix string) int {
	t.Helper()
	srv, err := emulator.NewServer(emulator.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()
	conn, err := b2client.Connect(ctx, b2client.Config{Endpoint: srv.URL(), Transport: srv.Transport(),
		KeyID: emulator.DefaultKeyID, Key: emulator.DefaultKey, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	l, err := b2client.Observe(ctx, conn, live.Request{Prefixes: []live.PrefixRequest{{BucketName: bucket, Prefix: prefix}}})
	if err != nil {
		t.Fatal(err)
	}
	return len(l.Listings[0].Versions)
}

var (
	csiRE      = regexp.MustCompile("\x1b\\[[0-9;]*[A-Za-z]")
	progressRE = regexp.MustCompile(`^(\[[= >]*\] )?(Moving|[\d,]+/[\d,]+)|^  move\.`)
)

// TestProgressOnRealTerminal runs apply with a move under a real pseudo-terminal (util-linux
// script) at several widths: every progress line fits the width, and the block is erased
// before the summary. B2PLAN_TEST_PTY_OBJECTS sets the objects moved (default 1,000; the
// issue's check is 20,000).
func TestProgressOnRealTerminal(t *testing.T) {
	for _, tool := range []string{"script", "stty", "sh"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	n := 1000
	if s := os.Getenv("B2PLAN_TEST_PTY_OBJECTS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil {
			t.Fatal(err)
		}
		n = v
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	bin := filepath.Join(work, "bin")
	mustWrite(t, filepath.Join(bin, "b2plan"), "#!/bin/sh\n"+runMainEnv+"=1 exec '"+exe+"' \"$@\"\n", 0o755)
	state := filepath.Join(work, "state")
	cfg := filepath.Join(work, "cfg")
	config := func(from, to string) {
		mustWrite(t, filepath.Join(cfg, "main.hcl"), fmt.Sprintf("bucket \"data\" {\n  name = \"pty-data\"\n}\n\nmove \"m\" {\n  bucket = bucket.data.name\n  from   = %q\n  to     = %q\n}\n", from, to), 0o644)
	}
	run := func(width int) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		inner := fmt.Sprintf("stty cols %d rows 40; exec b2plan apply -auto-approve -parallelism=16 %s", width, cfg)
		cmd := exec.CommandContext(ctx, "script", "-qfec", inner, "/dev/null")
		cmd.Env = []string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + work,
			"B2_ENDPOINT=local://" + state, "TERM=xterm"}
		cmd.Stdin = strings.NewReader("")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("apply at width %d: %v\n%s", width, err, out)
		}
		return string(out)
	}
	config("a/", "b/")
	run(80) // creates the bucket; nothing to move yet
	seedLocal(t, state, "pty-data", "a/", n)
	from, to := "a/", "b/"
	for _, width := range []int{40, 80, 132} {
		config(from, to)
		out := run(width)
		var progress []string
		for _, l := range regexp.MustCompile("\r?\n|\r").Split(out, -1) {
			l = csiRE.ReplaceAllString(l, "")
			if progressRE.MatchString(l) {
				progress = append(progress, l)
				// m.Width leaves the last column free.
				if c := utf8.RuneCountInString(l); c > width-1 {
					t.Errorf("width %d: a progress line of %d columns: %q", width, c, l)
				}
			}
		}
		if len(progress) == 0 {
			t.Errorf("width %d: no progress line:\n%s", width, out)
		}
		want := fmt.Sprintf("Moved %s of %s objects", planner.Commas(int64(n)), planner.Commas(int64(n)))
		i := strings.LastIndex(out, "\x1b[1A\x1b[2K")
		if i < 0 || !strings.Contains(out[i:], want) || !strings.Contains(out, "Apply complete!") {
			t.Errorf("width %d: the block is not erased before the summary %q:\n%q", width, want, out[max(0, len(out)-2000):])
		}
		if got := countLocal(t, state, "pty-data", to); got != n {
			t.Fatalf("width %d: %d objects under %s, want %d", width, got, to, n)
		}
		from, to = to, from
	}
}
