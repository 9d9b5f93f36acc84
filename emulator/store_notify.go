package emulator

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// Event notification rules (b2_set/get_bucket_notification_rules) and the
// events store changes emit. Rules live in the bucket's extension record
// (bucketExt, its own bbolt table, signing secrets sealed like key
// secrets); events are collected by the transaction that makes the change
// and handed to delivery (notify.go) and replication only once the change
// is committed.

// Limits of a rule set.
const (
	maxNotifyRules   = 25
	maxCustomHeaders = 10
	maxEventsBatch   = 50
)

// Event types, B2's names. A rule may also name a whole group with "*".
var notifyEventTypes = []string{
	"b2:ObjectCreated:Upload", "b2:ObjectCreated:MultipartUpload", "b2:ObjectCreated:Copy",
	"b2:ObjectCreated:Replica", "b2:ObjectCreated:MultipartReplica",
	"b2:ObjectDeleted:Delete", "b2:ObjectDeleted:LifecycleRule",
	"b2:HideMarkerCreated:Hide", "b2:HideMarkerCreated:LifecycleRule",
}

type nameValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type notifyTarget struct {
	TargetType    string      `json:"targetType"`
	URL           string      `json:"url"`
	CustomHeaders []nameValue `json:"customHeaders"`
	Secret        *string     `json:"hmacSha256SigningSecret"`
}

// notifyRule is one rule as B2 reports it. Rule slices are replaced
// wholesale, never modified in place (transactions undo by swapping them).
type notifyRule struct {
	Name              string       `json:"name"`
	EventTypes        []string     `json:"eventTypes"`
	ObjectNamePrefix  string       `json:"objectNamePrefix"`
	IsEnabled         bool         `json:"isEnabled"`
	IsSuspended       bool         `json:"isSuspended"`
	SuspensionReason  string       `json:"suspensionReason"`
	MaxEventsPerBatch int          `json:"maxEventsPerBatch,omitempty"`
	Target            notifyTarget `json:"targetConfiguration"`
}

// notifyRuleReq is a rule as a request sends it: pointers tell missing
// required fields; isSuspended and suspensionReason are accepted and
// ignored, as B2 does.
type notifyRuleReq struct {
	Name              *string  `json:"name"`
	EventTypes        []string `json:"eventTypes"`
	ObjectNamePrefix  *string  `json:"objectNamePrefix"`
	IsEnabled         *bool    `json:"isEnabled"`
	IsSuspended       any      `json:"isSuspended"`
	SuspensionReason  any      `json:"suspensionReason"`
	MaxEventsPerBatch *int     `json:"maxEventsPerBatch"`
	Target            *struct {
		TargetType    *string     `json:"targetType"`
		URL           *string     `json:"url"`
		CustomHeaders []nameValue `json:"customHeaders"`
		Secret        *string     `json:"hmacSha256SigningSecret"`
	} `json:"targetConfiguration"`
}

// matches reports whether the rule's event types cover typ.
func (r *notifyRule) matches(typ string) bool {
	for _, t := range r.EventTypes {
		if t == typ || (strings.HasSuffix(t, ":*") && strings.HasPrefix(typ, strings.TrimSuffix(t, "*"))) {
			return true
		}
	}
	return false
}

