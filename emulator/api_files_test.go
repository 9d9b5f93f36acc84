package emulator_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/b2plan/b2plan/emulator"
	"github.com/google/go-cmp/cmp"
)

// §8: list_file_names pagination and maxFileCount limits.
func TestAPIListPagination(t *testing.T) {
	_, base, hc := inProcessServer(t, emulator.Options{})
	s := master(t, hc, base, 4)
	bid := s.bucket(bucketName("pages"))
	var want []string
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := 0; i < 250; i++ {
		name := fmt.Sprintf("d%d/file-%03d", i%3, i)
		want = append(want, name)
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			s.upload(bid, name, []byte(name), nil)
			if i%10 == 0 { // a second version
				s.upload(bid, name, []byte(name+"v2"), nil)
			}
		}()
	}
	wg.Wait()
	sort.Strings(want)

	def := s.listNames(bid, nil)
	if n := len(jlist(def, "files")); n != 100 {
		t.Errorf("default maxFileCount: got %d files, want 100 (§8)", n)
	}
	if def["nextFileName"] == nil {
		t.Errorf("nextFileName must be set when more names remain")
	}
	zero := s.listNames(bid, map[string]any{"maxFileCount": 0})
	if n := len(jlist(zero, "files")); n != 100 {
		t.Errorf("maxFileCount 0 means default: got %d", n)
	}
	if r := s.try("b2_list_file_names", map[string]any{"bucketId": bid, "maxFileCount": 10000}); r.Status != 200 || len(jlist(r.Body, "files")) != 250 || r.Body["nextFileName"] != nil {
		t.Errorf("maxFileCount 10000: %d files, next=%v status %d", len(jlist(r.Body, "files")), r.Body["nextFileName"], r.Status)
	}
	wantErr(t, "maxFileCount 10001", s.try("b2_list_file_names", map[string]any{"bucketId": bid, "maxFileCount": 10001}), 400, "out_of_range")
	wantErr(t, "versions maxFileCount 10001", s.try("b2_list_file_versions", map[string]any{"bucketId": bid, "maxFileCount": 10001}), 400, "out_of_range")

	for _, page := range []int{1, 7, 100, 249, 250, 251} {
		got := names(s.allNames(bid, "", "", page))
		if !cmp.Equal(got, want) {
			t.Errorf("page size %d: %d names (first diff: %s)", page, len(got), firstDiff(got, want))
		}
	}
	// Prefix restricts and pages.
	gotPfx := names(s.allNames(bid, "d1/", "", 9))
	var wantPfx []string
	for _, n := range want {
		if strings.HasPrefix(n, "d1/") {
			wantPfx = append(wantPfx, n)
		}
	}
	if !cmp.Equal(gotPfx, wantPfx) {
		t.Errorf("prefix listing: %s", firstDiff(gotPfx, wantPfx))
	}
	// startFileName is inclusive.
	st := s.listNames(bid, map[string]any{"startFileName": want[17], "maxFileCount": 2})
	if got := names(entriesOf(st)); !cmp.Equal(got, want[17:19]) {
		t.Errorf("startFileName inclusive: got %v want %v", got, want[17:19])
	}
	// v1 file objects carry size; v2+ contentLength.
	v1 := s.as(1).listNames(bid, map[string]any{"maxFileCount": 1})
	if n := jnum(v1, "files", "0", "size"); n <= 0 || n != jnum(v1, "files", "0", "contentLength") && jget(v1, "files", "0", "contentLength") != nil {
		t.Errorf("v1 file object must carry size (§6.3): %v", jget(v1, "files", "0"))
	}
	if jnum(def, "files", "0", "contentLength") != int64(len(want[0])+2) { // d0/file-000 has a second version "…v2"
		t.Errorf("v4 contentLength wrong: %v", jget(def, "files", "0"))
	}
}

func firstDiff(got, want []string) string {
	for i := 0; i < len(got) && i < len(want); i++ {
		if got[i] != want[i] {
			return fmt.Sprintf("index %d got %q want %q", i, got[i], want[i])
		}
	}
	return fmt.Sprintf("len got %d want %d", len(got), len(want))
}

// §8: list_file_versions order, startFileName/startFileId, nextFileName/nextFileId.
func TestAPIListVersions(t *testing.T) {
	_, base, hc := startServer(t, emulator.Options{})
	s := master(t, hc, base, 3)
	bid := s.bucket(bucketName("versions"))
	type ver struct{ name, id string }
	var want []ver
	for _, n := range []string{"a", "b", "c", "d"} {
		var ids []string
		for v := 0; v < 3; v++ {
			ids = append(ids, jstr(s.upload(bid, n, []byte(n+strconv.Itoa(v)), nil), "fileId"))
		}
		for v := 2; v >= 0; v-- { // newest first
			want = append(want, ver{n, ids[v]})
		}
	}
	h := s.call("b2_hide_file", map[string]any{"bucketId": bid, "fileName": "d"})
	// hide marker is the newest version of d
	idx := 9
	want = append(want[:idx], append([]ver{{"d", jstr(h, "fileId")}}, want[idx:]...)...)

	for _, page := range []int{1, 2, 5, 13, 100} {
		got := s.allVersions(bid, "", page)
		var g []ver
		for _, e := range got {
			g = append(g, ver{e.Name, e.ID})
		}
		if !cmp.Equal(g, want, cmp.AllowUnexported(ver{})) {
			t.Errorf("versions page %d:\n got %v\nwant %v", page, g, want)
		}
	}
	// Start at a specific version (the middle version of b).
	r := s.call("b2_list_file_versions", map[string]any{"bucketId": bid, "startFileName": "b", "startFileId": want[4].id, "maxFileCount": 3})
	got := entriesOf(r)
	if len(got) != 3 || got[0].ID != want[4].id || got[1].ID != want[5].id || got[2].ID != want[6].id {
		t.Errorf("startFileId resume: got %v", got)
	}
	if jstr(r, "nextFileName") != want[7].name || jstr(r, "nextFileId") == "" {
		t.Errorf("nextFileName/nextFileId = %v/%v, want %s/…", r["nextFileName"], r["nextFileId"], want[7].name)
	}
	// Only startFileName: newest version of the first name >= it.
	r = s.call("b2_list_file_versions", map[string]any{"bucketId": bid, "startFileName": "bb", "maxFileCount": 1})
	if got := entriesOf(r); len(got) != 1 || got[0].ID != want[6].id {
		t.Errorf("startFileName only: got %v want %v", got, want[6])
	}
	// The last page has null next pointers.
	r = s.call("b2_list_file_versions", map[string]any{"bucketId": bid, "maxFileCount": 1000})
	if r["nextFileName"] != nil || r["nextFileId"] != nil {
		t.Errorf("final page must have null nextFileName/nextFileId: %v %v", r["nextFileName"], r["nextFileId"])
	}
	if jstr(r, "files", "9", "action") != "hide" {
		t.Errorf("hide marker action: %v", jget(r, "files", "9"))
	}
	wantErr(t, "malformed startFileId", s.try("b2_list_file_versions", map[string]any{"bucketId": bid, "startFileName": "a", "startFileId": "!!bad id!!"}), 400, "invalid_file_id")
	wantErr(t, "malformed bucketId", s.try("b2_list_file_names", map[string]any{"bucketId": "!!"}), 400, "")
	// list_file_names hides d.
	if got := names(s.allNames(bid, "", "", 10)); !cmp.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("list_file_names with hidden d: %v", got)
	}
}

