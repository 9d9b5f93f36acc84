package command

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/b2plan/b2plan/b2client"
	"github.com/b2plan/b2plan/emulator"
	"github.com/b2plan/b2plan/live"
)

// TestApplyAgainstStalledServer: an apply against a server that stops
// answering mid-apply ends by itself, with exit status 1 and a message that
// says what happened, and what was done stays done. It uses the default
// deadlines (it takes about 3 minutes), so it runs only with
// B2PLAN_TEST_STALL=1.
func TestApplyAgainstStalledServer(t *testing.T) {
	if os.Getenv("B2PLAN_TEST_STALL") == "" {
		t.Skip("set B2PLAN_TEST_STALL=1 (takes about 3 minutes: the default deadlines)")
	}
	srv, err := emulator.NewServer(emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	h := srv.Handler()
	var count atomic.Int64
	const answered = 5 // authorize, the plan's listings, and the bucket's creation
	ts := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if count.Add(1) > answered {
			<-r.Context().Done() // never answer
			return
		}
		h.ServeHTTP(w, r)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go ts.Serve(ln)
	defer ts.Close()

	dir := t.TempDir()
	cfg := `bucket "assets" {
  name = "stall-assets"
}
key "uploader" {
  name    = "stall-uploader"
  access  = "read-write"
  buckets = [bucket.assets.name]
  secret_file = "secrets/uploader.env"
}
folder "uploads" {
  bucket = bucket.assets.name
  path   = "uploads/"
}
`
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"B2_ENDPOINT=http://" + ln.Addr().String(), "B2_APPLICATION_KEY_ID=" + emulator.DefaultKeyID, "B2_APPLICATION_KEY=" + emulator.DefaultKey}
	var stdout, stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- RunWithEnv([]string{"apply", "-auto-approve", dir}, env, strings.NewReader(""), &stdout, &stderr)
	}()
	select {
	case code := <-done:
		if code != ExitError {
			t.Errorf("exit status %d, want %d", code, ExitError)
		}
	case <-time.After(10 * time.Minute):
		t.Fatalf("apply still running after 10 minutes:\n%s\n%s", stdout.String(), stderr.String())
	}
	out := stdout.String() + stderr.String()
	if !strings.Contains(out, "has answered no request for") || !strings.Contains(out, "nothing was lost") {
		t.Errorf("no stall message in:\n%s", out)
	}
	// An independent reader: the emulator itself, in-process.
	c, err := b2client.Connect(context.Background(), b2client.Config{Endpoint: srv.URL(), Transport: srv.Transport(),
		KeyID: emulator.DefaultKeyID, Key: emulator.DefaultKey, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	l, err := b2client.Observe(context.Background(), c, live.Request{Buckets: true})
	if err != nil {
		t.Fatal(err)
	}
	if l.Bucket("stall-assets") == nil {
		t.Errorf("the bucket created before the stall is gone")
	}
}
