package emulator

import (
	"bufio"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestPersistReopen(t *testing.T) {
	dir := t.TempDir()
	s, c := newWB(t, Options{Dir: dir})
	bid := c.bucket("persist-bkt", "allPrivate")
	id1 := c.upload(bid, "a", []byte("v1"))
	c.upload(bid, "a", []byte("v2"))
	cp := c.call("b2_copy_file", map[string]any{"sourceFileId": id1, "fileName": "b"})
	c.call("b2_hide_file", map[string]any{"bucketId": bid, "fileName": "a"})
	k := c.call("b2_create_key", map[string]any{"accountId": c.acct, "keyName": "kept", "capabilities": []string{"listFiles"}})
	lf := c.call("b2_start_large_file", map[string]any{"bucketId": bid, "fileName": "large", "contentType": "text/plain"})
	gone := c.upload(bid, "gone", []byte("gone"))
	c.call("b2_delete_file_version", map[string]any{"fileName": "gone", "fileId": gone})
	before := c.call("b2_list_file_versions", map[string]any{"bucketId": bid})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// a second server on the same dir while the first is open fails clearly
	s2, c2 := newWB(t, Options{Dir: dir})
	if _, err := NewServer(Options{Dir: dir}); err == nil || !strings.Contains(err.Error(), "is in use") {
		t.Errorf("second open: %v", err)
	}
	after := c2.call("b2_list_file_versions", map[string]any{"bucketId": bid})
	if fmt.Sprint(before["files"]) != fmt.Sprint(after["files"]) {
		t.Errorf("versions differ after reopen:\n%v\n%v", before["files"], after["files"])
	}
	if st, _, b := c2.download("/b2api/v4/b2_download_file_by_id?fileId=" + cp["fileId"].(string)); st != 200 || string(b) != "v1" {
		t.Errorf("copy content after reopen: %d %q", st, b)
	}
	if st, _ := c2.try("b2_get_upload_part_url", map[string]any{"fileId": lf["fileId"]}); st != 200 {
		t.Errorf("unfinished large file lost")
	}
	ks := c2.call("b2_list_keys", map[string]any{"accountId": c2.acct})
	if len(ks["keys"].([]any)) != 1 || ks["keys"].([]any)[0].(map[string]any)["applicationKeyId"] != k["applicationKeyId"] {
		t.Errorf("keys after reopen: %v", ks)
	}
	// new ids do not collide with old ones
	id3 := c2.upload(bid, "new", []byte("n"))
	if id3 == id1 || id3 == gone {
		t.Errorf("file id reused: %s", id3)
	}
	s2.Close()
	ents, _ := os.ReadDir(filepath.Join(dir, "blobs"))
	// v1 (shared with the copy), v2, new — "gone" was removed
	if len(ents) != 3 {
		t.Errorf("%d content files, want 3", len(ents))
	}
}

const crashEnv = "B2LOCAL_CRASH_CHILD_DIR"

// TestCrashChild is the subprocess of TestPersistCrash: it writes in a loop
// and reports every acknowledged write on stdout until it is killed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		t.Skip("subprocess of TestPersistCrash")
	}
	s, err := NewServer(Options{Dir: dir})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	c := login(t, s, 4, DefaultKeyID, DefaultKey)
	bid := c.bucket(fmt.Sprintf("crash-%d", os.Getpid()), "allPrivate")
	fmt.Printf("BUCKET %s\n", bid)
	for i := 0; ; i++ {
		data := []byte(strings.Repeat(fmt.Sprintf("content-%d;", i), 1+i%50))
		name := fmt.Sprintf("f/%06d", i)
		id := c.upload(bid, name, data)
		sum := sha1.Sum(data)
		fmt.Printf("ACK upload %s %s %s\n", name, id, hex.EncodeToString(sum[:]))
		if i%3 == 0 {
			cp := c.call("b2_copy_file", map[string]any{"sourceFileId": id, "fileName": name + ".copy"})
			fmt.Printf("ACK upload %s %s %s\n", name+".copy", cp["fileId"], hex.EncodeToString(sum[:]))
		}
		if i%5 == 4 {
			fmt.Printf("BEGIN delete %s %s\n", name, id)
			c.call("b2_delete_file_version", map[string]any{"fileName": name, "fileId": id})
			fmt.Printf("ACK delete %s %s\n", name, id)
		}
	}
}

func TestPersistCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("subprocess test")
	}
	dir := t.TempDir()
	for round := 0; round < 2; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		type ack struct{ id, sha string }
		uploads := map[string]ack{}
		deleted := map[string]bool{}
		deleting := map[string]bool{}
		sc := bufio.NewScanner(out)
		n := 0
		for n < 300 && sc.Scan() { // n first: a line scanned and then dropped could be a BEGIN delete
			f := strings.Fields(sc.Text())
			if len(f) >= 4 && f[0] == "ACK" && f[1] == "upload" {
				uploads[f[3]] = ack{f[3], f[4]}
				n++
			} else if len(f) == 4 && f[0] == "ACK" && f[1] == "delete" {
				deleted[f[3]] = true
			} else if len(f) == 4 && f[0] == "BEGIN" {
				deleting[f[3]] = true
			}
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		// what the child printed before it died still counts
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) == 4 && f[0] == "ACK" && f[1] == "delete" {
				deleted[f[3]] = true
			} else if len(f) == 4 && f[0] == "BEGIN" {
				deleting[f[3]] = true
			}
		}
		_ = cmd.Wait()
		if n < 300 {
			t.Fatalf("child stopped after %d acknowledged writes", n)
		}
		s, err := NewServer(Options{Dir: dir})
		if err != nil {
			t.Fatalf("reopen after kill: %v", err)
		}
		c := login(t, s, 4, DefaultKeyID, DefaultKey)
		for id, a := range uploads {
			st, h, body := c.download("/b2api/v4/b2_download_file_by_id?fileId=" + id)
			if deleted[id] {
				if st != 404 {
					t.Errorf("acknowledged delete of %s undone: %d", id, st)
				}
				continue
			}
			if deleting[id] && st == 404 {
				continue // delete in flight at the kill: either outcome is fine
			}
			sum := sha1.Sum(body)
			if st != 200 || hex.EncodeToString(sum[:]) != a.sha || h.Get("X-Bz-Content-Sha1") != a.sha {
				t.Errorf("acknowledged upload %s: status %d, content sha %x, want %s", id, st, sum, a.sha)
			}
		}
		// nothing torn: every listed version is readable and matches its SHA-1
		bs := c.call("b2_list_buckets", map[string]any{"accountId": c.acct})
		for _, b := range bs["buckets"].([]any) {
			bid := b.(map[string]any)["bucketId"].(string)
			start, sid := "", ""
			for {
				req := map[string]any{"bucketId": bid, "maxFileCount": 10000}
				if start != "" {
					req["startFileName"], req["startFileId"] = start, sid
				}
				l := c.call("b2_list_file_versions", req)
				for _, f := range l["files"].([]any) {
					fm := f.(map[string]any)
					st, _, body := c.download("/b2api/v4/b2_download_file_by_id?fileId=" + fm["fileId"].(string))
					sum := sha1.Sum(body)
					if st != 200 || hex.EncodeToString(sum[:]) != fm["contentSha1"] {
						t.Errorf("torn version %v: %d", fm["fileName"], st)
					}
				}
				if l["nextFileName"] == nil {
					break
				}
				start, sid = l["nextFileName"].(string), l["nextFileId"].(string)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		tmps, _ := os.ReadDir(filepath.Join(dir, "tmp"))
		if len(tmps) != 0 {
			t.Errorf("temp files left after reopen: %d", len(tmps))
		}
	}
}

// TestPersistedSecretsAreSealed: no file of the state directory holds an
// application key's secret in clear, and the key still authorizes after a
// restart.
func TestPersistedSecretsAreSealed(t *testing.T) {
	dir := t.TempDir()
	s, c := newWB(t, Options{Dir: dir})
	k := c.call("b2_create_key", map[string]any{"accountId": c.acct, "keyName": "sealed", "capabilities": []string{"listBuckets"}})
	id, secret := k["applicationKeyId"].(string), k["applicationKey"].(string)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.Contains(string(b), secret) {
			t.Errorf("%s holds the key's secret in clear", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "secrets.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("secrets.key: %v %v", fi, err)
	}
	s2, _ := newWB(t, Options{Dir: dir})
	login(t, s2, 4, id, secret) // fails the test if the key no longer authorizes
}
