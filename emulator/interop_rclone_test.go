package emulator_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/b2plan/b2plan/emulator"
)

// Interop with rclone's b2 backend (a real third-party client; it mostly uses
// /b2api/v1, so this is the strongest v1 check). Skips when rclone is absent.
func TestInteropRclone(t *testing.T) {
	rc, err := exec.LookPath("rclone")
	if err != nil {
		t.Skip("rclone not on PATH")
	}
	if testing.Short() {
		t.Skip("rclone interop skipped in -short mode")
	}
	var logMu sync.Mutex
	versions := map[string]int{}
	verRE := regexp.MustCompile(`/b2api/(v\d)/`)
	srv, base, hc := startServer(t, emulator.Options{Logf: func(format string, args ...any) {
		if m := verRE.FindStringSubmatch(fmt.Sprintf(format, args...)); m != nil {
			logMu.Lock()
			versions[m[1]]++
			logMu.Unlock()
		}
	}})
	m := master(t, hc, base, 4)
	env := append(os.Environ(),
		"RCLONE_CONFIG="+filepath.Join(t.TempDir(), "rclone.conf"),
		"RCLONE_CONFIG_EMU_TYPE=b2",
		"RCLONE_CONFIG_EMU_ACCOUNT="+emulator.DefaultKeyID,
		"RCLONE_CONFIG_EMU_KEY="+emulator.DefaultKey,
		"RCLONE_CONFIG_EMU_ENDPOINT="+base,
	)
	run := func(args ...string) (string, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		all := append([]string{"--retries", "1", "--low-level-retries", "3", "--contimeout", "5s"}, args...)
		cmd := exec.CommandContext(ctx, rc, all...)
		cmd.Env = env
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		if err != nil {
			t.Errorf("rclone %s: %v\nstderr: %s", strings.Join(args, " "), err, tail(errb.String(), 2000))
		}
		return out.String(), err
	}
	bucket := bucketName("rclone")

	// mkdir
	run("mkdir", "emu:"+bucket)
	bl := m.call("b2_list_buckets", map[string]any{"accountId": m.accountID, "bucketName": bucket})
	bid := jstr(bl, "buckets", "0", "bucketId")
	if bid == "" {
		t.Fatalf("rclone mkdir did not create the bucket")
	}

	// copy up (small files and a large multipart upload)
	local := t.TempDir()
	files := map[string][]byte{
		"a.txt":              []byte("hello from rclone"),
		"sub/b.txt":          []byte("bee"),
		"sp ace+plus%25.txt": []byte("odd name"),
		"ünï/cödé.txt":       []byte("utf8"),
	}
	big := make([]byte, 12<<20+123)
	rand.Read(big)
	files["big.bin"] = big
	for n, b := range files {
		p := filepath.Join(local, filepath.FromSlash(n))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, b, 0o644)
	}
	run("copy", local, "emu:"+bucket+"/dir", "--b2-upload-cutoff", "5M", "--b2-chunk-size", "5M")
	if st := srv.Stats(); st.Calls["b2_upload_part"] < 3 || st.Calls["b2_finish_large_file"] < 1 {
		t.Errorf("rclone large upload did not use parts: %v", st.Calls)
	}
	for n, b := range files {
		d := m.byName(bucket, "dir/"+n)
		if d.Status != 200 || !bytes.Equal(d.Raw, b) {
			t.Errorf("rclone-uploaded %q: status %d len %d want %d", n, d.Status, len(d.Raw), len(b))
		}
	}

	// lsjson / ls
	out, err := run("lsjson", "-R", "--files-only", "emu:"+bucket+"/dir")
	if err == nil {
		var items []struct {
			Path string
			Size int64
		}
		if err := json.Unmarshal([]byte(out), &items); err != nil {
			t.Errorf("lsjson output: %v\n%s", err, out)
		}
		got := map[string]int64{}
		for _, it := range items {
			got[it.Path] = it.Size
		}
		for n, b := range files {
			if got[n] != int64(len(b)) {
				t.Errorf("lsjson %q size %d want %d (all: %v)", n, got[n], len(b), got)
			}
		}
	}
	// cat
	if out, err := run("cat", "emu:"+bucket+"/dir/a.txt"); err == nil && out != string(files["a.txt"]) {
		t.Errorf("rclone cat = %q", out)
	}
	if out, err := run("cat", "emu:"+bucket+"/dir/sp ace+plus%25.txt"); err == nil && out != "odd name" {
		t.Errorf("rclone cat odd name = %q", out)
	}

	// server-side copy (small)
	srv.ResetStats()
	run("copyto", "emu:"+bucket+"/dir/a.txt", "emu:"+bucket+"/dir2/a-copy.txt")
	if srv.Stats().Calls["b2_copy_file"] < 1 {
		t.Errorf("rclone copyto did not use b2_copy_file: %v", srv.Stats().Calls)
	}
	if d := m.byName(bucket, "dir2/a-copy.txt"); !bytes.Equal(d.Raw, files["a.txt"]) {
		t.Errorf("server-side copy content: %v", d)
	}
	// server-side copy (large, via b2_copy_part)
	srv.ResetStats()
	run("copyto", "emu:"+bucket+"/dir/big.bin", "emu:"+bucket+"/dir2/big-copy.bin", "--b2-copy-cutoff", "5M", "--b2-chunk-size", "5M")
	if st := srv.Stats(); st.Calls["b2_copy_part"] < 2 {
		t.Errorf("rclone large server-side copy did not use b2_copy_part: %v", st.Calls)
	}
	if d := m.byName(bucket, "dir2/big-copy.bin"); !bytes.Equal(d.Raw, big) {
		t.Errorf("large server-side copy content: status %d len %d", d.Status, len(d.Raw))
	}

	// a second version, then ls with and without --b2-versions
	os.WriteFile(filepath.Join(local, "a.txt"), []byte("second version!"), 0o644)
	run("copy", local, "emu:"+bucket+"/dir")
	plain, _ := run("lsf", "-R", "--files-only", "emu:"+bucket+"/dir")
	vers, _ := run("lsf", "-R", "--files-only", "--b2-versions", "emu:"+bucket+"/dir")
	pl, vl := lines(plain), lines(vers)
	if len(pl) != len(files) {
		t.Errorf("lsf without versions: %v", pl)
	}
	if len(vl) != len(files)+1 {
		t.Errorf("lsf --b2-versions should show one extra old version: %v", vl)
	}
	if out, _ := run("cat", "emu:"+bucket+"/dir/a.txt"); out != "second version!" {
		t.Errorf("cat after new version = %q", out)
	}

	// delete (hides), cleanup (removes old versions), purge
	run("delete", "emu:"+bucket+"/dir2")
	if l := m.allNames(bid, "dir2/", "", 100); len(l) != 0 {
		t.Errorf("after rclone delete, dir2 still listed: %v", l)
	}
	run("cleanup", "emu:"+bucket) // rclone 1.60 has no "backend cleanup" for b2; "cleanup" is the command
	if v := m.allVersions(bid, "dir2/", 100); len(v) != 0 {
		t.Errorf("after rclone cleanup, dir2 versions remain: %v", v)
	}
	if v := m.allVersions(bid, "dir/a.txt", 100); len(v) != 1 {
		t.Errorf("after cleanup, dir/a.txt versions = %v, want 1", v)
	}
	buckets, _ := run("lsjson", "emu:")
	if !strings.Contains(buckets, bucket) {
		t.Errorf("rclone lsjson emu: does not list %s: %s", bucket, buckets)
	}
	run("purge", "emu:"+bucket)
	if bl := m.call("b2_list_buckets", map[string]any{"accountId": m.accountID, "bucketName": bucket}); len(jlist(bl, "buckets")) != 0 {
		t.Errorf("rclone purge left the bucket: %v", bl)
	}
	t.Logf("rclone calls since the last stats reset: %v", srv.Stats().Calls)
	logMu.Lock()
	t.Logf("requests by API version path (whole test, incl. the test's own v4 checks): %v", versions)
	if versions["v1"] == 0 {
		t.Errorf("rclone 1.60 is expected to use /b2api/v1; saw %v", versions)
	}
	logMu.Unlock()
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
