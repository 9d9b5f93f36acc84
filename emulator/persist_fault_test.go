package emulator

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Disk faults, injected deterministically through persister.fault: every
// change refused for want of space answers 503, leaves memory and disk as
// they were, and b2local recovers by itself when writes succeed again.
// Verified by raw listings and downloads against SHA-1s computed while
// seeding, live and after a restart.

var errNoSpace = errors.New("no space left on device (injected)")

// setDiskFault makes the given stages ("commit", "blob") fail; none clears.
func setDiskFault(s *Server, stages ...string) {
	if len(stages) == 0 {
		s.st.p.fault.Store(nil)
		return
	}
	f := func(stage string) error {
		for _, st := range stages {
			if st == stage {
				return errNoSpace
			}
		}
		return nil
	}
	s.st.p.fault.Store(&f)
}

func sha1Hex(b []byte) string {
	s := sha1.Sum(b)
	return hex.EncodeToString(s[:])
}

// versionsOf is the raw b2_list_file_versions listing of a bucket.
func (c *wb) versionsOf(bid string) []map[string]any {
	c.t.Helper()
	var out []map[string]any
	req := map[string]any{"bucketId": bid, "maxFileCount": 10000}
	for {
		l := c.call("b2_list_file_versions", req)
		for _, f := range l["files"].([]any) {
			out = append(out, f.(map[string]any))
		}
		if l["nextFileName"] == nil {
			return out
		}
		req["startFileName"], req["startFileId"] = l["nextFileName"], l["nextFileId"]
	}
}

// stateOf is everything a client can list: buckets, keys, versions.
func (c *wb) stateOf() string {
	c.t.Helper()
	var buf bytes.Buffer
	bs := c.call("b2_list_buckets", map[string]any{"accountId": c.acct})
	for _, b := range bs["buckets"].([]any) {
		bm := b.(map[string]any)
		fmt.Fprintf(&buf, "bucket %v %v %v rev %v\n", bm["bucketName"], bm["bucketId"], bm["bucketType"], bm["revision"])
		for _, f := range c.versionsOf(bm["bucketId"].(string)) {
			fmt.Fprintf(&buf, "  %v %v %v %v %v\n", f["fileName"], f["fileId"], f["action"], f["contentSha1"], f["contentLength"])
		}
	}
	ks := c.call("b2_list_keys", map[string]any{"accountId": c.acct})
	for _, k := range ks["keys"].([]any) {
		fmt.Fprintf(&buf, "key %v\n", k.(map[string]any)["applicationKeyId"])
	}
	return buf.String()
}

func (c *wb) uploadPart(fileID string, n int, data []byte) (int, map[string]any) {
	c.t.Helper()
	u := c.call("b2_get_upload_part_url", map[string]any{"fileId": fileID})
	req, _ := http.NewRequest("POST", u["uploadUrl"].(string), bytes.NewReader(data))
	req.Header.Set("Authorization", u["authorizationToken"].(string))
	req.Header.Set("X-Bz-Part-Number", fmt.Sprint(n))
	req.Header.Set("X-Bz-Content-Sha1", sha1Hex(data))
	return c.do(req)
}

func countFiles(t *testing.T, dir string) int {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// checkVersions downloads every acknowledged version by id (raw HTTP) and
// compares its SHA-1 with the one computed while seeding; gone must 404.
func checkVersions(t *testing.T, c *wb, acked map[string]string, gone map[string]bool) {
	t.Helper()
	for id, sum := range acked {
		st, _, body := c.download("/b2api/v4/b2_download_file_by_id?fileId=" + id)
		if gone[id] {
			if st != 404 {
				t.Errorf("deleted version %s: status %d, want 404", id, st)
			}
			continue
		}
		if st != 200 || sha1Hex(body) != sum {
			t.Errorf("acknowledged version %s: status %d, SHA-1 %s, want %s", id, st, sha1Hex(body), sum)
		}
	}
}

// storageLog collects b2local's storage log lines (request lines are
// dropped).
type storageLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *storageLog) logf(format string, args ...any) {
	if msg := fmt.Sprintf(format, args...); strings.HasPrefix(msg, "b2local: saving state") {
		l.mu.Lock()
		l.lines = append(l.lines, msg)
		l.mu.Unlock()
	}
}

