package b2client

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// DefaultEndpoint is where b2_authorize_account goes when nothing else is
// configured.
const DefaultEndpoint = "https://api.backblazeb2.com"

// EndpointKind says how an endpoint is reached.
type EndpointKind int

const (
	// KindHTTP is any http(s) host serving the B2 native API.
	KindHTTP EndpointKind = iota
	// KindLocal is the in-process emulator with state in a directory.
	KindLocal
)

// Endpoint is a parsed endpoint setting. It never holds credentials in its
// String form.
type Endpoint struct {
	Kind EndpointKind
	// APIBase is the base URL for b2_authorize_account (KindHTTP), without a
	// trailing slash.
	APIBase string
	// Dir is the state directory (KindLocal).
	Dir string
	// KeyID and Key are credentials found inside a b2:// URL.
	KeyID string
	Key   Secret
}

func (e Endpoint) String() string {
	if e.Kind == KindLocal {
		return "local://" + e.Dir
	}
	return e.APIBase
}

// ErrS3NotSupported is returned for s3:// endpoints.
var ErrS3NotSupported = errors.New("the S3-compatible API (s3:// endpoints) is not supported yet: use the native API endpoint https://api.backblazeb2.com (or a b2:// URL)")

// ParseEndpoint parses an endpoint setting (SPEC §1.3). "" means the default.
// Warnings are for the user (credentials inside the URL); errors never echo
// the raw value, which may hold a secret.
func ParseEndpoint(raw string) (Endpoint, []string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return Endpoint{Kind: KindHTTP, APIBase: DefaultEndpoint}, nil, nil
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return Endpoint{}, nil, fmt.Errorf("endpoint %q: want https://HOST, http://HOST, b2://[KEY_ID:APP_KEY@]HOST or local://PATH", redactURL(raw))
	}
	switch strings.ToLower(scheme) {
	case "local":
		if rest == "" {
			return Endpoint{}, nil, errors.New("endpoint local://: a directory is required, e.g. local://.b2plan/state")
		}
		return Endpoint{Kind: KindLocal, Dir: rest}, nil, nil
	case "s3":
		return Endpoint{}, nil, ErrS3NotSupported
	case "http", "https", "b2":
	default:
		return Endpoint{}, nil, fmt.Errorf("endpoint %q: unknown scheme %q (want https, http, b2 or local)", redactURL(raw), scheme)
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url errors quote the input, which may hold a secret.
		return Endpoint{}, nil, fmt.Errorf("endpoint %q: not a valid URL", redactURL(raw))
	}
	if u.Host == "" {
		return Endpoint{}, nil, fmt.Errorf("endpoint %q: no host", redactURL(raw))
	}
	if strings.HasPrefix(strings.ToLower(u.Hostname()), "s3.") && strings.HasSuffix(strings.ToLower(u.Hostname()), ".backblazeb2.com") {
		return Endpoint{}, nil, ErrS3NotSupported
	}
	if u.Path != "" && u.Path != "/" {
		return Endpoint{}, nil, fmt.Errorf("endpoint %q: a path is not allowed, give only the host", redactURL(raw))
	}
	ep := Endpoint{Kind: KindHTTP}
	var warnings []string
	if u.User != nil {
		if u.Scheme != "b2" {
			return Endpoint{}, nil, fmt.Errorf("endpoint %q: credentials are only accepted in b2:// URLs", redactURL(raw))
		}
		ep.KeyID = u.User.Username()
		pw, _ := u.User.Password()
		ep.Key = NewSecret(pw)
		if ep.KeyID == "" || pw == "" {
			return Endpoint{}, nil, errors.New("endpoint b2://: credentials must be KEY_ID:APP_KEY@HOST")
		}
		warnings = append(warnings, "the endpoint URL contains credentials: prefer B2_APPLICATION_KEY_ID and B2_APPLICATION_KEY in the environment")
	}
	scheme = u.Scheme
	if scheme == "b2" {
		scheme = "https"
	}
	ep.APIBase = scheme + "://" + u.Host
	return ep, warnings, nil
}

// redactURL removes userinfo from something that looks like a URL, without
// relying on it parsing.
func redactURL(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		if i := strings.LastIndex(raw, "@"); i >= 0 {
			return "[redacted]@" + raw[i+1:]
		}
		return raw
	}
	// Anything before the last "@" may be userinfo (a secret can itself
	// contain "/" or "?"), so hide all of it.
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		return scheme + "://[redacted]@" + rest[i+1:]
	}
	return raw
}
