package b2client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// The S3-compatible path (SPEC §1.3, issue 8).
//
// An s3:// endpoint (or https://s3.REGION.backblazeb2.com) makes a Conn that
// holds two clients for one account and one key:
//
//   - the native API (b2_authorize_account at APIBase) for everything S3
//     cannot express as B2 models it: buckets with their info, lifecycle and
//     CORS rules, encryption and Object Lock defaults, application keys, and
//     the SHA-1 / content type / file info of listed versions. Connect
//     authorises it at once, so a key the native API refuses is reported
//     before planning; nothing is ever skipped silently.
//   - the AWS SDK for Go v2 (path-style, SigV4) for folders and moves:
//     ListObjectVersions, CopyObject, UploadPartCopy, DeleteObject(s),
//     PutObject.
//
// Retries: every SDK call runs with the SDK's retryer disabled
// (aws.NopRetryer) inside this package's one retry loop (Conn.retry), so
// attempts, backoff, Retry-After and the Ambiguous rule for non-idempotent
// calls (CopyObject, CompleteMultipartUpload) are those of the native API.

// parseS3Endpoint parses s3://, s3+http:// and s3+https:// endpoints.
// s3:// means HTTPS, except for loopback hosts (localhost, 127.0.0.0/8,
// ::1), where it means plain HTTP: local emulators serve no TLS. s3+http://
// forces plain HTTP for any other host (an emulator on the LAN).
func parseS3Endpoint(raw string) (Endpoint, []string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Endpoint{}, nil, fmt.Errorf("endpoint %q: not a valid URL", redactURL(raw))
	}
	if u.Host == "" {
		return Endpoint{}, nil, fmt.Errorf("endpoint %q: no host", redactURL(raw))
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		return Endpoint{}, nil, fmt.Errorf("endpoint %q: a path is not allowed, give only the host (buckets are named in the configuration)", redactURL(raw))
	}
	host := u.Hostname()
	scheme := "https"
	switch strings.ToLower(u.Scheme) {
	case "s3+http":
		scheme = "http"
	case "s3":
		if isLoopback(host) {
			scheme = "http"
		}
	}
	if isB2S3Host(host) && scheme == "http" {
		return Endpoint{}, nil, fmt.Errorf("endpoint %q: B2's S3 endpoints accept only HTTPS", redactURL(raw))
	}
	ep := Endpoint{Kind: KindS3, S3Base: scheme + "://" + u.Host, Region: "us-east-1"}
	if isB2S3Host(host) {
		// s3.REGION.backblazeb2.com: the same key works on the native API
		// at api.backblazeb2.com.
		ep.Region = strings.Split(strings.ToLower(host), ".")[1]
		ep.APIBase = DefaultEndpoint
	} else {
		// An emulator serves both APIs on one host.
		ep.APIBase = ep.S3Base
	}
	var warnings []string
	if u.User != nil {
		ep.KeyID = u.User.Username()
		pw, _ := u.User.Password()
		ep.Key = NewSecret(pw)
		if ep.KeyID == "" || pw == "" {
			return Endpoint{}, nil, errors.New("endpoint s3://: credentials must be KEY_ID:APP_KEY@HOST")
		}
		warnings = append(warnings, "the endpoint URL contains credentials: prefer B2_APPLICATION_KEY_ID and B2_APPLICATION_KEY in the environment")
	}
	return ep, warnings, nil
}

