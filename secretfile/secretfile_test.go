package secretfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteRead(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sub", "ci.env")
	if err := Write(p, "0011aa", "K00sekrit"); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("stat %v %v", st, err)
	}
	c, err := Read(p)
	if err != nil || c.KeyID != "0011aa" || c.Secret != "K00sekrit" {
		t.Fatalf("read %q %v", c.KeyID, err)
	}
	if strings.Contains(c.String(), "sekrit") {
		t.Error("String shows the secret")
	}
	if got := KeyIDs([]string{p, p + ".missing", ""}); len(got) != 1 || got[p] != "0011aa" {
		t.Errorf("KeyIDs %v", got)
	}
}

func TestReadEdited(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.env")
	os.WriteFile(p, []byte("# edited by hand\nexport B2_APPLICATION_KEY_ID=\"0022bb\"\n  B2_APPLICATION_KEY='K00x'\n"), 0o600)
	c, err := Read(p)
	if err != nil || c.KeyID != "0022bb" || c.Secret != "K00x" {
		t.Fatalf("read %q %v", c.KeyID, err)
	}
}

func TestReadNotSecretFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := Read(filepath.Join(dir, "none")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
	p := filepath.Join(dir, "notes.txt")
	os.WriteFile(p, []byte("B2_APPLICATION_KEY=K00onlythesecret\nsomething else\n"), 0o600)
	_, err := Read(p)
	if !errors.Is(err, ErrNotSecretFile) || strings.Contains(err.Error(), "K00onlythesecret") {
		t.Errorf("not a secret file: %v", err)
	}
	big := filepath.Join(dir, "big")
	os.WriteFile(big, []byte(strings.Repeat("x", maxSize+10)), 0o600)
	if _, err := Read(big); !errors.Is(err, ErrNotSecretFile) {
		t.Errorf("big: %v", err)
	}
}

func TestWriteRefusesNewlines(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.env")
	if err := Write(p, "id", "a\nB2_APPLICATION_KEY_ID=evil"); err == nil || strings.Contains(err.Error(), "evil") {
		t.Errorf("newline in secret: %v", err)
	}
	if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
		t.Error("file written")
	}
}
