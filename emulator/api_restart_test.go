package emulator_test

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/b2plan/b2plan/emulator"
	"github.com/google/go-cmp/cmp"
)

// State survives Close + NewServer on the same Dir (SPEC §4).
func TestAPIPersistenceRestart(t *testing.T) {
	dir := t.TempDir()
	s1, err := emulator.NewServer(emulator.Options{Dir: dir, AbsoluteMinimumPartSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	u1, err := s1.Start("")
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	m := master(t, hc, u1, 4)
	bn := bucketName("persist")
	bid := m.bucket(bn)
	m.call("b2_update_bucket", map[string]any{"bucketId": bid, "bucketInfo": map[string]string{"k": "v"}, "bucketType": "allPublic"})
	kid, kkey, _ := m.createKey(map[string]any{"capabilities": []string{"listFiles", "readFiles"}, "bucketIds": []string{bid}, "namePrefix": "a/"})
	m.upload(bid, "a/one", []byte("one-v1"), map[string]string{"X-Bz-Info-color": "red"})
	m.upload(bid, "a/one", []byte("one-v2"), nil)
	gone := m.upload(bid, "a/two", []byte("two"), nil)
	m.call("b2_hide_file", map[string]any{"bucketId": bid, "fileName": "a/two"})
	m.call("b2_delete_file_version", map[string]any{"fileName": "a/two", "fileId": jstr(gone, "fileId")})
	m.call("b2_copy_file", map[string]any{"sourceFileId": jstr(m.upload(bid, "b/src", []byte("src"), nil), "fileId"), "fileName": "b/copy"})
	lf := m.call("b2_start_large_file", map[string]any{"bucketId": bid, "fileName": "large/unfinished", "contentType": "b2/x-auto"})
	pu := m.call("b2_get_upload_part_url", map[string]any{"fileId": jstr(lf, "fileId")})
	part := []byte("0123456789abcdef")
	for _, n := range []string{"1", "2"} { // B2 large files have at least two parts
		req, _ := http.NewRequest("POST", jstr(pu, "uploadUrl"), bytes.NewReader(part))
		req.Header.Set("Authorization", jstr(pu, "authorizationToken"))
		req.Header.Set("X-Bz-Part-Number", n)
		req.Header.Set("X-Bz-Content-Sha1", sha1hex(part))
		if r, err := doReq(hc, req); err != nil || r.Status != 200 {
			t.Fatalf("upload_part %s: %v %v", n, r, err)
		}
	}
	lf2 := m.call("b2_start_large_file", map[string]any{"bucketId": bid, "fileName": "large/done", "contentType": "text/plain"})
	m.call("b2_copy_part", map[string]any{"sourceFileId": jstr(m.upload(bid, "b/part-src", []byte("part source"), nil), "fileId"), "largeFileId": jstr(lf2, "fileId"), "partNumber": 1})
	_ = lf2

	snap := func(s *sess) map[string]any {
		out := map[string]any{}
		out["buckets"] = s.call("b2_list_buckets", map[string]any{"accountId": s.accountID})
		out["keys"] = s.call("b2_list_keys", map[string]any{"accountId": s.accountID})
		out["versions"] = s.call("b2_list_file_versions", map[string]any{"bucketId": bid, "maxFileCount": 1000})
		out["names"] = s.call("b2_list_file_names", map[string]any{"bucketId": bid, "maxFileCount": 1000})
		out["unfinished"] = s.call("b2_list_unfinished_large_files", map[string]any{"bucketId": bid})
		out["parts"] = s.call("b2_list_parts", map[string]any{"fileId": jstr(lf, "fileId")})
		return out
	}
	before := snap(m)
	if err := s1.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s2, err := emulator.NewServer(emulator.Options{Dir: dir, AbsoluteMinimumPartSize: 10})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s2.Close()
	u2, err := s2.Start("")
	if err != nil {
		t.Fatal(err)
	}
	m2 := master(t, hc, u2, 4)
	after := snap(m2)
	if d := cmp.Diff(before, after); d != "" {
		t.Errorf("state changed across restart (-before +after):\n%s", d)
	}
	if r := m2.byName(bn, "a/one"); string(r.Raw) != "one-v2" {
		t.Errorf("content after restart: %v", r)
	}
	if r := m2.byName(bn, "b/copy"); string(r.Raw) != "src" {
		t.Errorf("copied content after restart: %v", r)
	}
	ks := login(t, hc, u2, 4, kid, kkey)
	if r := ks.try("b2_list_file_names", map[string]any{"bucketId": bid, "prefix": "a/"}); r.Status != 200 || len(jlist(r.Body, "files")) != 1 {
		t.Errorf("restricted key after restart: %v", r)
	}
	// Old tokens are not required to survive, but new versions must sort newest.
	nv := m2.upload(bid, "a/one", []byte("one-v3"), nil)
	vs := m2.allVersions(bid, "a/one", 10)
	if len(vs) != 3 || vs[0].ID != jstr(nv, "fileId") {
		t.Errorf("new version after restart must be newest: %v", vs)
	}
	// Finishing the large file started before the restart.
	m2.call("b2_finish_large_file", map[string]any{"fileId": jstr(lf, "fileId"), "partSha1Array": []string{sha1hex(part), sha1hex(part)}})
	if r := m2.byName(bn, "large/unfinished"); !bytes.Equal(r.Raw, append(append([]byte{}, part...), part...)) {
		t.Errorf("finished-after-restart large file: %v", r)
	}
	// A restart after these writes still has them.
	s2.Close()
	s3, err := emulator.NewServer(emulator.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Close()
	u3, _ := s3.Start("")
	m3 := master(t, hc, u3, 4)
	if r := m3.byName(bn, "a/one"); string(r.Raw) != "one-v3" {
		t.Errorf("second restart: %v", r)
	}
}

// TestHelperProcessServer is not a real test: the kill -9 test re-executes the
// test binary with B2LOCAL_HELPER_DIR set to run a server in a child process
// when cmd/b2local cannot be built.
func TestHelperProcessServer(t *testing.T) {
	dir := os.Getenv("B2LOCAL_HELPER_DIR")
	if dir == "" {
		t.Skip("helper process only")
	}
	s, err := emulator.NewServer(emulator.Options{Dir: dir})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(2)
	}
	u, err := s.Start(os.Getenv("B2LOCAL_HELPER_ADDR"))
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(2)
	}
	fmt.Println("listening on", u)
	select {}
}

// buildB2local builds cmd/b2local into the test's temporary directory (the
// go build cache makes repeated builds cheap; nothing is left behind).
func buildB2local(t *testing.T) (string, error) {
	path := filepath.Join(t.TempDir(), "b2local")
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	out, err := exec.Command(gobin, "build", "-o", path, "../cmd/b2local").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ./cmd/b2local: %v\n%s", err, out)
	}
	return path, nil
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

var urlRE = regexp.MustCompile(`http://127\.0\.0\.1:\d+`)

// startChild starts b2local (or the helper process) on dir and returns the
// command and the URL it printed.
func startChild(t *testing.T, dir string, useBinary bool, bin string, extra ...string) (*exec.Cmd, string, chan struct{}) {
	t.Helper()
	addr := freePort(t)
	var cmd *exec.Cmd
	if useBinary {
		args := []string{"-addr", addr}
		if dir != "" {
			args = append(args, "-data", dir)
		}
		cmd = exec.Command(bin, append(args, extra...)...)
	} else {
		cmd = exec.Command(os.Args[0], "-test.run=^TestHelperProcessServer$")
		cmd.Env = append(os.Environ(), "B2LOCAL_HELPER_DIR="+dir, "B2LOCAL_HELPER_ADDR="+addr)
	}
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sent := false
		for sc.Scan() {
			if u := urlRE.FindString(sc.Text()); u != "" && !sent {
				found <- u
				sent = true
			}
		}
	}()
	done := make(chan struct{})
	go func() { cmd.Wait(); pw.Close(); close(done) }()
	select {
	case u := <-found:
		return cmd, u, done
	case <-done:
		t.Fatalf("child exited before printing its URL")
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("child did not print its URL (SPEC §4: prints its URL on start-up)")
	}
	return nil, "", nil
}

