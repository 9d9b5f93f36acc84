package emulator

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"
)

// Control endpoints (/_b2local/): never faulted. Everything except
// GET /_b2local/health needs the master application key as
// "Authorization: Bearer <key>", and POSTs with a body must be
// application/json, so no web page can drive the emulator through a
// visitor's browser (a cross-site form can neither set the header nor the
// content type without a preflight, which is never granted), and requests a
// browser marks as coming from another site or origin are refused.

// MaxLatency is the largest injected latency accepted.
const MaxLatency = 10 * time.Minute

// CheckFaults validates fault-injection settings: rate in [0, 1], codes
// defined HTTP 4xx/5xx statuses, latency between 0 and MaxLatency.
func CheckFaults(rate float64, codes []int, latency time.Duration) error {
	if !(rate >= 0 && rate <= 1) {
		return fmt.Errorf("fault rate %v must be between 0 and 1", rate)
	}
	for _, c := range codes {
		if c < 400 || c > 599 || http.StatusText(c) == "" {
			return fmt.Errorf("fault code %d is not a defined HTTP error status (4xx or 5xx)", c)
		}
	}
	if latency < 0 || latency > MaxLatency {
		return fmt.Errorf("latency %v must be between 0 and %v", latency, MaxLatency)
	}
	return nil
}

// serveAdmin serves /_b2local/.
func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/_b2local/health" {
		writeJSON(w, 200, map[string]any{"status": "ok"})
		return
	}
	if err := s.adminAuth(r); err != nil {
		if err.status == 401 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="b2local"`)
		}
		writeError(w, r, err)
		return
	}
	switch r.URL.Path {
	case "/_b2local/stats":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			writeError(w, r, errMethod(r.Method))
			return
		}
		writeJSON(w, 200, s.Stats())
	case "/_b2local/stats/reset":
		if r.Method != http.MethodPost {
			writeError(w, r, errMethod(r.Method))
			return
		}
		s.ResetStats()
		writeJSON(w, 200, s.Stats())
	case "/_b2local/faults":
		s.serveFaults(w, r)
	case "/_b2local/clock":
		s.serveClock(w, r)
	case "/_b2local/expire-tokens":
		if r.Method != http.MethodPost {
			writeError(w, r, errMethod(r.Method))
			return
		}
		s.ExpireTokens()
		writeJSON(w, 200, map[string]any{"expired": true})
	default:
		writeError(w, r, errNotFound("unknown path "+r.URL.Path))
	}
}

// adminAuth checks the request's site (browsers tell: Sec-Fetch-Site,
// Origin), the bearer master key and the content type.
func (s *Server) adminAuth(r *http.Request) *apiError {
	if sfs := r.Header.Get("Sec-Fetch-Site"); sfs == "cross-site" || sfs == "same-site" {
		return errCode(403, "access_denied", "control endpoints refuse requests from other sites")
	}
	if o := r.Header.Get("Origin"); o != "" && o != "http://"+r.Host {
		return errCode(403, "access_denied", fmt.Sprintf("control endpoints refuse requests from web pages of other origins (%s)", o))
	}
	h := r.Header.Get("Authorization")
	key, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		return errUnauthorized("control endpoints need the master application key: Authorization: Bearer <key>")
	}
	if subtle.ConstantTimeCompare([]byte(strings.TrimSpace(key)), []byte(s.opts.MasterKey)) != 1 {
		return errUnauthorized("the bearer key is not the master application key")
	}
	if r.Method == http.MethodPost {
		if ct := r.Header.Get("Content-Type"); ct != "" {
			if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
				return errCode(415, "unsupported_media_type", fmt.Sprintf("control requests take application/json, not %q", ct))
			}
		}
	}
	return nil
}

func (s *Server) serveFaults(w http.ResponseWriter, r *http.Request) {
	reply := func(fc *faultConfig) {
		writeJSON(w, 200, map[string]any{"rate": fc.rate, "codes": fc.codes, "latencyMs": fc.latency.Milliseconds()})
	}
	if r.Method == http.MethodGet {
		reply(s.faults.Load())
		return
	}
	if r.Method != http.MethodPost {
		writeError(w, r, errMethod(r.Method))
		return
	}
	var req struct {
		Rate      float64 `json:"rate"` // absent: 0, injection off
		Codes     []int   `json:"codes"`
		LatencyMs *int64  `json:"latencyMs"`
	}
	if err := readControlJSON(w, r, &req, `{"rate": 0..1, "codes": [HTTP statuses], "latencyMs": ms}`); err != nil {
		writeError(w, r, err)
		return
	}
	lat := s.faults.Load().latency
	if req.LatencyMs != nil {
		if *req.LatencyMs < 0 || *req.LatencyMs > MaxLatency.Milliseconds() {
			writeError(w, r, errBadRequest(fmt.Sprintf("latencyMs %d must be between 0 and %d", *req.LatencyMs, MaxLatency.Milliseconds())))
			return
		}
		lat = time.Duration(*req.LatencyMs) * time.Millisecond
	}
	if err := CheckFaults(req.Rate, req.Codes, lat); err != nil {
		writeError(w, r, errBadRequest(err.Error()))
		return
	}
	s.setFaults(req.Rate, req.Codes, lat)
	reply(s.faults.Load())
}

// readControlJSON decodes the body of a POST to a control endpoint into v:
// application/json, at most 64 KiB, one object without unknown fields
// (shape is what the error shows the caller).
func readControlJSON(w http.ResponseWriter, r *http.Request, v any, shape string) error {
	if r.Header.Get("Content-Type") == "" {
		return errCode(415, "unsupported_media_type", "POST "+r.URL.Path+" takes Content-Type: application/json")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		return errBadRequest("reading request body: " + err.Error())
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errBadJSON("body must be " + shape + ": " + err.Error())
	}
	if dec.More() {
		return errBadJSON("body must be one JSON object: " + shape)
	}
	return nil
}
