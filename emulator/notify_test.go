package emulator_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/b2plan/b2plan/emulator"
)

// hookReceiver is a webhook endpoint that checks every POST's signature
// with its own HMAC (independent of b2local's code) and records the events.
type hookReceiver struct {
	t      *testing.T
	secret string
	status int // answer; 0 = 200
	mu     sync.Mutex
	events []map[string]any
	posts  int
	hdrs   []http.Header
	badSig int
	srv    *httptest.Server
}

func newHookReceiver(t *testing.T, secret string) *hookReceiver {
	h := &hookReceiver{t: t, secret: secret}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		h.posts++
		h.hdrs = append(h.hdrs, r.Header.Clone())
		if h.secret != "" {
			m := hmac.New(sha256.New, []byte(h.secret))
			m.Write(body)
			if r.Header.Get("X-Bz-Event-Notification-Signature") != "v1="+hex.EncodeToString(m.Sum(nil)) {
				h.badSig++
			}
		}
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			h.t.Errorf("webhook got %s with Content-Type %q", r.Method, r.Header.Get("Content-Type"))
		}
		if h.status != 0 {
			w.WriteHeader(h.status)
			return
		}
		var p struct{ Events []map[string]any }
		if err := json.Unmarshal(body, &p); err != nil {
			h.t.Errorf("webhook body %q: %v", body, err)
		}
		h.events = append(h.events, p.Events...)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// waitEvents waits (up to 10 s) until n events arrived and returns them.
