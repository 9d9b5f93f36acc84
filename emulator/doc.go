// Package emulator is b2local: an emulator of the Backblaze B2 native API
// (/b2api/v1 … /b2api/v4 on one shared state) for tests and offline use.
//
// Entry point: NewServer(Options). A Server is usable three ways:
// in-process through Transport()/HTTPClient() (no port; URL() is
// "http://b2local.invalid"), on a real listener with Start("127.0.0.1:0"),
// or mounted anywhere through Handler(). Every URL it hands out (apiUrl,
// downloadUrl, upload URLs) shares the host the client used.
//
// Layout: store.go is the storage layer (no HTTP): accounts, keys, buckets,
// and per bucket a B-tree of names, each holding its versions newest first.
// persist.go journals every mutation to bbolt (group commit; the API answers
// only after its mutation is durable) and keeps content in files. The HTTP
// layer is one function per B2 call (handlers_*.go) plus one JSON/error
// writer (http.go); server.go routes, counts calls (GET /_b2local/stats)
// and injects faults; admin.go serves /_b2local/.
//
// The S3-compatible API is served on the same listener, path-style (every
// path outside /b2api/, /file/ and /_b2local/), on the same store: s3.go
// routes and writes XML errors, s3_sigv4.go verifies signatures and payloads,
// s3_buckets.go, s3_objects.go and s3_multipart.go are the calls,
// store_s3.go the listing walks. See docs/emulator-s3.md.
//
// # Deviations and choices
//
// Where B2's behaviour is undocumented the stricter reading was taken:
//
//   - Tokens of a deleted key answer 401 bad_auth_token. Tokens are not
//     persisted: after a restart old tokens answer bad_auth_token and
//     clients re-authorize.
//   - Refused deletes of locked versions (retention, legal hold) answer
//     403 access_denied, as b2sdk's simulator does.
//   - Copying a large-file source (contentSha1 "none") keeps "none", also for
//     ranges; clients must verify copies with large_file_sha1 or the size.
//     A sub-range of a small file gets a freshly computed SHA-1.
//   - b2_copy_file answers action "copy"; the version is stored and listed as
//     "upload". Copies share the source content (reference counted).
//   - list_file_names: nextFileName is the last name + " "; when the last
//     entry is a folder it is the folder name with its final byte
//     incremented, so the next page skips the whole folder and folders are
//     never repeated across pages. A folder containing only hidden names is
//     not listed. nextFileName is null when nothing follows (the emulator
//     looks ahead one entry).
//   - An unfinished large file (action "start") is visible only in
//     list_file_versions and list_unfinished_large_files; it does not mask an
//     older upload of the same name in list_file_names or downloads.
//   - Unfinished large files count toward bucket emptiness.
//   - File info: at most 10 entries (older docs' header cap), keys of ≤50
//     bytes, unknown b2-* keys refused; b2-expires must be an HTTP date and
//     b2-content-disposition parseable. The header budget counts
//     "X-Bz-File-Name: <encoded>\r\n" plus each "X-Bz-Info-k: <encoded>\r\n";
//     7000 bytes, 2048 with SSE or in an Object-Lock bucket.
//   - Upload headers Content-Disposition, Content-Encoding, Content-Language,
//     Content-Location, Content-Range and Expires are refused (400).
//   - Percent-decoding uses form rules ('+' is a space) for X-Bz-File-Name,
//     X-Bz-Info-* values and the /file/<bucket>/<name> path alike.
//   - do_not_verify uploads are hashed by the emulator and report the real
//     SHA-1 (no "unverified:" prefix).
//   - b2_create_key: v4 takes only bucketIds, v1–v3 only bucketId; the other
//     field is refused with 400. Keys restricted to buckets may only hold the
//     bucket-level capabilities. create/list/delete_key, create/update/
//     delete_bucket need a key without bucket or name-prefix restriction.
//   - b2_get_download_authorization: fileNamePrefix must satisfy the key's
//     namePrefix. Download tokens work for by-name downloads only; b2*
//     overrides pinned in them must be repeated in the request.
//   - b2* query overrides on a public bucket need a token.
//   - copy_file/copy_part need readFiles when the source bucket is private;
//     ranges must be "bytes=a-b" inside the source (else 416).
//   - Unknown source of a copy → 404 not_found; get_file_info on an
//     unfinished large file → 400 bad_request.
//   - finish_large_file refuses uploaded parts not listed in partSha1Array
//     (missing_part) as well as gaps.
//   - update_file_retention: switching compliance to governance or
//     shortening compliance → 403 access_denied; shortening or removing
//     governance without bypassGovernance → 403 access_denied.
//   - Bucket names 6–63 of [A-Za-z0-9-], no "b2-" prefix, unique
//     case-insensitively; a taken name is duplicate_bucket_name even for the
//     caller's own bucket. Validation failures are 400 bad_request.
//   - Not emulated: SSE-C (refused with 400), replication (refused with 400),
//     event notifications, lifecycle execution. SSE-B2 is recorded
//     and reported, not performed.
//   - Timestamps are strictly increasing per bucket (a burst of uploads may
//     run a few milliseconds ahead of the clock).
//   - Stats classes count billed transactions: listing calls count one per
//     1,000 entries returned (at least one).
//   - S3 DeleteObject/DeleteObjects with a versionId that exists but belongs
//     to another key answer InvalidArgument and delete nothing (AWS answers
//     success; B2's native delete refuses the pair). A versionId that no
//     longer exists still answers success, so retried deletes succeed.
//   - Tokens are held in a bounded table (tokens.go): expired ones are freed,
//     and each bucket (upload tokens), large file (part tokens), key (account
//     tokens) and bucket (download tokens) keeps at most a fixed number, the
//     least recently used evicted first. A dropped token answers 401
//     expired_auth_token, as after its TTL, so clients fetch a new one.
//
// Serving (conns.go): the first request header must arrive within
// Options.IOTimeout, keep-alive connections close after IdleTimeout, and each
// read of a request body or write of a response waits at most IOTimeout (no
// whole-request deadline). At MaxConns a new connection replaces the
// longest-idle one. Upload memory grows with the bytes received, never with
// the claimed Content-Length. A call refused before its body was read is
// answered at once with Connection: close instead of draining the body.
// The control endpoints /_b2local/ (stats, stats/reset, faults,
// expire-tokens; not health) need "Authorization: Bearer <master application
// key>", take only application/json, and refuse cross-site requests and bad
// fault values (rate outside [0,1], undefined or non-error codes, negative
// latency) with 400.
//
// Persistence (Options.Dir): bbolt holds the metadata, content files live
// under DIR/blobs, written temp+fsync+rename before the metadata that
// references them commits. After a crash, unreferenced content files are
// removed at open. A second process on the same DIR fails after one second
// with "state directory … is in use". Application-key secrets are stored
// sealed (AES-GCM with a random DIR/secrets.key, mode 0600), so no state file
// holds a secret in clear; they cannot be hashed because SigV4 needs them.
package emulator
