package emulator

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// AWS Signature Version 4 verification for the S3 API: the Authorization
// header form and the presigned-query form, payload hashes (hex SHA-256,
// UNSIGNED-PAYLOAD, aws-chunked streaming with per-chunk signatures or with
// unsigned chunks and trailing checksums) and the ±15 minute clock-skew check.

const (
	sigAlgorithm    = "AWS4-HMAC-SHA256"
	amzDateFormat   = "20060102T150405Z"
	maxClockSkew    = 15 * time.Minute
	unsignedPayload = "UNSIGNED-PAYLOAD"
	streamSigned    = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	streamSignedTr  = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	streamUnsigned  = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
	emptySHA256     = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

// sigCtx is a verified signature: the key and what chunk signatures need.
type sigCtx struct {
	key        *appKey
	region     string
	amzDate    string
	scope      string
	signingKey []byte
	signature  string
	payload    string // x-amz-content-sha256 (UNSIGNED-PAYLOAD for presigned URLs)
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func signingKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, "aws4_request")
}

// awsEscape percent-encodes per SigV4: unreserved characters stay, '/'
// stays unless encodeSlash, everything else is %XX (upper case).
func awsEscape(s string, encodeSlash bool) string {
	const hexd = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~' || (c == '/' && !encodeSlash) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexd[c>>4])
		b.WriteByte(hexd[c&15])
	}
	return b.String()
}

// canonicalQuery sorts and re-encodes the raw query, leaving out exclude.
func canonicalQuery(raw, exclude string) string {
	if raw == "" {
		return ""
	}
	type pair struct{ k, v string }
	var ps []pair
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		if uk, err := url.PathUnescape(k); err == nil {
			k = uk
		}
		if uv, err := url.PathUnescape(v); err == nil {
			v = uv
		}
		if k == exclude {
			continue
		}
		ps = append(ps, pair{awsEscape(k, true), awsEscape(v, true)})
	}
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].k != ps[j].k {
			return ps[i].k < ps[j].k
		}
		return ps[i].v < ps[j].v
	})
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String()
}

func collapseSpaces(s string) string {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "  ") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

// canonicalPaths are the canonical URIs a client may have signed: the path
// exactly as it sent it (S3 signs the escaped path without re-encoding, so
// %2F, %2e%2e or lower-case hex must stay as they were), then the path
// re-encoded from its decoded form (clients that normalise before signing).
func canonicalPaths(r *http.Request) []string {
	raw := r.RequestURI
	if raw == "" {
		raw = r.URL.RequestURI()
	}
	if i := strings.IndexByte(raw, '?'); i >= 0 {
		raw = raw[:i]
	}
	if !strings.HasPrefix(raw, "/") { // absolute form: scheme://host/path
		if _, rest, ok := strings.Cut(raw, "://"); ok {
			if i := strings.IndexByte(rest, '/'); i >= 0 {
				raw = rest[i:]
			} else {
				raw = ""
			}
		}
	}
	if raw == "" {
		raw = "/"
	}
	p := r.URL.Path
	if p == "" {
		p = "/"
	}
	if norm := awsEscape(p, false); norm != raw {
		return []string{raw, norm}
	}
	return []string{raw}
}

// canonicalRequest builds the SigV4 canonical request for one canonical URI.
func (x *s3req) canonicalRequest(path string, signed []string, query, payload string) string {
	r := x.r
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(path)
	b.WriteByte('\n')
	b.WriteString(query)
	b.WriteByte('\n')
	for _, h := range signed {
		b.WriteString(h)
		b.WriteByte(':')
		switch h {
		case "host":
			host := r.Host
			if host == "" {
				host = r.URL.Host
			}
			b.WriteString(host)
		case "content-length":
			v := r.Header.Get("Content-Length")
			if v == "" && r.ContentLength >= 0 {
				v = strconv.FormatInt(r.ContentLength, 10)
			}
			b.WriteString(v)
		case "transfer-encoding":
			// net/http moves this header out of r.Header.
			b.WriteString(strings.Join(r.TransferEncoding, ","))
		default:
			vs := r.Header.Values(h)
			for i, v := range vs {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString(collapseSpaces(v))
			}
		}
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(signed, ";"))
	b.WriteByte('\n')
	b.WriteString(payload)
	return b.String()
}

