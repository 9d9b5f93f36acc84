package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad checks that no input makes the loader panic. Seeds: testdata/fuzz/FuzzLoad and
// every fixture.
func FuzzLoad(f *testing.F) {
	for _, pat := range []string{"testdata/valid/*.hcl", "testdata/invalid/*.hcl"} {
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
