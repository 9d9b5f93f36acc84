package config

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// MaxObjectSize is the largest object block b2plan uploads: objects are managed files (index
// pages, robots.txt, configuration), hashed at every load; above the part size they are
// uploaded as large files.
const MaxObjectSize = 10 << 30

// Object is one declared file in a bucket (object block): its content comes from Source (a
// file, read at load) or Content (inline text).
type Object struct {
	Address  string
	Provider string
	Bucket   string
	Name     string
	// Source is the absolute path of the file ("" for inline content).
	Source string
	// Content is the inline content (when Source is "").
	Content string
	// ContentType is the declared content type, or the default by the name's extension.
	ContentType string
	// Info is the file info (keys lowercased, as B2 stores them).
	Info map[string]string
	// SHA1 and Size describe the content as read at load.
	SHA1  string
	Size  int64
	Range hcl.Range
}

func (l *loader) decodeObject(s *scope, b *hclsyntax.Block, addr string) map[string]cty.Value {
	o := &Object{Address: addr, Range: b.DefRange()}
	o.Provider = l.providerOf(s, b.Body, addr)
	bn, bOK := s.bucketRef(b.Body, "bucket")
	o.Bucket = bn
	name, na, nOK := s.str(b.Body, "name", strOpt{required: true})
	if na != nil && nOK {
		o.Name = name
		if msg := objectNameProblem(name); msg != "" {
			s.diag(na.Expr.Range(), "Invalid object name", msg)
		}
	}
	src, sa, sOK := s.str(b.Body, "source", strOpt{})
	content, ca, cOK := s.str(b.Body, "content", strOpt{})
	var data io.Reader
	switch {
	case sa != nil && ca != nil:
		s.diag(ca.NameRange, "Conflicting object content", fmt.Sprintf("%s sets both source and content: keep one (source names a file, content is inline text).", addr))
	case sa == nil && ca == nil:
		s.diag(b.DefRange(), "Missing object content", fmt.Sprintf("%s needs source = \"FILE\" (a file, relative to the configuration directory) or content = \"TEXT\".", addr))
	case sa != nil && sOK:
		p := src
		if !filepath.IsAbs(p) {
			p = filepath.Join(l.d.Dir, p)
		}
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
		o.Source = p
		f, err := os.Open(p)
		if err != nil {
			s.diag(sa.Expr.Range(), "Cannot read object source", fmt.Sprintf("%s: %v. source is a file path, relative to the configuration directory.", addr, err))
			break
		}
		defer f.Close()
		if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
			s.diag(sa.Expr.Range(), "Cannot read object source", fmt.Sprintf("%s: %s is not a regular file.", addr, p))
			break
		} else if st.Size() > MaxObjectSize {
			s.diag(sa.Expr.Range(), "Object too large", fmt.Sprintf("%s: %s has %d bytes; object blocks upload at most %d bytes (10 GiB): they are for managed files, hashed at every plan. Upload larger files with a B2 client (b2, rclone).", addr, p, st.Size(), MaxObjectSize))
			break
		}
		data = f
	case ca != nil && cOK:
		o.Content = content
		data = strings.NewReader(content)
	}
	if data != nil {
		h := sha1.New()
		n, err := io.Copy(h, io.LimitReader(data, MaxObjectSize+1))
		switch {
		case err != nil:
			s.diag(sa.Expr.Range(), "Cannot read object source", fmt.Sprintf("%s: %v", addr, err))
		case n > MaxObjectSize:
			s.diag(b.DefRange(), "Object too large", fmt.Sprintf("%s: the content has more than %d bytes (10 GiB), the most an object block uploads.", addr, MaxObjectSize))
		default:
			o.SHA1, o.Size = hex.EncodeToString(h.Sum(nil)), n
		}
	}
	if ct, a, ok := s.str(b.Body, "content_type", strOpt{}); a != nil && ok {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || !strings.Contains(mt, "/") {
			s.diag(a.Expr.Range(), "Invalid content_type", fmt.Sprintf("%q is not a media type such as \"text/plain\" or \"text/html; charset=utf-8\".", ct))
		}
		o.ContentType = ct
	} else if a == nil {
		o.ContentType = DefaultContentType(o.Name)
	}
	if info, a, ok := s.strMap(b.Body, "info", false); a != nil && ok {
		o.Info = map[string]string{}
		s.infoEntries(a, info, "file", o.Info)
	}
	l.d.Objects = append(l.d.Objects, o)
	return map[string]cty.Value{"bucket": strOr(bOK, bn), "name": strOr(nOK, name), "sha1": cty.StringVal(o.SHA1)}
}

// DefaultContentType is the content type of an object without content_type: by the
// extension of its name (Go's table), else application/octet-stream.
func DefaultContentType(name string) string {
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// objectNameProblem checks a B2 file name: 1–1024 bytes of UTF-8, no control characters, not
// a folder placeholder's trailing slash.
func objectNameProblem(n string) string {
	switch {
	case n == "":
		return "the name must not be empty."
	case len(n) > 1024:
		return fmt.Sprintf("B2 file names have at most 1024 bytes; this one has %d.", len(n))
	case strings.HasSuffix(n, "/"):
		return "the name ends with \"/\": that is a folder, not a file (use a folder block)."
	case strings.HasPrefix(n, "/"):
		return "B2 file names do not start with \"/\"; remove it."
	case strings.ContainsFunc(n, func(r rune) bool { return r < 32 || r == 127 }):
		return "the name contains a control character."
	}
	return ""
}
