package emulator_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/b2plan/b2plan/emulator"
)

// TestDiskFullTmpfs runs b2local on a real, small file system (a 3 MiB
// tmpfs; needs root, skipped when mounting fails): it fills the disk, makes
// more changes on the full disk, is killed with SIGKILL and restarted on the
// full disk, then space returns. Every refused change must be a 503 (never
// 408 or 500), the directory must load after every kill, and every
// acknowledged version must download (raw HTTP) with the SHA-1 computed
// while seeding; acknowledged deletes stay deleted.
func TestDiskFullTmpfs(t *testing.T) {
	if testing.Short() {
		t.Skip("subprocess test")
	}
	mnt := mountTmpfs(t, "3m")
	dir := filepath.Join(mnt, "state")
	hc := &http.Client{Timeout: 20 * time.Second}

	acked := map[string]string{} // file id → SHA-1
	gone := map[string]bool{}
	var order []string
	refused := 0
	judge := func(what string, r resp) bool {
		switch r.Status {
		case 200:
			return true
		case 503:
			refused++
			return false
		}
		t.Fatalf("%s on a full disk: %v, want 200 or 503", what, r)
		return false
	}

	cmd, u, done := startChild(t, dir, false, "")
	kill := func() {
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
	}
	defer func() { kill() }()
	m := master(t, hc, u, 4)
	bid := m.bucket(bucketName("tmpfs"))
	up := m.getUploadURL(bid)
	for i := 0; i < 200 && refused < 5; i++ {
		data := make([]byte, 64<<10)
		rand.Read(data)
		r, err := rawUpload(hc, up, fmt.Sprintf("fill/%03d", i), data, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		if judge("upload", r) {
			acked[jstr(r.Body, "fileId")] = sha1hex(data)
			order = append(order, jstr(r.Body, "fileId"))
		}
	}
	if refused == 0 {
		t.Fatal("the disk never filled up")
	}
	t.Logf("disk full after %d uploads", len(order))
	// The S3 front on the full disk: PutObject is 503 or acknowledged.
	s3c := s3.New(s3.Options{Region: "us-west-000", BaseEndpoint: aws.String(u), UsePathStyle: true, HTTPClient: hc,
		Credentials: credentials.NewStaticCredentialsProvider(emulator.DefaultKeyID, emulator.DefaultKey, ""),
		Retryer:     aws.NopRetryer{}})
	bn := jstr(m.call("b2_list_buckets", map[string]any{"accountId": m.accountID, "bucketId": bid}), "buckets", "0", "bucketName")
	for i := 0; i < 5; i++ {
		data := make([]byte, 16<<10)
		rand.Read(data)
		out, err := s3c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bn), Key: aws.String(fmt.Sprintf("s3/%d", i)), Body: bytes.NewReader(data)})
		var re *awshttp.ResponseError
		switch {
		case err == nil:
			acked[aws.ToString(out.VersionId)] = sha1hex(data)
		case errors.As(err, &re) && re.HTTPStatusCode() == 503:
			refused++
		default:
			t.Fatalf("S3 PutObject on a full disk: %v, want success or HTTP 503", err)
		}
	}
	// More changes on the full disk: copies, hides and deletes either take
	// effect (200) or change nothing (503).
	for i, id := range order[:6] {
		if r := m.try("b2_copy_file", map[string]any{"sourceFileId": id, "fileName": fmt.Sprintf("copy/%d", i)}); judge("copy", r) {
			acked[jstr(r.Body, "fileId")] = acked[id]
		}
		if r := m.try("b2_delete_file_version", map[string]any{"fileName": fmt.Sprintf("fill/%03d", i), "fileId": id}); judge("delete", r) {
			gone[id] = true
		}
		m.try("b2_hide_file", map[string]any{"bucketId": bid, "fileName": fmt.Sprintf("fill/%03d", i+6)})
	}

	verify := func(round string) {
		t.Helper()
		m = master(t, hc, u, 4)
		for id, sum := range acked {
			r := m.byID(id)
			if gone[id] {
				if r.Status != 404 {
					t.Errorf("%s: acknowledged delete of %s undone: %d", round, id, r.Status)
				}
				continue
			}
			if r.Status != 200 || sha1hex(r.Raw) != sum {
				t.Errorf("%s: acknowledged version %s: status %d, SHA-1 %s, want %s", round, id, r.Status, sha1hex(r.Raw), sum)
			}
		}
	}
	kill()
	fillDisk(t, filepath.Join(mnt, "filler"))    // not one byte left
	cmd, u, done = startChild(t, dir, false, "") // loads on the full disk
	verify("restart on the full disk")

	// Space returns: b2local takes changes again without a restart.
	if out, err := exec.Command("mount", "-o", "remount,size=16m", mnt).CombinedOutput(); err != nil {
		t.Fatalf("remount: %v %s", err, out)
	}
	data := []byte("after the disk has room again")
	r := m.tryUpload(bid, "after", data, nil)
	if r.Status != 200 {
		t.Fatalf("upload after space returned: %v", r)
	}
	acked[jstr(r.Body, "fileId")] = sha1hex(data)
	s3c = s3.New(s3c.Options(), func(o *s3.Options) { o.BaseEndpoint = aws.String(u) })
	out, err := s3c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bn), Key: aws.String("s3/after"), Body: bytes.NewReader(data)})
	if err != nil {
		t.Fatalf("S3 PutObject after space returned: %v", err)
	}
	acked[aws.ToString(out.VersionId)] = sha1hex(data)
	for i, id := range order[6:9] {
		m.call("b2_delete_file_version", map[string]any{"fileName": fmt.Sprintf("fill/%03d", i+6), "fileId": id})
		gone[id] = true
	}
	kill()
	cmd, u, done = startChild(t, dir, false, "")
	verify("restart after space returned")
	b2sdkVerify(t, u, acked, gone)
}

