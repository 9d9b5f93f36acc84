package command

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/b2plan/b2plan/emulator"
)

// rawB2 is an independent reader of the emulator: plain HTTP and JSON, not
// b2client's decoders.
type rawB2 struct {
	t                   *testing.T
	hc                  *http.Client
	token, api, dl, bid string
}

func newRawB2(t *testing.T, url, bucket string) *rawB2 {
	r := &rawB2{t: t, hc: &http.Client{Timeout: 30 * time.Second}}
	req, _ := http.NewRequest("GET", url+"/b2api/v4/b2_authorize_account", nil)
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(emulator.DefaultKeyID+":"+emulator.DefaultKey)))
	var a struct {
		Token   string `json:"authorizationToken"`
		APIInfo struct {
			Storage struct {
				APIURL      string `json:"apiUrl"`
				DownloadURL string `json:"downloadUrl"`
			} `json:"storageApi"`
		} `json:"apiInfo"`
	}
	r.do(req, &a)
	r.token, r.api, r.dl = a.Token, a.APIInfo.Storage.APIURL, a.APIInfo.Storage.DownloadURL
	var bs struct {
		Buckets []struct {
			ID   string `json:"bucketId"`
			Name string `json:"bucketName"`
		} `json:"buckets"`
	}
	r.call("b2_list_buckets", map[string]any{"accountId": emulator.DefaultAccountID, "bucketName": bucket}, &bs)
	if len(bs.Buckets) != 1 {
		t.Fatalf("bucket %s: %+v", bucket, bs)
	}
	r.bid = bs.Buckets[0].ID
	return r
}

func (r *rawB2) do(req *http.Request, out any) {
	r.t.Helper()
	resp, err := r.hc.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		r.t.Fatalf("%s: %d %s", req.URL.Path, resp.StatusCode, data)
	}
	if err := json.Unmarshal(data, out); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rawB2) call(api string, body, out any) {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", r.api+"/b2api/v4/"+api, strings.NewReader(string(b)))
	req.Header.Set("Authorization", r.token)
	r.do(req, out)
}

// history lists every version of the bucket: name → "action:sha1" newest
// first (unfinished large files left out).
func (r *rawB2) history() map[string][]string {
	out := map[string][]string{}
	body := map[string]any{"bucketId": r.bid, "maxFileCount": 10000}
	for {
		var resp struct {
			Files []struct {
				ID     string `json:"fileId"`
				Name   string `json:"fileName"`
				Action string `json:"action"`
				SHA1   string `json:"contentSha1"`
			} `json:"files"`
			NextName *string `json:"nextFileName"`
			NextID   *string `json:"nextFileId"`
		}
		r.call("b2_list_file_versions", body, &resp)
		for _, f := range resp.Files {
			switch f.Action {
			case "upload", "copy":
				if f.SHA1 == "none" || f.SHA1 == "" {
					f.SHA1 = r.downloadSHA1(f.ID) // a large file without SHA-1
				}
				out[f.Name] = append(out[f.Name], "upload:"+f.SHA1)
			case "hide":
				out[f.Name] = append(out[f.Name], "hide:")
			}
		}
		if resp.NextName == nil {
			return out
		}
		body["startFileName"], body["startFileId"] = *resp.NextName, *resp.NextID
	}
}

