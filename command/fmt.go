package command

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclwrite"

	"github.com/b2plan/b2plan/config"
)

func init() {
	Register(&Command{
		Name:     "fmt",
		Synopsis: "Rewrite configuration files to the canonical HCL format",
		Help: `
Usage: b2plan [global flags] fmt [-check] [-diff] [-recursive] [-list=false] [DIR | FILE | -]

  Rewrites *.hcl files of DIR (default: the current directory), or FILE, into the canonical
  HCL layout (aligned "=", two-space indentation). Files with syntax errors are reported and
  left alone. With "-" the configuration is read from stdin and written to stdout.

Flags:
  -check       change nothing; exit 3 when a file needs formatting (as terraform fmt -check)
  -diff        print a unified diff of the changes
  -recursive   also process sub-directories
  -list=false  do not print the names of the files that change
  -no-color    no colour

Exit status: 0 ok (with -check: everything is formatted), 1 error (syntax error, unreadable
file), 3 with -check when at least one file is not formatted.

Examples:
  b2plan fmt
  b2plan fmt -check -diff examples/
  b2plan fmt -recursive .
`,
		Run: runFmt,
	})
}

func runFmt(m *Meta, args []string) int {
	c := commands["fmt"]
	fset := m.FlagSet(c)
	check := fset.Bool("check", false, "")
	diff := fset.Bool("diff", false, "")
	recursive := fset.Bool("recursive", false, "")
	list := fset.Bool("list", true, "")
	if code, done := m.ParseFlags(c, fset, args); done {
		return code
	}
	if fset.NArg() > 1 {
		return m.Errorf("fmt takes at most one DIR or FILE; got %d arguments.", fset.NArg())
	}
	target := "."
	if fset.NArg() == 1 {
		target = fset.Arg(0)
	}
	if target == "-" {
		src, err := io.ReadAll(m.Stdin)
		if err != nil {
			return m.Errorf("read stdin: %v", err)
		}
		if diags := config.CheckSyntax(src, "<stdin>"); diags.HasErrors() {
			m.WriteDiagnostics(m.Stderr, diags, map[string]*hcl.File{"<stdin>": {Bytes: src}})
			return ExitError
		}
		out := hclwrite.Format(src)
		if *check {
			if !bytes.Equal(src, out) {
				return ExitNeedsFormat
			}
			return ExitOK
		}
		_, _ = m.Stdout.Write(out)
		return ExitOK
	}
	path := m.Path(target)
	st, err := os.Stat(path)
	if err != nil {
		return m.Errorf("%v", err)
	}
	var files []string
	if !st.IsDir() {
		files = []string{path}
	} else {
		err := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if p != path && (!*recursive || strings.HasPrefix(d.Name(), ".")) {
					return filepath.SkipDir
				}
				return nil
			}
			if strings.HasSuffix(d.Name(), ".hcl") && !strings.HasPrefix(d.Name(), ".") {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return m.Errorf("%v", err)
		}
		sort.Strings(files)
	}
	code := ExitOK
	changed := 0
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			m.Errorf("%v", err)
			code = ExitError
			continue
		}
		if diags := config.CheckSyntax(src, f); diags.HasErrors() {
			m.WriteDiagnostics(m.Stderr, diags, map[string]*hcl.File{f: {Bytes: src}})
			code = ExitError
			continue
		}
		out := hclwrite.Format(src)
		if bytes.Equal(src, out) {
			continue
		}
		changed++
		if *list {
			fmt.Fprintln(m.Stdout, f)
		}
		if *diff {
			fmt.Fprint(m.Stdout, unifiedDiff("old/"+filepath.ToSlash(f), "new/"+filepath.ToSlash(f), string(src), string(out)))
		}
		if !*check {
			mode := os.FileMode(0o644)
			if fi, err := os.Stat(f); err == nil {
				mode = fi.Mode().Perm()
			}
			if err := os.WriteFile(f, out, mode); err != nil {
				m.Errorf("%v", err)
				code = ExitError
			}
		}
	}
	if code == ExitOK && *check && changed > 0 {
		return ExitNeedsFormat
	}
	return code
}

// unifiedDiff returns a unified diff (3 lines of context) between a and b.
func unifiedDiff(nameA, nameB, a, b string) string {
	la, lb := splitLines(a), splitLines(b)
	ops := diffLines(la, lb)
	var sb strings.Builder
	fmt.Fprintf(&sb, "--- %s\n+++ %s\n", nameA, nameB)
	const ctx = 3
	// group ops into hunks
	i := 0
	for i < len(ops) {
		if ops[i].kind == ' ' {
			i++
			continue
		}
		start := i - ctx
		if start < 0 {
			start = 0
		}
		end := i
		for end < len(ops) {
			if ops[end].kind != ' ' {
				end++
				continue
			}
			run := end
			for run < len(ops) && ops[run].kind == ' ' {
				run++
			}
			if run-end > 2*ctx || run == len(ops) {
				end += min(ctx, run-end)
				break
			}
			end = run
		}
		aStart, bStart, aN, bN := ops[start].ai, ops[start].bi, 0, 0
		for _, op := range ops[start:end] {
			if op.kind != '+' {
				aN++
			}
			if op.kind != '-' {
				bN++
			}
		}
		fmt.Fprintf(&sb, "@@ -%d,%d +%d,%d @@\n", aStart+1, aN, bStart+1, bN)
		for _, op := range ops[start:end] {
			sb.WriteByte(op.kind)
			sb.WriteString(op.text)
			sb.WriteByte('\n')
		}
		i = end
	}
	return sb.String()
}

type diffOp struct {
	kind   byte // ' ', '-', '+'
	text   string
	ai, bi int // line index in a and b where this op applies
}

func splitLines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// diffLines is an LCS line diff; configuration files are small.
func diffLines(a, b []string) []diffOp {
	n, m := len(a), len(b)
	if n*m > 4_000_000 {
		var ops []diffOp
		for i, l := range a {
			ops = append(ops, diffOp{'-', l, i, 0})
		}
		for j, l := range b {
			ops = append(ops, diffOp{'+', l, n, j})
		}
		return ops
	}
	lcs := make([][]int32, n+1)
	for i := range lcs {
		lcs[i] = make([]int32, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var ops []diffOp
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			ops = append(ops, diffOp{' ', a[i], i, j})
			i++
			j++
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			ops = append(ops, diffOp{'+', b[j], i, j})
			j++
		default:
			ops = append(ops, diffOp{'-', a[i], i, j})
			i++
		}
	}
	return ops
}