// isB2S3Host reports s3.REGION.backblazeb2.com.
func isB2S3Host(host string) bool {
	h := strings.ToLower(host)
	return strings.HasPrefix(h, "s3.") && strings.HasSuffix(h, ".backblazeb2.com") && strings.Count(h, ".") == 3
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// s3State is the S3 side of a Conn.
type s3State struct {
	client *s3.Client

	mu sync.Mutex
	// bucketNames maps bucket ids to names (from b2_list_buckets).
	bucketNames map[string]string
	// sources remembers, per version id listed by Observe, what the S3 and
	// native listings said about it, to verify copies without another call.
	sources map[string]s3Source
}

// s3Source is one listed version: its size, the MD5 from its S3 ETag (when
// the ETag is a plain MD5) and its SHA-1 from the native listing.
type s3Source struct {
	size  int64
	md5   [16]byte
	sha1  [20]byte
	flags uint8 // live.FlagSHA1 / FlagLargeFileSHA1
	md5ok bool
}

// newS3State makes the SDK client for c (c.client, c.keyID and c.key set).
func newS3State(c *Conn) *s3State {
	ep := c.endpoint
	opts := s3.Options{
		Region:                     ep.Region,
		BaseEndpoint:               aws.String(ep.S3Base),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(c.keyID, c.key.Reveal(), ""),
		HTTPClient:                 s3HTTPClient{c.client},
		Retryer:                    aws.NopRetryer{},
		RetryMaxAttempts:           1,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		APIOptions:                 []func(*middleware.Stack) error{signPayload},
		AppID:                      "b2plan",
	}
	return &s3State{client: s3.New(opts), bucketNames: map[string]string{}, sources: map[string]s3Source{}}
}

// signPayload makes every S3 call sign its payload's SHA-256 and send it in
// x-amz-content-sha256, as B2 requires, on every transport. Over HTTPS the
// SDK otherwise signs PutObject and UploadPart with UNSIGNED-PAYLOAD (its
// "dynamic payload signing"); trailing checksums (aws-chunked with
// STREAMING-UNSIGNED-PAYLOAD-TRAILER) are never used because request
// checksums are computed only when required, and then as a header (no
// call b2plan makes streams an unseekable body).
func signPayload(stack *middleware.Stack) error {
	if _, ok := stack.Finalize.Get("ComputePayloadHash"); !ok {
		return nil
	}
	_, err := stack.Finalize.Swap("ComputePayloadHash", &v4.ComputePayloadSHA256{})
	return err
}

// IsS3 reports whether folders and moves go through the S3-compatible API.
func (c *Conn) IsS3() bool { return c.s3 != nil }

type wroteKey struct{}

// s3HTTPClient records, per attempt, whether the request was completely
// written (for the Ambiguous rule), like doJSON does for native calls.
type s3HTTPClient struct{ c *http.Client }

func (h s3HTTPClient) Do(req *http.Request) (*http.Response, error) {
	if w, ok := req.Context().Value(wroteKey{}).(*atomic.Bool); ok {
		trace := &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
			if i.Err == nil {
				w.Store(true)
			}
		}}
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	}
	return h.c.Do(req)
}

// s3Do runs one SDK call under the shared retry policy.
func (c *Conn) s3Do(ctx context.Context, op string, nonIdempotent bool, f func(ctx context.Context) error) (int, error) {
	return c.retry(ctx, op, nonIdempotent, nil, func(ctx context.Context) attemptResult {
		var wrote atomic.Bool
		err := f(context.WithValue(ctx, wroteKey{}, &wrote))
		return s3Result(err, wrote.Load())
	})
}

// s3Result maps an SDK outcome onto the retry loop.
func s3Result(err error, wrote bool) attemptResult {
	if err == nil {
		return attemptResult{status: 200}
	}
	var se *smithyhttp.RequestSendError
	var re *awshttp.ResponseError
	if !errors.As(err, &se) && errors.As(err, &re) && re.Response != nil && re.HTTPStatusCode() != 0 {
		r := attemptResult{status: re.HTTPStatusCode(), sent: true, s3: true}
		var ae smithy.APIError
		if errors.As(err, &ae) {
			r.code, r.msg = ae.ErrorCode(), ae.ErrorMessage()
		}
		if r.msg == "" {
			r.msg = http.StatusText(r.status)
		}
		if ra := re.Response.Header.Get("Retry-After"); ra != "" {
			if s, err := strconv.Atoi(ra); err == nil && s > 0 {
				r.retryAfter = time.Duration(s) * time.Second
			}
		}
		if r.status == 200 {
			// A 200 whose body could not be read (a timeout, a dropped
			// connection) is a transport failure after the call took effect:
			// Ambiguous for CopyObject, retried otherwise. One whose body
			// could not be decoded is a bad response.
			var ne net.Error
			if errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) {
				return attemptResult{err: s3TransportError(err), sent: true}
			}
			r.status, r.code = 500, "bad_response"
		}
		return r
	}
	sent := wrote || !isPreSendError(err)
	return attemptResult{err: s3TransportError(err), sent: sent}
}

// s3TransportError unwraps the SDK's operation wrapper so that messages say
// what failed on the wire.
func s3TransportError(err error) error {
	var se *smithyhttp.RequestSendError
	if errors.As(err, &se) && se.Err != nil {
		return se.Err
	}
	var oe *smithy.OperationError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err
	}
	return err
}

