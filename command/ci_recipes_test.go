package command

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The CI recipes of examples/ci are tested as written: their shell steps are taken from the
// YAML files and run with bash (as the runners do: -e -o pipefail), with b2plan against the
// embedded emulator and stand-ins for gh and for curl to the GitLab API (testdata/ci) that
// keep comments, notes and issues as files.

func ciTools(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"bash", "jq", "sha256sum", "find", "xargs"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
}

// stepScript returns the run: block of the GitHub Actions step with this name.
func stepScript(t *testing.T, yml, name string) string {
	t.Helper()
	lines := strings.Split(yml, "\n")
	for i, l := range lines {
		if strings.TrimSpace(l) != "- name: "+name {
			continue
		}
		ind := len(l) - len(strings.TrimLeft(l, " ")) + 2
		for j := i + 1; j < len(lines); j++ {
			lj := lines[j]
			if strings.TrimSpace(lj) != "" && len(lj)-len(strings.TrimLeft(lj, " ")) < ind {
				break
			}
			if strings.TrimSpace(lj) == "run: |" {
				return block(lines[j+1:], len(lj)-len(strings.TrimLeft(lj, " ")))
			}
		}
	}
	t.Fatalf("no step %q with a run: | block", name)
	return ""
}

// jobScript returns the script: - | block of the GitLab job with this name.
func jobScript(t *testing.T, yml, job string) string {
	t.Helper()
	lines := strings.Split(yml, "\n")
	in := false
	for i, l := range lines {
		switch {
		case l == job+":":
			in = true
		case in && l != "" && !strings.HasPrefix(l, " "):
			in = false
		case in && strings.TrimSpace(l) == "script:":
			for j := i + 1; j < len(lines); j++ {
				if strings.HasPrefix(strings.TrimSpace(lines[j]), "#") {
					continue
				}
				if strings.TrimSpace(lines[j]) == "- |" {
					return block(lines[j+1:], len(lines[j])-len(strings.TrimLeft(lines[j], " ")))
				}
				break
			}
		}
	}
	t.Fatalf("no job %q with a script: - | block", job)
	return ""
}

// block returns the lines indented deeper than ind, dedented.
func block(lines []string, ind int) string {
	var out []string
	strip := -1
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			out = append(out, "")
			continue
		}
		n := len(l) - len(strings.TrimLeft(l, " "))
		if n <= ind {
			break
		}
		if strip < 0 {
			strip = n
		}
		out = append(out, l[min(strip, n):])
	}
	return strings.Join(out, "\n") + "\n"
}

type ciEnv struct {
	t   *testing.T
	ws  string // the checkout (working directory of the steps)
	env map[string]string
}

func newCIEnv(t *testing.T) *ciEnv {
	ciTools(t)
	ws := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	stubs, err := filepath.Abs("testdata/ci")
	if err != nil {
		t.Fatal(err)
	}
	// bin/b2plan is this test binary running the CLI (see TestMain).
	mustWrite(t, filepath.Join(ws, "bin/b2plan"), "#!/bin/sh\n"+runMainEnv+"=1 exec '"+exe+"' \"$@\"\n", 0o755)
	state := filepath.Join(t.TempDir(), "state")
	for _, d := range []string{"gh", "gl", "artifacts"} {
		if err := os.MkdirAll(filepath.Join(state, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return &ciEnv{t: t, ws: ws, env: map[string]string{
		"PATH": stubs + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME": t.TempDir(),
		"B2PLAN_DIR": "infra", "B2_ENDPOINT": "local://" + filepath.Join(state, "emulator"),
		"GH_STATE": filepath.Join(state, "gh"), "GH_ARTIFACTS": filepath.Join(state, "artifacts"), "GL_STATE": filepath.Join(state, "gl"),
		"GITHUB_OUTPUT": filepath.Join(state, "github_output"), "GITHUB_SHA": "0123456789abcdef0123",
		"GITHUB_SERVER_URL": "https://github.example", "GITHUB_REPOSITORY": "acme/infra", "GITHUB_RUN_ID": "99",
		"GITHUB_WORKFLOW": "b2plan",
		"CI_API_V4_URL":   "https://gitlab.example/api/v4", "CI_PROJECT_ID": "5", "CI_MERGE_REQUEST_IID": "8",
		"CI_COMMIT_SHORT_SHA": "0123abcd", "CI_JOB_URL": "https://gitlab.example/job/1", "GITLAB_API_TOKEN": "glpat-test",
	}}
}

func mustWrite(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

// run runs a script as a runner does; it returns the output and the exit code.
func (c *ciEnv) run(script string, extra ...string) (string, int) {
	c.t.Helper()
	f := filepath.Join(c.t.TempDir(), "step.sh")
	mustWrite(c.t, f, script, 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "--noprofile", "--norc", "-eo", "pipefail", f)
	cmd.Dir = c.ws
	for k, v := range c.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, extra...)
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			c.t.Fatalf("run: %v\n%s", err, out)
		}
		code = ee.ExitCode()
	}
	return string(out), code
}

func (c *ciEnv) outputs() map[string]string {
	b, _ := os.ReadFile(c.env["GITHUB_OUTPUT"])
	m := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = v
		}
	}
	os.Remove(c.env["GITHUB_OUTPUT"])
	return m
}

