package command

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/b2plan/b2plan/config"
)

// b2NameEscape percent-encodes a file name for X-Bz-File-Name ('/' kept).
func b2NameEscape(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("/-_.~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// TestImportObjectsHostileNames: file names made to escape the import directory or break
// the generated configuration ("..", absolute, newlines and quotes meant to inject a block,
// NUL, backslashes, very long) are uploaded with raw calls (those B2 accepts); import
// -objects writes no file outside its directory (the whole tree around it compared before
// and after), the configuration it writes loads with only the expected blocks, and the
// plan of it is empty.
func TestImportObjectsHostileNames(t *testing.T) {
	e := newKeyEnv(t)
	bid := e.rawCall("b2_create_bucket", map[string]any{"bucketName": "imp-hostile", "bucketType": "allPrivate"})["bucketId"].(string)
	names := []string{"ok.txt", "../escape.txt", "a/../../escape2.txt", "/abs.txt", "x/\nbucket \"pwn\" {\n  name = \"pwned-bucket\"\n}\n#",
		"q\"uote\\back.txt", "nul\x00byte", "dot/./x", "sp ace/é.txt", strings.Repeat("d/", 300) + "deep.txt",
		strings.Repeat("L", 256) + ".txt", "tail/", "x/\r\nobject \"y\" {}"}
	accepted := 0
	for _, n := range names {
		u := e.rawCall("b2_get_upload_url", map[string]any{"bucketId": bid})
		data := []byte("content of " + n)
		req, _ := http.NewRequest("POST", u["uploadUrl"].(string), strings.NewReader(string(data)))
		req.Header.Set("Authorization", u["authorizationToken"].(string))
		req.Header.Set("X-Bz-File-Name", b2NameEscape(n))
		req.Header.Set("Content-Type", "text/plain")
		sum := sha1.Sum(data)
		req.Header.Set("X-Bz-Content-Sha1", hex.EncodeToString(sum[:]))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == 200 {
			accepted++
		}
		t.Logf("upload %q: %d", n, resp.StatusCode)
	}
	if accepted < 6 {
		t.Fatalf("only %d hostile names accepted by the emulator", accepted)
	}
	root := e.dir
	snapshot := func() []string {
		var out []string
		filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
			if err == nil {
				out = append(out, p)
			}
			return nil
		})
		sort.Strings(out)
		return out
	}
	dir := filepath.Join(root, "work", "adopt")
	os.MkdirAll(dir, 0o755)
	before := snapshot()
	code, so, se := e.run("import", "-buckets=imp-hostile", "-keys=none", "-objects=imp-hostile/*", "-objects=imp-hostile/*/*",
		"-objects=imp-hostile/*/*/*", "-objects=imp-hostile/d/*", "-out="+filepath.Join(dir, "main.hcl"))
	if code != 0 {
		t.Fatalf("import: %d\n%s\n%s", code, so, se)
	}
	for _, p := range snapshot() {
		if !strings.HasPrefix(p, dir+string(filepath.Separator)) && !containsStr(before, p) {
			t.Errorf("import wrote %s, outside %s", p, dir)
		}
	}
	src, _ := os.ReadFile(filepath.Join(dir, "main.hcl"))
	t.Logf("%s\n%s", src, se)
	d, diags := config.Load(dir, config.VarInputs{})
	if diags.HasErrors() {
		t.Fatalf("the import does not load: %v\n%s", diags, src)
	}
	if len(d.Buckets) != 1 || d.Buckets[0].Name != "imp-hostile" {
		t.Fatalf("buckets declared: %v\n%s", d.Buckets, src)
	}
	for _, o := range d.Objects {
		p := o.Source
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, filepath.FromSlash(p))
		}
		if !strings.HasPrefix(p, filepath.Join(dir, "files")+string(filepath.Separator)) {
			t.Errorf("object %s has its source outside files/: %s", o.Address, o.Source)
		}
	}
	if len(d.Objects) < 2 {
		t.Errorf("%d objects declared", len(d.Objects))
	}
	if code, so, se := e.run("plan", "-detailed-exitcode", dir); code != 0 {
		t.Fatalf("plan of the import: %d\n%s\n%s", code, so, se)
	}
}

func containsStr(list []string, s string) bool {
	i := sort.SearchStrings(list, s)
	return i < len(list) && list[i] == s
}