// §8: delimiter folders.
func TestAPIListDelimiter(t *testing.T) {
	_, base, hc := startServer(t, emulator.Options{})
	s := master(t, hc, base, 4)
	bid := s.bucket(bucketName("delim"))
	files := []string{"photos/a.jpg", "photos/z.jpg", "top.txt", "photos/dogs/y.jpg", "photos/dogs/deep/q.jpg"}
	for i := 0; i < 6; i++ {
		files = append(files, fmt.Sprintf("photos/cats/x%d.jpg", i))
	}
	for _, f := range files {
		s.upload(bid, f, []byte(f), nil)
	}
	type ea = entry
	strip := func(es []entry) []entry {
		for i := range es {
			es[i].ID = ""
		}
		return es
	}
	want := []ea{{"photos/a.jpg", "", "upload"}, {"photos/cats/", "", "folder"}, {"photos/dogs/", "", "folder"}, {"photos/z.jpg", "", "upload"}}
	for _, page := range []int{1, 2, 3, 100} {
		got := strip(s.allNames(bid, "photos/", "/", page))
		if !cmp.Equal(got, want) {
			t.Errorf("delimiter page %d (folders must not repeat across pages):\n got %v\nwant %v", page, got, want)
		}
	}
	got := strip(s.allNames(bid, "", "/", 100))
	if !cmp.Equal(got, []ea{{"photos/", "", "folder"}, {"top.txt", "", "upload"}}) {
		t.Errorf("root delimiter listing: %v", got)
	}
	got = strip(s.allNames(bid, "photos/c", "/", 100))
	if !cmp.Equal(got, []ea{{"photos/cats/", "", "folder"}}) {
		t.Errorf("prefix not ending in delimiter: %v", got)
	}
	// Folder entry shape.
	r := s.listNames(bid, map[string]any{"prefix": "photos/c", "delimiter": "/"})
	f := jget(r, "files", "0")
	if jget(f, "fileId") != nil || jnum(f, "contentLength") != 0 || jnum(f, "uploadTimestamp") != 0 {
		t.Errorf("folder entry shape (§8): %v", f)
	}
	// Versions with delimiter also fold.
	rv := s.call("b2_list_file_versions", map[string]any{"bucketId": bid, "prefix": "photos/", "delimiter": "/", "maxFileCount": 100})
	var acts []string
	for _, e := range entriesOf(rv) {
		acts = append(acts, e.Action+":"+e.Name)
	}
	if !cmp.Equal(acts, []string{"upload:photos/a.jpg", "folder:photos/cats/", "folder:photos/dogs/", "upload:photos/z.jpg"}) {
		t.Errorf("versions with delimiter: %v", acts)
	}
}

