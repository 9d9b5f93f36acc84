package command

import (
	"io"
	"strings"
	"syscall"
	"testing"
)

// On a terminal, destroy asks as Terraform's destroy does; an answer other than "yes"
// cancels it ("Destroy cancelled.", exit 1) and nothing is deleted.
func TestDestroyPrompt(t *testing.T) {
	e := newKeyEnv(t)
	e.write(e.dir, oneBucket)
	if code, so, se := e.run("apply", "-auto-approve", e.dir); code != 0 {
		t.Fatalf("apply: %d\n%s%s", code, so, se)
	}
	master, slave := openPTY(t)
	go io.Copy(io.Discard, master) // the terminal's echo
	c := startChild(t, e.env(), slave, &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}, "destroy", e.dir)
	c.waitFor("Enter a value:")
	if _, err := master.Write([]byte("no\n")); err != nil {
		t.Fatal(err)
	}
	if code := c.exitCode(); code != ExitError {
		t.Fatalf("exit %d, want 1:\n%s", code, c.output())
	}
	out := c.output()
	if !strings.Contains(out, "Do you really want to destroy all resources?") || !strings.Contains(out, "There is no undo.") ||
		!strings.Contains(out, "Destroy cancelled.") || strings.Contains(out, "Apply cancelled") {
		t.Errorf("output:\n%s", out)
	}
	if bs := e.rawBuckets(); len(bs) != 2 {
		t.Errorf("buckets after a cancelled destroy: %v", bs)
	}
}
