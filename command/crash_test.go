package command

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"crypto/sha1"
	"encoding/hex"

	"github.com/b2plan/b2plan/b2client"
	"github.com/b2plan/b2plan/emulator"
	"github.com/b2plan/b2plan/live"
)

// runMainEnv makes the test binary run the CLI (see TestMain).
const runMainEnv = "B2PLAN_TEST_RUN_MAIN"

// TestCrashSafety kills "b2plan apply" (a real subprocess: this test binary
// re-executed as the CLI) with SIGKILL at random moments of a folder move,
// against an emulator served on a loopback port by this test process, then
// re-runs apply until it completes and checks that the move converged:
// every object exactly once at the destination with its SHA-1, nothing at
// the source, no duplicate versions. B2PLAN_CRASH_KILLS sets the number of
// kills (default 10).
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	kills := 10
	if v, err := strconv.Atoi(os.Getenv("B2PLAN_CRASH_KILLS")); err == nil && v > 0 {
		kills = v
	}
	t.Run("latest", func(t *testing.T) { crashRun(t, "latest", kills, false) })
	t.Run("all", func(t *testing.T) { crashRun(t, "all", max(5, kills/2), false) })
	// versions = "all" with hidden names and middle-of-history hides.
	t.Run("all-hidden", func(t *testing.T) { crashRunHidden(t, kills) })
	// Over the S3-compatible API: batched source deletions (DeleteObjects).
	t.Run("latest-s3", func(t *testing.T) { crashRun(t, "latest", max(5, kills/2), true) })
}

// crashRun is one kill-and-converge run of a move with the given versions
// setting, through the native API or (s3) the S3-compatible API.
func crashRun(t *testing.T, versions string, kills int, s3 bool) {
	_, url, m, _ := seededEmulator(t, emulator.Options{Latency: 2 * time.Millisecond}, "crash-data")
	ctx := context.Background()
	n := max(3000, kills*300)
	want := map[string]string{} // destination name → SHA-1 of the newest version
	wantN := map[string]int{}   // destination name → versions expected there
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			name := fmt.Sprintf("in/d%02d/f%04d", i%20, i)
			data := fmt.Sprintf("object %d", i)
			nv := 1 + i%3 // several versions per name: none may resurface
			for j := 0; j < nv; j++ {
				d := fmt.Sprintf("%s v%d", data, j)
				if _, err := m.Upload(ctx, "crash-data", name, "text/plain", []byte(d), nil); err != nil {
					t.Error(err)
					return
				}
				if j == nv-1 {
					s := sha1.Sum([]byte(d))
					mu.Lock()
					want["out/"+name[3:]] = hex.EncodeToString(s[:])
					wantN["out/"+name[3:]] = 1
					if versions == "all" {
						wantN["out/"+name[3:]] = nv
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	endpoint := url
	if s3 {
		endpoint = "s3://" + strings.TrimPrefix(url, "http://") // loopback: plain HTTP
	}
	dir := t.TempDir()
	cfg := fmt.Sprintf(`provider "b2" {
  endpoint = %q
}

move "reorg" {
  bucket = "crash-data"
  from     = "in/"
  to       = "out/"
  versions = %q
}
`, endpoint, versions)
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	apply := func() *exec.Cmd {
		cmd := exec.Command(exe, "apply", "-auto-approve", "-parallelism=8", dir)
		cmd.Env = append(os.Environ(), runMainEnv+"=1", "B2_APPLICATION_KEY_ID="+emulator.DefaultKeyID,
			"B2_APPLICATION_KEY="+emulator.DefaultKey, "B2_ENDPOINT=")
		return cmd
	}
	// check verifies that nothing is lost: every object is visible at the
	// source or at the destination with its content.
	check := func(final bool) (moved int) {
		t.Helper()
		l, err := b2client.Observe(ctx, m.Conn(), live.Request{Prefixes: []live.PrefixRequest{{BucketName: "crash-data", Prefix: ""}}})
		if err != nil {
			t.Fatal(err)
		}
		vis := map[string]string{}
		count := map[string]int{}
		seen := map[string]bool{}
		for _, v := range l.Listings[0].Versions {
			if v.Action == live.ActionStart {
				continue
			}
			count[v.Name]++
			if !seen[v.Name] {
				seen[v.Name] = true
				if v.Action == live.ActionUpload {
					vis[v.Name] = v.SHA1Hex()
				}
			}
		}
		for dst, sum := range want {
			src := "in/" + dst[4:]
			_, atSrc := vis[src]
			got, atDst := vis[dst]
			switch {
			case atDst && got != sum && (versions != "all" || vis[src] != sum):
				// (with versions = "all" older versions are copied first)
				t.Fatalf("%s has SHA-1 %s, want %s", dst, got, sum)
			case !atDst && !atSrc:
				t.Fatalf("%s is lost: neither at the source nor at the destination", src)
			case atSrc && vis[src] != sum:
				t.Fatalf("%s resurfaced with an older version (%s, want %s)", src, vis[src], sum)
			}
			if final {
				if atSrc || count[src] != 0 {
					t.Errorf("%s is still at the source (%d versions)", src, count[src])
				}
				if count[dst] != wantN[dst] {
					t.Errorf("%s has %d versions at the destination, want %d", dst, count[dst], wantN[dst])
				}
			}
		}
		if final && len(vis) != len(want) {
			t.Errorf("%d visible names, want %d", len(vis), len(want))
		}
		for dst := range want {
			if _, ok := vis[dst]; ok {
				moved++
			}
		}
		return moved
	}
	killRepeatedly(t, kills, 42, 40*time.Millisecond, 200*time.Millisecond, apply,
		func() string { return fmt.Sprintf("%d of %d objects at the destination", check(false), n) })
	out, err := apply().CombinedOutput()
	if err != nil {
		t.Fatalf("final apply: %v\n%s", err, out)
	}
	check(true)
	out, err = func() ([]byte, error) {
		cmd := apply()
		cmd.Args = []string{exe, "plan", "-detailed-exitcode", dir}
		return cmd.CombinedOutput()
	}()
	if err != nil {
		t.Errorf("plan after convergence is not empty: %v\n%s", err, out)
	}
}
