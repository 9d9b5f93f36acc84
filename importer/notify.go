package importer

import (
	"fmt"
	"sort"
	"strings"

	"github.com/b2plan/b2plan/config"
	"github.com/b2plan/b2plan/live"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// Event notification rules of imported buckets. B2 reports each rule's
// signing secret, but import never writes a secret into configuration: a
// rule with one references a variable declared sensitive = true, generated
// next to the bucket, whose value the user supplies (B2PLAN_VAR_NAME or
// -var). While the generated file is validated, placeholders stand in.

// secretVar is the base name of the variable holding the signing secret of
// rule r of the bucket labelled label.
func secretVar(label, rule string) string {
	clean := func(s string) string {
		return strings.Map(func(c rune) rune {
			if (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') {
				return c
			}
			return '_'
		}, s)
	}
	return strings.ToLower(clean(label) + "_" + clean(rule) + "_signing_secret")
}

// assignSecretVars names the variable of every signing secret of the
// selected buckets once, after the labels: unique (rules "a-b" and "a_b",
// or bucket "x" rule "y_z" and bucket "x_y" rule "z", have one base name),
// and not a variable the configuration joined already declares.
func (g *generator) assignSecretVars() {
	g.secretVars = map[string]string{}
	used := map[string]bool{}
	if d := g.opts.Declared; d != nil {
		for name := range d.Variables {
			used[strings.ToLower(name)] = true
		}
	}
	for _, it := range g.items {
		if it.kind != "bucket" || it.b == nil {
			continue
		}
		for _, r := range g.notifyRules(it.b) {
			if r.Secret == "" {
				continue
			}
			base := secretVar(it.label, r.Name)
			name := base
			for n := 2; used[name]; n++ {
				name = fmt.Sprintf("%s_%d", base, n)
			}
			used[name] = true
			g.secretVars[it.label+"\x00"+r.Name] = name
		}
	}
}

// secretVarOf is the variable of rule's signing secret in the bucket item.
func (g *generator) secretVarOf(it *item, rule string) string {
	return g.secretVars[it.label+"\x00"+rule]
}

// notifyRules are the rules of an imported bucket, sorted by name (nil when
// none or not read).
func (g *generator) notifyRules(b *live.Bucket) []live.NotifyRule {
	rules := append([]live.NotifyRule(nil), g.l.NotifyRules[b.ID]...)
	sort.Slice(rules, func(i, j int) bool { return rules[i].Name < rules[j].Name })
	return rules
}

// notifyVars writes the variable blocks of a bucket's signing secrets.
func (g *generator) notifyVars(file *hclwrite.Body, it *item) {
	for _, r := range g.notifyRules(it.b) {
		if r.Secret == "" {
			continue
		}
		name := g.secretVarOf(it, r.Name)
		vb := file.AppendNewBlock("variable", []string{name}).Body()
		comment(vb, fmt.Sprintf("The signing secret of notification rule %q of bucket %q. B2 holds it;\nb2plan never copies secrets into configuration: set B2PLAN_VAR_%s.", r.Name, it.b.Name, name))
		vb.SetAttributeRaw("type", exprTokens("string"))
		vb.SetAttributeValue("sensitive", cty.True)
		file.AppendNewline()
	}
}

// notifyBlocks writes a bucket's notification_rule blocks.
func (g *generator) notifyBlocks(body *hclwrite.Body, it *item) {
	if g.l.NotifyRules != nil {
		if _, read := g.l.NotifyRules[it.b.ID]; !read {
			comment(body, "notification rules: not readable with the importing key (it lacks\nreadBucketNotifications), so not declared; plan leaves them alone.")
			return
		}
	}
	for _, r := range g.notifyRules(it.b) {
		nb := body.AppendNewBlock("notification_rule", nil).Body()
		if r.Suspended {
			comment(nb, "B2 suspended this rule: "+oneLine(r.SuspensionReason)+"\nThe next plan shows the suspension as drift; apply sends the rule again, which resumes it.")
		}
		nb.SetAttributeValue("name", cty.StringVal(r.Name))
		nb.SetAttributeRaw("event_types", exprTokens(multiLineList(quotedAll(r.EventTypes))))
		if r.Prefix != "" {
			nb.SetAttributeValue("prefix", cty.StringVal(r.Prefix))
		}
		if !r.Enabled {
			nb.SetAttributeValue("enabled", cty.False)
		}
		wb := nb.AppendNewBlock("webhook", nil).Body()
		wb.SetAttributeValue("url", cty.StringVal(r.URL))
		if r.Secret != "" {
			wb.SetAttributeRaw("signing_secret", exprTokens("var."+g.secretVarOf(it, r.Name)))
		}
		if len(r.Headers) > 0 {
			m := map[string]cty.Value{}
			for k, v := range r.Headers {
				m[k] = cty.StringVal(v)
			}
			wb.SetAttributeValue("headers", cty.MapVal(m))
		}
	}
}

// validationVars are the declared variables plus a placeholder for every
// generated signing secret variable, for validating the generated file.
func (g *generator) validationVars() config.VarInputs {
	in := g.opts.DeclaredVars
	in.Vars = append([]string(nil), in.Vars...)
	for _, it := range g.items {
		if it.kind != "bucket" || it.b == nil {
			continue
		}
		for _, r := range g.notifyRules(it.b) {
			if r.Secret != "" {
				in.Vars = append(in.Vars, g.secretVarOf(it, r.Name)+"="+strings.Repeat("0", 32))
			}
		}
	}
	return in
}
