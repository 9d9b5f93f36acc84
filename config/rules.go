package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

func isNameChar(r rune) bool {
	return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') || r == '-'
}

func badNameChar(s string) (rune, bool) {
	for _, r := range s {
		if !isNameChar(r) {
			return r, true
		}
	}
	return 0, false
}

// bucketNameProblem explains why name is not a valid B2 bucket name, or returns "".
func bucketNameProblem(name string) string {
	if n := len(name); n < 6 || n > 63 {
		return fmt.Sprintf("Bucket name %q has %d characters; B2 bucket names have 6 to 63 characters (letters, digits and -).", name, n)
	}
	if r, bad := badNameChar(name); bad {
		return fmt.Sprintf("Bucket name %q contains %q; B2 bucket names may contain only letters, digits and - (e.g. %q).", name, r, suggestName(name))
	}
	if strings.HasPrefix(strings.ToLower(name), "b2-") {
		return fmt.Sprintf("Bucket name %q starts with \"b2-\", which Backblaze reserves; choose another prefix.", name)
	}
	return ""
}

// ReplicationKeyPrefix starts the names of the keys b2plan makes for replication blocks
// (planner.ReplicationKeyName): a key block may not use it.
const ReplicationKeyPrefix = "b2plan-repl-"

// keyNameProblem explains why name is not a valid application key name, or returns "".
func keyNameProblem(name string) string {
	if n := len(name); n < 1 || n > 100 {
		return fmt.Sprintf("Key name %q has %d characters; B2 key names have 1 to 100 characters (letters, digits and -).", name, n)
	}
	if r, bad := badNameChar(name); bad {
		return fmt.Sprintf("Key name %q contains %q; B2 key names may contain only letters, digits and - (e.g. %q).", name, r, suggestName(name))
	}
	return ""
}

func suggestName(s string) string {
	var sb strings.Builder
	for _, r := range s {
		if isNameChar(r) {
			sb.WriteRune(r)
		} else {
			sb.WriteRune('-')
		}
	}
	return sb.String()
}

func corsNameProblem(name string) string {
	if n := len(name); n < 6 || n > 50 {
		return fmt.Sprintf("CORS rule name %q has %d characters; names have 6 to 50 characters (letters, digits and -).", name, n)
	}
	if r, bad := badNameChar(name); bad {
		return fmt.Sprintf("CORS rule name %q contains %q; use only letters, digits and - (e.g. %q).", name, r, suggestName(name))
	}
	if strings.HasPrefix(strings.ToLower(name), "b2-") {
		return fmt.Sprintf("CORS rule name %q starts with \"b2-\", which Backblaze reserves; choose another name.", name)
	}
	return ""
}

var infoKeyRe = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func infoKeyProblem(k string) string {
	if !infoKeyRe.MatchString(k) {
		return fmt.Sprintf("Bucket info key %q may contain only letters, digits, _ and -.", k)
	}
	if len(k) > 50 {
		return fmt.Sprintf("Bucket info key %q is longer than 50 bytes; shorten it.", k)
	}
	return ""
}

var originRe = regexp.MustCompile(`^https?://(\*\.)?[A-Za-z0-9.-]+(:[0-9]{1,5})?$`)

func originProblem(o string, n int) string {
	switch {
	case o == "*":
		if n > 1 {
			return "\"*\" allows every origin and must be the only entry of allowed_origins; remove the others or the \"*\"."
		}
		return ""
	case o == "https" || o == "http":
		return ""
	case originRe.MatchString(o):
		return ""
	}
	return fmt.Sprintf("%q is not a valid origin; use a full origin such as \"https://example.com\" or \"https://*.example.com\", \"https\" for every HTTPS origin, or \"*\".", o)
}

// fileNameProblem checks a B2 file-name prefix: at most 1024 UTF-8 bytes, no control chars.
func fileNameProblem(p string) string {
	if len(p) > 1024 {
		return fmt.Sprintf("%q is longer than 1024 bytes, the B2 file-name limit.", p)
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f {
			return fmt.Sprintf("%q contains a control character, which B2 file names cannot hold.", p)
		}
	}
	return ""
}

// prefixProblem checks a folder prefix (folder path, move from/to): non-empty, ending in "/".
func prefixProblem(attr, p string) string {
	if p == "" {
		return fmt.Sprintf("%s must be a non-empty prefix ending in \"/\", e.g. \"incoming/\".", attr)
	}
	if !strings.HasSuffix(p, "/") {
		return fmt.Sprintf("%s %q must end in \"/\" so that it names a folder: write %q.", attr, p, p+"/")
	}
	if p == "/" {
		return fmt.Sprintf("%s \"/\" is not a folder: B2 names have no leading slash. Write e.g. \"incoming/\".", attr)
	}
	return fileNameProblem(p)
}

const maxKeyDuration = 1000 * 24 * time.Hour

var daysRe = regexp.MustCompile(`^([0-9]+)d(.*)$`)

// parseKeyDuration parses a Go duration ("720h") or days ("30d", "30d12h").
func parseKeyDuration(s string) (time.Duration, error) {
	var d time.Duration
	rest := strings.TrimSpace(s)
	if m := daysRe.FindStringSubmatch(rest); m != nil {
		days, err := strconv.Atoi(m[1])
		if err != nil || days > 100000 {
			return 0, fmt.Errorf("%q: the number of days is too large; the maximum is 1000d", s)
		}
		d = time.Duration(days) * 24 * time.Hour
		rest = m[2]
	}
	if rest != "" {
		x, err := time.ParseDuration(rest)
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration; write a Go duration such as \"720h\" or \"90m\", or days such as \"30d\"", s)
		}
		d += x
	}
	switch {
	case d <= 0:
		return 0, fmt.Errorf("%q must be positive, e.g. \"30d\"", s)
	case d > maxKeyDuration:
		return 0, fmt.Errorf("%q is longer than 1000 days, the longest lifetime B2 gives a key; use at most \"1000d\"", s)
	case d%time.Second != 0:
		return 0, fmt.Errorf("%q is not a whole number of seconds; B2 key lifetimes are in seconds", s)
	}
	return d, nil
}

func fmtDuration(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}
