package secretfile

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// gitTimeout bounds the git call of GitExposed.
const gitTimeout = 10 * time.Second

// GitExposed reports whether path lies inside a git work tree and is not
// ignored by git (so that `git add -A` would commit the secret). It asks
// `git check-ignore`, which exits 0 for an ignored path, 1 for a path
// that is not ignored, and 128 outside a repository. Without git, or when
// git fails, it reports false: the check is a warning, never a failure.
// The file need not exist yet.
func GitExposed(ctx context.Context, path string) bool {
	git, err := exec.LookPath("git")
	if err != nil {
		return false
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return false
	}
	// git -C needs an existing directory: the nearest existing ancestor.
	dir := filepath.Dir(abs)
	for {
		if st, err := os.Stat(dir); err == nil && st.IsDir() {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return false
		}
		dir = parent
	}
	ctx, cancel := context.WithTimeout(ctx, gitTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, git, "-C", dir, "check-ignore", "-q", "--", abs)
	err = cmd.Run()
	var ee *exec.ExitError
	return errors.As(err, &ee) && ee.ExitCode() == 1
}
