package emulator_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/b2plan/b2plan/emulator"
)

// Interop with widely used S3 clients pointed at the S3 endpoint; each
// skips when its binary is absent or in -short mode.

func runTool(t *testing.T, env []string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		t.Errorf("%s %s: %v\nstderr: %s", filepath.Base(name), strings.Join(args, " "), err, tail(errb.String(), 2000))
	}
	return out.String(), err
}

// baseEnv is the environment without a custom AWS CA bundle (rclone refuses
// one with a plain-HTTP endpoint).
func baseEnv() []string {
	var env []string
	for _, e := range os.Environ() {
		if strings.HasPrefix(e, "AWS_") || strings.HasPrefix(e, "RCLONE_") {
			continue
		}
		env = append(env, e)
	}
	return env
}

func s3InteropFiles(t *testing.T) (string, map[string][]byte) {
	local := t.TempDir()
	big := make([]byte, 12<<20+77)
	rand.Read(big)
	files := map[string][]byte{"a.txt": []byte("hello"), "sub/b.txt": []byte("bee"), "sp ace+plus.txt": []byte("odd"), "big.bin": big}
	for n, b := range files {
		p := filepath.Join(local, filepath.FromSlash(n))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, b, 0o644)
	}
	return local, files
}

func TestS3InteropRclone(t *testing.T) {
	rc, err := exec.LookPath("rclone")
	if err != nil {
		t.Skip("rclone not on PATH")
	}
	if testing.Short() {
		t.Skip("interop skipped in -short mode")
	}
	srv, base, hc := startServer(t, emulator.Options{})
	nat := master(t, hc, base, 4)
	env := append(baseEnv(), "RCLONE_CONFIG="+filepath.Join(t.TempDir(), "rclone.conf"),
		"RCLONE_CONFIG_EMU_TYPE=s3", "RCLONE_CONFIG_EMU_PROVIDER=Other", "RCLONE_CONFIG_EMU_ENDPOINT="+srv.S3URL(),
		"RCLONE_CONFIG_EMU_ACCESS_KEY_ID="+emulator.DefaultKeyID, "RCLONE_CONFIG_EMU_SECRET_ACCESS_KEY="+emulator.DefaultKey,
		"RCLONE_CONFIG_EMU_FORCE_PATH_STYLE=true", "RCLONE_CONFIG_EMU_REGION=us-west-000")
	run := func(args ...string) (string, error) {
		return runTool(t, env, rc, append([]string{"--retries", "1", "--low-level-retries", "2", "-q"}, args...)...)
	}
	bucket := bucketName("rcs3")
	local, files := s3InteropFiles(t)
	run("mkdir", "emu:"+bucket)
	run("copy", local, "emu:"+bucket+"/dir", "--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M")
	if st := srv.Stats(); st.Calls["s3_UploadPart"] < 3 || st.Calls["s3_CompleteMultipartUpload"] < 1 {
		t.Errorf("rclone did not upload in parts: %v", st.Calls)
	}
	for n, b := range files {
		if d := nat.byName(bucket, "dir/"+n); d.Status != 200 || !bytes.Equal(d.Raw, b) {
			t.Errorf("rclone-uploaded %q: status %d, %d bytes", n, d.Status, len(d.Raw))
		}
	}
	run("check", local, "emu:"+bucket+"/dir")
	run("moveto", "emu:"+bucket+"/dir/a.txt", "emu:"+bucket+"/moved/a.txt")
	out, _ := run("lsf", "-R", "--files-only", "emu:"+bucket)
	if want := "dir/big.bin\ndir/sp ace+plus.txt\ndir/sub/b.txt\nmoved/a.txt\n"; out != want {
		t.Errorf("rclone lsf after moveto =\n%s\nwant\n%s", out, want)
	}
	dl := t.TempDir()
	run("copy", "emu:"+bucket+"/dir", dl)
	if got, _ := os.ReadFile(filepath.Join(dl, "big.bin")); !bytes.Equal(got, files["big.bin"]) {
		t.Errorf("rclone download of big.bin differs")
	}
}

func TestS3InteropAWSCLI(t *testing.T) {
	aws, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("aws CLI not on PATH")
	}
	if testing.Short() {
		t.Skip("interop skipped in -short mode")
	}
	if err := exec.Command(aws, "--version").Run(); err != nil {
		t.Skip("aws CLI does not run: " + err.Error())
	}
	srv, base, hc := startServer(t, emulator.Options{})
	nat := master(t, hc, base, 4)
	env := append(baseEnv(), "AWS_ACCESS_KEY_ID="+emulator.DefaultKeyID, "AWS_SECRET_ACCESS_KEY="+emulator.DefaultKey,
		"AWS_DEFAULT_REGION=us-west-000", "AWS_CONFIG_FILE="+filepath.Join(t.TempDir(), "none"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(t.TempDir(), "none"))
	run := func(args ...string) (string, error) {
		return runTool(t, env, aws, append([]string{"--endpoint-url", srv.S3URL()}, args...)...)
	}
	bucket := bucketName("awscli")
	local, files := s3InteropFiles(t)
	run("s3", "mb", "s3://"+bucket)
	run("s3", "cp", "--only-show-errors", "--recursive", local, "s3://"+bucket+"/dir")
	for n, b := range files {
		if d := nat.byName(bucket, "dir/"+n); d.Status != 200 || !bytes.Equal(d.Raw, b) {
			t.Errorf("aws-uploaded %q: status %d, %d bytes", n, d.Status, len(d.Raw))
		}
	}
	run("s3", "cp", "--only-show-errors", "s3://"+bucket+"/dir/big.bin", "s3://"+bucket+"/copy/big.bin")
	out, _ := run("s3", "ls", "--recursive", "s3://"+bucket)
	if strings.Count(out, "\n") != 5 || !strings.Contains(out, "copy/big.bin") {
		t.Errorf("aws s3 ls =\n%s", out)
	}
	run("s3", "rm", "--only-show-errors", "--recursive", "s3://"+bucket+"/dir")
	out, _ = run("s3api", "list-object-versions", "--bucket", bucket, "--prefix", "dir/", "--query", "length(DeleteMarkers)")
	if strings.TrimSpace(out) != "4" {
		t.Errorf("delete markers after aws s3 rm: %q", out)
	}
	if st := srv.Stats(); st.Calls["s3_UploadPartCopy"] < 1 || st.Calls["s3_DeleteObjects"]+st.Calls["s3_DeleteObject"] < 1 {
		t.Errorf("aws CLI calls: %v", st.Calls)
	}
}
