package emulator_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/b2plan/b2plan/emulator"
)

// Issue 13 §1: behaviours of real B2 and S3 that clients depend on, checked
// on the wire (raw responses, not Go's canonicalised view of them) and, when
// installed, through Backblaze's Python SDK and the aws CLI.

// rawRoundTrip writes req to a fresh connection and returns the response
// head lines exactly as sent, and the body.
func rawRoundTrip(t *testing.T, base string, req *http.Request) ([]string, []byte) {
	t.Helper()
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	req.Close = true
	if err := req.Write(c); err != nil {
		t.Fatal(err)
	}
	return readRawResponse(t, bufio.NewReader(c))
}

func readRawResponse(t *testing.T, r *bufio.Reader) ([]string, []byte) {
	t.Helper()
	var head []string
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading response head: %v (so far %q)", err, head)
		}
		l = strings.TrimRight(l, "\r\n")
		if l == "" {
			break
		}
		head = append(head, l)
	}
	body, _ := io.ReadAll(r)
	return head, body
}

func hasLine(head []string, line string) bool {
	for _, l := range head {
		if l == line {
			return true
		}
	}
	return false
}

var fileIDShape = regexp.MustCompile(`^4_z[0-9a-f]{24}_f1[0-9a-f]{15}_d\d{8}_m\d{6}_c\d{3}_v\d{7}_t\d{4}$`)