// parseNotifyRules validates a rule set as B2 does: names 6–63 of
// [A-Za-z0-9-], unique, not starting with "b2-"; known event types; a
// webhook target with an https URL (http only for loopback hosts, so tests
// can receive); at most 10 custom headers, none named X-Bz-*; a signing
// secret of 32 letters and digits; maxEventsPerBatch 1–50; and no two rules
// with a common event type whose prefixes overlap.
func parseNotifyRules(reqs []notifyRuleReq) ([]notifyRule, error) {
	if len(reqs) > maxNotifyRules {
		return nil, errBadRequest(fmt.Sprintf("a bucket has at most %d event notification rules, got %d", maxNotifyRules, len(reqs)))
	}
	out := make([]notifyRule, 0, len(reqs))
	seen := map[string]bool{}
	for i, q := range reqs {
		at := fmt.Sprintf("eventNotificationRules[%d]", i)
		switch {
		case q.Name == nil:
			return nil, errBadRequest(at + ": required field name is missing")
		case q.EventTypes == nil:
			return nil, errBadRequest(at + ": required field eventTypes is missing")
		case q.ObjectNamePrefix == nil:
			return nil, errBadRequest(at + `: required field objectNamePrefix is missing ("" for the whole bucket)`)
		case q.IsEnabled == nil:
			return nil, errBadRequest(at + ": required field isEnabled is missing")
		case q.Target == nil:
			return nil, errBadRequest(at + ": required field targetConfiguration is missing")
		}
		r := notifyRule{Name: *q.Name, ObjectNamePrefix: *q.ObjectNamePrefix, IsEnabled: *q.IsEnabled}
		if err := validRuleName(r.Name); err != nil {
			return nil, errBadRequest(at + ": " + err.Error())
		}
		if seen[r.Name] {
			return nil, errBadRequest(fmt.Sprintf("%s: rule name %q is used twice; names must be unique in a bucket", at, r.Name))
		}
		seen[r.Name] = true
		if len(q.EventTypes) == 0 {
			return nil, errBadRequest(at + ": eventTypes must name at least one event type")
		}
		for _, t := range q.EventTypes {
			if !knownEventType(t) {
				return nil, errBadRequest(fmt.Sprintf("%s: unknown event type %q (known: %s and the groups b2:ObjectCreated:*, b2:ObjectDeleted:*, b2:HideMarkerCreated:*)", at, t, strings.Join(notifyEventTypes, ", ")))
			}
		}
		r.EventTypes = append([]string(nil), q.EventTypes...)
		sort.Strings(r.EventTypes)
		if q.MaxEventsPerBatch != nil {
			if *q.MaxEventsPerBatch < 1 || *q.MaxEventsPerBatch > maxEventsBatch {
				return nil, errBadRequest(fmt.Sprintf("%s: maxEventsPerBatch %d must be between 1 and %d", at, *q.MaxEventsPerBatch, maxEventsBatch))
			}
			r.MaxEventsPerBatch = *q.MaxEventsPerBatch
		}
		tg := q.Target
		if tg.TargetType == nil || *tg.TargetType != "webhook" {
			return nil, errBadRequest(at + `: targetConfiguration.targetType must be "webhook"`)
		}
		if tg.URL == nil {
			return nil, errBadRequest(at + ": required field targetConfiguration.url is missing")
		}
		if err := validWebhookURL(*tg.URL); err != nil {
			return nil, errBadRequest(at + ": targetConfiguration.url: " + err.Error())
		}
		r.Target = notifyTarget{TargetType: "webhook", URL: *tg.URL}
		if len(tg.CustomHeaders) > maxCustomHeaders {
			return nil, errBadRequest(fmt.Sprintf("%s: at most %d custom headers", at, maxCustomHeaders))
		}
		hdrSeen := map[string]bool{}
		for _, h := range tg.CustomHeaders {
			if err := validCustomHeader(h); err != nil {
				return nil, errBadRequest(at + ": customHeaders: " + err.Error())
			}
			if hdrSeen[lower(h.Name)] {
				return nil, errBadRequest(fmt.Sprintf("%s: custom header %q is given twice", at, h.Name))
			}
			hdrSeen[lower(h.Name)] = true
		}
		if len(tg.CustomHeaders) > 0 {
			r.Target.CustomHeaders = append([]nameValue(nil), tg.CustomHeaders...)
		}
		if tg.Secret != nil {
			if !validSigningSecret(*tg.Secret) {
				return nil, errBadRequest(at + ": hmacSha256SigningSecret must be 32 letters and digits")
			}
			s := *tg.Secret
			r.Target.Secret = &s
		}
		out = append(out, r)
	}
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			a, b := &out[i], &out[j]
			if !strings.HasPrefix(a.ObjectNamePrefix, b.ObjectNamePrefix) && !strings.HasPrefix(b.ObjectNamePrefix, a.ObjectNamePrefix) {
				continue
			}
			for _, t := range notifyEventTypes {
				if a.matches(t) && b.matches(t) {
					return nil, errBadRequest(fmt.Sprintf("rules %q and %q both cover %s with overlapping objectNamePrefix %q and %q; give them disjoint prefixes or event types", a.Name, b.Name, t, a.ObjectNamePrefix, b.ObjectNamePrefix))
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func knownEventType(t string) bool {
	switch t {
	case "b2:ObjectCreated:*", "b2:ObjectDeleted:*", "b2:HideMarkerCreated:*":
		return true
	}
	for _, k := range notifyEventTypes {
		if k == t {
			return true
		}
	}
	return false
}

func validRuleName(n string) error {
	if len(n) < 6 || len(n) > 63 {
		return fmt.Errorf("rule name %q must be 6 to 63 characters long", n)
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-') {
			return fmt.Errorf("rule name %q may contain only letters, digits and '-'", n)
		}
	}
	if strings.HasPrefix(lower(n), "b2-") {
		return fmt.Errorf("rule name %q: names starting with 'b2-' are reserved", n)
	}
	return nil
}

// validWebhookURL accepts https URLs, and http URLs of loopback hosts (B2
// itself takes https only).
func validWebhookURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil {
		return fmt.Errorf("%q is not an absolute URL without credentials", s)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		h := u.Hostname()
		if ip := net.ParseIP(h); h == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
		return fmt.Errorf("%q: webhooks must use https (b2local also takes http to a loopback host)", s)
	}
	return fmt.Errorf("%q: webhooks must use https", s)
}

func validCustomHeader(h nameValue) error {
	if h.Name == "" {
		return fmt.Errorf("a custom header needs a name")
	}
	for i := 0; i < len(h.Name); i++ {
		c := h.Name[i]
		if c <= ' ' || c >= 0x7f || strings.ContainsRune("()<>@,;:\\\"/[]?={}", rune(c)) {
			return fmt.Errorf("custom header name %q is not a valid HTTP header name", h.Name)
		}
	}
	if strings.HasPrefix(lower(h.Name), "x-bz-") {
		return fmt.Errorf("custom header %q: names starting with X-Bz- are reserved", h.Name)
	}
	if strings.ContainsAny(h.Value, "\r\n\x00") {
		return fmt.Errorf("custom header %q: the value must not contain line breaks", h.Name)
	}
	return nil
}

func validSigningSecret(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
			return false
		}
	}
	return true
}

