package importer

import (
	"bytes"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	"github.com/b2plan/b2plan/config"
	"github.com/b2plan/b2plan/live"
)

// Options select what to import.
type Options struct {
	// Buckets and Keys are glob patterns (path.Match syntax, compared case-insensitively) over
	// bucket and key names; a name is imported when any pattern matches. Empty = every name.
	Buckets []string
	Keys    []string
	// Now is the time of the import: a key's remaining lifetime is computed from it.
	Now time.Time
	// Source describes where the snapshot was read, for the header comment (for example
	// "https://api.backblazeb2.com, account 4a5b6c"); "" leaves it out. Never a credential.
	Source string
	// Declared is the configuration the output joins (the other files of the directory it is
	// written to), or nil. Its buckets and keys are not declared again (Result.AlreadyDeclared),
	// its block labels are not reused, keys refer to its buckets by their addresses, and the
	// output is validated together with its .hcl files, with DeclaredVars: so that the
	// directory still plans after the import.
	Declared     *config.Desired
	DeclaredVars config.VarInputs
	// Objects are the objects to declare (object.go); none by default.
	Objects []Object
}

// Skipped is a bucket or key of the selection that is not declared in the output (it appears
// there as a commented-out block), with the reason.
type Skipped struct {
	Kind   string // "bucket", "key" or "object" (Name is BUCKET/NAME)
	Name   string
	ID     string
	Reason string
}

// Result is a generated configuration.
type Result struct {
	// HCL is the configuration, formatted with hclwrite.
	HCL []byte
	// Buckets and Keys are the names declared, in output order.
	Buckets []string
	Keys    []string
	// Objects are the objects declared, as BUCKET/NAME.
	Objects []string
	// Replications are the replication rules declared, as "SOURCE-BUCKET/RULE".
	Replications []string
	Skipped      []Skipped
	// AlreadyDeclared are the selected buckets and keys left out because Options.Declared
	// declares them ("bucket NAME", "key NAME").
	AlreadyDeclared []string
	// SecretVars are the generated sensitive variables of webhook signing secrets, which
	// must be set (B2PLAN_VAR_NAME or -var) before the configuration plans.
	SecretVars []string
	// Suspended describes the declared notification rules B2 has suspended: the next plan
	// shows each as drift, and apply resumes it.
	Suspended []string
}

// maxKeyLifetime is B2's longest key lifetime (and config's limit on duration).
const maxKeyLifetime = 1000 * 24 * time.Hour

type item struct {
	kind  string // "bucket", "key", "object" or "replication"
	label string
	b     *live.Bucket // the bucket, or the source bucket of a replication rule
	k     *live.Key
	o     *Object
	rule  *live.ReplicationRule // replication.go
	skip  string                // reason it is not declared; "" = declared
	// lines of the block in the rendered text (1-based, inclusive), when declared
	first, last int
}

func (it *item) name() string {
	switch {
	case it.rule != nil:
		return it.rule.Name
	case it.b != nil:
		return it.b.Name
	case it.o != nil:
		return it.o.Bucket + "/" + it.o.Version.Name
	}
	return it.k.Name
}

func (it *item) id() string {
	switch {
	case it.rule != nil:
		return "bucket " + it.b.Name
	case it.b != nil:
		return it.b.ID
	case it.o != nil:
		return it.o.Version.ID
	}
	return it.k.ID
}

