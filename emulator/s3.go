package emulator

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The S3-compatible API (docs/emulator-s3.md). It is served path-style on the
// same listener as the native API: every request whose path is not under
// /b2api/, /file/ or /_b2local/ is an S3 request (/ = ListBuckets,
// /BUCKET = bucket calls, /BUCKET/KEY = object calls). Both APIs work on the
// same store; S3 calls are counted in Stats as "s3_<Operation>".

// s3State is the S3 side's own state: multipart ETags ("md5-of-md5s-N") of
// versions completed through CompleteMultipartUpload. It is kept in memory
// only (see etag for the fallback after a restart).
type s3State struct {
	mu    sync.Mutex
	etags map[uint64]string
}

func (s3 *s3State) setETag(id uint64, etag string) {
	s3.mu.Lock()
	if s3.etags == nil {
		s3.etags = map[uint64]string{}
	}
	s3.etags[id] = etag
	s3.mu.Unlock()
}

func (s3 *s3State) dropETag(id uint64) {
	s3.mu.Lock()
	delete(s3.etags, id)
	s3.mu.Unlock()
}

func (s3 *s3State) getETag(id uint64) (string, bool) {
	s3.mu.Lock()
	defer s3.mu.Unlock()
	e, ok := s3.etags[id]
	return e, ok
}

// s3Error is an S3 error response.
type s3Error struct {
	status     int
	code       string
	msg        string
	retryAfter time.Duration
	header     map[string]string // extra response headers
}

func (e *s3Error) Error() string { return fmt.Sprintf("%d %s: %s", e.status, e.code, e.msg) }

func s3err(status int, code, msg string) *s3Error {
	return &s3Error{status: status, code: code, msg: msg}
}

func errAccessDenied(msg string) *s3Error { return s3err(403, "AccessDenied", msg) }
func errNoSuchBucket(name string) *s3Error {
	return s3err(404, "NoSuchBucket", "The specified bucket does not exist: "+name)
}
func errNoSuchKey(key string) *s3Error {
	return s3err(404, "NoSuchKey", "The specified key does not exist: "+key)
}
func errInvalidArgument(msg string) *s3Error { return s3err(400, "InvalidArgument", msg) }
func errMalformedXML(msg string) *s3Error {
	return s3err(400, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema: "+msg)
}
func errNoSuchUpload(id string) *s3Error {
	return s3err(404, "NoSuchUpload", "The specified multipart upload does not exist: "+id)
}
func errNotImplemented(msg string) *s3Error { return s3err(501, "NotImplemented", msg) }

// toS3Error converts native-layer errors (validation helpers, injected
// faults) into S3 errors.
func toS3Error(err error) *s3Error {
	var se *s3Error
	if errors.As(err, &se) {
		return se
	}
	var ae *apiError
	if !errors.As(err, &ae) {
		return s3err(500, "InternalError", err.Error())
	}
	e := &s3Error{status: ae.status, msg: ae.msg, retryAfter: ae.retryAfter}
	switch {
	case ae.status == 503 || ae.status == 429:
		e.code = "SlowDown"
		e.msg = "Please reduce your request rate. (" + ae.msg + ")"
	case ae.status == 500:
		e.code = "InternalError"
	case ae.status == 408:
		e.code = "RequestTimeout"
	case ae.code == "expired_auth_token":
		e.code = "ExpiredToken"
	case ae.status == 416:
		e.code = "InvalidRange"
	case ae.status == 401 || ae.status == 403:
		e.status, e.code = 403, "AccessDenied"
	case ae.status == 404:
		e.code = "NoSuchKey"
	case ae.status == 400:
		e.code = "InvalidArgument"
	default:
		e.code = strings.ReplaceAll(http.StatusText(ae.status), " ", "")
		if e.code == "" {
			e.code = "InternalError"
		}
	}
	return e
}

type s3ErrorXML struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	Resource  string   `xml:"Resource,omitempty"`
	RequestID string   `xml:"RequestId"`
}

func writeS3Error(w http.ResponseWriter, r *http.Request, err error, reqID string) {
	e := toS3Error(err)
	h := w.Header()
	for k, v := range e.header {
		h.Set(k, v)
	}
	if e.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int((e.retryAfter+time.Second-1)/time.Second)))
	}
	closeIfBodyLeft(w, r)
	if r.Method == http.MethodHead {
		h.Set("Content-Length", "0")
		w.WriteHeader(e.status)
		return
	}
	writeXML(w, e.status, s3ErrorXML{Code: e.code, Message: e.msg, Resource: r.URL.Path, RequestID: reqID})
}