// crashRunHidden kills "b2plan apply" of a versions = "all" move whose
// names include hidden ones (upload, upload, hide) and middle-of-history
// hides (upload, hide, upload). After every kill, raw listings check that
// nothing is lost and that a name hidden at the source is visible at the
// destination only while its history is being copied (at most the names
// in flight: B2 cannot put a version below a hide marker). After the final
// run every history is exact at the destination, the source is empty (no
// orphan hide marker) and the plan is empty.
func crashRunHidden(t *testing.T, kills int) {
	// Small part sizes and copy limit: the large files without SHA-1
	// below (8,000 bytes) take the large-copy path (b2_copy_file refuses
	// them as too large), the one a kill can interrupt half-way.
	_, url, m, b := seededEmulator(t, emulator.Options{Latency: 2 * time.Millisecond,
		AbsoluteMinimumPartSize: 1000, RecommendedPartSize: 3000, MaxCopySize: 5000}, "crash-data")
	ctx := context.Background()
	raw := newRawB2(t, url, "crash-data")
	n := max(1200, kills*100)
	sum := func(s string) string { h := sha1.Sum([]byte(s)); return hex.EncodeToString(h[:]) }
	var mu sync.Mutex
	want := map[string][]string{} // destination name → history, newest first
	hidden := map[string]bool{}   // destination names whose history ends hidden
	work := make(chan int)
	errc := make(chan error, 32)
	for w := 0; w < 32; w++ {
		go func() {
			for i := range work {
				name := fmt.Sprintf("in/d%02d/f%04d", i%20, i)
				var hist []string // oldest first; "-" = hide
				switch {
				case i%5 == 0:
					hist = []string{"a", "b", "-"}
				case i%7 == 0:
					hist = []string{"a", "-", "b"}
				case i%11 == 0:
					hist = []string{"a", "-", "b", "-"}
				case i%13 == 0:
					hist = []string{"L"} // a large file without SHA-1
				case i%17 == 0:
					hist = []string{"a", "L", "-"} // …in a hidden history
				default:
					hist = []string{"a", "b"}[:1+i%2]
				}
				var got []string
				for _, x := range hist {
					if x == "-" {
						if _, err := m.HideFile(ctx, b.ID, name); err != nil {
							errc <- err
							return
						}
						got = append([]string{"hide:"}, got...)
						continue
					}
					d := fmt.Sprintf("%s %s", name, x)
					if x == "L" {
						big := []byte(strings.Repeat(d+";", 8000/(len(d)+1)+1)[:8000])
						raw.largeNoSHA1(name, big)
						got = append([]string{"upload:" + sum(string(big))}, got...)
						continue
					}
					if _, err := m.Upload(ctx, "crash-data", name, "text/plain", []byte(d), nil); err != nil {
						errc <- err
						return
					}
					got = append([]string{"upload:" + sum(d)}, got...)
				}
				errc <- nil
				dst := "out/" + name[3:]
				mu.Lock()
				want[dst] = got
				hidden[dst] = hist[len(hist)-1] == "-"
				mu.Unlock()
			}
		}()
	}
	go func() {
		for i := 0; i < n; i++ {
			work <- i
		}
		close(work)
	}()
	for i := 0; i < n; i++ {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	// The source's hide markers must be clearly older than any copy
	// (planner.hideCarried, one second of slack). The emulator stamps a
	// bucket's versions strictly increasing, so a fast seeding runs ahead
	// of the clock: wait until the clock passes the newest stamp by 1.1 s.
	time.Sleep(time.Until(time.UnixMilli(raw.newestStamp()).Add(1100 * time.Millisecond)))

	dir := t.TempDir()
	cfg := fmt.Sprintf("provider \"b2\" {\n  endpoint = %q\n}\n\nmove \"reorg\" {\n  bucket = \"crash-data\"\n  from = \"in/\"\n  to = \"out/\"\n  versions = \"all\"\n}\n", url)
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	const par = 8
	cmdOf := func(args ...string) *exec.Cmd {
		cmd := exec.Command(exe, args...)
		cmd.Env = append(os.Environ(), runMainEnv+"=1", "B2_APPLICATION_KEY_ID="+emulator.DefaultKeyID,
			"B2_APPLICATION_KEY="+emulator.DefaultKey, "B2_ENDPOINT=")
		return cmd
	}
	apply := func() *exec.Cmd { return cmdOf("apply", "-auto-approve", fmt.Sprintf("-parallelism=%d", par), dir) }
	maxWindow := 0
	check := func(final bool) (moved int) {
		t.Helper()
		h := raw.history()
		window := 0
		for dst, w := range want {
			src := "in/" + dst[4:]
			sh, dh := h[src], h[dst]
			// Nothing lost: every upload of the history is at the source or
			// at the destination.
			for _, v := range w {
				if v != "hide:" && !contains(sh, v) && !contains(dh, v) {
					t.Fatalf("%s: version %s is lost (source %v, destination %v)", src, v, sh, dh)
				}
			}
			if hidden[dst] && len(dh) > 0 && dh[0] != "hide:" {
				window++
			}
			if final {
				if len(sh) != 0 {
					t.Errorf("%s is still at the source: %v", src, sh)
				}
				if strings.Join(dh, " ") != strings.Join(w, " ") {
					t.Errorf("%s history %v, want %v", dst, dh, w)
				}
			}
			if len(dh) == len(w) {
				moved++
			}
		}
		maxWindow = max(maxWindow, window)
		if window > 2*par {
			t.Errorf("%d names hidden at the source are visible at the destination; at most the %d in flight may be", window, 2*par)
		}
		if final && window != 0 {
			t.Errorf("%d hidden names are visible at the destination after completion", window)
		}
		return moved
	}
	killRepeatedly(t, kills, 7, 60*time.Millisecond, 240*time.Millisecond, apply,
		func() string { return fmt.Sprintf("%d of %d histories complete at the destination", check(false), n) })
	if out, err := apply().CombinedOutput(); err != nil {
		t.Fatalf("final apply: %v\n%s", err, out)
	}
	check(true)
	t.Logf("at most %d hidden names were visible at the destination after a kill (names in flight)", maxWindow)
	if out, err := cmdOf("plan", "-detailed-exitcode", dir).CombinedOutput(); err != nil {
		t.Errorf("plan after convergence is not empty: %v\n%s", err, out)
	}
}

// downloadSHA1 downloads a version and hashes its bytes.
func (r *rawB2) downloadSHA1(fileID string) string {
	r.t.Helper()
	req, _ := http.NewRequest("GET", r.dl+"/b2api/v4/b2_download_file_by_id?fileId="+fileID, nil)
	req.Header.Set("Authorization", r.token)
	resp, err := r.hc.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	h := sha1.New()
	if _, err := io.Copy(h, resp.Body); err != nil || resp.StatusCode != 200 {
		r.t.Fatalf("download %s: %d %v", fileID, resp.StatusCode, err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// largeNoSHA1 uploads data as a two-part large file without
// large_file_sha1 (contentSha1 "none"), as S3 multipart uploads are.
func (r *rawB2) largeNoSHA1(name string, data []byte) {
	r.t.Helper()
	var st struct {
		ID string `json:"fileId"`
	}
	r.call("b2_start_large_file", map[string]any{"bucketId": r.bid, "fileName": name, "contentType": "application/octet-stream"}, &st)
	var up struct {
		URL   string `json:"uploadUrl"`
		Token string `json:"authorizationToken"`
	}
	r.call("b2_get_upload_part_url", map[string]any{"fileId": st.ID}, &up)
	var shas []string
	for i, p := range [][]byte{data[:len(data)/2], data[len(data)/2:]} {
		h := sha1.Sum(p)
		shas = append(shas, hex.EncodeToString(h[:]))
		req, _ := http.NewRequest("POST", up.URL, strings.NewReader(string(p)))
		req.Header.Set("Authorization", up.Token)
		req.Header.Set("X-Bz-Part-Number", fmt.Sprint(i+1))
		req.Header.Set("X-Bz-Content-Sha1", shas[i])
		req.ContentLength = int64(len(p))
		var out map[string]any
		r.do(req, &out)
	}
	var out map[string]any
	r.call("b2_finish_large_file", map[string]any{"fileId": st.ID, "partSha1Array": shas}, &out)
}

// newestStamp returns the newest upload timestamp in the bucket.
func (r *rawB2) newestStamp() int64 {
	var newest int64
	body := map[string]any{"bucketId": r.bid, "maxFileCount": 10000}
	for {
		var resp struct {
			Files []struct {
				TS int64 `json:"uploadTimestamp"`
			} `json:"files"`
			NextName *string `json:"nextFileName"`
			NextID   *string `json:"nextFileId"`
		}
		r.call("b2_list_file_versions", body, &resp)
		for _, f := range resp.Files {
			newest = max(newest, f.TS)
		}
		if resp.NextName == nil {
			return newest
		}
		body["startFileName"], body["startFileId"] = *resp.NextName, *resp.NextID
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
