package command

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// TestSnippetsOfAnyRange: the snippet of any range of any bytes (long lines, invalid UTF-8,
// control characters, ranges out of the file) is bounded, printable, and its highlight lies
// within its text.
func TestSnippetsOfAnyRange(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for round := 0; round < 2000; round++ {
		n := r.IntN(2000)
		src := make([]byte, n)
		for i := range src {
			switch r.IntN(6) {
			case 0:
				src[i] = '\n'
			case 1:
				src[i] = byte(r.UintN(256))
			default:
				src[i] = 'a' + byte(r.IntN(26))
			}
		}
		if r.IntN(4) == 0 {
			src = append(src, bytes.Repeat([]byte("é"), 300)...)
		}
		a, b := r.IntN(len(src)+3)-1, r.IntN(len(src)+3)-1
		if a > b && r.IntN(2) == 0 {
			a, b = b, a
		}
		rng := hcl.Range{Filename: "f", Start: hcl.Pos{Byte: a, Line: 1, Column: 1}, End: hcl.Pos{Byte: b, Line: 1, Column: 1}}
		li := newLineIndex(src)
		lines := li.snippet(rng)
		if len(lines) > maxSnippetLines {
			t.Fatalf("%d lines", len(lines))
		}
		for _, l := range lines {
			if len(l.text) > 3*maxSnippetLine+12 { // invalid bytes become U+FFFD (3 bytes)
				t.Fatalf("line of %d bytes", len(l.text))
			}
			if l.hiStart < 0 || l.hiEnd < l.hiStart || l.hiEnd > len(l.text) {
				t.Fatalf("highlight %d..%d of %q", l.hiStart, l.hiEnd, l.text)
			}
			if strings.ContainsAny(l.text, "\x00\x1b\r\n") {
				t.Fatalf("control character in %q", l.text)
			}
		}
		var out bytes.Buffer
		m := &Meta{Stdout: &out, Stderr: &out}
		m.WriteDiagnostics(&out, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "s", Detail: "d", Subject: &rng}}, map[string]*hcl.File{"f": {Bytes: src}})
		if _ = NewJSONDiagnostics(hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "s", Subject: &rng}}, map[string]*hcl.File{"f": {Bytes: src}}); out.Len() > 4096 {
			t.Fatalf("%d bytes of output", out.Len())
		}
	}
}
