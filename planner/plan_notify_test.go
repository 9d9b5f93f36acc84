package planner

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/b2plan/b2plan/config"
	"github.com/b2plan/b2plan/live"
)

const testSecret = "abcdefghijABCDEFGHIJ0123456789xy"

func notifyDesired() *config.Desired {
	return desired(func(d *config.Desired) {
		d.Buckets = []*config.Bucket{{Address: "bucket.media", Name: "acme-media", Type: "allPrivate", Encryption: "none",
			NotificationRules: []config.NotificationRule{{Name: "on-upload", EventTypes: []string{"b2:ObjectCreated:*"},
				Enabled: true, URL: "https://h.example.com/", SigningSecret: config.NewSecret(testSecret)}}}}
	})
}

func notifyLive(r live.NotifyRule) *live.Live {
	b := liveBucket("acme-media")
	return &live.Live{ObservedBuckets: true, Buckets: []live.Bucket{b},
		NotifyRules: map[string][]live.NotifyRule{b.ID: {r}}}
}

// A rule B2 suspended is drift, shown with B2's reason, and apply re-sends
// it with the secret re-read from B2.
func TestNotifySuspendedIsDrift(t *testing.T) {
	l := notifyLive(live.NotifyRule{Name: "on-upload", EventTypes: []string{"b2:ObjectCreated:*"}, Enabled: true,
		URL: "https://h.example.com/", Secret: testSecret, Suspended: true, SuspensionReason: "webhook answered HTTP 500 (6 attempts)"})
	p, diags := Compute(notifyDesired(), l, opts())
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if got := strings.Join(summary(p), ";"); got != "update bucket.media [notification_rules]" {
		t.Fatalf("plan: %s", got)
	}
	ch := p.Changes[0]
	if !strings.Contains(strings.Join(ch.Notes, "\n"), "suspended by B2: webhook answered HTTP 500 (6 attempts)") {
		t.Errorf("notes: %v", ch.Notes)
	}
	if r := ch.Bucket.Notify.Rules[0]; r.SecretSource != SecretLive {
		t.Errorf("secret source %q, want live", r.SecretSource)
	}
	var buf bytes.Buffer
	RenderHuman(&buf, p, RenderOptions{})
	if !strings.Contains(buf.String(), "is_suspended") || strings.Contains(buf.String(), testSecret) {
		t.Errorf("rendered:\n%s", buf.String())
	}
	// The plan as a file holds no secret, and may be written.
	b, _ := json.Marshal(p)
	if strings.Contains(string(b), testSecret) {
		t.Errorf("plan JSON holds the secret")
	}
	if err := secretsInPlan(p); err != nil {
		t.Errorf("secretsInPlan: %v", err)
	}
}

// Equal rules (event types in another order, same secret) plan nothing;
// rules not declared are removed; a different secret is a change that a
// plan file cannot carry.
func TestNotifyCompare(t *testing.T) {
	same := live.NotifyRule{Name: "on-upload", EventTypes: []string{"b2:ObjectCreated:*"}, Enabled: true,
		URL: "https://h.example.com/", Secret: testSecret}
	p, _ := Compute(notifyDesired(), notifyLive(same), opts())
	if got := strings.Join(summary(p), ";"); got != "no-op bucket.media" {
		t.Errorf("equal rules: %s", got)
	}
	other := same
	other.Secret = "zzzzzzzzzzABCDEFGHIJ0123456789xy"
	p, _ = Compute(notifyDesired(), notifyLive(other), opts())
	if got := strings.Join(summary(p), ";"); got != "update bucket.media [notification_rules]" {
		t.Errorf("other secret: %s", got)
	}
	if err := secretsInPlan(p); err == nil || strings.Contains(err.Error(), testSecret) {
		t.Errorf("secretsInPlan of a changed secret: %v", err)
	}
	d := notifyDesired()
	d.Buckets[0].NotificationRules = nil
	p, _ = Compute(d, notifyLive(same), opts())
	if got := strings.Join(summary(p), ";"); got != "update bucket.media [notification_rules]" || len(p.Changes[0].Bucket.Notify.Rules) != 0 {
		t.Errorf("undeclared rule: %s", got)
	}
	// Not readable (no readBucketNotifications): declared rules are an error.
	l := notifyLive(same)
	l.NotifyRules = nil
	_, diags := Compute(notifyDesired(), l, opts())
	if !strings.Contains(strings.Join(errorsOf(diags), ";"), "Notification rules not readable") {
		t.Errorf("unreadable: %v", diags)
	}
}