// Generate writes a configuration declaring the buckets and keys of l that opts select.
func Generate(l *live.Live, opts Options) (*Result, error) {
	g := &generator{l: l, opts: opts}
	g.selectItems()
	g.assignLabels()
	g.assignSecretVars()
	// Render, validate with the real loader, and comment out whatever it refuses; a block
	// can only be refused once, so this ends.
	sources, baseline := g.declaredSources()
	for range len(g.items) + 1 {
		src := g.render()
		sources[importFile] = src
		_, diags := config.LoadSources(g.declaredDir(), sources, g.validationVars())
		refused := false
		for _, d := range diags {
			if d.Severity != hcl.DiagError || baseline[diagKey(d)] {
				continue
			}
			var it *item
			if d.Subject != nil && d.Subject.Filename == importFile {
				it = g.itemAt(d.Subject)
			}
			if it == nil {
				return nil, fmt.Errorf("import: the generated configuration does not load: %s: %s", d.Summary, d.Detail)
			}
			if it.skip == "" {
				it.skip = "b2plan cannot declare it: " + d.Summary + ". " + d.Detail
				refused = true
			}
		}
		if !refused {
			return g.result(src), nil
		}
	}
	return nil, fmt.Errorf("import: the generated configuration does not load")
}

type generator struct {
	l     *live.Live
	opts  Options
	items []*item // buckets first, then keys, each in live order
	// already lists the selected resources Options.Declared declares.
	already []string
	// secretVars names the variable of each signing secret (label\x00rule → name; notify.go).
	secretVars map[string]string
}

// importFile is the name of the generated file while it is validated.
const importFile = "(import).hcl" // no configuration file has this (relative) name

func (g *generator) declaredDir() string {
	if g.opts.Declared == nil {
		return ""
	}
	return g.opts.Declared.Dir
}

// declaredSources returns the .hcl files of Options.Declared, and the errors they have alone
// (which the import neither causes nor can fix).
func (g *generator) declaredSources() (map[string][]byte, map[string]bool) {
	sources := map[string][]byte{}
	baseline := map[string]bool{}
	if g.opts.Declared == nil {
		return sources, baseline
	}
	for name, f := range g.opts.Declared.Files {
		if strings.HasSuffix(name, ".hcl") && f != nil {
			sources[name] = f.Bytes
		}
	}
	if len(sources) > 0 {
		_, diags := config.LoadSources(g.declaredDir(), sources, g.opts.DeclaredVars)
		for _, d := range diags {
			baseline[diagKey(d)] = true
		}
	}
	return sources, baseline
}

func diagKey(d *hcl.Diagnostic) string {
	k := d.Summary
	if d.Subject != nil {
		k += " @" + d.Subject.String()
	}
	return k
}

// declaredBucket returns the address of the bucket Options.Declared declares with this name.
func (g *generator) declaredBucket(name string) (string, bool) {
	if g.opts.Declared == nil {
		return "", false
	}
	for _, b := range g.opts.Declared.Buckets {
		if strings.EqualFold(b.Name, name) {
			return b.Address, true
		}
	}
	return "", false
}

func (g *generator) declaredObject(o *Object) bool {
	if g.opts.Declared == nil {
		return false
	}
	for _, d := range g.opts.Declared.Objects {
		if strings.EqualFold(d.Bucket, o.Bucket) && d.Name == o.Version.Name {
			return true
		}
	}
	return false
}

func (g *generator) declaredKey(name string) bool {
	if g.opts.Declared == nil {
		return false
	}
	for _, k := range g.opts.Declared.Keys {
		if k.Name == name {
			return true
		}
	}
	return false
}

func matches(globs []string, name string) bool {
	if len(globs) == 0 {
		return true
	}
	for _, g := range globs {
		if ok, _ := path.Match(strings.ToLower(g), strings.ToLower(name)); ok {
			return true
		}
	}
	return false
}

