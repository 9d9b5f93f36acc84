package command

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

// WriteDiagnostics renders diagnostics as text (file:line, snippet, summary, detail), coloured
// when w is a terminal. Its cost is linear in what it prints: each file's lines are indexed
// once, and a snippet line longer than maxSnippetLine is cut to a window around the problem
// (a 100 KB one-line file gives short snippets). Values of variables are never printed.
func (m *Meta) WriteDiagnostics(w io.Writer, diags hcl.Diagnostics, files map[string]*hcl.File) {
	if len(diags) == 0 {
		return
	}
	if m.stream != nil {
		m.stream.diagnostics(diags, files)
	}
	color := m.Color(w)
	width := m.Width(w)
	bw := bufio.NewWriter(w)
	idx := map[string]*lineIndex{}
	for _, d := range diags {
		writeDiagnostic(bw, d, files, idx, width, color, m.Chdir)
	}
	_ = bw.Flush()
}

const (
	// maxSnippetLine is the longest snippet line printed; longer ones are cut around the
	// highlighted range.
	maxSnippetLine = 160
	// maxSnippetLines is the most lines of one snippet.
	maxSnippetLines = 8
)

func writeDiagnostic(w *bufio.Writer, d *hcl.Diagnostic, files map[string]*hcl.File, idx map[string]*lineIndex, width int, color bool, chdir string) {
	sev, code := "Error", "\x1b[1;31m"
	if d.Severity == hcl.DiagWarning {
		sev, code = "Warning", "\x1b[1;33m"
	}
	if color {
		fmt.Fprintf(w, "%s%s:%s \x1b[1m%s\x1b[0m\n\n", code, sev, "\x1b[0m", d.Summary)
	} else {
		fmt.Fprintf(w, "%s: %s\n\n", sev, d.Summary)
	}
	if r := d.Subject; r != nil {
		f := files[r.Filename]
		li := idx[r.Filename]
		if li == nil && f != nil && f.Bytes != nil {
			li = newLineIndex(f.Bytes)
			idx[r.Filename] = li
		}
		ctx := ""
		if f != nil {
			if nav, ok := f.Nav.(interface{ ContextString(int) string }); ok {
				if c := nav.ContextString(r.Start.Byte); c != "" {
					ctx = ", in " + c
				}
			}
		}
		fmt.Fprintf(w, "  on %s line %d%s:\n", relToChdir(chdir, r.Filename), r.Start.Line, ctx)
		if li == nil {
			fmt.Fprintf(w, "  (source code not available)\n\n")
		} else {
			for _, sl := range li.snippet(*r) {
				if color && sl.hiEnd > sl.hiStart {
					fmt.Fprintf(w, "%4d: %s\x1b[1;4m%s\x1b[0m%s\n", sl.line, sl.text[:sl.hiStart], sl.text[sl.hiStart:sl.hiEnd], sl.text[sl.hiEnd:])
				} else {
					fmt.Fprintf(w, "%4d: %s\n", sl.line, sl.text)
				}
			}
			w.WriteByte('\n')
		}
	}
	if d.Detail != "" {
		w.WriteString(wrap(d.Detail, width))
		w.WriteString("\n\n")
	}
}

// lineIndex holds the start offset of every line of a file.
type lineIndex struct {
	src    []byte
	starts []int
}

func newLineIndex(src []byte) *lineIndex {
	li := &lineIndex{src: src, starts: []int{0}}
	for i, c := range src {
		if c == '\n' {
			li.starts = append(li.starts, i+1)
		}
	}
	return li
}

// snippetLine is one line of a snippet, cut to a window; hiStart..hiEnd is the highlighted part
// of text.
type snippetLine struct {
	line           int
	text           string
	hiStart, hiEnd int
}

// snippet returns the lines of r (at most maxSnippetLines), each cut to maxSnippetLine bytes
// around the highlighted part, "…" marking a cut.
func (li *lineIndex) snippet(r hcl.Range) []snippetLine {
	if r.Start.Byte < 0 || r.End.Byte > len(li.src) || r.Start.Byte > r.End.Byte {
		return nil
	}
	first := sort.Search(len(li.starts), func(i int) bool { return li.starts[i] > r.Start.Byte }) - 1
	var out []snippetLine
	for ln := first; ln < len(li.starts) && len(out) < maxSnippetLines; ln++ {
		ls := li.starts[ln]
		if ln > first && ls >= r.End.Byte {
			break
		}
		le := len(li.src)
		if ln+1 < len(li.starts) {
			le = li.starts[ln+1] - 1
		}
		if le > ls && li.src[le-1] == '\r' {
			le--
		}
		hs, he := max(r.Start.Byte, ls)-ls, min(r.End.Byte, le)-ls
		if he < hs {
			he = hs
		}
		out = append(out, cutLine(ln+1, li.src[ls:le], hs, he))
	}
	return out
}