// ---- store operations ----

// setNotifyRules replaces bucket id's rules. A rule that keeps its name
// keeps nothing else: re-sending a suspended rule clears its suspension
// (that is how a client re-enables it).
func (st *store) setNotifyRules(id string, rules []notifyRule) ([]notifyRule, error) {
	err := st.mutate(func(tx *txn) error {
		b := st.buckets[id]
		if b == nil {
			return errNoBucket(id)
		}
		ext := b.ext
		ext.notify = rules
		tx.setExt(b, ext)
		return nil
	})
	return rules, err
}

// notifyRules returns a copy of bucket id's rules.
func (st *store) notifyRules(id string) ([]notifyRule, error) {
	var out []notifyRule
	err := st.read(func() error {
		b := st.buckets[id]
		if b == nil {
			return errNoBucket(id)
		}
		out = append([]notifyRule{}, b.ext.notify...)
		return nil
	})
	return out, err
}

// suspendRule marks rule name of bucket id suspended (its webhook kept
// failing) when it is still the rule that failed.
func (st *store) suspendRule(id string, r *notifyRule, reason string) error {
	return st.mutate(func(tx *txn) error {
		b := st.buckets[id]
		if b == nil {
			return nil
		}
		rules := append([]notifyRule(nil), b.ext.notify...)
		for i := range rules {
			if rules[i].Name == r.Name && rules[i].Target.URL == r.Target.URL && !rules[i].IsSuspended {
				rules[i].IsSuspended, rules[i].SuspensionReason = true, reason
				ext := b.ext
				ext.notify = rules
				tx.setExt(b, ext)
				return nil
			}
		}
		return nil
	})
}