func (g *generator) selectItems() {
	for i := range g.l.Buckets {
		b := &g.l.Buckets[i]
		if !matches(g.opts.Buckets, b.Name) {
			continue
		}
		if _, ok := g.declaredBucket(b.Name); ok {
			g.already = append(g.already, "bucket "+b.Name)
			continue
		}
		it := &item{kind: "bucket", b: b}
		if b.Type != live.AllPrivate && b.Type != live.AllPublic {
			it.skip = fmt.Sprintf("its type %q cannot be declared (b2plan manages allPrivate and allPublic buckets)", b.Type)
		}
		g.items = append(g.items, it)
	}
	count := map[string]int{}
	for _, k := range g.l.Keys {
		count[k.Name]++
	}
	for i := range g.l.Keys {
		k := &g.l.Keys[i]
		if !matches(g.opts.Keys, k.Name) {
			continue
		}
		if g.declaredKey(k.Name) {
			if !contains(g.already, "key "+k.Name) {
				g.already = append(g.already, "key "+k.Name)
			}
			continue
		}
		if replicationKey(k) {
			continue // declared by replication blocks (replication.go)
		}
		it := &item{kind: "key", k: k}
		it.skip = g.keyProblem(k, count[k.Name])
		g.items = append(g.items, it)
	}
	for i := range g.opts.Objects {
		o := &g.opts.Objects[i]
		if g.declaredObject(o) {
			g.already = append(g.already, "object "+o.Bucket+"/"+o.Version.Name)
			continue
		}
		g.items = append(g.items, &item{kind: "object", o: o, skip: objectProblem(o)})
	}
	g.replicationItems()
}