func TestFidelityNative(t *testing.T) {
	_, base, hc := startServer(t, emulator.Options{AbsoluteMinimumPartSize: 100})
	s := master(t, hc, base, 4)
	bn := bucketName("fid")
	bid := jstr(s.createBucket(bn, "allPrivate", map[string]any{"replicationConfiguration": map[string]any{}}), "bucketId")

	// File info names on download: x-bz-info-<key> exactly, lower-case.
	up := s.upload(bid, "dir/a.txt", []byte("hello"), map[string]string{"X-Bz-Info-Src_Last_Modified_Millis": "1600000000123"})
	fid := jstr(up, "fileId")
	if !fileIDShape.MatchString(fid) {
		t.Errorf("file id %q does not have B2's shape", fid)
	}
	req, _ := http.NewRequest("GET", s.downloadURL+"/file/"+bn+"/dir/a.txt", nil)
	req.Header.Set("Authorization", s.token)
	head, body := rawRoundTrip(t, base, req)
	if !hasLine(head, "x-bz-info-src_last_modified_millis: 1600000000123") || string(body) != "hello" {
		t.Errorf("download head %q", head)
	}
	if got := s.byID(fid); got.Header.Get("X-Bz-File-Id") != fid {
		t.Errorf("X-Bz-File-Id %q, want %q", got.Header.Get("X-Bz-File-Id"), fid)
	}

	// Hide markers carry "none", folder entries null, on every version.
	s.call("b2_hide_file", map[string]any{"bucketId": bid, "fileName": "dir/a.txt"})
	s.upload(bid, "dir/b.txt", []byte("b"), nil)
	for v := 1; v <= 4; v++ {
		sv := s.as(v)
		vs := sv.call("b2_list_file_versions", map[string]any{"bucketId": bid})
		folders := sv.call("b2_list_file_names", map[string]any{"bucketId": bid, "delimiter": "/"})
		for _, f := range append(jlist(vs, "files"), jlist(folders, "files")...) {
			m := f.(map[string]any)
			sha, present := m["contentSha1"]
			switch m["action"] {
			case "hide":
				if sha != "none" {
					t.Errorf("v%d hide marker contentSha1 %v", v, sha)
				}
			case "folder":
				if !present || sha != nil {
					t.Errorf("v%d folder contentSha1 %v (present %v)", v, sha, present)
				}
			}
		}
		if next := jstr(sv.call("b2_list_file_versions", map[string]any{"bucketId": bid, "maxFileCount": 1}), "nextFileId"); !fileIDShape.MatchString(next) {
			t.Errorf("v%d nextFileId %q", v, next)
		} else if r := sv.call("b2_list_file_versions", map[string]any{"bucketId": bid, "startFileName": "dir/a.txt", "startFileId": next, "maxFileCount": 1}); len(jlist(r, "files")) != 1 {
			t.Errorf("v%d page from nextFileId: %v", v, r)
		}
	}

	// Missing buckets in B2's words (blazer matches "Bucket.*does not exist").
	const ghost = "0123456789abcdef01234567"
	r := s.try("b2_get_upload_url", map[string]any{"bucketId": ghost})
	wantErr(t, "unknown bucket", r, 400, "bad_bucket_id")
	if msg := jstr(r.Body, "message"); msg != "Bucket "+ghost+" does not exist" {
		t.Errorf("bad_bucket_id message %q", msg)
	}

	// An empty replicationConfiguration (as reported) is accepted back.
	for _, rc := range []any{map[string]any{}, map[string]any{"asReplicationSource": nil, "asReplicationDestination": nil}} {
		if r := s.try("b2_update_bucket", map[string]any{"accountId": s.accountID, "bucketId": bid, "replicationConfiguration": rc}); r.Status != 200 {
			t.Errorf("update with replicationConfiguration %v: %v", rc, r)
		}
	}
	r = s.try("b2_update_bucket", map[string]any{"accountId": s.accountID, "bucketId": bid,
		"replicationConfiguration": map[string]any{"asReplicationSource": map[string]any{"replicationRules": []any{}}}})
	if r.Status != 400 {
		t.Errorf("a real replication configuration: %v", r)
	}

	// A one-part large file is refused at finish, two parts are fine.
	for _, n := range []int{1, 2} {
		lf := s.call("b2_start_large_file", map[string]any{"bucketId": bid, "fileName": fmt.Sprintf("large%d", n), "contentType": "b2/x-auto"})
		var shas []string
		for p := 1; p <= n; p++ {
			data := bytes.Repeat([]byte{byte('a' + p)}, 200)
			pu := s.call("b2_get_upload_part_url", map[string]any{"fileId": jstr(lf, "fileId")})
			preq, _ := http.NewRequest("POST", jstr(pu, "uploadUrl"), bytes.NewReader(data))
			preq.Header.Set("Authorization", jstr(pu, "authorizationToken"))
			preq.Header.Set("X-Bz-Part-Number", fmt.Sprint(p))
			preq.Header.Set("X-Bz-Content-Sha1", sha1hex(data))
			if pr, _ := doReq(hc, preq); pr.Status != 200 {
				t.Fatalf("upload part %d: %v", p, pr)
			}
			shas = append(shas, sha1hex(data))
		}
		r := s.try("b2_finish_large_file", map[string]any{"fileId": jstr(lf, "fileId"), "partSha1Array": shas})
		if n == 1 {
			wantErr(t, "one-part large file", r, 400, "bad_request")
		} else if r.Status != 200 {
			t.Errorf("two-part large file: %v", r)
		}
	}

	// File info values may hold line breaks, except b2-* (replayed as headers).
	if r := s.tryUpload(bid, "nl.txt", []byte("x"), map[string]string{"X-Bz-Info-Note": "a%0Ab%0D%0Ac"}); r.Status != 200 {
		t.Errorf("info with newline: %v", r)
	} else if got := jstr(r.Body, "fileInfo", "note"); got != "a\nb\r\nc" {
		t.Errorf("info with newline stored as %q", got)
	}
	if r := s.try("b2_start_large_file", map[string]any{"bucketId": bid, "fileName": "nl2", "contentType": "b2/x-auto", "fileInfo": map[string]string{"note": "1\n2"}}); r.Status != 200 {
		t.Errorf("start_large_file info with newline: %v", r)
	}
	wantErr(t, "b2-cache-control with newline", s.tryUpload(bid, "nl3.txt", []byte("x"), map[string]string{"X-Bz-Info-B2-Cache-Control": "max-age=1%0AX-Evil: 1"}), 400, "bad_request")

	// Object Lock on a bucket without it.
	const noLock = "bucket_missing_file_lock"
	wantErr(t, "legal hold", s.try("b2_update_file_legal_hold", map[string]any{"fileName": "dir/b.txt", "fileId": s.allVersions(bid, "dir/b.txt", 10)[0].ID, "legalHold": "on"}), 400, noLock)
	wantErr(t, "retention", s.try("b2_update_file_retention", map[string]any{"fileName": "nl.txt", "fileId": s.allVersions(bid, "nl.txt", 10)[0].ID,
		"fileRetention": map[string]any{"mode": "governance", "retainUntilTimestamp": time.Now().Add(time.Hour).UnixMilli()}}), 400, noLock)
	wantErr(t, "upload with legal hold", s.tryUpload(bid, "held.txt", []byte("x"), map[string]string{"X-Bz-File-Legal-Hold": "on"}), 400, noLock)
	wantErr(t, "default retention", s.try("b2_update_bucket", map[string]any{"accountId": s.accountID, "bucketId": bid,
		"defaultRetention": map[string]any{"mode": "governance", "period": map[string]any{"duration": 1, "unit": "days"}}}), 400, noLock)

	// do_not_verify: "unverified:" + the SHA-1 everywhere it is reported.
	data := []byte("not verified")
	want := "unverified:" + sha1hex(data)
	nv, _ := rawUpload(hc, s.getUploadURL(bid), "nv.txt", data, "do_not_verify", nil)
	if jstr(nv.Body, "contentSha1") != want {
		t.Errorf("do_not_verify upload reply contentSha1 %q", jstr(nv.Body, "contentSha1"))
	}
	if got := jstr(s.call("b2_get_file_info", map[string]any{"fileId": jstr(nv.Body, "fileId")}), "contentSha1"); got != want {
		t.Errorf("get_file_info contentSha1 %q", got)
	}
	if l := jlist(s.call("b2_list_file_names", map[string]any{"bucketId": bid, "startFileName": "nv.txt", "maxFileCount": 1}), "files"); len(l) != 1 || jstr(l[0], "contentSha1") != want {
		t.Errorf("listed do_not_verify file: %v", l)
	}
	if d := s.byName(bn, "nv.txt"); d.Header.Get("X-Bz-Content-Sha1") != want {
		t.Errorf("download X-Bz-Content-Sha1 %q", d.Header.Get("X-Bz-Content-Sha1"))
	}
}

