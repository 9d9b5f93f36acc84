package command

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/b2plan/b2plan/b2client"
	"github.com/b2plan/b2plan/config"
	"github.com/b2plan/b2plan/importer"
	"github.com/b2plan/b2plan/live"
)

func init() {
	Register(&Command{
		Name:     "import",
		Synopsis: "Write HCL declaring the buckets and keys that already exist",
		Help: `
Usage: b2plan [global flags] import [-out=FILE] [-buckets=GLOB]... [-keys=GLOB]...
                                   [-objects=BUCKET/GLOB]... [DIR]

  Reads the live account and writes a configuration that declares its buckets (every
  attribute: type, info, lifecycle and CORS rules, encryption, Object Lock) and application
  keys (name, access preset or capabilities, buckets, name_prefix, and a duration for keys
  that expire), so that an account set up with other tools can be adopted: "b2plan plan"
  right after the import reports no changes.

  Key secrets are never written: B2 returns a secret only when the key is created. An
  imported key is kept as long as its declared intent matches it. Whatever cannot be
  declared as it is (a snapshot bucket, two keys with the same name, an expired key) is
  written as a commented-out block with the reason, and reported on stderr.

  The endpoint and credentials are found as for plan: the provider block of DIR's
  configuration if DIR holds .hcl files (default: the current directory), B2_ENDPOINT,
  B2_APPLICATION_KEY_ID and B2_APPLICATION_KEY; with no endpoint and no credentials, the
  embedded emulator local://DIR/.b2plan/local. The key needs listBuckets and listKeys (and
  readBucketEncryption / readBucketRetentions to import those settings).

  Importing again adds only what is new: the buckets and keys the configuration of the
  directory written to (FILE's directory, or DIR for stdout) already declares are left out,
  labels are not reused, and new keys refer to its buckets; the directory still plans.

Flags:
  -out=FILE        write the configuration to FILE instead of stdout; FILE must not exist
  -buckets=GLOB    import only buckets whose name matches GLOB (repeatable; * ? [...])
  -keys=GLOB       import only keys whose name matches GLOB (repeatable)
  -objects=BUCKET/GLOB
                   also declare the visible files of BUCKET whose name matches GLOB as
                   object blocks (repeatable; * does not cross /; at most 100 objects and
                   100 MB): their content is downloaded to files/BUCKET/NAME next to FILE
                   (needs -out, never overwrites). None by default: object blocks are for a
                   few managed files, not for a bucket's contents
  -no-color        no colour

Exit status: 0 success (also when some resources were not imported: see stderr), 1 error.

Examples:
  b2plan import > main.hcl && b2plan plan
  b2plan import -out=imported.hcl -buckets='acme-*' -keys='acme-*'
  b2plan import -out=site.hcl -buckets=acme-site -objects='acme-site/*.html' -objects='acme-site/robots.txt'
  b2plan -chdir=infra import -out=adopted.hcl
  B2_ENDPOINT=http://127.0.0.1:8787 b2plan import
`,
		Run: runImport,
	})
}