// keyProblem says why a key cannot be declared so that the next plan keeps it, or "".
func (g *generator) keyProblem(k *live.Key, sameName int) string {
	if sameName > 1 {
		return fmt.Sprintf("%d keys are named %q, and b2plan identifies keys by name: delete all but one (or rename), then import again", sameName, k.Name)
	}
	if !k.Expires.IsZero() && !k.Expires.After(g.opts.Now) {
		return fmt.Sprintf("it expired at %s: a declaration would replace it", k.Expires.UTC().Format(time.RFC3339))
	}
	for _, c := range k.Capabilities {
		if !contains(config.Capabilities, c) {
			return fmt.Sprintf("it has the capability %q, which b2plan does not know", c)
		}
		if len(k.BucketIDs) > 0 && !contains(config.BucketRestrictedCapabilities, c) {
			return fmt.Sprintf("it is restricted to buckets but has the capability %q, which a configuration may only give to unrestricted keys", c)
		}
	}
	for _, id := range k.BucketIDs {
		if g.l.BucketByID(id) == nil {
			return fmt.Sprintf("it is restricted to the bucket id %s, which the importing key cannot see (a deleted bucket, or one outside the importing key's restriction)", id)
		}
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Label returns the block label b2plan import derives from a B2 name: a valid identifier
// starting with a letter, '-' and other characters replaced by '_', with prefix (for example
// "b_") when the name does not start with a letter.
func Label(name, prefix string) string {
	var sb strings.Builder
	for _, r := range name {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_') {
			sb.WriteRune(r)
		} else {
			sb.WriteByte('_')
		}
	}
	s := sb.String()
	if s == "" || !(s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z') {
		s = prefix + s
	}
	return s
}

func (g *generator) assignLabels() {
	used := map[string]map[string]bool{"bucket": {}, "key": {}, "object": {}, "replication": {}}
	if d := g.opts.Declared; d != nil { // the labels of the configuration joined
		reserve := func(kind, addr string) {
			label := strings.TrimPrefix(addr, kind+".")
			if i := strings.IndexByte(label, '['); i >= 0 {
				label = label[:i]
			}
			used[kind][strings.ToLower(label)] = true
		}
		for _, b := range d.Buckets {
			reserve("bucket", b.Address)
		}
		for _, k := range d.Keys {
			reserve("key", k.Address)
		}
		for _, o := range d.Objects {
			reserve("object", o.Address)
		}
		for _, r := range d.Replications {
			reserve("replication", r.Address)
		}
	}
	for _, it := range g.items {
		prefix, name := "b_", it.name()
		switch it.kind {
		case "key":
			prefix = "k_"
		case "object":
			prefix, name = "o_", it.o.Version.Name
		case "replication":
			prefix = "r_"
		}
		base := Label(name, prefix)
		label := base
		for n := 2; used[it.kind][strings.ToLower(label)]; n++ {
			label = fmt.Sprintf("%s_%d", base, n)
		}
		used[it.kind][strings.ToLower(label)] = true
		it.label = label
	}
}

// itemAt returns the declared item whose block holds the range.
func (g *generator) itemAt(r *hcl.Range) *item {
	if r == nil {
		return nil
	}
	for _, it := range g.items {
		if it.skip == "" && r.Start.Line >= it.first && r.Start.Line <= it.last {
			return it
		}
	}
	return nil
}

// bucketLabels maps the lowercased names of declared buckets to their addresses (those of
// the configuration joined, and bucket.LABEL of the generated blocks).
func (g *generator) bucketLabels() map[string]string {
	m := map[string]string{}
	if d := g.opts.Declared; d != nil {
		for _, b := range d.Buckets {
			m[strings.ToLower(b.Name)] = b.Address
		}
	}
	for _, it := range g.items {
		if it.kind == "bucket" && it.skip == "" {
			m[strings.ToLower(it.b.Name)] = "bucket." + it.label
		}
	}
	return m
}

func (g *generator) render() []byte {
	var buf bytes.Buffer
	line := 1
	write := func(b []byte) {
		buf.Write(b)
		line += bytes.Count(b, []byte("\n"))
	}
	write([]byte(g.header()))
	refs := g.bucketLabels()
	for _, it := range g.items {
		it.first, it.last = 0, 0
		if it.skip != "" {
			continue
		}
		write([]byte("\n"))
		blk := g.block(it, refs)
		it.first = line
		write(blk)
		it.last = line - 1
	}
	var skipped []*item
	for _, it := range g.items {
		if it.skip != "" {
			skipped = append(skipped, it)
		}
	}
	if len(skipped) > 0 {
		write([]byte("\n# ---------------------------------------------------------------------------\n" +
			"# Not imported: these exist in the account but cannot be declared as they are.\n" +
			"# They stay untouched (b2plan does not manage what it does not declare).\n"))
		for _, it := range skipped {
			var sb strings.Builder
			fmt.Fprintf(&sb, "\n# %s %q (%s): %s\n#\n", it.kind, it.name(), it.id(), oneLine(it.skip))
			for _, l := range strings.SplitAfter(strings.TrimRight(string(g.block(it, refs)), "\n"), "\n") {
				sb.WriteString("# " + l)
			}
			sb.WriteString("\n")
			write([]byte(sb.String()))
		}
	}
	return hclwrite.Format(buf.Bytes())
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func reasonText(s string) string {
	if s = oneLine(s); s == "" {
		return "no reason given"
	}
	return s
}

func (g *generator) header() string {
	var sb strings.Builder
	sb.WriteString("# Generated by \"b2plan import\"")
	if g.opts.Source != "" {
		sb.WriteString(" from " + g.opts.Source)
	}
	if !g.opts.Now.IsZero() {
		sb.WriteString(" at " + g.opts.Now.UTC().Format(time.RFC3339))
	}
	sb.WriteString(".\n")
	sb.WriteString(`# It declares the buckets and keys as they are, so "b2plan plan" right after the
# import reports no changes. Review it, rename the labels as you like (b2plan identifies
# buckets and keys by their B2 name, not by the label), and commit it.
#
# To have plan also report buckets and keys created outside b2plan (drift), declare the
# names this configuration owns (prune stays false: unmanaged resources are only reported):
#
# b2plan {
#   owns {
`)
	fmt.Fprintf(&sb, "#     buckets = %s\n", globList(g.opts.Buckets))
	fmt.Fprintf(&sb, "#     keys    = %s\n", globList(g.opts.Keys))
	sb.WriteString("#   }\n# }\n")
	return sb.String()
}

func globList(globs []string) string {
	if len(globs) == 0 {
		globs = []string{"*"}
	}
	return string(hclwrite.TokensForValue(strList(globs)).Bytes())
}

func strList(s []string) cty.Value {
	if len(s) == 0 {
		return cty.ListValEmpty(cty.String)
	}
	vals := make([]cty.Value, len(s))
	for i, x := range s {
		vals[i] = cty.StringVal(x)
	}
	return cty.ListVal(vals)
}

func quote(s string) string {
	return string(hclwrite.TokensForValue(cty.StringVal(s)).Bytes())
}

// exprTokens parses an expression written as HCL text.
func exprTokens(src string) hclwrite.Tokens {
	f, diags := hclwrite.ParseConfig([]byte("x = "+src+"\n"), "", hcl.InitialPos)
	if diags.HasErrors() {
		panic("importer: bad expression " + src + ": " + diags.Error())
	}
	return f.Body().GetAttribute("x").Expr().BuildTokens(nil)
}

func comment(body *hclwrite.Body, text string) {
	for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		body.AppendUnstructuredTokens(hclwrite.Tokens{
			{Type: hclsyntax.TokenComment, Bytes: []byte(strings.TrimRight("# "+l, " ") + "\n")},
		})
	}
}

// multiLineList renders a list of expressions one per line.
func multiLineList(elems []string) string {
	if len(elems) == 0 {
		return "[]"
	}
	if len(elems) <= 2 {
		return "[" + strings.Join(elems, ", ") + "]"
	}
	return "[\n" + strings.Join(elems, ",\n") + ",\n]"
}

func quotedAll(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = quote(x)
	}
	return out
}

