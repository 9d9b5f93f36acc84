package executor_test

import (
	"context"
	"errors"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/b2plan/b2plan/b2client"
	"github.com/b2plan/b2plan/emulator"
	"github.com/b2plan/b2plan/executor"
	"github.com/b2plan/b2plan/planner"
	"github.com/b2plan/b2plan/secretfile"
)

// crashBeforeDelete is a process that dies after the new key of a
// replacement exists with its secret written, before the old key is
// deleted: its DeleteKey never reaches the server.
type crashBeforeDelete struct{ *b2client.Mutator }

func (crashBeforeDelete) DeleteKey(context.Context, string, string) error {
	return errors.New("killed")
}

// rawKeys lists the keys named name with b2_list_keys (an independent
// reader: not b2client's listing), sorted.
func (e *env) rawKeys(name string) []string {
	e.t.Helper()
	out := e.raw("b2_list_keys", map[string]any{"accountId": e.conn.AccountID(), "maxKeyCount": 10000})
	var ids []string
	for _, k := range out["keys"].([]any) {
		km := k.(map[string]any)
		if km["keyName"] == name {
			ids = append(ids, km["applicationKeyId"].(string))
		}
	}
	sort.Strings(ids)
	return ids
}

func secretID(t *testing.T, path string) string {
	t.Helper()
	c, err := secretfile.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	return c.KeyID
}

const keyV1 = `key "ci" {
  name        = "acme-ci"
  access      = "read-only"
  secret_file = "ci.env"
}
`

// An apply killed between creating the new key of a replacement and
// deleting the old one leaves two live keys of one name. The next plan
// tells the current key by the id in secret_file and finishes the
// replacement by deleting the deposed old key; then it is empty.
func TestInterruptedKeyReplacementConverges(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	e.mustApply(e.plan(keyV1), executor.Options{})
	secret := filepath.Join(e.dir, "ci.env")
	oldID := secretID(t, secret)

	v2 := strings.Replace(keyV1, "read-only", "read-write", 1)
	p := e.plan(v2)
	if p.Counts().Replace != 1 {
		t.Fatalf("want a replacement: %s", p.SummaryLine())
	}
	if _, err := (executor.Options{}).Apply(context.Background(), p, crashBeforeDelete{e.m}, nil); err == nil {
		t.Fatal("the crashed apply reported success")
	}
	newID := secretID(t, secret)
	if ids := e.rawKeys("acme-ci"); len(ids) != 2 || newID == oldID {
		t.Fatalf("after the crash: keys %v, secret file %s (old %s)", ids, newID, oldID)
	}

	p, diags := e.planD(e.load(v2))
	if diags.HasErrors() {
		t.Fatalf("re-plan after the crash fails: %v", diags)
	}
	var dels []*planner.Change
	for _, ch := range p.Changes {
		switch {
		case ch.Action == planner.Delete:
			dels = append(dels, ch)
		case ch.Address == "key.ci" && ch.Action != planner.NoOp:
			t.Errorf("key.ci: %s, want no-op (the new key matches)", ch.Action)
		}
	}
	if len(dels) != 1 || dels[0].Key.OldID != oldID || !dels[0].Key.Deposed || !strings.Contains(dels[0].Reason, "interrupted replacement") {
		t.Fatalf("want the old key %s deposed and deleted, got %+v", oldID, dels)
	}
	// A saved plan of it is not stale.
	if err := executor.CheckStale(p, e.observe(executor.StaleRequest(p))); err != nil {
		t.Fatalf("CheckStale: %v", err)
	}
	res := e.mustApply(p, executor.Options{})
	if res.Destroyed != 1 {
		t.Errorf("result %+v", res)
	}
	if ids := e.rawKeys("acme-ci"); len(ids) != 1 || ids[0] != newID {
		t.Fatalf("keys %v, want only %s", ids, newID)
	}
	checkSecretFile(t, secret, newID)
	if p := e.plan(v2); p.HasChanges() {
		t.Errorf("plan after finishing: %s", p.SummaryLine())
	}
}

// Killed after B2 created the new key but before its secret was written:
// the secret file still names the old key, so the new key (whose secret is
// lost) is the deposed one, and the replacement is planned again.
func TestKeyCreatedButSecretNotWritten(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	e.mustApply(e.plan(keyV1), executor.Options{})
	secret := filepath.Join(e.dir, "ci.env")
	oldID := secretID(t, secret)
	orphan, err := e.m.CreateKey(context.Background(), b2client.KeySpec{Name: "acme-ci", Capabilities: []string{"listBuckets", "readFiles", "writeFiles"}})
	if err != nil {
		t.Fatal(err)
	}
	v2 := strings.Replace(keyV1, "read-only", "read-write", 1)
	p := e.plan(v2)
	var acts []string
	for _, ch := range p.Changes {
		acts = append(acts, ch.Action.String()+":"+ch.Key.OldID)
	}
	if strings.Join(acts, ",") != "replace:"+oldID+",delete:"+orphan.Key.ID {
		t.Fatalf("changes %v (old %s, orphan %s)", acts, oldID, orphan.Key.ID)
	}
	if err := executor.CheckStale(p, e.observe(executor.StaleRequest(p))); err != nil {
		t.Fatalf("CheckStale: %v", err)
	}
	e.mustApply(p, executor.Options{})
	ids := e.rawKeys("acme-ci")
	if len(ids) != 1 || ids[0] == oldID || ids[0] == orphan.Key.ID {
		t.Fatalf("keys %v (old %s, orphan %s)", ids, oldID, orphan.Key.ID)
	}
	checkSecretFile(t, secret, ids[0])
	if p := e.plan(v2); p.HasChanges() {
		t.Errorf("plan after finishing: %s", p.SummaryLine())
	}
}