// signV4Manual signs req (headers given in signed, lower-case, sorted) by
// hand, for headers the AWS SDK's signer refuses to sign.
func signV4Manual(req *http.Request, signed []string, values map[string]string, payload string) {
	now := time.Now().UTC()
	amzDate, day := now.Format("20060102T150405Z"), now.Format("20060102")
	req.Header.Set("X-Amz-Date", amzDate)
	req.Header.Set("X-Amz-Content-Sha256", payload)
	values["x-amz-date"], values["x-amz-content-sha256"] = amzDate, payload
	var cr strings.Builder
	fmt.Fprintf(&cr, "%s\n%s\n%s\n", req.Method, req.URL.EscapedPath(), req.URL.RawQuery)
	for _, h := range signed {
		fmt.Fprintf(&cr, "%s:%s\n", h, values[h])
	}
	fmt.Fprintf(&cr, "\n%s\n%s", strings.Join(signed, ";"), payload)
	scope := day + "/us-west-000/s3/aws4_request"
	sum := sha256.Sum256([]byte(cr.String()))
	sts := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
	mac := func(k []byte, s string) []byte { h := hmac.New(sha256.New, k); h.Write([]byte(s)); return h.Sum(nil) }
	k := mac([]byte("AWS4"+emulator.DefaultKey), day)
	for _, p := range []string{"us-west-000", "s3", "aws4_request"} {
		k = mac(k, p)
	}
	req.Header.Set("Authorization", fmt.Sprintf("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
		emulator.DefaultKeyID, scope, strings.Join(signed, ";"), hex.EncodeToString(mac(k, sts))))
}

