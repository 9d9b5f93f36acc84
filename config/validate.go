package config

import (
	"fmt"
	"os"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// validateAll runs the checks that span several items.
func (l *loader) validateAll() {
	// The same bucket name twice (B2 compares bucket names case-insensitively).
	seenB := map[string]*Bucket{}
	for _, b := range l.d.Buckets {
		if _, ok := l.nameRng[b.Address]; !ok {
			continue
		}
		k := strings.ToLower(b.Name)
		if prev, dup := seenB[k]; dup {
			l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate bucket name",
				Detail: fmt.Sprintf("%s and %s (at %s) both declare the bucket %q (bucket names compare case-insensitively). Give each block its own name.%s",
					b.Address, prev.Address, l.nameRng[prev.Address].String(), b.Name, forEachHint(b.Address)),
				Subject: l.rngPtr(b.Address)})
			continue
		}
		seenB[k] = b
	}
	seenK := map[string]*Key{}
	for _, key := range l.d.Keys {
		if _, ok := l.nameRng[key.Address]; !ok {
			continue
		}
		if prev, dup := seenK[key.Name]; dup {
			l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate key name",
				Detail: fmt.Sprintf("%s and %s (at %s) both declare the key %q; b2plan identifies keys by name. Give each block its own name.%s",
					key.Address, prev.Address, l.nameRng[prev.Address].String(), key.Name, forEachHint(key.Address)),
				Subject: l.rngPtr(key.Address)})
			continue
		}
		seenK[key.Name] = key
	}
	l.validateSecretFiles()
	// Moves must not touch each other's prefixes.
	type end struct {
		bucket, prefix, attr string
	}
	ends := func(m *Move) []end {
		return []end{{m.Bucket, m.From, "from"}, {m.ToBucket, m.To, "to"}}
	}
	for i, m := range l.d.Moves {
		if l.badMove[m.Address] {
			continue
		}
	outer:
		for _, prev := range l.d.Moves[:i] {
			if l.badMove[prev.Address] {
				continue
			}
			for _, e := range ends(m) {
				for _, pe := range ends(prev) {
					if !strings.EqualFold(e.bucket, pe.bucket) {
						continue
					}
					if strings.HasPrefix(e.prefix, pe.prefix) || strings.HasPrefix(pe.prefix, e.prefix) {
						l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Overlapping moves",
							Detail: fmt.Sprintf("%s.%s %q overlaps %s.%s %q (at %s) in bucket %q: two moves must not touch the same objects. Combine them into one move or use disjoint prefixes.",
								m.Address, e.attr, e.prefix, prev.Address, pe.attr, pe.prefix, l.nameRng[prev.Address+"#"+pe.attr].String(), e.bucket),
							Subject: l.rngPtr(m.Address + "#" + e.attr)})
						break outer
					}
				}
			}
		}
	}
}

// validateSecretFiles rejects two keys writing the same secret_file: the
// second key's secret would overwrite the first's.
func (l *loader) validateSecretFiles() {
	type seen struct {
		key *Key
		st  os.FileInfo // nil when the file does not exist (yet)
	}
	var prev []seen
	for _, key := range l.d.Keys {
		if key.SecretFile == "" {
			continue
		}
		st, _ := os.Stat(key.SecretFile)
		var first *Key
		for _, p := range prev {
			if p.key.SecretFile == key.SecretFile || (st != nil && p.st != nil && os.SameFile(st, p.st)) {
				first = p.key
				break
			}
		}
		if first == nil {
			prev = append(prev, seen{key, st})
			continue
		}
		hint := forEachHint(key.Address)
		if hint != "" {
			hint = " With for_each, derive the path from each.key, e.g. secret_file = \"secrets/${each.key}.env\"."
		}
		l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate secret_file",
			Detail: fmt.Sprintf("%s and %s (at %s) both write their key's id and secret to %s: the second secret written would overwrite the first, which could then never be recovered. Give each key its own secret_file.%s",
				key.Address, first.Address, l.rangeOr(first.Address+"#secret_file", first.Range), key.SecretFile, hint),
			Subject: l.rngOrPtr(key.Address+"#secret_file", key.Range)})
	}
}

func (l *loader) rangeOr(k string, def hcl.Range) string {
	if r, ok := l.nameRng[k]; ok {
		return r.String()
	}
	return def.String()
}

func (l *loader) rngOrPtr(k string, def hcl.Range) *hcl.Range {
	if r := l.rngPtr(k); r != nil {
		return r
	}
	return def.Ptr()
}

func (l *loader) rngPtr(k string) *hcl.Range {
	r, ok := l.nameRng[k]
	if !ok {
		return nil
	}
	return r.Ptr()
}

func forEachHint(addr string) string {
	if strings.Contains(addr, "[") {
		return " With for_each, derive the name from each.key, e.g. name = \"acme-${each.key}\"."
	}
	return ""
}
