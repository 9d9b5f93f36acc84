package importer

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	"github.com/b2plan/b2plan/config"
	"github.com/b2plan/b2plan/live"
	"github.com/b2plan/b2plan/planner"
)

// Objects. Import declares the contents of a bucket only when asked to (Options.Objects,
// "b2plan import -objects=BUCKET/GLOB"): object blocks are for a few managed files, not for
// syncing trees. Generate does no I/O: the caller downloads each object's content to a file
// first (Object.Source), so that the block declares exactly the live newest version and the
// next plan compares equal (SHA-1, size, content type, file info).

// Object is the newest version of a name to declare as an object block.
type Object struct {
	Bucket string
	// Version is the live newest version (an upload): its SHA-1, size, content type, info.
	Version live.Version
	// Source is the file holding its content, as the block's source (relative to the
	// configuration directory); "" when the content was not downloaded (Skip says why).
	Source string
	// Skip is why the object cannot be declared ("" = it can).
	Skip string
}

// objectProblem says why o cannot be declared so that the next plan keeps it, or "".
func objectProblem(o *Object) string {
	switch {
	case o.Skip != "":
		return o.Skip
	case !o.Version.HasSHA1():
		return "it has no SHA-1 (a large file uploaded without large_file_sha1): b2plan compares objects by SHA-1, so a declaration would upload it again"
	case o.Source == "":
		return "its content was not downloaded"
	}
	return ""
}

// objectBlock writes an object block.
func (g *generator) objectBlock(body *hclwrite.Body, o *Object, refs map[string]string) {
	v := &o.Version
	if o.Source != "" {
		comment(body, fmt.Sprintf("The newest version (%s, %d bytes, SHA-1 %s),\ndownloaded to source. Removing this block leaves the object in B2.", v.ID, v.Size, v.SHA1Hex()))
	}
	if addr, ok := refs[strings.ToLower(o.Bucket)]; ok {
		body.SetAttributeRaw("bucket", exprTokens(addr+".name"))
	} else {
		body.SetAttributeValue("bucket", cty.StringVal(o.Bucket))
	}
	body.SetAttributeValue("name", cty.StringVal(v.Name))
	if o.Source != "" {
		body.SetAttributeValue("source", cty.StringVal(o.Source))
	}
	if v.ContentType != config.DefaultContentType(v.Name) {
		body.SetAttributeValue("content_type", cty.StringVal(v.ContentType))
	}
	if info := planner.UserInfo(v.Info); len(info) > 0 {
		keys := make([]string, 0, len(info))
		for k := range info {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		m := map[string]cty.Value{}
		for _, k := range keys {
			m[k] = cty.StringVal(info[k])
		}
		body.SetAttributeValue("info", cty.MapVal(m))
	}
}
