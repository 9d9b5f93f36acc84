package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/b2plan/b2plan/emulator"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestServeStartsAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuf
	done := make(chan int)
	go func() { done <- serve(ctx, []string{"-addr", "127.0.0.1:0", "-data", t.TempDir()}, &out, &errOut) }()
	re := regexp.MustCompile(`listening on (http://\S+)`)
	var url string
	for i := 0; i < 500 && url == ""; i++ {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			url = m[1]
		}
		time.Sleep(10 * time.Millisecond)
	}
	if url == "" {
		t.Fatalf("no URL printed: %q %q", out.String(), errOut.String())
	}
	res, err := http.Get(url + "/_b2local/health")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("health: %v %v", res, err)
	}
	res.Body.Close()
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit code %d, stderr %q", code, errOut.String())
	}
}

func TestServeNeverPrintsUserSecret(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errOut syncBuf
	serve(ctx, []string{"-addr", "127.0.0.1:0", "-key-id", "myid", "-key", "topsecret"}, &out, &errOut)
	if bytes.Contains([]byte(out.String()+errOut.String()), []byte("topsecret")) {
		t.Errorf("secret printed: %q", out.String())
	}
}

func TestServeBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-fail-codes", "abc"},
		{"-fail-codes", "499"},
		{"-fail-codes", "200"},
		{"-fail-rate", "1.5"},
		{"-latency", "-1s"},
		{"-idle-timeout", "0s"},
		{"-io-timeout", "-1s"},
		{"-max-conns", "-1"},
		{"-rate-limit", "-1"},
		{"-max-copy-size", "-5"},
		{"-absolute-min-part-size", "200", "-recommended-part-size", "100"},
		{"-account", "onlyasecretK00"},
		{"-account", "a:b", "-account", "a:c"},
		{"-account", "a:b", "-key-id", "x", "-key", "y"},
	} {
		var out, errOut syncBuf
		if code := serve(context.Background(), args, &out, &errOut); code != 2 || errOut.String() == "" {
			t.Errorf("%v: exit code %d, stderr %q", args, code, errOut.String())
		}
		if strings.Contains(errOut.String()+out.String(), "onlyasecretK00") {
			t.Errorf("%v: a malformed -account value is echoed: %q", args, errOut.String())
		}
	}
}

// -idle-timeout reaches the server: an idle client is disconnected.
func TestServeIdleTimeoutFlag(t *testing.T) {
	url, _ := startServe(t, "-idle-timeout", "200ms", "-io-timeout", "200ms")
	addr := strings.TrimPrefix(url, "http://")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("idle connection received bytes")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("idle connection not closed by the server")
	}
}

// -s3-signed-payload refuses an S3 request signed with UNSIGNED-PAYLOAD;
// without it the same request is accepted.
func TestServeS3SignedPayload(t *testing.T) {
	for _, strict := range []bool{false, true} {
		var args []string
		if strict {
			args = append(args, "-s3-signed-payload")
		}
		url, out := startServe(t, args...)
		ctx := context.Background()
		c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(url), UsePathStyle: true,
			Credentials: credentials.NewStaticCredentialsProvider(emulator.DefaultKeyID, emulator.DefaultKey, ""),
			APIOptions:  []func(*middleware.Stack) error{v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware}})
		_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("signed-payload")})
		var ae smithy.APIError
		if strict && (!errors.As(err, &ae) || ae.ErrorCode() != "InvalidRequest") {
			t.Errorf("strict: CreateBucket with UNSIGNED-PAYLOAD: %v, want InvalidRequest", err)
		}
		if !strict && err != nil {
			t.Errorf("default: CreateBucket with UNSIGNED-PAYLOAD: %v", err)
		}
		if strict != strings.Contains(out.String(), "must sign their payload") {
			t.Errorf("startup message %q", out.String())
		}
	}
}

// startServe runs serve with args on a free port until the test ends and
// returns its URL and what it printed.
func startServe(t *testing.T, args ...string) (string, *syncBuf) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, errOut := &syncBuf{}, &syncBuf{}
	done := make(chan int)
	go func() { done <- serve(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), out, errOut) }()
	t.Cleanup(func() { cancel(); <-done })
	re := regexp.MustCompile(`listening on (http://\S+)`)
	for i := 0; i < 500; i++ {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			return m[1], out
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no URL printed: %q %q", out.String(), errOut.String())
	return "", nil
}

func authorize(t *testing.T, url, id, key string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("GET", url+"/b2api/v2/b2_authorize_account", nil)
	req.SetBasicAuth(id, key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(res.Body).Decode(&m)
	return res, m
}

// The limit flags reach the server: reported by b2_authorize_account, and
// -rate-limit refuses the call beyond the burst.
func TestServeLimitFlags(t *testing.T) {
	url, _ := startServe(t, "-max-copy-size", "3000", "-absolute-min-part-size", "100", "-recommended-part-size", "2000", "-rate-limit", "0.01")
	res, m := authorize(t, url, "b2local00001", "K00b2localDevelopmentMasterKey")
	if res.StatusCode != 200 || m["absoluteMinimumPartSize"] != 100.0 || m["recommendedPartSize"] != 2000.0 {
		t.Errorf("authorize: %d %v", res.StatusCode, m)
	}
	res, m = authorize(t, url, "b2local00001", "K00b2localDevelopmentMasterKey")
	if res.StatusCode != 429 || m["code"] != "too_many_requests" || res.Header.Get("Retry-After") == "" {
		t.Errorf("second call at 0.01/s: %d %v", res.StatusCode, m)
	}
}

// -account: the first is the default account, each authorizes as its own.
func TestServeAccounts(t *testing.T) {
	url, _ := startServe(t, "-account", "acctone0001:K00one", "-account", "accttwo0002:K00two")
	for id, key := range map[string]string{"acctone0001": "K00one", "accttwo0002": "K00two"} {
		res, m := authorize(t, url, id, key)
		if res.StatusCode != 200 || m["accountId"] != id {
			t.Errorf("authorize %s: %d %v", id, res.StatusCode, m)
		}
	}
	if res, _ := authorize(t, url, "b2local00001", "K00b2localDevelopmentMasterKey"); res.StatusCode != 401 {
		t.Errorf("development key with -account: %d", res.StatusCode)
	}
}