func (l *storageLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

func TestDiskFullChangesAreUndone(t *testing.T) {
	dir := t.TempDir()
	var logs storageLog
	s, c := newWB(t, Options{Dir: dir, Logf: logs.logf, AbsoluteMinimumPartSize: 10})
	bid := c.bucket("diskfull-bkt", "allPrivate")
	empty := c.bucket("diskfull-empty", "allPrivate")
	acked := map[string]string{}
	var ids []string
	for i := 0; i < 5; i++ {
		data := bytes.Repeat([]byte(fmt.Sprintf("seed-%d;", i)), 100+i)
		id := c.upload(bid, fmt.Sprintf("keep/%d", i), data)
		acked[id] = sha1Hex(data)
		ids = append(ids, id)
	}
	lf := c.call("b2_start_large_file", map[string]any{"bucketId": bid, "fileName": "large", "contentType": "text/plain"})
	lfID := lf["fileId"].(string)
	part := bytes.Repeat([]byte("p"), 1000)
	for n := 1; n <= 2; n++ { // B2 large files have at least two parts
		if st, m := c.uploadPart(lfID, n, part); st != 200 {
			t.Fatalf("upload part %d: %d %v", n, st, m)
		}
	}
	key := c.call("b2_create_key", map[string]any{"accountId": c.acct, "keyName": "k1", "capabilities": []string{"listFiles"}})
	before := c.stateOf()
	blobs := countFiles(t, filepath.Join(dir, "blobs"))

	// The body cannot be stored: 503, not 408.
	setDiskFault(s, "blob")
	st, m := c.tryUpload(bid, "new", []byte("new content"), nil)
	wantCode(t, "upload with the content write failing", st, m, 503, "service_unavailable")
	st, m = c.uploadPart(lfID, 2, part)
	wantCode(t, "upload_part with the content write failing", st, m, 503, "service_unavailable")

	// The state cannot be committed: every change answers 503 and is undone.
	setDiskFault(s, "commit")
	st, m = c.tryUpload(bid, "new", []byte("new content"), nil)
	wantCode(t, "upload with the commit failing", st, m, 503, "service_unavailable")
	st, m = c.uploadPart(lfID, 2, part)
	wantCode(t, "upload_part with the commit failing", st, m, 503, "service_unavailable")
	changes := []struct {
		op   string
		body map[string]any
	}{
		{"b2_copy_file", map[string]any{"sourceFileId": ids[0], "fileName": "copy"}},
		{"b2_copy_file", map[string]any{"sourceFileId": ids[1], "fileName": "copy-range", "range": "bytes=1-5"}},
		{"b2_hide_file", map[string]any{"bucketId": bid, "fileName": "keep/1"}},
		{"b2_delete_file_version", map[string]any{"fileName": "keep/0", "fileId": ids[0]}},
		{"b2_start_large_file", map[string]any{"bucketId": bid, "fileName": "large2", "contentType": "text/plain"}},
		{"b2_copy_part", map[string]any{"sourceFileId": ids[2], "largeFileId": lfID, "partNumber": 2}},
		{"b2_finish_large_file", map[string]any{"fileId": lfID, "partSha1Array": []string{sha1Hex(part), sha1Hex(part)}}},
		{"b2_cancel_large_file", map[string]any{"fileId": lfID}},
		{"b2_create_bucket", map[string]any{"accountId": c.acct, "bucketName": "diskfull-new", "bucketType": "allPrivate"}},
		{"b2_update_bucket", map[string]any{"accountId": c.acct, "bucketId": bid, "bucketType": "allPublic"}},
		{"b2_delete_bucket", map[string]any{"accountId": c.acct, "bucketId": empty}},
		{"b2_create_key", map[string]any{"accountId": c.acct, "keyName": "k2", "capabilities": []string{"listFiles"}}},
		{"b2_delete_key", map[string]any{"applicationKeyId": key["applicationKeyId"]}},
	}
	for _, ch := range changes {
		st, m := c.try(ch.op, ch.body)
		wantCode(t, ch.op+" with the commit failing", st, m, 503, "service_unavailable")
		if after := c.stateOf(); after != before {
			t.Fatalf("%s answered %d but changed the state:\nbefore:\n%s\nafter:\n%s", ch.op, st, before, after)
		}
	}
	if n := countFiles(t, filepath.Join(dir, "blobs")); n != blobs {
		t.Errorf("%d content files after the refused changes, want %d (none written, none removed)", n, blobs)
	}
	if n := countFiles(t, filepath.Join(dir, "tmp")); n != 0 {
		t.Errorf("%d temp files left", n)
	}
	checkVersions(t, c, acked, nil)

	// Clear log lines naming the cause, one per kind of failed write (content,
	// state), not one per refused call.
	if l := logs.get(); len(l) != 2 || !strings.Contains(l[0], "write content: no space left on device") ||
		!strings.Contains(l[1], "commit state: no space left on device") {
		t.Errorf("storage log while the disk was full: %q, want one line for the content writes and one for the commits", l)
	}

	// Space is back: b2local recovers by itself, and says so.
	setDiskFault(s)
	c.call("b2_delete_file_version", map[string]any{"fileName": "keep/0", "fileId": ids[0]})
	if l := logs.get(); len(l) != 3 || l[2] != "b2local: saving state works again" {
		t.Errorf("storage log after recovery: %q", l)
	}
	gone := map[string]bool{ids[0]: true}
	data := []byte("after recovery")
	acked[c.upload(bid, "new", data)] = sha1Hex(data)
	cp := c.call("b2_copy_file", map[string]any{"sourceFileId": ids[1], "fileName": "copy"})
	acked[cp["fileId"].(string)] = acked[ids[1]]
	c.call("b2_finish_large_file", map[string]any{"fileId": lfID, "partSha1Array": []string{sha1Hex(part), sha1Hex(part)}})
	acked[lfID] = sha1Hex(append(append([]byte{}, part...), part...))
	live := c.stateOf()
	checkVersions(t, c, acked, gone)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	_, c2 := newWB(t, Options{Dir: dir})
	if got := c2.stateOf(); got != live {
		t.Errorf("state after restart differs from the acknowledged state:\nlive:\n%s\nreopened:\n%s", live, got)
	}
	checkVersions(t, c2, acked, gone)
}

// TestDiskFullUnderConcurrentChanges: commits fail one in three while many
// clients copy and delete; a failed commit undoes its change and every
// change journaled after it. Afterwards the live state, the state after a
// restart and the set of acknowledged changes agree exactly.
func TestDiskFullUnderConcurrentChanges(t *testing.T) {
	dir := t.TempDir()
	s, c := newWB(t, Options{Dir: dir, AbsoluteMinimumPartSize: 10})
	bid := c.bucket("diskfull-conc", "allPrivate")
	seed := []byte("shared seed content")
	src := c.upload(bid, "seed", seed)
	sum := sha1Hex(seed)

	var commits atomic.Int64
	f := func(stage string) error {
		if stage == "commit" && commits.Add(1)%3 == 0 {
			return errNoSpace
		}
		return nil
	}
	s.st.p.fault.Store(&f)

	var mu sync.Mutex
	acked := map[string]string{src: sum}
	gone := map[string]bool{}
	var refused, other atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c := login(t, s, 4, DefaultKeyID, DefaultKey)
			var mine []string
			for i := 0; i < 40; i++ {
				if i%3 == 2 && len(mine) > 0 {
					id := mine[0]
					st, m := c.try("b2_delete_file_version", map[string]any{"fileName": fmt.Sprintf("w%d", w), "fileId": id})
					switch st {
					case 200:
						mine = mine[1:]
						mu.Lock()
						gone[id] = true
						mu.Unlock()
					case 503:
						refused.Add(1)
					default:
						other.Add(1)
						t.Errorf("delete: %d %v", st, m)
					}
					continue
				}
				st, m := c.try("b2_copy_file", map[string]any{"sourceFileId": src, "fileName": fmt.Sprintf("w%d", w)})
				switch st {
				case 200:
					id := m["fileId"].(string)
					mine = append(mine, id)
					mu.Lock()
					acked[id] = sum
					mu.Unlock()
				case 503:
					refused.Add(1)
				default:
					other.Add(1)
					t.Errorf("copy: %d %v", st, m)
				}
			}
		}(w)
	}
	// Hide markers and large files, on names of their own.
	listed := map[string]bool{}   // versions that are listed but not downloadable
	withPart := map[string]bool{} // unfinished large files holding a part
	ok := func(what string, st int, m map[string]any) bool {
		switch st {
		case 200:
			return true
		case 503:
			refused.Add(1)
		default:
			other.Add(1)
			t.Errorf("%s: %d %v", what, st, m)
		}
		return false
	}
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c := login(t, s, 4, DefaultKeyID, DefaultKey)
			name := fmt.Sprintf("h%d", w)
			part := []byte(fmt.Sprintf("part of worker %d", w))
			for i := 0; i < 15; i++ {
				data := []byte(fmt.Sprintf("%s-%d", name, i))
				if st, m := c.tryUpload(bid, name, data, nil); ok("upload", st, m) {
					mu.Lock()
					acked[m["fileId"].(string)] = sha1Hex(data)
					mu.Unlock()
				}
				st, m := c.try("b2_hide_file", map[string]any{"bucketId": bid, "fileName": name})
				if st == 400 && (m["code"] == "already_hidden" || m["code"] == "no_such_file") {
					continue // the upload was refused: nothing to hide
				}
				if !ok("hide", st, m) {
					continue
				}
				marker := m["fileId"].(string)
				mu.Lock()
				listed[marker] = true
				mu.Unlock()
				if st, m := c.try("b2_delete_file_version", map[string]any{"fileName": name, "fileId": marker}); ok("delete marker", st, m) {
					mu.Lock()
					gone[marker] = true
					mu.Unlock()
				}
				// a large file: start, one part, finish (or cancel)
				st, m = c.try("b2_start_large_file", map[string]any{"bucketId": bid, "fileName": "l" + name, "contentType": "text/plain"})
				if !ok("start", st, m) {
					continue
				}
				lf := m["fileId"].(string)
				mu.Lock()
				listed[lf] = true
				mu.Unlock()
				// Two parts (B2's minimum): an upload, and a copy of the seed,
				// which shares the seed's content file.
				st, m = c.uploadPart(lf, 1, part)
				if ok("part", st, m) {
					mu.Lock()
					withPart[lf] = true
					mu.Unlock()
					st, m = c.try("b2_copy_part", map[string]any{"sourceFileId": src, "largeFileId": lf, "partNumber": 2})
				}
				if !ok("part", st, m) {
					if st, m := c.try("b2_cancel_large_file", map[string]any{"fileId": lf}); ok("cancel", st, m) {
						mu.Lock()
						gone[lf] = true
						mu.Unlock()
					}
					continue
				}
				if st, m := c.try("b2_finish_large_file", map[string]any{"fileId": lf, "partSha1Array": []string{sha1Hex(part), sum}}); ok("finish", st, m) {
					mu.Lock()
					delete(listed, lf)
					delete(withPart, lf)
					acked[lf] = sha1Hex(append(append([]byte{}, part...), seed...))
					mu.Unlock()
				}
			}
		}(w)
	}
	wg.Wait()
	setDiskFault(s)
	if refused.Load() == 0 {
		t.Fatal("no change was refused: the fault did not fire")
	}
	t.Logf("%d acknowledged versions, %d deleted, %d refused", len(acked), len(gone), refused.Load())

	// The live listing holds exactly the acknowledged, undeleted versions.
	var want, got []string
	for id := range acked {
		if !gone[id] {
			want = append(want, id)
		}
	}
	for id := range listed {
		if !gone[id] {
			want = append(want, id)
		}
	}
	for _, f := range c.versionsOf(bid) {
		got = append(got, f["fileId"].(string))
	}
	sort.Strings(want)
	sort.Strings(got)
	if fmt.Sprint(want) != fmt.Sprint(got) {
		t.Errorf("listed versions differ from the acknowledged ones:\nwant %v\ngot  %v", want, got)
	}
	live := c.stateOf()
	checkVersions(t, c, acked, gone)
	// content files: the seed's (shared by its copies), one per upload still
	// listed, one per large file finished or holding a part
	wantBlobs := 0
	for id := range withPart {
		if !gone[id] {
			wantBlobs++
		}
	}
	for id := range acked {
		if !gone[id] && (id == src || acked[id] != sum) {
			wantBlobs++
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// no content file leaked by the undone changes, none lost
	if n := countFiles(t, filepath.Join(dir, "blobs")); n != wantBlobs {
		t.Errorf("%d content files after close, want %d", n, wantBlobs)
	}
	_, c2 := newWB(t, Options{Dir: dir})
	if got := c2.stateOf(); got != live {
		t.Errorf("state after restart differs:\nlive:\n%s\nreopened:\n%s", live, got)
	}
	checkVersions(t, c2, acked, gone)
}

// A panic inside a store operation undoes its changes and releases the
// lock: the store keeps serving.
func TestMutatePanicReleasesLock(t *testing.T) {
	s, c := newWB(t, Options{})
	bid := c.bucket("panic-bkt", "allPrivate")
	before := c.stateOf()
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the panic did not propagate")
			}
		}()
		_ = s.st.mutate(func(tx *txn) error {
			b := s.st.buckets[bid]
			s.st.place(tx, b, "half-made", &version{kind: kindHide, ctype: hideCT}, 0)
			panic("bug in an operation")
		})
	}()
	if after := c.stateOf(); after != before {
		t.Errorf("a panicking operation left changes:\n%s", after)
	}
	c.upload(bid, "after", []byte("still serving"))
}

