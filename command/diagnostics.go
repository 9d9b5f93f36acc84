package command

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"

	"github.com/hashicorp/hcl/v2"
)

// WriteDiagnostics renders diagnostics as text (file:line:col, snippet, summary, detail),
// coloured when w is a terminal.
func (m *Meta) WriteDiagnostics(w io.Writer, diags hcl.Diagnostics, files map[string]*hcl.File) {
	if len(diags) == 0 {
		return
	}
	dw := hcl.NewDiagnosticTextWriter(w, files, uint(m.Width(w)), m.Color(w))
	_ = dw.WriteDiagnostics(diags)
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
	for _, d := range diags {
		jd := JSONDiagnostic{Severity: "error", Summary: d.Summary, Detail: d.Detail}
		if d.Severity == hcl.DiagWarning {
			jd.Severity = "warning"
		}
		if r := d.Subject; r != nil {
			jd.Range = &JSONRange{Filename: r.Filename,
				Start: JSONPos{r.Start.Line, r.Start.Column, r.Start.Byte},
				End:   JSONPos{r.End.Line, r.End.Column, r.End.Byte}}
			if f := files[r.Filename]; f != nil {
				jd.Snippet = snippet(f, *r)
			}
		}
		out = append(out, jd)
	}
	return out
}

func snippet(f *hcl.File, r hcl.Range) *JSONSnippet {
	src := f.Bytes
	if r.Start.Byte < 0 || r.End.Byte > len(src) || r.Start.Byte > r.End.Byte {
		return nil
	}
	lineStart := bytes.LastIndexByte(src[:r.Start.Byte], '\n') + 1
	var code bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(src[lineStart:]))
	sc.Buffer(make([]byte, 0, 64*1024), len(src)+1)
	lines := r.End.Line - r.Start.Line + 1
	for i := 0; i < lines && sc.Scan(); i++ {
		if i > 0 {
			code.WriteByte('\n')
		}
		code.Write(sc.Bytes())
	}
	s := &JSONSnippet{Code: code.String(), StartLine: r.Start.Line,
		HighlightStartOffset: r.Start.Byte - lineStart, HighlightEndOffset: r.End.Byte - lineStart, Values: []any{}}
	if s.HighlightEndOffset > len(s.Code) {
		s.HighlightEndOffset = len(s.Code)
	}
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