func (h *hookReceiver) waitEvents(n int) []map[string]any {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		h.mu.Lock()
		got := append([]map[string]any(nil), h.events...)
		h.mu.Unlock()
		if len(got) >= n || time.Now().After(deadline) {
			if len(got) < n {
				h.t.Fatalf("webhook received %d events, want %d: %v", len(got), n, got)
			}
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
}

const hookSecret = "abcdefghijklmnopqrstuvwxyz012345"

func hookRule(name, url, prefix string, types ...string) map[string]any {
	return map[string]any{
		"name": name, "eventTypes": types, "objectNamePrefix": prefix, "isEnabled": true,
		"targetConfiguration": map[string]any{
			"targetType": "webhook", "url": url, "hmacSha256SigningSecret": hookSecret,
			"customHeaders": []any{map[string]any{"name": "X-Test-Tag", "value": "tag-1"}},
		},
	}
}

// Rules are validated as B2 does and round-trip through get.
func TestNotificationRulesValidation(t *testing.T) {
	_, base, hc := startServer(t, emulator.Options{})
	m := master(t, hc, base, 3)
	bid := m.bucket(bucketName("notif"))
	set := func(rules ...any) resp {
		if rules == nil {
			rules = []any{}
		}
		return m.try("b2_set_bucket_notification_rules", map[string]any{"bucketId": bid, "eventNotificationRules": rules})
	}
	hook := "http://127.0.0.1:9/hook"
	bad := func(what string, mutate func(r map[string]any)) {
		t.Helper()
		r := hookRule("goodRule", hook, "", "b2:ObjectCreated:*")
		mutate(r)
		wantErr(t, what, set(r), 400, "bad_request")
	}
	bad("short name", func(r map[string]any) { r["name"] = "abc" })
	bad("b2- name", func(r map[string]any) { r["name"] = "b2-rule-x" })
	bad("name with _", func(r map[string]any) { r["name"] = "my_rule_1" })
	bad("unknown event", func(r map[string]any) { r["eventTypes"] = []string{"b2:ObjectCreated:Teleport"} })
	bad("no events", func(r map[string]any) { r["eventTypes"] = []string{} })
	bad("missing isEnabled", func(r map[string]any) { delete(r, "isEnabled") })
	bad("missing prefix", func(r map[string]any) { delete(r, "objectNamePrefix") })
	bad("http to a remote host", func(r map[string]any) {
		jget(r, "targetConfiguration").(map[string]any)["url"] = "http://example.com/hook"
	})
	bad("ftp url", func(r map[string]any) { jget(r, "targetConfiguration").(map[string]any)["url"] = "ftp://127.0.0.1/x" })
	bad("target type", func(r map[string]any) { jget(r, "targetConfiguration").(map[string]any)["targetType"] = "sqs" })
	bad("short secret", func(r map[string]any) {
		jget(r, "targetConfiguration").(map[string]any)["hmacSha256SigningSecret"] = "tooshort"
	})
	bad("X-Bz header", func(r map[string]any) {
		jget(r, "targetConfiguration").(map[string]any)["customHeaders"] = []any{map[string]any{"name": "X-Bz-Evil", "value": "1"}}
	})
	bad("header with newline", func(r map[string]any) {
		jget(r, "targetConfiguration").(map[string]any)["customHeaders"] = []any{map[string]any{"name": "X-A", "value": "a\r\nX-B: b"}}
	})
	bad("batch 0", func(r map[string]any) { r["maxEventsPerBatch"] = 0 })
	wantErr(t, "duplicate names", set(hookRule("sameName", hook, "a/", "b2:ObjectCreated:Upload"), hookRule("sameName", hook, "b/", "b2:ObjectCreated:Upload")), 400, "bad_request")
	wantErr(t, "overlapping prefixes through a wildcard", set(hookRule("ruleOne", hook, "images/", "b2:ObjectCreated:*"), hookRule("ruleTwo", hook, "images/pets/", "b2:ObjectCreated:Copy")), 400, "bad_request")
	wantErr(t, "unknown bucket", m.try("b2_set_bucket_notification_rules", map[string]any{"bucketId": "000000000000000000000000", "eventNotificationRules": []any{}}), 400, "bad_bucket_id")

	// disjoint prefixes, or the same prefix for different types, are fine
	r := set(hookRule("zRule-two", hook, "images/", "b2:ObjectDeleted:*"), hookRule("aRule-one", hook, "images/", "b2:ObjectCreated:*"), hookRule("mRule-three", hook, "docs/", "b2:ObjectCreated:*"))
	if r.Status != 200 {
		t.Fatalf("set: %v", r)
	}
	g := m.call("b2_get_bucket_notification_rules", map[string]any{"bucketId": bid})
	rules := jlist(g, "eventNotificationRules")
	if len(rules) != 3 || jstr(rules[0], "name") != "aRule-one" || jstr(rules[2], "name") != "zRule-two" {
		t.Fatalf("get: rules not sorted by name: %s", jsonOf(g))
	}
	if jget(rules[0], "isSuspended") != false || jstr(rules[0], "suspensionReason") != "" || jstr(rules[0], "targetConfiguration", "hmacSha256SigningSecret") != hookSecret {
		t.Errorf("get: rule fields: %s", jsonOf(rules[0]))
	}

	// capabilities: a key without the notification capabilities is refused
	kid, key, _ := m.createKey(map[string]any{"capabilities": []string{"listBuckets", "readFiles"}})
	k := login(t, hc, base, 3, kid, key)
	wantErr(t, "set without writeBucketNotifications", k.try("b2_set_bucket_notification_rules", map[string]any{"bucketId": bid, "eventNotificationRules": []any{}}), 401, "unauthorized")
	wantErr(t, "get without readBucketNotifications", k.try("b2_get_bucket_notification_rules", map[string]any{"bucketId": bid}), 401, "unauthorized")
	if r := set(); r.Status != 200 || len(jlist(r.Body, "eventNotificationRules")) != 0 {
		t.Errorf("clearing rules: %v", r)
	}
}

func jsonOf(v any) string { b, _ := json.Marshal(v); return string(b) }

// Committed uploads, copies, hides and deletes under a rule's prefix reach
// the webhook, signed, with B2's payload; others do not.
func TestNotificationDelivery(t *testing.T) {
	_, base, hc := startServer(t, emulator.Options{})
	h := newHookReceiver(t, hookSecret)
	m := master(t, hc, base, 3)
	bname := bucketName("deliver")
	bid := m.bucket(bname)
	disabled := hookRule("disabledRule", h.srv.URL+"/hook", "off/", "b2:ObjectCreated:*")
	disabled["isEnabled"] = false
	m.call("b2_set_bucket_notification_rules", map[string]any{"bucketId": bid, "eventNotificationRules": []any{
		hookRule("watchPhotos", h.srv.URL+"/hook", "photos/", "b2:ObjectCreated:*", "b2:ObjectDeleted:*", "b2:HideMarkerCreated:*"),
		disabled,
	}})
	m.upload(bid, "other/skip.txt", []byte("not watched"), nil)
	m.upload(bid, "off/skip.txt", []byte("rule disabled"), nil)
	up := m.upload(bid, "photos/a.jpg", []byte("hello photo"), nil)
	cp := m.call("b2_copy_file", map[string]any{"sourceFileId": jstr(up, "fileId"), "fileName": "photos/b.jpg"})
	hide := m.call("b2_hide_file", map[string]any{"bucketId": bid, "fileName": "photos/a.jpg"})
	m.call("b2_delete_file_version", map[string]any{"fileName": "photos/b.jpg", "fileId": jstr(cp, "fileId")})
	evs := h.waitEvents(4)
	time.Sleep(100 * time.Millisecond) // nothing else may arrive
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.badSig != 0 {
		t.Errorf("%d deliveries had a wrong signature", h.badSig)
	}
	if len(h.events) != 4 {
		t.Fatalf("webhook got %d events, want 4: %v", len(h.events), h.events)
	}
	if h.hdrs[0].Get("X-Test-Tag") != "tag-1" {
		t.Errorf("custom header missing: %v", h.hdrs[0])
	}
	want := map[string][3]any{ // event type → name, version id, size
		"b2:ObjectCreated:Upload":   {"photos/a.jpg", jstr(up, "fileId"), 11.0},
		"b2:ObjectCreated:Copy":     {"photos/b.jpg", jstr(cp, "fileId"), 11.0},
		"b2:HideMarkerCreated:Hide": {"photos/a.jpg", jstr(hide, "fileId"), 0.0},
		"b2:ObjectDeleted:Delete":   {"photos/b.jpg", jstr(cp, "fileId"), 11.0},
	}
	for _, e := range evs {
		w, ok := want[jstr(e, "eventType")]
		if !ok {
			t.Errorf("unexpected event %v", e)
			continue
		}
		delete(want, jstr(e, "eventType"))
		if e["objectName"] != w[0] || e["objectVersionId"] != w[1] || e["objectSize"] != w[2] {
			t.Errorf("event %v: want name %v, version %v, size %v", e, w[0], w[1], w[2])
		}
		if e["bucketId"] != bid || e["bucketName"] != bname || e["accountId"] != m.accountID || e["matchedRuleName"] != "watchPhotos" ||
			e["eventVersion"] != 1.0 || jstr(e, "eventId") == "" || jnum(e, "eventTimestamp") <= 0 {
			t.Errorf("event fields: %v", e)
		}
	}
	if len(want) != 0 {
		t.Errorf("events missing: %v", want)
	}
}

// A webhook that keeps failing gets the retries, then its rule is
// suspended (and stays so across a restart); sending the rule again
// resumes delivery.
func TestNotificationSuspension(t *testing.T) {
	dir := t.TempDir()
	s, base, hc := startServer(t, emulator.Options{Dir: dir})
	emulator.SetNotifyBackoff(s, time.Millisecond, time.Millisecond, time.Millisecond)
	h := newHookReceiver(t, hookSecret)
	h.status = 500
	m := master(t, hc, base, 3)
	bid := m.bucket(bucketName("suspend"))
	rule := hookRule("failingHook", h.srv.URL, "", "b2:ObjectCreated:Upload")
	m.call("b2_set_bucket_notification_rules", map[string]any{"bucketId": bid, "eventNotificationRules": []any{rule}})
	m.upload(bid, "x.txt", []byte("x"), nil)
	var got map[string]any
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		got = m.call("b2_get_bucket_notification_rules", map[string]any{"bucketId": bid})
		if jget(got, "eventNotificationRules", "0", "isSuspended") == true {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	r0 := jget(got, "eventNotificationRules", "0")
	if jget(r0, "isSuspended") != true || !strings.Contains(jstr(r0, "suspensionReason"), "500") {
		t.Fatalf("rule not suspended after failures: %s", jsonOf(got))
	}
	h.mu.Lock()
	if h.posts != 4 {
		t.Errorf("webhook got %d attempts, want 4 (1 + 3 retries)", h.posts)
	}
	h.status = 0
	h.mu.Unlock()
	m.upload(bid, "y.txt", []byte("y"), nil) // suspended: not delivered
	time.Sleep(100 * time.Millisecond)
	h.mu.Lock()
	if h.posts != 4 {
		t.Errorf("a suspended rule was delivered (%d posts)", h.posts)
	}
	h.mu.Unlock()

	// restart: the suspension and the secret persist; no file holds the secret in clear
	s.Close()
	if err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			if b, _ := os.ReadFile(p); strings.Contains(string(b), hookSecret) {
				t.Errorf("%s holds the signing secret in clear", p)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_, base, hc = startServer(t, emulator.Options{Dir: dir})
	m = master(t, hc, base, 3)
	got = m.call("b2_get_bucket_notification_rules", map[string]any{"bucketId": bid})
	r0 = jget(got, "eventNotificationRules", "0")
	if jget(r0, "isSuspended") != true || jstr(r0, "targetConfiguration", "hmacSha256SigningSecret") != hookSecret {
		t.Fatalf("after restart: %s", jsonOf(got))
	}
	m.call("b2_set_bucket_notification_rules", map[string]any{"bucketId": bid, "eventNotificationRules": []any{rule}})
	m.upload(bid, "z.txt", []byte("z"), nil)
	evs := h.waitEvents(1)
	if evs[0]["objectName"] != "z.txt" {
		t.Errorf("after resuming: %v", evs)
	}
}

// A webhook that never answers costs each attempt its deadline, then the
// rule is suspended saying so; API calls are not held up meanwhile.
func TestNotificationUnansweringWebhook(t *testing.T) {
	s, base, hc := startServer(t, emulator.Options{})
	emulator.SetNotifyBackoff(s, time.Millisecond)
	emulator.SetNotifyTimeout(s, 50*time.Millisecond)
	release := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hung.Close()
	defer close(release)
	m := master(t, hc, base, 3)
	bid := m.bucket(bucketName("hung"))
	m.call("b2_set_bucket_notification_rules", map[string]any{"bucketId": bid, "eventNotificationRules": []any{
		hookRule("hungHook", hung.URL, "", "b2:ObjectCreated:*"),
	}})
	for i := 0; i < 20; i++ { // uploads answer at once although the webhook hangs
		m.upload(bid, fmt.Sprintf("f%d", i), []byte("x"), nil)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		g := m.call("b2_get_bucket_notification_rules", map[string]any{"bucketId": bid})
		if r := jget(g, "eventNotificationRules", "0"); jget(r, "isSuspended") == true {
			if !strings.Contains(jstr(r, "suspensionReason"), "did not answer") {
				t.Errorf("suspensionReason %q", jstr(r, "suspensionReason"))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rule with a hung webhook never suspended: %s", jsonOf(g))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
