package command

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestHostileConfigurations runs validate (text and JSON), plan and fmt in-process on hostile
// configurations: every command ends (a 60 s safety timeout turns a hang into a failure; a Go
// stack overflow would kill the test binary), exits 1 with a diagnostic, and prints a bounded
// amount.
func TestHostileConfigurations(t *testing.T) {
	rep := strings.Repeat
	r := rand.New(rand.NewPCG(3, 4))
	random := make([]byte, 100000)
	for i := range random {
		random[i] = byte(r.UintN(256))
	}
	cases := map[string]struct {
		src  []byte
		want string
	}{
		"brackets":       {[]byte("locals {\n  x = " + rep("[", 100000) + rep("]", 100000) + "\n}\n"), "Nesting too deep"},
		"for3":           {[]byte("locals {\n  x = [for a in range(1000) : [for b in range(1000) : [for c in range(1000) : 1]]]\n}\n"), "Configuration too large to evaluate"},
		"template for3":  {[]byte("locals {\n  x = \"%{for a in range(1000)}%{for b in range(1000)}%{for c in range(1000)}x%{endfor}%{endfor}%{endfor}\"\n}\n"), "Configuration too large to evaluate"},
		"random bytes":   {random, "Too many problems"},
		"20k bad blocks": {[]byte(rep("bucket \"b\" {\n  tpye = 1\n}\n", 20000)), "Too many problems"},
		"one long line":  {[]byte("locals { x = \"" + rep("a", 200000) + "\" y = }\n"), "Invalid single-argument block"},
	}
	for name, c := range cases {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "main.hcl"), c.src, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{{"validate", dir}, {"validate", "-json", dir}, {"plan", dir}, {"fmt", "-check", dir}} {
			t.Run(name+"/"+strings.Join(args[:len(args)-1], " "), func(t *testing.T) {
				var stdout, stderr bytes.Buffer
				done := make(chan int, 1)
				go func() {
					done <- RunWithEnv(args, []string{"HOME=" + dir, "NO_COLOR=1"}, strings.NewReader(""), &stdout, &stderr)
				}()
				var code int
				select {
				case code = <-done:
				case <-time.After(60 * time.Second):
					t.Fatal("the command did not end within 60 s")
				}
				out := stdout.String() + stderr.String()
				// fmt only reads syntax: a configuration that parses may well be formatted.
				if code != ExitError && !(args[0] == "fmt" && code != 2) {
					t.Errorf("exit %d, want %d", code, ExitError)
				}
				if len(out) > 64<<10 {
					t.Errorf("%d bytes of output", len(out))
				}
				if strings.Contains(out, "goroutine ") || strings.Contains(out, "panic") {
					t.Errorf("crash:\n%.2000s", out)
				}
				if args[0] != "fmt" && !strings.Contains(out, c.want) {
					t.Errorf("no %q in:\n%.3000s", c.want, out)
				}
			})
		}
	}
}
