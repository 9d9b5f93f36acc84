package emulator

import (
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"unicode/utf8"
)

func lower(s string) string { return strings.ToLower(s) }

// validFileName applies the current B2 rules: ≤1024 UTF-8 bytes, no code
// point below 0x20, no DEL.
func validFileName(name string) error {
	if name == "" {
		return errBadRequest("file name must not be empty")
	}
	if len(name) > 1024 {
		return errBadRequest(fmt.Sprintf("file name is %d bytes; the limit is 1024 bytes of UTF-8", len(name)))
	}
	if !utf8.ValidString(name) {
		return errBadRequest("file name is not valid UTF-8")
	}
	for i := 0; i < len(name); i++ {
		if name[i] < 0x20 || name[i] == 0x7f {
			return errBadRequest(fmt.Sprintf("file name contains the control character 0x%02x", name[i]))
		}
	}
	return nil
}

// decodeForm decodes a percent-encoded value with form rules ('+' is a space).
func decodeForm(s string) (string, error) {
	v, err := url.QueryUnescape(s)
	if err != nil {
		return "", errBadRequest("bad percent-encoding: " + err.Error())
	}
	return v, nil
}

// encodeB2 percent-encodes per the B2 string-encoding rules ('/' and the
// safe characters stay bare).
func encodeB2(s string) string {
	const hexd = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strings.IndexByte("!$'()*-./:;=@_~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexd[c>>4])
		b.WriteByte(hexd[c&15])
	}
	return b.String()
}

func validBucketName(n string) error {
	if len(n) < 6 || len(n) > 63 {
		return errBadRequest(fmt.Sprintf("bucket name %q must be 6 to 63 characters long", n))
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-') {
			return errBadRequest(fmt.Sprintf("bucket name %q may contain only letters, digits and '-'", n))
		}
	}
	if strings.HasPrefix(lower(n), "b2-") {
		return errBadRequest(fmt.Sprintf("bucket name %q: names starting with 'b2-' are reserved", n))
	}
	return nil
}

var reservedInfo = map[string]string{
	"b2-content-disposition": "Content-Disposition",
	"b2-content-language":    "Content-Language",
	"b2-expires":             "Expires",
	"b2-cache-control":       "Cache-Control",
	"b2-content-encoding":    "Content-Encoding",
}

const infoKeyChars = "-_.`~!#$%^&*'|+"

// validInfo checks file-info keys (already lowercased) and values.
func validInfo(info []kv) error {
	if len(info) > 10 {
		return errBadRequest(fmt.Sprintf("%d file info entries; the limit is 10", len(info)))
	}
	for _, x := range info {
		if x.k == "" || len(x.k) > 50 {
			return errBadRequest(fmt.Sprintf("file info key %q must be 1 to 50 bytes", x.k))
		}
		for i := 0; i < len(x.k); i++ {
			c := x.k[i]
			if !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strings.IndexByte(infoKeyChars, c) >= 0) {
				return errBadRequest(fmt.Sprintf("file info key %q contains the invalid character %q", x.k, c))
			}
		}
		// Values travel percent-encoded, so B2 accepts line breaks in them
		// except in the b2-* keys, which are replayed as HTTP headers.
		reserved := strings.HasPrefix(x.k, "b2-")
		for i := 0; i < len(x.v); i++ {
			c := x.v[i]
			if (c < 0x20 && c != '\t' && (reserved || (c != '\n' && c != '\r'))) || c == 0x7f {
				return errBadRequest(fmt.Sprintf("file info %q contains the control character %q", x.k, c))
			}
		}
		if reserved {
			if _, ok := reservedInfo[x.k]; !ok {
				return errBadRequest(fmt.Sprintf("file info key %q: keys starting with 'b2-' are reserved; allowed are b2-content-disposition, b2-content-language, b2-expires, b2-cache-control, b2-content-encoding", x.k))
			}
			switch x.k {
			case "b2-expires":
				if _, err := http.ParseTime(x.v); err != nil {
					return errBadRequest(fmt.Sprintf("b2-expires %q is not an HTTP date", x.v))
				}
			case "b2-content-disposition":
				if _, _, err := mime.ParseMediaType(x.v); err != nil {
					return errBadRequest(fmt.Sprintf("b2-content-disposition %q is not a valid Content-Disposition", x.v))
				}
			}
		}
	}
	return nil
}

