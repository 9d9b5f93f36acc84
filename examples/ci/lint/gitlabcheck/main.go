// Command gitlabcheck checks a .gitlab-ci.yml the way GitLab reads it, for the keywords the
// b2plan recipe uses: it parses the YAML, and reports unknown top-level or job keywords, jobs
// without a script, stages that are not declared, needs that name no job, and malformed
// rules, artifacts, cache and environment entries. (GitLab's own linter needs a GitLab
// instance; this runs offline in .ci/run.)
package main

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"go.yaml.in/yaml/v4"
)

var globalKeys = set("default", "include", "stages", "variables", "workflow", "image", "services", "cache", "before_script", "after_script")

var jobKeys = set("after_script", "allow_failure", "artifacts", "before_script", "cache", "coverage", "dependencies",
	"environment", "extends", "id_tokens", "image", "inherit", "interruptible", "needs", "parallel", "release",
	"resource_group", "retry", "rules", "script", "secrets", "services", "stage", "tags", "timeout", "trigger",
	"variables", "when")

var ruleKeys = set("if", "changes", "exists", "when", "allow_failure", "variables", "needs")
var artifactKeys = set("paths", "exclude", "expire_in", "expose_as", "name", "public", "reports", "untracked", "when", "access")
var cacheKeys = set("key", "paths", "untracked", "unprotect", "when", "policy", "fallback_keys")
var environmentKeys = set("name", "url", "on_stop", "action", "auto_stop_in", "kubernetes", "deployment_tier")
var whenValues = set("on_success", "on_failure", "always", "never", "manual", "delayed")

func set(s ...string) map[string]bool {
	m := map[string]bool{}
	for _, x := range s {
		m[x] = true
	}
	return m
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gitlabcheck FILE")
		os.Exit(2)
	}
	problems, err := check(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, p := range problems {
		fmt.Fprintf(os.Stderr, "%s: %s\n", os.Args[1], p)
	}
	if len(problems) > 0 {
		os.Exit(1)
	}
}

func check(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	stages := set(".pre", "build", "test", "deploy", ".post")
	if s, ok := doc["stages"].([]any); ok {
		stages = set(".pre", ".post")
		for _, x := range s {
			stages[fmt.Sprint(x)] = true
		}
	}
	jobs := map[string]map[string]any{}
	for k, v := range doc {
		if globalKeys[k] || strings.HasPrefix(k, ".") {
			continue
		}
		job, ok := v.(map[string]any)
		if !ok {
			bad("%s: not a job (a mapping) nor a known keyword", k)
			continue
		}
		jobs[k] = job
	}
	names := make([]string, 0, len(jobs))
	for n := range jobs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		job := jobs[n]
		for k := range job {
			if !jobKeys[k] {
				bad("job %s: unknown keyword %q", n, k)
			}
		}
		script, ok := job["script"].([]any)
		if !ok || len(script) == 0 {
			bad("job %s: no script", n)
		}
		for _, line := range script {
			if _, ok := line.(string); !ok {
				bad("job %s: a script entry is not a string", n)
			}
		}
		stage := "test"
		if s, ok := job["stage"]; ok {
			stage = fmt.Sprint(s)
		}
		if !stages[stage] {
			bad("job %s: stage %q is not declared in stages", n, stage)
		}
		if needs, ok := job["needs"]; ok {
			list, ok := needs.([]any)
			if !ok {
				bad("job %s: needs is not a list", n)
			}
			for _, x := range list {
				name := fmt.Sprint(x)
				if m, ok := x.(map[string]any); ok {
					name = fmt.Sprint(m["job"])
				}
				if _, ok := jobs[name]; !ok {
					bad("job %s: needs %q, which is not a job", n, name)
				}
			}
		}
		if rules, ok := job["rules"]; ok {
			list, ok := rules.([]any)
			if !ok {
				bad("job %s: rules is not a list", n)
			}
			for i, r := range list {
				rm, ok := r.(map[string]any)
				if !ok {
					bad("job %s: rule %d is not a mapping", n, i+1)
					continue
				}
				for k := range rm {
					if !ruleKeys[k] {
						bad("job %s: rule %d: unknown keyword %q", n, i+1, k)
					}
				}
				if w, ok := rm["when"]; ok && !whenValues[fmt.Sprint(w)] {
					bad("job %s: rule %d: when %q", n, i+1, w)
				}
			}
		}
		checkMap(bad, n, "artifacts", job["artifacts"], artifactKeys)
		checkMap(bad, n, "cache", job["cache"], cacheKeys)
		if env, ok := job["environment"]; ok {
			if _, isString := env.(string); !isString {
				checkMap(bad, n, "environment", env, environmentKeys)
				if m, _ := env.(map[string]any); m != nil && m["name"] == nil {
					bad("job %s: environment without a name", n)
				}
			}
		}
	}
	if len(jobs) == 0 {
		bad("no jobs")
	}
	return out, nil
}

func checkMap(bad func(string, ...any), job, what string, v any, keys map[string]bool) {
	if v == nil {
		return
	}
	m, ok := v.(map[string]any)
	if !ok {
		bad("job %s: %s is not a mapping", job, what)
		return
	}
	for k := range m {
		if !keys[k] {
			bad("job %s: %s: unknown keyword %q", job, what, k)
		}
	}
}