func runImport(m *Meta, args []string) int {
	c := commands["import"]
	fset := m.FlagSet(c)
	out := fset.String("out", "", "")
	var bucketGlobs, keyGlobs, objectFlags stringList
	fset.Var(&bucketGlobs, "buckets", "")
	fset.Var(&keyGlobs, "keys", "")
	fset.Var(&objectFlags, "objects", "")
	if code, done := m.ParseFlags(c, fset, args); done {
		return code
	}
	if fset.NArg() > 1 {
		return m.Errorf("import takes at most one DIR; got %d arguments.\n\nRun \"b2plan import -help\" for usage.", fset.NArg())
	}
	buckets, err := splitGlobs("-buckets", bucketGlobs)
	if err != nil {
		return m.Errorf("%v", err)
	}
	keys, err := splitGlobs("-keys", keyGlobs)
	if err != nil {
		return m.Errorf("%v", err)
	}
	objectGlobs, err := parseObjectGlobs(objectFlags)
	if err != nil {
		return m.Errorf("%v", err)
	}
	if len(objectGlobs) > 0 && *out == "" {
		return m.Errorf("-objects needs -out=FILE: the objects' content is downloaded into files/ next to FILE, and their blocks refer to it")
	}
	dir := "."
	if fset.NArg() == 1 {
		dir = fset.Arg(0)
	}
	dir = m.Path(dir)
	outPath := ""
	if *out != "" {
		outPath = m.Path(*out)
		// Refuse before any network call (terraform plan -generate-config-out does the same).
		if st, err := os.Stat(outPath); err == nil && st.IsDir() {
			return m.Errorf("-out=%s is a directory: name a new file in it, e.g. -out=%s (what the directory already declares is left out).", *out, filepath.Join(*out, "imported.hcl"))
		}
		if _, err := os.Lstat(outPath); err == nil {
			return m.Errorf("%s already exists: import never overwrites a file. To add what is new, import into another file of the same directory (-out=%s): whatever the directory already declares is left out.", *out, filepath.Join(filepath.Dir(*out), "imported2.hcl"))
		}
	}

	d, code, ok := m.importConfig(dir)
	if !ok {
		return code
	}
	// The configuration the output joins: the directory it is written to (DIR for stdout).
	// What it declares is left out, so that the directory still plans after the import.
	declared, joinDir := d, dir
	if outPath != "" {
		joinDir = filepath.Dir(outPath)
		if !sameDir(joinDir, dir) {
			declared = &config.Desired{Dir: joinDir}
			if st, err := os.Stat(joinDir); err == nil && st.IsDir() {
				if declared, code, ok = m.importConfig(joinDir); !ok {
					return m.Errorf("import adds to the configuration in %s, which does not load (above): fix it first, or write to another directory", joinDir)
				}
			}
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ep, err := m.resolveEndpoint(d)
	if err != nil {
		return m.Errorf("%v", err)
	}
	conn, err := m.connect(ctx, ep, d.Provider.ApplicationKeyID, d.Provider.ApplicationKey.Reveal())
	if err != nil {
		return m.Errorf("%v", err)
	}
	defer conn.Close()
	if err := conn.Require([]string{"listBuckets"}, nil); err != nil {
		return m.Errorf("%v", err)
	}
	req := live.Request{Buckets: true, Keys: true}
	if miss := conn.MissingCapabilities([]string{"listKeys"}); len(miss) > 0 {
		if len(keys) > 0 {
			return m.Errorf("-keys was given, but the application key lacks listKeys: use a key that may list keys")
		}
		req.Keys = false
		fmt.Fprintln(m.Stderr, "Warning: the application key lacks listKeys: keys are not imported.")
	}
	for _, miss := range conn.MissingCapabilities([]string{"readBucketEncryption", "readBucketRetentions"}) {
		fmt.Fprintf(m.Stderr, "Warning: the application key lacks %s: that setting is left out of every bucket (see the comments).\n", miss)
	}
	l, err := b2client.Observe(ctx, conn, req)
	if err != nil {
		return m.Errorf("read the account: %v", err)
	}
	if miss := conn.MissingCapabilities([]string{"readBucketNotifications"}); len(miss) > 0 {
		fmt.Fprintln(m.Stderr, "Warning: the application key lacks readBucketNotifications: notification rules are not imported.")
	} else if err := b2client.ObserveNotify(ctx, conn, l); err != nil {
		return m.Errorf("read the notification rules: %v", err)
	}
	objs, finish, err := m.importObjects(ctx, conn, l, objectGlobs, joinDir, declared)
	if err != nil {
		return m.Errorf("%v", err)
	}
	imported := false
	defer func() { finish(imported) }() // a failed import removes what it downloaded
	res, err := importer.Generate(l, importer.Options{Buckets: buckets, Keys: keys, Now: time.Now(), Objects: objs,
		Source:   fmt.Sprintf("%s (account %s)", conn.Endpoint(), conn.AccountID()),
		Declared: declared, DeclaredVars: config.VarInputs{Env: m.Env}})
	if err != nil {
		return m.Errorf("%v", err)
	}
	if n := len(res.AlreadyDeclared); n > 0 {
		fmt.Fprintf(m.Stderr, "Left out %d already declared in %s: %s.\n", n, joinDir, strings.Join(res.AlreadyDeclared, ", "))
		if len(res.Buckets)+len(res.Keys)+len(res.Objects)+len(res.Skipped) == 0 {
			fmt.Fprintf(m.Stderr, "Nothing to import: every selected bucket and key is already declared in %s. Nothing was written.\n", joinDir)
			return ExitOK
		}
	}

	where := "stdout"
	if outPath == "" {
		if _, err := m.Stdout.Write(res.HCL); err != nil {
			return m.Errorf("write: %v", err)
		}
	} else {
		if err := writeNewFile(outPath, res.HCL); err != nil {
			return m.Errorf("%v", err)
		}
		where = *out
	}
	imported = true
	for _, s := range res.Skipped {
		fmt.Fprintf(m.Stderr, "Warning: %s %q (%s) not imported: %s\n", s.Kind, s.Name, s.ID, s.Reason)
	}
	fmt.Fprintf(m.Stderr, "Imported %s and %s", plural(len(res.Buckets), "bucket"), plural(len(res.Keys), "key"))
	if len(objs) > 0 {
		fmt.Fprintf(m.Stderr, ", %s (content in %s)", plural(len(res.Objects), "object"), filepath.Join(joinDir, "files"))
	}
	fmt.Fprintf(m.Stderr, " to %s", where)
	if len(res.Skipped) > 0 {
		fmt.Fprintf(m.Stderr, " (%d not imported: commented out, with the reason)", len(res.Skipped))
	}
	fmt.Fprintln(m.Stderr, ".")
	for _, sus := range res.Suspended {
		fmt.Fprintf(m.Stderr, "Warning: B2 suspended %s. The next plan shows it as drift; apply sends the rule again, which resumes it.\n", sus)
	}
	if n := len(res.SecretVars); n > 0 {
		var envs []string
		for _, v := range res.SecretVars {
			envs = append(envs, "B2PLAN_VAR_"+v)
		}
		fmt.Fprintf(m.Stderr, "Notification rules sign their webhooks with %s: B2 holds them, and import never writes a secret. Before planning, set %s (or pass -var): each is declared as a sensitive variable.\n",
			plural(n, "secret"), strings.Join(envs, ", "))
	}
	if outPath != "" {
		fmt.Fprintln(m.Stderr, "Run \"b2plan plan\" on the configuration: it should report no changes.")
	}
	return ExitOK
}

// importConfig loads DIR's configuration for its provider block. A directory without .hcl
// files (the usual case when adopting an account) is an empty configuration.
func (m *Meta) importConfig(dir string) (*config.Desired, int, bool) {
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		return nil, m.Errorf("%s is not a directory: import reads the provider settings of a configuration directory (default: the current one).", dir), false
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, m.Errorf("%v", err), false
	}
	hasHCL := false
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".hcl") && !strings.HasPrefix(e.Name(), ".") {
			hasHCL = true
		}
	}
	if !hasHCL {
		return &config.Desired{Dir: dir}, 0, true
	}
	d, diags := config.Load(dir, config.VarInputs{Env: m.Env})
	if hasErrors(diags) {
		m.WriteDiagnostics(m.Stderr, diags, d.Files)
		return nil, ExitError, false
	}
	return d, 0, true
}

// sameDir reports whether two paths name the same directory.
func sameDir(a, b string) bool {
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == bb
}

// splitGlobs accepts repeated flags and comma-separated lists, and checks the syntax.
func splitGlobs(flagName string, in []string) ([]string, error) {
	var out []string
	for _, v := range in {
		for _, g := range strings.Split(v, ",") {
			g = strings.TrimSpace(g)
			if g == "" {
				continue
			}
			if _, err := path.Match(g, ""); err != nil {
				return nil, fmt.Errorf("%s=%s: not a valid glob pattern (use * ? and [...])", flagName, g)
			}
			out = append(out, g)
		}
	}
	return out, nil
}

// writeNewFile creates path (and its directory) and fails if it exists.
func writeNewFile(p string, data []byte) error {
	if dir := filepath.Dir(p); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s already exists: import never overwrites a file", p)
	}
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(p)
		return err
	}
	return f.Close()
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
