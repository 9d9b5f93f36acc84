package main

import (
	"bytes"
	"context"
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
	} {
		var out, errOut syncBuf
		if code := serve(context.Background(), args, &out, &errOut); code != 2 || errOut.String() == "" {
			t.Errorf("%v: exit code %d, stderr %q", args, code, errOut.String())
		}
	}
}

// -idle-timeout reaches the server: an idle client is disconnected.
func TestServeIdleTimeoutFlag(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuf
	done := make(chan int)
	go func() {
		done <- serve(ctx, []string{"-addr", "127.0.0.1:0", "-idle-timeout", "200ms", "-io-timeout", "200ms"}, &out, &errOut)
	}()
	re := regexp.MustCompile(`listening on http://(\S+)`)
	var addr string
	for i := 0; i < 500 && addr == ""; i++ {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			addr = m[1]
		}
		time.Sleep(10 * time.Millisecond)
	}
	if addr == "" {
		t.Fatalf("no URL printed: %q %q", out.String(), errOut.String())
	}
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
	cancel()
	<-done
}

// -s3-signed-payload refuses an S3 request signed with UNSIGNED-PAYLOAD;
// without it the same request is accepted.
func TestServeS3SignedPayload(t *testing.T) {
	for _, strict := range []bool{false, true} {
		ctx, cancel := context.WithCancel(context.Background())
		var out, errOut syncBuf
		done := make(chan int)
		args := []string{"-addr", "127.0.0.1:0"}
		if strict {
			args = append(args, "-s3-signed-payload")
		}
		go func() { done <- serve(ctx, args, &out, &errOut) }()
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
		cancel()
		<-done
	}
}