func (g *generator) block(it *item, refs map[string]string) []byte {
	f := hclwrite.NewEmptyFile()
	if it.kind == "bucket" {
		g.notifyVars(f.Body(), it)
		bb := f.Body().AppendNewBlock("bucket", []string{it.label}).Body()
		g.bucketBlock(bb, it.b)
		g.notifyBlocks(bb, it)
	} else if it.kind == "object" {
		g.objectBlock(f.Body().AppendNewBlock("object", []string{it.label}).Body(), it.o, refs)
	} else if it.kind == "replication" {
		g.replicationBlock(f.Body().AppendNewBlock("replication", []string{it.label}).Body(), it, refs)
	} else {
		g.keyBlock(f.Body().AppendNewBlock("key", []string{it.label}).Body(), it.k, refs)
	}
	return hclwrite.Format(f.Bytes())
}

// isKeepOnlyLastVersion reports whether rules are exactly the keep_only_last_version preset.
func isKeepOnlyLastVersion(rules []live.LifecycleRule) bool {
	return len(rules) == 1 && rules[0] == live.LifecycleRule{FileNamePrefix: "", DaysFromHidingToDeleting: 1}
}

func (g *generator) bucketBlock(body *hclwrite.Body, b *live.Bucket) {
	body.SetAttributeValue("name", cty.StringVal(b.Name))
	body.SetAttributeValue("type", cty.StringVal(b.Type))
	if len(b.Info) > 0 {
		m := map[string]cty.Value{}
		for k, v := range b.Info {
			m[strings.ToLower(k)] = cty.StringVal(v)
		}
		body.SetAttributeValue("info", cty.MapVal(m))
	}
	switch {
	case !b.Encryption.Readable:
		comment(body, "encryption: not readable with the importing key (it lacks readBucketEncryption),\nso not declared; plan does not compare what it cannot read.")
	case b.Encryption.Mode != "" && !strings.EqualFold(b.Encryption.Mode, "none"):
		body.SetAttributeValue("encryption", cty.StringVal(b.Encryption.Mode))
	default:
		body.SetAttributeValue("encryption", cty.StringVal("none"))
	}

	rules := append([]live.LifecycleRule(nil), b.LifecycleRules...)
	sort.SliceStable(rules, func(i, j int) bool { return rules[i].FileNamePrefix < rules[j].FileNamePrefix })
	if isKeepOnlyLastVersion(rules) {
		comment(body, "The lifecycle rule {prefix = \"\", days_from_hiding_to_deleting = 1}:")
		body.SetAttributeValue("keep_only_last_version", cty.True)
	} else {
		for _, r := range rules {
			rb := body.AppendNewBlock("lifecycle_rule", nil).Body()
			rb.SetAttributeValue("prefix", cty.StringVal(r.FileNamePrefix))
			setDays := func(name string, n int) {
				if n != 0 {
					rb.SetAttributeValue(name, cty.NumberIntVal(int64(n)))
				}
			}
			setDays("days_from_uploading_to_hiding", r.DaysFromUploadingToHiding)
			setDays("days_from_hiding_to_deleting", r.DaysFromHidingToDeleting)
			setDays("days_from_starting_to_canceling_unfinished_large_files", r.DaysFromStartingToCancelingUnfinishedLargeFiles)
		}
	}

	cors := append([]live.CORSRule(nil), b.CORSRules...)
	sort.SliceStable(cors, func(i, j int) bool { return cors[i].Name < cors[j].Name })
	for _, r := range cors {
		cb := body.AppendNewBlock("cors_rule", nil).Body()
		cb.SetAttributeValue("name", cty.StringVal(r.Name))
		cb.SetAttributeRaw("allowed_origins", exprTokens(multiLineList(quotedAll(r.AllowedOrigins))))
		cb.SetAttributeRaw("allowed_operations", exprTokens(multiLineList(quotedAll(r.AllowedOperations))))
		if len(r.AllowedHeaders) > 0 {
			cb.SetAttributeRaw("allowed_headers", exprTokens(multiLineList(quotedAll(r.AllowedHeaders))))
		}
		if len(r.ExposeHeaders) > 0 {
			cb.SetAttributeRaw("expose_headers", exprTokens(multiLineList(quotedAll(r.ExposeHeaders))))
		}
		if r.MaxAgeSeconds != 0 {
			cb.SetAttributeValue("max_age_seconds", cty.NumberIntVal(int64(r.MaxAgeSeconds)))
		}
	}

	switch {
	case !b.ObjectLock.Readable:
		comment(body, "object_lock: not readable with the importing key (it lacks readBucketRetentions),\nso not declared. If Object Lock is on, declare object_lock { enabled = true }:\nB2 never turns it off, and a plan that could read it would refuse the declaration.")
	case b.ObjectLock.Enabled:
		lb := body.AppendNewBlock("object_lock", nil).Body()
		lb.SetAttributeValue("enabled", cty.True)
		r := b.ObjectLock.DefaultRetention
		if r.Mode != "" && r.Period.Duration > 0 {
			rb := lb.AppendNewBlock("default_retention", nil).Body()
			rb.SetAttributeValue("mode", cty.StringVal(strings.ToLower(r.Mode)))
			unit := "days"
			if strings.EqualFold(r.Period.Unit, "years") {
				unit = "years"
			}
			rb.SetAttributeValue(unit, cty.NumberIntVal(int64(r.Period.Duration)))
		}
	}
}