// Two live keys of one name, and a secret file that names neither (or
// is missing): b2plan cannot tell them apart and says why.
func TestTwoKeysWithoutEvidenceFail(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	for i := 0; i < 2; i++ {
		if _, err := e.m.CreateKey(context.Background(), b2client.KeySpec{Name: "acme-ci", Capabilities: []string{"listBuckets"}}); err != nil {
			t.Fatal(err)
		}
	}
	_, diags := e.planD(e.load(keyV1))
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "Two live keys share the name acme-ci") || !strings.Contains(diags.Error(), "holds no key id") {
		t.Fatalf("diags: %v", diags)
	}
	secretfile.Write(filepath.Join(e.dir, "ci.env"), "0000unrelated", "K00x")
	_, diags = e.planD(e.load(keyV1))
	if !strings.Contains(diags.Error(), "holds key id 0000unrelated, which is none of them") {
		t.Fatalf("diags: %v", diags)
	}
	if ids := e.rawKeys("acme-ci"); len(ids) != 2 {
		t.Errorf("keys %v", ids)
	}
}

// lostReplyKeys creates the key, then holds the reply until the call is
// cancelled: the key exists, its secret never reaches b2plan.
type lostReplyKeys struct {
	*b2client.Mutator
	entered chan struct{}
}

func (l *lostReplyKeys) CreateKey(ctx context.Context, s b2client.KeySpec) (b2client.CreatedKey, error) {
	if _, err := l.Mutator.CreateKey(context.Background(), s); err != nil {
		return b2client.CreatedKey{}, err
	}
	close(l.entered)
	<-ctx.Done()
	return b2client.CreatedKey{}, ctx.Err()
}

// A key creation cancelled after an interrupt, whose key B2 created
// anyway, leaves no key without a secret behind: not for a new key, and
// not for the new half of a replacement (the old key stays).
func TestCancelledKeyCreateLeavesNoKey(t *testing.T) {
	for _, replace := range []bool{false, true} {
		e := newEnv(t, emulator.Options{})
		oldID := ""
		if replace {
			e.mustApply(e.plan(keyV1), executor.Options{})
			oldID = secretID(t, filepath.Join(e.dir, "ci.env"))
		}
		p := e.plan(strings.Replace(keyV1, "read-only", "read-write", 1))
		lr := &lostReplyKeys{Mutator: e.m, entered: make(chan struct{})}
		ctx, cancel := context.WithCancel(context.Background())
		go func() { <-lr.entered; cancel() }()
		res, err := (executor.Options{Grace: -1}).Apply(ctx, p, lr, nil)
		if !errors.Is(err, executor.ErrInterrupted) || res.Cancelled != 1 {
			t.Fatalf("replace=%v: %v %+v", replace, err, res)
		}
		ids := e.rawKeys("acme-ci")
		if (replace && (len(ids) != 1 || ids[0] != oldID)) || (!replace && len(ids) != 0) {
			t.Fatalf("replace=%v: keys %v (old %q)", replace, ids, oldID)
		}
		// The next apply completes the job.
		e.mustApply(e.plan(strings.Replace(keyV1, "read-only", "read-write", 1)), executor.Options{})
		if ids := e.rawKeys("acme-ci"); len(ids) != 1 || ids[0] != secretID(t, filepath.Join(e.dir, "ci.env")) {
			t.Fatalf("replace=%v: after the re-run: keys %v", replace, ids)
		}
	}
}

// One live key, and a secret file naming another key: the plan warns
// that the live key's secret is not in the file, and changes nothing.
func TestSecretFileOfAnotherKeyWarns(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	e.mustApply(e.plan(keyV1), executor.Options{})
	id := secretID(t, filepath.Join(e.dir, "ci.env"))
	secretfile.Write(filepath.Join(e.dir, "ci.env"), "0000gone", "K00x")
	p, diags := e.planD(e.load(keyV1))
	if diags.HasErrors() || p.HasChanges() || len(diags) != 1 || diags[0].Summary != "secret_file holds another key" ||
		!strings.Contains(diags[0].Detail, "holds key id 0000gone, but the live key named acme-ci is "+id) {
		t.Fatalf("diags %v, plan %s", diags, p.SummaryLine())
	}
}
