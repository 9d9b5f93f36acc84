package config

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// hostileCase is one hostile configuration and the diagnostic it must produce.
type hostileCase struct {
	name string
	src  []byte
	want string // in the summary or detail of an error
}

var wantRe = regexp.MustCompile(`(?m)^# WANT: (.+)$`)

// hostileCorpus is testdata/hostile/*.hcl (each with a "# WANT: text" line) and the large
// inputs generated here (not with -short).
func hostileCorpus(t testing.TB) []hostileCase {
	var out []hostileCase
	files, _ := filepath.Glob("testdata/hostile/*.hcl")
	if len(files) < 10 {
		t.Fatalf("only %d files in testdata/hostile", len(files))
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m := wantRe.FindSubmatch(src)
		if m == nil {
			t.Fatalf("%s: no # WANT: line", f)
		}
		out = append(out, hostileCase{filepath.Base(f), src, string(m[1])})
	}
	if testing.Short() {
		return out
	}
	const n = 100000
	rep := strings.Repeat
	local := func(expr string) []byte { return []byte("locals {\n  x = " + expr + "\n}\n") }
	deep := "Nesting too deep"
	out = append(out,
		hostileCase{"100k brackets", local(rep("[", n) + rep("]", n)), deep},
		hostileCase{"100k unclosed brackets", local(rep("[", n)), deep},
		hostileCase{"100k parentheses", local(rep("(", n) + "1" + rep(")", n)), deep},
		hostileCase{"100k objects", local(rep("{a=", n) + "1" + rep("}", n)), deep},
		hostileCase{"100k nested blocks", []byte("bucket \"b\" {\n" + rep("lifecycle_rule {\n", n) + rep("}\n", n) + "}\n"), deep},
		hostileCase{"20k nested templates", local(rep(`"${`, 20000) + "1" + rep(`}"`, 20000)), deep},
		hostileCase{"20k nested directives", local(`"` + rep("%{if true}", 20000) + "x" + rep("%{endif}", 20000) + `"`), deep},
		hostileCase{"100k unary operators", local(rep("!", n) + "true"), deep},
		hostileCase{"100k minus signs", local(rep("-", n) + "1"), deep},
		hostileCase{"100k additions", local("1" + rep("+1", n)), deep},
		hostileCase{"20k conditionals", local(rep("true ? 1 : ", 20000) + "2"), deep},
		hostileCase{"20k splats", local("[[1]]" + rep("[*]", 20000)), deep},
		hostileCase{"20k format verbs", local(`format("` + rep("%[1]s", 20000) + `", "a")`), "String too complex"},
		hostileCase{"100k brackets in a var default", []byte("variable \"v\" {\n  default = " + rep("[", n) + rep("]", n) + "\n}\n"), deep},
		hostileCase{"concat of 5000 aliases", local("concat(" + rep("range(1000),", 5000) + "[])"), "too large"},
		hostileCase{"10k references to a large local in one call", []byte("locals {\n  a = flatten([for i in range(120) : range(1000)])\n  b = concat(" + rep("local.a,", 10000) + "[])\n}\n"), "too large"},
		hostileCase{"1k comparisons of a large local", []byte("locals {\n  a = flatten([for i in range(120) : range(1000)])\n  b = [for i in range(1000) : local.a == local.a]\n}\n"), "too large"},
		hostileCase{"1k functions of a large local", []byte("locals {\n  a = flatten([for i in range(120) : range(1000)])\n  b = [for i in range(1000) : length(local.a)]\n}\n"), "too large"},
		hostileCase{"5k blocks using a large local", []byte("locals {\n  a = { for i in range(1000) : \"k${i}\" => join(\"\", [for j in range(100) : \"x\"]) }\n}\n" + rep("bucket \"b\" {\n  info = local.a\n}\n", 5000)), ""},
		hostileCase{"20k blocks with errors", []byte(strings.Repeat("bucket \"b\" {\n  tpye = 1\n}\n", 20000)), "Too many problems"},
	)
	r := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 100000)
	for i := range random {
		random[i] = byte(r.UintN(256))
	}
	out = append(out, hostileCase{"100 KB random bytes", random, ""})
	alphabet := "{}[]()\"=abc \n#$%.,:?!<>"
	text := make([]byte, 100000)
	for i := range text {
		text[i] = alphabet[r.UintN(uint(len(alphabet)))]
	}
	out = append(out, hostileCase{"100 KB random tokens", text, ""})
	return out
}

