package config

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

type instance struct {
	key   string
	value cty.Value
}

func (l *loader) evalBlock(n node) {
	b := n.block
	bv := &blockVal{hasID: n.kind == "bucket" || n.kind == "key"}
	l.blockObjs[n.kind][n.name] = bv
	base := l.prefix + n.kind + "." + n.name
	r := refsOf(n.exprs())
	fe, hasForEach := b.Body.Attributes["for_each"]
	if !hasForEach {
		bv.attrs = l.decodeInstance(n.kind, l.scope(n.kind, nil, r), b, base, false)
		return
	}
	s := l.scope(n.kind, nil, r)
	v, ok := s.value(fe.Expr)
	if !ok || !s.checkSensitive(fe, v) {
		bv.failed = true
		return
	}
	insts, ok := s.forEachInstances(fe, v)
	if !ok {
		bv.failed = true
		return
	}
	bv.forEach = true
	bv.instances = map[string]map[string]cty.Value{}
	for _, in := range insts {
		each := cty.ObjectVal(map[string]cty.Value{"key": cty.StringVal(in.key), "value": in.value})
		addr := base + "[" + quoteKey(in.key) + "]"
		bv.instances[in.key] = l.decodeInstance(n.kind, l.scope(n.kind, &each, r), b, addr, true)
	}
}