func malformedAuth(msg string) *s3Error {
	return s3err(400, "AuthorizationHeaderMalformed", "The authorization header is malformed; "+msg)
}

// credential parses KEYID/DATE/REGION/SERVICE/aws4_request.
func parseCredential(cred string) (keyID, date, region string, err *s3Error) {
	parts := strings.Split(cred, "/")
	if len(parts) != 5 || parts[4] != "aws4_request" || len(parts[1]) != 8 {
		return "", "", "", malformedAuth("the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\"")
	}
	if parts[3] != "s3" {
		return "", "", "", malformedAuth(fmt.Sprintf("incorrect service %q; expecting \"s3\"", parts[3]))
	}
	return parts[0], parts[1], parts[2], nil
}

// signingAppKey resolves the access key id.
func (x *s3req) signingAppKey(id string) (*appKey, error) {
	st := x.st
	st.mu.RLock()
	k := st.keys[id]
	st.mu.RUnlock()
	if k == nil {
		return nil, s3err(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
	}
	if k.Expires != 0 && st.nowMs() >= k.Expires {
		return nil, s3err(403, "InvalidAccessKeyId", "The application key has expired.")
	}
	return k, nil
}

// checkSignature verifies the signature over the canonical request. A raw
// '+' in the query is read as '+' (what SigV4 clients mean when they send
// it) and, failing that, as a space (form encoding).
func (x *s3req) checkSignature(sc *sigCtx, signed []string, exclude, date string, got string) error {
	sc.signingKey = signingKey(sc.key.Secret, date, sc.region, "s3")
	raw := x.r.URL.RawQuery
	variants := []string{raw}
	if strings.Contains(raw, "+") {
		variants = append(variants, strings.ReplaceAll(raw, "+", "%20"))
	}
	for _, p := range canonicalPaths(x.r) {
		for _, q := range variants {
			cr := x.canonicalRequest(p, signed, canonicalQuery(q, exclude), sc.payload)
			sts := sigAlgorithm + "\n" + sc.amzDate + "\n" + sc.scope + "\n" + sha256Hex([]byte(cr))
			want := hex.EncodeToString(hmacSHA256(sc.signingKey, sts))
			if hmac.Equal([]byte(want), []byte(strings.ToLower(got))) {
				sc.signature = want
				return nil
			}
		}
	}
	return s3err(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method.")
}

func (x *s3req) verifyHeaderSig(h string) (*sigCtx, error) {
	fields := map[string]string{}
	for _, f := range strings.Split(strings.TrimPrefix(h, sigAlgorithm+" "), ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(f), "=")
		if ok {
			fields[k] = v
		}
	}
	cred, signedH, sig := fields["Credential"], fields["SignedHeaders"], fields["Signature"]
	if cred == "" || signedH == "" || sig == "" {
		return nil, malformedAuth("it must contain Credential, SignedHeaders and Signature")
	}
	keyID, date, region, serr := parseCredential(cred)
	if serr != nil {
		return nil, serr
	}
	amzDate := x.r.Header.Get("X-Amz-Date")
	if amzDate == "" {
		if d := x.r.Header.Get("Date"); d != "" {
			if t, err := http.ParseTime(d); err == nil {
				amzDate = t.UTC().Format(amzDateFormat)
			}
		}
	}
	t, err := time.Parse(amzDateFormat, amzDate)
	if err != nil {
		return nil, errAccessDenied("AWS authentication requires a valid Date or x-amz-date header")
	}
	if amzDate[:8] != date {
		return nil, malformedAuth("Invalid credential date. Date is not the same as X-Amz-Date.")
	}
	if d := x.st.wall().Sub(t); d > maxClockSkew || d < -maxClockSkew {
		return nil, &s3Error{status: 403, code: "RequestTimeTooSkewed",
			msg: fmt.Sprintf("The difference between the request time (%s) and the server's time (%s) is too large.", amzDate, x.st.wall().UTC().Format(amzDateFormat))}
	}
	k, kerr := x.signingAppKey(keyID)
	if kerr != nil {
		return nil, kerr
	}
	payload := x.r.Header.Get("X-Amz-Content-Sha256")
	if payload == "" {
		return nil, s3err(400, "InvalidRequest", "Missing required header for this request: x-amz-content-sha256")
	}
	switch payload {
	case unsignedPayload, streamSigned, streamSignedTr, streamUnsigned:
	default:
		if b, err := hex.DecodeString(payload); err != nil || len(b) != 32 {
			return nil, s3err(400, "InvalidArgument", "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-… or 64 hex digits")
		}
	}
	signed := strings.Split(signedH, ";")
	hasHost, hasSHA := false, false
	for _, s := range signed {
		switch s {
		case "host":
			hasHost = true
		case "x-amz-content-sha256":
			hasSHA = true
		}
	}
	if !hasHost {
		return nil, malformedAuth("SignedHeaders must include host")
	}
	if x.st.opts.S3SignedPayload {
		if err := strictPayload(payload, hasSHA); err != nil {
			return nil, err
		}
	}
	sc := &sigCtx{key: k, region: region, amzDate: amzDate, scope: date + "/" + region + "/s3/aws4_request", payload: payload}
	if err := x.checkSignature(sc, signed, "", date, sig); err != nil {
		return nil, err
	}
	return sc, nil
}

// strictPayload applies Options.S3SignedPayload: the payload hash is sent,
// signed, and a real hash (or a signed chunked stream).
func strictPayload(payload string, signed bool) error {
	if !signed {
		return s3err(400, "InvalidRequest", "header 'x-amz-content-sha256' must be included in signature")
	}
	switch payload {
	case unsignedPayload, streamUnsigned:
		return s3err(400, "InvalidRequest", "x-amz-content-sha256 "+payload+" is not accepted: the payload's SHA-256 must be signed (send its hex SHA-256, or a signed STREAMING-AWS4-HMAC-SHA256-PAYLOAD body)")
	}
	return nil
}

func (x *s3req) verifyPresigned() (*sigCtx, error) {
	q := x.q
	qerr := func(msg string) *s3Error { return s3err(400, "AuthorizationQueryParametersError", msg) }
	if q.Get("X-Amz-Algorithm") != sigAlgorithm {
		return nil, qerr("X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"")
	}
	cred, amzDate, exp, signedH, sig := q.Get("X-Amz-Credential"), q.Get("X-Amz-Date"), q.Get("X-Amz-Expires"), q.Get("X-Amz-SignedHeaders"), q.Get("X-Amz-Signature")
	if cred == "" || amzDate == "" || exp == "" || signedH == "" || sig == "" {
		return nil, qerr("Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.")
	}
	keyID, date, region, serr := parseCredential(cred)
	if serr != nil {
		return nil, qerr(serr.msg)
	}
	t, err := time.Parse(amzDateFormat, amzDate)
	if err != nil || amzDate[:8] != date {
		return nil, qerr("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\" and match the credential date")
	}
	secs, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || secs < 1 || secs > 604800 {
		return nil, qerr("X-Amz-Expires must be between 1 and 604800 seconds")
	}
	now := x.st.wall()
	if t.Sub(now) > maxClockSkew {
		return nil, errAccessDenied("Request is not valid yet")
	}
	if now.After(t.Add(time.Duration(secs) * time.Second)) {
		return nil, errAccessDenied("Request has expired")
	}
	k, kerr := x.signingAppKey(keyID)
	if kerr != nil {
		return nil, kerr
	}
	payload := unsignedPayload
	if p := q.Get("X-Amz-Content-Sha256"); p != "" {
		payload = p
	}
	signed := strings.Split(signedH, ";")
	sc := &sigCtx{key: k, region: region, amzDate: amzDate, scope: date + "/" + region + "/s3/aws4_request", payload: payload}
	if err := x.checkSignature(sc, signed, "X-Amz-Signature", date, sig); err != nil {
		return nil, err
	}
	return sc, nil
}

// ---- request bodies ----

// s3Body is a request body behind payload verification: r yields exactly n
// content bytes; check (after n bytes were read) verifies the payload hash,
// chunk signatures, trailers, Content-MD5 and x-amz-checksum-* values.
type s3Body struct {
	r     io.Reader
	n     int64
	check func(content []byte) error // content is nil when the caller streamed it
	sums  *bodySums
}

// bodySums hashes the content for the checks.
type bodySums struct {
	md5    hash.Hash
	sha256 hash.Hash // payload hash (hex form), nil otherwise
	cks    hash.Hash // x-amz-checksum-<alg>, nil when none sent
	cksAlg string
	cksB64 string // expected value; "" until known (trailer)
}

var crc64NVME = crc64.MakeTable(0x9a6c9329ac4bc9b5)

type crc64Hash struct{ crc uint64 }

func (h *crc64Hash) Write(p []byte) (int, error) {
	h.crc = crc64.Update(h.crc, crc64NVME, p)
	return len(p), nil
}
func (h *crc64Hash) Sum(b []byte) []byte { return binary.BigEndian.AppendUint64(b, h.crc) }
func (h *crc64Hash) Reset()              { h.crc = 0 }
func (h *crc64Hash) Size() int           { return 8 }
func (h *crc64Hash) BlockSize() int      { return 1 }

func checksumHash(alg string) hash.Hash {
	switch alg {
	case "crc32":
		return crc32.NewIEEE()
	case "crc32c":
		return crc32.New(crc32.MakeTable(crc32.Castagnoli))
	case "crc64nvme":
		return &crc64Hash{}
	case "sha1":
		return sha1.New()
	case "sha256":
		return sha256.New()
	}
	return nil
}

func (bs *bodySums) writers() []io.Writer {
	var ws []io.Writer
	for _, h := range []hash.Hash{bs.md5, bs.sha256, bs.cks} {
		if h != nil {
			ws = append(ws, h)
		}
	}
	return ws
}

// body prepares the request body of an upload-like call.
func (x *s3req) body() (*s3Body, error) {
	r := x.r
	payload := unsignedPayload
	if x.sig != nil {
		payload = x.sig.payload
	}
	bs := &bodySums{}
	md5Vals, md5Sent := r.Header["Content-Md5"]
	md5Hdr := strings.Join(md5Vals, ",")
	var wantMD5 []byte
	if md5Sent { // an empty value is refused too, as S3 does
		b, err := base64.StdEncoding.DecodeString(md5Hdr)
		if err != nil || len(b) != 16 {
			return nil, s3err(400, "InvalidDigest", "The Content-MD5 you specified was invalid.")
		}
		wantMD5 = b
		bs.md5 = md5.New()
	}
	for k, vs := range r.Header {
		lk := lower(k)
		if alg, ok := strings.CutPrefix(lk, "x-amz-checksum-"); ok && alg != "type" && alg != "algorithm" {
			if bs.cks = checksumHash(alg); bs.cks == nil {
				return nil, errInvalidArgument("unsupported checksum header " + k)
			}
			bs.cksAlg, bs.cksB64 = alg, vs[0]
		}
	}
	streaming := strings.HasPrefix(payload, "STREAMING-")
	var trailerAlg string
	if t := r.Header.Get("X-Amz-Trailer"); t != "" {
		alg, ok := strings.CutPrefix(lower(strings.TrimSpace(t)), "x-amz-checksum-")
		if !ok || checksumHash(alg) == nil {
			return nil, errInvalidArgument("unsupported x-amz-trailer " + t)
		}
		if !streaming {
			return nil, errInvalidArgument("x-amz-trailer needs a STREAMING-… x-amz-content-sha256")
		}
		trailerAlg = alg
		bs.cks, bs.cksAlg, bs.cksB64 = checksumHash(alg), alg, ""
	}
	var n int64
	if streaming {
		if !strings.Contains(lower(r.Header.Get("Content-Encoding")), "aws-chunked") && r.Header.Get("X-Amz-Decoded-Content-Length") == "" {
			return nil, errInvalidArgument("streaming uploads need Content-Encoding: aws-chunked and x-amz-decoded-content-length")
		}
		dl, err := strconv.ParseInt(r.Header.Get("X-Amz-Decoded-Content-Length"), 10, 64)
		if err != nil || dl < 0 {
			return nil, s3err(411, "MissingContentLength", "You must provide the x-amz-decoded-content-length HTTP header.")
		}
		n = dl
	} else {
		if r.ContentLength < 0 {
			return nil, s3err(411, "MissingContentLength", "You must provide the Content-Length HTTP header.")
		}
		n = r.ContentLength
	}
	body := &s3Body{n: n, sums: bs}
	var cr *chunkReader
	switch payload {
	case unsignedPayload:
		body.r = r.Body
	case streamSigned, streamSignedTr, streamUnsigned:
		cr = &chunkReader{br: bufio.NewReader(r.Body), sc: x.sig, signed: payload != streamUnsigned,
			trailer: payload != streamSigned, prevSig: x.sig.signature}
		body.r = cr
	default:
		bs.sha256 = sha256.New()
		body.r = r.Body
	}
	body.check = func(content []byte) error {
		if content != nil {
			for _, w := range bs.writers() {
				w.Write(content)
			}
		}
		if cr != nil {
			if err := cr.finish(); err != nil {
				return err
			}
			if trailerAlg != "" {
				v, ok := cr.trailers["x-amz-checksum-"+trailerAlg]
				if !ok {
					return errInvalidArgument("the trailer x-amz-checksum-" + trailerAlg + " is missing")
				}
				bs.cksB64 = v
			}
		} else {
			// nothing may follow the declared length
			var one [1]byte
			if k, _ := io.ReadFull(r.Body, one[:]); k > 0 {
				return s3err(400, "IncompleteBody", "the request body is longer than Content-Length")
			}
		}
		if bs.sha256 != nil && hex.EncodeToString(bs.sha256.Sum(nil)) != lower(payload) {
			return s3err(400, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed.")
		}
		if wantMD5 != nil && !bytes.Equal(bs.md5.Sum(nil), wantMD5) {
			return s3err(400, "BadDigest", "The Content-MD5 you specified did not match what we received.")
		}
		if bs.cks != nil && base64.StdEncoding.EncodeToString(bs.cks.Sum(nil)) != bs.cksB64 {
			return s3err(400, "BadDigest", fmt.Sprintf("The %s you specified did not match the calculated checksum.", strings.ToUpper(bs.cksAlg)))
		}
		return nil
	}
	return body, nil
}

// chunkReader decodes aws-chunked bodies, verifying chunk signatures as it
// goes (signed) and collecting trailers (trailer).
type chunkReader struct {
	br       *bufio.Reader
	sc       *sigCtx
	signed   bool
	trailer  bool
	prevSig  string
	left     int64  // bytes left in the current chunk
	chunkSig string // signature of the current chunk
	h        hash.Hash
	done     bool
	err      error
	trailers map[string]string
}

func chunkErr(msg string) *s3Error {
	return s3err(400, "IncompleteBody", "malformed aws-chunked body: "+msg)
}

// readLine reads one chunk header or trailer line, at most the reader's
// buffer (4 KiB): a longer line is refused before more of it is read.
func (c *chunkReader) readLine() (string, error) {
	line, err := c.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return "", chunkErr("chunk header line too long")
	}
	if err != nil {
		return "", chunkErr("unexpected end of body")
	}
	return strings.TrimRight(string(line), "\r\n"), nil
}

func (c *chunkReader) verifyChunk(sum string) error {
	if !c.signed {
		return nil
	}
	sts := "AWS4-HMAC-SHA256-PAYLOAD\n" + c.sc.amzDate + "\n" + c.sc.scope + "\n" + c.prevSig + "\n" + emptySHA256 + "\n" + sum
	want := hex.EncodeToString(hmacSHA256(c.sc.signingKey, sts))
	if !hmac.Equal([]byte(want), []byte(c.chunkSig)) {
		return s3err(403, "SignatureDoesNotMatch", "The chunk signature we calculated does not match the signature you provided.")
	}
	c.prevSig = want
	return nil
}

// next reads the next chunk header (after finishing the previous chunk).
func (c *chunkReader) next() error {
	if c.h != nil {
		if err := c.verifyChunk(hex.EncodeToString(c.h.Sum(nil))); err != nil {
			return err
		}
		if l, err := c.readLine(); err != nil || l != "" {
			return chunkErr("chunk data is not followed by CRLF")
		}
	}
	line, err := c.readLine()
	if err != nil {
		return err
	}
	sizeStr, ext, _ := strings.Cut(line, ";")
	size, perr := strconv.ParseInt(strings.TrimSpace(sizeStr), 16, 64)
	if perr != nil || size < 0 {
		return chunkErr("bad chunk size " + strconv.Quote(sizeStr))
	}
	c.chunkSig = ""
	if sig, ok := strings.CutPrefix(strings.TrimSpace(ext), "chunk-signature="); ok {
		c.chunkSig = sig
	}
	if c.signed && c.chunkSig == "" {
		return chunkErr("chunk without chunk-signature")
	}
	c.left = size
	c.h = sha256.New()
	if size == 0 {
		if err := c.verifyChunk(emptySHA256); err != nil {
			return err
		}
		c.done = true
		return c.readTrailers()
	}
	return nil
}

func (c *chunkReader) readTrailers() error {
	c.trailers = map[string]string{}
	var lines []string
	for {
		l, err := c.readLine()
		if err != nil {
			if !c.trailer && len(lines) == 0 {
				return nil // some clients end right after the last chunk
			}
			return err
		}
		if l == "" {
			break
		}
		k, v, _ := strings.Cut(l, ":")
		k = lower(strings.TrimSpace(k))
		v = strings.TrimSpace(v)
		if k == "x-amz-trailer-signature" {
			if c.signed {
				var b strings.Builder
				for _, tl := range lines {
					b.WriteString(tl)
					b.WriteByte('\n')
				}
				sts := "AWS4-HMAC-SHA256-TRAILER\n" + c.sc.amzDate + "\n" + c.sc.scope + "\n" + c.prevSig + "\n" + sha256Hex([]byte(b.String()))
				want := hex.EncodeToString(hmacSHA256(c.sc.signingKey, sts))
				if !hmac.Equal([]byte(want), []byte(v)) {
					return s3err(403, "SignatureDoesNotMatch", "The trailer signature we calculated does not match the signature you provided.")
				}
			}
			continue
		}
		lines = append(lines, k+":"+v)
		c.trailers[k] = v
	}
	return nil
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	for c.left == 0 {
		if c.done {
			return 0, io.EOF
		}
		if err := c.next(); err != nil {
			c.err = err
			return 0, err
		}
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.br.Read(p)
	c.left -= int64(n)
	c.h.Write(p[:n])
	if err == io.EOF && c.left > 0 {
		err = chunkErr("body ended inside a chunk")
	}
	if err != nil && err != io.EOF {
		c.err = err
	}
	if err == io.EOF {
		err = nil
	}
	return n, err
}

// finish consumes the rest (the final chunk and trailers) and verifies it.
func (c *chunkReader) finish() error {
	if c.err != nil {
		return c.err
	}
	if c.left > 0 {
		return chunkErr("fewer bytes than x-amz-decoded-content-length")
	}
	for !c.done {
		if err := c.next(); err != nil {
			return err
		}
		if c.left > 0 {
			return s3err(400, "IncompleteBody", "the aws-chunked body is longer than x-amz-decoded-content-length")
		}
	}
	return nil
}