// §6.2: versions resurfacing, hide markers and un-hiding.
func TestAPIVersionResurfacing(t *testing.T) {
	_, base, hc := startServer(t, emulator.Options{})
	s := master(t, hc, base, 2)
	bn := bucketName("resurface")
	bid := s.bucket(bn)
	old := s.upload(bid, "f.txt", []byte("old"), nil)
	newer := s.upload(bid, "f.txt", []byte("new"), nil)
	if r := s.byName(bn, "f.txt"); string(r.Raw) != "new" {
		t.Fatalf("newest version served: %v", r)
	}
	wantErr(t, "delete with wrong name", s.try("b2_delete_file_version", map[string]any{"fileName": "g.txt", "fileId": jstr(newer, "fileId")}), 400, "file_not_present")
	d := s.call("b2_delete_file_version", map[string]any{"fileName": "f.txt", "fileId": jstr(newer, "fileId")})
	if jstr(d, "fileId") != jstr(newer, "fileId") || jstr(d, "fileName") != "f.txt" {
		t.Errorf("delete response: %v", d)
	}
	if r := s.byName(bn, "f.txt"); r.Status != 200 || string(r.Raw) != "old" {
		t.Errorf("older version must reappear for download by name: %v", r)
	}
	l := entriesOf(s.listNames(bid, nil))
	if len(l) != 1 || l[0].ID != jstr(old, "fileId") {
		t.Errorf("older version must reappear in list_file_names: %v", l)
	}
	wantErr(t, "delete already-deleted version", s.try("b2_delete_file_version", map[string]any{"fileName": "f.txt", "fileId": jstr(newer, "fileId")}), 400, "file_not_present")
	if r := s.byID(jstr(newer, "fileId")); r.Status != 404 {
		t.Errorf("download deleted version by id: %v, want 404", r)
	}

	h := s.call("b2_hide_file", map[string]any{"bucketId": bid, "fileName": "f.txt"})
	if jstr(h, "action") != "hide" || jnum(h, "contentLength") != 0 {
		t.Errorf("hide marker object: %v", h)
	}
	wantErr(t, "download hidden", s.byName(bn, "f.txt"), 404, "not_found")
	if l := s.listNames(bid, nil); len(jlist(l, "files")) != 0 {
		t.Errorf("hidden name listed: %v", l)
	}
	if r := s.byID(jstr(old, "fileId")); r.Status != 200 || string(r.Raw) != "old" {
		t.Errorf("hidden file's older version must stay downloadable by id: %v", r)
	}
	wantErr(t, "hide twice", s.try("b2_hide_file", map[string]any{"bucketId": bid, "fileName": "f.txt"}), 400, "already_hidden")
	wantErr(t, "hide absent", s.try("b2_hide_file", map[string]any{"bucketId": bid, "fileName": "nope.txt"}), 400, "no_such_file")
	gi := s.call("b2_get_file_info", map[string]any{"fileId": jstr(h, "fileId")})
	if jstr(gi, "action") != "hide" {
		t.Errorf("get_file_info on hide marker: %v", gi)
	}
	s.call("b2_delete_file_version", map[string]any{"fileName": "f.txt", "fileId": jstr(h, "fileId")})
	if r := s.byName(bn, "f.txt"); r.Status != 200 || string(r.Raw) != "old" {
		t.Errorf("deleting the hide marker must unhide: %v", r)
	}
	// hide, then a new upload makes it visible again.
	s.call("b2_hide_file", map[string]any{"bucketId": bid, "fileName": "f.txt"})
	s.upload(bid, "f.txt", []byte("again"), nil)
	if r := s.byName(bn, "f.txt"); string(r.Raw) != "again" {
		t.Errorf("upload after hide: %v", r)
	}
	// delete newest → hide marker below → hidden again.
	l2 := s.allVersions(bid, "", 100)
	s.call("b2_delete_file_version", map[string]any{"fileName": "f.txt", "fileId": l2[0].ID})
	wantErr(t, "hide marker resurfaces", s.byName(bn, "f.txt"), 404, "not_found")
	wantErr(t, "get_file_info unknown", s.try("b2_get_file_info", map[string]any{"fileId": jstr(newer, "fileId")}), 404, "not_found")
}

// §6.5, §6.4: names and info headers.
func TestAPIPercentEncoding(t *testing.T) {
	_, base, hc := startServer(t, emulator.Options{})
	s := master(t, hc, base, 4)
	bn := bucketName("encoding")
	bid := s.bucket(bn)
	cases := []struct{ sent, name string }{
		{"a+b", "a b"},
		{"a%20c", "a c"},
		{"p%2Bq", "p+q"},
		{"dir/sub/%C3%A9t%C3%A9.txt", "dir/sub/été.txt"},
		{"x%2Fy", "x/y"},
		{"sym%21%24%27%28%29%2A%3B%3D%40%7E-_.%3A", "sym!$'()*;=@~-_.:"},
		{"sym!$'()*;=@~-_.:2", "sym!$'()*;=@~-_.:2"},
		{"q%3F%23%25%26%2C%5B%5D", "q?#%&,[]"},
		{"%E2%82%AC%F0%9F%98%80", "€😀"},
	}
	for _, c := range cases {
		up := s.getUploadURL(bid)
		r, err := rawUpload(hc, up, c.sent, []byte(c.name), "", map[string]string{
			"X-BZ-INFO-Author": "J%C3%B6rg+S",
			"x-bz-info-MiXeD":  "v",
		})
		if err != nil || r.Status != 200 {
			t.Errorf("upload %q: %v %v", c.sent, r, err)
			continue
		}
		if jstr(r.Body, "fileName") != c.name {
			t.Errorf("X-Bz-File-Name %q decoded to %q, want %q", c.sent, jstr(r.Body, "fileName"), c.name)
		}
		fi, _ := jget(r.Body, "fileInfo").(map[string]any)
		if fi["author"] != "Jörg S" || fi["mixed"] != "v" {
			t.Errorf("X-Bz-Info-* keys must be lowercased and values decoded: %v", fi)
		}
		if _, ok := fi["Author"]; ok {
			t.Errorf("fileInfo key not lowercased: %v", fi)
		}
		// Download by name with the canonical encoding.
		d := s.byName(bn, c.name)
		if d.Status != 200 || string(d.Raw) != c.name {
			t.Errorf("download %q: %v", c.name, d)
			continue
		}
		hn, err := url.QueryUnescape(d.Header.Get("X-Bz-File-Name"))
		if err != nil || hn != c.name {
			t.Errorf("download X-Bz-File-Name header %q decodes to %q, want %q", d.Header.Get("X-Bz-File-Name"), hn, c.name)
		}
		if av, _ := url.QueryUnescape(d.Header.Get("X-Bz-Info-author")); av != "Jörg S" {
			t.Errorf("download X-Bz-Info-author = %q", d.Header.Get("X-Bz-Info-author"))
		}
	}
	// Path with %20 and with + both mean space in download path? '+' in a path is literal per URL rules,
	// but B2 decodes with form rules; at least %20 must work.
	if d := s.download("GET", "/file/"+bn+"/a%20b", s.token, nil); d.Status != 200 {
		t.Errorf("download a%%20b: %v", d)
	}
	if d := s.download("GET", "/file/"+bn+"/p%2Bq", s.token, nil); d.Status != 200 || string(d.Raw) != "p+q" {
		t.Errorf("download p%%2Bq: %v", d)
	}
	got := names(s.allNames(bid, "", "", 100))
	want := make([]string, 0, len(cases))
	for _, c := range cases {
		want = append(want, c.name)
	}
	sort.Strings(want)
	if !cmp.Equal(got, want) {
		t.Errorf("names must sort in UTF-8 byte order: got %q want %q", got, want)
	}
	// Invalid names: control chars, DEL, > 1024 bytes.
	for _, bad := range []string{"ctl%01x", "del%7Fx", strings.Repeat("n", 1025)} {
		up := s.getUploadURL(bid)
		r, _ := rawUpload(hc, up, bad, []byte("x"), "", nil)
		wantErr(t, "invalid name "+bad[:5], r, 400, "bad_request")
	}
	up := s.getUploadURL(bid)
	r, _ := rawUpload(hc, up, strings.Repeat("n", 1024), []byte("x"), "", nil)
	if r.Status != 200 {
		t.Errorf("1024-byte name must be accepted: %v", r)
	}
}