// classifyS3 maps an S3 status and error code to a Class.
func classifyS3(status int, code, msg string) Class {
	lm := strings.ToLower(msg)
	switch code {
	case "NoSuchKey", "NoSuchVersion", "NoSuchBucket", "NoSuchUpload", "NotFound":
		return NotFound
	case "SlowDown", "TooManyRequests", "ThrottlingException":
		return RateLimited
	case "InternalError", "ServiceUnavailable", "RequestTimeout":
		return Retryable
	case "AccessDenied":
		if strings.Contains(lm, "retention") || strings.Contains(lm, "legal hold") || strings.Contains(lm, "object lock") || strings.Contains(lm, "locked") {
			return Locked
		}
		return Unauthorized
	case "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken", "AccountProblem":
		return Unauthorized
	case "BucketAlreadyExists", "BucketAlreadyOwnedByYou", "BucketNotEmpty", "OperationAborted", "PreconditionFailed":
		return Conflict
	}
	switch status {
	case 401, 403:
		return Unauthorized
	case 404:
		return NotFound
	case 409, 412:
		return Conflict
	case 429:
		return RateLimited
	case 408, 500, 502, 503, 504:
		return Retryable
	}
	if status >= 500 {
		return Retryable
	}
	return Permanent
}

// bucketIDOfFile extracts the bucket id from a B2 file id
// ("4_z<bucketId>_f…"), or "".
func bucketIDOfFile(fileID string) string {
	rest, ok := strings.CutPrefix(fileID, "4_z")
	if !ok {
		return ""
	}
	id, _, ok := strings.Cut(rest, "_f")
	if !ok {
		return ""
	}
	return id
}

// s3BucketName returns the name of a bucket of this account by id, from a
// cache filled by b2_list_buckets (one call, refreshed on a miss).
func (c *Conn) s3BucketName(ctx context.Context, op, bucketID string) (string, error) {
	st := c.s3
	st.mu.Lock()
	name, ok := st.bucketNames[bucketID]
	st.mu.Unlock()
	if ok {
		return name, nil
	}
	bs, err := c.listBuckets(ctx, "")
	if err != nil {
		return "", withOp(op, err)
	}
	st.mu.Lock()
	for _, b := range bs {
		st.bucketNames[b.ID] = b.Name
	}
	name, ok = st.bucketNames[bucketID]
	st.mu.Unlock()
	if !ok {
		return "", &Error{Op: op, Status: 404, Code: "NoSuchBucket", Class: NotFound, Message: fmt.Sprintf("no bucket with id %q in this account", bucketID)}
	}
	return name, nil
}

// s3FileLocation returns the bucket name and file name of a version id:
// from the hints when given, else from the id's bucket part, else from
// b2_get_file_info.
func (c *Conn) s3FileLocation(ctx context.Context, op, fileID, bucketHint, nameHint string) (bucket, name string, err error) {
	bucket, name = bucketHint, nameHint
	if bucket != "" && name != "" {
		return bucket, name, nil
	}
	if bid := bucketIDOfFile(fileID); bid != "" && name != "" {
		b, err := c.s3BucketName(ctx, op, bid)
		return b, name, err
	}
	var f fileJSON
	if _, err := c.call(ctx, op, "b2_get_file_info", struct {
		FileID string `json:"fileId"`
	}{fileID}, &f, false); err != nil {
		return "", "", err
	}
	if name == "" {
		name = f.FileName
	}
	if bucket == "" {
		if bucket, err = c.s3BucketName(ctx, op, f.BucketID); err != nil {
			return "", "", err
		}
	}
	return bucket, name, nil
}

func (st *s3State) source(id string) (s3Source, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	s, ok := st.sources[id]
	return s, ok
}

func (st *s3State) forget(id string) {
	st.mu.Lock()
	delete(st.sources, id)
	st.mu.Unlock()
}

// copySource is the x-amz-copy-source value for one version.
func copySource(bucket, name, versionID string) string {
	return s3Escape(bucket+"/"+name) + "?versionId=" + url.QueryEscape(versionID)
}

// s3Escape percent-encodes everything but unreserved characters and "/".
func s3Escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if 'A' <= ch && ch <= 'Z' || 'a' <= ch && ch <= 'z' || '0' <= ch && ch <= '9' || ch == '-' || ch == '_' || ch == '.' || ch == '~' || ch == '/' {
			b.WriteByte(ch)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", ch)
	}
	return b.String()
}

// etagMD5 parses a plain-MD5 ETag ("32 hex digits", quoted); multipart
// ETags ("…-N") and anything else report false.
func etagMD5(etag string) ([16]byte, bool) {
	var out [16]byte
	e := strings.Trim(etag, `"`)
	if len(e) != 32 {
		return out, false
	}
	for i := 0; i < 16; i++ {
		hi, ok1 := unhex(e[2*i])
		lo, ok2 := unhex(e[2*i+1])
		if !ok1 || !ok2 {
			return out, false
		}
		out[i] = hi<<4 | lo
	}
	return out, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
