package planner

import (
	"fmt"
	"sort"
	"strings"

	"github.com/b2plan/b2plan/config"
	"github.com/b2plan/b2plan/live"
)

// Event notification rules of a bucket (docs/configuration.md, "Event
// notification rules"). They are part of the bucket's change: attribute
// notification_rules, written at apply as the whole rule set in one
// b2_set_bucket_notification_rules.
//
// Signing secrets never enter a plan: the planner compares the declared
// secret with the one B2 reports (in memory), and each rule records only
// where apply takes its secret from (SecretSource). A secret that must come
// from the configuration lives in the in-memory plan only, so a plan file
// cannot carry it: WriteFile refuses such a plan (apply directly instead).

// Where apply takes a rule's signing secret from.
const (
	SecretNone   = ""       // unsigned deliveries
	SecretLive   = "live"   // unchanged: apply re-reads it from B2
	SecretConfig = "config" // new or changed: only in the in-memory plan
)

// NotifyChange is the rule set apply writes for a bucket.
type NotifyChange struct {
	Rules []NotifyRule `json:"rules"`
}

// NotifyRule is one desired rule; live.NotifyRule.Secret is never serialised.
type NotifyRule struct {
	live.NotifyRule
	SecretSource string `json:"secret_source,omitempty"`
}

// NeedsConfigSecret reports whether applying the change needs a signing
// secret that only the configuration has.
func (n *NotifyChange) NeedsConfigSecret() bool {
	if n == nil {
		return false
	}
	for _, r := range n.Rules {
		if r.SecretSource == SecretConfig {
			return true
		}
	}
	return false
}

