package planner

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// The human plan shows nested values (lifecycle and CORS rules, info, object_lock) as HCL-like
// structures, attribute by attribute, as Terraform does: a created or destroyed value has every
// line marked + or -; a changed one shows only what differs (~ on changed lines, + and - on
// added and removed members and elements) and folds the rest into
// "# (N unchanged attributes hidden)". Lists of objects are diffed by element, pairing a removed
// and an added element with the same identity (their first attribute: a lifecycle rule's
// prefix, a CORS rule's name) into one changed element.

// maxAttrLine is the width up to which a list of plain values is written on one line.
const maxAttrLine = 80

// maxNest bounds the nesting of a value rendered as a structure (a plan file may be hostile);
// deeper values are written as compact JSON.
const maxNest = 32

// maxLCS bounds the work of the element-by-element diff of a list of objects (n*m); larger
// lists are diffed by set membership.
const maxLCS = 1 << 20

// mapAttrs are the attributes whose value is a map (keys are written quoted, as in HCL).
var mapAttrs = map[string]bool{"info": true}

// jv is a parsed JSON value that keeps the order of object members.
type jv struct {
	kind  byte   // 'n' null, 'p' a plain value (bool, number, string), 'a' array, 'o' object
	lit   string // 'p', 'n': the compact JSON text
	elems []*jv  // 'a'
	keys  []string
	vals  []*jv // 'o'
	canon string
}

var errTooDeep = errors.New("nested too deep")

func parseJV(raw []byte) (*jv, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	v, err := readJV(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err == nil {
		return nil, errors.New("trailing data")
	}
	return v, nil
}

func readJV(dec *json.Decoder, depth int) (*jv, error) {
	if depth > maxNest {
		return nil, errTooDeep
	}
	t, err := dec.Token()
	if err != nil {
		return nil, err
	}
	v := &jv{}
	switch x := t.(type) {
	case json.Delim:
		switch x {
		case '[':
			v.kind = 'a'
			for dec.More() {
				e, err := readJV(dec, depth+1)
				if err != nil {
					return nil, err
				}
				v.elems = append(v.elems, e)
			}
		case '{':
			v.kind = 'o'
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				e, err := readJV(dec, depth+1)
				if err != nil {
					return nil, err
				}
				v.keys, v.vals = append(v.keys, k), append(v.vals, e)
			}
		default:
			return nil, fmt.Errorf("unexpected %v", x)
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return nil, err
		}
	case nil:
		v.kind, v.lit = 'n', "null"
	case bool:
		v.kind, v.lit = 'p', fmt.Sprint(x)
	case json.Number:
		v.kind, v.lit = 'p', x.String()
	case string:
		v.kind, v.lit = 'p', quoteJSON(x)
	}
	v.canon = v.compact()
	return v, nil
}

