package secretfile

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestGitExposed(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	ctx := context.Background()
	outside := t.TempDir()
	if GitExposed(ctx, filepath.Join(outside, "ci.env")) {
		t.Error("outside a work tree: exposed")
	}
	repo := t.TempDir()
	if out, err := exec.Command("git", "init", "-q", repo).CombinedOutput(); err != nil {
		t.Skipf("git init: %v %s", err, out)
	}
	// The file and its directory do not exist yet.
	p := filepath.Join(repo, "secrets", "ci.env")
	if !GitExposed(ctx, p) {
		t.Error("not ignored inside a work tree: not reported")
	}
	os.WriteFile(filepath.Join(repo, ".gitignore"), []byte("secrets/\n"), 0o644)
	if GitExposed(ctx, p) {
		t.Error("ignored: reported")
	}
	// Without git on PATH: no warning, no failure.
	t.Setenv("PATH", "")
	os.Remove(filepath.Join(repo, ".gitignore"))
	if GitExposed(ctx, p) {
		t.Error("without git: reported")
	}
}
