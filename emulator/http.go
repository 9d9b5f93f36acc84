package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// apiError is a B2 error envelope.
type apiError struct {
	status     int
	code       string
	msg        string
	retryAfter time.Duration // >0: Retry-After seconds; <0: none
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.status, e.code, e.msg) }

func errBadRequest(msg string) *apiError {
	return &apiError{status: 400, code: "bad_request", msg: msg}
}
func errBadJSON(msg string) *apiError { return &apiError{status: 400, code: "bad_json", msg: msg} }
func errCode(status int, code, msg string) *apiError {
	return &apiError{status: status, code: code, msg: msg}
}
func errNotFound(msg string) *apiError { return &apiError{status: 404, code: "not_found", msg: msg} }
func errUnauthorized(msg string) *apiError {
	return &apiError{status: 401, code: "unauthorized", msg: msg}
}
func errExpired() *apiError {
	return &apiError{status: 401, code: "expired_auth_token", msg: "Authorization token has expired"}
}
func errMethod(m string) *apiError {
	return &apiError{status: 405, code: "method_not_allowed", msg: "method not allowed: " + m}
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func writeRaw(w http.ResponseWriter, status int, raw []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(raw)))
	h.Set("Cache-Control", "max-age=0, no-cache, no-store")
	w.WriteHeader(status)
	_, _ = w.Write(raw)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	switch raw := v.(type) {
	case rawJSON:
		writeRaw(w, status, raw)
		return
	case *pooledJSON:
		writeRaw(w, status, raw.b)
		raw.release()
		return
	}
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		buf.Reset()
		fmt.Fprintf(buf, `{"status":500,"code":"internal_error","message":%q}`, err.Error())
		status = 500
	}
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	h.Set("Cache-Control", "max-age=0, no-cache, no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
	if buf.Cap() < 1<<20 {
		bufPool.Put(buf)
	}
}

func writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *apiError
	if !errors.As(err, &e) {
		e = &apiError{status: 500, code: "internal_error", msg: err.Error()}
	}
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((e.retryAfter+time.Second-1)/time.Second)))
	}
	closeIfBodyLeft(w, r)
	if r != nil && r.Method == http.MethodHead {
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(e.status)
		return
	}
	writeJSON(w, e.status, struct {
		Status  int    `json:"status"`
		Code    string `json:"code"`
		Message string `json:"message"`
	}{e.status, e.code, e.msg})
}

// Transaction classes (reference §16).
const (
	classA = 0
	classB = 1
	classC = 2
)

type opDef struct {
	name     string
	class    int
	fn       func(*call) (any, error)
	upload   bool // served on minted upload URLs (raw body)
	download bool
	calls    atomic.Int64
}

var (
	opList   []*opDef
	opByName = map[string]*opDef{}
)

func init() {
	add := func(name string, class int, fn func(*call) (any, error)) *opDef {
		op := &opDef{name: name, class: class, fn: fn}
		opList = append(opList, op)
		opByName[name] = op
		return op
	}
	add("b2_authorize_account", classC, opAuthorize)
	add("b2_create_bucket", classC, opCreateBucket)
	add("b2_update_bucket", classC, opUpdateBucket)
	add("b2_list_buckets", classC, opListBuckets)
	add("b2_delete_bucket", classA, opDeleteBucket)
	add("b2_create_key", classC, opCreateKey)
	add("b2_list_keys", classC, opListKeys)
	add("b2_delete_key", classA, opDeleteKey)
	add("b2_get_upload_url", classA, opGetUploadURL)
	add("b2_upload_file", classA, opUploadFile).upload = true
	add("b2_list_file_names", classC, opListFileNames)
	add("b2_list_file_versions", classC, opListFileVersions)
	add("b2_get_file_info", classB, opGetFileInfo)
	add("b2_hide_file", classA, opHideFile)
	add("b2_delete_file_version", classA, opDeleteFileVersion)
	add("b2_copy_file", classC, opCopyFile)
	add("b2_start_large_file", classA, opStartLargeFile)
	add("b2_get_upload_part_url", classA, opGetUploadPartURL)
	add("b2_upload_part", classA, opUploadPart).upload = true
	add("b2_copy_part", classC, opCopyPart)
	add("b2_finish_large_file", classA, opFinishLargeFile)
	add("b2_cancel_large_file", classA, opCancelLargeFile)
	add("b2_list_parts", classC, opListParts)
	add("b2_list_unfinished_large_files", classC, opListUnfinished)
	add("b2_update_file_retention", classA, opUpdateFileRetention)
	add("b2_update_file_legal_hold", classA, opUpdateFileLegalHold)
	add("b2_get_download_authorization", classC, opGetDownloadAuthorization)
	add("b2_download_file_by_id", classB, opDownloadByID).download = true
	add("b2_download_file_by_name", classB, opDownloadByName).download = true
}