func (s *scope) forEachInstances(a *hclsyntax.Attribute, v cty.Value) ([]instance, bool) {
	if v.IsNull() {
		s.diag(a.Expr.Range(), "Invalid for_each argument", "for_each is null; give it a map or a set of strings.")
		return nil, false
	}
	if !v.IsWhollyKnown() {
		if refs := idRefs(v); len(refs) > 0 {
			s.diag(a.Expr.Range(), "Invalid for_each argument",
				fmt.Sprintf("for_each depends on %s.id, which is only known after apply; the set of instances must be known when b2plan plans. Use names or literal keys instead.", refs[0]))
		}
		return nil, false
	}
	v, _ = v.UnmarkDeep()
	ty := v.Type()
	var out []instance
	switch {
	case ty.IsMapType() || ty.IsObjectType():
		for it := v.ElementIterator(); it.Next(); {
			k, ev := it.Element()
			out = append(out, instance{key: k.AsString(), value: ev})
		}
	case ty.IsSetType():
		for it := v.ElementIterator(); it.Next(); {
			_, ev := it.Element()
			if ev.IsNull() || ev.Type() != cty.String {
				s.diag(a.Expr.Range(), "Invalid for_each argument",
					fmt.Sprintf("for_each over a set needs strings; this set holds %s. Use a map, or toset([...]) of strings.", ty.ElementType().FriendlyName()))
				return nil, false
			}
			out = append(out, instance{key: ev.AsString(), value: ev})
		}
	case ty.IsListType() || ty.IsTupleType():
		s.diag(a.Expr.Range(), "Invalid for_each argument",
			"for_each needs a map or a set of strings; got a list. Convert it with toset([...]) so that each element becomes an instance key.")
		return nil, false
	default:
		s.diag(a.Expr.Range(), "Invalid for_each argument",
			fmt.Sprintf("for_each needs a map or a set of strings; got %s.", ty.FriendlyName()))
		return nil, false
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out, true
}

func (l *loader) decodeInstance(kind string, s *scope, b *hclsyntax.Block, addr string, forEach bool) map[string]cty.Value {
	switch kind {
	case "bucket":
		return l.decodeBucket(s, b, addr, forEach)
	case "key":
		return l.decodeKey(s, b, addr, forEach)
	case "folder":
		return l.decodeFolder(s, b, addr)
	case "object":
		return l.decodeObject(s, b, addr)
	case "replication":
		return l.decodeReplication(s, b, addr)
	default:
		return l.decodeMove(s, b, addr)
	}
}

func strOr(ok bool, s string) cty.Value {
	if !ok {
		return cty.DynamicVal
	}
	return cty.StringVal(s)
}

func listVal(list []string) cty.Value {
	if len(list) == 0 {
		return cty.ListValEmpty(cty.String)
	}
	vals := make([]cty.Value, len(list))
	for i, s := range list {
		vals[i] = cty.StringVal(s)
	}
	return cty.ListVal(vals)
}

// enum evaluates a string attribute restricted to allowed values.
func (s *scope) enum(body *hclsyntax.Body, name string, allowed []string, def string) (string, bool) {
	v, a, ok := s.str(body, name, strOpt{})
	if a == nil {
		return def, true
	}
	if !ok {
		return def, false
	}
	if !inList(allowed, v) {
		s.diag(a.Expr.Range(), "Invalid value for "+name,
			fmt.Sprintf("%q is not a valid %s; use one of %s.%s", v, name, quoteList(allowed), didYouMean(v, allowed)))
		return def, false
	}
	return v, true
}

// nameAttr evaluates the name attribute, defaulting to the block label.
func (s *scope) nameAttr(b *hclsyntax.Block) (string, hcl.Range, bool) {
	v, a, ok := s.str(b.Body, "name", strOpt{required: true})
	if a == nil {
		return b.Labels[0], b.LabelRanges[0], true
	}
	return v, a.Expr.Range(), ok
}

func (l *loader) decodeBucket(s *scope, b *hclsyntax.Block, addr string, forEach bool) map[string]cty.Value {
	body := b.Body
	bk := &Bucket{Address: addr, Type: "allPrivate", Encryption: "none", Info: map[string]string{}, Range: b.DefRange()}
	bk.Provider = l.providerOf(s, b.Body, addr)
	name, nameRng, nameOK := s.nameAttr(b)
	bk.Name = name
	if nameOK {
		if p := bucketNameProblem(name); p != "" {
			detail := p
			if _, explicit := body.Attributes["name"]; !explicit {
				detail += fmt.Sprintf(" The name defaults to the label; set name = \"...\" in the block.")
			}
			s.diag(nameRng, "Invalid bucket name", detail)
		}
		l.nameRng[addr] = nameRng
	}
	bk.Type, _ = s.enum(body, "type", []string{"allPrivate", "allPublic"}, "allPrivate")
	bk.Encryption, _ = s.enum(body, "encryption", []string{"none", "SSE-B2"}, "none")
	if info, a, ok := s.strMap(body, "info", true); a != nil && ok {
		s.infoEntries(a, info, "bucket", bk.Info)
	}
	if v, a, ok := s.boolean(body, "keep_only_last_version"); ok && v {
		one := 1
		bk.KeepOnlyLastVersion = true
		bk.LifecycleRules = append(bk.LifecycleRules, LifecycleRule{Prefix: "", DaysFromHidingToDeleting: &one, Range: a.SrcRange})
	}
	bk.PreventDestroy, _, _ = s.boolean(body, "prevent_destroy")
	bk.ForceDestroy, _, _ = s.boolean(body, "force_destroy")
	var ruleRanges []hcl.Range // subject for overlap diagnostics, parallel to LifecycleRules
	for range bk.LifecycleRules {
		ruleRanges = append(ruleRanges, body.Attributes["keep_only_last_version"].SrcRange)
	}
	corsNames := map[string]hcl.Range{}
	for _, nb := range body.Blocks {
		s.nest = nb.Type
		switch nb.Type {
		case "lifecycle_rule":
			r, rng, ok := s.lifecycleRule(nb)
			if !ok {
				continue
			}
			// (Past 100 rules, "Too many lifecycle rules" says enough: no quadratic check.)
			for i, prev := range bk.LifecycleRules[:min(len(bk.LifecycleRules), 100)] {
				if strings.HasPrefix(r.Prefix, prev.Prefix) || strings.HasPrefix(prev.Prefix, r.Prefix) {
					what := fmt.Sprintf("the rule with prefix %q at %s", prev.Prefix, ruleRanges[i].String())
					if bk.KeepOnlyLastVersion && i == 0 {
						what = "keep_only_last_version, which is a rule for the whole bucket (prefix \"\")"
					}
					s.diag(rng, "Overlapping lifecycle rules",
						fmt.Sprintf("The prefix %q overlaps %s; B2 rejects lifecycle rules whose prefixes overlap (one starts with the other). Merge the rules or use disjoint prefixes.", r.Prefix, what))
					break
				}
			}
			bk.LifecycleRules = append(bk.LifecycleRules, r)
			ruleRanges = append(ruleRanges, rng)
		case "cors_rule":
			if c, ok := s.corsRule(nb); ok {
				key := strings.ToLower(c.Name)
				if prev, dup := corsNames[key]; dup {
					s.diag(nb.Body.Attributes["name"].Expr.Range(), "Duplicate CORS rule name",
						fmt.Sprintf("A CORS rule named %q is already declared at %s; names must be unique within a bucket.", c.Name, prev.String()))
				}
				corsNames[key] = nb.Body.Attributes["name"].Expr.Range()
				bk.CORSRules = append(bk.CORSRules, c)
			}
		case "object_lock":
			bk.ObjectLock = s.objectLock(nb)
		case "notification_rule":
			l.notificationRule(s, bk, nb)
		}
		s.nest = ""
	}
	if len(bk.LifecycleRules) > 100 {
		s.diag(b.DefRange(), "Too many lifecycle rules", "B2 allows at most 100 lifecycle rules per bucket.")
	}
	if len(bk.CORSRules) > 100 {
		s.diag(b.DefRange(), "Too many CORS rules", "B2 allows at most 100 CORS rules per bucket.")
	}
	s.checkNotificationRules(bk, b)
	bk.Deferred = s.deferred
	bk.Sensitive = s.planSensitive()
	l.d.Buckets = append(l.d.Buckets, bk)
	infoVals := map[string]cty.Value{}
	for k, v := range bk.Info {
		infoVals[k] = cty.StringVal(v)
	}
	infoVal := cty.MapValEmpty(cty.String)
	if len(infoVals) > 0 {
		infoVal = cty.MapVal(infoVals)
	}
	return s.markExposed(map[string]cty.Value{
		"name": strOr(nameOK, name), "type": cty.StringVal(bk.Type), "info": infoVal,
		"encryption": cty.StringVal(bk.Encryption),
	})
}

func (s *scope) lifecycleRule(b *hclsyntax.Block) (LifecycleRule, hcl.Range, bool) {
	r := LifecycleRule{Range: b.DefRange()}
	rng := b.DefRange()
	good := true
	if p, a, ok := s.str(b.Body, "prefix", strOpt{}); a != nil {
		if !ok {
			return r, rng, false
		}
		r.Prefix = p
		rng = a.Expr.Range()
		if msg := fileNameProblem(p); msg != "" {
			s.diag(a.Expr.Range(), "Invalid lifecycle rule prefix", msg)
			good = false
		}
	}
	fields := []struct {
		name string
		dst  **int
	}{
		{"days_from_uploading_to_hiding", &r.DaysFromUploadingToHiding},
		{"days_from_hiding_to_deleting", &r.DaysFromHidingToDeleting},
		{"days_from_starting_to_canceling_unfinished_large_files", &r.DaysFromStartingToCancelingUnfinishedLargeFiles},
	}
	n := 0
	for _, f := range fields {
		v, a, ok := s.integer(b.Body, f.name)
		if a == nil {
			continue
		}
		n++
		if !ok {
			good = false
			continue
		}
		if v <= 0 {
			s.diag(a.Expr.Range(), "Invalid lifecycle rule days",
				fmt.Sprintf("%s must be a positive number of days; got %d. B2 forbids 0: remove the argument to leave that step out.", f.name, v))
			good = false
			continue
		}
		vv := v
		*f.dst = &vv
	}
	if n == 0 {
		s.diag(b.DefRange(), "Empty lifecycle rule",
			"A lifecycle rule needs at least one of days_from_uploading_to_hiding, days_from_hiding_to_deleting or days_from_starting_to_canceling_unfinished_large_files.")
		good = false
	}
	return r, rng, good
}

var corsOperations = []string{
	"b2_download_file_by_name", "b2_download_file_by_id", "b2_upload_file", "b2_upload_part",
	"s3_get", "s3_head", "s3_put", "s3_post", "s3_delete",
}

func (s *scope) corsRule(b *hclsyntax.Block) (CORSRule, bool) {
	c := CORSRule{Range: b.DefRange()}
	good := true
	name, a, ok := s.str(b.Body, "name", strOpt{required: true})
	if a == nil || !ok {
		good = false
	} else {
		c.Name = name
		if p := corsNameProblem(name); p != "" {
			s.diag(a.Expr.Range(), "Invalid CORS rule name", p)
			good = false
		}
	}
	origins, a, ok := s.strList(b.Body, "allowed_origins")
	if a != nil && ok {
		c.AllowedOrigins = origins
		if len(origins) == 0 {
			s.diag(a.Expr.Range(), "Empty allowed_origins", "allowed_origins must list at least one origin, e.g. [\"https://example.com\"] or [\"*\"].")
			good = false
		}
		for i, o := range origins {
			if p := originProblem(o, len(origins)); p != "" {
				s.diag(elemRange(a, i), "Invalid CORS origin", p)
				good = false
			}
		}
	} else {
		good = false
	}
	ops, a, ok := s.strList(b.Body, "allowed_operations")
	if a != nil && ok {
		c.AllowedOperations = ops
		if len(ops) == 0 {
			s.diag(a.Expr.Range(), "Empty allowed_operations", "allowed_operations must list at least one of "+quoteList(corsOperations)+".")
			good = false
		}
		for i, op := range ops {
			if !inList(corsOperations, op) {
				s.diag(elemRange(a, i), "Invalid CORS operation",
					fmt.Sprintf("%q is not a CORS operation; use %s.%s", op, quoteList(corsOperations), didYouMean(op, corsOperations)))
				good = false
			}
		}
	} else {
		good = false
	}
	if h, a, ok := s.strList(b.Body, "allowed_headers"); a != nil && ok {
		c.AllowedHeaders = h
	}
	if h, a, ok := s.strList(b.Body, "expose_headers"); a != nil && ok {
		c.ExposeHeaders = h
	}
	if v, a, ok := s.integer(b.Body, "max_age_seconds"); a != nil && ok {
		if v < 0 || v > 86400 {
			s.diag(a.Expr.Range(), "Invalid max_age_seconds", fmt.Sprintf("max_age_seconds must be between 0 and 86400 (one day); got %d.", v))
			good = false
		}
		c.MaxAgeSeconds = v
	}
	size := len(c.Name)
	for _, l := range [][]string{c.AllowedOrigins, c.AllowedOperations, c.AllowedHeaders, c.ExposeHeaders} {
		for _, x := range l {
			size += len(x)
		}
	}
	if size >= 1000 {
		s.diag(b.DefRange(), "CORS rule too large", fmt.Sprintf("B2 limits a CORS rule to less than 1000 bytes of strings; this one has %d. Split it into several rules.", size))
		good = false
	}
	return c, good
}

func (s *scope) objectLock(b *hclsyntax.Block) *ObjectLock {
	ol := &ObjectLock{Enabled: true, Range: b.DefRange()}
	en, enAttr, enOK := s.boolean(b.Body, "enabled")
	if enAttr != nil && enOK {
		ol.Enabled = en
	}
	for _, rb := range b.Body.Blocks {
		if rb.Type != "default_retention" {
			continue
		}
		if !ol.Enabled {
			s.diag(rb.DefRange(), "Default retention without Object Lock",
				"A default_retention needs Object Lock: set enabled = true in object_lock, or remove default_retention.")
		}
		r := &Retention{}
		r.Mode, _ = s.enum(rb.Body, "mode", []string{"governance", "compliance"}, "")
		days, da, dok := s.integer(rb.Body, "days")
		years, ya, yok := s.integer(rb.Body, "years")
		switch {
		case da != nil && ya != nil:
			s.diag(ya.NameRange, "Conflicting retention period", "Give either days or years in default_retention, not both.")
		case da == nil && ya == nil:
			s.diag(rb.DefRange(), "Missing retention period", "default_retention needs a period: add days = N or years = N.")
		case da != nil && dok:
			if days <= 0 {
				s.diag(da.Expr.Range(), "Invalid retention period", fmt.Sprintf("days must be a positive number; got %d.", days))
			}
			r.Days = days
		case ya != nil && yok:
			if years <= 0 {
				s.diag(ya.Expr.Range(), "Invalid retention period", fmt.Sprintf("years must be a positive number; got %d.", years))
			}
			r.Years = years
		}
		ol.DefaultRetention = r
	}
	return ol
}

func (l *loader) decodeKey(s *scope, b *hclsyntax.Block, addr string, forEach bool) map[string]cty.Value {
	body := b.Body
	k := &Key{Address: addr, Range: b.DefRange()}
	k.Provider = l.providerOf(s, b.Body, addr)
	name, nameRng, nameOK := s.nameAttr(b)
	k.Name = name
	if nameOK {
		p := keyNameProblem(name)
		if p == "" && strings.HasPrefix(strings.ToLower(name), ReplicationKeyPrefix) {
			p = fmt.Sprintf("Key names starting with %q are the keys b2plan makes for replication blocks (and deletes when unused); rename %q.", ReplicationKeyPrefix, name)
		}
		if p != "" {
			if _, explicit := body.Attributes["name"]; !explicit {
				p += " The name defaults to the label; set name = \"...\" in the block."
			}
			s.diag(nameRng, "Invalid key name", p)
		}
		l.nameRng[addr] = nameRng
	}
	accessAttr, hasAccess := body.Attributes["access"]
	capsAttr, hasCaps := body.Attributes["capabilities"]
	switch {
	case hasAccess && hasCaps:
		s.diag(capsAttr.NameRange, "Conflicting access and capabilities",
			"Give either access (a preset) or capabilities (an explicit list), not both: remove one of them.")
	case !hasAccess && !hasCaps:
		s.diag(b.DefRange(), "Missing access or capabilities",
			fmt.Sprintf("A key needs access = one of %s, or capabilities = [...] listing B2 capabilities.", quoteList(AccessPresetNames)))
	}
	if hasAccess {
		if v, _, ok := s.str(body, "access", strOpt{required: true}); ok {
			if caps, known := AccessPresets[v]; known {
				k.Access = v
				if !hasCaps {
					k.Capabilities = append([]string(nil), caps...)
				}
			} else {
				s.diag(accessAttr.Expr.Range(), "Invalid access preset",
					fmt.Sprintf("%q is not an access preset; use one of %s, or list capabilities explicitly.%s", v, quoteList(AccessPresetNames), didYouMean(v, AccessPresetNames)))
			}
		}
	}
	if hasCaps && !hasAccess {
		if caps, _, ok := s.strList(body, "capabilities"); ok {
			if len(caps) == 0 {
				s.diag(capsAttr.Expr.Range(), "Empty capabilities", "capabilities must list at least one capability, e.g. [\"listFiles\", \"readFiles\"].")
			}
			set := map[string]bool{}
			for i, c := range caps {
				if !inList(Capabilities, c) {
					s.diag(elemRange(capsAttr, i), "Invalid capability",
						fmt.Sprintf("%q is not a B2 capability.%s See docs/configuration.md for the list.", c, didYouMean(c, Capabilities)))
					continue
				}
				set[c] = true
			}
			for c := range set {
				k.Capabilities = append(k.Capabilities, c)
			}
			sort.Strings(k.Capabilities)
		}
	}
	if buckets, a, ok := s.strList(body, "buckets"); a != nil && ok {
		seen := map[string]bool{}
		for i, bn := range buckets {
			if p := bucketNameProblem(bn); p != "" {
				s.diag(elemRange(a, i), "Invalid bucket name in buckets", p+" buckets lists bucket names, e.g. [bucket.assets.name].")
				continue
			}
			if seen[strings.ToLower(bn)] {
				s.diag(elemRange(a, i), "Duplicate bucket in buckets", fmt.Sprintf("%q is listed twice; remove one.", bn))
				continue
			}
			seen[strings.ToLower(bn)] = true
			k.Buckets = append(k.Buckets, bn)
		}
		if len(k.Buckets) > 1 {
			l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Multi-bucket key",
				Detail:  fmt.Sprintf("%s is restricted to %d buckets: B2 creates it through API v4, and clients using older API versions (v1–v3) cannot see it in key listings.", addr, len(k.Buckets)),
				Subject: a.Expr.Range().Ptr()})
		}
		if len(k.Buckets) > 0 {
			var bad []string
			for _, c := range k.Capabilities {
				if !inList(BucketRestrictedCapabilities, c) {
					bad = append(bad, c)
				}
			}
			if len(bad) > 0 {
				subj := a.Expr.Range()
				if capsAttr != nil {
					subj = capsAttr.Expr.Range()
				}
				s.diag(subj, "Capability not allowed on a bucket-restricted key",
					fmt.Sprintf("B2 refuses %s on a key restricted to buckets (no key-management capabilities, no writeBuckets or deleteBuckets). Remove %s from capabilities, or remove buckets to make the key account-wide.", quoteList(bad), quoteList(bad)))
			}
		}
	}
	if p, a, ok := s.str(body, "name_prefix", strOpt{deferrable: true}); a != nil && ok {
		k.NamePrefix = p
		if _, deferred := DeferredAt(s.deferred, "name_prefix"); !deferred {
			if msg := fileNameProblem(p); msg != "" {
				s.diag(a.Expr.Range(), "Invalid name_prefix", msg)
			}
		}
	}
	var durAttr *hclsyntax.Attribute
	if v, a, ok := s.str(body, "duration", strOpt{}); a != nil && ok {
		if d, err := parseKeyDuration(v); err != nil {
			s.diag(a.Expr.Range(), "Invalid duration", err.Error())
		} else {
			k.Duration, durAttr = d, a
		}
	}
	if v, a, ok := s.str(body, "renew_before", strOpt{}); a != nil && ok {
		if d, err := parseKeyDuration(v); err != nil {
			s.diag(a.Expr.Range(), "Invalid renew_before", err.Error())
		} else {
			k.RenewBefore = d
			if durAttr != nil && d >= k.Duration {
				s.diag(a.Expr.Range(), "renew_before not shorter than duration",
					fmt.Sprintf("renew_before (%s) must be shorter than duration (%s), otherwise the key would be replaced on every plan. Shorten renew_before.", v, fmtDuration(k.Duration)))
			}
			if _, hasDur := body.Attributes["duration"]; !hasDur {
				l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "renew_before without duration",
					Detail: "The key never expires (no duration), so renew_before has no effect. Add duration = ... or remove renew_before.", Subject: a.NameRange.Ptr()})
			}
		}
	}
	if v, a, ok := s.str(body, "secret_file", strOpt{}); a != nil && ok {
		if v == "" {
			s.diag(a.Expr.Range(), "Empty secret_file", "secret_file must be a file path; remove the argument if no secret file is wanted.")
		} else {
			p := v
			if !filepath.IsAbs(p) {
				p = filepath.Join(l.d.Dir, p)
			}
			if abs, err := filepath.Abs(p); err == nil {
				p = abs
			}
			k.SecretFile = p
			l.nameRng[addr+"#secret_file"] = a.Expr.Range()
		}
	}
	k.Deferred = s.deferred
	k.Sensitive = s.planSensitive()
	l.d.Keys = append(l.d.Keys, k)
	np := cty.StringVal(k.NamePrefix)
	return s.markExposed(map[string]cty.Value{
		"name": strOr(nameOK, name), "access": cty.StringVal(k.Access),
		"capabilities": listVal(k.Capabilities), "buckets": listVal(k.Buckets), "name_prefix": np,
	})
}