// ---- bucket extension record ----

// bucketExt holds the bucket settings kept outside the bucket record:
// notification rules and replication.
type bucketExt struct {
	notify []notifyRule
	repl   *replConfig
}

var bktExt = []byte("ext")

type notifyRec struct {
	notifyRule
	Sealed []byte `json:"sealed,omitempty"` // the signing secret, sealed
}

type extRec struct {
	Notify []notifyRec `json:"notify,omitempty"`
	Repl   *replConfig `json:"repl,omitempty"`
}

// setExt replaces b's extension settings.
func (tx *txn) setExt(b *bucket, ext bucketExt) {
	old := b.ext
	b.ext = ext
	if tx.disk() {
		tx.ops = append(tx.ops, tx.st.p.opExt(b))
	}
	tx.onUndo(func() { b.ext = old })
}

func (p *persister) opExt(b *bucket) dbOp {
	if b.ext.notify == nil && b.ext.repl == nil {
		return dbOp{bkt: bktExt, key: []byte(b.ID)}
	}
	var r extRec
	for _, n := range b.ext.notify {
		rec := notifyRec{notifyRule: n}
		if n.Target.Secret != nil {
			rec.Sealed = p.sealSecret(b.ID+"/"+n.Name, *n.Target.Secret)
			rec.Target.Secret = nil
		}
		r.Notify = append(r.Notify, rec)
	}
	r.Repl = b.ext.repl
	val, _ := json.Marshal(r)
	return dbOp{bkt: bktExt, key: []byte(b.ID), val: val}
}

// loadExt reads the extension records of the loaded buckets.
func (p *persister) loadExt(tx *bolt.Tx, st *store) error {
	t := tx.Bucket(bktExt)
	if t == nil {
		return nil
	}
	return t.ForEach(func(k, v []byte) error {
		b := st.buckets[string(k)]
		if b == nil {
			return nil // a deleted bucket's leftover
		}
		var r extRec
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("settings of bucket %s: %w", k, err)
		}
		for _, n := range r.Notify {
			rule := n.notifyRule
			if n.Sealed != nil {
				s, err := p.openSecret(b.ID+"/"+n.Name, n.Sealed)
				if err != nil {
					return err
				}
				rule.Target.Secret = &s
			}
			b.ext.notify = append(b.ext.notify, rule)
		}
		b.ext.repl = r.Repl
		return nil
	})
}

// ---- events ----

// storeEvent is one change a committed transaction reports: to notification
// delivery, and (new versions) to replication.
type storeEvent struct {
	typ      string
	bucketID string
	name     string
	v        version // copy of the version created or removed
	ts       int64
}

// emit records an event of the change being built; typ's last part is
// replaced by "LifecycleRule" for changes the lifecycle makes.
func (tx *txn) emit(typ string, b *bucket, name string, v *version) {
	if tx.lifecycle && (strings.HasPrefix(typ, "b2:ObjectDeleted:") || strings.HasPrefix(typ, "b2:HideMarkerCreated:")) {
		typ = typ[:strings.LastIndexByte(typ, ':')+1] + "LifecycleRule"
	}
	if strings.HasPrefix(typ, "b2:ObjectCreated:") && !strings.HasSuffix(typ, "Replica") {
		tx.markPending(b, name, v)
	}
	ts := v.ts
	if strings.HasPrefix(typ, "b2:ObjectDeleted:") {
		ts = tx.st.nowMs()
	}
	tx.events = append(tx.events, storeEvent{typ: typ, bucketID: b.ID, name: name, v: *v, ts: ts})
}

// afterCommit hands the events of a committed change on.
func (st *store) afterCommit(evs []storeEvent) {
	if len(evs) == 0 {
		return
	}
	st.notifyEvents(evs)
	st.replicateEvents(evs)
}

// errNotifyHTTP words a webhook's answer for a suspension reason.
func errNotifyHTTP(res *http.Response) string {
	return fmt.Sprintf("webhook answered HTTP %d", res.StatusCode)
}