func writeXML(w http.ResponseWriter, status int, v any) {
	body, err := xml.Marshal(v)
	if err != nil {
		status = 500
		body = []byte("<Error><Code>InternalError</Code><Message>" + err.Error() + "</Message></Error>")
	}
	h := w.Header()
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(xml.Header)+len(body)))
	w.WriteHeader(status)
	_, _ = io.WriteString(w, xml.Header)
	_, _ = w.Write(body)
}

// ---- operations and classes ----

// s3Classes maps each S3 operation to its B2 transaction class, following
// Backblaze's pricing table for S3 calls: uploads, multipart bookkeeping and
// deletes are class A; object reads are class B; listings, bucket reads,
// CreateBucket and server-side copies are class C. DeleteBucket is class A
// like b2_delete_bucket.
var s3Classes = map[string]int{
	"ListBuckets": classC, "CreateBucket": classC, "DeleteBucket": classA, "HeadBucket": classC,
	"GetBucketVersioning": classC, "PutBucketVersioning": classC, "GetBucketLocation": classC,
	"ListObjects": classC, "ListObjectsV2": classC, "ListObjectVersions": classC,
	"HeadObject": classB, "GetObject": classB, "PutObject": classA, "CopyObject": classC,
	"CreateMultipartUpload": classA, "UploadPart": classA, "UploadPartCopy": classC,
	"CompleteMultipartUpload": classA, "AbortMultipartUpload": classA, "ListParts": classC,
	"ListMultipartUploads": classC, "DeleteObject": classA, "DeleteObjects": classA,
}

var s3Ops = map[string]*opDef{}

func init() {
	for _, n := range sortedKeys(s3Classes) {
		op := &opDef{name: "s3_" + n, class: s3Classes[n]}
		opList = append(opList, op)
		s3Ops[n] = op
	}
}

// s3req is one S3 request in flight.
type s3req struct {
	s      *Server
	st     *store
	w      http.ResponseWriter
	r      *http.Request
	c      *call
	q      url.Values
	reqID  string
	bucket string
	key    string

	k   *appKey // nil: anonymous
	tok *token  // synthetic account token of k (for the shared checks)
	sig *sigCtx // nil: anonymous
}

// splitS3Path splits a path-style path into bucket and key.
func splitS3Path(p string) (string, string) {
	p = strings.TrimPrefix(p, "/")
	b, k, _ := strings.Cut(p, "/")
	return b, k
}

// virtualHostBucket recognises virtual-hosted-style requests:
// BUCKET.s3.REGION.… and BUCKET.localhost (with any port).
func virtualHostBucket(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	b, rest, ok := strings.Cut(host, ".")
	if !ok || (!strings.HasPrefix(rest, "s3.") && rest != "localhost") || validBucketName(b) != nil {
		return ""
	}
	return b
}

// unsupported subresources answer 501 NotImplemented.
var s3Unsupported = []string{"acl", "tagging", "cors", "lifecycle", "policy", "website", "logging",
	"notification", "replication", "encryption", "object-lock", "retention", "legal-hold", "torrent",
	"restore", "select", "accelerate", "requestPayment", "ownershipControls", "publicAccessBlock",
	"analytics", "inventory", "metrics", "intelligent-tiering", "attributes", "policyStatus"}

