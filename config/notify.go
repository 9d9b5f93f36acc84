package config

import (
	"fmt"
	"net"
	"net/url"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Event notification rules: the notification_rule blocks of a bucket
// (docs/configuration.md, "Event notification rules"), validated as B2
// validates b2_set_bucket_notification_rules.

// NotificationRule is one notification_rule block.
type NotificationRule struct {
	Name       string
	EventTypes []string // sorted, de-duplicated
	Prefix     string
	Enabled    bool
	URL        string
	// SigningSecret is never displayed; unset = deliveries are not signed.
	SigningSecret Secret
	// Headers are the webhook's custom headers (at most 10).
	Headers map[string]string
	Range   hcl.Range
}

var notificationRuleSchema = &schema{
	attrs:    []string{"name", "event_types", "prefix", "enabled"},
	required: []string{"name", "event_types"},
	blocks: map[string]*schema{"webhook": {
		attrs: []string{"url", "signing_secret", "headers"}, required: []string{"url"},
	}},
	once: []string{"webhook"},
}

// NotificationEventTypes are B2's event type names; a rule may also name a
// whole group (NotificationEventGroups).
var NotificationEventTypes = []string{
	"b2:ObjectCreated:Upload", "b2:ObjectCreated:MultipartUpload", "b2:ObjectCreated:Copy",
	"b2:ObjectCreated:Replica", "b2:ObjectCreated:MultipartReplica",
	"b2:ObjectDeleted:Delete", "b2:ObjectDeleted:LifecycleRule",
	"b2:HideMarkerCreated:Hide", "b2:HideMarkerCreated:LifecycleRule",
}

// NotificationEventGroups are the "*" forms B2 accepts.
var NotificationEventGroups = []string{"b2:ObjectCreated:*", "b2:ObjectDeleted:*", "b2:HideMarkerCreated:*"}

// B2's limits of a bucket's rule set.
const (
	maxNotificationRules = 25
	maxWebhookHeaders    = 10
)

// notificationRule decodes one notification_rule block into bk.
func (l *loader) notificationRule(s *scope, bk *Bucket, b *hclsyntax.Block) {
	r := NotificationRule{Enabled: true, Range: b.DefRange()}
	good := true
	// The name is an identity (plans, notes and errors name the rule): a
	// sensitive value is refused (nest not listed in sensitiveAttrs).
	s.nest = "notification_rule.name"
	name, a, ok := s.str(b.Body, "name", strOpt{required: true})
	s.nest = "notification_rule"
	if a != nil && ok {
		r.Name = name
		if p := notificationRuleNameProblem(name); p != "" {
			s.diag(a.Expr.Range(), "Invalid notification rule name", p)
			good = false
		}
		for _, prev := range bk.NotificationRules {
			if prev.Name == name {
				s.diag(a.Expr.Range(), "Duplicate notification rule name",
					fmt.Sprintf("A notification rule named %q is already declared at %s; names must be unique within a bucket.", name, prev.Range.String()))
				good = false
			}
		}
	} else {
		good = false
	}
	if types, a, ok := s.strList(b.Body, "event_types"); a != nil && ok {
		if len(types) == 0 {
			s.diag(a.Expr.Range(), "Empty event_types", "event_types must name at least one event type, e.g. [\"b2:ObjectCreated:*\"].")
			good = false
		}
		all := append(append([]string(nil), NotificationEventTypes...), NotificationEventGroups...)
		seen := map[string]bool{}
		for i, t := range types {
			if !inList(all, t) {
				s.diag(elemRange(a, i), "Invalid event type",
					fmt.Sprintf("%q is not a B2 event type; use one of %s.%s", t, quoteList(all), didYouMean(t, all)))
				good = false
				continue
			}
			if !seen[t] {
				seen[t] = true
				r.EventTypes = append(r.EventTypes, t)
			}
		}
		sort.Strings(r.EventTypes)
	} else {
		good = false
	}
	if p, a, ok := s.str(b.Body, "prefix", strOpt{}); a != nil && ok {
		r.Prefix = p
		if p != "" {
			if msg := fileNameProblem(p); msg != "" {
				s.diag(a.Expr.Range(), "Invalid notification rule prefix", msg)
				good = false
			}
		}
	}
	if v, a, ok := s.boolean(b.Body, "enabled"); a != nil && ok {
		r.Enabled = v
	}
	var hook *hclsyntax.Block
	for _, nb := range b.Body.Blocks {
		if nb.Type == "webhook" {
			hook = nb
		}
	}
	if hook == nil {
		s.diag(b.DefRange(), "Missing webhook block",
			"A notification rule needs a webhook { url = \"https://...\" } block: B2 delivers events only to webhooks.")
		good = false
	} else if !s.webhook(hook, &r) {
		good = false
	}
	if good {
		bk.NotificationRules = append(bk.NotificationRules, r)
	}
}

// webhook decodes a webhook block into r.
func (s *scope) webhook(b *hclsyntax.Block, r *NotificationRule) bool {
	good := true
	if u, a, ok := s.str(b.Body, "url", strOpt{required: true}); a != nil && ok {
		r.URL = u
		if p := webhookURLProblem(u); p != "" {
			s.diag(a.Expr.Range(), "Invalid webhook url", p)
			good = false
		}
	} else {
		good = false
	}
	nest, before := s.nest, len(s.l.diags)
	s.nest = "notification_rule.signing_secret"
	v, a, ok := s.str(b.Body, "signing_secret", strOpt{})
	s.nest = nest
	if a != nil && !ok && len(s.l.diags) == before {
		a = nil // null: no secret, deliveries unsigned
	}
	if a != nil {
		if ok {
			s.l.secrets[v] = true // whatever its source, it never appears in a message
			r.SigningSecret = NewSecret(v)
			if !validSigningSecret(v) {
				s.diag(a.Expr.Range(), "Invalid signing_secret",
					"B2 takes a signing secret of exactly 32 letters and digits (A-Z, a-z, 0-9). Generate one, e.g. with: openssl rand -hex 16")
				good = false
			}
		} else {
			good = false
		}
		if ok && len(a.Expr.Variables()) == 0 {
			s.l.diags = append(s.l.diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Literal secret in webhook block",
				Detail:  "signing_secret is written in the configuration, where it ends up in version control (b2plan does not display it). Pass it through a variable declared sensitive = true instead.",
				Subject: a.NameRange.Ptr()})
		}
	}
	if h, a, ok := s.strMap(b.Body, "headers", false); a != nil {
		if !ok {
			return false
		}
		if len(h) > maxWebhookHeaders {
			s.diag(a.Expr.Range(), "Too many webhook headers",
				fmt.Sprintf("B2 sends at most %d custom headers to a webhook; this map has %d. Remove some.", maxWebhookHeaders, len(h)))
			good = false
		}
		lower := map[string]string{}
		for _, k := range sortedKeys(h) {
			if p := webhookHeaderProblem(k, h[k]); p != "" {
				s.diag(s.mapItemRange(a, k, true), "Invalid webhook header", p)
				good = false
				continue
			}
			if prev, dup := lower[strings.ToLower(k)]; dup {
				s.diag(s.mapItemRange(a, k, true), "Duplicate webhook header",
					fmt.Sprintf("HTTP header names ignore case, so %q and %q are the same header. Keep one of them.", prev, k))
				good = false
				continue
			}
			lower[strings.ToLower(k)] = k
		}
		if len(h) > 0 {
			r.Headers = h
		}
	}
	return good
}