func (c *ciEnv) json(rel string, v any) {
	c.t.Helper()
	b, err := os.ReadFile(filepath.Join(filepath.Dir(c.env["GH_STATE"]), rel))
	if err != nil {
		c.t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		c.t.Fatal(err)
	}
}

type ghComment struct {
	ID    int    `json:"id"`
	Body  string `json:"body"`
	Edits int    `json:"edits"`
}

type ghIssue struct {
	Number   int      `json:"number"`
	Title    string   `json:"title"`
	Body     string   `json:"body"`
	Comments []string `json:"comments"`
}

const ciConfig = `bucket "assets" {
  name = "ci-assets"
}
`

func TestGitHubRecipe(t *testing.T) {
	raw, err := os.ReadFile("../examples/ci/github-actions.yml")
	if err != nil {
		t.Fatal(err)
	}
	yml := string(raw)
	c := newCIEnv(t)
	mustWrite(t, filepath.Join(c.ws, "infra/main.hcl"), ciConfig, 0o644)
	check := stepScript(t, yml, "Validate, check formatting, plan")
	comment := stepScript(t, yml, "Post the plan on the pull request")
	fail := stepScript(t, yml, "Fail if a check failed")
	applySaved := stepScript(t, yml, "Apply the saved plan of the merged pull request")
	replan := stepScript(t, yml, "Plan main and apply that plan")
	drift := stepScript(t, yml, "Detect drift")
	for _, s := range []string{check, comment, fail, applySaved, replan, drift} {
		if strings.Contains(s, "${{") {
			t.Errorf("a run: block uses an expression (pass it through env: instead):\n%s", s)
		}
	}

	// A pull request: the checks, one comment, the artifact.
	pr := func() map[string]string {
		t.Helper()
		out, code := c.run(check)
		if code != 0 {
			t.Fatalf("check step exit %d:\n%s", code, out)
		}
		o := c.outputs()
		if out, code := c.run(comment, "PR=7", "VALIDATE="+o["validate"], "FMT="+o["fmt"], "PLAN="+o["plan"]); code != 0 {
			t.Fatalf("comment step exit %d:\n%s", code, out)
		}
		return o
	}
	o := pr()
	if o["validate"] != "0" || o["fmt"] != "0" || o["plan"] != "2" {
		t.Fatalf("outputs %v", o)
	}
	var comments []ghComment
	c.json("gh/comments.json", &comments)
	if len(comments) != 1 || !strings.HasPrefix(comments[0].Body, "<!-- b2plan plan: infra -->") ||
		!strings.Contains(comments[0].Body, `+ bucket "assets"`) || !strings.Contains(comments[0].Body, "Changes planned") {
		t.Fatalf("comments: %+v", comments)
	}
	if out, code := c.run(fail, "VALIDATE=0", "FMT=0", "PLAN=2"); code != 0 {
		t.Errorf("fail step with a good plan: exit %d\n%s", code, out)
	}
	artifact := filepath.Join(c.env["GH_ARTIFACTS"], "b2plan-plan-pr-7")
	for _, f := range []string{"b2plan.plan", "plan.txt", "config.sha256"} {
		b, err := os.ReadFile(filepath.Join(c.ws, f))
		if err != nil {
			t.Fatal(err)
		}
		mustWrite(t, filepath.Join(artifact, f), string(b), 0o644)
	}

	// Another push with a formatting error: the same comment, updated, says so; the job fails.
	mustWrite(t, filepath.Join(c.ws, "infra/extra.hcl"), "bucket \"media\" {\nname   =    \"ci-media\"\n}\n", 0o644)
	o = pr()
	c.json("gh/comments.json", &comments)
	if len(comments) != 1 || comments[0].Edits != 1 || !strings.Contains(comments[0].Body, "fmt -check failed") ||
		!strings.Contains(comments[0].Body, "b2plan fmt infra") {
		t.Fatalf("comment after a fmt failure: %+v", comments)
	}
	if out, code := c.run(fail, "VALIDATE="+o["validate"], "FMT="+o["fmt"], "PLAN="+o["plan"]); code != 1 || !strings.Contains(out, "fmt=3") {
		t.Errorf("fail step after a fmt failure: exit %d\n%s", code, out)
	}
	// ... and with an invalid configuration: no plan, the validate error in the comment.
	mustWrite(t, filepath.Join(c.ws, "infra/extra.hcl"), "bucket \"media\" {\n  nme = \"ci-media\"\n}\n", 0o644)
	o = pr()
	c.json("gh/comments.json", &comments)
	if o["plan"] != "skipped" || len(comments) != 1 || !strings.Contains(comments[0].Body, "validate failed") ||
		!strings.Contains(comments[0].Body, "nme") || strings.Contains(comments[0].Body, "Changes planned") {
		t.Fatalf("comment after a validate failure (outputs %v): %+v", o, comments)
	}
	if _, code := c.run(fail, "VALIDATE="+o["validate"], "FMT="+o["fmt"], "PLAN="+o["plan"]); code != 1 {
		t.Errorf("fail step after a validate failure: exit %d", code)
	}

	// The merge: the configuration differs from the one planned (extra.hcl): refused.
	gh := []string{"GH_PR=7", "GH_HEAD_SHA=feedface"}
	out, code := c.run(applySaved, gh...)
	if code == 0 || !strings.Contains(out, "differs from the one pull request #7 planned") || strings.Contains(out, "Apply complete") {
		t.Fatalf("apply of a plan for another configuration: exit %d\n%s", code, out)
	}
	// The merged configuration is the planned one: applied, exactly once.
	os.Remove(filepath.Join(c.ws, "infra/extra.hcl"))
	out, code = c.run(applySaved, gh...)
	if code != 0 || !strings.Contains(out, "Apply complete! Resources: 1 added") {
		t.Fatalf("apply saved: exit %d\n%s", code, out)
	}
	out, code = c.run(applySaved, gh...)
	if code == 0 || !strings.Contains(out, "applied before") {
		t.Fatalf("second apply of the saved plan: exit %d\n%s", code, out)
	}
	// A direct push (no pull request): refused with the way out.
	out, code = c.run(applySaved, "GH_PR=")
	if code == 0 || !strings.Contains(out, "action=replan-apply") {
		t.Fatalf("apply without a pull request: exit %d\n%s", code, out)
	}

	// Nightly drift: none, then a bucket added to the configuration (a change not applied).
	out, code = c.run(drift)
	if code != 0 || !strings.Contains(out, "No drift") {
		t.Fatalf("drift without drift: exit %d\n%s", code, out)
	}
	mustWrite(t, filepath.Join(c.ws, "infra/extra.hcl"), "bucket \"media\" {\n  name = \"ci-media\"\n}\n", 0o644)
	for i := 0; i < 2; i++ {
		if out, code := c.run(drift); code != 0 {
			t.Fatalf("drift run %d: exit %d\n%s", i, code, out)
		}
	}
	var issues []ghIssue
	c.json("gh/issues.json", &issues)
	if len(issues) != 1 || issues[0].Title != "b2plan: drift detected in infra" || !strings.Contains(issues[0].Body, `+ bucket "media"`) ||
		len(issues[0].Comments) != 1 {
		t.Fatalf("issues after two drift runs: %+v", issues)
	}

	// The recovery, as documented: replan and apply.
	out, code = c.run(replan)
	if code != 0 || !strings.Contains(out, "Apply complete! Resources: 1 added") {
		t.Fatalf("replan-apply: exit %d\n%s", code, out)
	}
	if out, code := c.run(drift); code != 0 || !strings.Contains(out, "No drift") {
		t.Fatalf("drift after the replan: exit %d\n%s", code, out)
	}
}

