package config

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// VarInputs are the values given for input variables from outside the configuration.
// Precedence (lowest first): variable default < environment < var files (in order) < Vars
// (in order).
type VarInputs struct {
	// Vars are -var options, each "NAME=VALUE".
	Vars []string
	// VarFiles are -var-file paths (HCL syntax: NAME = VALUE lines).
	VarFiles []string
	// Data are the values read for data sources (see data.go); nil before they are read.
	Data DataValues
	// Env is the environment as "K=V" strings (os.Environ()); only B2PLAN_VAR_NAME entries are
	// used. Nil means no environment.
	Env []string
}

// EnvVarPrefix prefixes environment variables that set input variables.
const EnvVarPrefix = "B2PLAN_VAR_"

// Load reads and evaluates a configuration. path is a directory (every *.hcl file in it, not
// recursive) or a single .hcl file. The returned Desired is never nil: on errors it holds what
// could be evaluated, and always Files, for rendering the diagnostics with source snippets.
func Load(path string, vars VarInputs) (*Desired, hcl.Diagnostics) {
	l := newLoader()
	d := l.d
	var names []string
	info, err := os.Stat(path)
	switch {
	case err != nil:
		return d, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read configuration",
			Detail: fmt.Sprintf("%v. Pass an existing directory or .hcl file.", err)}}
	case info.IsDir():
		d.Dir = path
		names, err = hclFiles(path)
		if err != nil {
			return d, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read configuration directory", Detail: err.Error()}}
		}
		if len(names) == 0 {
			return d, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "No configuration files",
				Detail: fmt.Sprintf("The directory %s contains no .hcl files. Pass the directory that holds your configuration, or a .hcl file.", path)}}
		}
	default:
		d.Dir = filepath.Dir(path)
		names = []string{path}
	}
	for _, n := range names {
		src, err := os.ReadFile(n)
		if err != nil {
			l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot read file", Detail: err.Error()})
			continue
		}
		l.addSource(n, src)
	}
	l.run(vars)
	return d, l.result()
}

// LoadSources evaluates in-memory files (name → content) as one configuration; dir is used to
// resolve relative secret_file paths. It is the entry point for tests and fuzzing.
func LoadSources(dir string, files map[string][]byte, vars VarInputs) (*Desired, hcl.Diagnostics) {
	l := newLoader()
	l.d.Dir = dir
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		l.addSource(n, files[n])
	}
	l.run(vars)
	return l.d, l.result()
}

// hclFiles lists the configuration files of dir (*.hcl, not hidden, not recursive), sorted.
func hclFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".hcl") && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(names)
	return names, nil
}

type loader struct {
	parser *hclparse.Parser
	d      *Desired
	diags  hcl.Diagnostics
	bodies []*hclsyntax.Body

	varDecls  map[string]*varDecl
	varOrder  []string
	varVals   map[string]cty.Value
	locals    map[string]*hclsyntax.Attribute
	localVals map[string]cty.Value
	blocks    map[string]map[string]*hclsyntax.Block // kind → label → block
	blockObjs map[string]map[string]*blockVal
	order     []node

	nameRng map[string]hcl.Range // address (or address#attr) → range of the name/from/to expression
	badMove map[string]bool
	badRepl map[string]bool // replications with an invalid name or bucket (replication.go)

	dataBlocks map[string]*hclsyntax.Block // KIND.LABEL → block
	dataVals   map[string]cty.Value        // KIND.LABEL → value seen by references
	dataIn     DataValues

	// Modules (module.go). The root has no parent and an empty prefix.
	parent        *loader
	prefix        string   // address prefix: "", "module.site.", `module.site["a"].`
	dir           string   // directory of this module's files
	stack         []string // absolute directories of the modules being loaded, root first
	modules       map[string]*hclsyntax.Block
	moduleVals    map[string]map[bool]cty.Value // module.NAME, normal and with id placeholders
	outputVals    map[string]map[bool]cty.Value // a module's outputs, the same way
	varSentinel   map[string]cty.Value          // a module's variables with id placeholders
	localSentinel map[string]cty.Value          // locals that hold ids, with id placeholders
	modCache      map[string]*modFiles

	outputs     map[string]*hclsyntax.Block
	outputOrder []*hclsyntax.Block

	aliasBlocks map[string]*hclsyntax.Block // provider "b2" blocks with an alias
	providerSet map[string]hcl.Range        // address → range of an explicit provider argument

	settingsBlock *hclsyntax.Block
	providerBlock *hclsyntax.Block

	rawFiles map[string]*hcl.File // files refused before parsing, for snippets
	funcs    map[string]function.Function
	budget   *budget // shared by the loaders of modules
	// evaluating is the expression being evaluated, for budget diagnostics.
	evaluating *hcl.Range
	// ctxEntries counts the values placed in evaluation contexts: the work of evaluation,
	// which tests check grows linearly with the configuration.
	ctxEntries int

	secrets map[string]bool // text of sensitive values, removed from messages (redactDiags)
	mask    []hcl.Range     // source ranges of secrets, masked in snippets (maskedFiles)
}

