package command

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/b2plan/b2plan/b2client"
	"github.com/b2plan/b2plan/emulator"
)

// TestNoSHA1ProbeWithAWSCLI is issue 11's data-loss probe with a real
// third-party client: `aws s3 cp` uploads nightly/db.tar and a different
// archive/db.tar of the same size (multipart: no SHA-1 anywhere), and a
// move nightly/ → archive/ must not take one for the other. The plan
// errors with the reason; verify = "download" moves the equal pair and
// fails the different one; `aws s3 cp` then downloads every object and the
// bytes are compared with what was uploaded. Skipped without `aws`.
func TestNoSHA1ProbeWithAWSCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	aws, err := exec.LookPath("aws")
	if err != nil || exec.Command(aws, "--version").Run() != nil {
		t.Skip("aws CLI not installed")
	}
	srv, err := emulator.NewServer(emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	url, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	conn, err := b2client.Connect(ctx, b2client.Config{Endpoint: url, KeyID: emulator.DefaultKeyID, Key: emulator.DefaultKey,
		Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b2client.NewMutator(conn).CreateBucket(ctx, b2client.BucketSpec{Name: "probe-data"}); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "AWS_") {
			env = append(env, e)
		}
	}
	env = append(env, "AWS_ACCESS_KEY_ID="+emulator.DefaultKeyID, "AWS_SECRET_ACCESS_KEY="+emulator.DefaultKey,
		"AWS_DEFAULT_REGION=us-west-000", "AWS_CONFIG_FILE="+filepath.Join(tmp, "none"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(tmp, "none"))
	awsRun := func(args ...string) {
		t.Helper()
		cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(cctx, aws, append([]string{"--endpoint-url", url}, args...)...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	data := func(seed string) []byte { // 10 MB: above the CLI's 8 MB multipart threshold
		b := bytes.Repeat([]byte(seed), 10<<20/len(seed)+1)
		return b[:10<<20]
	}
	files := map[string][]byte{"nightly/db.tar": data("nightly;"), "archive/db.tar": data("archive;"),
		"nightly/same.tar": data("same;"), "archive/same.tar": data("same;")}
	for name, b := range files {
		p := filepath.Join(tmp, filepath.Base(name)+"-"+filepath.Dir(name))
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		awsRun("s3", "cp", p, "s3://probe-data/"+name)
	}
	dir := t.TempDir()
	cfg := func(extra string) {
		hcl := "move \"m\" {\n  bucket = \"probe-data\"\n  from = \"nightly/\"\n  to = \"archive/\"\n" + extra + "}\n"
		if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(hcl), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b2plan := func(args ...string) (int, string) {
		var out bytes.Buffer
		code := RunWithEnv(args, []string{"B2_ENDPOINT=" + url, "B2_APPLICATION_KEY_ID=" + emulator.DefaultKeyID,
			"B2_APPLICATION_KEY=" + emulator.DefaultKey}, strings.NewReader(""), &out, &out)
		return code, out.String()
	}
	cfg("")
	if code, out := b2plan("plan", "-no-color", dir); code != 1 || !strings.Contains(out, "no SHA-1 on either side: content cannot be compared") ||
		!strings.Contains(out, `verify = "download"`) {
		t.Fatalf("plan: exit %d\n%s", code, out)
	}
	if code, out := b2plan("apply", "-auto-approve", "-no-color", dir); code != 1 || strings.Contains(out, "moved") && !strings.Contains(out, "0 moved") {
		t.Fatalf("apply of a plan with conflicts: exit %d\n%s", code, out)
	}
	cfg("  verify = \"download\"\n")
	if code, out := b2plan("apply", "-auto-approve", "-no-color", dir); code != 1 || !strings.Contains(out, "nightly/db.tar") || !strings.Contains(out, "other content") {
		t.Fatalf("apply with verify: exit %d\n%s", code, out)
	}
	// Independent check: download everything with the aws CLI.
	want := map[string][]byte{"nightly/db.tar": files["nightly/db.tar"], "archive/db.tar": files["archive/db.tar"], "archive/same.tar": files["archive/same.tar"]}
	got := filepath.Join(tmp, "got")
	awsRun("s3", "cp", "--recursive", "s3://probe-data/", got)
	n := 0
	filepath.Walk(got, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(got, p)
		b, _ := os.ReadFile(p)
		w, ok := want[filepath.ToSlash(rel)]
		if !ok || !bytes.Equal(b, w) {
			s := sha1.Sum(b)
			t.Errorf("%s: %d bytes sha1 %s (expected: %v)", rel, len(b), hex.EncodeToString(s[:]), ok)
		}
		n++
		return nil
	})
	if n != len(want) {
		t.Errorf("%d objects downloaded, want %d", n, len(want))
	}
}
