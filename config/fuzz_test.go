package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad checks that no input makes the loader panic. Seeds: testdata/fuzz/FuzzLoad and
// every fixture.
//
// The fixtures are large inputs (up to ~1.7 KB), and Go minimizes every input that finds new
// coverage for up to -fuzzminimizetime (default 60s) before it resumes fuzzing; the exec
// counter does not move meanwhile, which looks like a hang. Use a short minimization time:
//
//	go test -run XXX -fuzz FuzzLoad -fuzztime 3m -fuzzminimizetime 5s -parallel 1 ./config/
func FuzzLoad(f *testing.F) {
	for _, pat := range []string{"testdata/valid/*.hcl", "testdata/invalid/*.hcl", "../examples/*.hcl"} {
		files, _ := filepath.Glob(pat)
		for _, fn := range files {
			if src, err := os.ReadFile(fn); err == nil {
				f.Add(src)
			}
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		d, _ := LoadSources("/cfg", map[string][]byte{"main.hcl": src}, VarInputs{Vars: []string{"env=x"}})
		if d == nil {
			t.Fatal("nil Desired")
		}
	})
}
