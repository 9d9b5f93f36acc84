package config

import (
	"strings"
	"testing"
)

const goodSecret = "abcdefghijABCDEFGHIJ0123456789xy"

func TestNotificationRuleDecoded(t *testing.T) {
	d := load(t, `
variable "s" {
  type      = string
  sensitive = true
}
bucket "acme-media" {
  notification_rule {
    name        = "on-upload"
    event_types = ["b2:ObjectCreated:Upload", "b2:ObjectCreated:*", "b2:ObjectCreated:Upload"]
    prefix      = "uploads/"
    webhook {
      url            = "https://hooks.example.com/b2"
      signing_secret = var.s
      headers        = { "X-Team" = "web" }
    }
  }
  notification_rule {
    name        = "on-delete"
    event_types = ["b2:ObjectDeleted:*"]
    enabled     = false
    webhook { url = "http://127.0.0.1:9/x" }
  }
}
`, VarInputs{Vars: []string{"s=" + goodSecret}})
	b := d.Buckets[0]
	if len(b.NotificationRules) != 2 {
		t.Fatalf("rules: %+v", b.NotificationRules)
	}
	r := b.NotificationRules[0]
	if r.Name != "on-upload" || strings.Join(r.EventTypes, ",") != "b2:ObjectCreated:*,b2:ObjectCreated:Upload" ||
		r.Prefix != "uploads/" || !r.Enabled || r.SigningSecret.Reveal() != goodSecret || r.Headers["X-Team"] != "web" {
		t.Errorf("rule 0: %+v", r)
	}
	if r2 := b.NotificationRules[1]; r2.Enabled || r2.SigningSecret.IsSet() {
		t.Errorf("rule 1: %+v", r2)
	}
	// A sensitive signing secret marks nothing else sensitive.
	if len(b.Sensitive) != 0 {
		t.Errorf("bucket sensitive attributes: %v", b.Sensitive)
	}
}

func TestNotificationRuleDiagnostics(t *testing.T) {
	rule := func(body string) string {
		return "bucket \"acme-media\" {\n" + body + "\n}\n"
	}
	ok := `webhook { url = "https://h.example.com/" }`
	tests := []struct{ name, src, want string }{
		{"short name", rule(`notification_rule {
  name = "abc"
  event_types = ["b2:ObjectCreated:*"]
  ` + ok + `
}`), "6 to 63 characters"},
		{"reserved name", rule(`notification_rule {
  name = "b2-mine"
  event_types = ["b2:ObjectCreated:*"]
  ` + ok + `
}`), "reserved by B2"},
		{"bad event", rule(`notification_rule {
  name = "on-upload"
  event_types = ["b2:ObjectCreated:Uplaod"]
  ` + ok + `
}`), `Did you mean "b2:ObjectCreated:Upload"?`},
		{"no webhook", rule(`notification_rule {
  name = "on-upload"
  event_types = ["b2:ObjectCreated:*"]
}`), "needs a webhook"},
		{"http url", rule(`notification_rule {
  name = "on-upload"
  event_types = ["b2:ObjectCreated:*"]
  webhook { url = "http://hooks.example.com/" }
}`), "only to https URLs"},
		{"bad secret", rule(`notification_rule {
  name = "on-upload"
  event_types = ["b2:ObjectCreated:*"]
  webhook {
    url = "https://h.example.com/"
    signing_secret = "short-and-bad"
  }
}`), "exactly 32 letters and digits"},
		{"reserved header", rule(`notification_rule {
  name = "on-upload"
  event_types = ["b2:ObjectCreated:*"]
  webhook {
    url = "https://h.example.com/"
    headers = { "X-Bz-Thing" = "1" }
  }
}`), "reserved by B2"},
		{"too many headers", rule(`notification_rule {
  name = "on-upload"
  event_types = ["b2:ObjectCreated:*"]
  webhook {
    url = "https://h.example.com/"
    headers = { a1="1", a2="1", a3="1", a4="1", a5="1", a6="1", a7="1", a8="1", a9="1", a10="1", a11="1" }
  }
}`), "at most 10 custom headers"},
		{"duplicate name", rule(`notification_rule {
  name = "on-upload"
  event_types = ["b2:ObjectCreated:*"]
  prefix = "a/"
  ` + ok + `
}
notification_rule {
  name = "on-upload"
  event_types = ["b2:ObjectCreated:*"]
  prefix = "b/"
  ` + ok + `
}`), "already declared"},
		{"overlap", rule(`notification_rule {
  name = "on-upload"
  event_types = ["b2:ObjectCreated:*"]
  ` + ok + `
}
notification_rule {
  name = "on-upload2"
  event_types = ["b2:ObjectCreated:Copy"]
  prefix = "b/"
  ` + ok + `
}`), "both cover b2:ObjectCreated:Copy"},
		{"two webhooks", rule(`notification_rule {
  name = "on-upload"
  event_types = ["b2:ObjectCreated:*"]
  ` + ok + `
  ` + ok + `
}`), "Only one webhook block"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := LoadSources("/cfg", map[string][]byte{"main.hcl": []byte(tc.src)}, VarInputs{})
			if !diags.HasErrors() || !strings.Contains(dump(diags), tc.want) {
				t.Errorf("want an error containing %q, got:\n%s", tc.want, dump(diags))
			}
		})
	}
}

