package command

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/b2plan/b2plan/b2client"
	"github.com/b2plan/b2plan/config"
	"github.com/b2plan/b2plan/importer"
	"github.com/b2plan/b2plan/live"
	"github.com/b2plan/b2plan/planner"
)

// Limits of import -objects: object blocks are for a few managed files (index pages,
// robots.txt, configuration), hashed at every plan, not for syncing trees.
const (
	maxImportObjects     = 100
	maxImportObjectBytes = 100 << 20
)

// objectGlob is one -objects=BUCKET/GLOB.
type objectGlob struct{ bucket, glob string }

// parseObjectGlobs checks -objects values: BUCKET/GLOB, the glob over file names (path.Match:
// * does not cross /).
func parseObjectGlobs(in []string) ([]objectGlob, error) {
	var out []objectGlob
	for _, v := range in {
		b, g, ok := strings.Cut(v, "/")
		if !ok || b == "" || g == "" || strings.ContainsAny(b, "*?[") {
			return nil, fmt.Errorf("-objects=%s: want BUCKET/GLOB, a bucket name and a glob over its file names, e.g. -objects='site/robots.txt' or -objects='site/*.html'", v)
		}
		if _, err := path.Match(g, ""); err != nil {
			return nil, fmt.Errorf("-objects=%s: %q is not a valid glob pattern (use * ? and [...])", v, g)
		}
		out = append(out, objectGlob{b, g})
	}
	return out, nil
}

// literalPrefix is the part of a glob before its first metacharacter: what to list.
func literalPrefix(glob string) string {
	if i := strings.IndexAny(glob, "*?[\\"); i >= 0 {
		return glob[:i]
	}
	return glob
}

// importObjects lists the visible files matching globs, downloads each newest version into
// dir/files/BUCKET/NAME (never overwriting a file; each checked against the version's size
// and SHA-1) and returns them for importer.Options.Objects, source relative to dir.
// Objects the configuration joined already declares are returned without content: the
// importer leaves them out.
//
// The files are written inside dir only (an os.Root: a symlink cannot lead a write out of
// it), each downloaded to a temporary name, checked, then linked to its name (which never
// replaces a file). The caller calls finish once the import is over: finish(false) removes
// the files written (the import failed after them).
func (m *Meta) importObjects(ctx context.Context, conn *b2client.Conn, l *live.Live, globs []objectGlob, dir string, declared *config.Desired) ([]importer.Object, func(ok bool), error) {
	if len(globs) == 0 {
		return nil, func(bool) {}, nil
	}
	if miss := conn.MissingCapabilities([]string{"listFiles", "readFiles"}); len(miss) > 0 {
		return nil, nil, fmt.Errorf("-objects needs an application key with listFiles and readFiles (it lacks %s)", strings.Join(miss, ", "))
	}
	req := live.Request{}
	for _, g := range globs {
		if l.Bucket(g.bucket) == nil {
			return nil, nil, fmt.Errorf("-objects=%s/%s: no bucket named %q is visible to the key", g.bucket, g.glob, g.bucket)
		}
		req.Prefixes = append(req.Prefixes, live.PrefixRequest{BucketName: g.bucket, Prefix: literalPrefix(g.glob)})
	}
	ol, err := b2client.Observe(ctx, conn, req)
	if err != nil {
		return nil, nil, fmt.Errorf("list the objects: %v", err)
	}
	var objs []importer.Object
	seen := map[string]bool{}
	var total int64
	for _, li := range ol.Listings {
		for i := range li.Versions {
			v := li.Versions[i]
			key := strings.ToLower(li.BucketName) + "/" + v.Name
			if seen[key] { // an older version of a name, or a name two globs list
				continue
			}
			if !matchesObject(globs, li.BucketName, v.Name) || v.Action == live.ActionStart || v.Action == live.ActionFolder {
				continue
			}
			seen[key] = true
			if v.Action != live.ActionUpload || path.Base(v.Name) == ".bzEmpty" {
				continue // hidden (no live object to declare), or a folder placeholder
			}
			o := importer.Object{Bucket: li.BucketName, Version: v}
			if declaresObject(declared, li.BucketName, v.Name) {
				objs = append(objs, o)
				continue
			}
			if p := localNameProblem(v.Name); p != "" {
				o.Skip = p
			} else if v.HasSHA1() {
				o.Source = filepath.ToSlash(filepath.Join("files", li.BucketName, filepath.FromSlash(v.Name)))
				total += v.Size
			}
			objs = append(objs, o)
		}
	}
	if len(objs) > maxImportObjects || total > maxImportObjectBytes {
		return nil, nil, fmt.Errorf("-objects selects %d objects (%s): import declares at most %d objects and %s, since object blocks are for a few managed files hashed at every plan; narrow the globs", len(objs), planner.HumanBytes(total), maxImportObjects, planner.HumanBytes(maxImportObjectBytes))
	}
	// A name whose local path is a directory of another's ("a" and "a/b") cannot have both.
	sources := map[string]string{}
	for _, o := range objs {
		if o.Source != "" {
			sources[o.Source] = o.Version.Name
		}
	}
	for i := range objs {
		o := &objs[i]
		for p := path.Dir(o.Source); o.Source != "" && p != "." && p != "/"; p = path.Dir(p) {
			if other, ok := sources[p]; ok {
				o.Skip = fmt.Sprintf("its local path %s would be under the file of %q: declare one of the two by hand", o.Source, other)
				o.Source = ""
			}
		}
	}
	// Refuse before downloading anything when a file is in the way.
	for _, o := range objs {
		if o.Source == "" {
			continue
		}
		if _, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(o.Source))); err == nil {
			return nil, nil, fmt.Errorf("%s already exists: import never overwrites a file. Move it away, or import into another directory", filepath.Join(dir, filepath.FromSlash(o.Source)))
		}
	}
	mut := b2client.NewMutator(conn)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, nil, err
	}
	var written []string
	finish := func(ok bool) {
		if !ok { // leave no partial import behind
			for _, w := range written {
				root.Remove(w)
			}
		}
		root.Close()
	}
	for i := range objs {
		o := &objs[i]
		if o.Source == "" {
			continue
		}
		if err := download(ctx, mut, o, root, filepath.FromSlash(o.Source)); err != nil {
			finish(false)
			return nil, nil, err
		}
		written = append(written, filepath.FromSlash(o.Source))
	}
	return objs, finish, nil
}

