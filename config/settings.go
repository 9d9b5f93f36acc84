package config

import (
	"fmt"
	"net/url"
	"path"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

func (l *loader) decodeSettings() {
	b := l.settingsBlock
	if b == nil {
		return
	}
	s := l.scope("b2plan", nil, refsOf(bodyExprs(b.Body)))
	l.d.Settings.Range = b.DefRange()
	l.d.Settings.Prune, _, _ = s.boolean(b.Body, "prune")
	for _, ob := range b.Body.Blocks {
		if ob.Type != "owns" {
			continue
		}
		for _, attr := range []string{"buckets", "keys"} {
			globs, a, ok := s.strList(ob.Body, attr)
			if a == nil || !ok {
				continue
			}
			for _, g := range globs {
				if _, err := path.Match(g, ""); err != nil || g == "" {
					s.diag(a.Expr.Range(), "Invalid glob pattern",
						fmt.Sprintf("%q is not a valid glob pattern; use * and ? wildcards, e.g. \"acme-*\".", g))
				}
			}
			if attr == "buckets" {
				l.d.Settings.OwnsBuckets = globs
			} else {
				l.d.Settings.OwnsKeys = globs
			}
		}
	}
}

var endpointSchemes = []string{"https", "http", "b2", "s3", "s3+http", "s3+https", "local"}

func (l *loader) decodeProvider(b *hclsyntax.Block, p *Provider) {
	s := l.scope("provider", nil, refsOf(bodyExprs(b.Body)))
	p.Range = b.DefRange()
	if v, a, ok := s.str(b.Body, "endpoint", strOpt{}); a != nil && ok {
		p.Endpoint = v
		u, err := url.Parse(v)
		switch {
		case err != nil || u.Scheme == "":
			s.diag(a.Expr.Range(), "Invalid endpoint",
				fmt.Sprintf("%q is not a URL. Use https://api.backblazeb2.com, an http(s)://host[:port] serving the B2 native API, b2://, s3://s3.REGION.backblazeb2.com, or local://PATH.", redactURL(v)))
		case !inList(endpointSchemes, u.Scheme):
			s.diag(a.Expr.Range(), "Invalid endpoint",
				fmt.Sprintf("The scheme %q is not supported; use one of %s.%s", u.Scheme, quoteList(endpointSchemes), didYouMean(u.Scheme, endpointSchemes)))
		case u.User != nil:
			if _, hasPw := u.User.Password(); hasPw {
				l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Credentials in endpoint URL",
					Detail:  fmt.Sprintf("The endpoint URL contains an application key. Prefer the environment variables %s and %s, so the secret stays out of the configuration.", EnvName(p.Alias, "APPLICATION_KEY_ID"), EnvName(p.Alias, "APPLICATION_KEY")),
					Subject: a.Expr.Range().Ptr()})
			}
		}
	}
	if v, _, ok := s.str(b.Body, "application_key_id", strOpt{}); ok {
		p.ApplicationKeyID = v
	}
	if v, a, ok := s.str(b.Body, "application_key", strOpt{}); a != nil {
		if ok {
			p.ApplicationKey = NewSecret(v)
			l.secrets[v] = true // whatever its source, the key never appears in a message
		}
		if len(a.Expr.Variables()) == 0 {
			// The literal itself is masked in snippets (maskLiterals); point at the name.
			l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Literal secret in provider block",
				Detail:  fmt.Sprintf("application_key is written in the configuration, where it ends up in version control (b2plan does not display it). Remove it and set the environment variable %s instead, or pass it through a variable declared sensitive = true.", EnvName(p.Alias, "APPLICATION_KEY")),
				Subject: a.NameRange.Ptr()})
		}
	}
}

func redactURL(s string) string {
	if i := strings.Index(s, "@"); i >= 0 {
		if j := strings.Index(s, "://"); j >= 0 && j < i {
			return s[:j+3] + "…@" + s[i+1:]
		}
	}
	return s
}
