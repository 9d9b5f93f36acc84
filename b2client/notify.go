package b2client

import (
	"context"
	"fmt"
	"sort"

	"github.com/b2plan/b2plan/live"
)

// Event notification rules: b2_get_bucket_notification_rules and
// b2_set_bucket_notification_rules. The whole rule set of a bucket is
// written in one call (B2 replaces it wholesale).

type notifyHeaderJSON struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type notifyTargetJSON struct {
	TargetType    string             `json:"targetType"`
	URL           string             `json:"url"`
	CustomHeaders []notifyHeaderJSON `json:"customHeaders,omitempty"`
	Secret        *string            `json:"hmacSha256SigningSecret,omitempty"`
}

type notifyRuleJSON struct {
	Name             string           `json:"name"`
	EventTypes       []string         `json:"eventTypes"`
	ObjectNamePrefix string           `json:"objectNamePrefix"`
	IsEnabled        bool             `json:"isEnabled"`
	IsSuspended      *bool            `json:"isSuspended,omitempty"`
	SuspensionReason *string          `json:"suspensionReason,omitempty"`
	Target           notifyTargetJSON `json:"targetConfiguration"`
}

type notifyRulesJSON struct {
	BucketID string           `json:"bucketId"`
	Rules    []notifyRuleJSON `json:"eventNotificationRules"`
}

func (r *notifyRuleJSON) toLive() live.NotifyRule {
	out := live.NotifyRule{Name: r.Name, EventTypes: append([]string(nil), r.EventTypes...), Prefix: r.ObjectNamePrefix,
		Enabled: r.IsEnabled, URL: r.Target.URL}
	sort.Strings(out.EventTypes)
	if r.IsSuspended != nil {
		out.Suspended = *r.IsSuspended
	}
	if r.SuspensionReason != nil {
		out.SuspensionReason = *r.SuspensionReason
	}
	if r.Target.Secret != nil {
		out.Secret = *r.Target.Secret
	}
	for _, h := range r.Target.CustomHeaders {
		if out.Headers == nil {
			out.Headers = map[string]string{}
		}
		out.Headers[h.Name] = h.Value
	}
	return out
}

func notifyToWire(rules []live.NotifyRule) []notifyRuleJSON {
	out := make([]notifyRuleJSON, 0, len(rules))
	for _, r := range rules {
		w := notifyRuleJSON{Name: r.Name, EventTypes: r.EventTypes, ObjectNamePrefix: r.Prefix, IsEnabled: r.Enabled,
			Target: notifyTargetJSON{TargetType: "webhook", URL: r.URL}}
		if w.EventTypes == nil {
			w.EventTypes = []string{}
		}
		if r.Secret != "" {
			s := r.Secret
			w.Target.Secret = &s
		}
		names := make([]string, 0, len(r.Headers))
		for k := range r.Headers {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			w.Target.CustomHeaders = append(w.Target.CustomHeaders, notifyHeaderJSON{k, r.Headers[k]})
		}
		out = append(out, w)
	}
	return out
}

// NotifyRules reads the event notification rules of a bucket (needs
// readBucketNotifications), signing secrets included.
func (c *Conn) NotifyRules(ctx context.Context, bucketID, name string) ([]live.NotifyRule, error) {
	r := struct {
		BucketID string `json:"bucketId"`
	}{bucketID}
	var resp notifyRulesJSON
	if _, err := c.call(ctx, fmt.Sprintf("read notification rules of bucket %q", name), "b2_get_bucket_notification_rules", r, &resp, false); err != nil {
		return nil, err
	}
	out := make([]live.NotifyRule, 0, len(resp.Rules))
	for i := range resp.Rules {
		out = append(out, resp.Rules[i].toLive())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// NotifyRules reads the rules of a bucket (see Conn.NotifyRules).
func (m *Mutator) NotifyRules(ctx context.Context, bucketID, name string) ([]live.NotifyRule, error) {
	return m.c.NotifyRules(ctx, bucketID, name)
}

// SetNotifyRules replaces the whole rule set of a bucket in one
// b2_set_bucket_notification_rules (needs writeBucketNotifications). The
// call is idempotent: a retry writes the same set again.
func (m *Mutator) SetNotifyRules(ctx context.Context, bucketID, name string, rules []live.NotifyRule) error {
	r := struct {
		BucketID string           `json:"bucketId"`
		Rules    []notifyRuleJSON `json:"eventNotificationRules"`
	}{bucketID, notifyToWire(rules)}
	_, err := m.c.call(ctx, fmt.Sprintf("set notification rules of bucket %q", name), "b2_set_bucket_notification_rules", r, nil, false)
	return err
}

// observeNotify reads the rules of the requested buckets that exist, when
// the key may (readBucketNotifications); others are left out of
// out.NotifyRules, which the planner reports as not readable.
func (c *Conn) observeNotify(ctx context.Context, out *live.Live, names []string) error {
	if len(names) == 0 || !c.Allowed().Has("readBucketNotifications") {
		return nil
	}
	type job struct{ id, name string }
	var jobs []job
	seen := map[string]bool{}
	for _, n := range names {
		if b := out.Bucket(n); b != nil && !seen[b.ID] {
			seen[b.ID] = true
			jobs = append(jobs, job{b.ID, b.Name})
		}
	}
	res := make([][]live.NotifyRule, len(jobs))
	sem := make(chan struct{}, listConcurrency)
	errs := make(chan error, len(jobs))
	for i, j := range jobs {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			rules, err := c.NotifyRules(ctx, j.id, j.name)
			res[i] = rules
			errs <- err
		}()
	}
	for range jobs {
		if err := <-errs; err != nil {
			return err
		}
	}
	out.NotifyRules = make(map[string][]live.NotifyRule, len(jobs))
	for i, j := range jobs {
		out.NotifyRules[j.id] = res[i]
	}
	return nil
}

// ObserveNotify adds to l the notification rules of every bucket l holds,
// when the key may read them (readBucketNotifications); import uses it.
func ObserveNotify(ctx context.Context, c *Conn, l *live.Live) error {
	names := make([]string, 0, len(l.Buckets))
	for _, b := range l.Buckets {
		names = append(names, b.Name)
	}
	return c.observeNotify(ctx, l, names)
}
