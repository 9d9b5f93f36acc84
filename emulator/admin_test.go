package emulator_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/b2plan/b2plan/emulator"
)

// control calls a /_b2local/ endpoint with the development master key.
func control(hc *http.Client, method, url, body string) (*http.Response, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+emulator.DefaultKey)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return hc.Do(req)
}

// The control endpoints need the master key as a bearer token, refuse what a
// web page could send from a visitor's browser, and refuse bad values with a
// message saying what is wrong. Health stays open.
func TestControlEndpointsGuarded(t *testing.T) {
	srv, base, hc := startServer(t, emulator.Options{})
	s := master(t, hc, base, 4)
	keyID, secret, _ := s.createKey(map[string]any{"accountId": s.accountID, "keyName": "nonmaster", "capabilities": []string{"listBuckets"}})

	send := func(method, path, auth, ctype, body string, hdr ...string) (int, string, http.Header) {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, _ := http.NewRequest(method, base+path, rd)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b), res.Header
	}
	bearer := "Bearer " + emulator.DefaultKey
	want := func(what string, gotStatus int, body string, status int, contains string) {
		t.Helper()
		if gotStatus != status || !strings.Contains(body, contains) {
			t.Errorf("%s: %d %s, want %d containing %q", what, gotStatus, body, status, contains)
		}
		if strings.Contains(body, emulator.DefaultKey) || strings.Contains(body, secret) {
			t.Errorf("%s: answer echoes a secret: %s", what, body)
		}
	}

	if st, body, _ := send("GET", "/_b2local/health", "", "", ""); st != 200 {
		t.Errorf("health without auth: %d %s", st, body)
	}
	for _, ep := range []struct{ method, path, body string }{
		{"GET", "/_b2local/stats", ""},
		{"POST", "/_b2local/stats/reset", ""},
		{"GET", "/_b2local/faults", ""},
		{"POST", "/_b2local/faults", `{"rate":1}`},
		{"POST", "/_b2local/expire-tokens", ""},
	} {
		st, body, h := send(ep.method, ep.path, "", "application/json", ep.body)
		want(ep.method+" "+ep.path+" without auth", st, body, 401, "Authorization: Bearer")
		if h.Get("WWW-Authenticate") == "" {
			t.Errorf("%s without auth: no WWW-Authenticate", ep.path)
		}
		st, body, _ = send(ep.method, ep.path, "Bearer "+secret, "application/json", ep.body)
		want(ep.path+" with a non-master key", st, body, 401, "not the master application key")
		st, body, _ = send(ep.method, ep.path, "Basic "+keyID, "application/json", ep.body)
		want(ep.path+" with Basic auth", st, body, 401, "Bearer")
	}
	// Nothing above took effect.
	if r := s.try("b2_list_buckets", map[string]any{"accountId": s.accountID}); r.Status != 200 {
		t.Fatalf("unauthenticated control calls changed the server: %v", r)
	}

	// What a cross-site form or fetch without preflight could send.
	st, body, _ := send("POST", "/_b2local/faults", bearer, "text/plain", `{"rate":1}`)
	want("text/plain faults", st, body, 415, "application/json")
	st, body, _ = send("POST", "/_b2local/faults", bearer, "application/x-www-form-urlencoded", `rate=1`)
	want("form faults", st, body, 415, "application/json")
	st, body, _ = send("POST", "/_b2local/faults", bearer, "", `{"rate":1}`)
	want("faults without a content type", st, body, 415, "application/json")
	st, body, _ = send("POST", "/_b2local/expire-tokens", bearer, "", "", "Sec-Fetch-Site", "cross-site")
	want("cross-site", st, body, 403, "other sites")
	st, body, _ = send("POST", "/_b2local/expire-tokens", bearer, "", "", "Sec-Fetch-Site", "same-site")
	want("same-site (another port of localhost)", st, body, 403, "other sites")
	st, body, _ = send("POST", "/_b2local/faults", bearer, "application/json", `{"rate":1}`, "Origin", "http://localhost:3000")
	want("other origin", st, body, 403, "other origins")
	host := strings.TrimPrefix(base, "http://")
	st, body, _ = send("GET", "/_b2local/faults", bearer, "", "", "Origin", "http://"+host, "Sec-Fetch-Site", "same-origin")
	want("same origin", st, body, 200, `"rate"`)

	// Bad values.
	for _, tc := range []struct{ body, msg string }{
		{`{"rate":-0.1}`, "between 0 and 1"},
		{`{"rate":1.5}`, "between 0 and 1"},
		{`{"rate":0,"latencyMs":-5}`, "latencyMs -5 must be between 0"},
		{`{"rate":0,"latencyMs":86400000}`, "must be between 0"},
		{`{"rate":0.5,"codes":[200]}`, "fault code 200"},
		{`{"rate":0.5,"codes":[499]}`, "fault code 499"},
		{`{"rate":0.5,"codes":[503,"x"]}`, "bad_json"},
		{`{"rate":0.5,"latency":5}`, "unknown field"},
		{`{"rate":0.5} {"rate":1}`, "one JSON object"},
		{`rate=1`, "bad_json"},
	} {
		st, body, _ := send("POST", "/_b2local/faults", bearer, "application/json", tc.body)
		want("faults "+tc.body, st, body, 400, tc.msg)
	}
	if r := s.try("b2_list_buckets", map[string]any{"accountId": s.accountID}); r.Status != 200 {
		t.Fatalf("a refused faults call changed the server: %v", r)
	}

	// Good values take effect.
	st, body, _ = send("POST", "/_b2local/faults", bearer, "application/json; charset=utf-8", `{"rate":1,"codes":[429],"latencyMs":1}`)
	want("faults on", st, body, 200, `"codes":[429]`)
	if r := s.try("b2_list_buckets", map[string]any{"accountId": s.accountID}); r.Status != 429 {
		t.Errorf("after faults on: %v", r)
	}
	st, body, _ = send("GET", "/_b2local/faults", bearer, "", "")
	want("faults read back", st, body, 200, `"latencyMs":1`)
	st, body, _ = send("POST", "/_b2local/faults", bearer, "application/json", `{"rate":0,"latencyMs":0}`)
	want("faults off", st, body, 200, `"rate":0`)
	st, body, _ = send("GET", "/_b2local/stats", bearer, "", "")
	want("stats", st, body, 200, `"b2_list_buckets"`)

	// A custom master key, not the development one, is what counts.
	srv2, base2, hc2 := startServer(t, emulator.Options{MasterKeyID: "customid", MasterKey: "customsecret"})
	_ = srv2
	res, err := control(hc2, "GET", base2+"/_b2local/stats", "")
	if err != nil || res.StatusCode != 401 {
		t.Errorf("development key on a custom-key server: %v %v", res, err)
	} else {
		res.Body.Close()
	}
	_ = srv
}

// Bad fault options are refused at NewServer with the same rule.
func TestBadFaultOptionsRefused(t *testing.T) {
	for _, o := range []emulator.Options{
		{FailRate: -1}, {FailRate: 2}, {FailCodes: []int{200}}, {FailCodes: []int{599}}, {Latency: -time.Second},
	} {
		if s, err := emulator.NewServer(o); err == nil {
			s.Close()
			t.Errorf("NewServer(%+v) accepted", o)
		}
	}
}
