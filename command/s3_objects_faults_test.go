package command

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/b2plan/b2plan/b2client"
	"github.com/b2plan/b2plan/emulator"
)

// TestObjectsOverS3FaultsAfterCommit: object blocks applied over the S3 endpoint (and the
// native API) while every PutObject and CompleteMultipartUpload (b2_upload_file, b2_finish_large_file)
// fails after it took effect (the reply
// replaced by a 500/503). Whatever apply reports, after at most a few applies without
// faults each object has exactly one version (no duplicate left by a retried upload) with
// the declared SHA-1 (raw native listing), and the re-plan is empty.
func TestObjectsOverS3FaultsAfterCommit(t *testing.T) {
	for _, native := range []bool{false, true} {
		t.Run(fmt.Sprintf("native=%v", native), func(t *testing.T) { objectsFaultsAfterCommit(t, native) })
	}
}

func objectsFaultsAfterCommit(t *testing.T, native bool) {
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
	ops := []string{"s3_PutObject", "s3_CompleteMultipartUpload"}
	if native {
		s3URL = url
		ops = []string{"b2_upload_file", "b2_finish_large_file"}
	}
	dir := t.TempDir()
	big := bytes.Repeat([]byte("large object over S3 with faults\n"), 700) // 23,100 bytes: 5 parts
	small := "User-agent: *\n"
	writeFiles(t, dir, map[string]string{"big.bin": string(big), "main.hcl": `
bucket "site" {
  name = "s3-faults-site"
}
object "robots" {
  bucket  = bucket.site.name
  name    = "robots.txt"
  content = "User-agent: *\n"
}
object "big" {
  bucket = bucket.site.name
  name   = "data/big.bin"
  source = "big.bin"
}
`})
	run := func(args ...string) (int, string) {
		env := []string{"B2_ENDPOINT=" + s3URL, "B2_APPLICATION_KEY_ID=" + emulator.DefaultKeyID, "B2_APPLICATION_KEY=" + emulator.DefaultKey,
			"HOME=" + dir, "PATH=" + os.Getenv("PATH")}
		var out, errb bytes.Buffer
		code := RunWithEnv(args, env, strings.NewReader(""), &out, &errb)
		return code, out.String() + errb.String()
	}
	// The bucket first, then the objects under faults.
	if code, out := run("apply", "-auto-approve", "-target=bucket.site", dir); code != 0 {
		t.Fatalf("apply of the bucket: %d\n%s", code, out)
	}
	srv.SetFaultsAfterCommit(1, ops, 500, 503)
	// Three faults, then none (a retry policy's full course takes long).
	stopFaults := make(chan struct{})
	go func() {
		for srv.Stats().Faults < 3 {
			select {
			case <-stopFaults:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
		srv.SetFaultsAfterCommit(0, nil)
	}()
	code, out := run("apply", "-auto-approve", dir)
	close(stopFaults)
	if st := srv.Stats(); st.Faults < 2 {
		t.Fatalf("only %d faults injected", st.Faults)
	}
	t.Logf("apply under faults: %d\n%s", code, out)
	srv.SetFaultsAfterCommit(0, nil)
	for i := 0; i < 3; i++ {
		if code, out = run("apply", "-auto-approve", dir); code == 0 {
			break
		}
		t.Logf("apply %d after the faults: %d\n%s", i+1, code, out)
	}
	if code != 0 {
		t.Fatalf("apply after the faults: %d\n%s", code, out)
	}
	if code, out = run("plan", "-detailed-exitcode", dir); code != 0 {
		t.Fatalf("re-plan: %d\n%s", code, out)
	}
	// Raw native listing (an independent reader).
	ctx := context.Background()
	conn, err := b2client.Connect(ctx, b2client.Config{Endpoint: url, KeyID: emulator.DefaultKeyID, Key: emulator.DefaultKey, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	e := &keyEnv{t: t, url: url}
	_ = conn
	bid := e.rawBucketIDs()["s3-faults-site"]
	files := e.rawCall("b2_list_file_versions", map[string]any{"bucketId": bid, "maxFileCount": 1000})["files"].([]any)
	sha := func(b []byte) string { s := sha1.Sum(b); return hex.EncodeToString(s[:]) }
	want := map[string]string{"robots.txt": sha([]byte(small)), "data/big.bin": sha(big)}
	got := map[string][]string{}
	for _, f := range files {
		fm := f.(map[string]any)
		s, _ := fm["contentSha1"].(string)
		if s == "none" || s == "" {
			info, _ := fm["fileInfo"].(map[string]any)
			s, _ = info["large_file_sha1"].(string)
		}
		got[fm["fileName"].(string)] = append(got[fm["fileName"].(string)], fm["action"].(string)+" "+s)
	}
	for name, s := range want {
		if len(got[name]) != 1 || got[name][0] != "upload "+s {
			t.Errorf("%s: versions %v, want exactly one upload with SHA-1 %s", name, got[name], s)
		}
	}
	if len(got) != len(want) {
		t.Errorf("names in the bucket: %v", got)
	}
	unf := e.rawCall("b2_list_unfinished_large_files", map[string]any{"bucketId": bid})["files"].([]any)
	if len(unf) != 0 {
		t.Errorf("unfinished large files left: %v", unf)
	}
}
