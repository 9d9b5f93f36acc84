package executor_test

import (
	"strings"
	"testing"
	"time"

	"github.com/b2plan/b2plan/b2client"
	"github.com/b2plan/b2plan/emulator"
	"github.com/b2plan/b2plan/executor"
)

// TestLockedCopiesKeepProtection: copies of versions under retention or
// legal hold carry the same retention and legal hold when the destination
// bucket has Object Lock; otherwise the plan warns per object. Locked names
// left under a delete move are remaining work: the plan is never "No
// changes" while they are there. Checked with raw b2_get_file_info.
func TestLockedCopiesKeepProtection(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	e.bucket("acme-src", b2client.BucketSpec{ObjectLock: true})
	lb := e.bucket("acme-locked", b2client.BucketSpec{ObjectLock: true})
	e.bucket("acme-plain", b2client.BucketSpec{})
	until := time.Now().Add(48 * time.Hour).UnixMilli()
	held := e.put("acme-src", "in/held", "h")
	kept := e.put("acme-src", "in/kept", "k")
	e.put("acme-src", "in/free", "f")
	e.raw("b2_update_file_legal_hold", map[string]any{"fileName": held.Name, "fileId": held.ID, "legalHold": "on"})
	e.raw("b2_update_file_retention", map[string]any{"fileName": kept.Name, "fileId": kept.ID,
		"fileRetention": map[string]any{"mode": "governance", "retainUntilTimestamp": until}})

	// Delete move: locked names are left, listed as remaining work.
	p, _ := e.planD(e.load(moveHCL("acme-src", "in/", "out/")))
	if m := p.Moves[0]; m.Remaining() != 2 || !p.HasChanges() || !strings.Contains(p.SummaryLine(), "2 objects remain") {
		t.Errorf("remaining %d, summary %q", m.Remaining(), p.SummaryLine())
	}

	// Into a bucket without Object Lock: warned per object.
	_, diags := e.planD(e.load(moveHCL("acme-src", "in/", "out/", `to_bucket = "acme-plain"`, `source = "hide"`)))
	if s := diags.Error(); !strings.Contains(s, "Copies will be unprotected") || !strings.Contains(s, "in/held") || !strings.Contains(s, "in/kept") || strings.Contains(s, "in/free") {
		t.Errorf("diagnostics: %v", diags)
	}

	// Into a bucket with Object Lock: the copies carry it.
	p, diags = e.planD(e.load(moveHCL("acme-src", "in/", "out/", `to_bucket = "acme-locked"`, `source = "hide"`)))
	if strings.Contains(diags.Error(), "unprotected") || !p.Moves[0].DestObjectLock {
		t.Fatalf("plan: %v (dest lock %v)", diags, p.Moves[0].DestObjectLock)
	}
	e.mustApply(p, executor.Options{})
	n := 0
	for _, v := range e.rawVersions(lb.ID, "out/") {
		n++
		info := e.raw("b2_get_file_info", map[string]any{"fileId": v.ID})
		if !retentionIs(info, v.Name, until) {
			t.Errorf("%s: retention %v, legal hold %v", v.Name, info["fileRetention"], info["legalHold"])
		}
	}
	if n != 3 {
		t.Errorf("%d copies, want 3", n)
	}
}

// retentionIs checks the raw get_file_info reply of a copy.
func retentionIs(info map[string]any, name string, until int64) bool {
	ret, _ := info["fileRetention"].(map[string]any)
	val, _ := ret["value"].(map[string]any)
	hold, _ := info["legalHold"].(map[string]any)
	hv, _ := hold["value"].(string)
	mode, _ := val["mode"].(string)
	ts, _ := val["retainUntilTimestamp"].(float64)
	switch name {
	case "out/held":
		return hv == "on" && mode == ""
	case "out/kept":
		return mode == "governance" && int64(ts) == until && hv != "on"
	}
	return mode == "" && hv != "on"
}
