package emulator_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/b2plan/b2plan/emulator"
)

// advance posts to /_b2local/clock and returns the decoded answer.
func advance(t *testing.T, hc *http.Client, base, body string) (int, map[string]any) {
	t.Helper()
	res, err := control(hc, "POST", base+"/_b2local/clock", body)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return res.StatusCode, m
}

// versionsOf lists every version of bucketId (independent raw listing) as
// "name action" strings, newest first per name.
func versionsOf(m *sess, bid string) []string {
	m = master(m.t, m.hc, m.base, m.ver) // tokens expire on the advanced clock
	var out []string
	for _, e := range m.allVersions(bid, "", 1000) {
		out = append(out, e.Name+" "+e.Action)
	}
	return out
}

func TestClockEndpoint(t *testing.T) {
	_, base, hc := startServer(t, emulator.Options{})
	for _, bad := range []string{`{"advance":"-1h"}`, `{"advance":"0s"}`, `{"advance":"abc"}`, `{"advance":"1000000d"}`, `{"advance":"1h","x":1}`, `{}`} {
		if code, m := advance(t, hc, base, bad); code != 400 {
			t.Errorf("advance %s: %d %v, want 400", bad, code, m)
		}
	}
	req, _ := http.NewRequest("POST", base+"/_b2local/clock", nil)
	if res, err := hc.Do(req); err != nil || res.StatusCode != 401 {
		t.Errorf("clock without the master key: %v %v", res, err)
	}
	before := time.Now()
	code, m := advance(t, hc, base, `{"advance":"3d"}`)
	if code != 200 || jnum(m, "offsetMs") != (72*time.Hour).Milliseconds() || jnum(m, "now") < before.Add(72*time.Hour).UnixMilli() {
		t.Fatalf("advance 3d: %d %v", code, m)
	}
	// uploads and tokens use the advanced clock
	s := master(t, hc, base, 3)
	bid := s.bucket(bucketName("clock"))
	up := s.upload(bid, "a.txt", []byte("a"), nil)
	if ts := jnum(up, "uploadTimestamp"); ts < before.Add(72*time.Hour).UnixMilli() {
		t.Errorf("uploadTimestamp %d is not on the advanced clock", ts)
	}
	advance(t, hc, base, `{"advance":"25h"}`) // past the 24 h token lifetime
	if r := s.try("b2_list_buckets", map[string]any{"accountId": s.accountID}); r.Status != 401 {
		t.Errorf("token older than its TTL on the emulated clock: %v", r)
	}
}

// Lifecycle rules hide, delete and cancel as the clock advances; versions
// under retention are kept until it ends; the changes are notified as
// lifecycle events; the clock survives a restart.
func TestLifecycleOnAdvancedClock(t *testing.T) {
	dir := t.TempDir()
	s, base, hc := startServer(t, emulator.Options{Dir: dir})
	h := newHookReceiver(t, hookSecret)
	m := master(t, hc, base, 3)
	one, two := 1, 2
	bid := jstr(m.createBucket(bucketName("life"), "allPrivate", map[string]any{"lifecycleRules": []any{
		map[string]any{"fileNamePrefix": "logs/", "daysFromUploadingToHiding": one, "daysFromHidingToDeleting": one},
		map[string]any{"fileNamePrefix": "tmp/", "daysFromStartingToCancelingUnfinishedLargeFiles": two},
	}}), "bucketId")
	m.call("b2_set_bucket_notification_rules", map[string]any{"bucketId": bid, "eventNotificationRules": []any{
		hookRule("lifecycleWatch", h.srv.URL, "", "b2:ObjectDeleted:LifecycleRule", "b2:HideMarkerCreated:LifecycleRule"),
	}})
	m.upload(bid, "logs/a", []byte("v1"), nil)
	m.upload(bid, "logs/a", []byte("v2"), nil)
	m.upload(bid, "keep/x", []byte("kept"), nil)
	m.call("b2_start_large_file", map[string]any{"bucketId": bid, "fileName": "tmp/big", "contentType": "b2/x-auto"})

	want := func(step string, got []string, exp ...string) {
		t.Helper()
		if jsonOf(got) != jsonOf(exp) {
			t.Errorf("%s: versions %v, want %v", step, got, exp)
		}
	}
	advance(t, hc, base, `{"advance":"12h"}`)
	want("after 12h", versionsOf(m, bid), "keep/x upload", "logs/a upload", "logs/a upload", "tmp/big start")

	_, r := advance(t, hc, base, `{"advance":"1d"}`) // 36 h: v2 hidden, v1 (hidden by v2 for 36 h) deleted
	if jnum(r, "lifecycle", "hidden") != 1 || jnum(r, "lifecycle", "deleted") != 1 {
		t.Errorf("36h: %v", r)
	}
	want("after 36h", versionsOf(m, bid), "keep/x upload", "logs/a hide", "logs/a upload", "tmp/big start")

	_, r = advance(t, hc, base, `{"advance":"2d"}`) // 84 h: v2 and the marker deleted, tmp/big cancelled
	if jnum(r, "lifecycle", "deleted") != 2 || jnum(r, "lifecycle", "canceled") != 1 {
		t.Errorf("84h: %v", r)
	}
	want("after 84h", versionsOf(m, bid), "keep/x upload")
	m = master(t, hc, base, 3)
	if l := m.call("b2_list_unfinished_large_files", map[string]any{"bucketId": bid}); len(jlist(l, "files")) != 0 {
		t.Errorf("unfinished large file survived its rule: %v", l)
	}
	evs := h.waitEvents(4)
	count := map[string]int{}
	for _, e := range evs {
		count[jstr(e, "eventType")]++
	}
	if count["b2:HideMarkerCreated:LifecycleRule"] != 1 || count["b2:ObjectDeleted:LifecycleRule"] != 3 {
		t.Errorf("lifecycle events: %v", count)
	}

	// Object Lock: a version under retention is hidden but kept until its retention ends
	lock := jstr(m.createBucket(bucketName("lifelock"), "allPrivate", map[string]any{"fileLockEnabled": true,
		"lifecycleRules": []any{map[string]any{"fileNamePrefix": "", "daysFromUploadingToHiding": one, "daysFromHidingToDeleting": one}}}), "bucketId")
	m.call("b2_update_bucket", map[string]any{"accountId": m.accountID, "bucketId": lock,
		"defaultRetention": map[string]any{"mode": "governance", "period": map[string]any{"duration": 10, "unit": "days"}}})
	m.upload(lock, "held", []byte("held"), nil)
	advance(t, hc, base, `{"advance":"4d"}`)
	m = master(t, hc, base, 3)
	want("retained after 4d", versionsOf(m, lock), "held hide", "held upload")
	advance(t, hc, base, `{"advance":"8d"}`)
	want("retention over after 12d", versionsOf(m, lock))

	// restart: the clock stays advanced
	_, c := advance(t, hc, base, `{"advance":"1h"}`)
	s.Close()
	_, base, hc = startServer(t, emulator.Options{Dir: dir})
	res, err := control(hc, "GET", base+"/_b2local/clock", "")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var after map[string]any
	_ = json.NewDecoder(res.Body).Decode(&after)
	if jnum(after, "offsetMs") != jnum(c, "offsetMs") || jnum(after, "offsetMs") < (12*24*time.Hour).Milliseconds() {
		t.Errorf("clock after restart %v, before %v", after, c)
	}
	m = master(t, hc, base, 3)
	want("after restart", versionsOf(m, bid), "keep/x upload")
}

