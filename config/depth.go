package config

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// maxNesting bounds how deeply a file may nest. HCL's parser, its evaluator and the walks of
// its syntax tree recurse once per level of brackets, templates, directives and operators, so
// 100,000 nested brackets exhaust the Go stack, which is a crash no recover() can catch. No
// b2plan configuration needs more than a few dozen levels.
const maxNesting = 256

// maxLiteralRun bounds the literal pieces in a row of one string or heredoc: the lexer cuts a
// template at every % and $ (and a heredoc at every line), and HCL's parser joins consecutive
// pieces in time quadratic in their number ("%[1]s" 20,000 times takes seconds).
const maxLiteralRun = 4096

// nestingProblem scans the tokens of src (so strings and comments do not count) and returns a
// diagnostic at the first token where the nesting exceeds maxNesting, or nil. Nesting counts
// open brackets, braces, parentheses, quotes, heredocs, ${ and %{ sequences, open %{if} and
// %{for} directives, and the operators of the expression being read (each operator may add a
// level to the syntax tree: 1+1+...+1, !!!x, a ? b : c ? ...); a comma, a newline between
// arguments of a block or object, or an = ends an expression.
func nestingProblem(src []byte, filename string) *hcl.Diagnostic {
	toks, _ := hclsyntax.LexConfig(src, filename, hcl.InitialPos)
	ops := []int{0}        // operators of the expression being read, per level
	braces := []bool{true} // whether a level is a block/object body (newlines separate items)
	total := 0             // levels + operators + directives
	run := 0               // literal pieces in a row
	for i, t := range toks {
		if t.Type == hclsyntax.TokenQuotedLit || t.Type == hclsyntax.TokenStringLit {
			if run++; run > maxLiteralRun {
				return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "String too complex",
					Detail: fmt.Sprintf("This string or heredoc has more than %d pieces (a piece ends at every %% and $, and at every line of a heredoc). b2plan refuses it without reading further, so that parsing stays fast. Split it, or build it with join() in a local.",
						maxLiteralRun),
					Subject: t.Range.Ptr()}
			}
		} else {
			run = 0
		}
		depth := len(ops) - 1
		switch t.Type {
		case hclsyntax.TokenOBrace, hclsyntax.TokenOBrack, hclsyntax.TokenOParen, hclsyntax.TokenOQuote,
			hclsyntax.TokenOHeredoc, hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl:
			ops = append(ops, 0)
			braces = append(braces, t.Type == hclsyntax.TokenOBrace)
			total++
		case hclsyntax.TokenCBrace, hclsyntax.TokenCBrack, hclsyntax.TokenCParen, hclsyntax.TokenCQuote,
			hclsyntax.TokenCHeredoc, hclsyntax.TokenTemplateSeqEnd:
			if depth > 0 {
				total -= ops[depth] + 1
				ops, braces = ops[:depth], braces[:depth]
			}
		case hclsyntax.TokenComma, hclsyntax.TokenEqual:
			total -= ops[depth]
			ops[depth] = 0
		case hclsyntax.TokenNewline:
			if braces[depth] {
				total -= ops[depth]
				ops[depth] = 0
			}
		case hclsyntax.TokenPlus, hclsyntax.TokenMinus, hclsyntax.TokenStar, hclsyntax.TokenSlash,
			hclsyntax.TokenPercent, hclsyntax.TokenBang, hclsyntax.TokenAnd, hclsyntax.TokenOr,
			hclsyntax.TokenEqualOp, hclsyntax.TokenNotEqual, hclsyntax.TokenLessThan,
			hclsyntax.TokenLessThanEq, hclsyntax.TokenGreaterThan, hclsyntax.TokenGreaterThanEq,
			hclsyntax.TokenQuestion, hclsyntax.TokenEllipsis:
			// A splat [*] nests the expression it is part of: count it one level up.
			lvl := depth
			if t.Type == hclsyntax.TokenStar && depth > 0 && i > 0 && toks[i-1].Type == hclsyntax.TokenOBrack {
				lvl = depth - 1
			}
			ops[lvl]++
			total++
		case hclsyntax.TokenIdent:
			// Directives: %{if} and %{for} open a level that %{endif} / %{endfor} close.
			if i > 0 && toks[i-1].Type == hclsyntax.TokenTemplateControl {
				switch string(t.Bytes) {
				case "if", "for":
					ops[depth-1]++
					total++
				case "endif", "endfor":
					if ops[depth-1] > 0 {
						ops[depth-1]--
						total--
					}
				}
			}
		}
		if total > maxNesting {
			return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Nesting too deep",
				Detail: fmt.Sprintf("This file nests brackets, braces, parentheses, templates, directives or operators more than %d levels deep (counting the operators of one expression as levels). b2plan refuses it without reading further, so that no input can exhaust its stack. Split the expression into locals, or close what is left open.",
					maxNesting),
				Subject: t.Range.Ptr()}
		}
	}
	return nil
}

// CheckSyntax reports the syntax errors of one file (for b2plan fmt), with the same guards as
// loading: a file nested too deeply is refused before it is parsed, and at most
// maxDiagsPerFile diagnostics are returned.
func CheckSyntax(src []byte, filename string) hcl.Diagnostics {
	if d := nestingProblem(src, filename); d != nil {
		return hcl.Diagnostics{d}
	}
	_, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	return capPerFile(diags)
}
