// Package b2client is b2plan's B2 client layer and the only package that
// imports blazer. It connects to an endpoint (Connect: https/http hosts
// serving the native API, b2:// URLs, local:// in-process emulators),
// observes an account into a live.Live snapshot (Observe) and makes the
// changes the executor needs (Mutator).
//
// Calls blazer offers are made through blazer's base package (uploads);
// calls it lacks or does not fully model (v4 authorisation with allowed
// capabilities, bucket CORS/encryption/Object Lock/ifRevisionIs, v4 keys,
// b2_copy_file, b2_copy_part, listings at 10,000 per page) are made here as
// raw JSON calls. Both go through one RetryPolicy: 429/500/503/408 and
// dropped connections are retried with exponential backoff and jitter,
// honouring Retry-After; a 401 expired_auth_token/bad_auth_token
// re-authorises once per call; attempts are bounded; waits end with ctx.
//
// Every failure is an *Error classified at this boundary (NotFound,
// Conflict, Permanent, Retryable, RateLimited, Unauthorized, Locked,
// Ambiguous); errors.Is(err, b2client.NotFound) and errors.As work through
// wrapping. Non-idempotent calls (b2_create_key, b2_copy_file,
// b2_finish_large_file) are not retried after a transport failure that may
// have reached B2: they fail with class Ambiguous so the caller can look
// before acting again.
//
// Secrets (application keys) are held in Secret values that print as
// "[redacted]"; no error or String output contains one.
package b2client
