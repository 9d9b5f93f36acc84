package emulator_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/b2plan/b2plan/emulator"
)

// frozenClock is a settable clock for the rate limiter.
type frozenClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *frozenClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *frozenClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestRateLimitNative(t *testing.T) {
	srv, base, hc := startServer(t, emulator.Options{RateLimit: 4})
	clk := &frozenClock{t: time.Now()}
	emulator.SetRateClock(srv, clk.now)
	s := master(t, hc, base, 4) // spends one of the four
	var ok, limited int
	for i := 0; i < 10; i++ {
		r := s.try("b2_list_buckets", map[string]any{"accountId": s.accountID})
		switch r.Status {
		case 200:
			ok++
		case 429:
			limited++
			if r.code() != "too_many_requests" || r.Header.Get("Retry-After") != "1" {
				t.Errorf("throttled call: %v, Retry-After %q", r, r.Header.Get("Retry-After"))
			}
		default:
			t.Errorf("unexpected %v", r)
		}
	}
	if ok != 3 || limited != 7 {
		t.Errorf("at 4/s with a frozen clock: %d answered, %d throttled; want 3 and 7", ok, limited)
	}
	// Half a second refills two.
	clk.advance(500 * time.Millisecond)
	ok = 0
	for i := 0; i < 5; i++ {
		if r := s.try("b2_list_buckets", map[string]any{"accountId": s.accountID}); r.Status == 200 {
			ok++
		}
	}
	if ok != 2 {
		t.Errorf("after 500ms at 4/s: %d answered, want 2", ok)
	}
	// Uploads and downloads count too; a refused upload stores nothing.
	clk.advance(10 * time.Second)
	bid := jstr(s.createBucket(bucketName("rl"), "allPrivate", nil), "bucketId")
	up := s.getUploadURL(bid)
	clk.advance(10 * time.Second)
	for i := 0; i < 4; i++ {
		s.try("b2_list_buckets", map[string]any{"accountId": s.accountID})
	}
	r, _ := rawUpload(hc, up, "x", []byte("x"), "", nil)
	wantErr(t, "upload over the rate", r, 429, "too_many_requests")
	clk.advance(10 * time.Second)
	if n := len(jlist(s.call("b2_list_file_names", map[string]any{"bucketId": bid}), "files")); n != 0 {
		t.Errorf("a throttled upload stored %d files", n)
	}
	if st := srv.Stats(); st.Throttled < 8 {
		t.Errorf("stats throttled = %d", st.Throttled)
	}
}

func TestRateLimitS3(t *testing.T) {
	srv, _, hc := startServer(t, emulator.Options{RateLimit: 2})
	clk := &frozenClock{t: time.Now()}
	emulator.SetRateClock(srv, clk.now)
	var codes []int
	for i := 0; i < 4; i++ {
		res, body := rawS3(t, hc, "GET", srv.S3URL()+"/", nil, "", emulator.DefaultKeyID, emulator.DefaultKey, time.Time{}, nil)
		codes = append(codes, res.StatusCode)
		if res.StatusCode == 503 {
			if e := parseXMLErr(t, body); e.Code != "SlowDown" || res.Header.Get("Retry-After") == "" {
				t.Errorf("throttled S3 call: %s, Retry-After %q", body, res.Header.Get("Retry-After"))
			}
		}
	}
	if codes[0] != 200 || codes[1] != 200 || codes[2] != 503 || codes[3] != 503 {
		t.Errorf("S3 at 2/s, frozen clock: %v", codes)
	}
}

// Many clients under a real clock: every call is answered (200 or 429), and
// the clients that retry after Retry-After all finish.
func TestRateLimitManyClients(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	srv, base, hc := startServer(t, emulator.Options{RateLimit: 200})
	s := master(t, hc, base, 4)
	var answered, throttled atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; {
				req, _ := http.NewRequest("GET", s.opURL("b2_list_buckets")+"?accountId="+s.accountID, nil)
				req.Header.Set("Authorization", s.token)
				r, err := doReq(hc, req)
				if err != nil {
					t.Error(err)
					return
				}
				switch r.Status {
				case 200:
					answered.Add(1)
					i++
				case 429:
					throttled.Add(1)
					time.Sleep(50 * time.Millisecond) // a client honouring the limit
				default:
					t.Errorf("unexpected %v", r)
					return
				}
			}
		}()
	}
	wg.Wait()
	if answered.Load() != 320 || srv.Stats().Throttled != throttled.Load() {
		t.Errorf("answered %d (want 320), throttled %d, stats %d", answered.Load(), throttled.Load(), srv.Stats().Throttled)
	}
}