var blockKinds = []string{"bucket", "key", "folder", "object", "move", "replication"}

func newLoader() *loader {
	l := &loader{
		parser:      hclparse.NewParser(),
		d:           &Desired{Variables: map[string]string{}},
		varDecls:    map[string]*varDecl{},
		varVals:     map[string]cty.Value{},
		locals:      map[string]*hclsyntax.Attribute{},
		localVals:   map[string]cty.Value{},
		blocks:      map[string]map[string]*hclsyntax.Block{},
		blockObjs:   map[string]map[string]*blockVal{},
		nameRng:     map[string]hcl.Range{},
		badMove:     map[string]bool{},
		badRepl:     map[string]bool{},
		secrets:     map[string]bool{},
		rawFiles:    map[string]*hcl.File{},
		outputs:     map[string]*hclsyntax.Block{},
		dataBlocks:  map[string]*hclsyntax.Block{},
		dataVals:    map[string]cty.Value{},
		budget:      &budget{},
		modules:     map[string]*hclsyntax.Block{},
		moduleVals:  map[string]map[bool]cty.Value{},
		modCache:    map[string]*modFiles{},
		aliasBlocks: map[string]*hclsyntax.Block{},
		providerSet: map[string]hcl.Range{},
	}
	l.funcs = make(map[string]function.Function, len(functions()))
	for n, f := range functions() {
		l.funcs[n] = l.charged(f)
	}
	for _, k := range blockKinds {
		l.blocks[k] = map[string]*hclsyntax.Block{}
		l.blockObjs[k] = map[string]*blockVal{}
	}
	return l
}

func (l *loader) addSource(name string, src []byte) {
	if bytes.Contains(src, []byte("application_key")) || bytes.Contains(src, []byte("signing_secret")) {
		l.maskLiterals(name, src, func(n string) bool { return n == "application_key" || n == "signing_secret" })
	}
	if d := nestingProblem(src, name); d != nil {
		l.diags = append(l.diags, d)
		l.rawFiles[name] = &hcl.File{Bytes: src}
		return
	}
	l.budget.source += len(src)
	f, diags := l.parser.ParseHCL(src, name)
	l.diags = append(l.diags, diags...)
	if f == nil {
		return
	}
	if body, ok := f.Body.(*hclsyntax.Body); ok {
		l.diags = append(l.diags, checkLiterals(body)...)
		l.withBudget(body)
		l.bodies = append(l.bodies, body)
	}
}

func (l *loader) result() hcl.Diagnostics {
	files := map[string]*hcl.File{}
	for n, f := range l.parser.Files() {
		files[n] = f
	}
	for n, f := range l.rawFiles {
		files[n] = f
	}
	l.d.Files = l.maskedFiles(files)
	out := dedupe(l.diags)
	l.redactDiags(out)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Subject, out[j].Subject
		switch {
		case a == nil || b == nil:
			return a == nil && b != nil
		case a.Filename != b.Filename:
			return a.Filename < b.Filename
		default:
			return a.Start.Byte < b.Start.Byte
		}
	})
	return capPerFile(out)
}