func (x *s3req) route() (string, func(*s3req) error) {
	q, m := x.q, x.r.Method
	for _, sub := range s3Unsupported {
		if q.Has(sub) {
			return "", nil
		}
	}
	if x.bucket == "" {
		if m == http.MethodGet {
			return "ListBuckets", s3ListBuckets
		}
		return "", nil
	}
	if x.key == "" {
		switch m {
		case http.MethodGet:
			switch {
			case q.Has("versioning"):
				return "GetBucketVersioning", s3GetBucketVersioning
			case q.Has("location"):
				return "GetBucketLocation", s3GetBucketLocation
			case q.Has("uploads"):
				return "ListMultipartUploads", s3ListMultipartUploads
			case q.Has("versions"):
				return "ListObjectVersions", s3ListObjectVersions
			case q.Get("list-type") == "2":
				return "ListObjectsV2", s3ListObjectsV2
			}
			return "ListObjects", s3ListObjectsV1
		case http.MethodHead:
			return "HeadBucket", s3HeadBucket
		case http.MethodPut:
			if q.Has("versioning") {
				return "PutBucketVersioning", s3PutBucketVersioning
			}
			return "CreateBucket", s3CreateBucket
		case http.MethodDelete:
			return "DeleteBucket", s3DeleteBucket
		case http.MethodPost:
			if q.Has("delete") {
				return "DeleteObjects", s3DeleteObjects
			}
		}
		return "", nil
	}
	switch m {
	case http.MethodGet:
		if q.Has("uploadId") {
			return "ListParts", s3ListParts
		}
		return "GetObject", s3GetObject
	case http.MethodHead:
		return "HeadObject", s3HeadObject
	case http.MethodPut:
		copySrc := x.r.Header.Get("X-Amz-Copy-Source") != ""
		if q.Has("uploadId") || q.Has("partNumber") {
			if copySrc {
				return "UploadPartCopy", s3UploadPartCopy
			}
			return "UploadPart", s3UploadPart
		}
		if copySrc {
			return "CopyObject", s3CopyObject
		}
		return "PutObject", s3PutObject
	case http.MethodPost:
		if q.Has("uploads") {
			return "CreateMultipartUpload", s3CreateMultipartUpload
		}
		if q.Has("uploadId") {
			return "CompleteMultipartUpload", s3CompleteMultipartUpload
		}
	case http.MethodDelete:
		if q.Has("uploadId") {
			return "AbortMultipartUpload", s3AbortMultipartUpload
		}
		return "DeleteObject", s3DeleteObject
	}
	return "", nil
}

