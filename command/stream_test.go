package command

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/b2plan/b2plan/b2client"
	"github.com/b2plan/b2plan/emulator"
	"github.com/b2plan/b2plan/executor"
	"github.com/b2plan/b2plan/live"
	"github.com/b2plan/b2plan/planner"
)

// terraformTypes are the message types Terraform documents for its
// machine-readable UI (internals/machine-readable-ui), written out here
// independently of the code under test.
var terraformTypes = map[string]bool{"version": true, "log": true, "diagnostic": true, "resource_drift": true,
	"planned_change": true, "change_summary": true, "outputs": true, "apply_start": true, "apply_progress": true,
	"apply_complete": true, "apply_errored": true, "provision_start": true, "provision_progress": true,
	"provision_complete": true, "provision_errored": true, "refresh_start": true, "refresh_complete": true}

// terraformActions are the action words of Terraform's stream.
var terraformActions = map[string]bool{"noop": true, "create": true, "read": true, "update": true, "replace": true,
	"delete": true, "move": true, "import": true, "remove": true}

type streamLine map[string]any

func (l streamLine) str(path ...string) string {
	var v any = map[string]any(l)
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = m[p]
	}
	s, _ := v.(string)
	return s
}

func (l streamLine) num(path ...string) (float64, bool) {
	var v any = map[string]any(l)
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return 0, false
		}
		v = m[p]
	}
	f, ok := v.(float64)
	return f, ok
}

// parseStream checks every line of a stream as a reader of Terraform's
// machine-readable UI would, and returns them.
func parseStream(t *testing.T, out string) []streamLine {
	t.Helper()
	doc, err := os.ReadFile("../docs/json-formats.md")
	if err != nil {
		t.Fatal(err)
	}
	var lines []streamLine
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		raw := sc.Bytes()
		var l streamLine
		if err := json.Unmarshal(raw, &l); err != nil {
			t.Fatalf("line %d is not JSON: %v\n%s", len(lines)+1, err, raw)
		}
		if _, err := tfjson.UnmarshalLogMessage(raw); err != nil {
			t.Errorf("terraform-json cannot read line %d: %v\n%s", len(lines)+1, err, raw)
		}
		typ := l.str("type")
		switch lv := l.str("@level"); {
		case lv != "info" && lv != "warn" && lv != "error":
			t.Errorf("@level %q: %s", lv, raw)
		case l.str("@message") == "" || l.str("@module") != "b2plan.ui":
			t.Errorf("@message / @module: %s", raw)
		}
		if _, err := time.Parse(time.RFC3339Nano, l.str("@timestamp")); err != nil {
			t.Errorf("@timestamp: %v: %s", err, raw)
		}
		switch {
		case terraformTypes[typ]:
		case strings.HasPrefix(typ, "b2plan_") && bytes.Contains(doc, []byte("`"+typ+"`")):
		default:
			t.Errorf("type %q is neither Terraform's nor a documented b2plan type: %s", typ, raw)
		}
		if len(lines) == 0 && typ != "version" {
			t.Errorf("the first line is not the version: %s", raw)
		}
		switch typ {
		case "version":
			if l.str("terraform") == "" || l.str("ui") == "" {
				t.Errorf("version: %s", raw)
			}
		case "planned_change", "resource_drift":
			if l.str("change", "resource", "addr") == "" || l.str("change", "resource", "resource_type") == "" ||
				!terraformActions[l.str("change", "action")] {
				t.Errorf("%s: %s", typ, raw)
			}
		case "change_summary":
			for _, f := range []string{"add", "change", "remove"} {
				if _, ok := l.num("changes", f); !ok {
					t.Errorf("change_summary without %s: %s", f, raw)
				}
			}
			if op := l.str("changes", "operation"); op != "plan" && op != "apply" {
				t.Errorf("change_summary operation %q", op)
			}
		case "apply_start", "apply_progress", "apply_complete", "apply_errored":
			if l.str("hook", "resource", "addr") == "" || !terraformActions[l.str("hook", "action")] {
				t.Errorf("%s: %s", typ, raw)
			}
			if _, ok := l.num("hook", "elapsed_seconds"); !ok && typ != "apply_start" {
				t.Errorf("%s without elapsed_seconds: %s", typ, raw)
			}
		case "diagnostic":
			if l.str("diagnostic", "severity") == "" || l.str("diagnostic", "summary") == "" {
				t.Errorf("diagnostic: %s", raw)
			}
		case "outputs":
			if _, ok := l["outputs"].(map[string]any); !ok {
				t.Errorf("outputs: %s", raw)
			}
		}
		lines = append(lines, l)
	}
	if len(lines) == 0 {
		t.Fatal("empty stream")
	}
	return lines
}