// rclone, a real B2 client, copies a tree through a b2local rate-limited far
// below its natural pace: it must see B2's 429s, back off and finish, and
// every file must arrive intact (checked by SHA-1 against the listing).
func TestRateLimitRclone(t *testing.T) {
	rc, err := exec.LookPath("rclone")
	if err != nil || testing.Short() {
		t.Skip("rclone not on PATH, or -short")
	}
	srv, base, hc := startServer(t, emulator.Options{RateLimit: 10})
	local := t.TempDir()
	want := map[string]string{}
	for i := 0; i < 24; i++ {
		name := fmt.Sprintf("d%d/f%02d.txt", i%3, i)
		data := []byte(strings.Repeat(name, i+1))
		os.MkdirAll(filepath.Join(local, filepath.Dir(name)), 0o755)
		os.WriteFile(filepath.Join(local, name), data, 0o644)
		want[name] = sha1hex(data)
	}
	bucket := bucketName("rcrl")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, rc, "--transfers", "8", "--checkers", "8", "--retries", "3", "--low-level-retries", "20",
		"copy", local, "emu:"+bucket)
	cmd.Env = append(os.Environ(), "RCLONE_CONFIG="+filepath.Join(t.TempDir(), "rclone.conf"), "RCLONE_CONFIG_EMU_TYPE=b2",
		"RCLONE_CONFIG_EMU_ACCOUNT="+emulator.DefaultKeyID, "RCLONE_CONFIG_EMU_KEY="+emulator.DefaultKey, "RCLONE_CONFIG_EMU_ENDPOINT="+base)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rclone copy under a rate limit: %v\n%s", err, tail(string(out), 2000))
	}
	throttled := srv.Stats().Throttled
	m := master(t, hc, base, 4)
	var bid string
	for bid == "" {
		r := m.try("b2_list_buckets", map[string]any{"accountId": m.accountID, "bucketName": bucket})
		if r.Status == 429 {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		bid = jstr(r.Body, "buckets", "0", "bucketId")
		if bid == "" {
			t.Fatalf("bucket: %v", r)
		}
	}
	got := map[string]string{}
	for len(got) == 0 {
		r := m.try("b2_list_file_names", map[string]any{"bucketId": bid, "maxFileCount": 1000})
		if r.Status == 429 {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		for _, f := range jlist(r.Body, "files") {
			got[jstr(f, "fileName")] = jstr(f, "contentSha1")
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("uploaded tree differs:\nwant %v\ngot  %v", want, got)
	}
	if throttled == 0 {
		t.Errorf("rclone was never throttled at 10 requests/s")
	}
	t.Logf("rclone copied %d files at 10 requests/s; %d calls throttled", len(got), throttled)
}

// The aws CLI through the S3 API of a rate-limited b2local: it sees 503
// SlowDown with Retry-After, retries, and every object arrives.
func TestRateLimitAWSCLI(t *testing.T) {
	awsBin, err := exec.LookPath("aws")
	if err != nil || testing.Short() {
		t.Skip("aws CLI not on PATH, or -short")
	}
	srv, base, hc := startServer(t, emulator.Options{RateLimit: 10})
	local := t.TempDir()
	want := map[string]string{}
	for i := 0; i < 20; i++ {
		name := fmt.Sprintf("f%02d.txt", i)
		data := []byte(strings.Repeat(name, i+1))
		os.WriteFile(filepath.Join(local, name), data, 0o644)
		want["up/"+name] = sha1hex(data)
	}
	env := append(baseEnv(), "AWS_ACCESS_KEY_ID="+emulator.DefaultKeyID, "AWS_SECRET_ACCESS_KEY="+emulator.DefaultKey,
		"AWS_DEFAULT_REGION=us-west-000", "AWS_CONFIG_FILE="+filepath.Join(t.TempDir(), "none"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(t.TempDir(), "none"), "AWS_RETRY_MODE=standard", "AWS_MAX_ATTEMPTS=20")
	bucket := bucketName("awsrl")
	m := master(t, hc, base, 4)
	bid := jstr(m.createBucket(bucket, "allPrivate", nil), "bucketId")
	if _, err := runTool(t, env, awsBin, "--endpoint-url", srv.S3URL(), "s3", "cp", "--only-show-errors", "--recursive", local, "s3://"+bucket+"/up"); err != nil {
		return
	}
	throttled := srv.Stats().Throttled
	got := map[string]string{}
	r := m.try("b2_list_file_names", map[string]any{"bucketId": bid, "maxFileCount": 1000})
	for r.Status == 429 {
		time.Sleep(200 * time.Millisecond)
		r = m.try("b2_list_file_names", map[string]any{"bucketId": bid, "maxFileCount": 1000})
	}
	for _, f := range jlist(r.Body, "files") {
		got[jstr(f, "fileName")] = jstr(f, "contentSha1")
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("uploaded objects differ (%v):\nwant %v\ngot  %v", r.Status, want, got)
	}
	if throttled == 0 {
		t.Errorf("the aws CLI was never throttled at 10 requests/s")
	}
	t.Logf("aws CLI uploaded %d objects at 10 requests/s; %d calls throttled", len(got), throttled)
}
