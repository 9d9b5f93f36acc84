package config

import (
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// Sensitive values (docs/configuration.md, "Sensitive values").
//
// A variable declared sensitive = true has its value marked with sensitiveMark; marks travel
// through expressions, templates and functions, so every value derived from it is marked too.
// The mark decides, in one place each:
//   - where a sensitive value may go (sensitiveAttrs): only attributes that are not identities;
//     names, bucket references, prefixes of folders and moves, for_each and b2plan settings
//     refuse it with a diagnostic;
//   - what a plan shows: Bucket.Sensitive and Key.Sensitive name the plan attributes to render
//     as "(sensitive value)";
//   - what a message may say: every string a sensitive value had is removed from the text of
//     every diagnostic (redactDiags), and literal secrets are masked in the source bytes that
//     diagnostics quote as snippets (maskedFiles).

// SensitiveText replaces a sensitive value wherever b2plan would otherwise display it.
const SensitiveText = "(sensitive value)"

// sensitiveMark marks values derived from a sensitive variable.
type sensitiveMark struct{}

func isSensitive(v cty.Value) bool { return v.HasMarkDeep(sensitiveMark{}) }

// sensitiveAttrs maps, per block kind, the attributes that may hold a sensitive value to the
// plan attribute that shows them ("" when the plan does not show it). Nested blocks are
// "kind.block". Any attribute not listed refuses sensitive values.
var sensitiveAttrs = map[string]map[string][]string{
	"bucket": {
		"type": {"type"}, "encryption": {"encryption"}, "info": {"info"},
		"keep_only_last_version": {"lifecycle_rules"}, "prevent_destroy": nil, "force_destroy": nil,
		"lifecycle_rule": {"lifecycle_rules"}, "cors_rule": {"cors_rules"}, "object_lock": {"object_lock"},
		// The signing secret is always secret (never shown, whatever its source): it marks nothing.
		"notification_rule": {"notification_rules"}, "notification_rule.signing_secret": nil,
	},
	// Not duration, renew_before, secret_file: plans explain replacements with the durations,
	// and apply reports where it wrote a secret; neither is a secret.
	"key": {
		"access": {"capabilities"}, "capabilities": {"capabilities"}, "name_prefix": {"name_prefix"},
	},
	"provider": {"application_key_id": nil, "application_key": nil},
}

// checkSensitive records a sensitive value of attribute a, or refuses it (false) where
// sensitive values are not allowed.
func (s *scope) checkSensitive(a *hclsyntax.Attribute, v cty.Value) bool {
	if !isSensitive(v) {
		return true
	}
	s.l.addSecrets(v)
	key, name := a.Name, a.Name
	if s.nest != "" {
		key, name = s.nest, s.nest+"."+a.Name
	}
	plan, allowed := sensitiveAttrs[s.kind][key]
	if !allowed {
		what := "This value"
		if s.kind == "bucket" || s.kind == "key" || s.kind == "folder" || s.kind == "move" {
			what = "A " + s.kind + "'s " + a.Name
		}
		s.diag(a.Expr.Range(), "Sensitive value not allowed here",
			what+" cannot come from a variable declared sensitive = true: b2plan shows it in plans, progress and logs, and names, bucket references, prefixes and for_each keys are also visible to anyone who can list the account. Use a variable that is not sensitive, or wrap the expression in nonsensitive(...) if the value is not secret.")
		return false
	}
	if s.sens == nil {
		s.sens = map[string]bool{}
	}
	s.sens[name] = true
	for _, p := range plan {
		s.sens["plan:"+p] = true
	}
	return true
}

// planSensitive lists the plan attributes a scope found sensitive, sorted.
func (s *scope) planSensitive() []string {
	var out []string
	for k := range s.sens {
		if p, ok := strings.CutPrefix(k, "plan:"); ok {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// markExposed marks the attributes other blocks see (bucket.x.info ...) that came from
// sensitive values, so that marks survive references between blocks.
func (s *scope) markExposed(attrs map[string]cty.Value) map[string]cty.Value {
	for name, v := range attrs {
		if s.sens[name] || (name == "capabilities" && s.sens["access"]) || (name == "access" && s.sens["capabilities"]) {
			attrs[name] = v.Mark(sensitiveMark{})
		}
	}
	return attrs
}

// addSecrets records the text of every leaf of a sensitive value, for redactDiags.
func (l *loader) addSecrets(v cty.Value) {
	v, _ = v.UnmarkDeep()
	if !v.IsKnown() || v.IsNull() {
		return
	}
	ty := v.Type()
	switch {
	case ty == cty.String:
		l.secrets[v.AsString()] = true
	case ty == cty.Number:
		l.secrets[v.AsBigFloat().Text('g', -1)] = true
	case ty.IsCollectionType() || ty.IsTupleType() || ty.IsObjectType():
		for it := v.ElementIterator(); it.Next(); {
			k, ev := it.Element()
			if ty.IsMapType() || ty.IsObjectType() {
				l.secrets[k.AsString()] = true
			}
			l.addSecrets(ev)
		}
	}
}

// minRawSecret is the shortest secret removed wherever it appears in a message; shorter ones
// are removed only where quoted ("ab"), so that a one-letter secret does not blank every word.
const minRawSecret = 4

// redactDiags removes every recorded secret from the summaries and details of diags.
func (l *loader) redactDiags(diags hcl.Diagnostics) {
	if len(l.secrets) == 0 {
		return
	}
	list := make([]string, 0, len(l.secrets))
	for s := range l.secrets {
		if s != "" {
			list = append(list, s)
		}
	}
	// Longest first, so that a secret containing another is replaced whole.
	sort.Slice(list, func(i, j int) bool { return len(list[i]) > len(list[j]) })
	var pairs []string
	for _, s := range list {
		pairs = append(pairs, strconv.Quote(s), SensitiveText)
	}
	for _, s := range list {
		if len(s) >= minRawSecret {
			pairs = append(pairs, s, SensitiveText)
		}
	}
	r := strings.NewReplacer(pairs...)
	for _, d := range diags {
		d.Summary = r.Replace(d.Summary)
		d.Detail = r.Replace(d.Detail)
	}
}

// maskLiterals masks, in a copy of file fn shown in snippets, the literal tokens (strings,
// heredocs, numbers) of every assignment NAME = ... whose name is secret; masked bytes become
// '*' so that every offset stays valid. It works on tokens, so a file that does not parse is
// masked too.
func (l *loader) maskLiterals(fn string, src []byte, secret func(name string) bool) {
	toks, _ := hclsyntax.LexConfig(src, fn, hcl.InitialPos)
	depth := 0
	inValue, valueDepth := false, 0
	for i, t := range toks {
		switch t.Type {
		case hclsyntax.TokenOBrace, hclsyntax.TokenOBrack, hclsyntax.TokenOParen, hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl:
			depth++
		case hclsyntax.TokenCBrace, hclsyntax.TokenCBrack, hclsyntax.TokenCParen, hclsyntax.TokenTemplateSeqEnd:
			depth--
			if inValue && depth < valueDepth {
				inValue = false
			}
		case hclsyntax.TokenNewline, hclsyntax.TokenEOF:
			if inValue && depth <= valueDepth {
				inValue = false
			}
		case hclsyntax.TokenIdent:
			if !inValue && i+1 < len(toks) && toks[i+1].Type == hclsyntax.TokenEqual && secret(string(t.Bytes)) {
				inValue, valueDepth = true, depth
			}
		case hclsyntax.TokenQuotedLit, hclsyntax.TokenStringLit, hclsyntax.TokenNumberLit:
			if inValue {
				l.mask = append(l.mask, t.Range)
			}
		}
	}
}

// maskedFiles returns files with the ranges of l.mask overwritten by '*' (newlines kept).
func (l *loader) maskedFiles(files map[string]*hcl.File) map[string]*hcl.File {
	out := make(map[string]*hcl.File, len(files))
	for n, f := range files {
		out[n] = f
	}
	for _, r := range l.mask {
		f := out[r.Filename]
		if f == nil || r.Start.Byte < 0 || r.End.Byte > len(f.Bytes) || r.Start.Byte > r.End.Byte {
			continue
		}
		if f == files[r.Filename] { // first mask in this file: copy it
			f = &hcl.File{Body: f.Body, Bytes: append([]byte(nil), f.Bytes...), Nav: f.Nav}
			out[r.Filename] = f
		}
		for i := r.Start.Byte; i < r.End.Byte; i++ {
			if c := f.Bytes[i]; c != '\n' && c != '\r' && c != '"' {
				f.Bytes[i] = '*'
			}
		}
	}
	return out
}

// removeMark returns v without mark m anywhere, keeping its other marks.
func removeMark(v cty.Value, m any) cty.Value {
	v, pvms := v.UnmarkDeepWithPaths()
	for i := range pvms {
		if _, has := pvms[i].Marks[m]; has {
			marks := cty.ValueMarks{}
			for k := range pvms[i].Marks {
				if k != m {
					marks[k] = struct{}{}
				}
			}
			pvms[i].Marks = marks
		}
	}
	return v.MarkWithPaths(pvms)
}

// sensitiveFunc and nonsensitiveFunc are Terraform's sensitive(v) and nonsensitive(v).
var sensitiveFunc = function.New(&function.Spec{
	Description: "Marks a value as sensitive: b2plan never displays it.",
	Params: []function.Parameter{{Name: "value", Type: cty.DynamicPseudoType, AllowUnknown: true,
		AllowNull: true, AllowMarked: true, AllowDynamicType: true}},
	Type: func(args []cty.Value) (cty.Type, error) { return args[0].Type(), nil },
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		return args[0].Mark(sensitiveMark{}), nil
	},
})

var nonsensitiveFunc = function.New(&function.Spec{
	Description: "Removes the sensitive mark from a value that is not secret.",
	Params: []function.Parameter{{Name: "value", Type: cty.DynamicPseudoType, AllowUnknown: true,
		AllowNull: true, AllowMarked: true, AllowDynamicType: true}},
	Type: func(args []cty.Value) (cty.Type, error) { return args[0].Type(), nil },
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		return removeMark(args[0], sensitiveMark{}), nil
	},
})