// headerBudget is the size of the name and info as upload header lines.
func headerBudget(name string, info []kv) int {
	n := len("X-Bz-File-Name: ") + len(encodeB2(name)) + 2
	for _, x := range info {
		n += len("X-Bz-Info-") + len(x.k) + 2 + len(encodeB2(x.v)) + 2
	}
	return n
}

func checkBudget(name string, info []kv, strict bool) error {
	limit := 7000
	if strict {
		limit = 2048
	}
	if n := headerBudget(name, info); n > limit {
		return errBadRequest(fmt.Sprintf("file name and file info take %d bytes of headers; the limit is %d", n, limit))
	}
	return nil
}

// infoFromMap converts a JSON fileInfo object to sorted, lowercased pairs.
func infoFromMap(m map[string]string) []kv {
	if len(m) == 0 {
		return nil
	}
	out := make([]kv, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, kv{lower(k), m[k]})
	}
	return sortInfo(out)
}

func sortInfo(in []kv) []kv {
	for i := 1; i < len(in); i++ {
		for j := i; j > 0 && in[j].k < in[j-1].k; j-- {
			in[j], in[j-1] = in[j-1], in[j]
		}
	}
	// last one wins on duplicates after lowercasing
	out := in[:0]
	for i, x := range in {
		if i+1 < len(in) && in[i+1].k == x.k {
			continue
		}
		out = append(out, x)
	}
	return out
}

var autoTypes = map[string]string{
	".txt": "text/plain", ".html": "text/html", ".htm": "text/html", ".css": "text/css",
	".js": "application/javascript", ".json": "application/json", ".xml": "application/xml",
	".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".gif": "image/gif",
	".svg": "image/svg+xml", ".webp": "image/webp", ".pdf": "application/pdf", ".zip": "application/zip",
	".gz": "application/gzip", ".tar": "application/x-tar", ".mp4": "video/mp4", ".mp3": "audio/mpeg",
	".csv": "text/csv", ".md": "text/markdown", ".wasm": "application/wasm",
}

// contentType resolves b2/x-auto and validates a MIME type.
func contentType(ct, name string) (string, error) {
	if ct == "" {
		return "", errBadRequest("Content-Type is required")
	}
	if ct == "b2/x-auto" {
		if t, ok := autoTypes[lower(path.Ext(name))]; ok {
			return t, nil
		}
		return "application/octet-stream", nil
	}
	if _, _, err := mime.ParseMediaType(ct); err != nil {
		return "", errBadRequest(fmt.Sprintf("invalid content type %q", ct))
	}
	return ct, nil
}

type corsRule struct {
	CorsRuleName      string   `json:"corsRuleName"`
	AllowedOrigins    []string `json:"allowedOrigins"`
	AllowedOperations []string `json:"allowedOperations"`
	AllowedHeaders    []string `json:"allowedHeaders,omitempty"`
	ExposeHeaders     []string `json:"exposeHeaders,omitempty"`
	MaxAgeSeconds     int64    `json:"maxAgeSeconds"`
}

var corsOps = map[string]bool{
	"b2_download_file_by_name": true, "b2_download_file_by_id": true, "b2_upload_file": true,
	"b2_upload_part": true, "s3_get": true, "s3_head": true, "s3_put": true, "s3_post": true, "s3_delete": true,
}

func validCORS(rules []corsRule) error {
	if len(rules) > 100 {
		return errBadRequest("at most 100 CORS rules per bucket")
	}
	seen := map[string]bool{}
	for _, r := range rules {
		n := r.CorsRuleName
		if len(n) < 6 || len(n) > 50 || strings.HasPrefix(lower(n), "b2-") {
			return errBadRequest(fmt.Sprintf("corsRuleName %q must be 6 to 50 letters, digits or '-' and not start with 'b2-'", n))
		}
		for i := 0; i < len(n); i++ {
			c := n[i]
			if !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-') {
				return errBadRequest(fmt.Sprintf("corsRuleName %q must be 6 to 50 letters, digits or '-'", n))
			}
		}
		if seen[n] {
			return errBadRequest(fmt.Sprintf("duplicate corsRuleName %q", n))
		}
		seen[n] = true
		if len(r.AllowedOrigins) == 0 {
			return errBadRequest(fmt.Sprintf("CORS rule %q: allowedOrigins must not be empty", n))
		}
		if len(r.AllowedOperations) == 0 {
			return errBadRequest(fmt.Sprintf("CORS rule %q: allowedOperations must not be empty", n))
		}
		for _, op := range r.AllowedOperations {
			if !corsOps[op] {
				return errBadRequest(fmt.Sprintf("CORS rule %q: unknown operation %q", n, op))
			}
		}
		if r.MaxAgeSeconds < 0 || r.MaxAgeSeconds > 86400 {
			return errBadRequest(fmt.Sprintf("CORS rule %q: maxAgeSeconds must be 0 to 86400", n))
		}
		size := 0
		for _, l := range [][]string{{r.CorsRuleName}, r.AllowedOrigins, r.AllowedOperations, r.AllowedHeaders, r.ExposeHeaders} {
			for _, s := range l {
				size += len(s)
			}
		}
		if size >= 1000 {
			return errBadRequest(fmt.Sprintf("CORS rule %q is %d bytes; each rule must be under 1000", n, size))
		}
	}
	return nil
}