func TestFidelityS3(t *testing.T) {
	srv, base, hc := startServer(t, emulator.Options{})
	c := s3Master(srv, hc)
	bucket := s3Bucket(t, c)
	u := srv.S3URL() + "/" + bucket

	// x-amz-meta-* names as sent by S3 (lower-case), Content-Encoding as sent.
	res, _ := rawS3(t, hc, "PUT", u+"/m.txt", []byte("meta"), "", emulator.DefaultKeyID, emulator.DefaultKey, time.Time{},
		map[string]string{"X-Amz-Meta-Color": "red", "Content-Encoding": "deflate, gzip"})
	if res.StatusCode != 200 {
		t.Fatalf("put: %d", res.StatusCode)
	}
	for _, m := range []string{"GET", "HEAD"} {
		req, _ := http.NewRequest(m, u+"/m.txt", nil)
		signRaw(t, req, nil)
		head, _ := rawRoundTrip(t, base, req)
		if !hasLine(head, "x-amz-meta-color: red") || !hasLine(head, "Content-Encoding: deflate, gzip") {
			t.Errorf("%s head %q", m, head)
		}
	}

	// An empty continuation token starts from the beginning.
	res, b := rawS3(t, hc, "GET", u+"?list-type=2&continuation-token=", nil, "", emulator.DefaultKeyID, emulator.DefaultKey, time.Time{}, nil)
	if res.StatusCode != 200 || !bytes.Contains(b, []byte("<Key>m.txt</Key>")) {
		t.Errorf("empty continuation token: %d %s", res.StatusCode, b)
	}

	// An empty Content-MD5 is refused.
	req, _ := http.NewRequest("PUT", u+"/md5.txt", bytes.NewReader([]byte("x")))
	req.Header["Content-Md5"] = []string{""}
	signRaw(t, req, []byte("x"))
	head, body := rawRoundTrip(t, base, req)
	if !strings.Contains(head[0], " 400 ") || !bytes.Contains(body, []byte("InvalidDigest")) {
		t.Errorf("empty Content-MD5: %q %s", head, body)
	}

	// A request that signs transfer-encoding verifies.
	req, _ = http.NewRequest("GET", u+"?list-type=2", strings.NewReader(""))
	req.ContentLength = -1
	req.TransferEncoding = []string{"chunked"}
	host := strings.TrimPrefix(srv.S3URL(), "http://")
	signV4Manual(req, []string{"host", "transfer-encoding", "x-amz-content-sha256", "x-amz-date"},
		map[string]string{"host": host, "transfer-encoding": "chunked"}, "UNSIGNED-PAYLOAD")
	head, body = rawRoundTrip(t, base, req)
	if !strings.Contains(head[0], " 200 ") {
		t.Errorf("signed transfer-encoding: %q %s", head, body)
	}

	// An anonymous PUT is refused without a 100 Continue first.
	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "PUT /%s/anon.txt HTTP/1.1\r\nHost: %s\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n", bucket, host)
	status, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.Contains(status, " 403 ") {
		t.Errorf("anonymous PUT answered %q first (%v)", status, err)
	}
}

func TestFidelityB2SDK(t *testing.T) {
	py := "/usr/bin/python3"
	if testing.Short() {
		t.Skip("interop skipped in -short mode")
	}
	if err := exec.Command(py, "-c", "import b2sdk.v2").Run(); err != nil {
		t.Skip("b2sdk not importable by /usr/bin/python3")
	}
	_, base, _ := startServer(t, emulator.Options{AbsoluteMinimumPartSize: 100})
	in, _ := json.Marshal(map[string]string{"url": base, "keyId": emulator.DefaultKeyID, "key": emulator.DefaultKey, "bucket": bucketName("sdk")})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "testdata/b2sdk_fidelity.py")
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("b2sdk_fidelity.py: %v\n%s", err, out)
	}
	oks := 0
	for _, l := range lines(string(out)) {
		switch {
		case strings.HasPrefix(l, "OK "):
			oks++
		case strings.HasPrefix(l, "FAIL "):
			t.Error(l)
		}
	}
	if oks < 10 {
		t.Errorf("only %d checks passed:\n%s", oks, out)
	}
}

func TestFidelityAWSCLI(t *testing.T) {
	aws, err := exec.LookPath("aws")
	if err != nil || testing.Short() {
		t.Skip("aws CLI not on PATH or -short")
	}
	srv, _, _ := startServer(t, emulator.Options{})
	env := append(baseEnv(), "AWS_ACCESS_KEY_ID="+emulator.DefaultKeyID, "AWS_SECRET_ACCESS_KEY="+emulator.DefaultKey,
		"AWS_DEFAULT_REGION=us-west-000", "AWS_CONFIG_FILE="+filepath.Join(t.TempDir(), "none"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(t.TempDir(), "none"))
	run := func(args ...string) (string, error) {
		return runTool(t, env, aws, append([]string{"--endpoint-url", srv.S3URL()}, args...)...)
	}
	bucket := bucketName("awsfid")
	if _, err := run("s3api", "create-bucket", "--bucket", bucket); err != nil {
		t.Skip("aws CLI cannot create a bucket")
	}
	f := filepath.Join(t.TempDir(), "body")
	if err := os.WriteFile(f, []byte("meta"), 0o644); err != nil {
		t.Fatal(err)
	}
	run("s3api", "put-object", "--bucket", bucket, "--key", "m.txt", "--body", f, "--metadata", "color=red", "--content-encoding", "deflate, gzip")
	out, _ := run("s3api", "head-object", "--bucket", bucket, "--key", "m.txt")
	var h struct {
		Metadata        map[string]string
		ContentEncoding string
	}
	if err := json.Unmarshal([]byte(out), &h); err != nil || h.Metadata["color"] != "red" || h.ContentEncoding != "deflate, gzip" {
		t.Errorf("aws s3api head-object: %v\n%s", err, out)
	}
}
