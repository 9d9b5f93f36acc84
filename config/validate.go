package config

import (
	"fmt"
	"math/bits"
	"os"
	"sort"
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
	l.validateProviders()
	l.validateReplications()
	l.checkMoveOverlaps()
}

// checkMoveOverlaps reports each move whose from or to overlaps (one prefix starts with the
// other, in the same bucket) an end of an earlier move, naming the earliest such move. The
// ends of each bucket are sorted, so that the ends an end starts with are the prefixes open
// while scanning, and the ends starting with it follow it: n log n, not n² (10,000 moves).
func (l *loader) checkMoveOverlaps() {
	type end struct {
		move   int
		prefix string
	}
	byBucket := map[string][]end{}
	for i, m := range l.d.Moves {
		if l.badMove[m.Address] {
			continue
		}
		byBucket[strings.ToLower(m.Bucket)] = append(byBucket[strings.ToLower(m.Bucket)], end{i, m.From})
		byBucket[strings.ToLower(m.ToBucket)] = append(byBucket[strings.ToLower(m.ToBucket)], end{i, m.To})
	}
	first := make([]int, len(l.d.Moves)) // earliest move overlapping each move
	for i := range first {
		first[i] = len(l.d.Moves)
	}
	for _, ends := range byBucket {
		sort.Slice(ends, func(a, b int) bool { return ends[a].prefix < ends[b].prefix })
		n := len(ends)
		// Sparse table of minimum move indexes over ranges of the sorted ends.
		table := [][]int{make([]int, n)}
		for i, e := range ends {
			table[0][i] = e.move
		}
		for k := 1; 1<<k <= n; k++ {
			prev, row := table[k-1], make([]int, n-(1<<k)+1)
			for i := range row {
				row[i] = min(prev[i], prev[i+1<<(k-1)])
			}
			table = append(table, row)
		}
		rangeMin := func(lo, hi int) int { // [lo, hi)
			if lo >= hi {
				return len(l.d.Moves)
			}
			k := bits.Len(uint(hi-lo)) - 1
			return min(table[k][lo], table[k][hi-1<<k])
		}
		type open struct {
			prefix  string
			minMove int
		}
		var stack []open
		for p, e := range ends {
			for len(stack) > 0 && !strings.HasPrefix(e.prefix, stack[len(stack)-1].prefix) {
				stack = stack[:len(stack)-1]
			}
			best := len(l.d.Moves)
			if len(stack) > 0 {
				best = stack[len(stack)-1].minMove // the ends e starts with
			}
			q := p + 1 + sort.Search(n-p-1, func(i int) bool { return !strings.HasPrefix(ends[p+1+i].prefix, e.prefix) })
			best = min(best, rangeMin(p+1, q)) // the ends starting with e
			if best < e.move {
				first[e.move] = min(first[e.move], best)
			}
			m := e.move
			if len(stack) > 0 {
				m = min(m, stack[len(stack)-1].minMove)
			}
			stack = append(stack, open{e.prefix, m})
		}
	}
	for i, m := range l.d.Moves {
		j := first[i]
		if j >= i {
			continue
		}
		prev := l.d.Moves[j]
		ends := func(m *Move) [][3]string {
			return [][3]string{{m.Bucket, m.From, "from"}, {m.ToBucket, m.To, "to"}}
		}
	outer:
		for _, e := range ends(m) {
			for _, pe := range ends(prev) {
				if strings.EqualFold(e[0], pe[0]) && (strings.HasPrefix(e[1], pe[1]) || strings.HasPrefix(pe[1], e[1])) {
					l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Overlapping moves",
						Detail: fmt.Sprintf("%s.%s %q overlaps %s.%s %q (at %s) in bucket %q: two moves must not touch the same objects. Combine them into one move or use disjoint prefixes.",
							m.Address, e[2], e[1], prev.Address, pe[2], pe[1], l.nameRng[prev.Address+"#"+pe[2]].String(), e[0]),
						Subject: l.rngPtr(m.Address + "#" + e[2])})
					break outer
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
