package command

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestImportNotificationRules adopts an account whose notification rules were set with the
// raw API (as another tool would): signed and unsigned rules, custom headers, a disabled rule,
// several event types, and rule names whose secret variables would collide (within a bucket
// across buckets: bucket imp-media rule on-upload, bucket imp-media-on rule upload). Through the real command: import, then plan with the secrets set is
// "No changes" (exit 0, also with -detailed-exitcode) and a saved plan of it is accepted;
// without them, plan names the missing variable. No secret appears in any output or file.
func TestImportNotificationRules(t *testing.T) {
	e := newKeyEnv(t)
	hook := newHookReceiver(t)
	secrets := map[string]string{
		"media/on-upload":  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA1",
		"media/alpha-rule": "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB2",
		"media/beta-rule":  "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC3",
		"media-on/upload":  "DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD4",
	}
	webhook := func(secret string, headers ...string) map[string]any {
		tc := map[string]any{"targetType": "webhook", "url": hook.srv.URL + "/b2"}
		if secret != "" {
			tc["hmacSha256SigningSecret"] = secret
		}
		var hs []map[string]string
		for i := 0; i+1 < len(headers); i += 2 {
			hs = append(hs, map[string]string{"name": headers[i], "value": headers[i+1]})
		}
		if hs != nil {
			tc["customHeaders"] = hs
		}
		return tc
	}
	rule := func(name string, enabled bool, prefix string, types []string, target map[string]any) map[string]any {
		return map[string]any{"name": name, "eventTypes": types, "isEnabled": enabled, "objectNamePrefix": prefix, "targetConfiguration": target}
	}
	ids := map[string]string{}
	for _, b := range []string{"imp-media", "imp-media-on", "imp-plain"} {
		ids[b] = e.rawCall("b2_create_bucket", map[string]any{"bucketName": b, "bucketType": "allPrivate"})["bucketId"].(string)
	}
	e.rawCall("b2_set_bucket_notification_rules", map[string]any{"bucketId": ids["imp-media"], "eventNotificationRules": []any{
		rule("on-upload", true, "uploads/", []string{"b2:ObjectCreated:*"}, webhook(secrets["media/on-upload"], "X-Team", "web", "X-Env", "prod")),
		rule("on-delete", false, "", []string{"b2:ObjectDeleted:Delete", "b2:HideMarkerCreated:Hide"}, webhook("")),
		rule("alpha-rule", true, "a/", []string{"b2:ObjectCreated:Upload"}, webhook(secrets["media/alpha-rule"])),
		rule("beta-rule", true, "b/", []string{"b2:ObjectCreated:Upload", "b2:ObjectCreated:Copy"}, webhook(secrets["media/beta-rule"], "X-Only", "one")),
	}})
	e.rawCall("b2_set_bucket_notification_rules", map[string]any{"bucketId": ids["imp-media-on"], "eventNotificationRules": []any{
		rule("upload", true, "", []string{"b2:ObjectCreated:Upload"}, webhook(secrets["media-on/upload"])),
	}})

	var outputs []string
	impDir := filepath.Join(e.dir, "adopt")
	code, so, se := e.run("import", "-buckets=imp-*", "-out="+filepath.Join(impDir, "main.hcl"))
	outputs = append(outputs, so, se)
	if code != 0 {
		t.Fatalf("import: %d\n%s\n%s", code, so, se)
	}
	src, err := os.ReadFile(filepath.Join(impDir, "main.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	outputs = append(outputs, string(src))
	t.Logf("imported:\n%s\nstderr:\n%s", src, se)
	for _, want := range []string{`enabled = false`, `X-Team = "web"`, `X-Env = "prod"`, `X-Only = "one"`, `prefix = "uploads/"`,
		`"b2:HideMarkerCreated:Hide"`, `sensitive = true`, `var.imp_media_on_upload_signing_secret_2`} {
		if !containsNormCmd(string(src), want) {
			t.Errorf("import lacks %q", want)
		}
	}
	if strings.Contains(string(src), "# bucket \"") {
		t.Errorf("a bucket was commented out:\n%s", src)
	}
	// Four secrets, four distinct variables, each named on stderr.
	vars := map[string]string{}
	for _, l := range strings.Split(string(src), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "variable \""); ok {
			vars[strings.TrimSuffix(v, "\" {")] = ""
		}
	}
	if len(vars) != 4 {
		t.Fatalf("want 4 secret variables, got %v", vars)
	}
	for v := range vars {
		if !strings.Contains(se, "B2PLAN_VAR_"+v) {
			t.Errorf("stderr does not name B2PLAN_VAR_%s:\n%s", v, se)
		}
	}
	// Which variable holds which secret: the rule block after "var.NAME" names it.
	env := e.env()
	for v := range vars {
		i := strings.Index(string(src), "var."+v+"\n")
		blockStart := strings.LastIndex(string(src[:i]), "notification_rule {")
		head := string(src[blockStart:i])
		bucketStart := strings.LastIndex(string(src[:i]), "bucket \"")
		bucket := string(src[bucketStart:i])
		var key string
		for k := range secrets {
			b, r, _ := strings.Cut(k, "/")
			if strings.Contains(bucket, `name = "imp-`+b+`"`) || strings.Contains(oneSpaced(bucket), `name = "imp-`+b+`"`) {
				if strings.Contains(oneSpaced(head), `name = "`+r+`"`) {
					key = k
				}
			}
		}
		if key == "" {
			t.Fatalf("cannot tell which rule var.%s belongs to:\n%s", v, head)
		}
		env = append(env, "B2PLAN_VAR_"+v+"="+secrets[key])
	}

	run := func(env []string, args ...string) (int, string, string) {
		var o, er bytes.Buffer
		code := RunWithEnv(args, env, strings.NewReader(""), &o, &er)
		outputs = append(outputs, o.String(), er.String())
		return code, o.String(), er.String()
	}
	code, so, se = run(env, "plan", "-detailed-exitcode", impDir)
	if code != 0 || !strings.Contains(so, "No changes.") {
		t.Fatalf("plan of the import: %d\n%s\n%s", code, so, se)
	}
	planPath := filepath.Join(e.dir, "adopt.plan")
	if code, so, se = run(env, "plan", "-out="+planPath, impDir); code != 0 {
		t.Fatalf("plan -out of the import: %d\n%s\n%s", code, so, se)
	}
	outputs = append(outputs, planFileText(t, planPath))
	code, so, se = run(e.env(), "plan", impDir)
	if code != 1 || !strings.Contains(se, "No value for required variable") {
		t.Errorf("plan without the secrets: %d\n%s\n%s", code, so, se)
	}
	// Importing again adds nothing and reuses no variable name.
	code, so, se = run(env, "import", "-buckets=imp-*", "-out="+filepath.Join(impDir, "more.hcl"))
	if code != 0 || !strings.Contains(se, "Nothing to import") {
		t.Errorf("second import: %d\n%s\n%s", code, so, se)
	}
	for i, o := range outputs {
		for _, s := range secrets {
			if strings.Contains(o, s) {
				t.Errorf("output %d contains a signing secret:\n%s", i, o)
			}
		}
	}
}

// containsNormCmd reports whether src contains want, runs of spaces compared as one.
func containsNormCmd(src, want string) bool {
	return strings.Contains(oneSpaced(src), oneSpaced(want))
}
