package command

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/b2plan/b2plan/emulator"
)

// TestObjectsOverS3EndToEnd applies object blocks with the CLI through the S3-compatible
// endpoint (B2_ENDPOINT=s3://…): a small object (one PutObject) and one above the account's
// part size (a multipart upload), then checks them with the aws CLI (head-object: content
// type and x-amz-meta-* file info; a download compared by SHA-1) when it is installed, and
// re-plans over S3 and natively: no changes.
func TestObjectsOverS3EndToEnd(t *testing.T) {
	srv, err := emulator.NewServer(emulator.Options{AbsoluteMinimumPartSize: 1000, RecommendedPartSize: 5000})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	url, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s3URL := "s3://" + strings.TrimPrefix(url, "http://")
	dir := t.TempDir()
	big := bytes.Repeat([]byte("large object over S3\n"), 1000) // 21,000 bytes: 5 parts of 5,000
	writeFiles(t, dir, map[string]string{"big.bin": string(big), "main.hcl": `
bucket "site" {
  name = "s3-objects-site"
}
object "robots" {
  bucket  = bucket.site.name
  name    = "robots.txt"
  content = "User-agent: *\n"
  info    = { team = "web" }
}
object "big" {
  bucket       = bucket.site.name
  name         = "data/big.bin"
  source       = "big.bin"
  content_type = "application/x-b2plan-test"
}
`})
	run := func(endpoint string, args ...string) (int, string) {
		env := []string{"B2_ENDPOINT=" + endpoint, "B2_APPLICATION_KEY_ID=" + emulator.DefaultKeyID, "B2_APPLICATION_KEY=" + emulator.DefaultKey,
			"HOME=" + dir, "PATH=" + os.Getenv("PATH")}
		var out, errb bytes.Buffer
		code := RunWithEnv(args, env, strings.NewReader(""), &out, &errb)
		return code, out.String() + errb.String()
	}
	// The emulator's per-operation counts are shared by every server of the process: compare
	// the counts before and after.
	before := srv.Stats().Calls
	if code, out := run(s3URL, "apply", "-auto-approve", dir); code != 0 || !strings.Contains(out, "Apply complete! Resources: 3 added") {
		t.Fatalf("apply over S3: %d\n%s", code, out)
	}
	st := srv.Stats()
	calls := func(op string) int64 { return st.Calls[op] - before[op] }
	if calls("s3_PutObject") != 1 || calls("s3_UploadPart") != 5 || calls("b2_upload_file") != 0 || calls("b2_upload_part") != 0 {
		t.Errorf("apply over S3 calls: %v (before: %v)", st.Calls, before)
	}
	for _, ep := range []string{s3URL, url} {
		if code, out := run(ep, "plan", "-detailed-exitcode", dir); code != 0 || !strings.Contains(out, "No changes.") {
			t.Errorf("re-plan (%s): %d\n%s", ep, code, out)
		}
	}

	aws, err := exec.LookPath("aws")
	if err != nil || exec.Command(aws, "--version").Run() != nil {
		t.Skip("aws CLI not installed: the third-party check is skipped")
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
	awsRun := func(args ...string) []byte {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, aws, append([]string{"--endpoint-url", url}, args...)...)
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	var head struct {
		ContentType   string
		ContentLength int64
		Metadata      map[string]string
	}
	if err := json.Unmarshal(awsRun("s3api", "head-object", "--bucket", "s3-objects-site", "--key", "robots.txt"), &head); err != nil {
		t.Fatal(err)
	}
	if head.ContentType != "text/plain; charset=utf-8" || head.Metadata["team"] != "web" || head.ContentLength != int64(len("User-agent: *\n")) {
		t.Errorf("aws head-object robots.txt: %+v", head)
	}
	if err := json.Unmarshal(awsRun("s3api", "head-object", "--bucket", "s3-objects-site", "--key", "data/big.bin"), &head); err != nil {
		t.Fatal(err)
	}
	if head.ContentType != "application/x-b2plan-test" || head.ContentLength != int64(len(big)) {
		t.Errorf("aws head-object data/big.bin: %+v", head)
	}
	got := filepath.Join(tmp, "big.bin")
	awsRun("s3", "cp", "s3://s3-objects-site/data/big.bin", got)
	b, err := os.ReadFile(got)
	if err != nil {
		t.Fatal(err)
	}
	if sha1.Sum(b) != sha1.Sum(big) {
		t.Errorf("aws download of data/big.bin: %d bytes, SHA-1 %s", len(b), hex.EncodeToString(func() []byte { s := sha1.Sum(b); return s[:] }()))
	}
}
