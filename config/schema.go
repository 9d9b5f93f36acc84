package config

import (
	"fmt"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// schema describes what a block body may contain. It is checked once per block, before
// evaluation, so that misspellings are reported even when evaluation fails.
type schema struct {
	attrs    []string
	required []string
	blocks   map[string]*schema
	// once lists nested block types that may appear at most once.
	once []string
	// anyAttrs accepts every attribute (locals).
	anyAttrs bool
}

var topLevel = map[string]int{ // block type → number of labels
	"b2plan": 0, "provider": 1, "variable": 1, "locals": 0,
	"bucket": 1, "key": 1, "folder": 1, "object": 1, "move": 1, "replication": 1, "output": 1, "data": 2, "module": 1,
}

var topLevelNames = []string{"b2plan", "provider", "variable", "locals", "bucket", "key", "folder", "object", "move", "replication", "output", "data", "module"}

var schemas = map[string]*schema{
	"b2plan": {
		attrs:  []string{"prune"},
		blocks: map[string]*schema{"owns": {attrs: []string{"buckets", "keys"}}},
		once:   []string{"owns"},
	},
	"provider": {attrs: []string{"alias", "endpoint", "application_key_id", "application_key"}},
	"variable": {
		attrs: []string{"type", "default", "description", "sensitive", "nullable"},
		blocks: map[string]*schema{"validation": {
			attrs: []string{"condition", "error_message"}, required: []string{"condition", "error_message"},
		}},
	},
	"locals": {anyAttrs: true},
	"module": {anyAttrs: true, required: []string{"source"}},
	"output": {attrs: []string{"value", "description", "sensitive"}, required: []string{"value"}},
	"bucket": {
		attrs: []string{"for_each", "provider", "name", "type", "info", "keep_only_last_version", "encryption", "prevent_destroy", "force_destroy"},
		blocks: map[string]*schema{
			"lifecycle_rule": {attrs: []string{
				"prefix", "days_from_uploading_to_hiding", "days_from_hiding_to_deleting",
				"days_from_starting_to_canceling_unfinished_large_files",
			}},
			"cors_rule": {
				attrs: []string{"name", "allowed_origins", "allowed_operations", "allowed_headers",
					"expose_headers", "max_age_seconds"},
				required: []string{"name", "allowed_origins", "allowed_operations"},
			},
			"object_lock": {
				attrs: []string{"enabled"},
				blocks: map[string]*schema{"default_retention": {
					attrs: []string{"mode", "days", "years"}, required: []string{"mode"},
				}},
				once: []string{"default_retention"},
			},
			"notification_rule": notificationRuleSchema, // notify.go
		},
		once: []string{"object_lock"},
	},
	"key": {attrs: []string{"for_each", "provider", "name", "access", "capabilities", "buckets", "name_prefix",
		"duration", "renew_before", "secret_file"}},
	"folder": {attrs: []string{"for_each", "provider", "bucket", "path"}, required: []string{"bucket", "path"}},
	"object": {attrs: []string{"for_each", "provider", "bucket", "name", "source", "content", "content_type", "info"},
		required: []string{"bucket", "name"}},
	"replication": replicationSchema, // replication.go
	"move": {attrs: []string{"for_each", "provider", "bucket", "from", "to", "to_bucket", "versions", "source", "on_conflict", "verify"},
		required: []string{"bucket", "from", "to"}},
}

// checkBody reports unknown or missing arguments and unknown, duplicated or labelled nested
// blocks. what names the block in messages ("bucket \"assets\"").
func checkBody(body *hclsyntax.Body, s *schema, what string, defRange hcl.Range) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, a := range sortedAttrs(body) {
		if s.anyAttrs || inList(s.attrs, a.Name) {
			continue
		}
		detail := fmt.Sprintf("An argument named %q is not expected in %s.", a.Name, what)
		if _, isBlock := s.blocks[a.Name]; isBlock {
			detail += fmt.Sprintf(" %q is a block: write it as %s { ... } without \"=\".", a.Name, a.Name)
		} else if dym := didYouMean(a.Name, s.attrs); dym != "" {
			detail += dym
		} else if len(s.attrs) > 0 {
			detail += " Valid arguments: " + quoteList(s.attrs) + "."
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError, Summary: "Unsupported argument", Detail: detail, Subject: a.NameRange.Ptr(),
		})
	}
	seen := map[string]*hclsyntax.Block{}
	for _, b := range body.Blocks {
		ns, ok := s.blocks[b.Type]
		if !ok {
			detail := fmt.Sprintf("Blocks of type %q are not expected in %s.", b.Type, what)
			if inList(s.attrs, b.Type) {
				detail += fmt.Sprintf(" %q is an argument: write it as %s = ...", b.Type, b.Type)
			} else {
				names := make([]string, 0, len(s.blocks))
				for n := range s.blocks {
					names = append(names, n)
				}
				sort.Strings(names)
				if dym := didYouMean(b.Type, names); dym != "" {
					detail += dym
				} else if len(names) > 0 {
					detail += " Valid blocks here: " + quoteList(names) + "."
				}
			}
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: "Unsupported block type", Detail: detail, Subject: b.TypeRange.Ptr(),
			})
			continue
		}
		if len(b.Labels) > 0 {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: "Extraneous label",
				Detail:  fmt.Sprintf("A %s block has no labels: remove %q.", b.Type, b.Labels[0]),
				Subject: b.LabelRanges[0].Ptr(),
			})
		}
		if prev, dup := seen[b.Type]; dup && inList(s.once, b.Type) {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: "Duplicate " + b.Type + " block",
				Detail: fmt.Sprintf("Only one %s block is allowed in %s; the first is at %s. Merge them into one.",
					b.Type, what, prev.TypeRange.String()),
				Subject: b.TypeRange.Ptr(),
			})
		}
		seen[b.Type] = b
		diags = append(diags, checkBody(b.Body, ns, b.Type+" block", b.DefRange())...)
	}
	for _, r := range s.required {
		if _, ok := body.Attributes[r]; !ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: "Missing required argument",
				Detail:  fmt.Sprintf("The argument %q is required in %s: add %s = ...", r, what, r),
				Subject: defRange.Ptr(),
			})
		}
	}
	return diags
}

func sortedAttrs(body *hclsyntax.Body) []*hclsyntax.Attribute {
	out := make([]*hclsyntax.Attribute, 0, len(body.Attributes))
	for _, a := range body.Attributes {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SrcRange.Start.Byte < out[j].SrcRange.Start.Byte })
	return out
}

// bodyExprs returns every expression in a body, nested blocks included.
func bodyExprs(body *hclsyntax.Body) []hclsyntax.Expression {
	var out []hclsyntax.Expression
	for _, a := range sortedAttrs(body) {
		out = append(out, a.Expr)
	}
	for _, b := range body.Blocks {
		out = append(out, bodyExprs(b.Body)...)
	}
	return out
}
