package executor_test

import (
	"strings"
	"testing"
	"time"

	"github.com/b2plan/b2plan/emulator"
	"github.com/b2plan/b2plan/executor"
	"github.com/b2plan/b2plan/planner"
)

// destroyPlan plans b2plan destroy of src as the command does (two observations).
func (e *env) destroyPlan(src string) *planner.Plan {
	e.t.Helper()
	d := e.load(src)
	l := e.observe(planner.DestroyRequest(d, e.observe(planner.LiveRequest(d, nil))))
	p, diags := planner.Compute(d, l, planner.Options{Now: time.Now(), Destroy: true})
	if diags.HasErrors() {
		e.t.Fatalf("destroy plan: %v", diags)
	}
	return p
}

const lockedDestroyHCL = `
bucket "b" {
  name          = "destroy-apply"
  force_destroy = true
  object_lock { enabled = true }
}
`

// TestDestroyLockedAfterPlan: a legal hold set between plan and apply stops force_destroy at
// apply with the version named; the other versions are deleted and the bucket is left.
func TestDestroyLockedAfterPlan(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	e.mustApply(e.plan(lockedDestroyHCL), executor.Options{})
	e.put("destroy-apply", "a.txt", "a")
	held := e.put("destroy-apply", "held.txt", "h")
	e.put("destroy-apply", "c.txt", "c")
	p := e.destroyPlan(lockedDestroyHCL)
	if len(p.Changes) != 1 || p.Changes[0].Action != planner.Delete || len(p.Changes[0].Bucket.Empty) != 3 {
		t.Fatalf("destroy plan: %+v", p.Changes)
	}
	e.raw("b2_update_file_legal_hold", map[string]any{"fileName": held.Name, "fileId": held.ID, "legalHold": "on"})

	res, err := e.apply(p, executor.Options{}, nil)
	if err == nil || len(res.Failures) != 1 || res.Destroyed != 0 {
		t.Fatalf("apply over a locked version: err %v, result %+v", err, res)
	}
	msg := res.Failures[0].Err.Error()
	if !strings.Contains(msg, "held.txt ("+held.ID+")") || !strings.Contains(msg, "Object Lock") {
		t.Errorf("failure does not name the locked version: %s", msg)
	}
	vis, _ := e.visible("destroy-apply", "")
	if len(vis) != 1 || vis["held.txt"] == "" {
		t.Errorf("after the failed destroy: %v, want only held.txt", vis)
	}
}

// TestDestroyUploadAfterPlan: a file uploaded after the plan is not deleted; B2 refuses to
// delete the bucket, and the failure says so.
func TestDestroyUploadAfterPlan(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	e.mustApply(e.plan(lockedDestroyHCL), executor.Options{})
	e.put("destroy-apply", "a.txt", "a")
	p := e.destroyPlan(lockedDestroyHCL)
	e.put("destroy-apply", "late.txt", "l")
	res, err := e.apply(p, executor.Options{}, nil)
	if err == nil || len(res.Failures) != 1 {
		t.Fatalf("apply: err %v, result %+v", err, res)
	}
	if msg := res.Failures[0].Err.Error(); !strings.Contains(msg, "non_empty") {
		t.Errorf("failure: %s", msg)
	}
	vis, _ := e.visible("destroy-apply", "")
	if len(vis) != 1 || vis["late.txt"] == "" {
		t.Errorf("after the failed destroy: %v, want only late.txt", vis)
	}
}
