package interop

import (
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/b2plan/b2plan/command"
	"github.com/b2plan/b2plan/emulator"
)

// env is one emulator on a loopback port plus the third-party tools.
type env struct {
	t   *testing.T
	url string
	dir string
}

func newEnv(t *testing.T, buckets ...string) *env {
	t.Helper()
	srv, err := emulator.NewServer(emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	url, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, url: url, dir: t.TempDir()}
	for _, b := range buckets {
		e.aws("s3api", "create-bucket", "--bucket", b)
	}
	return e
}

func needPython(t *testing.T) {
	t.Helper()
	if err := exec.Command(python(), "-c", "import b2sdk.v2").Run(); err != nil {
		t.Skip("Backblaze's Python SDK (b2sdk) is not installed: apt-get install python3-b2sdk")
	}
}

func needAWS(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("aws CLI not on PATH")
	}
	if err := exec.Command("aws", "--version").Run(); err != nil {
		t.Skip("aws CLI does not run: " + err.Error())
	}
}

// python prefers Debian's interpreter, where python3-b2sdk installs.
func python() string {
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		return "/usr/bin/python3"
	}
	return "python3"
}

func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AWS_") || strings.HasPrefix(kv, "B2_") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

func (e *env) aws(args ...string) string {
	e.t.Helper()
	cmd := exec.Command("aws", append([]string{"--endpoint-url", e.url}, args...)...)
	cmd.Env = append(cleanEnv(), "AWS_ACCESS_KEY_ID="+emulator.DefaultKeyID, "AWS_SECRET_ACCESS_KEY="+emulator.DefaultKey,
		"AWS_DEFAULT_REGION=us-west-000", "AWS_CONFIG_FILE="+filepath.Join(e.dir, "none"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(e.dir, "none"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		e.t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// putLarge uploads data with the aws CLI, which uses multipart above 8 MB:
// the version carries no SHA-1.
func (e *env) putLarge(bucket, name string, data []byte) {
	e.t.Helper()
	f := filepath.Join(e.dir, "upload.bin")
	if err := os.WriteFile(f, data, 0o600); err != nil {
		e.t.Fatal(err)
	}
	e.aws("s3", "cp", "--only-show-errors", f, "s3://"+bucket+"/"+name)
}

// version is one row of the b2sdk inventory.
type version struct {
	Name        string            `json:"name"`
	ID          string            `json:"id"`
	Action      string            `json:"action"`
	Size        int64             `json:"size"`
	ContentSHA1 string            `json:"content_sha1"`
	Info        map[string]string `json:"info"`
	SHA1        string            `json:"sha1"`
}

func (e *env) sdk(bucket string, cmd map[string]any) string {
	e.t.Helper()
	cmd["url"], cmd["key_id"], cmd["key"], cmd["bucket"] = e.url, emulator.DefaultKeyID, emulator.DefaultKey, bucket
	js, _ := json.Marshal(cmd)
	c := exec.Command(python(), "testdata/b2sdk_tool.py", string(js))
	c.Env = cleanEnv()
	var stderr bytes.Buffer
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		e.t.Fatalf("b2sdk %v: %v\n%s", cmd["op"], err, stderr.String())
	}
	return string(out)
}

// inventory lists every version of bucket through b2sdk, downloading each
// upload and hashing its bytes; it returns the versions by name, newest
// first.
func (e *env) inventory(bucket string) map[string][]version {
	e.t.Helper()
	out := map[string][]version{}
	for _, line := range strings.Split(strings.TrimSpace(e.sdk(bucket, map[string]any{"op": "inventory"})), "\n") {
		if line == "" {
			continue
		}
		var v version
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			e.t.Fatalf("inventory line %q: %v", line, err)
		}
		out[v.Name] = append(out[v.Name], v)
	}
	return out
}

type step = map[string]string

func (e *env) seed(bucket string, steps []step) {
	e.t.Helper()
	e.sdk(bucket, map[string]any{"op": "seed", "steps": steps})
}

// b2plan runs the CLI in-process against the emulator and returns its exit
// status and output.
func (e *env) b2plan(args ...string) (int, string) {
	env := []string{"B2_ENDPOINT=" + e.url, "B2_APPLICATION_KEY_ID=" + emulator.DefaultKeyID, "B2_APPLICATION_KEY=" + emulator.DefaultKey}
	var out, errb bytes.Buffer
	code := command.RunWithEnv(args, env, strings.NewReader(""), &out, &errb)
	return code, out.String() + errb.String()
}

func (e *env) config(body string) string {
	e.t.Helper()
	dir := filepath.Join(e.dir, fmt.Sprintf("cfg%d", len(body)))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(body), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return dir
}

func moveConfig(bucket, from, to, extra string) string {
	return fmt.Sprintf("bucket %q {\n  name = %q\n}\n\nmove \"m\" {\n  bucket = bucket.%s.name\n  from   = %q\n  to     = %q\n%s}\n",
		bucket, bucket, bucket, from, to, extra)
}

func random(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func sum(b []byte) string { h := sha1.Sum(b); return hex.EncodeToString(h[:]) }

// only returns the single upload version of name, failing otherwise.
func only(t *testing.T, inv map[string][]version, name string) version {
	t.Helper()
	vs := inv[name]
	if len(vs) != 1 || vs[0].Action != "upload" {
		t.Fatalf("%s: want exactly one upload version, have %+v", name, vs)
	}
	return vs[0]
}

// A different large file without SHA-1 already at the destination is a
// conflict: apply fails (on_conflict = "fail") and both files keep their
// bytes. Issue 11, item 1.
func TestLargeFilesWithoutSHA1AreNotTakenAsCopies(t *testing.T) {
	needAWS(t)
	needPython(t)
	e := newEnv(t, "probe-large")
	src, other := random(t, 20<<20), random(t, 20<<20)
	e.putLarge("probe-large", "nightly/db.tar", src)
	e.putLarge("probe-large", "archive/db.tar", other)
	before := e.inventory("probe-large")
	for _, n := range []string{"nightly/db.tar", "archive/db.tar"} {
		if v := only(t, before, n); v.ContentSHA1 != "none" && v.ContentSHA1 != "" {
			t.Fatalf("seed %s carries a SHA-1 (%q): the probe needs versions without one", n, v.ContentSHA1)
		}
	}
	dir := e.config(moveConfig("probe-large", "nightly/", "archive/", ""))
	code, out := e.b2plan("apply", "-auto-approve", dir)
	if code == 0 {
		t.Errorf("apply exited 0; want a conflict:\n%s", out)
	}
	after := e.inventory("probe-large")
	if got := only(t, after, "nightly/db.tar").SHA1; got != sum(src) {
		t.Errorf("nightly/db.tar bytes changed or lost: sha1 %s, want %s", got, sum(src))
	}
	if got := only(t, after, "archive/db.tar").SHA1; got != sum(other) {
		t.Errorf("archive/db.tar: sha1 %s, want %s", got, sum(other))
	}
	if !strings.Contains(strings.ToLower(out), "sha-1") {
		t.Errorf("the conflict does not say why (no SHA-1 to compare):\n%s", out)
	}
}

// With verify = "download", identical large files without SHA-1 are proven
// equal by hashing both sides, and the source is removed; different ones
// stay a conflict.
func TestVerifyDownloadProvesIdentity(t *testing.T) {
	needAWS(t)
	needPython(t)
	e := newEnv(t, "probe-verify")
	same, a, b := random(t, 9<<20), random(t, 9<<20), random(t, 9<<20)
	e.putLarge("probe-verify", "in/same.bin", same)
	e.putLarge("probe-verify", "out/same.bin", same)
	e.putLarge("probe-verify", "in/diff.bin", a)
	e.putLarge("probe-verify", "out/diff.bin", b)
	dir := e.config(moveConfig("probe-verify", "in/", "out/", "  verify = \"download\"\n"))
	code, out := e.b2plan("apply", "-auto-approve", dir)
	if code == 0 {
		t.Errorf("apply exited 0 although out/diff.bin differs:\n%s", out)
	}
	inv := e.inventory("probe-verify")
	if len(inv["in/same.bin"]) != 0 {
		t.Errorf("in/same.bin was proven copied but not removed: %+v", inv["in/same.bin"])
	}
	if got := only(t, inv, "out/same.bin").SHA1; got != sum(same) {
		t.Errorf("out/same.bin sha1 %s, want %s", got, sum(same))
	}
	if got := only(t, inv, "in/diff.bin").SHA1; got != sum(a) {
		t.Errorf("in/diff.bin lost: sha1 %s, want %s", got, sum(a))
	}
	if got := only(t, inv, "out/diff.bin").SHA1; got != sum(b) {
		t.Errorf("out/diff.bin overwritten: sha1 %s, want %s", got, sum(b))
	}
}

// A saved plan does not overwrite a destination object created after it
// was planned. Issue 11, item 2.
func TestSavedPlanRechecksDestinations(t *testing.T) {
	needAWS(t)
	needPython(t)
	e := newEnv(t, "probe-saved")
	var steps []step
	for i := 0; i < 5; i++ {
		steps = append(steps, step{"upload": fmt.Sprintf("src/f%d", i), "data": fmt.Sprintf("source %d", i)})
	}
	e.seed("probe-saved", steps)
	dir := e.config(moveConfig("probe-saved", "src/", "dst/", ""))
	plan := filepath.Join(e.dir, "plan.b2")
	if code, out := e.b2plan("plan", "-out="+plan, dir); code != 0 {
		t.Fatalf("plan exited %d:\n%s", code, out)
	}
	newer := []byte("written after the plan")
	f := filepath.Join(e.dir, "late.txt")
	if err := os.WriteFile(f, newer, 0o600); err != nil {
		t.Fatal(err)
	}
	e.aws("s3", "cp", "--only-show-errors", f, "s3://probe-saved/dst/f2")
	code, out := e.b2plan("apply", plan)
	if code == 0 {
		t.Errorf("apply of the saved plan exited 0 although dst/f2 appeared since:\n%s", out)
	}
	inv := e.inventory("probe-saved")
	if got := only(t, inv, "dst/f2").SHA1; got != sum(newer) {
		t.Errorf("dst/f2 was overwritten: sha1 %s, want the late upload's %s", got, sum(newer))
	}
	if got := only(t, inv, "src/f2").SHA1; got != sum([]byte("source 2")) {
		t.Errorf("src/f2 lost: sha1 %s", got)
	}
}

// versions = "all" reproduces every history exactly, middle-of-history
// hides included, and leaves nothing (no orphan hide marker) at the source.
// Issue 11, item 3.
func TestAllVersionsHistoriesExact(t *testing.T) {
	needAWS(t)
	needPython(t)
	e := newEnv(t, "probe-hist")
	var steps []step
	for i := 0; i < 6; i++ {
		n := fmt.Sprintf("old/mid%d", i) // upload, hide, upload
		steps = append(steps, step{"upload": n, "data": "first " + n}, step{"hide": n}, step{"upload": n, "data": "second " + n})
		n = fmt.Sprintf("old/gone%d", i) // upload, upload, hide: hidden now
		steps = append(steps, step{"upload": n, "data": "one " + n}, step{"upload": n, "data": "two " + n}, step{"hide": n})
		n = fmt.Sprintf("old/plain%d", i)
		steps = append(steps, step{"upload": n, "data": "only " + n})
	}
	e.seed("probe-hist", steps)
	before := e.inventory("probe-hist")
	dir := e.config(moveConfig("probe-hist", "old/", "new/", "  versions = \"all\"\n"))
	if code, out := e.b2plan("apply", "-auto-approve", dir); code != 0 {
		t.Fatalf("apply exited %d:\n%s", code, out)
	}
	after := e.inventory("probe-hist")
	for name, vs := range before {
		dest := "new/" + strings.TrimPrefix(name, "old/")
		if got := after[name]; len(got) != 0 {
			t.Errorf("%s: %d versions left at the source: %+v", name, len(got), got)
		}
		if got, want := history(after[dest]), history(vs); got != want {
			t.Errorf("%s: history at the destination\n got %s\nwant %s", dest, got, want)
		}
	}
	if code, out := e.b2plan("plan", "-detailed-exitcode", dir); code != 0 {
		t.Errorf("re-plan after a complete apply exited %d (want 0, no changes):\n%s", code, out)
	}
}

// history renders a newest-first version list as "upload:<sha1> hide ...".
func history(vs []version) string {
	var parts []string
	for _, v := range vs {
		if v.Action == "upload" {
			parts = append(parts, "upload:"+v.SHA1[:8])
		} else {
			parts = append(parts, v.Action)
		}
	}
	return strings.Join(parts, " ")
}

// Two applies of the same move at once end with exactly one copy of each
// object and no spurious failure. Issue 11, item 4.
func TestConcurrentAppliesLeaveOneCopy(t *testing.T) {
	needAWS(t)
	needPython(t)
	e := newEnv(t, "probe-conc")
	const n = 400
	var steps []step
	want := map[string]string{}
	for i := 0; i < n; i++ {
		data := fmt.Sprintf("object %d", i)
		steps = append(steps, step{"upload": fmt.Sprintf("a/f%04d", i), "data": data})
		want[fmt.Sprintf("b/f%04d", i)] = sum([]byte(data))
	}
	e.seed("probe-conc", steps)
	dir := e.config(moveConfig("probe-conc", "a/", "b/", ""))
	var wg sync.WaitGroup
	codes, outs := make([]int, 2), make([]string, 2)
	for i := range codes {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			codes[i], outs[i] = e.b2plan("apply", "-auto-approve", "-parallelism=8", dir)
		}(i)
	}
	wg.Wait()
	for i, c := range codes {
		if c != 0 {
			t.Errorf("apply %d exited %d:\n%s", i, c, outs[i])
		}
	}
	inv := e.inventory("probe-conc")
	var names []string
	for name := range inv {
		names = append(names, name)
	}
	sort.Strings(names)
	dups := 0
	for _, name := range names {
		if strings.HasPrefix(name, "a/") {
			t.Errorf("%s left at the source", name)
			continue
		}
		vs := inv[name]
		if len(vs) != 1 {
			dups++
			continue
		}
		if vs[0].SHA1 != want[name] {
			t.Errorf("%s: sha1 %s, want %s", name, vs[0].SHA1, want[name])
		}
	}
	if dups > 0 || len(names) != n {
		t.Errorf("%d names with more than one version; %d names at the destination, want %d", dups, len(names), n)
	}
}

// a/b/ → a/ with names under a/b/b/ converges: one apply, then an empty
// plan, every object exactly once. Issue 11, item 6.
func TestNestedPrefixesConverge(t *testing.T) {
	needAWS(t)
	needPython(t)
	e := newEnv(t, "probe-nest")
	names := []string{"a/b/x", "a/b/b/y", "a/b/b/b/z"}
	var steps []step
	for _, n := range names {
		steps = append(steps, step{"upload": n, "data": "data of " + n})
	}
	e.seed("probe-nest", steps)
	dir := e.config(moveConfig("probe-nest", "a/b/", "a/", ""))
	code, out := e.b2plan("apply", "-auto-approve", dir)
	if code != 0 {
		// Refusing at plan time is allowed, if it names the objects and
		// nothing was touched.
		inv := e.inventory("probe-nest")
		for _, n := range names {
			if got := only(t, inv, n).SHA1; got != sum([]byte("data of "+n)) {
				t.Errorf("%s changed by a refused apply", n)
			}
		}
		if !strings.Contains(out, "a/b/b/y") {
			t.Errorf("refusal does not name the objects:\n%s", out)
		}
		return
	}
	for i := 0; i < 2; i++ {
		if code, out := e.b2plan("plan", "-detailed-exitcode", dir); code != 0 {
			t.Fatalf("re-plan %d after a complete apply exited %d (want 0):\n%s", i, code, out)
		}
	}
	inv := e.inventory("probe-nest")
	total := 0
	for _, vs := range inv {
		total += len(vs)
	}
	if total != len(names) {
		t.Errorf("%d versions in the bucket after the move, want %d: %v", total, len(names), inv)
	}
}
