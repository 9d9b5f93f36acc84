package b2client

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config says how to connect. Zero values mean the documented defaults.
type Config struct {
	// Endpoint from the provider block; env B2_ENDPOINT wins over it.
	Endpoint string
	// Credentials from the provider block; they win over credentials in a
	// b2:// URL, which win over B2_APPLICATION_KEY_ID / B2_APPLICATION_KEY.
	KeyID string
	Key   string

	// Getenv reads the environment (default os.Getenv).
	Getenv func(string) string
	// Transport overrides the HTTP transport for http(s)/b2 endpoints. The
	// default is a clone of http.DefaultTransport with
	// http.ProxyFromEnvironment (HTTPS_PROXY, NO_PROXY).
	Transport http.RoundTripper
	// Retry is the retry policy for every call.
	Retry RetryPolicy
	// Timeouts bounds every request (connect, TLS, response headers by kind
	// of call, idle body reads).
	Timeouts Timeouts
	// UserAgent is prepended to the User-Agent header.
	UserAgent string
	// Local serves local:// endpoints: given the state directory, it starts
	// an in-process server of the native API (the command layer starts the
	// embedded emulator; b2client never does). Without it a local://
	// endpoint is an error.
	Local func(dir string) (*LocalServer, error)
}

// LocalServer is a native API served in-process for a local:// endpoint.
type LocalServer struct {
	URL       string            // base URL to authorise against
	Transport http.RoundTripper // reaches URL and every URL the server hands out
	// KeyID and Key are the development credentials, used when none are
	// given in the configuration (the environment is not consulted).
	KeyID, Key string
	// Close stops the server (called by Conn.Close).
	Close func() error
}

// Allowed is what the key may do, from b2_authorize_account (v4).
type Allowed struct {
	Capabilities []string
	// Buckets is nil for a key valid for every bucket.
	Buckets    []AllowedBucket
	NamePrefix string // "" = no restriction
}

// AllowedBucket is one bucket a restricted key may use; Name is "" when the
// bucket has been deleted.
type AllowedBucket struct {
	ID   string
	Name string
}

// Has reports whether the key holds the capability.
func (a Allowed) Has(capability string) bool {
	for _, c := range a.Capabilities {
		if c == capability {
			return true
		}
	}
	return false
}

// Conn is an authorised connection to one B2 account. It is safe for
// concurrent use and re-authorises by itself when its token expires.
type Conn struct {
	endpoint Endpoint
	keyID    string
	key      Secret
	rt       http.RoundTripper
	client   *http.Client
	policy   RetryPolicy
	timeouts Timeouts
	health   *health
	ua       string
	uaHeader []string     // []string{ua}, shared by every request
	local    *LocalServer // local:// only
	warnings []string
	s3       *s3State // s3:// only: folders and moves go through S3

	// tokenLife is the shortest token lifetime seen (ns, 0 = none expired
	// yet): tokens are renewed before they reach it.
	tokenLife atomic.Int64

	authMu sync.Mutex // serialises re-authorisation
	mu     sync.Mutex
	auth   *authInfo

	blz blazerState

	// adaptive is the concurrency window of the account (adaptive.go).
	adaptive *Adaptive
}

// authInfo is an immutable snapshot of one authorisation.
type authInfo struct {
	gen         int
	issued      time.Time // when it was requested (policy clock)
	token       string
	apiURL      string
	downloadURL string
	accountID   string
	allowed     Allowed
	absMinPart  int64
	recPart     int64
}