// call is one API request in flight.
type call struct {
	s     *Server
	w     http.ResponseWriter
	r     *http.Request
	op    *opDef
	v     int    // API version 1..4 (0 for /file/ downloads)
	tail  string // path after the operation name (upload URLs, /file/ path)
	units int64  // billed transactions
	tok   *token // the caller's token, once authenticated

	pendingOut    *fileJSON
	pendingTicket uint64

	params *params
}

// baseURL is the scheme and host the client used; every URL handed out
// shares it.
func (c *call) baseURL() string {
	host := c.r.Host
	if host == "" {
		host = c.r.URL.Host
	}
	if c.r.TLS != nil { // served over TLS (httptest.NewTLSServer, a TLS listener)
		return "https://" + host
	}
	return "http://" + host
}

// args parses the JSON body (POST) or the query string (GET) once.
func (c *call) args() (*params, error) {
	if c.params != nil {
		return c.params, nil
	}
	p := &params{}
	if c.r.Method == http.MethodPost && c.r.Body != nil {
		var body []byte
		buf := bufPool.Get().(*bytes.Buffer)
		buf.Reset()
		_, err := buf.ReadFrom(http.MaxBytesReader(c.w, c.r.Body, 16<<20))
		if err != nil {
			bufPool.Put(buf)
			return nil, errBadRequest("reading request body: " + err.Error())
		}
		body = buf.Bytes()
		if len(bytes.TrimSpace(body)) > 0 {
			if err := json.Unmarshal(body, &p.json); err != nil {
				bufPool.Put(buf)
				return nil, errBadJSON("request body is not a JSON object: " + err.Error())
			}
		}
		bufPool.Put(buf)
	}
	if len(p.json) == 0 {
		p.json = nil
		p.query = c.r.URL.Query()
	}
	c.params = p
	return p, nil
}

// params gives typed access to request fields, whether they came as JSON or
// as query parameters.
type params struct {
	json  map[string]json.RawMessage
	query url.Values
}

func (p *params) raw(k string) (json.RawMessage, string, bool) {
	if p.json != nil {
		v, ok := p.json[k]
		if !ok || string(v) == "null" {
			return nil, "", false
		}
		return v, "", true
	}
	if vs, ok := p.query[k]; ok && len(vs) > 0 {
		return nil, vs[0], true
	}
	return nil, "", false
}

func (p *params) has(k string) bool {
	_, _, ok := p.raw(k)
	return ok
}

func (p *params) str(k string) (string, bool, error) {
	j, q, ok := p.raw(k)
	if !ok {
		return "", false, nil
	}
	if j == nil {
		return q, true, nil
	}
	var s string
	if err := json.Unmarshal(j, &s); err != nil {
		return "", true, errBadJSON(fmt.Sprintf("field %s must be a string", k))
	}
	return s, true, nil
}

// reqStr returns a required string field.
func (p *params) reqStr(k string) (string, error) {
	s, ok, err := p.str(k)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", errBadRequest("required field " + k + " is missing")
	}
	return s, nil
}

func (p *params) optStr(k string) (string, error) {
	s, _, err := p.str(k)
	return s, err
}

func (p *params) int(k string) (int64, bool, error) {
	j, q, ok := p.raw(k)
	if !ok {
		return 0, false, nil
	}
	src := q
	if j != nil {
		src = string(j)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(src), 10, 64)
	if err != nil {
		return 0, true, errBadJSON(fmt.Sprintf("field %s must be an integer", k))
	}
	return n, true, nil
}

func (p *params) boolean(k string) (bool, bool, error) {
	j, q, ok := p.raw(k)
	if !ok {
		return false, false, nil
	}
	src := q
	if j != nil {
		src = string(j)
	}
	switch src {
	case "true":
		return true, true, nil
	case "false":
		return false, true, nil
	}
	return false, true, errBadJSON(fmt.Sprintf("field %s must be a boolean", k))
}

// decode unmarshals an object or array field (a JSON string in a query).
func (p *params) decode(k string, v any) (bool, error) {
	j, q, ok := p.raw(k)
	if !ok {
		return false, nil
	}
	if j == nil {
		j = json.RawMessage(q)
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return true, errBadJSON(fmt.Sprintf("field %s: %v", k, err))
	}
	return true, nil
}

// strList reads an array of strings; in a query string either JSON or a
// comma-separated list.
func (p *params) strList(k string) ([]string, bool, error) {
	j, q, ok := p.raw(k)
	if !ok {
		return nil, false, nil
	}
	if j == nil {
		q = strings.TrimSpace(q)
		if strings.HasPrefix(q, "[") {
			j = json.RawMessage(q)
		} else {
			if q == "" {
				return []string{}, true, nil
			}
			return strings.Split(q, ","), true, nil
		}
	}
	var out []string
	if err := json.Unmarshal(j, &out); err != nil {
		return nil, true, errBadJSON(fmt.Sprintf("field %s must be an array of strings", k))
	}
	if out == nil {
		out = []string{}
	}
	return out, true, nil
}