// TestHostileConfigurations: no input crashes or hangs the loader. Each configuration of the
// corpus is loaded with a 60 s safety timeout (a hang fails the test instead of stalling it);
// the guarantee itself is deterministic: the expected diagnostic (nesting refused before
// parsing, the evaluation budget spent, a size limit) is reported, at most maxDiagsPerFile
// diagnostics are returned per file, and the memory allocated stays within a budget.
func TestHostileConfigurations(t *testing.T) {
	const allocBudget = 1 << 30
	for _, c := range hostileCorpus(t) {
		t.Run(c.name, func(t *testing.T) {
			type result struct {
				d     *Desired
				diags hcl.Diagnostics
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			done := make(chan result, 1)
			go func() {
				d, diags := LoadSources("/cfg", map[string][]byte{"main.hcl": c.src}, VarInputs{})
				done <- result{d, diags}
			}()
			var res result
			select {
			case res = <-done:
			case <-time.After(60 * time.Second):
				t.Fatal("the loader did not return within 60 s")
			}
			elapsed := time.Since(start)
			runtime.ReadMemStats(&after)
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("%d bytes: %v, %d diagnostics, %d MB allocated", len(c.src), elapsed.Round(time.Millisecond), len(res.diags), alloc>>20)
			if res.d == nil {
				t.Fatal("nil Desired")
			}
			if !res.diags.HasErrors() {
				t.Fatal("no error")
			}
			if len(res.diags) > maxDiagsPerFile+1 {
				t.Errorf("%d diagnostics", len(res.diags))
			}
			if c.want != "" {
				found := false
				for _, d := range res.diags {
					if d.Severity == hcl.DiagError && strings.Contains(d.Summary+" "+d.Detail, c.want) {
						found = true
					}
				}
				if !found {
					t.Errorf("no error containing %q; got:\n%s", c.want, dump(res.diags))
				}
			}
			if alloc > allocBudget {
				t.Errorf("allocated %d MB, budget %d MB", alloc>>20, allocBudget>>20)
			}
		})
	}
}

// bucketsConfig is n buckets that refer to a variable, a local and the previous bucket.
func bucketsConfig(n int) []byte {
	var b strings.Builder
	b.WriteString("variable \"env\" {\n  default = \"prod\"\n}\nlocals {\n  team = \"web\"\n}\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "bucket \"b%d\" {\n  name = \"acme-${var.env}-%d\"\n  info = { team = local.team", i, i)
		if i > 0 {
			fmt.Fprintf(&b, ", prev = bucket.b%d.name", i-1)
		}
		b.WriteString(" }\n}\n")
	}
	return []byte(b.String())
}

// TestEvaluationIsLinear: the work of evaluation (values placed in evaluation contexts) grows
// linearly with the number of blocks. Building every context from the whole configuration
// made it quadratic: 5,000 buckets took over a minute.
func TestEvaluationIsLinear(t *testing.T) {
	work := func(n int) int {
		l := newLoader()
		l.d.Dir = "/cfg"
		l.addSource("main.hcl", bucketsConfig(n))
		l.run(VarInputs{})
		if diags := l.result(); diags.HasErrors() {
			t.Fatalf("%d buckets: %s", n, dump(diags))
		}
		if len(l.d.Buckets) != n {
			t.Fatalf("%d buckets loaded, want %d", len(l.d.Buckets), n)
		}
		return l.ctxEntries
	}
	small, large := work(500), work(5000)
	ratio := float64(large) / float64(small)
	t.Logf("context entries: 500 buckets %d, 5,000 buckets %d (ratio %.1f)", small, large, ratio)
	if ratio > 11 {
		t.Errorf("evaluation work grows faster than the number of blocks: ratio %.1f for 10x the blocks", ratio)
	}
}

// BenchmarkLoadBuckets: 500 and 5,000 buckets; ns/op of the second should be about 10 times
// the first.
func BenchmarkLoadBuckets(b *testing.B) {
	for _, n := range []int{500, 5000} {
		src := bucketsConfig(n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, diags := LoadSources("/cfg", map[string][]byte{"main.hcl": src}, VarInputs{}); diags.HasErrors() {
					b.Fatal(dump(diags))
				}
			}
		})
	}
}