type glNote struct {
	ID    int    `json:"id"`
	Body  string `json:"body"`
	Edits int    `json:"edits"`
}

type glIssue struct {
	IID         int      `json:"iid"`
	Title       string   `json:"title"`
	Description string   `json:"description"`
	Notes       []string `json:"notes"`
}

func TestGitLabRecipe(t *testing.T) {
	raw, err := os.ReadFile("../examples/ci/gitlab-ci.yml")
	if err != nil {
		t.Fatal(err)
	}
	yml := string(raw)
	c := newCIEnv(t)
	mustWrite(t, filepath.Join(c.ws, "infra/main.hcl"), ciConfig, 0o644)
	mr := jobScript(t, yml, "plan:merge_request")
	planMain := jobScript(t, yml, "plan:main")
	apply := jobScript(t, yml, "apply")
	drift := jobScript(t, yml, "drift")

	out, code := c.run(mr)
	if code != 0 {
		t.Fatalf("merge request job: exit %d\n%s", code, out)
	}
	var notes []glNote
	c.json("gl/notes.json", &notes)
	if len(notes) != 1 || !strings.Contains(notes[0].Body, `+ bucket "assets"`) || !strings.Contains(notes[0].Body, "Changes planned") {
		t.Fatalf("notes: %+v", notes)
	}
	// A push with a formatting error: the note is updated, the job fails.
	mustWrite(t, filepath.Join(c.ws, "infra/extra.hcl"), "bucket \"media\" {\nname   =    \"ci-media\"\n}\n", 0o644)
	out, code = c.run(mr)
	c.json("gl/notes.json", &notes)
	if code != 1 || len(notes) != 1 || notes[0].Edits != 1 || !strings.Contains(notes[0].Body, "fmt -check failed") {
		t.Fatalf("merge request job with a fmt error: exit %d, notes %+v\n%s", code, notes, out)
	}
	// Without a token: no API call, the note is still written as an artifact.
	os.Remove(filepath.Join(c.ws, "infra/extra.hcl"))
	calls, _ := os.ReadFile(filepath.Join(c.env["GL_STATE"], "log"))
	if out, code := c.run(mr, "GITLAB_API_TOKEN="); code != 0 {
		t.Fatalf("merge request job without a token: exit %d\n%s", code, out)
	}
	if after, _ := os.ReadFile(filepath.Join(c.env["GL_STATE"], "log")); len(after) != len(calls) {
		t.Error("API called without a token")
	}
	if b, _ := os.ReadFile(filepath.Join(c.ws, "note.md")); !strings.Contains(string(b), "Changes planned") {
		t.Errorf("note.md: %s", b)
	}

	// Default branch: plan, then apply the saved plan (an artifact of plan:main).
	if out, code := c.run(planMain); code != 0 || !regexp.MustCompile(`Plan: 1 to add`).MatchString(out) {
		t.Fatalf("plan:main: exit %d\n%s", code, out)
	}
	if out, code := c.run(apply); code != 0 || !strings.Contains(out, "Apply complete! Resources: 1 added") {
		t.Fatalf("apply: exit %d\n%s", code, out)
	}
	if out, code := c.run(apply); code == 0 || !strings.Contains(out, "applied before") {
		t.Fatalf("apply again: exit %d\n%s", code, out)
	}

	// Drift: none (exit 0), then twice (exit 2, a warning): one issue, commented on.
	if out, code := c.run(drift); code != 0 || !strings.Contains(out, "No drift") {
		t.Fatalf("drift: exit %d\n%s", code, out)
	}
	mustWrite(t, filepath.Join(c.ws, "infra/extra.hcl"), "bucket \"media\" {\n  name = \"ci-media\"\n}\n", 0o644)
	for i := 0; i < 2; i++ {
		if out, code := c.run(drift); code != 2 {
			t.Fatalf("drift run %d: exit %d\n%s", i, code, out)
		}
	}
	var issues []glIssue
	c.json("gl/issues.json", &issues)
	if len(issues) != 1 || issues[0].Title != "b2plan: drift detected in infra" || !strings.Contains(issues[0].Description, `+ bucket "media"`) ||
		len(issues[0].Notes) != 1 {
		t.Fatalf("issues: %+v", issues)
	}
}