// Connect resolves the endpoint and credentials and authorises (one
// b2_authorize_account call), so that a missing or rejected key is reported
// before any planning starts.
func Connect(ctx context.Context, cfg Config) (*Conn, error) {
	getenv := cfg.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	raw := cfg.Endpoint
	if env := strings.TrimSpace(getenv("B2_ENDPOINT")); env != "" {
		raw = env
	}
	ep, warnings, err := ParseEndpoint(raw)
	if err != nil {
		return nil, err
	}
	c := &Conn{endpoint: ep, policy: cfg.Retry.withDefaults(), timeouts: cfg.Timeouts.withDefaults(), warnings: warnings}
	c.health = newHealth(c.timeouts.Stall)
	c.ua = "b2plan"
	if cfg.UserAgent != "" {
		c.ua = cfg.UserAgent + " b2plan"
	}
	c.uaHeader = []string{c.ua}

	// Credentials: provider block > URL > environment (not for local://,
	// whose emulator never knows the account's real keys: it falls back to
	// its development credentials).
	keyID, key := cfg.KeyID, cfg.Key
	if keyID == "" && key == "" {
		keyID, key = ep.KeyID, ep.Key.Reveal()
	}
	if keyID == "" && key == "" && ep.Kind != KindLocal {
		keyID, key = getenv("B2_APPLICATION_KEY_ID"), getenv("B2_APPLICATION_KEY")
	}

	switch ep.Kind {
	case KindLocal:
		if cfg.Local == nil {
			return nil, fmt.Errorf("local endpoint %s: no embedded emulator here (local:// is served by the b2plan command)", ep.Dir)
		}
		ls, err := cfg.Local(ep.Dir)
		if err != nil {
			return nil, fmt.Errorf("local endpoint %s: %w", ep.Dir, err)
		}
		c.local = ls
		c.rt = ls.Transport
		ep.APIBase = strings.TrimRight(ls.URL, "/")
		c.endpoint.APIBase = ep.APIBase
		if keyID == "" && key == "" {
			keyID, key = ls.KeyID, ls.Key
		}
	default:
		c.rt = cfg.Transport
		if c.rt == nil {
			c.rt = defaultTransport(c.timeouts)
		}
	}
	c.rt = &deadlineTransport{base: c.rt, t: &c.timeouts, h: c.health}
	switch {
	case keyID == "" && key == "":
		c.Close()
		return nil, &Error{Op: "connect", Class: Unauthorized, Message: "no B2 credentials: set B2_APPLICATION_KEY_ID and B2_APPLICATION_KEY"}
	case keyID == "":
		c.Close()
		return nil, &Error{Op: "connect", Class: Unauthorized, Message: "incomplete B2 credentials: an application key is given but its id is empty or missing: set B2_APPLICATION_KEY_ID (or application_key_id in the provider block)"}
	case key == "":
		c.Close()
		return nil, &Error{Op: "connect", Class: Unauthorized, Message: "incomplete B2 credentials: an application key id is given but the key is empty or missing: set B2_APPLICATION_KEY (or application_key in the provider block)"}
	}
	c.keyID, c.key = keyID, NewSecret(key)
	c.client = &http.Client{Transport: c.rt, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	a, err := c.authorize(ctx)
	if err != nil {
		c.Close()
		if ep.Kind == KindS3 {
			// Buckets, keys and SHA-1s need the native API: refuse now
			// rather than skip them later.
			return nil, withOp(fmt.Sprintf("connect to the S3 endpoint %s: its buckets, keys and file SHA-1s need B2's native API with the same key, at %s", ep.S3Base, ep.APIBase), err)
		}
		return nil, err
	}
	c.auth = a
	c.adaptive = adaptiveFor(c.endpoint.APIBase+"\x00"+c.endpoint.S3Base, a.accountID)
	if ep.Kind == KindS3 {
		c.s3 = newS3State(c)
	}
	return c, nil
}

// defaultTransport is http.DefaultTransport with proxies from the
// environment, bounded connect and TLS handshake, and a larger idle pool.
func defaultTransport(t Timeouts) *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = http.ProxyFromEnvironment
	tr.MaxIdleConnsPerHost = 64
	tr.DialContext = (&net.Dialer{Timeout: t.Dial, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = t.TLS
	return tr
}

// Close releases the connection (and stops the local:// server).
func (c *Conn) Close() error {
	if c.local != nil && c.local.Close != nil {
		closeFn := c.local.Close
		c.local = nil
		return closeFn()
	}
	return nil
}

// Warnings returns notes for the user gathered while connecting.
func (c *Conn) Warnings() []string { return append([]string(nil), c.warnings...) }

// Endpoint returns the resolved endpoint (no credentials).
func (c *Conn) Endpoint() Endpoint { e := c.endpoint; e.KeyID, e.Key = "", Secret{}; return e }

// KeyID returns the application key id in use (not a secret).
func (c *Conn) KeyID() string { return c.keyID }

// AccountID returns the account id.
func (c *Conn) AccountID() string { return c.current().accountID }

// Allowed returns what the key may do.
func (c *Conn) Allowed() Allowed { return c.current().allowed }

// PartSizes returns B2's absolute minimum and recommended part sizes.
func (c *Conn) PartSizes() (absoluteMinimum, recommended int64) {
	a := c.current()
	return a.absMinPart, a.recPart
}

// String never shows the secret.
func (c *Conn) String() string {
	return fmt.Sprintf("b2client.Conn{endpoint: %s, keyID: %s, key: %s}", c.endpoint, c.keyID, redacted)
}

func (c *Conn) current() *authInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.auth
}

// Require checks, from the authorisation alone (no call is made), that the
// key has every capability in caps and may use every bucket named in
// buckets. The error (class Unauthorized) lists everything that is missing.
func (c *Conn) Require(caps []string, buckets []string) error {
	al := c.Allowed()
	var missing []string
	seen := map[string]bool{}
	for _, cp := range caps {
		if !al.Has(cp) && !seen[cp] {
			seen[cp] = true
			missing = append(missing, cp)
		}
	}
	var badBuckets []string
	if al.Buckets != nil {
		for _, b := range buckets {
			ok := false
			for _, ab := range al.Buckets {
				if ab.Name != "" && strings.EqualFold(ab.Name, b) {
					ok = true
				}
			}
			if !ok {
				badBuckets = append(badBuckets, b)
			}
		}
	}
	if len(missing) == 0 && len(badBuckets) == 0 {
		return nil
	}
	var parts []string
	if len(missing) > 0 {
		parts = append(parts, "it lacks the capabilities "+strings.Join(missing, ", "))
	}
	if len(badBuckets) > 0 {
		var names []string
		for _, ab := range al.Buckets {
			names = append(names, ab.Name)
		}
		sort.Strings(names)
		parts = append(parts, fmt.Sprintf("it is restricted to the buckets [%s], not %s", strings.Join(names, ", "), strings.Join(badBuckets, ", ")))
	}
	return &Error{
		Op:      "check application key " + c.keyID,
		Class:   Unauthorized,
		Message: strings.Join(parts, "; ") + ": use a key with these capabilities",
		Code:    "missing_capabilities",
	}
}

// MissingCapabilities returns the capabilities of caps that the key lacks.
func (c *Conn) MissingCapabilities(caps []string) []string {
	al := c.Allowed()
	var out []string
	for _, cp := range caps {
		if !al.Has(cp) {
			out = append(out, cp)
		}
	}
	return out
}

type authorizeResponse struct {
	AccountID string `json:"accountId"`
	Token     string `json:"authorizationToken"`
	APIInfo   struct {
		StorageAPI struct {
			APIURL      string `json:"apiUrl"`
			DownloadURL string `json:"downloadUrl"`
			AbsMin      int64  `json:"absoluteMinimumPartSize"`
			Recommended int64  `json:"recommendedPartSize"`
			Allowed     struct {
				Capabilities []string `json:"capabilities"`
				Buckets      []struct {
					ID   string  `json:"id"`
					Name *string `json:"name"`
				} `json:"buckets"`
				NamePrefix *string `json:"namePrefix"`
			} `json:"allowed"`
		} `json:"storageApi"`
	} `json:"apiInfo"`
}

// authorize calls b2_authorize_account (v4) with the retry policy.
func (c *Conn) authorize(ctx context.Context) (*authInfo, error) {
	var resp authorizeResponse
	issued := c.policy.Now()
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(c.keyID+":"+c.key.Reveal()))
	_, err := c.retry(ctx, "authorize account", false, nil, func(ctx context.Context) attemptResult {
		r := c.doJSON(ctx, "GET", c.endpoint.APIBase+"/b2api/v4/b2_authorize_account", basic, nil, &resp, false)
		if r.err == nil && (r.code == "bad_response" || (r.status == 404 || r.status == 405) && r.code != "unsupported") {
			// Something answers, but not B2 (a web server, a wrong port):
			// retrying cannot help.
			return attemptResult{final: &Error{Op: "authorize account", Status: r.status, Code: r.code, Class: Permanent, Attempts: 1,
				Message: fmt.Sprintf("%s does not answer like a B2 native API (%d %s): check the endpoint", c.endpoint.APIBase, r.status, r.msg)}}
		}
		return r
	})
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.Status == 401 {
			msg := fmt.Sprintf("B2 rejected the application key (%d %s): check B2_APPLICATION_KEY_ID and B2_APPLICATION_KEY (or the provider block) for key id %q", e.Status, e.Code, c.keyID)
			if e.Code == "unsupported" {
				msg = fmt.Sprintf("B2 refused the application key (%d unsupported): %s", e.Status, e.Message)
			}
			return nil, &Error{Op: "authorize account", Status: e.Status, Code: e.Code, Class: Unauthorized, Message: msg, Attempts: e.Attempts}
		}
		return nil, err
	}
	s := resp.APIInfo.StorageAPI
	if resp.Token == "" || s.APIURL == "" {
		return nil, &Error{Op: "authorize account", Class: Permanent, Message: "the endpoint did not answer like a B2 native API (no token or apiUrl)"}
	}
	a := &authInfo{
		issued:      issued,
		token:       resp.Token,
		apiURL:      strings.TrimRight(s.APIURL, "/"),
		downloadURL: strings.TrimRight(s.DownloadURL, "/"),
		accountID:   resp.AccountID,
		absMinPart:  s.AbsMin,
		recPart:     s.Recommended,
	}
	if a.absMinPart <= 0 {
		a.absMinPart = 5_000_000
	}
	if a.recPart <= 0 {
		a.recPart = 100_000_000
	}
	a.allowed.Capabilities = s.Allowed.Capabilities
	if s.Allowed.Buckets != nil {
		a.allowed.Buckets = []AllowedBucket{}
		for _, b := range s.Allowed.Buckets {
			ab := AllowedBucket{ID: b.ID}
			if b.Name != nil {
				ab.Name = *b.Name
			}
			a.allowed.Buckets = append(a.allowed.Buckets, ab)
		}
	}
	if s.Allowed.NamePrefix != nil {
		a.allowed.NamePrefix = *s.Allowed.NamePrefix
	}
	return a, nil
}

// reauth replaces the authorisation unless another goroutine already did
// since stale was issued.
func (c *Conn) reauth(ctx context.Context, stale *authInfo) error {
	c.authMu.Lock()
	defer c.authMu.Unlock()
	if cur := c.current(); cur != stale {
		return nil
	}
	a, err := c.authorize(ctx)
	if err != nil {
		return err
	}
	a.gen = stale.gen + 1
	c.mu.Lock()
	c.auth = a
	c.mu.Unlock()
	return nil
}

// authGeneration counts re-authorisations (for tests).
func (c *Conn) authGeneration() int { return c.current().gen }