// maxDiagsPerFile bounds the diagnostics reported for one file (random bytes give thousands).
const maxDiagsPerFile = 50

// capPerFile keeps the first maxDiagsPerFile diagnostics of each file (diags sorted by file)
// and says how many more there are.
func capPerFile(diags hcl.Diagnostics) hcl.Diagnostics {
	var out, notes hcl.Diagnostics
	count := map[string]int{}
	dropped := map[string]int{}
	droppedErr := map[string]bool{}
	var files []string
	for _, d := range diags {
		fn := ""
		if d.Subject != nil {
			fn = d.Subject.Filename
		}
		if count[fn]++; count[fn] <= maxDiagsPerFile {
			out = append(out, d)
			continue
		}
		if dropped[fn] == 0 {
			files = append(files, fn)
		}
		dropped[fn]++
		droppedErr[fn] = droppedErr[fn] || d.Severity == hcl.DiagError
	}
	for _, fn := range files {
		sev := hcl.DiagWarning
		if droppedErr[fn] {
			sev = hcl.DiagError
		}
		where := "in " + fn
		if fn == "" {
			where = "without a source location"
		}
		notes = append(notes, &hcl.Diagnostic{Severity: sev, Summary: "Too many problems " + where,
			Detail: fmt.Sprintf("%d more problems %s are not shown (the first %d are). Fix those and run again.", dropped[fn], where, maxDiagsPerFile)})
	}
	return append(out, notes...)
}

func (l *loader) run(vars VarInputs) {
	l.dataIn = vars.Data
	l.dir = l.d.Dir
	if abs, err := filepath.Abs(l.dir); err == nil {
		l.stack = []string{abs}
	}
	l.collect()
	l.loadVariables(vars)
	l.evalGraph()
	l.evalOutputs()
	l.decodeSettings()
	l.decodeProviders()
	l.validateAll()
}