func declaresObject(d *config.Desired, bucket, name string) bool {
	if d == nil {
		return false
	}
	for _, o := range d.Objects {
		if strings.EqualFold(o.Bucket, bucket) && o.Name == name {
			return true
		}
	}
	return false
}

func matchesObject(globs []objectGlob, bucket, name string) bool {
	for _, g := range globs {
		if ok, _ := path.Match(g.glob, name); ok && strings.EqualFold(g.bucket, bucket) {
			return true
		}
	}
	return false
}

// localNameProblem says why a file name cannot be a path under files/BUCKET, or "".
func localNameProblem(name string) string {
	for _, seg := range strings.Split(name, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Sprintf("its name %q has an empty, \".\" or \"..\" path segment, which cannot be a local file under files/", name)
		}
	}
	for _, seg := range strings.Split(name, "/") {
		if len(seg) > 255 {
			return fmt.Sprintf("its name %q has a path segment longer than 255 bytes, too long for a local file name", name)
		}
	}
	if strings.ContainsAny(name, "\\\x00") {
		return fmt.Sprintf("its name %q contains a character that cannot be in a local file name", name)
	}
	return ""
}

// download writes the version of o to name in root (directories created): to a temporary
// file first, checked against the version's size and SHA-1, then linked to name, which
// fails if name exists. Nothing is left but the checked file.
func download(ctx context.Context, mut *b2client.Mutator, o *importer.Object, root *os.Root, name string) error {
	fail := func(err error) error { return fmt.Errorf("download %s/%s: %v", o.Bucket, o.Version.Name, err) }
	if err := root.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return fail(err)
	}
	tmp := fmt.Sprintf("%s.b2plan-import-%d", name, os.Getpid())
	f, err := root.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fail(err)
	}
	defer root.Remove(tmp)
	h, err := mut.DownloadVersion(ctx, o.Version.ID, o.Version.Name, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && (h.Size != o.Version.Size || hex.EncodeToString(h.SHA1[:]) != o.Version.SHA1Hex()) {
		err = fmt.Errorf("the download has %d bytes, SHA-1 %x; B2 lists %d bytes, SHA-1 %s", h.Size, h.SHA1, o.Version.Size, o.Version.SHA1Hex())
	}
	if err == nil {
		err = root.Link(tmp, name)
	}
	if err != nil {
		return fail(err)
	}
	return nil
}
