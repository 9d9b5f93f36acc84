package command

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestChunkedMovesEndToEnd runs the end-to-end move tests with every move
// planned and applied in chunks of 7 versions (B2PLAN_MOVE_CHUNK, passed to
// the child processes): SIGKILL at random moments of a versions = "all"
// move with hidden names (converges, histories exact), one saved plan
// applied by four concurrent shard processes (native and S3; each chunk
// moved by one shard), and a time-budgeted apply resumed until done.
func TestChunkedMovesEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	t.Setenv("B2PLAN_MOVE_CHUNK", "7")
	t.Run("crash-all-hidden", func(t *testing.T) { crashRunHidden(t, 10) })
	t.Run("shards-native", func(t *testing.T) { shardedApply(t, false) })
	t.Run("shards-s3", func(t *testing.T) { shardedApply(t, true) })
	t.Run("max-duration", TestMaxDurationResumes)
}

// TestChunkedPlanFile: a chunked plan saved to a file is small (chunks, no
// per-object operations), shows the same counts, calls and sample as the
// plan printed when it was made, and is refused when B2PLAN_MOVE_CHUNK is
// not a positive number.
func TestChunkedPlanFile(t *testing.T) {
	e := newScaleEnv(t, 300, 0)
	code, whole, errOut := e.run("plan", "-no-color", e.dir) // below the threshold: planned whole
	if code != 0 {
		t.Fatalf("plan: exit %d\n%s%s", code, whole, errOut)
	}
	t.Setenv("B2PLAN_MOVE_CHUNK", "50")
	plan := filepath.Join(t.TempDir(), "move.b2plan")
	code, out, errOut := e.run("plan", "-no-color", "-out="+plan, e.dir)
	if code != 0 {
		t.Fatalf("plan: exit %d\n%s%s", code, out, errOut)
	}
	code, shown, errOut := e.run("show", "-no-color", plan)
	if code != 0 {
		t.Fatalf("show: exit %d\n%s", code, errOut)
	}
	moveOf := func(s string) string {
		i := strings.Index(s, "# move.")
		if i < 0 {
			t.Fatalf("no move in:\n%s", s)
		}
		j := strings.Index(s[i:], "\n    }\n")
		if j < 0 {
			t.Fatalf("no end of the move in:\n%s", s)
		}
		return s[i : i+j]
	}
	if moveOf(out) != moveOf(whole) {
		t.Errorf("the chunked plan differs from the whole one:\n%s\n---\n%s", moveOf(out), moveOf(whole))
	}
	if moveOf(out) != moveOf(shown) {
		t.Errorf("show differs from the plan:\n%s\n---\n%s", moveOf(out), moveOf(shown))
	}
	code, j1, _ := e.run("show", "-json", plan)
	t.Setenv("B2PLAN_MOVE_CHUNK", "")
	wholePlan := filepath.Join(t.TempDir(), "whole.b2plan")
	if code2, _, errOut := e.run("plan", "-out="+wholePlan, e.dir); code != 0 || code2 != 0 {
		t.Fatalf("plan: exit %d %d %s", code, code2, errOut)
	}
	_, j2, _ := e.run("show", "-json", wholePlan)
	if jsonMove(t, j1) != jsonMove(t, j2) {
		t.Errorf("show -json of the chunked plan differs from the whole one:\n%s\n---\n%s", jsonMove(t, j1), jsonMove(t, j2))
	}
	for _, s := range []string{"sample:", "calls       = class A", "… and "} {
		if !strings.Contains(shown, s) {
			t.Errorf("show lacks %q:\n%s", s, shown)
		}
	}
	st, err := os.Stat(plan)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() > 16<<10 {
		t.Errorf("a chunked plan of %d versions takes %d bytes", e.vers, st.Size())
	}
	t.Setenv("B2PLAN_MOVE_CHUNK", "0")
	if code, _, errOut := e.run("plan", "-no-color", e.dir); code == 0 || !strings.Contains(errOut, "B2PLAN_MOVE_CHUNK=\"0\"") {
		t.Errorf("B2PLAN_MOVE_CHUNK=0: exit %d %s", code, errOut)
	}
}

// jsonMove is the object_moves part of a show -json document.
func jsonMove(t *testing.T, doc string) string {
	var d struct {
		Moves json.RawMessage `json:"object_moves"`
	}
	if err := json.Unmarshal([]byte(doc), &d); err != nil || len(d.Moves) == 0 {
		t.Fatalf("show -json: %v\n%s", err, doc)
	}
	return string(d.Moves)
}