func (g *generator) keyBlock(body *hclwrite.Body, k *live.Key, refs map[string]string) {
	comment(body, `B2 returns a key's secret only when the key is created: it cannot be recovered,
and it is not in this file. b2plan keeps this key (id `+k.ID+`) as long as
the declared intent (access or capabilities, buckets, name_prefix, duration) matches
it; changing the intent replaces the key, and the new secret goes to secret_file.`)
	if !k.Expires.IsZero() {
		comment(body, fmt.Sprintf(`B2 reports only when a key expires (%s), not the lifetime it was
created with. duration below is the time left at the import, rounded up, so that the
next plan keeps the key (a plan replaces an expiring key that declares no duration).
Once the key has expired, b2plan replaces it with one valid this long.`, k.Expires.UTC().Format(time.RFC3339)))
	}
	body.SetAttributeValue("name", cty.StringVal(k.Name))
	caps := sortCaps(k.Capabilities)
	if p := presetFor(caps); p != "" {
		body.SetAttributeValue("access", cty.StringVal(p))
	} else {
		body.SetAttributeRaw("capabilities", exprTokens(multiLineList(quotedAll(caps))))
	}
	if len(k.BucketIDs) > 0 {
		var names []string
		for _, id := range k.BucketIDs {
			if b := g.l.BucketByID(id); b != nil {
				names = append(names, b.Name)
			} else {
				names = append(names, id) // only in a commented-out block (keyProblem)
			}
		}
		sort.Strings(names)
		var elems []string
		for _, n := range names {
			if addr, ok := refs[strings.ToLower(n)]; ok {
				elems = append(elems, addr+".name")
			} else {
				elems = append(elems, quote(n))
			}
		}
		body.SetAttributeRaw("buckets", exprTokens(multiLineList(elems)))
	}
	if k.NamePrefix != "" {
		body.SetAttributeValue("name_prefix", cty.StringVal(k.NamePrefix))
	}
	if !k.Expires.IsZero() {
		body.SetAttributeValue("duration", cty.StringVal(remaining(k.Expires, g.opts.Now)))
	}
	comment(body, `secret_file = "secrets/`+k.Name+`.env" # needed before b2plan may create or replace this key`)
}