// mountTmpfs mounts a tmpfs of size (mount's notation) on a fresh
// directory, unmounted at cleanup; the test is skipped when mounting fails
// (not root, no tmpfs).
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	mnt := filepath.Join(t.TempDir(), "fs")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs (needs root): %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", mnt).Run() })
	return mnt
}

// TestDiskFullTmpfsKillUnderLoad: sixteen clients upload, copy and delete
// concurrently on a 4 MiB tmpfs until well after it is full, and b2local is
// killed with SIGKILL in the middle of it, twice. After each restart every
// acknowledged version downloads with its SHA-1 and acknowledged deletes
// stay deleted; every refusal was a 503.
func TestDiskFullTmpfsKillUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("subprocess test")
	}
	dir := filepath.Join(mountTmpfs(t, "4m"), "state")
	hc := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	var mu sync.Mutex
	acked := map[string]string{}
	gone := map[string]bool{}
	var refused, bad atomic.Int64
	var bid string
	for round := 0; round < 2; round++ {
		cmd, u, done := startChild(t, dir, false, "")
		m := master(t, hc, u, 4)
		if round == 0 {
			bid = m.bucket(bucketName("tmpfskill"))
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := 0; w < 16; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				type named struct{ id, name string }
				var mine []named
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					data := make([]byte, 1+(w*7919+i*104729)%(48<<10))
					rand.Read(data)
					name := fmt.Sprintf("r%d/w%02d/%04d", round, w, i)
					var r resp
					var err error
					switch {
					case i%4 == 3 && len(mine) > 0:
						v := mine[0]
						r = m.tryNoFatal("b2_delete_file_version", map[string]any{"fileName": v.name, "fileId": v.id})
						if r.Status == 200 {
							mine = mine[1:]
							mu.Lock()
							gone[v.id] = true
							mu.Unlock()
							continue
						}
					case i%4 == 2 && len(mine) > 0:
						src := mine[len(mine)-1]
						r = m.tryNoFatal("b2_copy_file", map[string]any{"sourceFileId": src.id, "fileName": name})
						if r.Status == 200 {
							mu.Lock()
							acked[jstr(r.Body, "fileId")] = acked[src.id]
							mu.Unlock()
							continue
						}
					default:
						up := m.tryNoFatal("b2_get_upload_url", map[string]any{"bucketId": bid})
						if up.Status != 200 {
							r = up
							break
						}
						r, err = rawUpload(hc, uploadURL{jstr(up.Body, "uploadUrl"), jstr(up.Body, "authorizationToken")}, name, data, "", nil)
						if err != nil {
							return // killed
						}
						if r.Status == 200 {
							id := jstr(r.Body, "fileId")
							mine = append(mine, named{id, name})
							mu.Lock()
							acked[id] = sha1hex(data)
							mu.Unlock()
							continue
						}
					}
					switch r.Status {
					case 503:
						refused.Add(1)
					case -1, 0:
						return // killed
					default:
						if bad.Add(1) < 5 {
							t.Errorf("on a full disk: %v, want 200 or 503", r)
						}
					}
				}
			}(w)
		}
		// run until the disk has refused for a while, then kill mid-flight
		deadline := time.Now().Add(20 * time.Second)
		for refused.Load() < int64(50*(round+1)) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(time.Duration(50+round*100) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		close(stop)
		wg.Wait()
		<-done
		if refused.Load() == 0 {
			t.Fatal("the disk never filled up")
		}
		// restart on the full disk and check everything acknowledged so far
		cmd, u, done = startChild(t, dir, false, "")
		m = master(t, hc, u, 4)
		mu.Lock()
		lost := 0
		for id, sum := range acked {
			d := m.byID(id)
			switch {
			case gone[id] && d.Status != 404:
				t.Errorf("round %d: acknowledged delete of %s undone: %d", round, id, d.Status)
			case !gone[id] && (d.Status != 200 || sha1hex(d.Raw) != sum):
				if lost++; lost < 10 {
					t.Errorf("round %d: acknowledged version %s: status %d", round, id, d.Status)
				}
			}
		}
		t.Logf("round %d: %d acknowledged, %d deleted, %d refused with 503", round, len(acked), len(gone), refused.Load())
		mu.Unlock()
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
	}
}

// fillDisk writes path until the file system has no room left.
func fillDisk(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			return
		}
	}
}

// b2sdkVerify reads every acknowledged version with b2sdk (Backblaze's
// Python SDK), an reader independent of this repository; skipped when
// /usr/bin/python3 has no b2sdk.
func b2sdkVerify(t *testing.T, url string, acked map[string]string, gone map[string]bool) {
	t.Helper()
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import b2sdk.v2").Run(); err != nil {
		t.Logf("b2sdk check skipped: %s cannot import b2sdk.v2", py)
		return
	}
	var goneIDs []string
	for id := range gone {
		goneIDs = append(goneIDs, id)
	}
	in, _ := json.Marshal(map[string]any{"url": url, "keyId": emulator.DefaultKeyID, "key": emulator.DefaultKey,
		"acked": acked, "gone": goneIDs})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "testdata/b2sdk_verify.py")
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("b2sdk check: %v\n%s", err, out)
	}
	if want := fmt.Sprintf("checked %d\n", len(acked)); string(out) != want {
		t.Errorf("b2sdk check found problems:\n%s", out)
	}
}