func quoteJSON(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

// compact is v as compact JSON (also its identity for comparisons).
func (v *jv) compact() string {
	switch v.kind {
	case 'a':
		parts := make([]string, len(v.elems))
		for i, e := range v.elems {
			parts[i] = e.canon
		}
		return "[" + strings.Join(parts, ",") + "]"
	case 'o':
		parts := make([]string, len(v.keys))
		for i, k := range v.keys {
			parts[i] = quoteJSON(k) + ":" + v.vals[i].canon
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	return v.lit
}

// inline is a list of plain values on one line, HCL style: ["a", "b"].
func inline(v *jv) string {
	if v.kind != 'a' {
		return v.canon
	}
	parts := make([]string, len(v.elems))
	for i, e := range v.elems {
		parts[i] = e.canon
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func (v *jv) plain() bool { return v.kind == 'p' || v.kind == 'n' }

func (v *jv) member(k string) (*jv, bool) {
	for i, kk := range v.keys {
		if kk == k {
			return v.vals[i], true
		}
	}
	return nil, false
}

func allPlain(list []*jv) bool {
	for _, e := range list {
		if !e.plain() {
			return false
		}
	}
	return true
}

// keyText is an object member's name as written: bare when it is an identifier, quoted
// otherwise and always for a map's keys.
func keyText(k string, isMap bool) string {
	if isMap || k == "" {
		return quoteJSON(k)
	}
	for i, r := range k {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && (r >= '0' && r <= '9' || r == '-')) {
			return quoteJSON(k)
		}
	}
	return k
}

func keyWidth(v *jv, isMap bool, skipNull bool) int {
	w := 0
	for i, k := range v.keys {
		if skipNull && v.vals[i].kind == 'n' {
			continue
		}
		w = max(w, len(keyText(k, isMap)))
	}
	return w
}

// symColor is the colour of a change symbol.
func symColor(sym string) string {
	switch sym {
	case "+":
		return ansiGreen
	case "-":
		return ansiRed
	case "~":
		return ansiYellow
	}
	return ""
}

// line writes one line whose change symbol is in column ind ("" = an unchanged line).
func (h *hw) line(ind int, sym, text string) {
	m := "  "
	if sym != "" {
		m = h.c(symColor(sym), sym) + " "
	}
	h.f("%s%s%s\n", strings.Repeat(" ", ind), m, text)
}

// closing writes the closing bracket of a structure opened by a line at column ind.
func (h *hw) closing(ind int, text string) {
	h.f("%s%s\n", strings.Repeat(" ", ind+2), text)
}

// hidden writes the fold of n unchanged members or elements.
func (h *hw) hidden(ind, n int, what string) {
	if n > 0 {
		h.line(ind, "", h.c(ansiDim, fmt.Sprintf("# (%s hidden)", plural(n, "unchanged "+what, "unchanged "+what+"s"))))
	}
}

// whole writes v as created (sym "+") or destroyed ("-"): every line marked. label is
// "name = " or "" (a list element); suffix ends the last line ("," for an element). Null
// members of an object are left out, as Terraform does.
func (h *hw) whole(ind int, sym, label string, v *jv, isMap bool, suffix string) {
	switch v.kind {
	case 'a':
		if len(v.elems) == 0 {
			h.line(ind, sym, label+"[]"+suffix)
			return
		}
		if in := inline(v); allPlain(v.elems) && ind+2+len(label)+len(in)+len(suffix) <= maxAttrLine {
			h.line(ind, sym, label+in+suffix)
			return
		}
		h.line(ind, sym, label+"[")
		for _, e := range v.elems {
			h.whole(ind+4, sym, "", e, false, ",")
		}
		h.closing(ind, "]"+suffix)
	case 'o':
		w := keyWidth(v, isMap, true)
		if w == 0 {
			h.line(ind, sym, label+"{}"+suffix)
			return
		}
		h.line(ind, sym, label+"{")
		for i, k := range v.keys {
			if v.vals[i].kind == 'n' {
				continue
			}
			h.whole(ind+4, sym, fmt.Sprintf("%-*s = ", w, keyText(k, isMap)), v.vals[i], false, "")
		}
		h.closing(ind, "}"+suffix)
	default:
		h.line(ind, sym, label+v.lit+suffix)
	}
}

// diff writes the change of a value from b to a (which differ).
func (h *hw) diff(ind int, label string, b, a *jv, isMap bool, suffix string) {
	switch {
	case b.kind == 'n':
		h.whole(ind, "+", label, a, isMap, suffix)
	case a.kind == 'n' && suffix == "":
		h.whole(ind, "-", label, b, isMap, " -> null")
	case b.kind == 'o' && a.kind == 'o':
		h.diffObject(ind, label, b, a, isMap, suffix, "")
	case b.kind == 'a' && a.kind == 'a':
		h.diffList(ind, label, b, a, suffix)
	default:
		h.line(ind, "~", label+b.canon+" -> "+a.canon+suffix)
	}
}

// diffObject writes the members that differ and folds the others, except keep (a list
// element's identity, shown unchanged so that the reader knows which element changed).
func (h *hw) diffObject(ind int, label string, b, a *jv, isMap bool, suffix, keep string) {
	keys := append([]string(nil), a.keys...)
	for _, k := range b.keys {
		if _, ok := a.member(k); !ok {
			keys = append(keys, k)
		}
	}
	// The names shown (those that differ) are aligned.
	null := &jv{kind: 'n', lit: "null", canon: "null"}
	get := func(v *jv, k string) *jv {
		if m, ok := v.member(k); ok {
			return m
		}
		return null
	}
	w, hidden := 0, 0
	for _, k := range keys {
		if get(b, k).canon != get(a, k).canon || k == keep {
			w = max(w, len(keyText(k, isMap)))
		} else {
			hidden++
		}
	}
	what := "attribute"
	if isMap {
		what = "element"
	}
	h.line(ind, "~", label+"{")
	for _, k := range keys {
		lab := fmt.Sprintf("%-*s = ", w, keyText(k, isMap))
		if bv, av := get(b, k), get(a, k); bv.canon != av.canon {
			h.diff(ind+4, lab, bv, av, false, "")
		} else if k == keep {
			h.line(ind+4, "", lab+av.canon)
		}
	}
	h.hidden(ind+4, hidden, what)
	h.closing(ind, "}"+suffix)
}

// elemOp is one element of a list diff: ' ' unchanged, '+' added, '-' removed, '~' changed
// (a removed and an added element with the same identity).
type elemOp struct {
	op   byte
	b, a *jv
}

func (h *hw) diffList(ind int, label string, b, a *jv, suffix string) {
	plain := allPlain(b.elems) && allPlain(a.elems)
	if in := inline(b) + " -> " + inline(a); plain && ind+2+len(label)+len(in)+len(suffix) <= maxAttrLine {
		h.line(ind, "~", label+in+suffix)
		return
	}
	var ops []elemOp
	if plain {
		ops = plainListOps(b.elems, a.elems)
	} else {
		ops = objectListOps(b.elems, a.elems)
	}
	h.line(ind, "~", label+"[")
	folded := 0
	for i, op := range ops {
		if op.op == ' ' {
			// Plain lists keep one unchanged element of context on each side of a change.
			near := plain && (i > 0 && ops[i-1].op != ' ' || i+1 < len(ops) && ops[i+1].op != ' ')
			if !near {
				folded++
				continue
			}
		}
		h.hidden(ind+4, folded, "element")
		folded = 0
		switch op.op {
		case ' ':
			h.line(ind+4, "", op.a.canon+",")
		case '+':
			h.whole(ind+4, "+", "", op.a, false, ",")
		case '-':
			h.whole(ind+4, "-", "", op.b, false, ",")
		case '~': // paired by identity: both are objects
			h.diffObject(ind+4, "", op.b, op.a, false, ",", op.a.keys[0])
		}
	}
	h.hidden(ind+4, folded, "element")
	h.closing(ind, "]"+suffix)
}

// plainListOps diffs lists of plain values (listDiff's order: sorted lists merged in order).
func plainListOps(b, a []*jv) []elemOp {
	byText := map[string]*jv{}
	bs, as := make([]string, len(b)), make([]string, len(a))
	for i, e := range b {
		bs[i], byText[e.canon] = e.canon, e
	}
	for i, e := range a {
		as[i], byText[e.canon] = e.canon, e
	}
	var ops []elemOp
	for _, d := range listDiff(bs, as) {
		e := byText[d.elem]
		switch d.op {
		case '-':
			ops = append(ops, elemOp{op: '-', b: e})
		case '+':
			ops = append(ops, elemOp{op: '+', a: e})
		default:
			ops = append(ops, elemOp{op: ' ', b: e, a: e})
		}
	}
	return ops
}

// objectListOps diffs lists of structures: a longest common subsequence of equal elements;
// between two kept elements, a removed and an added element with the same identity become
// one changed element.
func objectListOps(b, a []*jv) []elemOp {
	n, m := len(b), len(a)
	if n*m > maxLCS {
		return plainListOps(b, a) // by set membership
	}
	// l[i][j] = LCS length of b[i:], a[j:].
	l := make([][]int32, n+1)
	for i := range l {
		l[i] = make([]int32, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if b[i].canon == a[j].canon {
				l[i][j] = l[i+1][j+1] + 1
			} else {
				l[i][j] = max(l[i+1][j], l[i][j+1])
			}
		}
	}
	var ops []elemOp
	var gapB, gapA []*jv
	flush := func() {
		ops = append(ops, pairGap(gapB, gapA)...)
		gapB, gapA = gapB[:0], gapA[:0]
	}
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && b[i].canon == a[j].canon:
			flush()
			ops = append(ops, elemOp{op: ' ', b: b[i], a: a[j]})
			i++
			j++
		case j == m || i < n && l[i+1][j] >= l[i][j+1]:
			gapB = append(gapB, b[i])
			i++
		default:
			gapA = append(gapA, a[j])
			j++
		}
	}
	flush()
	return ops
}

// identity is the first member of an object (a lifecycle rule's prefix, a CORS rule's name).
func identity(v *jv) (string, bool) {
	if v.kind != 'o' || len(v.keys) == 0 || !v.vals[0].plain() {
		return "", false
	}
	return v.keys[0] + "=" + v.vals[0].canon, true
}

// pairGap turns the removed (gb) and added (ga) elements between two kept ones into
// operations: same identity → changed; the unpaired removed elements come first.
func pairGap(gb, ga []*jv) []elemOp {
	used := make([]bool, len(gb))
	pair := make([]int, len(ga))
	for j, e := range ga {
		pair[j] = -1
		id, ok := identity(e)
		if !ok {
			continue
		}
		for i, r := range gb {
			if rid, rok := identity(r); !used[i] && rok && rid == id {
				used[i], pair[j] = true, i
				break
			}
		}
	}
	var ops []elemOp
	for i, r := range gb {
		if !used[i] {
			ops = append(ops, elemOp{op: '-', b: r})
		}
	}
	for j, e := range ga {
		if pair[j] >= 0 {
			ops = append(ops, elemOp{op: '~', b: gb[pair[j]], a: e})
		} else {
			ops = append(ops, elemOp{op: '+', a: e})
		}
	}
	return ops
}

// unknownText is how a value known only after apply is written.
const unknownText = "(known after apply)"

// partlyKnown returns the map of an unknown map attribute whose value holds the deferred
// templates ("${bucket.x.id}", resolved at apply) with each template shown as known after
// apply, the other elements as they are; ok = false when a is not such an attribute.
func partlyKnown(a Attr) (*jv, bool) {
	if !a.Unknown || a.Sensitive || !mapAttrs[a.Name] || len(a.Value) == 0 {
		return nil, false
	}
	v, err := parseJV(a.Value)
	if err != nil || v.kind != 'o' {
		return nil, false
	}
	for i, e := range v.vals {
		if e.kind == 'p' && strings.HasPrefix(e.lit, `"`) && strings.Contains(e.lit, "${") {
			v.vals[i] = &jv{kind: 'p', lit: unknownText, canon: unknownText}
		}
	}
	v.canon = v.compact()
	return v, true
}

// attr writes a created (sym "+") or destroyed ("-") attribute.
func (h *hw) attr(sym string, width int, a Attr) {
	label := fmt.Sprintf("%-*s = ", width, a.Name)
	if v, ok := partlyKnown(a); ok {
		h.whole(6, sym, label, v, true, "")
		return
	}
	if a.Sensitive || a.Unknown || len(a.Value) == 0 {
		h.line(6, sym, label+attrText(a))
		return
	}
	v, err := parseJV(a.Value)
	if err != nil {
		h.line(6, sym, label+string(a.Value))
		return
	}
	h.whole(6, sym, label, v, mapAttrs[a.Name], "")
}

// changedAttr writes an attribute that changes from b to a.
func (h *hw) changedAttr(width int, b, a Attr) {
	label := fmt.Sprintf("%-*s = ", width, a.Name)
	if a.Sensitive || b.Sensitive { // Terraform: one value, neither side shown
		h.line(6, "~", label+sensitiveText)
		return
	}
	bv, berr := parseJV(b.Value)
	av, aerr := parseJV(a.Value)
	if pk, ok := partlyKnown(a); ok && !b.Unknown && berr == nil {
		av, a.Unknown = pk, false
	}
	if a.Unknown || b.Unknown || berr != nil || aerr != nil || bv.canon == av.canon {
		h.line(6, "~", label+attrText(b)+" -> "+attrText(a))
		return
	}
	h.diff(6, label, bv, av, mapAttrs[a.Name], "")
}
