package command

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/b2plan/b2plan/b2client"
	"github.com/b2plan/b2plan/emulator"
	"github.com/b2plan/b2plan/live"
)

// TestMoveOverS3EndToEnd drives the CLI against an emulator on a loopback
// port: a move planned (saved plan) and applied through the S3-compatible
// API (B2_ENDPOINT=s3://127.0.0.1:PORT) and checked through the native API,
// then a move back planned and applied through the native API and checked
// through the S3 path.
func TestMoveOverS3EndToEnd(t *testing.T) {
	srv, err := emulator.NewServer(emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	url, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s3URL := "s3://" + strings.TrimPrefix(url, "http://")
	ctx := context.Background()
	connect := func(endpoint string) *b2client.Conn {
		c, err := b2client.Connect(ctx, b2client.Config{Endpoint: endpoint, KeyID: emulator.DefaultKeyID, Key: emulator.DefaultKey,
			Getenv: func(string) string { return "" }})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	native, overS3 := connect(url), connect(s3URL)
	if native.IsS3() || !overS3.IsS3() {
		t.Fatalf("connections: native IsS3 %v, s3 IsS3 %v", native.IsS3(), overS3.IsS3())
	}
	m := b2client.NewMutator(native)
	if _, err := m.CreateBucket(ctx, b2client.BucketSpec{Name: "e2e-s3-data"}); err != nil {
		t.Fatal(err)
	}
	const n = 1200
	want := map[string]string{}
	for i := 0; i < n; i++ {
		data := fmt.Sprintf("object %d", i)
		if _, err := m.Upload(ctx, "e2e-s3-data", fmt.Sprintf("in/f%04d", i), "text/plain", []byte(data), nil); err != nil {
			t.Fatal(err)
		}
		want[fmt.Sprintf("f%04d", i)] = sha1hex(data)
	}

	run := func(endpoint string, args ...string) string {
		t.Helper()
		env := []string{"B2_ENDPOINT=" + endpoint, "B2_APPLICATION_KEY_ID=" + emulator.DefaultKeyID, "B2_APPLICATION_KEY=" + emulator.DefaultKey}
		var out, errb bytes.Buffer
		if code := RunWithEnv(args, env, strings.NewReader(""), &out, &errb); code != 0 {
			t.Fatalf("b2plan %s (%s) exited %d:\n%s\n%s", strings.Join(args, " "), endpoint, code, out.String(), errb.String())
		}
		return out.String()
	}
	writeMove := func(from, to string) string {
		dir := t.TempDir()
		cfg := fmt.Sprintf("bucket \"data\" {\n  name = \"e2e-s3-data\"\n}\n\nmove \"m\" {\n  bucket = bucket.data.name\n  from   = %q\n  to     = %q\n}\n", from, to)
		if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	// check lists both prefixes through c and compares with want.
	check := func(c *b2client.Conn, from, to string) {
		t.Helper()
		l, err := b2client.Observe(ctx, c, live.Request{Prefixes: []live.PrefixRequest{{BucketName: "e2e-s3-data", Prefix: from}, {BucketName: "e2e-s3-data", Prefix: to}}})
		if err != nil {
			t.Fatal(err)
		}
		if vs := l.Listings[0].Versions; len(vs) != 0 {
			t.Errorf("%d versions left under %s", len(vs), from)
		}
		got := map[string]string{}
		for _, v := range l.Listings[1].Versions {
			if _, dup := got[v.Name]; dup || v.Action != live.ActionUpload {
				t.Errorf("unexpected version at the destination: %s %s", v.Name, v.Action)
			}
			got[strings.TrimPrefix(v.Name, to)] = v.SHA1Hex()
		}
		if len(got) != len(want) {
			t.Errorf("%d objects under %s, want %d", len(got), to, len(want))
		}
		for k, s := range want {
			if got[k] != s {
				t.Errorf("%s%s: SHA-1 %q, want %q", to, k, got[k], s)
			}
		}
	}

	// Over S3, with a saved plan; checked natively.
	dir := writeMove("in/", "out/")
	planFile := filepath.Join(t.TempDir(), "plan.b2")
	if out := run(s3URL, "plan", "-out="+planFile, dir); !strings.Contains(out, fmt.Sprintf("%d objects to move", n)) {
		t.Fatalf("plan over S3:\n%s", out)
	}
	srv.ResetStats()
	run(s3URL, "apply", planFile)
	st := srv.Stats()
	if st.Calls["s3_CopyObject"] != n || st.Calls["s3_DeleteObjects"] != 2 || st.Calls["b2_copy_file"] != 0 || st.Calls["b2_delete_file_version"] != 0 || st.Calls["b2_get_file_info"] != 0 {
		t.Errorf("apply over S3 calls: %v", st.Calls)
	}
	t.Logf("apply of a saved plan over S3, %d objects: %d calls (%.4f per object): %v", n, st.Total, float64(st.Total)/n, st.Calls)
	check(native, "in/", "out/")
	if out := run(url, "plan", "-detailed-exitcode", dir); !strings.Contains(out, "No changes.") {
		t.Errorf("native re-plan after the S3 move:\n%s", out)
	}

	// Back, natively; checked through the S3 path.
	dir = writeMove("out/", "in/")
	run(url, "apply", "-auto-approve", dir)
	check(overS3, "out/", "in/")
	if out := run(s3URL, "plan", "-detailed-exitcode", dir); !strings.Contains(out, "No changes.") {
		t.Errorf("S3 re-plan after the native move:\n%s", out)
	}
}

func sha1hex(s string) string {
	h := sha1.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}