// A change built on one whose commit fails is undone with it: an upload's
// commit is held and fails while a hide of the uploaded name waits in the
// journal behind it. Both answer 503 and neither remains, live or after a
// restart.
func TestDiskFullUndoesDependentChanges(t *testing.T) {
	dir := t.TempDir()
	s, c := newWB(t, Options{Dir: dir})
	bid := c.bucket("diskfull-chain", "allPrivate")
	before := c.stateOf()

	entered := make(chan struct{})
	release := make(chan error)
	var once atomic.Bool
	f := func(stage string) error {
		if stage == "commit" && once.CompareAndSwap(false, true) {
			entered <- struct{}{}
			return <-release
		}
		return nil
	}
	s.st.p.fault.Store(&f)

	type result struct {
		st int
		m  map[string]any
	}
	upload, hide := make(chan result, 1), make(chan result, 1)
	go func() {
		c := login(t, s, 4, DefaultKeyID, DefaultKey)
		st, m := c.tryUpload(bid, "x", []byte("uploaded, never committed"), nil)
		upload <- result{st, m}
	}()
	<-entered // the upload is in memory, its commit is being written
	go func() {
		c := login(t, s, 4, DefaultKeyID, DefaultKey)
		st, m := c.try("b2_hide_file", map[string]any{"bucketId": bid, "fileName": "x"})
		hide <- result{st, m}
	}()
	// wait until the hide (which only exists because of the upload) is journaled
	for {
		s.st.p.mu.Lock()
		n := len(s.st.p.pending)
		s.st.p.mu.Unlock()
		if n > 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	release <- errNoSpace
	u, h := <-upload, <-hide
	wantCode(t, "upload whose commit failed", u.st, u.m, 503, "service_unavailable")
	wantCode(t, "hide journaled behind it", h.st, h.m, 503, "service_unavailable")
	if after := c.stateOf(); after != before {
		t.Errorf("undone changes still visible:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	// the same calls succeed now, and only they remain after a restart
	id := c.upload(bid, "x", []byte("second try"))
	c.call("b2_hide_file", map[string]any{"bucketId": bid, "fileName": "x"})
	live := c.stateOf()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, c2 := newWB(t, Options{Dir: dir})
	if got := c2.stateOf(); got != live {
		t.Errorf("state after restart:\n%s\nwant:\n%s", got, live)
	}
	checkVersions(t, c2, map[string]string{id: sha1Hex([]byte("second try"))}, nil)
	if n := countFiles(t, filepath.Join(dir, "blobs")); n != 1 {
		t.Errorf("%d content files, want 1 (the undone upload's file removed)", n)
	}
}
