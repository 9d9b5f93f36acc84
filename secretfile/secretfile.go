// Package secretfile reads and writes the files in which b2plan stores the
// id and secret of an application key it created (a key's secret_file):
//
//	B2_APPLICATION_KEY_ID=<key id>
//	B2_APPLICATION_KEY=<secret>
//
// The format is dotenv, so that `set -a; . file` and tools that read .env
// files can use it. The key id in a secret file is not secret: the planner
// reads it to tell which of two live keys of one name is the current one
// after an interrupted replacement. The secret never appears in an error.
package secretfile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// maxSize bounds what is read of a file: a secret file is under 200 bytes.
const maxSize = 64 << 10

// ErrNotSecretFile is wrapped by Read when the file exists but is not a
// secret file (no B2_APPLICATION_KEY_ID line, or too large).
var ErrNotSecretFile = errors.New("not a b2plan secret file")

// Contents is what a secret file holds.
type Contents struct {
	KeyID string
	// Secret is the application key ("" when the file holds only an id).
	Secret string
}

// String never shows the secret.
func (c Contents) String() string { return "key id " + c.KeyID }

// Read parses path. A missing file gives an error satisfying
// errors.Is(err, fs.ErrNotExist); a file that is not a secret file one
// wrapping ErrNotSecretFile. Lines may carry "export " and quotes, as a
// person editing the file might write them.
func Read(path string) (Contents, error) {
	f, err := os.Open(path)
	if err != nil {
		return Contents{}, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSize+1))
	if err != nil {
		return Contents{}, fmt.Errorf("read secret file %s: %w", path, err)
	}
	if len(b) > maxSize {
		return Contents{}, fmt.Errorf("%s: %w (larger than %d bytes)", path, ErrNotSecretFile, maxSize)
	}
	var c Contents
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), maxSize+1)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		line = strings.TrimSpace(strings.TrimPrefix(line, "export "))
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		switch strings.TrimSpace(k) {
		case "B2_APPLICATION_KEY_ID":
			c.KeyID = v
		case "B2_APPLICATION_KEY":
			c.Secret = v
		}
	}
	if c.KeyID == "" {
		return Contents{}, fmt.Errorf("%s: %w (no B2_APPLICATION_KEY_ID line)", path, ErrNotSecretFile)
	}
	return c, nil
}

// KeyIDs reads the key id of every path that holds one; missing and
// unreadable files are left out (the planner treats them as "no id").
func KeyIDs(paths []string) map[string]string {
	out := map[string]string{}
	for _, p := range paths {
		if p == "" {
			continue
		}
		if c, err := Read(p); err == nil {
			out[p] = c.KeyID
		}
	}
	return out
}

// Write writes a key id and secret atomically: a temporary file of mode
// 0600 in the same directory (created 0700 if missing), synced, then
// renamed over path, and the directory synced.
func Write(path, keyID, secret string) error {
	if keyID == "" || strings.ContainsAny(keyID+secret, "\n\r") {
		return errors.New("write secret file: the key id is empty or the key id or secret contains a newline")
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write secret file %s: %w", path, err)
	}
	f, err := os.CreateTemp(dir, ".b2plan-secret-*")
	if err != nil {
		return fmt.Errorf("write secret file %s: %w", path, err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return fmt.Errorf("write secret file %s: %w", path, err)
	}
	if _, err := f.WriteString("B2_APPLICATION_KEY_ID=" + keyID + "\nB2_APPLICATION_KEY=" + secret + "\n"); err != nil {
		return fmt.Errorf("write secret file %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write secret file %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write secret file %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write secret file %s: %w", path, err)
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
