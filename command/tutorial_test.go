package command

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"flag"

	"github.com/b2plan/b2plan/emulator"
)

// b2localEnv makes the test binary run as b2local (see TestMain).
const b2localEnv = "B2PLAN_TEST_RUN_B2LOCAL"

// b2localMain is b2local's serving part (cmd/b2local), for the tutorial test: -addr and
// -data, the development credentials, until SIGINT or SIGTERM.
func b2localMain(args []string) int {
	fs := flag.NewFlagSet("b2local", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8787", "")
	data := fs.String("data", "", "")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := emulator.NewServer(emulator.Options{Dir: *data})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	url, err := srv.Start(*addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("b2local listening on %s\n", url)
	<-ctx.Done()
	if err := srv.Close(); err != nil {
		return 1
	}
	return 0
}

type mdBlock struct {
	lang, body string
}

// mdBlocks returns the fenced code blocks of a markdown file, in order.
func mdBlocks(t *testing.T, path string) []mdBlock {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []mdBlock
	var cur *mdBlock
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case cur == nil && strings.HasPrefix(l, "```"):
			cur = &mdBlock{lang: strings.TrimPrefix(l, "```")}
		case cur != nil && l == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.body += l + "\n"
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestTutorial follows docs/tutorial.md word for word: every ```sh block runs, in order, in
// one bash session (b2plan and b2local are this test binary), and every line of a ```text
// block must appear in the output of the sh block before it.
func TestTutorial(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "sed", "seq", "grep", "wc"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	blocks := mdBlocks(t, "../docs/tutorial.md")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	mustWrite(t, filepath.Join(bin, "b2plan"), "#!/bin/sh\n"+runMainEnv+"=1 exec '"+exe+"' \"$@\"\n", 0o755)
	mustWrite(t, filepath.Join(bin, "b2local"), "#!/bin/sh\n"+b2localEnv+"=1 exec '"+exe+"' \"$@\"\n", 0o755)
	addr := freeAddr(t) // instead of 127.0.0.1:8787, which may be taken

	var script strings.Builder
	script.WriteString("set -eo pipefail\nexec 2>&1\n")
	var expect [][]string // per sh block
	n := 0
	for _, b := range blocks {
		switch b.lang {
		case "sh":
			fmt.Fprintf(&script, "echo '@@block %d@@'\n%s", n, strings.ReplaceAll(b.body, "127.0.0.1:8787", addr))
			expect = append(expect, nil)
			n++
		case "text":
			if n == 0 {
				t.Fatal("a text block before any sh block")
			}
			for _, l := range strings.Split(b.body, "\n") {
				if strings.TrimSpace(l) != "" {
					expect[n-1] = append(expect[n-1], l)
				}
			}
		}
	}
	script.WriteString("echo '@@end@@'\n")
	if n < 10 {
		t.Fatalf("only %d sh blocks in the tutorial", n)
	}
	dir := t.TempDir()
	f := filepath.Join(dir, "tutorial.sh")
	mustWrite(t, f, script.String(), 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "--noprofile", "--norc", f)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + dir, "LC_ALL=C"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	out, err := cmd.CombinedOutput()
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // b2local, if the script did not get to kill it
	}
	text := string(out)
	if err != nil || !strings.HasSuffix(text, "@@end@@\n") {
		t.Fatalf("the tutorial stopped (%v):\n%s", err, text)
	}
	for i, want := range expect {
		start := strings.Index(text, fmt.Sprintf("@@block %d@@\n", i))
		end := strings.Index(text, fmt.Sprintf("@@block %d@@\n", i+1))
		if end < 0 {
			end = strings.Index(text, "@@end@@")
		}
		got := text[start:end]
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("sh block %d: the output lacks %q:\n%s", i, w, got)
			}
		}
	}
}