// S3 requests are signed with the client's own clock: after an advance
// they are neither skewed nor expired, and S3 uploads are notified.
func TestS3AfterAdvance(t *testing.T) {
	srv, base, hc := startServer(t, emulator.Options{})
	h := newHookReceiver(t, hookSecret)
	m := master(t, hc, base, 3)
	bn := bucketName("s3clock")
	bid := m.bucket(bn)
	m.call("b2_set_bucket_notification_rules", map[string]any{"bucketId": bid, "eventNotificationRules": []any{
		hookRule("s3Watch", h.srv.URL, "", "b2:ObjectCreated:*", "b2:HideMarkerCreated:*"),
	}})
	if code, _ := advance(t, hc, base, `{"advance":"72h"}`); code != 200 {
		t.Fatal("advance")
	}
	c := s3Master(srv, hc)
	putS3(t, c, bn, "s3/a.txt", []byte("via s3"))
	if got := getS3(t, c, bn, "s3/a.txt"); string(got) != "via s3" {
		t.Errorf("GetObject after advance: %q", got)
	}
	evs := h.waitEvents(1)
	if jstr(evs[0], "eventType") != "b2:ObjectCreated:Upload" || jstr(evs[0], "objectName") != "s3/a.txt" ||
		jnum(evs[0], "eventTimestamp") < time.Now().Add(71*time.Hour).UnixMilli() {
		t.Errorf("S3 upload event: %v", evs[0])
	}
}

// A lifecycle run larger than one commit's batch goes on where each commit
// stopped and misses nothing.
func TestLifecycleManyNames(t *testing.T) {
	_, base, hc := startServer(t, emulator.Options{})
	m := master(t, hc, base, 3)
	one := 1
	bid := jstr(m.createBucket(bucketName("lifemany"), "allPrivate", map[string]any{"lifecycleRules": []any{
		map[string]any{"fileNamePrefix": "", "daysFromUploadingToHiding": one, "daysFromHidingToDeleting": one},
	}}), "bucketId")
	const names = 1300
	u := m.getUploadURL(bid)
	for round := 0; round < 2; round++ {
		for i := 0; i < names; i++ {
			if r, err := rawUpload(hc, u, fmt.Sprintf("n%05d", i), []byte{byte(round)}, "", nil); err != nil || r.Status != 200 {
				t.Fatalf("upload: %v %v", r, err)
			}
		}
	}
	_, r := advance(t, hc, base, `{"advance":"36h"}`)
	if jnum(r, "lifecycle", "hidden") != names || jnum(r, "lifecycle", "deleted") != names {
		t.Errorf("36h: %v, want %d hidden and %d deleted", r, names, names)
	}
	_, r = advance(t, hc, base, `{"advance":"2d"}`)
	if jnum(r, "lifecycle", "deleted") != 2*names {
		t.Errorf("84h: %v, want %d deleted", r, 2*names)
	}
	if v := versionsOf(m, bid); len(v) != 0 {
		t.Errorf("%d versions left, e.g. %v", len(v), v[0])
	}
}
