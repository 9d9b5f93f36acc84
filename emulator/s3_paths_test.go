package emulator_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/b2plan/b2plan/emulator"
)

// signRaw signs a request the way S3 clients do: over the escaped path
// exactly as it goes on the wire (no re-encoding).
func signRaw(t *testing.T, req *http.Request, body []byte) {
	t.Helper()
	sum := sha256.Sum256(body)
	ph := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Content-Sha256", ph)
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err := signer.SignHTTP(context.Background(), aws.Credentials{AccessKeyID: emulator.DefaultKeyID, SecretAccessKey: emulator.DefaultKey},
		req, ph, "s3", "us-west-000", time.Now()); err != nil {
		t.Fatal(err)
	}
}

// SigV4's canonical URI is the path as the client sent and signed it:
// encoded slashes, encoded dots, lower-case hex and raw '+' verify, and the
// key is the decoded path.
func TestS3SigV4RawPaths(t *testing.T) {
	srv, base, hc := startServer(t, emulator.Options{})
	nat := master(t, hc, base, 4)
	c := s3Master(srv, hc)
	bn := s3Bucket(t, c)
	for _, tc := range []struct{ wire, key string }{
		{"dir%2Fname", "dir/name"},
		{"%2e%2e/up", "../up"},
		{"%2E%2E%2Fx", "../x"},
		{"a/%2e/b", "a/./b"},
		{"lower%c3%bc", "lowerü"},
		{"sp%20ace", "sp ace"},
		{"plus+raw", "plus+raw"},
		{"%E6%97%A5%E6%9C%AC", "日本"},
	} {
		body := []byte("content of " + tc.key)
		req, err := http.NewRequest("PUT", base+"/"+bn+"/"+tc.wire, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if got := req.URL.EscapedPath(); got != "/"+bn+"/"+tc.wire {
			t.Fatalf("test setup: %q goes on the wire as %q", tc.wire, got)
		}
		signRaw(t, req, body)
		res, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("PUT %s: %d %s", tc.wire, res.StatusCode, b)
			continue
		}
		// An independent reader: the native API by the decoded name.
		if d := nat.byName(bn, tc.key); d.Status != 200 || !bytes.Equal(d.Raw, body) {
			t.Errorf("PUT %s: native download of %q: %d %q", tc.wire, tc.key, d.Status, d.Raw)
		}
		// GET signed over the same raw path.
		req, _ = http.NewRequest("GET", base+"/"+bn+"/"+tc.wire, nil)
		signRaw(t, req, nil)
		res, err = hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ = io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !bytes.Equal(b, body) {
			t.Errorf("GET %s: %d %q", tc.wire, res.StatusCode, b)
		}
	}

	// A signature over one path does not verify another.
	req, _ := http.NewRequest("PUT", base+"/"+bn+"/sig%2Fone", strings.NewReader("x"))
	signRaw(t, req, []byte("x"))
	req.URL.RawPath, req.URL.Path = "/"+bn+"/sig%2Ftwo", "/"+bn+"/sig/two"
	res, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 403 || !strings.Contains(string(b), "SignatureDoesNotMatch") {
		t.Errorf("signature over another path: %d %s", res.StatusCode, b)
	}

	// Keys with literal percent signs, dots, spaces and unicode through the SDK.
	for _, k := range []string{"lit%2Fslash", "%2e%2e/lit", "../sdk-dots", "with space/ünï", "x/%41"} {
		putS3(t, c, bn, k, []byte(k))
		if got := string(getS3(t, c, bn, k)); got != k {
			t.Errorf("SDK round trip of %q = %q", k, got)
		}
		if d := nat.byName(bn, k); d.Status != 200 || string(d.Raw) != k {
			t.Errorf("native download of SDK key %q: %d %q", k, d.Status, d.Raw)
		}
		if _, err := c.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(bn), Key: aws.String(k)}); err != nil {
			t.Errorf("SDK delete of %q: %v", k, err)
		}
	}
}

// Deleting with a version id of another key deletes nothing and says so;
// deleting a version already gone still succeeds (a retried delete).
func TestS3DeleteVersionOfAnotherKey(t *testing.T) {
	srv, base, hc := inProcessServer(t, emulator.Options{})
	ctx := context.Background()
	nat := master(t, hc, base, 4)
	c := s3Master(srv, hc)
	bn := s3Bucket(t, c)
	a := putS3(t, c, bn, "a", []byte("a"))
	b := putS3(t, c, bn, "b", []byte("b"))
	bid := jstr(jlist(nat.call("b2_list_buckets", map[string]any{"accountId": nat.accountID, "bucketName": bn}), "buckets")[0], "bucketId")
	versions := func() string {
		var out []string
		for _, e := range nat.allVersions(bid, "", 100) {
			out = append(out, e.Name+"="+e.ID)
		}
		return strings.Join(out, " ")
	}
	want := "a=" + aws.ToString(a.VersionId) + " b=" + aws.ToString(b.VersionId)
	if got := versions(); got != want {
		t.Fatalf("seeded versions %s, want %s", got, want)
	}

	_, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bn), Key: aws.String("a"), VersionId: b.VersionId})
	wantS3Err(t, "DeleteObject with b's version id on a", err, "InvalidArgument")
	if err != nil && !strings.Contains(err.Error(), "another key") {
		t.Errorf("DeleteObject error does not say what is wrong: %v", err)
	}
	out, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(bn), Delete: &types.Delete{Objects: []types.ObjectIdentifier{
		{Key: aws.String("b"), VersionId: a.VersionId},
	}}})
	if err != nil || len(out.Deleted) != 0 || len(out.Errors) != 1 || aws.ToString(out.Errors[0].Code) != "InvalidArgument" {
		t.Errorf("DeleteObjects with a's version id on b: %+v %v", out, err)
	}
	if got := versions(); got != want {
		t.Fatalf("versions after refused deletes %s, want %s", got, want)
	}

	// The right key deletes; doing it again (a retry) still succeeds.
	for i := 0; i < 2; i++ {
		if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bn), Key: aws.String("a"), VersionId: a.VersionId}); err != nil {
			t.Fatalf("delete %d of a's version: %v", i, err)
		}
	}
	if got, want := versions(), "b="+aws.ToString(b.VersionId); got != want {
		t.Fatalf("versions after deleting a's %s, want %s", got, want)
	}
}
