package b2client

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/b2plan/b2plan/emulator"

	"github.com/b2plan/b2plan/live"
)

// Failures that cannot succeed later are reported after one request, with
// what to fix, instead of after the whole retry schedule.
func TestFailFast(t *testing.T) {
	badCert := httptest.NewTLSServer(http.NotFoundHandler()) // not trusted by the default transport
	defer badCert.Close()
	plain := httptest.NewServer(http.NotFoundHandler())
	defer plain.Close()
	f := newFakeB2(t, func(w http.ResponseWriter, r *http.Request, api string, n int) bool {
		if api == "b2_list_buckets" {
			writeErr(w, 400, "bad_request", "bucketTypes: unknown type")
			return true
		}
		return false
	})
	emu, err := emulator.NewServer(emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<html>welcome</html>"))
	}))
	defer web.Close()
	notFound := httptest.NewServer(http.NotFoundHandler())
	defer notFound.Close()
	// Last, so that no server of this test gets the closed port.
	refused := httptest.NewServer(http.NotFoundHandler())
	refusedURL := refused.URL
	refused.Close()
	for _, tc := range []struct {
		name, endpoint, key string
		class               Class
		want                []string
	}{
		{"unknown host", "https://api.backblazeb2.invalid", testSecret, Permanent, []string{"cannot resolve host api.backblazeb2.invalid", "check the endpoint"}},
		{"refused", refusedURL, testSecret, Permanent, []string{"refused the connection", "check the endpoint's host and port"}},
		{"bad certificate", badCert.URL, testSecret, Permanent, []string{"TLS certificate of " + strings.TrimPrefix(badCert.URL, "https://"), "x509: certificate signed by unknown authority"}},
		{"https to plain http", strings.Replace(plain.URL, "http://", "https://", 1), testSecret, Permanent, []string{"does not speak TLS", "http://"}},
		{"a web server", web.URL, testSecret, Permanent, []string{"does not answer like a B2 native API", "check the endpoint"}},
		{"404", notFound.URL, testSecret, Permanent, []string{"does not answer like a B2 native API (404", "check the endpoint"}},
		{"wrong key", emu.URL(), "wrong", Unauthorized, []string{"B2 rejected the application key", "check B2_APPLICATION_KEY_ID and B2_APPLICATION_KEY"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sl := &sleepLog{}
			cfg := Config{Endpoint: tc.endpoint, KeyID: "kid", Key: tc.key, Getenv: noEnv, Retry: RetryPolicy{MaxAttempts: 8, Sleep: sl.sleep}}
			if tc.endpoint == emu.URL() {
				cfg.KeyID, cfg.Transport = emulator.DefaultKeyID, emu.Transport()
			}
			_, err := Connect(context.Background(), cfg)
			var e *Error
			if !errors.As(err, &e) || e.Class != tc.class {
				t.Fatalf("Connect(%s) = %v, want class %v", tc.endpoint, err, tc.class)
			}
			if e.Attempts > 1 || len(sl.d) > 0 {
				t.Errorf("%d attempts, %d waits; want 1 attempt and no wait", e.Attempts, len(sl.d))
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), testSecret) {
				t.Errorf("error shows the key: %v", err)
			}
		})
	}
	// A 400 is not retried either.
	sl := &sleepLog{}
	c := connectFake(t, f, sl)
	_, err = Observe(context.Background(), c, live.Request{Buckets: true})
	var e *Error
	if !errors.As(err, &e) || e.Class != Permanent || e.Attempts != 1 || len(sl.d) != 0 {
		t.Errorf("400: err = %v after %d waits, want Permanent after 1 attempt", err, len(sl.d))
	}
}

// A host that answered once and then refuses (a restarting server) is
// retried: only first contact is taken as a wrong endpoint.
func TestRefusedAfterFirstContactIsRetried(t *testing.T) {
	f := newFakeB2(t, nil)
	sl := &sleepLog{}
	c := connectFake(t, f, sl)
	f.srv.Close()
	_, err := Observe(context.Background(), c, live.Request{Buckets: true})
	var e *Error
	if !errors.As(err, &e) || e.Class != Retryable || e.Attempts != 4 {
		t.Fatalf("err = %v, want Retryable after 4 attempts", err)
	}
}

// A token that expires several times during one call's retries is
// re-authorised each time; a fresh token refused at once ends the call.
func TestReauthEveryTimeTheTokenExpires(t *testing.T) {
	f := newFakeB2(t, func(w http.ResponseWriter, r *http.Request, api string, n int) bool {
		if api != "b2_list_buckets" {
			return false
		}
		switch n {
		case 1, 3, 5:
			writeErr(w, 401, "expired_auth_token", "expired")
		case 2, 4:
			writeErr(w, 503, "service_unavailable", "busy")
		default:
			return false
		}
		return true
	})
	sl := &sleepLog{}
	c := connectFake(t, f, sl)
	if _, err := Observe(context.Background(), c, live.Request{Buckets: true}); err != nil {
		t.Fatalf("Observe: %v", err)
	}
	if got := f.auths.Load(); got != 4 {
		t.Errorf("authorisations = %d, want 4 (connect + 3 expiries)", got)
	}
	if len(sl.d) != 2 {
		t.Errorf("waits = %d, want 2 (re-authorisations do not wait)", len(sl.d))
	}
}