// A literal or sensitive signing secret never appears in a diagnostic, nor
// in the source snippets diagnostics quote.
func TestSigningSecretNeverInDiagnostics(t *testing.T) {
	src := `bucket "acme-media" {
  notification_rule {
    name        = "on-upload"
    event_types = ["b2:ObjectCreated:Nope"]
    webhook {
      url            = "https://h.example.com/"
      signing_secret = "` + goodSecret + `"
    }
  }
}
`
	d, diags := LoadSources("/cfg", map[string][]byte{"main.hcl": []byte(src)}, VarInputs{})
	text := dump(diags)
	if !strings.Contains(text, "Literal secret in webhook block") || !strings.Contains(text, "Invalid event type") {
		t.Errorf("diagnostics:\n%s", text)
	}
	if strings.Contains(text, goodSecret) {
		t.Errorf("a diagnostic shows the secret:\n%s", text)
	}
	if d == nil || d.Files == nil {
		t.Fatal("no files for snippets")
	}
	for n, f := range d.Files {
		if strings.Contains(string(f.Bytes), goodSecret) {
			t.Errorf("file %s as quoted in snippets shows the secret", n)
		}
	}
}

// A null signing_secret (an unset nullable variable) means unsigned
// deliveries, not a dropped rule.
func TestNotificationRuleNullSecret(t *testing.T) {
	d := load(t, `
variable "s" {
  type      = string
  sensitive = true
  default   = null
}
bucket "acme-media" {
  notification_rule {
    name        = "on-upload"
    event_types = ["b2:ObjectCreated:*"]
    webhook {
      url            = "https://hooks.example.com/b2"
      signing_secret = var.s
    }
  }
}
`, VarInputs{})
	if rules := d.Buckets[0].NotificationRules; len(rules) != 1 || rules[0].SigningSecret.IsSet() {
		t.Fatalf("rules: %+v", rules)
	}
}

// A rule's name is shown in plans, notes and errors: it may not be sensitive.
func TestNotificationRuleSensitiveNameRefused(t *testing.T) {
	src := `
variable "n" {
  type      = string
  sensitive = true
  default   = "hidden-rule"
}
bucket "acme-media" {
  notification_rule {
    name        = var.n
    event_types = ["b2:ObjectCreated:*"]
    webhook { url = "https://hooks.example.com/b2" }
  }
}
`
	_, diags := LoadSources("/cfg", map[string][]byte{"main.hcl": []byte(src)}, VarInputs{})
	if !strings.Contains(dump(diags), "Sensitive value not allowed here") {
		t.Errorf("diags:\n%s", dump(diags))
	}
}