// §7: SHA1 verification modes.
func TestAPIUploadSHA1(t *testing.T) {
	_, base, hc := startServer(t, emulator.Options{})
	s := master(t, hc, base, 4)
	bn := bucketName("sha")
	bid := s.bucket(bn)
	data := []byte("the quick brown fox")
	up := s.getUploadURL(bid)
	r, _ := rawUpload(hc, up, "bad", data, sha1hex([]byte("other")), nil)
	wantErr(t, "sha1 mismatch", r, 400, "bad_request")
	if l := s.listNames(bid, nil); len(jlist(l, "files")) != 0 {
		t.Errorf("failed upload must store nothing: %v", l)
	}
	// §7: an upload URL may stop working once it rejected an upload; take a new one.
	up = s.getUploadURL(bid)
	r, _ = rawUpload(hc, up, "good", data, "", nil)
	if r.Status != 200 || jstr(r.Body, "contentSha1") != sha1hex(data) || jnum(r.Body, "contentLength") != int64(len(data)) {
		t.Errorf("good upload: %v", r)
	}
	if jstr(r.Body, "action") != "upload" || jstr(r.Body, "contentType") != "text/plain" {
		t.Errorf("upload file object: %v", r.Body)
	}
	body := append(append([]byte{}, data...), []byte(sha1hex(data))...)
	r, _ = rawUpload(hc, up, "atend", body, "hex_digits_at_end", nil)
	if r.Status != 200 || jstr(r.Body, "contentSha1") != sha1hex(data) || jnum(r.Body, "contentLength") != int64(len(data)) {
		t.Errorf("hex_digits_at_end: %v", r)
	}
	if d := s.byName(bn, "atend"); !bytes.Equal(d.Raw, data) {
		t.Errorf("hex_digits_at_end stored %q, want %q", d.Raw, data)
	}
	body = append(append([]byte{}, data...), []byte(sha1hex([]byte("zz")))...)
	r, _ = rawUpload(hc, up, "atendbad", body, "hex_digits_at_end", nil)
	wantErr(t, "hex_digits_at_end mismatch", r, 400, "bad_request")
	up = s.getUploadURL(bid)
	r, _ = rawUpload(hc, up, "noverify", data, "do_not_verify", nil)
	if r.Status != 200 || jnum(r.Body, "contentLength") != int64(len(data)) {
		t.Errorf("do_not_verify: %v", r)
	}
	if d := s.byName(bn, "noverify"); !bytes.Equal(d.Raw, data) {
		t.Errorf("do_not_verify content: %v", d)
	}
	// GET to an upload URL → 405.
	req, _ := http.NewRequest("GET", up.url, nil)
	req.Header.Set("Authorization", up.token)
	if r, _ := doReq(hc, req); r.Status != 405 {
		t.Errorf("GET upload URL: %v, want 405", r)
	}
	// Missing X-Bz-File-Name → 400.
	req, _ = http.NewRequest("POST", up.url, bytes.NewReader(data))
	req.Header.Set("Authorization", up.token)
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("X-Bz-Content-Sha1", sha1hex(data))
	if r, _ := doReq(hc, req); r.Status != 400 {
		t.Errorf("upload without X-Bz-File-Name: %v, want 400", r)
	}
	up = s.getUploadURL(bid)
	// b2/x-auto content type.
	r, _ = rawUpload(hc, up, "page.html", data, "", map[string]string{"Content-Type": "b2/x-auto"})
	if r.Status != 200 || !strings.HasPrefix(jstr(r.Body, "contentType"), "text/html") {
		t.Errorf("b2/x-auto for .html: %v", r.Body["contentType"])
	}
}