func validLifecycle(rules []lifecycleRule) error {
	if len(rules) > 100 {
		return errBadRequest("at most 100 lifecycle rules per bucket")
	}
	for i, r := range rules {
		any := false
		for _, d := range []*int64{r.DaysFromHidingToDeleting, r.DaysFromUploadingToHiding, r.DaysFromStartingToCancelingUnfinishedLargeFiles} {
			if d != nil {
				if *d <= 0 {
					return errBadRequest(fmt.Sprintf("lifecycle rule for prefix %q: day counts must be positive (0 is not allowed; use null)", r.FileNamePrefix))
				}
				any = true
			}
		}
		if !any {
			return errBadRequest(fmt.Sprintf("lifecycle rule for prefix %q sets no day field", r.FileNamePrefix))
		}
		for j := 0; j < i; j++ {
			a, b := rules[j].FileNamePrefix, r.FileNamePrefix
			if strings.HasPrefix(a, b) || strings.HasPrefix(b, a) {
				return errBadRequest(fmt.Sprintf("lifecycle rules for prefixes %q and %q overlap", a, b))
			}
		}
	}
	return nil
}

func validBucketInfo(m map[string]string) error {
	if len(m) > 10 {
		return errBadRequest(fmt.Sprintf("bucketInfo has %d entries; the limit is 10", len(m)))
	}
	for k := range m {
		if k == "" || len(k) > 50 {
			return errBadRequest(fmt.Sprintf("bucketInfo key %q must be 1 to 50 characters", k))
		}
		for i := 0; i < len(k); i++ {
			c := k[i]
			if !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_') {
				return errBadRequest(fmt.Sprintf("bucketInfo key %q may contain only letters, digits, '-' and '_'", k))
			}
		}
	}
	return nil
}

func validKeyName(n string) error {
	if len(n) < 1 || len(n) > 100 {
		return errBadRequest("keyName must be 1 to 100 characters")
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-') {
			return errBadRequest(fmt.Sprintf("keyName %q may contain only letters, digits and '-'", n))
		}
	}
	return nil
}

// parseRange parses "bytes=a-b" against size; ok=false means unsatisfiable.
func parseRange(h string, size int64) (off, n int64, err error) {
	spec, found := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, errCode(416, "range_not_satisfiable", fmt.Sprintf("invalid range %q", h))
	}
	a, b, _ := strings.Cut(spec, "-")
	var start, end int64
	switch {
	case a == "":
		var k int64
		if _, err := fmt.Sscanf(b, "%d", &k); err != nil || k <= 0 {
			return 0, 0, errCode(416, "range_not_satisfiable", fmt.Sprintf("invalid range %q", h))
		}
		if k > size {
			k = size
		}
		start, end = size-k, size-1
	default:
		if _, err := fmt.Sscanf(a, "%d", &start); err != nil || start < 0 {
			return 0, 0, errCode(416, "range_not_satisfiable", fmt.Sprintf("invalid range %q", h))
		}
		end = size - 1
		if b != "" {
			if _, err := fmt.Sscanf(b, "%d", &end); err != nil || end < start {
				return 0, 0, errCode(416, "range_not_satisfiable", fmt.Sprintf("invalid range %q", h))
			}
			if end > size-1 {
				end = size - 1
			}
		}
	}
	if start >= size {
		return 0, 0, errCode(416, "range_not_satisfiable", fmt.Sprintf("range %q starts past the end (size %d)", h, size))
	}
	return start, end - start + 1, nil
}