// cutLine cuts line to at most maxSnippetLine bytes around [hs, he), on UTF-8 boundaries.
func cutLine(n int, line []byte, hs, he int) snippetLine {
	line = printable(line)
	if len(line) <= maxSnippetLine {
		text := strings.ToValidUTF8(string(line), "\uFFFD")
		if text != string(line) {
			hs, he = 0, 0
		}
		return snippetLine{line: n, text: text, hiStart: hs, hiEnd: he}
	}
	from := max(0, hs-maxSnippetLine/4)
	for from > 0 && !utf8.RuneStart(line[from]) {
		from--
	}
	to := min(len(line), from+maxSnippetLine)
	for to < len(line) && !utf8.RuneStart(line[to]) {
		to++
	}
	raw := string(line[from:to])
	text := strings.ToValidUTF8(raw, "\uFFFD")
	pre, post := "", ""
	if from > 0 {
		pre = "…"
	}
	if to < len(line) {
		post = "…"
	}
	hs = min(max(hs-from, 0), len(text))
	he = min(max(he-from, hs), len(text))
	if text != raw {
		hs, he = 0, 0 // offsets no longer line up once invalid bytes are replaced
	}
	return snippetLine{line: n, text: pre + text + post, hiStart: hs + len(pre), hiEnd: he + len(pre)}
}

// printable replaces control characters (a hostile file could hold terminal escapes) by '?',
// keeping offsets.
func printable(line []byte) []byte {
	var out []byte
	for i, c := range line {
		if (c < 0x20 && c != '\t') || c == 0x7f {
			if out == nil {
				out = append([]byte(nil), line...)
			}
			out[i] = '?'
		}
	}
	if out == nil {
		return line
	}
	return out
}

// wrap word-wraps s to width columns, keeping its own line breaks.
func wrap(s string, width int) string {
	if width <= 0 {
		return s
	}
	var b strings.Builder
	for i, para := range strings.Split(s, "\n") {
		if i > 0 {
			b.WriteByte('\n')
		}
		col := 0
		for j, word := range strings.Fields(para) {
			wl := utf8.RuneCountInString(word)
			if j > 0 {
				if col+1+wl > width {
					b.WriteByte('\n')
					col = 0
				} else {
					b.WriteByte(' ')
					col++
				}
			}
			b.WriteString(word)
			col += wl
		}
	}
	return b.String()
}

// JSONDiagnostic is one diagnostic in Terraform's JSON shape.
type JSONDiagnostic struct {
	Severity string       `json:"severity"`
	Summary  string       `json:"summary"`
	Detail   string       `json:"detail"`
	Range    *JSONRange   `json:"range,omitempty"`
	Snippet  *JSONSnippet `json:"snippet,omitempty"`
}

// JSONRange is a source range.
type JSONRange struct {
	Filename string  `json:"filename"`
	Start    JSONPos `json:"start"`
	End      JSONPos `json:"end"`
}

// JSONPos is a source position (1-based line and column, 0-based byte offset).
type JSONPos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
	Byte   int `json:"byte"`
}

// JSONSnippet is the source code around a diagnostic.
type JSONSnippet struct {
	Context              *string `json:"context"`
	Code                 string  `json:"code"`
	StartLine            int     `json:"start_line"`
	HighlightStartOffset int     `json:"highlight_start_offset"`
	HighlightEndOffset   int     `json:"highlight_end_offset"`
	Values               []any   `json:"values"`
}

// NewJSONDiagnostics converts diagnostics to the JSON shape.
func NewJSONDiagnostics(diags hcl.Diagnostics, files map[string]*hcl.File) []JSONDiagnostic {
	out := []JSONDiagnostic{}
	idx := map[string]*lineIndex{}
	for _, d := range diags {
		jd := JSONDiagnostic{Severity: "error", Summary: d.Summary, Detail: d.Detail}
		if d.Severity == hcl.DiagWarning {
			jd.Severity = "warning"
		}
		if r := d.Subject; r != nil {
			jd.Range = &JSONRange{Filename: r.Filename,
				Start: JSONPos{r.Start.Line, r.Start.Column, r.Start.Byte},
				End:   JSONPos{r.End.Line, r.End.Column, r.End.Byte}}
			if f := files[r.Filename]; f != nil && f.Bytes != nil {
				jd.Snippet = snippet(f, *r, idx)
			}
		}
		out = append(out, jd)
	}
	return out
}

func snippet(f *hcl.File, r hcl.Range, idx map[string]*lineIndex) *JSONSnippet {
	li := idx[r.Filename]
	if li == nil {
		li = newLineIndex(f.Bytes)
		idx[r.Filename] = li
	}
	lines := li.snippet(r)
	if len(lines) == 0 {
		return nil
	}
	var code strings.Builder
	for i, l := range lines {
		if i > 0 {
			code.WriteByte('\n')
		}
		code.WriteString(l.text)
	}
	last := lines[len(lines)-1]
	end := code.Len() - len(last.text) + last.hiEnd
	if len(lines) == 1 {
		end = last.hiEnd
	}
	s := &JSONSnippet{Code: code.String(), StartLine: r.Start.Line,
		HighlightStartOffset: lines[0].hiStart, HighlightEndOffset: end, Values: []any{}}
	if nav, ok := f.Nav.(interface{ ContextString(int) string }); ok {
		if c := nav.ContextString(r.Start.Byte); c != "" {
			s.Context = &c
		}
	}
	return s
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