func ofType(lines []streamLine, typ string) []streamLine {
	var out []streamLine
	for _, l := range lines {
		if l.str("type") == typ {
			out = append(out, l)
		}
	}
	return out
}

// changesOf lists "action address" of planned_change lines.
func changesOf(lines []streamLine, typ string) []string {
	var out []string
	for _, l := range ofType(lines, typ) {
		out = append(out, l.str("change", "action")+" "+l.str("change", "resource", "addr"))
	}
	sort.Strings(out)
	return out
}

func summaryOf(t *testing.T, lines []streamLine, op string) [3]int {
	t.Helper()
	for _, l := range ofType(lines, "change_summary") {
		if l.str("changes", "operation") == op {
			a, _ := l.num("changes", "add")
			c, _ := l.num("changes", "change")
			r, _ := l.num("changes", "remove")
			return [3]int{int(a), int(c), int(r)}
		}
	}
	t.Fatalf("no change_summary with operation %s", op)
	return [3]int{}
}

// TestMachineReadableStream drives plan -json, show -json and apply -json
// on a plan with an update, creates, a key replacement, a prune delete and a
// move of many objects, against an emulator over HTTP; then plans with
// errors. Every line must be a Terraform UI message (or a documented b2plan
// one), every change must be announced and counted as Terraform counts, and
// the move's progress must be bounded, not one line per object.
func TestMachineReadableStream(t *testing.T) {
	srv, err := emulator.NewServer(emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	url, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"B2_ENDPOINT=" + url, "B2_APPLICATION_KEY_ID=" + emulator.DefaultKeyID, "B2_APPLICATION_KEY=" + emulator.DefaultKey}
	run := func(wantCode int, args ...string) (string, string) {
		t.Helper()
		var out, errb bytes.Buffer
		if code := RunWithEnv(args, env, strings.NewReader(""), &out, &errb); code != wantCode {
			t.Fatalf("b2plan %s exited %d, want %d:\n%s\n%s", strings.Join(args, " "), code, wantCode, out.String(), errb.String())
		}
		return out.String(), errb.String()
	}
	dir := t.TempDir()
	write := func(name, cfg string) string {
		d := filepath.Join(dir, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "main.hcl"), []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		return d
	}
	owns := "b2plan {\n  owns {\n    buckets = [\"st-*\"]\n    keys = [\"st-*\"]\n  }\n  prune = true\n}\n"
	v1 := write("v1", owns+`
bucket "data" {
  name = "st-data"
}
bucket "old" {
  name = "st-old"
}
key "ci" {
  name         = "st-ci"
  capabilities = ["listBuckets"]
  secret_file  = "ci.env"
}
`)
	run(0, "apply", "-auto-approve", v1)

	const n = 400
	conn, err := b2client.Connect(context.Background(), b2client.Config{Endpoint: url, KeyID: emulator.DefaultKeyID,
		Key: emulator.DefaultKey, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	mut := b2client.NewMutator(conn)
	for i := 0; i < n; i++ {
		if _, err := mut.Upload(context.Background(), "st-data", fmt.Sprintf("in/f%04d", i), "text/plain", []byte(fmt.Sprint(i)), nil); err != nil {
			t.Fatal(err)
		}
	}

	v2 := write("v2", owns+`
bucket "data" {
  name = "st-data"
  type = "allPublic"
}
bucket "new" {
  name = "st-new"
}
key "ci" {
  name         = "st-ci"
  capabilities = ["listBuckets", "listFiles"]
  secret_file  = "ci.env"
}
move "m" {
  bucket = bucket.data.name
  from   = "in/"
  to     = "out/"
}
`)
	wantChanges := []string{"create bucket.new", "delete unmanaged.bucket[\"st-old\"]", "replace key.ci", "update bucket.data", "update move.m"}
	wantCounts := [3]int{2, 2, 2} // new + ci's new key; data + the move; st-old + ci's old key

	// plan -json: the stream.
	out, _ := run(0, "plan", "-json", v2)
	lines := parseStream(t, out)
	if got := changesOf(lines, "planned_change"); strings.Join(got, ",") != strings.Join(wantChanges, ",") {
		t.Errorf("planned changes %v, want %v", got, wantChanges)
	}
	if got := summaryOf(t, lines, "plan"); got != wantCounts {
		t.Errorf("plan change_summary %v, want %v", got, wantCounts)
	}
	reasons := map[string]string{}
	for _, l := range ofType(lines, "planned_change") {
		reasons[l.str("change", "resource", "addr")] = l.str("change", "reason")
	}
	if reasons["key.ci"] != "cannot_update" || reasons[`unmanaged.bucket["st-old"]`] != "delete_because_no_resource_config" || reasons["bucket.data"] != "" {
		t.Errorf("reasons %v", reasons)
	}
	if len(ofType(lines, "resource_drift")) != 1 {
		t.Errorf("want the unmanaged bucket as drift: %v", changesOf(lines, "resource_drift"))
	}

	// The saved plan's document, read by terraform-json.
	planFile := filepath.Join(dir, "p.b2plan")
	run(0, "plan", "-out="+planFile, v2)
	doc, _ := run(0, "show", "-json", planFile)
	var tp tfjson.Plan
	if err := json.Unmarshal([]byte(doc), &tp); err != nil {
		t.Fatal(err)
	}
	if err := tp.Validate(); err != nil {
		t.Fatal(err)
	}
	var docChanges []string
	var docCounts [3]int
	for _, rc := range tp.ResourceChanges {
		a := rc.Change.Actions
		switch {
		case a.Replace():
			docChanges = append(docChanges, "replace "+rc.Address)
			docCounts[0]++
			docCounts[2]++
		case a.Create():
			docChanges = append(docChanges, "create "+rc.Address)
			docCounts[0]++
		case a.Update():
			docChanges = append(docChanges, "update "+rc.Address)
			docCounts[1]++
		case a.Delete():
			docChanges = append(docChanges, "delete "+rc.Address)
			docCounts[2]++
		}
	}
	sort.Strings(docChanges)
	if strings.Join(docChanges, ",") != strings.Join(wantChanges, ",") || docCounts != wantCounts {
		t.Errorf("document: changes %v counts %v, want %v %v", docChanges, docCounts, wantChanges, wantCounts)
	}

	// apply -json of the saved plan.
	out, _ = run(0, "apply", "-json", planFile)
	lines = parseStream(t, out)
	if got := summaryOf(t, lines, "apply"); got != wantCounts {
		t.Errorf("apply change_summary %v, want %v", got, wantCounts)
	}
	if last := lines[len(lines)-1]; last.str("type") != "outputs" {
		t.Errorf("the last line is %s, want outputs", last.str("type"))
	}
	started, completed := map[string]bool{}, map[string]bool{}
	for _, l := range ofType(lines, "apply_start") {
		started[l.str("hook", "action")+" "+l.str("hook", "resource", "addr")] = true
	}
	for _, l := range ofType(lines, "apply_complete") {
		completed[l.str("hook", "action")+" "+l.str("hook", "resource", "addr")] = true
	}
	for _, w := range []string{"create bucket.new", "update bucket.data", "create key.ci", "delete key.ci",
		"update move.m", "delete unmanaged.bucket[\"st-old\"]"} {
		if !started[w] || !completed[w] {
			t.Errorf("%s: apply_start %v, apply_complete %v", w, started[w], completed[w])
		}
	}
	if e := ofType(lines, "apply_errored"); len(e) > 0 {
		t.Errorf("apply_errored: %v", e)
	}
	// Move progress: bounded by time, not by objects.
	var moveLines int
	var first, last time.Time
	for _, l := range lines {
		typ := l.str("type")
		if strings.HasPrefix(typ, "b2plan_move") || (strings.HasPrefix(typ, "apply_") && l.str("hook", "resource", "addr") == "move.m") {
			moveLines++
			ts, _ := time.Parse(time.RFC3339Nano, l.str("@timestamp"))
			if first.IsZero() {
				first = ts
			}
			last = ts
		}
	}
	progress := len(ofType(lines, "b2plan_move_progress"))
	if bound := int(last.Sub(first)/moveProgressEvery) + 1; progress > bound {
		t.Errorf("%d b2plan_move_progress lines over %s: more than one a second", progress, last.Sub(first))
	}
	if moveLines >= n {
		t.Errorf("%d lines for a move of %d objects: one per object", moveLines, n)
	}
	sum := ofType(lines, "b2plan_apply_summary")
	if len(sum) != 1 {
		t.Fatalf("%d b2plan_apply_summary lines", len(sum))
	}
	if moved, _ := sum[0].num("summary", "objects_moved"); int(moved) != n {
		t.Errorf("objects_moved %v, want %d", moved, n)
	}
	// What B2 holds, read independently: every object under out/, none under in/.
	l, err := b2client.Observe(context.Background(), conn, live.Request{Prefixes: []live.PrefixRequest{{BucketName: "st-data"}}})
	if err != nil {
		t.Fatal(err)
	}
	in, moved := 0, 0
	for _, ls := range l.Listings {
		for _, v := range ls.Versions {
			switch {
			case strings.HasPrefix(v.Name, "in/"):
				in++
			case strings.HasPrefix(v.Name, "out/") && v.Action == live.ActionUpload:
				moved++
			}
		}
	}
	if in != 0 || moved != n {
		t.Errorf("B2 holds %d versions under in/ and %d uploads under out/, want 0 and %d", in, moved, n)
	}

	// Nothing left to do: apply -json completes with zero counts.
	out, _ = run(0, "apply", "-json", "-auto-approve", v2)
	lines = parseStream(t, out)
	if got := summaryOf(t, lines, "apply"); got != [3]int{} || len(ofType(lines, "planned_change")) != 0 {
		t.Errorf("converged apply: %v, %d planned changes", got, len(ofType(lines, "planned_change")))
	}

	// Errors: a configuration error, and a plan error (pruning a non-empty
	// bucket). Both are diagnostics in the stream, with no change summary.
	bad := write("bad", owns+"bucket \"x\" {\n  nam = \"st-x\"\n}\n")
	out, _ = run(1, "plan", "-json", bad)
	lines = parseStream(t, out)
	if d := ofType(lines, "diagnostic"); len(d) == 0 || d[0].str("@level") != "error" || d[0].str("diagnostic", "range", "filename") == "" {
		t.Errorf("configuration error: %v", d)
	}
	if len(ofType(lines, "change_summary")) != 0 {
		t.Error("a change_summary for a configuration that does not load")
	}
	prune := write("prune", owns)
	out, _ = run(1, "plan", "-json", prune)
	lines = parseStream(t, out)
	var sawPrune bool
	for _, d := range ofType(lines, "diagnostic") {
		sawPrune = sawPrune || strings.Contains(d.str("diagnostic", "summary"), "Cannot prune non-empty bucket")
	}
	if !sawPrune || len(ofType(lines, "change_summary")) != 0 || len(ofType(lines, "planned_change")) != 0 {
		t.Errorf("errored plan: prune diagnostic %v, %d change_summary, %d planned_change", sawPrune,
			len(ofType(lines, "change_summary")), len(ofType(lines, "planned_change")))
	}
	out, _ = run(1, "apply", "-json", "-auto-approve", prune)
	lines = parseStream(t, out)
	if len(ofType(lines, "apply_start")) != 0 || len(ofType(lines, "diagnostic")) == 0 {
		t.Errorf("apply of an errored plan: %d apply_start, %d diagnostics", len(ofType(lines, "apply_start")), len(ofType(lines, "diagnostic")))
	}
}

// TestStreamMoveProgressBounded feeds a move of 100,000 objects over 100
// seconds of event time (and 5,000 failures) to the stream view: progress
// lines follow event time, at most one b2plan_move_progress a second and one
// apply_progress every 10 seconds, and at most maxStreamObjectLines failure lines;
// the totals stay exact.
func TestStreamMoveProgressBounded(t *testing.T) {
	var out bytes.Buffer
	m := &Meta{Stdout: &out, Stderr: &bytes.Buffer{}}
	v := newStreamView(m)
	p := &planner.Plan{Moves: []*planner.Move{{Address: "move.big", Name: "big", Objects: 100_000, Bytes: 100_000_000,
		Ops: []planner.ObjectOp{{Kind: planner.OpCopy}}}}}
	v.plan(p)
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	v.Event(executor.Event{Kind: executor.MoveStart, Time: t0, Address: "move.big", Action: planner.MoveObjects, Objects: 100_000, Bytes: 100_000_000})
	const n, failEvery = 100_000, 20
	for i := 1; i <= n; i++ {
		e := executor.Event{Kind: executor.ObjectDone, Time: t0.Add(time.Duration(i) * time.Millisecond), Address: "move.big",
			Action: planner.MoveObjects, Object: fmt.Sprintf("in/%d", i), Bytes: 1000, Objects: 1}
		if i%failEvery == 0 {
			e.Kind, e.Bytes, e.Err = executor.ObjectFailed, 0, fmt.Errorf("boom %d", i)
		}
		v.Event(e)
	}
	end := t0.Add(n * time.Millisecond)
	v.Event(executor.Event{Kind: executor.MoveDone, Time: end, Address: "move.big", Action: planner.MoveObjects,
		Objects: n - n/failEvery, Bytes: (n - n/failEvery) * 1000})
	v.finish(executor.Result{Moved: n - n/failEvery, MovedBytes: (n - n/failEvery) * 1000}, fmt.Errorf("%d operations failed", n/failEvery))
	lines := parseStream(t, out.String())
	count := func(typ string) int { return len(ofType(lines, typ)) }
	if got := count("b2plan_move_progress"); got < 90 || got > 101 {
		t.Errorf("%d b2plan_move_progress lines over 100 s of events, want about one a second", got)
	}
	if got := count("apply_progress"); got < 9 || got > 10 {
		t.Errorf("%d apply_progress lines over 100 s, want one every 10 s", got)
	}
	if got := count("b2plan_object_failed"); got != maxStreamObjectLines {
		t.Errorf("%d b2plan_object_failed lines, want the first %d", got, maxStreamObjectLines)
	}
	if len(lines) > 400 {
		t.Errorf("%d lines for %d objects", len(lines), n)
	}
	done := ofType(lines, "b2plan_move_complete")
	if len(done) != 1 {
		t.Fatalf("%d b2plan_move_complete", len(done))
	}
	if f, _ := done[0].num("move", "failed"); int(f) != n/failEvery {
		t.Errorf("failed = %v, want %d", f, n/failEvery)
	}
	if e := ofType(lines, "apply_errored"); len(e) != 1 || e[0].str("hook", "resource", "addr") != "move.big" {
		t.Errorf("a move with failures must end with apply_errored: %v", e)
	}
	cs := ofType(lines, "change_summary")
	if last := cs[len(cs)-1]; last.str("@level") != "error" || !strings.HasPrefix(last.str("@message"), "Apply failed.") {
		t.Errorf("final change_summary of a failed apply: %v", last)
	}
}
