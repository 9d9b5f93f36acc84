package emulator

import "time"

// Development credentials used when Options leaves the master key unset.
// The master application key id equals the account id, as on real B2.
const (
	DefaultAccountID = "b2local00001"
	DefaultKeyID     = DefaultAccountID
	DefaultKey       = "K00b2localDevelopmentMasterKey"
)

// Account is an account's master application key.
type Account struct{ KeyID, Key string }

// Options configures a Server. The zero value is a usable in-memory emulator
// with the development credentials and no faults.
type Options struct {
	// Dir holds the persistent state (metadata and content). Empty means memory only.
	Dir string

	// Master credentials; empty means DefaultKeyID / DefaultKey.
	MasterKeyID string
	MasterKey   string

	// Accounts are further accounts in the same b2local, each with its own
	// buckets and keys (bucket names are unique across all of them, as on
	// B2). An account's id is its master key id. When the master key above
	// is unset, the first entry is the default account.
	Accounts []Account

	// TokenTTL is the lifetime of account authorization tokens (default 24h).
	TokenTTL time.Duration

	// Connection limits of Start (see conns.go). IdleTimeout closes a
	// keep-alive connection with no request in flight (default 2m). IOTimeout
	// bounds each wait on the client: the first request's headers, each read
	// of a request body, each write of a response (default 1m); there is no
	// whole-request deadline, so large transfers are not cut short. MaxConns
	// caps open connections (default three quarters of the descriptor limit);
	// at the cap a new connection replaces the longest-idle one.
	IdleTimeout time.Duration
	IOTimeout   time.Duration
	MaxConns    int

	// Fault injection. FailRate is the probability (0..1) that an API call
	// (never /_b2local/) fails with one of FailCodes (default 503); 429 and 503
	// carry Retry-After: RetryAfter seconds (default 1, 0 keeps the default;
	// a negative value omits the header).
	FailRate   float64
	FailCodes  []int
	RetryAfter time.Duration
	// Latency is added to every API call.
	Latency time.Duration
	// Seed makes fault injection reproducible (0 = random).
	Seed int64

	// RateLimit, when positive, allows each account this many API requests
	// per second (token bucket, burst of one second); beyond it calls answer
	// 429 too_many_requests (S3: 503 SlowDown) with Retry-After (ratelimit.go).
	RateLimit float64

	// Limits, overridable so tests can exercise large-file paths with small
	// data. Zero means B2's value.
	AbsoluteMinimumPartSize int64 // default 5,000,000
	RecommendedPartSize     int64 // default 100,000,000
	MaxCopySize             int64 // largest b2_copy_file result, default 5,000,000,000

	// S3SignedPayload is B2's rule for its S3 API ("SHA256 enabled on
	// signing", "include SHA256 in request headers"): every header-signed
	// request must send x-amz-content-sha256, sign it, and give the hex
	// SHA-256 of the payload or a signed aws-chunked stream.
	// UNSIGNED-PAYLOAD and STREAMING-UNSIGNED-PAYLOAD-TRAILER are refused
	// (400 InvalidRequest). Off by default; presigned URLs are unaffected.
	S3SignedPayload bool

	// Now is the clock (default time.Now); tests use it for expiry and retention.
	Now func() time.Time

	// Logf, when set, receives one line per request.
	Logf func(format string, args ...any)
}
