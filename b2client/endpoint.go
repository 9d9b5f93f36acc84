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
	// KindS3 is B2's S3-compatible API (s3://, s3+http://, or
	// https://s3.REGION.backblazeb2.com): folders and moves go through S3,
	// buckets and keys through the native API at APIBase with the same key.
	KindS3
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
	// S3Base is the S3 endpoint (KindS3), e.g.
	// https://s3.us-west-000.backblazeb2.com, without a trailing slash.
	S3Base string
	// Region is the SigV4 signing region (KindS3): REGION of
	// s3.REGION.backblazeb2.com, else us-east-1 (emulators accept any).
	Region string
	// KeyID and Key are credentials found inside a b2:// URL.
	KeyID string
	Key   Secret
}

func (e Endpoint) String() string {
	if e.Kind == KindLocal {
		return "local://" + e.Dir
	}
	if e.Kind == KindS3 {
		return e.S3Base + " (S3-compatible API; native API " + e.APIBase + ")"
	}
	return e.APIBase
}

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
		return Endpoint{}, nil, fmt.Errorf("endpoint %q: want https://HOST, http://HOST, b2://[KEY_ID:APP_KEY@]HOST, s3://[KEY_ID:APP_KEY@]HOST or local://PATH", redactURL(raw))
	}
	switch strings.ToLower(scheme) {
	case "local":
		if rest == "" {
			return Endpoint{}, nil, errors.New("endpoint local://: a directory is required, e.g. local://.b2plan/state")
		}
		return Endpoint{Kind: KindLocal, Dir: rest}, nil, nil
	case "s3", "s3+http", "s3+https":
		return parseS3Endpoint(raw)
	case "http", "https", "b2":
	default:
		return Endpoint{}, nil, fmt.Errorf("endpoint %q: unknown scheme %q (want https, http, b2, s3, s3+http or local)", redactURL(raw), scheme)
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url errors quote the input, which may hold a secret.
		return Endpoint{}, nil, fmt.Errorf("endpoint %q: not a valid URL", redactURL(raw))
	}
	if u.Host == "" {
		return Endpoint{}, nil, fmt.Errorf("endpoint %q: no host", redactURL(raw))
	}
	if isB2S3Host(u.Hostname()) {
		if u.Scheme == "http" {
			return Endpoint{}, nil, fmt.Errorf("endpoint %q: B2's S3 endpoints accept only HTTPS", redactURL(raw))
		}
		if u.User != nil && u.Scheme != "b2" {
			return Endpoint{}, nil, fmt.Errorf("endpoint %q: credentials are only accepted in b2:// and s3:// URLs", redactURL(raw))
		}
		return parseS3Endpoint("s3://" + raw[len(scheme)+3:])
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