func (l *loader) decodeFolder(s *scope, b *hclsyntax.Block, addr string) map[string]cty.Value {
	f := &Folder{Address: addr, Range: b.DefRange()}
	f.Provider = l.providerOf(s, b.Body, addr)
	bn, bOK := s.bucketRef(b.Body, "bucket")
	f.Bucket = bn
	p, a, pOK := s.str(b.Body, "path", strOpt{required: true})
	if a != nil && pOK {
		f.Path = p
		if msg := prefixProblem("path", p); msg != "" {
			s.diag(a.Expr.Range(), "Invalid folder path", msg)
		}
	}
	l.d.Folders = append(l.d.Folders, f)
	return map[string]cty.Value{"bucket": strOr(bOK, bn), "path": strOr(pOK, p)}
}

// bucketRef evaluates an attribute holding a bucket name.
func (s *scope) bucketRef(body *hclsyntax.Body, name string) (string, bool) {
	v, a, ok := s.str(body, name, strOpt{required: true})
	if a == nil || !ok {
		return v, false
	}
	if p := bucketNameProblem(v); p != "" {
		s.diag(a.Expr.Range(), "Invalid bucket name", p+fmt.Sprintf(" %s takes a bucket name, e.g. bucket.assets.name.", name))
		return v, false
	}
	return v, true
}