// desiredNotify converts declared rules, sorted by name as B2 keeps them.
func desiredNotify(b *config.Bucket) []live.NotifyRule {
	var out []live.NotifyRule
	for _, r := range b.NotificationRules {
		lr := live.NotifyRule{Name: r.Name, EventTypes: append([]string(nil), r.EventTypes...), Prefix: r.Prefix,
			Enabled: r.Enabled, URL: r.URL, Secret: r.SigningSecret.Reveal()}
		if len(r.Headers) > 0 {
			lr.Headers = map[string]string{}
			for k, v := range r.Headers {
				lr.Headers[k] = v
			}
		}
		sort.Strings(lr.EventTypes)
		out = append(out, lr)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// planNotify compares the declared rules of db with the live ones (lb nil:
// the bucket is created) and records the change in ch. A bucket whose rules
// could not be read (the key lacks readBucketNotifications) and declares
// none is left alone; one that declares rules needs them read.
func (pl *planner) planNotify(db *config.Bucket, ch *Change, lb *live.Bucket) {
	want := desiredNotify(db)
	var have []live.NotifyRule
	read := false
	if lb != nil {
		have, read = pl.l.NotifyRules[lb.ID]
	}
	if lb != nil && !read {
		if len(want) > 0 {
			pl.errorf(rangePtr(db.NotificationRules[0].Range), "Notification rules not readable",
				"%s declares notification rules, but the rules of bucket %q could not be read: the key lacks the capability readBucketNotifications. Use a key that has it.", db.Address, db.Name)
		}
		return
	}
	if len(want) == 0 && len(have) == 0 {
		return
	}
	byName := map[string]*live.NotifyRule{}
	for i := range have {
		byName[have[i].Name] = &have[i]
	}
	nc := &NotifyChange{}
	hidden := false // the rules hold a sensitive value (config.Bucket.Sensitive)
	for _, a := range db.Sensitive {
		hidden = hidden || a == "notification_rules"
	}
	newSecret := map[string]bool{}
	changed := len(want) != len(have)
	for _, w := range want {
		r := NotifyRule{NotifyRule: w}
		h := byName[w.Name]
		switch {
		case w.Secret == "":
			r.SecretSource = SecretNone
		case h != nil && h.Secret == w.Secret:
			r.SecretSource = SecretLive
		default:
			r.SecretSource = SecretConfig
		}
		if h == nil {
			changed = true
		} else {
			if h.Suspended {
				reason := reasonOrNone(h.SuspensionReason)
				if hidden {
					reason = config.SensitiveText // B2's reason may quote the webhook URL
				}
				ch.Notes = append(ch.Notes, fmt.Sprintf("notification rule %q is suspended by B2: %s; apply sends it again, which resumes it", h.Name, reason))
				changed = true
			}
			if !notifyEqual(w, *h) {
				changed = true
			}
			if (w.Secret != "") != (h.Secret != "") || (w.Secret != "" && r.SecretSource == SecretConfig) {
				ch.Notes = append(ch.Notes, fmt.Sprintf("notification rule %q: the signing secret changes", w.Name))
				newSecret[w.Name] = true
				changed = true
			}
		}
		nc.Rules = append(nc.Rules, r)
	}
	for _, h := range have {
		if !hasRule(want, h.Name) {
			changed = true
		}
	}
	if lb != nil {
		ch.Before = append(ch.Before, notifyAttr(have, true, nil))
	}
	ch.After = append(ch.After, notifyAttr(want, false, newSecret))
	if !changed {
		return
	}
	ch.Bucket.Notify = nc
	if lb != nil {
		ch.Changed = append(ch.Changed, "notification_rules")
		if ch.Action == NoOp {
			ch.Action = Update
		}
	}
}

// notifyEqual compares two rules as B2 normalises them (event types
// sorted), suspension and secrets aside.
func notifyEqual(a, b live.NotifyRule) bool {
	if a.Name != b.Name || a.Prefix != b.Prefix || a.Enabled != b.Enabled || a.URL != b.URL ||
		strings.Join(a.EventTypes, "\x00") != strings.Join(b.EventTypes, "\x00") || len(a.Headers) != len(b.Headers) {
		return false
	}
	for k, v := range a.Headers {
		if w, ok := b.Headers[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func hasRule(list []live.NotifyRule, name string) bool {
	for _, r := range list {
		if r.Name == name {
			return true
		}
	}
	return false
}

func reasonOrNone(s string) string {
	if s == "" {
		return "no reason given"
	}
	return s
}

// JSON shape of a rule in the notification_rules attribute. The signing
// secret shows only as config.SensitiveText when set (null when not), and
// is marked sensitive (Attr.SensitivePaths).
type notifyJSON struct {
	Name             string      `json:"name"`
	EventTypes       []string    `json:"event_types"`
	Prefix           string      `json:"prefix"`
	Enabled          bool        `json:"enabled"`
	IsSuspended      bool        `json:"is_suspended"`
	SuspensionReason string      `json:"suspension_reason"`
	Webhook          webhookJSON `json:"webhook"`
}

type webhookJSON struct {
	URL           string            `json:"url"`
	Headers       map[string]string `json:"headers"`
	SigningSecret *string           `json:"signing_secret"`
}

// changedSecretText shows a signing secret that the change replaces.
const changedSecretText = "(sensitive value, changed)"

// notifyAttr renders rules as the notification_rules attribute; the rules
// named in newSecret show changedSecretText.
func notifyAttr(rules []live.NotifyRule, observed bool, newSecret map[string]bool) Attr {
	list := []notifyJSON{}
	var sens []any
	for _, r := range rules {
		j := notifyJSON{Name: r.Name, EventTypes: nonNil(r.EventTypes), Prefix: r.Prefix, Enabled: r.Enabled,
			IsSuspended: observed && r.Suspended, SuspensionReason: r.SuspensionReason,
			Webhook: webhookJSON{URL: r.URL, Headers: r.Headers}}
		if j.Webhook.Headers == nil {
			j.Webhook.Headers = map[string]string{}
		}
		m := map[string]any{}
		if r.Secret != "" {
			t := config.SensitiveText
			if newSecret[r.Name] {
				t = changedSecretText
			}
			j.Webhook.SigningSecret = &t
			m["webhook"] = map[string]bool{"signing_secret": true}
		}
		list = append(list, j)
		sens = append(sens, m)
	}
	a := Attr{Name: "notification_rules", Value: raw(list)}
	if sens != nil {
		a.SensitivePaths = raw(sens)
	}
	return a
}

// notifyRequest names the declared buckets whose rules to read: all of
// them, so that rules removed from the configuration are removed from B2
// (Observe reads them only when the key has readBucketNotifications).
func notifyRequest(d *config.Desired) []string {
	var out []string
	for _, b := range d.Buckets {
		out = append(out, b.Name)
	}
	return out
}

// secretsInPlan refuses to write a plan file that would need a signing
// secret at apply: secrets never go into plan files, and a saved plan is
// applied without the configuration.
func secretsInPlan(p *Plan) error {
	var addrs []string
	for _, ch := range p.Changes {
		if ch.Bucket != nil && ch.Bucket.Notify.NeedsConfigSecret() {
			addrs = append(addrs, ch.Address)
		}
	}
	if len(addrs) == 0 {
		return nil
	}
	return fmt.Errorf("not saving the plan: it sets new webhook signing secrets (notification rules of %s), and b2plan never writes secrets into plan files. Run \"b2plan apply\" on the configuration instead; once the secrets are set, saved plans work again", strings.Join(addrs, ", "))
}

// NotifyCaps are the capabilities applying n needs: writing the rule set,
// and reading it back for the secrets apply re-reads.
func NotifyCaps(n *NotifyChange) []string {
	if n == nil {
		return nil
	}
	caps := []string{"writeBucketNotifications"}
	for _, r := range n.Rules {
		if r.SecretSource == SecretLive {
			return append(caps, "readBucketNotifications")
		}
	}
	return caps
}
