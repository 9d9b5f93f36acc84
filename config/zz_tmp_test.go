package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestTmpHostile(t *testing.T) {
	dir := os.Getenv("HOSTILE_DIR")
	if dir == "" {
		t.Skip()
	}
	only := os.Getenv("ONLY")
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if only != "" && e.Name() != only {
			continue
		}
		src, _ := os.ReadFile(filepath.Join(dir, e.Name(), "main.hcl"))
		done := make(chan int)
		start := time.Now()
		go func() {
			_, diags := LoadSources("/cfg", map[string][]byte{"main.hcl": src}, VarInputs{})
			done <- len(diags)
		}()
		select {
		case n := <-done:
			t.Logf("%s: %v, %d diags", e.Name(), time.Since(start), n)
		case <-time.After(15 * time.Second):
			t.Logf("%s: TIMEOUT", e.Name())
		}
	}
}