// §12: downloads.
func TestAPIDownloads(t *testing.T) {
	_, base, hc := startServer(t, emulator.Options{})
	s := master(t, hc, base, 4)
	bn := bucketName("dl")
	bid := s.bucket(bn)
	data := []byte("0123456789abcdefghij")
	f := s.upload(bid, "pub/file.txt", data, map[string]string{
		"X-Bz-Info-b2-content-disposition": "attachment",
		"X-Bz-Info-color":                  "blue",
	})
	fid := jstr(f, "fileId")
	s.upload(bid, "priv/secret.txt", []byte("secret"), nil)

	d := s.byName(bn, "pub/file.txt")
	if d.Status != 200 || !bytes.Equal(d.Raw, data) {
		t.Fatalf("download by name: %v", d)
	}
	for h, want := range map[string]string{
		"X-Bz-File-Id":        fid,
		"X-Bz-Content-Sha1":   sha1hex(data),
		"X-Bz-Info-color":     "blue",
		"Content-Length":      strconv.Itoa(len(data)),
		"Content-Type":        "text/plain",
		"Content-Disposition": "attachment",
	} {
		if got := d.Header.Get(h); got != want {
			t.Errorf("download header %s = %q, want %q", h, got, want)
		}
	}
	if d.Header.Get("X-Bz-Upload-Timestamp") != strconv.FormatInt(jnum(f, "uploadTimestamp"), 10) {
		t.Errorf("X-Bz-Upload-Timestamp = %q", d.Header.Get("X-Bz-Upload-Timestamp"))
	}
	if d := s.byID(fid); d.Status != 200 || !bytes.Equal(d.Raw, data) || d.Header.Get("X-Bz-File-Name") != "pub/file.txt" {
		t.Errorf("download by id GET: %v %v", d, d.Header)
	}
	// by id with POST JSON
	req, _ := http.NewRequest("POST", s.downloadURL+"/b2api/v4/b2_download_file_by_id", strings.NewReader(`{"fileId":"`+fid+`"}`))
	req.Header.Set("Authorization", s.token)
	req.Header.Set("Content-Type", "application/json")
	if res, err := hc.Do(req); err != nil || res.StatusCode != 200 {
		t.Errorf("download by id POST: %v %v", res, err)
	} else {
		res.Body.Close()
	}
	// HEAD
	hd := s.download("HEAD", "/file/"+bn+"/pub/file.txt", s.token, nil)
	if hd.Status != 200 || len(hd.Raw) != 0 || hd.Header.Get("Content-Length") != strconv.Itoa(len(data)) || hd.Header.Get("X-Bz-File-Id") != fid {
		t.Errorf("HEAD: %v %v", hd, hd.Header)
	}
	// Range
	rg := s.download("GET", "/file/"+bn+"/pub/file.txt", s.token, map[string]string{"Range": "bytes=2-5"})
	if rg.Status != 206 || string(rg.Raw) != "2345" || rg.Header.Get("Content-Range") != fmt.Sprintf("bytes 2-5/%d", len(data)) {
		t.Errorf("Range 2-5: %v %q", rg, rg.Header.Get("Content-Range"))
	}
	if rg.Header.Get("X-Bz-Content-Sha1") != sha1hex(data) {
		t.Errorf("ranged X-Bz-Content-Sha1 must describe the whole file")
	}
	rg = s.download("GET", "/file/"+bn+"/pub/file.txt", s.token, map[string]string{"Range": "bytes=15-"})
	if rg.Status != 206 || string(rg.Raw) != "fghij" {
		t.Errorf("Range 15-: %v", rg)
	}
	rg = s.download("GET", "/file/"+bn+"/pub/file.txt", s.token, map[string]string{"Range": "bytes=-3"})
	if rg.Status != 206 || string(rg.Raw) != "hij" {
		t.Errorf("Range suffix -3: %v", rg)
	}
	rg = s.download("GET", fmt.Sprintf("/b2api/v4/b2_download_file_by_id?fileId=%s", fid), s.token, map[string]string{"Range": "bytes=100-200"})
	wantErr(t, "Range beyond end", rg, 416, "range_not_satisfiable")
	// Missing file / bucket.
	wantErr(t, "absent name", s.byName(bn, "nope"), 404, "not_found")
	// Without auth on a private bucket.
	if r := s.download("GET", "/file/"+bn+"/pub/file.txt", "", nil); r.Status != 401 {
		t.Errorf("private download without auth: %v, want 401", r)
	}
	// Download authorization tokens.
	da := s.call("b2_get_download_authorization", map[string]any{"bucketId": bid, "fileNamePrefix": "pub/", "validDurationInSeconds": 3600})
	dt := jstr(da, "authorizationToken")
	if dt == "" || jstr(da, "fileNamePrefix") != "pub/" || jstr(da, "bucketId") != bid {
		t.Fatalf("download authorization: %v", da)
	}
	if r := s.download("GET", "/file/"+bn+"/pub/file.txt", dt, nil); r.Status != 200 || !bytes.Equal(r.Raw, data) {
		t.Errorf("download with download token header: %v", r)
	}
	if r := s.download("GET", "/file/"+bn+"/pub/file.txt?Authorization="+url.QueryEscape(dt), "", nil); r.Status != 200 {
		t.Errorf("download with ?Authorization=: %v", r)
	}
	if r := s.download("GET", "/file/"+bn+"/priv/secret.txt", dt, nil); r.Status != 401 {
		t.Errorf("download token outside its prefix: %v, want 401", r)
	}
	if r := s.download("GET", "/file/"+bn+"/priv/secret.txt?Authorization="+url.QueryEscape(dt), "", nil); r.Status != 401 {
		t.Errorf("download token (query) outside its prefix: %v, want 401", r)
	}
	for _, bad := range []int{0, 604801} {
		if r := s.try("b2_get_download_authorization", map[string]any{"bucketId": bid, "fileNamePrefix": "", "validDurationInSeconds": bad}); r.Status != 400 {
			t.Errorf("validDurationInSeconds %d: %v, want 400", bad, r)
		}
	}
	// b2ContentDisposition override.
	if r := s.download("GET", "/file/"+bn+"/pub/file.txt?b2ContentDisposition=inline", s.token, nil); r.Header.Get("Content-Disposition") != "inline" {
		t.Errorf("b2ContentDisposition override: %q", r.Header.Get("Content-Disposition"))
	}
	// Public bucket: no auth needed.
	pn := bucketName("public")
	pid := jstr(s.createBucket(pn, "allPublic", nil), "bucketId")
	s.upload(pid, "open.txt", []byte("open"), nil)
	if r := s.download("GET", "/file/"+pn+"/open.txt", "", nil); r.Status != 200 || string(r.Raw) != "open" {
		t.Errorf("public bucket without auth: %v", r)
	}
	// Uploads still need auth on public buckets.
	up := s.getUploadURL(pid)
	up.token = ""
	if r, _ := rawUpload(hc, up, "x", []byte("x"), "", nil); r.Status != 401 {
		t.Errorf("upload to public bucket without token: %v, want 401", r)
	}
}