// remaining is the time from now to exp, rounded up to whole days ("30d"), or to whole hours
// under a day ("5h"), at most B2's 1000 days.
func remaining(exp, now time.Time) string {
	left := exp.Sub(now)
	if left > maxKeyLifetime {
		left = maxKeyLifetime
	}
	const day = 24 * time.Hour
	if left >= day {
		return fmt.Sprintf("%dd", (left+day-1)/day)
	}
	return fmt.Sprintf("%dh", (left+time.Hour-1)/time.Hour)
}

// sortCaps orders capabilities as B2 documents them (config.Capabilities), unknown ones last.
func sortCaps(caps []string) []string {
	out := append([]string(nil), caps...)
	idx := func(c string) int {
		for i, x := range config.Capabilities {
			if x == c {
				return i
			}
		}
		return len(config.Capabilities)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := idx(out[i]), idx(out[j])
		if a != b {
			return a < b
		}
		return out[i] < out[j]
	})
	// drop duplicates
	res := out[:0]
	for i, c := range out {
		if i == 0 || c != out[i-1] {
			res = append(res, c)
		}
	}
	return res
}

// presetFor returns the access preset whose capabilities are exactly caps, or "".
func presetFor(caps []string) string {
	have := append([]string(nil), caps...)
	sort.Strings(have)
	for _, name := range config.AccessPresetNames {
		if strings.Join(config.AccessPresets[name], ",") == strings.Join(have, ",") {
			return name
		}
	}
	return ""
}

func (g *generator) result(src []byte) *Result {
	r := &Result{HCL: src, AlreadyDeclared: g.already}
	for _, it := range g.items {
		switch {
		case it.skip != "":
			r.Skipped = append(r.Skipped, Skipped{Kind: it.kind, Name: it.name(), ID: it.id(), Reason: it.skip})
		case it.kind == "bucket":
			r.Buckets = append(r.Buckets, it.b.Name)
			for _, nr := range g.notifyRules(it.b) {
				if nr.Secret != "" {
					r.SecretVars = append(r.SecretVars, g.secretVarOf(it, nr.Name))
				}
				if nr.Suspended {
					r.Suspended = append(r.Suspended, fmt.Sprintf("notification rule %q of bucket %q: %s", nr.Name, it.b.Name, reasonText(nr.SuspensionReason)))
				}
			}
		case it.kind == "object":
			r.Objects = append(r.Objects, it.name())
		case it.kind == "replication":
			r.Replications = append(r.Replications, it.b.Name+"/"+it.rule.Name)
		default:
			r.Keys = append(r.Keys, it.k.Name)
		}
	}
	return r
}