func (l *loader) decodeMove(s *scope, b *hclsyntax.Block, addr string) map[string]cty.Value {
	body := b.Body
	m := &Move{Address: addr, Range: b.DefRange()}
	m.Provider = l.providerOf(s, b.Body, addr)
	bn, bOK := s.bucketRef(body, "bucket")
	m.Bucket = bn
	m.ToBucket = bn
	tbOK := bOK
	if _, has := body.Attributes["to_bucket"]; has {
		m.ToBucket, tbOK = s.bucketRef(body, "to_bucket")
		l.nameRng[addr+"#to_bucket"] = body.Attributes["to_bucket"].Expr.Range()
	}
	from, fa, fOK := s.str(body, "from", strOpt{required: true})
	if fa != nil && fOK {
		m.From = from
		if msg := prefixProblem("from", from); msg != "" {
			s.diag(fa.Expr.Range(), "Invalid move prefix", msg)
			fOK = false
		}
		l.nameRng[addr+"#from"] = fa.Expr.Range()
	}
	to, ta, tOK := s.str(body, "to", strOpt{required: true})
	if ta != nil && tOK {
		m.To = to
		if msg := prefixProblem("to", to); msg != "" {
			s.diag(ta.Expr.Range(), "Invalid move prefix", msg)
			tOK = false
		}
		l.nameRng[addr+"#to"] = ta.Expr.Range()
	}
	// Nested prefixes within one move (a/ → a/b/, a/b/ → a/) are fine: the
	// planner never treats what is already under the destination as a source.
	if fOK && tOK && bOK && tbOK && strings.EqualFold(m.Bucket, m.ToBucket) && from == to {
		s.diag(ta.Expr.Range(), "Move to the same place",
			fmt.Sprintf("from and to are both %q in bucket %q, so nothing would move. Change to, or set to_bucket to move into another bucket.", from, m.Bucket))
	}
	m.Versions, _ = s.enum(body, "versions", []string{"latest", "all"}, "latest")
	m.Source, _ = s.enum(body, "source", []string{"delete", "hide"}, "delete")
	m.OnConflict, _ = s.enum(body, "on_conflict", []string{"fail", "skip", "overwrite"}, "fail")
	m.Verify, _ = s.enum(body, "verify", []string{"none", "download"}, "none")
	if !(fOK && tOK && bOK && tbOK) {
		l.badMove[addr] = true
	}
	l.d.Moves = append(l.d.Moves, m)
	return map[string]cty.Value{
		"bucket": strOr(bOK, bn), "from": strOr(fOK, from), "to": strOr(tOK, to), "to_bucket": strOr(tbOK, m.ToBucket),
	}
}