// §10: b2_copy_file.
func TestAPICopyFile(t *testing.T) {
	_, base, hc := startServer(t, emulator.Options{MaxCopySize: 100})
	s := master(t, hc, base, 4)
	bn := bucketName("copy")
	bid := s.bucket(bn)
	on := bucketName("copy-dst")
	other := s.bucket(on)
	data := []byte("0123456789")
	src := s.upload(bid, "src.txt", data, map[string]string{"X-Bz-Info-src_last_modified_millis": "12345", "X-Bz-Info-color": "red"})
	sid := jstr(src, "fileId")

	c := s.call("b2_copy_file", map[string]any{"sourceFileId": sid, "fileName": "dst.txt"})
	if jstr(c, "action") != "copy" {
		t.Errorf("copy response action = %q, want copy (§6.3)", jstr(c, "action"))
	}
	if jstr(c, "fileId") == sid || jstr(c, "contentType") != "text/plain" || jstr(c, "fileInfo", "color") != "red" || jstr(c, "fileInfo", "src_last_modified_millis") != "12345" {
		t.Errorf("COPY directive must keep contentType and fileInfo: %v", c)
	}
	if jstr(c, "contentSha1") != sha1hex(data) || jnum(c, "contentLength") != 10 || jstr(c, "bucketId") != bid {
		t.Errorf("copy object: %v", c)
	}
	if r := s.byName(bn, "dst.txt"); !bytes.Equal(r.Raw, data) {
		t.Errorf("copied content: %v", r)
	}
	for _, e := range entriesOf(s.listNames(bid, nil)) {
		if e.Action != "upload" {
			t.Errorf("copied version must be listed as upload: %+v", e)
		}
	}
	wantErr(t, "COPY with contentType", s.try("b2_copy_file", map[string]any{"sourceFileId": sid, "fileName": "x", "metadataDirective": "COPY", "contentType": "text/html"}), 400, "bad_request")
	wantErr(t, "REPLACE without contentType", s.try("b2_copy_file", map[string]any{"sourceFileId": sid, "fileName": "x", "metadataDirective": "REPLACE"}), 400, "bad_request")
	rp := s.call("b2_copy_file", map[string]any{"sourceFileId": sid, "fileName": "rep.txt", "metadataDirective": "REPLACE", "contentType": "application/json", "fileInfo": map[string]string{"k": "v"}})
	if jstr(rp, "contentType") != "application/json" || jstr(rp, "fileInfo", "k") != "v" || jget(rp, "fileInfo", "color") != nil {
		t.Errorf("REPLACE metadata: %v", rp)
	}
	rg := s.call("b2_copy_file", map[string]any{"sourceFileId": sid, "fileName": "part.txt", "range": "bytes=2-5"})
	if jnum(rg, "contentLength") != 4 || jstr(rg, "contentSha1") != sha1hex([]byte("2345")) {
		t.Errorf("range copy object: %v", rg)
	}
	if r := s.byName(bn, "part.txt"); string(r.Raw) != "2345" {
		t.Errorf("range copy content %q", r.Raw)
	}
	wantErr(t, "copy range beyond end", s.try("b2_copy_file", map[string]any{"sourceFileId": sid, "fileName": "bad", "range": "bytes=50-60"}), 416, "range_not_satisfiable")
	db := s.call("b2_copy_file", map[string]any{"sourceFileId": sid, "fileName": "cross.txt", "destinationBucketId": other})
	if jstr(db, "bucketId") != other {
		t.Errorf("destinationBucketId ignored: %v", db)
	}
	if r := s.byName(on, "cross.txt"); !bytes.Equal(r.Raw, data) {
		t.Errorf("cross-bucket copy content: %v", r)
	}
	wantErr(t, "copy to unknown bucket", s.try("b2_copy_file", map[string]any{"sourceFileId": sid, "fileName": "x", "destinationBucketId": "000000000000000000000000"}), 400, "")
	if r := s.try("b2_copy_file", map[string]any{"sourceFileId": "4_znosuch_f000", "fileName": "x"}); r.Status != 400 && r.Status != 404 {
		t.Errorf("copy unknown source: %v, want 400/404", r)
	}
	big := s.upload(bid, "big.bin", bytes.Repeat([]byte("b"), 150), nil)
	r := s.try("b2_copy_file", map[string]any{"sourceFileId": jstr(big, "fileId"), "fileName": "big2.bin"})
	wantErr(t, "copy above MaxCopySize", r, 400, "source_too_large")
	if !strings.Contains(jstr(r.Body, "message"), "150") {
		t.Errorf("source_too_large message should name the size (\"Copy source too big: N\"): %q", jstr(r.Body, "message"))
	}
	if r := s.try("b2_copy_file", map[string]any{"sourceFileId": jstr(big, "fileId"), "fileName": "big3.bin", "range": "bytes=0-99"}); r.Status != 200 {
		t.Errorf("ranged copy within MaxCopySize: %v", r)
	}
	// Hide marker cannot be a copy source.
	h := s.call("b2_hide_file", map[string]any{"bucketId": bid, "fileName": "rep.txt"})
	if r := s.try("b2_copy_file", map[string]any{"sourceFileId": jstr(h, "fileId"), "fileName": "y"}); r.Status == 200 {
		t.Errorf("copy of a hide marker must fail: %v", r)
	}
}