// A real kill -9 while many uploads are in flight: after restart every upload
// that got a 200 is present with the right SHA1 and no version is torn.
func TestAPIKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 test skipped in -short mode")
	}
	bin, err := buildB2local(t)
	useBinary := err == nil
	if !useBinary {
		t.Logf("cannot build cmd/b2local, using a re-executed test binary as the server: %v", err)
	}
	dir := t.TempDir()
	hc := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	type rec struct{ name, id, sha string }
	var mu sync.Mutex
	var acked []rec
	bn := bucketName("kill9")
	var bid string

	for round := 0; round < 2; round++ {
		cmd, u, done := startChild(t, dir, useBinary, bin)
		m := master(t, hc, u, 4)
		if round == 0 {
			bid = m.bucket(bn)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := 0; w < 16; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := mrand.New(mrand.NewSource(int64(round*100 + w)))
				var up uploadURL
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					if up.url == "" {
						r := m.tryNoFatal("b2_get_upload_url", map[string]any{"bucketId": bid})
						if r.Status != 200 {
							return
						}
						up = uploadURL{jstr(r.Body, "uploadUrl"), jstr(r.Body, "authorizationToken")}
					}
					data := make([]byte, 1+rng.Intn(256<<10))
					rand.Read(data)
					name := fmt.Sprintf("r%d/w%02d/%05d", round, w, i)
					r, err := rawUpload(hc, up, name, data, "", nil)
					if err != nil {
						return
					}
					if r.Status == 200 {
						mu.Lock()
						acked = append(acked, rec{name, jstr(r.Body, "fileId"), sha1hex(data)})
						mu.Unlock()
					} else {
						up = uploadURL{}
					}
				}
			}()
		}
		time.Sleep(time.Duration(400+mrand.Intn(1200)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		close(stop)
		wg.Wait()
		<-done
		mu.Lock()
		t.Logf("round %d: %d uploads acknowledged so far", round, len(acked))
		mu.Unlock()
	}
	if len(acked) == 0 {
		t.Fatal("no upload was acknowledged before the kill")
	}
	cmd, u, done := startChild(t, dir, useBinary, bin)
	defer func() { cmd.Process.Kill(); <-done }()
	m := master(t, hc, u, 4)
	bl := m.call("b2_list_buckets", map[string]any{"accountId": m.accountID, "bucketName": bn})
	if jstr(bl, "buckets", "0", "bucketId") != bid {
		t.Fatalf("bucket lost after kill -9: %v", bl)
	}
	missing := 0
	for _, a := range acked {
		r := m.tryNoFatal("b2_get_file_info", map[string]any{"fileId": a.id})
		if r.Status != 200 || jstr(r.Body, "fileName") != a.name || jstr(r.Body, "contentSha1") != a.sha {
			missing++
			if missing < 10 {
				t.Errorf("acknowledged upload %s lost or changed after kill -9: %v", a.name, r)
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d acknowledged uploads lost after kill -9", missing, len(acked))
	}
	// Nothing torn: every listed version downloads with its recorded length and SHA1.
	all := m.allVersions(bid, "", 1000)
	torn := 0
	for _, e := range all {
		gi := m.tryNoFatal("b2_get_file_info", map[string]any{"fileId": e.ID})
		d := m.byID(e.ID)
		if d.Status != 200 || int64(len(d.Raw)) != jnum(gi.Body, "contentLength") || sha1hex(d.Raw) != jstr(gi.Body, "contentSha1") {
			torn++
			if torn < 10 {
				t.Errorf("torn version %s: status %d len %d want %d", e.Name, d.Status, len(d.Raw), jnum(gi.Body, "contentLength"))
			}
		}
	}
	t.Logf("after restart: %d versions listed, %d acknowledged", len(all), len(acked))
	// The server still accepts writes on the recovered state.
	m.upload(bid, "after-recovery", []byte("ok"), nil)
}

// tryNoFatal is try without t.Fatal on transport errors (status -1).
func (s *sess) tryNoFatal(op string, body any) resp {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", s.opURL(op), bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", s.token)
	r, err := doReq(s.hc, req)
	if err != nil {
		return resp{Status: -1, Raw: []byte(err.Error())}
	}
	return r
}

// The b2local command (SPEC §4): flags, printed URL, clean exit on SIGTERM
// with state flushed.
func TestAPIB2localCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds cmd/b2local")
	}
	bin, err := buildB2local(t)
	if err != nil {
		t.Fatalf("cmd/b2local does not build: %v", err)
	}
	hc := &http.Client{Timeout: 20 * time.Second}
	dir := t.TempDir()
	cmd, u, done := startChild(t, dir, true, bin, "-key-id", "myKeyId", "-key", "mySecret", "-token-ttl", "1h")
	if _, err := authorizeRaw(hc, u, 4, emulator.DefaultKeyID, emulator.DefaultKey); err != nil {
		t.Fatal(err)
	}
	if r, _ := authorizeRaw(hc, u, 4, emulator.DefaultKeyID, emulator.DefaultKey); r.Status != 401 {
		t.Errorf("-key-id/-key must replace the development credentials: %v", r)
	}
	m := login(t, hc, u, 4, "myKeyId", "mySecret")
	bn := bucketName("cmd")
	bid := m.bucket(bn)
	m.upload(bid, "kept", []byte("kept across SIGTERM"), nil)
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("b2local did not exit on SIGTERM")
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0 (clean exit)", code)
	}
	cmd, u, done = startChild(t, dir, true, bin, "-key-id", "myKeyId", "-key", "mySecret")
	m = login(t, hc, u, 4, "myKeyId", "mySecret")
	if r := m.byName(bn, "kept"); string(r.Raw) != "kept across SIGTERM" {
		t.Errorf("state after SIGTERM restart: %v", r)
	}
	cmd.Process.Signal(syscall.SIGINT)
	<-done

	// Fault flags.
	cmd, u, done = startChild(t, "", true, bin, "-fail-rate", "1", "-fail-codes", "429", "-latency", "1ms")
	defer func() { cmd.Process.Kill(); <-done }()
	r, _ := authorizeRaw(hc, u, 4, emulator.DefaultKeyID, emulator.DefaultKey)
	wantErr(t, "b2local -fail-rate 1 -fail-codes 429", r, 429, "too_many_requests")
	if r.Header.Get("Retry-After") == "" {
		t.Errorf("429 from b2local without Retry-After")
	}
	res, err := hc.Get(u + "/_b2local/health")
	if err != nil || res.StatusCode != 200 {
		t.Errorf("health under -fail-rate 1: %v %v", res, err)
	} else {
		res.Body.Close()
	}
}