// collect walks the top level of every file: block types, labels, duplicates.
func (l *loader) collect() {
	for _, body := range l.bodies {
		for _, a := range sortedAttrs(body) {
			l.diags = append(l.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: "Unsupported argument",
				Detail:  fmt.Sprintf("Arguments are not expected at the top level; %q must be inside a block (for a value to reuse, put it in a locals block).", a.Name),
				Subject: a.NameRange.Ptr(),
			})
		}
		for _, b := range body.Blocks {
			nLabels, known := topLevel[b.Type]
			if b.Type == "data" {
				l.collectData(b)
				continue
			}
			if !known {
				detail := fmt.Sprintf("Blocks of type %q are not expected here.", b.Type)
				if dym := didYouMean(b.Type, topLevelNames); dym != "" {
					detail += dym
				} else {
					detail += " Valid blocks: " + quoteList(topLevelNames) + "."
				}
				l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unsupported block type", Detail: detail, Subject: b.TypeRange.Ptr()})
				continue
			}
			if len(b.Labels) != nLabels {
				var detail string
				var subj hcl.Range
				if nLabels == 0 {
					detail = fmt.Sprintf("A %s block has no labels: remove %q.", b.Type, b.Labels[0])
					subj = b.LabelRanges[0]
				} else if len(b.Labels) == 0 {
					detail = fmt.Sprintf("A %s block needs one label, its name: %s \"NAME\" { ... }.", b.Type, b.Type)
					subj = b.TypeRange
				} else {
					detail = fmt.Sprintf("A %s block has exactly one label, its name: remove %q.", b.Type, b.Labels[1])
					subj = b.LabelRanges[1]
				}
				summary := "Missing name for " + b.Type
				if len(b.Labels) > nLabels {
					summary = "Extraneous label for " + b.Type
				}
				l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: subj.Ptr()})
				continue
			}
			what := b.Type + " block"
			if nLabels == 1 {
				what = fmt.Sprintf("%s %q", b.Type, b.Labels[0])
				if !hclsyntax.ValidIdentifier(b.Labels[0]) {
					l.diags = append(l.diags, &hcl.Diagnostic{
						Severity: hcl.DiagError, Summary: "Invalid " + b.Type + " label",
						Detail: fmt.Sprintf("The label %q must be a valid identifier (letters, digits, underscores and dashes, starting with a letter), because it becomes the address %s.NAME. Set the B2 name with name = %q and use a label such as %q.",
							b.Labels[0], b.Type, b.Labels[0], identFrom(b.Labels[0])),
						Subject: b.LabelRanges[0].Ptr(),
					})
					continue
				}
			}
			l.diags = append(l.diags, checkBody(b.Body, schemas[b.Type], what, b.DefRange())...)
			if l.parent != nil && (b.Type == "b2plan" || b.Type == "provider") {
				l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unsupported block in a module",
					Detail:  fmt.Sprintf("A %s block is only allowed in the root configuration; this file belongs to a module (%s). Move it to the root configuration.", b.Type, l.dir),
					Subject: b.TypeRange.Ptr()})
				continue
			}
			switch b.Type {
			case "module":
				l.collectModule(b)
			case "b2plan":
				if l.settingsBlock != nil {
					l.diags = append(l.diags, dupBlock(b, l.settingsBlock, "b2plan block", "Merge them into one b2plan block."))
					continue
				}
				l.settingsBlock = b
			case "provider":
				if b.Labels[0] != "b2" {
					l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unsupported provider",
						Detail: fmt.Sprintf("The only provider is \"b2\"; write provider \"b2\" { ... }.%s", didYouMean(b.Labels[0], []string{"b2"})), Subject: b.LabelRanges[0].Ptr()})
					continue
				}
				l.collectProvider(b)
			case "variable":
				l.declareVariable(b)
			case "output":
				if prev, dup := l.outputs[b.Labels[0]]; dup {
					l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate output " + b.Labels[0],
						Detail:  fmt.Sprintf("An output named %q is already declared at %s. Output names must be unique: rename or remove one.", b.Labels[0], prev.DefRange().String()),
						Subject: b.LabelRanges[0].Ptr()})
					continue
				}
				l.outputs[b.Labels[0]] = b
				l.outputOrder = append(l.outputOrder, b)
			case "locals":
				for _, a := range sortedAttrs(b.Body) {
					if prev, dup := l.locals[a.Name]; dup {
						l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate local value",
							Detail:  fmt.Sprintf("local.%s is already defined at %s. Rename or remove one of them.", a.Name, prev.NameRange.String()),
							Subject: a.NameRange.Ptr()})
						continue
					}
					l.locals[a.Name] = a
				}
			default:
				if prev, dup := l.blocks[b.Type][b.Labels[0]]; dup {
					l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate address " + b.Type + "." + b.Labels[0],
						Detail:  fmt.Sprintf("A %s block labelled %q is already declared at %s. Labels must be unique per block type: rename one of them.", b.Type, b.Labels[0], prev.DefRange().String()),
						Subject: b.LabelRanges[0].Ptr()})
					continue
				}
				l.blocks[b.Type][b.Labels[0]] = b
				l.order = append(l.order, node{kind: b.Type, name: b.Labels[0], block: b})
			}
		}
	}
}

func dupBlock(b, prev *hclsyntax.Block, what, fix string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate " + what,
		Detail:  fmt.Sprintf("Only one %s is allowed; the first is at %s. %s", what, prev.DefRange().String(), fix),
		Subject: b.DefRange().Ptr()}
}

func identFrom(s string) string {
	var sb strings.Builder
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r == '_':
			sb.WriteRune(r)
		case (r >= '0' && r <= '9') || r == '-':
			if i == 0 {
				sb.WriteRune('b')
			}
			sb.WriteRune(r)
		default:
			sb.WriteRune('_')
		}
	}
	if sb.Len() == 0 {
		return "main"
	}
	return sb.String()
}

// dedupe drops diagnostics repeated for several for_each instances of one block.
func dedupe(diags hcl.Diagnostics) hcl.Diagnostics {
	seen := map[string]bool{}
	var out hcl.Diagnostics
	for _, d := range diags {
		k := fmt.Sprintf("%d|%s|%s", d.Severity, d.Summary, d.Detail)
		if d.Subject != nil {
			k += "|" + d.Subject.String()
		}
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, d)
	}
	return out
}