// §11: large files.
func TestAPILargeFiles(t *testing.T) {
	const minPart = 1000
	_, base, hc := startServer(t, emulator.Options{AbsoluteMinimumPartSize: minPart, MaxCopySize: 2500})
	s := master(t, hc, base, 4)
	bn := bucketName("large")
	bid := s.bucket(bn)

	start := func(name string) string {
		t.Helper()
		f := s.call("b2_start_large_file", map[string]any{"bucketId": bid, "fileName": name, "contentType": "application/octet-stream", "fileInfo": map[string]string{"large_file_sha1": "x"}})
		if jstr(f, "action") != "start" || jstr(f, "contentSha1") != "none" || jnum(f, "contentLength") != 0 {
			t.Errorf("start_large_file object: %v", f)
		}
		return jstr(f, "fileId")
	}
	partURL := func(fid string) uploadURL {
		b := s.call("b2_get_upload_part_url", map[string]any{"fileId": fid})
		if jstr(b, "fileId") != fid {
			t.Errorf("get_upload_part_url fileId: %v", b)
		}
		return uploadURL{jstr(b, "uploadUrl"), jstr(b, "authorizationToken")}
	}
	uploadPart := func(u uploadURL, n int, data []byte, sha string) resp {
		req, _ := http.NewRequest("POST", u.url, bytes.NewReader(data))
		req.Header.Set("Authorization", u.token)
		req.Header.Set("X-Bz-Part-Number", strconv.Itoa(n))
		if sha == "" {
			sha = sha1hex(data)
		}
		req.Header.Set("X-Bz-Content-Sha1", sha)
		r, err := doReq(hc, req)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	p1 := bytes.Repeat([]byte("1"), 1500)
	p2 := bytes.Repeat([]byte("2"), 1200)
	p3 := []byte("tail")
	fid := start("big/file.bin")
	u := partURL(fid)
	for i, p := range [][]byte{p1, p2, p3} {
		r := uploadPart(u, i+1, p, "")
		if r.Status != 200 || jnum(r.Body, "partNumber") != int64(i+1) || jstr(r.Body, "contentSha1") != sha1hex(p) || jnum(r.Body, "contentLength") != int64(len(p)) {
			t.Errorf("upload_part %d: %v", i+1, r)
		}
	}
	wantErr(t, "upload_part sha1 mismatch", uploadPart(u, 4, p3, sha1hex([]byte("x"))), 400, "bad_request")
	wantErr(t, "upload_part number 0", uploadPart(u, 0, p3, ""), 400, "")
	wantErr(t, "upload_part number 10001", uploadPart(u, 10001, p3, ""), 400, "")
	lp := s.call("b2_list_parts", map[string]any{"fileId": fid, "maxPartCount": 2})
	if len(jlist(lp, "parts")) != 2 || jnum(lp, "nextPartNumber") != 3 {
		t.Errorf("list_parts page 1: %v", lp)
	}
	lp = s.call("b2_list_parts", map[string]any{"fileId": fid, "startPartNumber": 3})
	if len(jlist(lp, "parts")) != 1 || jnum(lp, "parts", "0", "partNumber") != 3 || lp["nextPartNumber"] != nil {
		t.Errorf("list_parts page 2: %v", lp)
	}
	wantErr(t, "list_parts maxPartCount 1001", s.try("b2_list_parts", map[string]any{"fileId": fid, "maxPartCount": 1001}), 400, "")
	un := s.call("b2_list_unfinished_large_files", map[string]any{"bucketId": bid})
	if es := entriesOf(un); len(es) != 1 || es[0].ID != fid || es[0].Action != "start" {
		t.Errorf("list_unfinished_large_files: %v", un)
	}
	wantErr(t, "list_unfinished maxFileCount 101", s.try("b2_list_unfinished_large_files", map[string]any{"bucketId": bid, "maxFileCount": 101}), 400, "out_of_range")
	vs := s.allVersions(bid, "", 100)
	if len(vs) != 1 || vs[0].Action != "start" {
		t.Errorf("unfinished large file in list_file_versions: %v", vs)
	}
	if l := s.listNames(bid, nil); len(jlist(l, "files")) != 0 {
		t.Errorf("unfinished large file must not be in list_file_names: %v", l)
	}
	wantErr(t, "download unfinished", s.byName(bn, "big/file.bin"), 404, "not_found")

	wantErr(t, "finish with wrong sha1", s.try("b2_finish_large_file", map[string]any{"fileId": fid, "partSha1Array": []string{sha1hex(p1), sha1hex(p1), sha1hex(p3)}}), 400, "part_sha1_mismatch")
	fin := s.call("b2_finish_large_file", map[string]any{"fileId": fid, "partSha1Array": []string{sha1hex(p1), sha1hex(p2), sha1hex(p3)}})
	total := len(p1) + len(p2) + len(p3)
	if jstr(fin, "action") != "upload" || jstr(fin, "contentSha1") != "none" || jnum(fin, "contentLength") != int64(total) || jstr(fin, "fileId") != fid || jstr(fin, "fileInfo", "large_file_sha1") != "x" {
		t.Errorf("finish object: %v", fin)
	}
	d := s.byName(bn, "big/file.bin")
	if d.Status != 200 || !bytes.Equal(d.Raw, append(append(append([]byte{}, p1...), p2...), p3...)) || d.Header.Get("X-Bz-Content-Sha1") != "none" {
		t.Errorf("download large file: status %d len %d sha %q", d.Status, len(d.Raw), d.Header.Get("X-Bz-Content-Sha1"))
	}
	whole := append(append(append([]byte{}, p1...), p2...), p3...)
	if rg := s.download("GET", "/file/"+bn+"/big/file.bin", s.token, map[string]string{"Range": "bytes=1400-1600"}); rg.Status != 206 || !bytes.Equal(rg.Raw, whole[1400:1601]) {
		t.Errorf("range across part boundary: status %d len %d", rg.Status, len(rg.Raw))
	}
	if hd := s.download("HEAD", "/b2api/v4/b2_download_file_by_id?fileId="+fid, s.token, nil); hd.Status != 200 || hd.Header.Get("Content-Length") != strconv.Itoa(total) {
		t.Errorf("HEAD by id on large file: %v %q", hd, hd.Header.Get("Content-Length"))
	}
	if r := s.try("b2_finish_large_file", map[string]any{"fileId": fid, "partSha1Array": []string{sha1hex(p1), sha1hex(p2), sha1hex(p3)}}); r.Status != 400 {
		t.Errorf("second finish: %v, want 400 (§11)", r)
	}

	// Part below the minimum that is not the last.
	f2 := start("small-parts")
	u2 := partURL(f2)
	sm := bytes.Repeat([]byte("s"), minPart-1)
	uploadPart(u2, 1, sm, "")
	uploadPart(u2, 2, p3, "")
	wantErr(t, "finish with a non-last part below minimum", s.try("b2_finish_large_file", map[string]any{"fileId": f2, "partSha1Array": []string{sha1hex(sm), sha1hex(p3)}}), 400, "")
	// Gap in part numbers.
	f3 := start("gappy")
	u3 := partURL(f3)
	uploadPart(u3, 1, p1, "")
	uploadPart(u3, 3, p3, "")
	wantErr(t, "finish with a gap", s.try("b2_finish_large_file", map[string]any{"fileId": f3, "partSha1Array": []string{sha1hex(p1), sha1hex(p3)}}), 400, "missing_part")
	// Re-uploading a part number replaces it.
	uploadPart(u3, 2, p2, "")
	uploadPart(u3, 2, p1, "")
	if r := s.try("b2_finish_large_file", map[string]any{"fileId": f3, "partSha1Array": []string{sha1hex(p1), sha1hex(p1), sha1hex(p3)}}); r.Status != 200 {
		t.Errorf("finish after replacing part 2: %v", r)
	}
	// Cancel.
	c := s.call("b2_cancel_large_file", map[string]any{"fileId": f2})
	if jstr(c, "fileId") != f2 || jstr(c, "fileName") != "small-parts" || jstr(c, "bucketId") != bid {
		t.Errorf("cancel response: %v", c)
	}
	if r := s.try("b2_list_parts", map[string]any{"fileId": f2}); r.Status == 200 {
		t.Errorf("list_parts after cancel should fail: %v", r)
	}
	if un := s.call("b2_list_unfinished_large_files", map[string]any{"bucketId": bid}); len(jlist(un, "files")) != 0 {
		t.Errorf("unfinished after cancel/finish: %v", un)
	}

	// copy_part from an existing file, including ranges, then finish.
	src := s.upload(bid, "src.bin", append(append([]byte{}, p1...), p2...), nil)
	f4 := start("copied-large")
	cp1 := s.call("b2_copy_part", map[string]any{"sourceFileId": jstr(src, "fileId"), "largeFileId": f4, "partNumber": 1, "range": "bytes=0-1499"})
	cp2 := s.call("b2_copy_part", map[string]any{"sourceFileId": jstr(src, "fileId"), "largeFileId": f4, "partNumber": 2, "range": "bytes=1500-2699"})
	if jstr(cp1, "contentSha1") != sha1hex(p1) || jnum(cp2, "contentLength") != 1200 || jnum(cp2, "partNumber") != 2 {
		t.Errorf("copy_part responses: %v %v", cp1, cp2)
	}
	cp3 := s.call("b2_copy_part", map[string]any{"sourceFileId": jstr(fin, "fileId"), "largeFileId": f4, "partNumber": 3})
	if jnum(cp3, "contentLength") != int64(total) {
		t.Errorf("copy_part of a whole large file: %v", cp3)
	}
	wantErr(t, "copy_part bad range", s.try("b2_copy_part", map[string]any{"sourceFileId": jstr(src, "fileId"), "largeFileId": f4, "partNumber": 4, "range": "bytes=5000-6000"}), 416, "range_not_satisfiable")
	fin4 := s.call("b2_finish_large_file", map[string]any{"fileId": f4, "partSha1Array": []string{sha1hex(p1), sha1hex(p2), jstr(cp3, "contentSha1")}})
	if jnum(fin4, "contentLength") != int64(len(p1)+len(p2)+total) {
		t.Errorf("finish copied large file: %v", fin4)
	}
	want := append(append(append([]byte{}, p1...), p2...), d.Raw...)
	if r := s.byName(bn, "copied-large"); !bytes.Equal(r.Raw, want) {
		t.Errorf("copied large file content mismatch (len %d want %d)", len(r.Raw), len(want))
	}
	// A large-file source too big for b2_copy_file.
	wantErr(t, "copy_file of large source above MaxCopySize", s.try("b2_copy_file", map[string]any{"sourceFileId": jstr(fin4, "fileId"), "fileName": "nope"}), 400, "source_too_large")
	// delete_file_version on an unfinished large file behaves like cancel.
	f5 := start("to-delete")
	s.call("b2_delete_file_version", map[string]any{"fileName": "to-delete", "fileId": f5})
	for _, e := range s.allVersions(bid, "to-delete", 100) {
		t.Errorf("delete of unfinished large file left %v", e)
	}
}

// §7, §2.2: concurrent reuse of one upload token → 400 auth_token_limit.
func TestAPIUploadTokenConcurrentReuse(t *testing.T) {
	_, base, hc := startServer(t, emulator.Options{})
	s := master(t, hc, base, 4)
	bn := bucketName("tokenreuse")
	bid := s.bucket(bn)
	u := s.getUploadURL(bid)
	first := bytes.Repeat([]byte("a"), 8<<20)
	rest := []byte("end")
	body := &blockingBody{first: append([]byte{}, first...), rest: rest, release: make(chan struct{}), started: make(chan struct{})}
	all := append(append([]byte{}, first...), rest...)
	req, _ := http.NewRequest("POST", u.url, body)
	req.ContentLength = int64(len(all))
	req.Header.Set("Authorization", u.token)
	req.Header.Set("X-Bz-File-Name", "slow.bin")
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("X-Bz-Content-Sha1", sha1hex(all))
	done := make(chan resp, 1)
	go func() {
		r, err := doReq(hc, req)
		if err != nil {
			r = resp{Status: -1, Raw: []byte(err.Error())}
		}
		done <- r
	}()
	<-body.started
	r, err := rawUpload(hc, u, "second.txt", []byte("x"), "", nil)
	close(body.release)
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, "concurrent upload with the same token", r, 400, "auth_token_limit")
	if !strings.HasPrefix(jstr(r.Body, "message"), "more than one upload using auth token") {
		t.Errorf("auth_token_limit message should start %q (clients match it): %q", "more than one upload using auth token", jstr(r.Body, "message"))
	}
	if fr := <-done; fr.Status != 200 {
		t.Errorf("the first upload must still succeed: %v", fr)
	}
	// Sequential reuse is fine.
	if r, _ := rawUpload(hc, u, "third.txt", []byte("x"), "", nil); r.Status != 200 {
		t.Errorf("sequential reuse of upload token: %v", r)
	}
	got := names(s.allNames(bid, "", "", 100))
	if !cmp.Equal(got, []string{"slow.bin", "third.txt"}) {
		t.Errorf("stored names: %v", got)
	}
}