// serveS3 counts the call, applies latency and fault injection like
// serveCall, verifies the signature and runs the operation.
func (s *Server) serveS3(w http.ResponseWriter, r *http.Request) {
	x := &s3req{s: s, st: s.st, w: w, r: r, q: r.URL.Query(), reqID: strings.ToUpper(randHex(8))}
	x.bucket, x.key = splitS3Path(r.URL.Path)
	if vb := virtualHostBucket(r.Host); vb != "" {
		x.bucket, x.key = vb, strings.TrimPrefix(r.URL.Path, "/")
	}
	w.Header().Set("X-Amz-Request-Id", x.reqID)
	w.Header().Set("Server", "b2local")
	name, fn := x.route()
	if fn == nil {
		s.otherCalls.Add(1)
		s.totalCount.Add(1)
		writeS3Error(w, r, errNotImplemented(fmt.Sprintf("b2local does not implement %s %s?%s over the S3 API", r.Method, r.URL.Path, r.URL.RawQuery)), x.reqID)
		return
	}
	op := s3Ops[name]
	op.calls.Add(1)
	s.totalCount.Add(1)
	c := &call{s: s, w: w, r: r, op: op, units: 1}
	x.c = c
	defer func() {
		if c.units > 0 {
			s.classCount[op.class].Add(c.units)
		}
	}()
	if s.closed.Load() {
		writeS3Error(w, r, s3err(503, "ServiceUnavailable", "emulator is shutting down"), x.reqID)
		return
	}
	if err := s.throttle(r, true); err != nil {
		writeS3Error(w, r, err, x.reqID)
		return
	}
	fc := s.faults.Load()
	if fc.latency > 0 {
		t := time.NewTimer(fc.latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if err := s.injectFault(c, fc); err != nil {
		s.faultCount.Add(1)
		writeS3Error(w, r, err, x.reqID)
		return
	}
	if s.opts.Logf != nil {
		s.opts.Logf("S3 %s %s %s", name, r.Method, r.URL.Path)
	}
	if err := x.authenticate(); err != nil {
		writeS3Error(w, r, err, x.reqID)
		return
	}
	if o := r.Header.Get("X-Amz-Expected-Bucket-Owner"); o != "" && o != s.st.accountOfKey(requestKeyID(r, true, s.st)) {
		writeS3Error(w, r, errAccessDenied("the bucket is not owned by "+o), x.reqID)
		return
	}
	if af := s.after.Load(); af != nil && af.ops[op.name] && s.chance(af.rate) {
		// SetFaultsAfterCommit: run the operation, drop its reply, answer
		// an error.
		x.w = &discardWriter{h: http.Header{}}
		if err := fn(x); err != nil {
			drain(r)
			writeS3Error(w, r, err, x.reqID)
			return
		}
		s.faultCount.Add(1)
		writeS3Error(w, r, faultError(s.pick(af.codes), fc.retryAfter), x.reqID)
		return
	}
	if err := fn(x); err != nil {
		writeS3Error(w, r, err, x.reqID)
	}
}

// discardWriter is a reply that is thrown away (a fault after commit).
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

// authenticate verifies SigV4 (header or presigned query); no signature
// at all is an anonymous request.
func (x *s3req) authenticate() error {
	h := x.r.Header.Get("Authorization")
	var err error
	switch {
	case strings.HasPrefix(h, sigAlgorithm+" "):
		x.sig, err = x.verifyHeaderSig(h)
	case x.q.Has("X-Amz-Algorithm") || x.q.Has("X-Amz-Signature"):
		x.sig, err = x.verifyPresigned()
	case h != "":
		return errInvalidArgument("only AWS Signature Version 4 (AWS4-HMAC-SHA256) is supported")
	default:
		return nil
	}
	if err != nil {
		return err
	}
	x.k = x.sig.key
	x.tok = &token{kind: tokAccount, key: x.k}
	return nil
}

// need checks that the caller is signed in with a key holding capability.
func (x *s3req) need(capability string) error {
	if x.k == nil {
		return errAccessDenied("anonymous requests are not allowed for this operation")
	}
	if capability != "" && !x.k.has(capability) {
		return errAccessDenied(fmt.Sprintf("application key does not have the %s capability", capability))
	}
	return nil
}

// lookupBucket finds a bucket by exact name (store.mu not held). A key
// restricted to other buckets gets AccessDenied rather than NoSuchBucket.
func (x *s3req) lookupBucket(name string) (*bucket, error) {
	b := x.st.bucketByName(name)
	if b == nil {
		if x.tok != nil && x.k.BucketIDs != nil {
			return nil, errAccessDenied("application key is not allowed to access bucket " + name)
		}
		return nil, errNoSuchBucket(name)
	}
	if x.tok != nil && !x.tok.sees(b) {
		return nil, errAccessDenied("application key is not allowed to access bucket " + name)
	}
	return b, nil
}

// bucketFor checks capability and returns the request's bucket.
func (x *s3req) bucketFor(capability string) (*bucket, error) {
	if err := x.need(capability); err != nil {
		return nil, err
	}
	return x.lookupBucket(x.bucket)
}

// checkName applies the key's namePrefix restriction.
func (x *s3req) checkName(name string) error {
	if x.tok == nil {
		return nil
	}
	if err := x.tok.checkName(name); err != nil {
		return errAccessDenied(err.(*apiError).msg)
	}
	return nil
}

func (x *s3req) checkListPrefix(prefix string) error {
	if err := x.tok.checkListPrefix(prefix); err != nil {
		return errAccessDenied(err.(*apiError).msg)
	}
	return nil
}

// readSmallBody reads an XML request body (≤ limit bytes) through the
// payload verification.
func (x *s3req) readSmallBody(limit int64) ([]byte, error) {
	bd, err := x.body()
	if err != nil {
		return nil, err
	}
	if bd.n > limit {
		return nil, s3err(400, "MaxMessageLengthExceeded", fmt.Sprintf("request body is %d bytes; the limit is %d", bd.n, limit))
	}
	buf := make([]byte, bd.n)
	if _, err := io.ReadFull(bd.r, buf); err != nil {
		return nil, asS3BodyErr(err)
	}
	if err := bd.check(buf); err != nil {
		return nil, err
	}
	return buf, nil
}

func asS3BodyErr(err error) error {
	var se *s3Error
	if errors.As(err, &se) {
		return se
	}
	if errors.Is(err, errBodyStalled) {
		return s3err(400, "RequestTimeout", "Your socket connection to the server was not read from or written to within the timeout period: "+err.Error())
	}
	return s3err(400, "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header: "+err.Error())
}

// ---- time formats ----

func s3Time(ms int64) string { return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z") }
func httpTime(ms int64) string {
	return time.UnixMilli(ms).UTC().Format(http.TimeFormat)
}

// s3Encode applies encoding-type=url to a name in a listing.
func (x *s3req) s3Encode(s string) string {
	if x.q.Get("encoding-type") != "url" {
		return s
	}
	return strings.ReplaceAll(url.QueryEscape(s), "%2F", "/")
}

const s3NS = "http://s3.amazonaws.com/doc/2006-03-01/"
