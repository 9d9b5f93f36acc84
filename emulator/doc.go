// Package emulator is b2local: an emulator of the Backblaze B2 native API
// (/b2api/v1 … /b2api/v4 on one shared state) for tests and offline use.
//
// Entry point: NewServer(Options). A Server is usable three ways:
// in-process through Transport()/HTTPClient() (no port; URL() is
// "http://b2local.invalid"), on a real listener with Start("127.0.0.1:0"),
// or mounted anywhere through Handler(). Every URL it hands out (apiUrl,
// downloadUrl, upload URLs) shares the host the client used.
//
// Layout: one storage engine behind two thin fronts. store.go holds the
// state (accounts, keys, buckets, and per bucket a B-tree of names, each
// holding its versions newest first). B2's operations are store methods
// (store_files.go: put, copy, hide, delete a version, start/finish/cancel
// large files, parts, retention and legal hold; store_buckets.go: buckets
// and keys; store_read.go and store_s3.go: lookups and listings). Each takes
// the lock, validates against the state, changes it through a transaction
// (store_txn.go) that journals the change and knows how to undo it, and
// returns copies of what it made. persist.go commits the journal to bbolt
// (group commit; an operation answers only after its change is durable) and
// keeps content in files. The native front (handlers_*.go, one function per
// B2 call, plus http.go) and the S3 front (s3_*.go) parse and authorize the
// request, make one store call and encode the reply; neither takes the
// store's lock. Refusals carry a kind (store_errors.go) that each front
// words its own way. server.go routes, counts calls and injects faults;
// admin.go serves /_b2local/ (master key required); tokens.go holds the
// bounded token table; conns.go bounds connections and client I/O.
//
// The S3-compatible API is served on the same listener, path-style (every
// path outside /b2api/, /file/ and /_b2local/), on the same store: s3.go
// routes and writes XML errors, s3_sigv4.go verifies signatures and payloads,
// s3_buckets.go, s3_objects.go and s3_multipart.go are the calls. See
// docs/emulator-s3.md.
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
//   - Hide markers carry contentSha1 "none" (not null) in b2_hide_file
//     replies and listings: Backblaze's Python SDK (b2sdk 1.17) fails on a
//     null there, and its simulator answers "none". Folder entries keep null.
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
//   - File-info values may contain line breaks (they travel percent-encoded)
//     except under b2-* keys, which are replayed as HTTP headers; other
//     control characters are refused.
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
//     case-insensitively across all accounts; a taken name is
//     duplicate_bucket_name even for the caller's own bucket. Validation
//     failures are 400 bad_request.
//   - Not emulated: SSE-C (refused with 400). SSE-B2 is recorded and
//     reported, not performed. Event notifications, lifecycle execution and
//     replication are emulated with the choices listed under "Events,
//     lifecycle and replication" below.
//   - Timestamps are strictly increasing per bucket (a burst of uploads may
//     run a few milliseconds ahead of the clock).
//   - Stats classes count billed transactions: listing calls count one per
//     1,000 entries returned (at least one).
//   - An Expect header other than 100-continue is answered 417 by Go's HTTP
//     server before b2local sees the request (S3 ignores it).
//   - File ids have B2's shape (see fileIDString); only their bucket id and
//     internal id are read back, the date/time part is not checked.
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
// Accounts (Options.Accounts): every key and bucket belongs to one account
// (the master key's id is the account id). A key sees only its account's
// buckets, keys and files: another account's bucket id answers
// bad_bucket_id as if it did not exist (token.checkBucket), downloads 401,
// S3 AccessDenied.
//
// Rate limit (ratelimit.go, Options.RateLimit): a token bucket per account;
// a call over the rate is refused before it takes effect with 429
// too_many_requests (S3: 503 SlowDown) and Retry-After.
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
//
// Disk faults (disk full, I/O errors): a change is acknowledged only once
// committed. When a commit fails, the change and every change journaled
// after it (they were built on it) are undone in memory, newest first, so
// memory is again exactly what is on disk, and each of their callers gets
// 503 service_unavailable (S3: 503 SlowDown), which B2 and S3 clients retry;
// the failure is logged once per distinct error (content writes too), and
// the first commit that succeeds again is logged. There is no read-only mode:
// every later change tries again, so b2local recovers by itself when space
// returns. An upload whose content cannot be written is answered 503 too
// (not 408). A content file is removed only after the removal of the last
// version or part referring to it is committed, so after any sequence of
// disk-full, kill -9 and restart the directory loads and every acknowledged
// write is intact.
//
// # Events, lifecycle and replication
//
// Every store change that creates or removes a version emits events from
// its transaction (txn.emit); they are acted on only after the change is
// committed (store.afterCommit), so nothing undone is ever notified or
// replicated.
//
// Event notifications (store_notify.go, notify.go, handlers_notify.go):
// b2_set/get_bucket_notification_rules need write/readBucketNotifications
// and a key allowed on the bucket. Rules are validated as B2 documents them
// (≤25 per bucket; names 6–63 of [A-Za-z0-9-], unique, no "b2-"; known
// event types or the group wildcards; targetType "webhook"; a secret of 32
// letters and digits; maxEventsPerBatch 1–50; no two rules sharing an event
// type with overlapping objectNamePrefix) plus: https URLs only, except
// http to a loopback host (so tests can receive); at most 10 custom
// headers, none named X-Bz-*, no line breaks in values. get answers rules
// sorted by name with isSuspended/suspensionReason and the secret (as B2
// does); the state directory holds the secret sealed. Matching events are
// queued (10,000 deliveries; beyond that they are dropped and logged,
// never blocking a call) and POSTed by 4 workers as {"events":[…]} (B2's
// fields, eventVersion 1, events of one commit batched up to
// maxEventsPerBatch) with the custom headers and, when the rule has a
// secret, X-Bz-Event-Notification-Signature: v1=<hex HMAC-SHA256 of the
// body>. Each POST has a 10 s deadline and does not follow redirects; a
// non-2xx answer or no answer is retried after 1, 2, 4, 8 and 16 s; then
// the rule is suspended (isSuspended true, suspensionReason saying why) and
// delivers nothing until b2_set_bucket_notification_rules sends it again,
// which clears the suspension. B2's exact retry schedule is not documented.
// Emitted: b2:ObjectCreated:Upload (native and S3 uploads), :Copy,
// :MultipartUpload, :Replica / :MultipartReplica (at the destination),
// b2:ObjectDeleted:Delete (versions and hide markers; not the cancel of an
// unfinished large file), b2:HideMarkerCreated:Hide, and the
// …:LifecycleRule variants for lifecycle changes.
//
// Clock (clock.go): POST /_b2local/clock {"advance":"72h"} (Go durations
// or "3d"; forward only, ≤100 years) moves this b2local's time forward;
// GET tells it. Upload timestamps, token and key expiry, retention and the
// lifecycle read it; SigV4 request dates and presigned URL lifetimes, which
// clients stamp with their own clocks, are checked against the real clock.
// The offset is saved with the state. An advance is
// made one emulated day at a time (at most 1,000 steps), running the
// lifecycle after each, and answers what the lifecycle did.
//
// Lifecycle (lifecycle.go) runs after each clock step and every 10 minutes
// of real time: daysFromUploadingToHiding hides a current upload that many
// days old; daysFromHidingToDeleting deletes a version hidden (by a newer
// version or marker) for that many days, counted from the hiding version's
// timestamp, and a hide marker left hiding nothing once it is that old;
// daysFromStartingToCancelingUnfinishedLargeFiles cancels unfinished large
// files that old. Days are exact 24 h periods (B2 runs roughly daily).
// Versions under retention or legal hold are kept. Changes are store
// transactions of at most 1,000 changes each.
//
// Replication (replication.go): replicationConfiguration ({} clears it)
// needs writeBucketReplications; the source key must be an unexpired key
// of the source bucket's account with readFiles allowed on the source
// bucket; destination buckets must exist (looked up by id in the whole
// store, so another account's bucket works) and differ from the source;
// priority 1–2^31-1; rule names 1–64 of [A-Za-z0-9_-]; at most 10 rules;
// each destination key of sourceToDestinationKeyMapping must be an
// unexpired key of the destination bucket's account with writeFiles
// allowed on it. A new upload, copy or finished large file under
// an enabled rule is "pending" in the reply that creates it; a background
// worker then creates the replica (same name, bytes shared with the source,
// digests, content type, info and upload timestamp; the destination's
// default retention applies) and marks the source "completed" in one
// transaction, or "failed" when the source key no longer reads (deleted,
// expired), or the destination bucket is gone or maps no writing key to
// the source key (none mapped, deleted or expired). When
// rules overlap, the one with the highest priority decides. With
// includeExistingFiles, setting the rule marks existing never-replicated
// versions under it pending. Hide markers, deletions and replicas are not
// replicated. Pending versions are resumed after a restart. The status
// appears as replicationStatus (pending, completed, failed, replica) in file
// JSON and listings, X-Bz-Replication-Status on downloads and
// x-amz-replication-status (upper case) on S3 GET/HEAD.
package emulator
