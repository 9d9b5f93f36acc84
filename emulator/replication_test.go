package emulator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"testing"
	"time"

	"github.com/b2plan/b2plan/emulator"
)

// waitStatus polls get_file_info until the version's replicationStatus is
// one of want (10 s at most) and returns it.
func waitStatus(t *testing.T, m *sess, fileID string, want ...string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		f := m.call("b2_get_file_info", map[string]any{"fileId": fileID})
		for _, w := range want {
			if jstr(f, "replicationStatus") == w {
				return f
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("replicationStatus of %s is %q, want one of %v", fileID, jstr(f, "replicationStatus"), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func replRule(name, dst, prefix string, prio int, existing bool) map[string]any {
	return map[string]any{"replicationRuleName": name, "destinationBucketId": dst, "fileNamePrefix": prefix,
		"priority": prio, "isEnabled": true, "includeExistingFiles": existing}
}

// Replication within one account: configuration validated as B2 does;
// new versions (and, with includeExistingFiles, existing ones) appear at the
// destination as replicas with the same bytes and digests, the source goes
// pending → completed (failed when the destination does not accept the
// source key); statuses show in file JSON, listings and download headers,
// and survive a restart.
func TestReplication(t *testing.T) {
	dir := t.TempDir()
	s, base, hc := startServer(t, emulator.Options{Dir: dir})
	h := newHookReceiver(t, hookSecret)
	m := master(t, hc, base, 3)
	src := m.bucket(bucketName("rsrc"))
	dst := m.bucket(bucketName("rdst"))
	orphan := m.bucket(bucketName("rnomap"))
	srcKey, _, _ := m.createKey(map[string]any{"capabilities": []string{"readFiles", "readFileLegalHolds", "readFileRetentions"}, "bucketId": src})
	dstKey, _, _ := m.createKey(map[string]any{"capabilities": []string{"writeFiles", "writeFileLegalHolds", "writeFileRetentions", "deleteFiles"}, "bucketId": dst})
	weakKey, _, _ := m.createKey(map[string]any{"capabilities": []string{"listFiles"}})
	m.call("b2_set_bucket_notification_rules", map[string]any{"bucketId": dst, "eventNotificationRules": []any{
		hookRule("replicaWatch", h.srv.URL, "", "b2:ObjectCreated:*"),
	}})

	update := func(id string, cfg any) resp {
		return m.try("b2_update_bucket", map[string]any{"accountId": m.accountID, "bucketId": id, "replicationConfiguration": cfg})
	}
	source := func(key string, rules ...any) map[string]any {
		return map[string]any{"asReplicationSource": map[string]any{"sourceApplicationKeyId": key, "replicationRules": rules}}
	}
	for what, r := range map[string]resp{
		"unknown source key":       update(src, source("0050000000000000000000000", replRule("rule-a", dst, "", 1, false))),
		"source key cannot read":   update(src, source(weakKey, replRule("rule-a", dst, "", 1, false))),
		"source key other bucket":  update(dst, source(srcKey, replRule("rule-a", orphan, "", 1, false))),
		"no such destination":      update(src, source(srcKey, replRule("rule-a", "000000000000000000000000", "", 1, false))),
		"replicate to itself":      update(src, source(srcKey, replRule("rule-a", src, "", 1, false))),
		"priority 0":               update(src, source(srcKey, replRule("rule-a", dst, "", 0, false))),
		"bad rule name":            update(src, source(srcKey, replRule("rule a", dst, "", 1, false))),
		"no rules":                 update(src, source(srcKey)),
		"mapping to a weak key":    update(dst, map[string]any{"asReplicationDestination": map[string]any{"sourceToDestinationKeyMapping": map[string]any{srcKey: weakKey}}}),
		"mapping to an absent key": update(dst, map[string]any{"asReplicationDestination": map[string]any{"sourceToDestinationKeyMapping": map[string]any{srcKey: "005nothere"}}}),
	} {
		wantErr(t, what, r, 400, "bad_request")
	}
	if r := update(src, map[string]any{}); r.Status != 200 || jsonOf(jget(r.Body, "replicationConfiguration", "value")) != "{}" {
		t.Errorf("empty replicationConfiguration: %v", r)
	}

	old := m.upload(src, "old.txt", []byte("existing before replication"), nil)
	notCovered := m.upload(src, "skip/x.txt", []byte("other rule"), nil) // covered only by a rule without includeExistingFiles
	if r := update(dst, map[string]any{"asReplicationDestination": map[string]any{"sourceToDestinationKeyMapping": map[string]any{srcKey: dstKey}}}); r.Status != 200 {
		t.Fatalf("destination config: %v", r)
	}
	r := update(src, source(srcKey, replRule("all-files", dst, "", 1, true), replRule("to-nowhere", orphan, "fail/", 5, false), replRule("skipped", dst, "skip/", 7, false)))
	if r.Status != 200 || jstr(r.Body, "replicationConfiguration", "value", "asReplicationSource", "sourceApplicationKeyId") != srcKey {
		t.Fatalf("source config: %v", r)
	}

	wantErr(t, "Object Lock on a replication source", m.try("b2_update_bucket", map[string]any{"accountId": m.accountID, "bucketId": src, "fileLockEnabled": true}), 400, "source_replication_conflict")

	data := []byte("replicate me, byte for byte")
	up := m.upload(src, "docs/new.txt", data, map[string]string{"X-Bz-Info-Color": "blue"})
	if jstr(up, "replicationStatus") != "pending" {
		t.Errorf("new upload under a rule: replicationStatus %q, want pending", jstr(up, "replicationStatus"))
	}
	bad := m.upload(src, "fail/x.txt", []byte("no destination key"), nil)
	waitStatus(t, m, jstr(up, "fileId"), "completed")
	waitStatus(t, m, jstr(old, "fileId"), "completed")
	waitStatus(t, m, jstr(bad, "fileId"), "failed")
	if f := m.call("b2_get_file_info", map[string]any{"fileId": jstr(notCovered, "fileId")}); f["replicationStatus"] != nil {
		t.Errorf("existing file of a rule without includeExistingFiles: %v", f["replicationStatus"])
	}

	// the destination, read independently: replicas with the same bytes, digests, info and timestamp
	vs := map[string]map[string]any{}
	for _, f := range jlist(m.call("b2_list_file_versions", map[string]any{"bucketId": dst}), "files") {
		vs[jstr(f, "fileName")] = f.(map[string]any)
	}
	if len(vs) != 2 || vs["docs/new.txt"] == nil || vs["old.txt"] == nil {
		t.Fatalf("destination holds %v, want docs/new.txt and old.txt", vs)
	}
	rep := vs["docs/new.txt"]
	if jstr(rep, "replicationStatus") != "replica" || jstr(rep, "contentSha1") != sha1hex(data) || jstr(rep, "fileInfo", "color") != "blue" ||
		jnum(rep, "uploadTimestamp") != jnum(up, "uploadTimestamp") {
		t.Errorf("replica: %s", jsonOf(rep))
	}
	dn := m.byID(jstr(rep, "fileId"))
	if dn.Status != 200 || !bytes.Equal(dn.Raw, data) || dn.Header.Get("X-Bz-Replication-Status") != "replica" {
		t.Errorf("replica download: %d %q %v", dn.Status, dn.Raw, dn.Header)
	}
	if sh := m.byID(jstr(up, "fileId")).Header.Get("X-Bz-Replication-Status"); sh != "completed" {
		t.Errorf("source download X-Bz-Replication-Status %q", sh)
	}
	evs := h.waitEvents(2)
	for _, e := range evs {
		if jstr(e, "eventType") != "b2:ObjectCreated:Replica" {
			t.Errorf("destination event %v, want b2:ObjectCreated:Replica", e)
		}
	}
	if l := m.allVersions(orphan, "", 100); len(l) != 0 {
		t.Errorf("failed replication left versions at the destination: %v", l)
	}

	// deleting the source version leaves the replica; statuses survive a restart
	m.call("b2_delete_file_version", map[string]any{"fileName": "docs/new.txt", "fileId": jstr(up, "fileId")})
	s.Close()
	_, base, hc = startServer(t, emulator.Options{Dir: dir})
	m = master(t, hc, base, 3)
	if f := m.call("b2_get_file_info", map[string]any{"fileId": jstr(rep, "fileId")}); jstr(f, "replicationStatus") != "replica" {
		t.Errorf("replica after restart: %v", f)
	}
	if f := m.call("b2_get_file_info", map[string]any{"fileId": jstr(bad, "fileId")}); jstr(f, "replicationStatus") != "failed" {
		t.Errorf("failed status after restart: %v", f)
	}
}

// b2sdk (Backblaze's Python SDK) sets replication up with its own request
// format and reads the configuration, statuses and replica back; skipped
// when /usr/bin/python3 has no b2sdk.
func TestReplicationWithB2SDK(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import b2sdk.v2, b2sdk.replication.setting").Run(); err != nil {
		t.Skipf("%s cannot import b2sdk with replication support", py)
	}
	_, base, hc := startServer(t, emulator.Options{})
	m := master(t, hc, base, 3)
	src, dst := bucketName("sdksrc"), bucketName("sdkdst")
	m.bucket(src)
	m.bucket(dst)
	in, _ := json.Marshal(map[string]any{"url": base, "keyId": emulator.DefaultKeyID, "key": emulator.DefaultKey, "src": src, "dst": dst})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "testdata/b2sdk_replication.py")
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.CombinedOutput()
	if err != nil || string(out) != "ok\n" {
		t.Fatalf("b2sdk replication: %v\n%s", err, out)
	}
}

// Versions still pending when b2local stops are replicated after it
// restarts.
func TestReplicationResumesAfterRestart(t *testing.T) {
	dir := t.TempDir()
	s, base, hc := startServer(t, emulator.Options{Dir: dir})
	m := master(t, hc, base, 3)
	src, dst := m.bucket(bucketName("resrc")), m.bucket(bucketName("redst"))
	srcKey, _, _ := m.createKey(map[string]any{"capabilities": []string{"readFiles"}})
	dstKey, _, _ := m.createKey(map[string]any{"capabilities": []string{"writeFiles"}})
	m.call("b2_update_bucket", map[string]any{"accountId": m.accountID, "bucketId": dst, "replicationConfiguration": map[string]any{
		"asReplicationDestination": map[string]any{"sourceToDestinationKeyMapping": map[string]any{srcKey: dstKey}}}})
	m.call("b2_update_bucket", map[string]any{"accountId": m.accountID, "bucketId": src, "replicationConfiguration": map[string]any{
		"asReplicationSource": map[string]any{"sourceApplicationKeyId": srcKey, "replicationRules": []any{replRule("resume", dst, "", 1, false)}}}})
	emulator.StopReplication(s)
	up := m.upload(src, "late.txt", []byte("replicated after the restart"), nil)
	time.Sleep(50 * time.Millisecond)
	if f := m.call("b2_get_file_info", map[string]any{"fileId": jstr(up, "fileId")}); jstr(f, "replicationStatus") != "pending" {
		t.Fatalf("with replication stopped: %v", f)
	}
	s.Close()
	_, base, hc = startServer(t, emulator.Options{Dir: dir})
	m = master(t, hc, base, 3)
	waitStatus(t, m, jstr(up, "fileId"), "completed")
	if fs := jlist(m.call("b2_list_file_names", map[string]any{"bucketId": dst}), "files"); len(fs) != 1 || jstr(fs[0], "fileName") != "late.txt" {
		t.Errorf("destination after restart: %v", fs)
	}
}