// providerOf evaluates a block's provider argument ("" = the default provider).
func (l *loader) providerOf(s *scope, body *hclsyntax.Body, addr string) string {
	alias, rng, _ := s.providerRef(body)
	if rng != nil {
		l.providerSet[addr] = *rng
	}
	return alias
}

// infoEntries checks a bucket or file info map (what: "bucket" or "file") as B2 does — at most 10
// entries, valid keys, lowercased without collisions — and adds the valid entries to into.
func (s *scope) infoEntries(a *hclsyntax.Attribute, info map[string]string, what string, into map[string]string) {
	if len(info) > 10 {
		s.diag(a.Expr.Range(), "Too many "+what+" info entries", fmt.Sprintf("B2 stores at most 10 %s info entries; this map has %d. Remove some.", what, len(info)))
	}
	keys := make([]string, 0, len(info))
	for k := range info {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		lk := strings.ToLower(k)
		if p := infoKeyProblem(k); p != "" {
			s.diag(s.mapItemRange(a, k, true), "Invalid "+what+" info key", p)
			continue
		}
		if _, dup := into[lk]; dup {
			s.diag(s.mapItemRange(a, k, true), "Duplicate "+what+" info key",
				fmt.Sprintf("B2 lowercases %s info keys, so %q collides with another key that differs only in case. Keep one of them.", what, k))
			continue
		}
		into[lk] = info[k]
	}
}