// checkNotificationRules checks the limits of a bucket's whole rule set.
func (s *scope) checkNotificationRules(bk *Bucket, b *hclsyntax.Block) {
	rules := bk.NotificationRules
	if len(rules) > maxNotificationRules {
		s.diag(b.DefRange(), "Too many notification rules",
			fmt.Sprintf("B2 allows at most %d event notification rules per bucket; %s declares %d.", maxNotificationRules, bk.Address, len(rules)))
		return
	}
	for i := range rules {
		for j := i + 1; j < len(rules); j++ {
			a, c := &rules[i], &rules[j]
			if !strings.HasPrefix(a.Prefix, c.Prefix) && !strings.HasPrefix(c.Prefix, a.Prefix) {
				continue
			}
			for _, t := range NotificationEventTypes {
				if eventCovered(a.EventTypes, t) && eventCovered(c.EventTypes, t) {
					s.diag(c.Range, "Overlapping notification rules",
						fmt.Sprintf("Rules %q and %q both cover %s, and their prefixes %q and %q overlap (one starts with the other); B2 refuses such a rule set. Give them disjoint prefixes or event types.", a.Name, c.Name, t, a.Prefix, c.Prefix))
					return
				}
			}
		}
	}
}

// eventCovered reports whether a list of event types (groups included) covers typ.
func eventCovered(types []string, typ string) bool {
	for _, t := range types {
		if t == typ || (strings.HasSuffix(t, ":*") && strings.HasPrefix(typ, strings.TrimSuffix(t, "*"))) {
			return true
		}
	}
	return false
}

func notificationRuleNameProblem(n string) string {
	if len(n) < 6 || len(n) > 63 {
		return fmt.Sprintf("A notification rule name has 6 to 63 characters; %q has %d.", n, len(n))
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-') {
			return fmt.Sprintf("A notification rule name may contain only letters, digits and '-'; %q has %q.", n, string(c))
		}
	}
	if strings.HasPrefix(strings.ToLower(n), "b2-") {
		return fmt.Sprintf("Names starting with \"b2-\" are reserved by B2; rename %q.", n)
	}
	return ""
}

// webhookURLProblem accepts https URLs, and http URLs of loopback hosts
// (which B2 itself would refuse; b2local takes them so that tests receive).
func webhookURLProblem(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return fmt.Sprintf("%q is not an absolute URL; give one like \"https://hooks.example.com/b2\".", s)
	}
	if u.User != nil {
		return "The webhook URL contains credentials; remove them and send a header instead (headers = { ... })."
	}
	switch u.Scheme {
	case "https":
		return ""
	case "http":
		h := u.Hostname()
		if ip := net.ParseIP(h); h == "localhost" || (ip != nil && ip.IsLoopback()) {
			return ""
		}
	}
	return fmt.Sprintf("B2 delivers events only to https URLs; %q is not one.", s)
}

func webhookHeaderProblem(name, value string) string {
	if name == "" {
		return "A header needs a name."
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c >= 0x7f || strings.ContainsRune("()<>@,;:\\\"/[]?={}", rune(c)) {
			return fmt.Sprintf("%q is not a valid HTTP header name.", name)
		}
	}
	if strings.HasPrefix(strings.ToLower(name), "x-bz-") {
		return fmt.Sprintf("Header names starting with X-Bz- are reserved by B2; rename %q.", name)
	}
	if strings.ContainsAny(value, "\r\n\x00") {
		return fmt.Sprintf("The value of header %q must not contain line breaks.", name)
	}
	return ""
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

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