// TestBudgetAllowsLargeConfigurations: the evaluation budget leaves large real configurations
// alone: 5,000 for_each instances that each look up a 5,000-entry local by key (the size of
// the local is not charged to every lookup) and use values computed once in locals. Calling
// a function on the whole local in every instance is quadratic work in cty (25,000,000
// elements walked, over a minute): that is refused at once, saying how to fix it.
func TestBudgetAllowsLargeConfigurations(t *testing.T) {
	config := func(perInstance string) []byte {
		var b strings.Builder
		b.WriteString("locals {\n  owners = {\n")
		for i := 0; i < 5000; i++ {
			fmt.Fprintf(&b, "    b%d = \"team-%d\"\n", i, i%7)
		}
		b.WriteString("  }\n  names = keys(local.owners)\n  count = length(local.names)\n  admins = toset([\"b1\", \"b2\"])\n}\n")
		fmt.Fprintf(&b, `bucket "many" {
  for_each = local.owners
  name     = "acme-${each.key}"
  info     = { owner = local.owners[each.key], n = tostring(local.count), admin = tostring(contains(local.admins, each.key)), x = %s }
}
`, perInstance)
		return []byte(b.String())
	}
	start := time.Now()
	d, diags := LoadSources("/cfg", map[string][]byte{"main.hcl": config(`"x"`)}, VarInputs{})
	if diags.HasErrors() {
		t.Fatalf("diagnostics:\n%s", dump(diags))
	}
	if len(d.Buckets) != 5000 || d.Buckets[0].Info["n"] != "5000" || d.Buckets[0].Info["owner"] != "team-0" {
		t.Fatalf("%d buckets, first %+v", len(d.Buckets), d.Buckets[0])
	}
	t.Logf("5,000 instances with lookups: %v", time.Since(start).Round(time.Millisecond))
	start = time.Now()
	_, diags = LoadSources("/cfg", map[string][]byte{"main.hcl": config(`tostring(length(local.names))`)}, VarInputs{})
	if !hasDiag(diags, "Configuration too large to evaluate") || !strings.Contains(dump(diags), "compute the result once in a local") {
		t.Fatalf("diagnostics:\n%s", dump(diags))
	}
	t.Logf("5,000 instances each walking the local: refused in %v", time.Since(start).Round(time.Millisecond))
}

// TestMoveOverlapsMatchPairwise: the sorted overlap check reports exactly what comparing
// every pair of moves reports, on random moves; and 10,000 moves are checked.
func TestMoveOverlapsMatchPairwise(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	prefix := func() string {
		p := ""
		for n := 1 + r.IntN(3); n > 0; n-- {
			p += []string{"a", "b", "ab"}[r.IntN(3)] + "/"
		}
		return p
	}
	for round := 0; round < 200; round++ {
		var b strings.Builder
		n := 2 + r.IntN(12)
		for i := 0; i < n; i++ {
			bk := []string{"acme-one", "acme-two", "ACME-one"}[r.IntN(3)]
			to := bk
			if r.IntN(3) == 0 {
				to = []string{"acme-one", "acme-two"}[r.IntN(2)]
			}
			fmt.Fprintf(&b, "move \"m%d\" {\n  bucket = %q\n  to_bucket = %q\n  from = %q\n  to = %q\n}\n", i, bk, to, prefix(), prefix())
		}
		d, diags := LoadSources("/cfg", map[string][]byte{"main.hcl": []byte(b.String())}, VarInputs{})
		var got, want []string
		for _, dg := range diags {
			if dg.Summary == "Overlapping moves" {
				got = append(got, dg.Detail)
			}
		}
		// Reference: every pair, earliest previous move first.
		for i, m := range d.Moves {
			if !strings.HasSuffix(m.From, "/") || !strings.HasSuffix(m.To, "/") {
				continue // invalid moves are skipped by both
			}
		outer:
			for _, prev := range d.Moves[:i] {
				for _, e := range [][2]string{{m.Bucket, m.From}, {m.ToBucket, m.To}} {
					for _, pe := range [][2]string{{prev.Bucket, prev.From}, {prev.ToBucket, prev.To}} {
						if strings.EqualFold(e[0], pe[0]) && (strings.HasPrefix(e[1], pe[1]) || strings.HasPrefix(pe[1], e[1])) {
							want = append(want, m.Address+" "+prev.Address)
							break outer
						}
					}
				}
			}
		}
		var gotPairs []string
		for _, g := range got {
			f := strings.Fields(g)
			gotPairs = append(gotPairs, strings.SplitN(f[0], ".", 3)[0]+"."+strings.SplitN(f[0], ".", 3)[1]+" "+strings.SplitN(f[3], ".", 3)[0]+"."+strings.SplitN(f[3], ".", 3)[1])
		}
		if strings.Join(gotPairs, ",") != strings.Join(want, ",") {
			t.Fatalf("round %d:\n%s\ngot  %v\nwant %v", round, b.String(), gotPairs, want)
		}
	}
	var b strings.Builder
	for i := 0; i < 10000; i++ {
		fmt.Fprintf(&b, "move \"m%d\" {\n  bucket = \"acme-b%d\"\n  from = \"in%d/\"\n  to = \"out%d/\"\n}\n", i, i%3, i, i)
	}
	fmt.Fprintf(&b, "move \"last\" {\n  bucket = \"acme-b1\"\n  from = \"in1/x/\"\n  to = \"new/\"\n}\n")
	_, diags := LoadSources("/cfg", map[string][]byte{"main.hcl": []byte(b.String())}, VarInputs{})
	if len(diags) != 1 || !strings.Contains(diags[0].Detail, "overlaps move.m1.from") {
		t.Fatalf("diagnostics:\n%s", dump(diags))
	}
}
