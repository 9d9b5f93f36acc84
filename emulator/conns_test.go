package emulator_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/b2plan/b2plan/emulator"
)

// openFDs counts this process's descriptors (Linux only).
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count descriptors: %v", err)
	}
	return len(ents)
}

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func startShortTimeouts(t *testing.T, o emulator.Options) (*emulator.Server, string) {
	t.Helper()
	if o.IdleTimeout == 0 {
		o.IdleTimeout = 300 * time.Millisecond
	}
	if o.IOTimeout == 0 {
		o.IOTimeout = 300 * time.Millisecond
	}
	s, err := emulator.NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.Start("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, strings.TrimPrefix(u, "http://")
}

// rawGet sends one keep-alive request on c and reads its answer.
func rawGet(c net.Conn, br *bufio.Reader, path string) (*http.Response, error) {
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: b2local\r\n\r\n", path); err != nil {
		return nil, err
	}
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res, nil
}

// expectClosedByServer reads from a client connection the server should
// have closed: EOF (or reset) rather than a timeout of our own.
func expectClosedByServer(t *testing.T, c net.Conn, br io.Reader) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err := br.Read(make([]byte, 1))
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("connection still open: %v", err)
	}
	if err == nil {
		t.Fatal("connection still delivering bytes")
	}
}

// 1,000 idle clients: half never send a request, half go idle after one
// keep-alive request. The server must close all of them after its timeouts
// and give the descriptors back.
func TestIdleClientsReclaimed(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts /proc/self/fd")
	}
	const n = 1000
	s, addr := startShortTimeouts(t, emulator.Options{IdleTimeout: 500 * time.Millisecond, IOTimeout: 500 * time.Millisecond})
	before := openFDs(t)
	conns := make([]net.Conn, n)
	readers := make([]*bufio.Reader, n)
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		conns[i], readers[i] = c, bufio.NewReader(c)
		if i%2 == 1 {
			res, err := rawGet(c, readers[i], "/_b2local/health")
			if err != nil || res.StatusCode != 200 {
				t.Fatalf("request on connection %d: %v %v", i, res, err)
			}
		}
	}
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	// Count while every connection is still open on both ends (the first
	// ones may already have timed out: the count is a lower bound).
	during := openFDs(t)
	t.Logf("descriptors: %d before, %d with %d idle clients (client and server ends in one process), %d server connections",
		before, during, n, s.OpenConns())
	waitFor(t, "the server to close idle connections", func() bool { return s.OpenConns() == 0 })
	waitFor(t, "server-side descriptors to be released", func() bool { return openFDs(t) <= before+n+8 })
	after := openFDs(t)
	for i, c := range conns {
		expectClosedByServer(t, c, readers[i])
	}
	for _, c := range conns {
		c.Close()
	}
	waitFor(t, "client-side descriptors to be released", func() bool { return openFDs(t) <= before+8 })
	t.Logf("descriptors after the idle timeout: %d (the %d client ends still open), %d after the clients closed", after, n, openFDs(t))

	// The server still serves.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if res, err := rawGet(c, bufio.NewReader(c), "/_b2local/health"); err != nil || res.StatusCode != 200 {
		t.Fatalf("after the idle storm: %v %v", res, err)
	}
}

// At MaxConns, a new client replaces the longest-idle connection instead of
// being refused or left waiting.
func TestMaxConnsShedsIdle(t *testing.T) {
	const max = 8
	s, addr := startShortTimeouts(t, emulator.Options{MaxConns: max, IdleTimeout: time.Hour, IOTimeout: time.Hour})
	var conns []net.Conn
	var readers []*bufio.Reader
	for i := 0; i < max; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		br := bufio.NewReader(c)
		if _, err := rawGet(c, br, "/_b2local/health"); err != nil {
			t.Fatal(err)
		}
		conns, readers = append(conns, c), append(readers, br)
	}
	waitFor(t, "all connections open", func() bool { return s.OpenConns() == max })
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if res, err := rawGet(c, bufio.NewReader(c), "/_b2local/health"); err != nil || res.StatusCode != 200 {
		t.Fatalf("new client at the cap: %v %v", res, err)
	}
	if n := s.OpenConns(); n > max {
		t.Fatalf("%d connections open, cap %d", n, max)
	}
	// Exactly one of the idle connections made room (which one is the
	// server's view of "longest idle", checked in TestConnLimiterShedsOldestIdle;
	// here its state hooks may lag the client by a few round trips).
	closed := 0
	for i, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		_, err := readers[i].Peek(1)
		_ = c.SetReadDeadline(time.Time{})
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			continue
		}
		closed++
	}
	if closed != 1 {
		t.Fatalf("%d idle connections closed for one new client, want 1", closed)
	}
}

// A body that stops arriving is answered (408) and its connection closed
// after IOTimeout, while the server keeps serving others.
func TestStalledUploadBodyTimesOut(t *testing.T) {
	s, addr := startShortTimeouts(t, emulator.Options{})
	hc := &http.Client{Timeout: 30 * time.Second}
	base := "http://" + addr
	c := master(t, hc, base, 4)
	bucketID := c.bucket("stalled-body-bucket")
	up := c.getUploadURL(bucketID)
	hc.CloseIdleConnections()

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	u := strings.TrimPrefix(up.url, base)
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\nX-Bz-File-Name: stalled\r\nContent-Type: text/plain\r\nX-Bz-Content-Sha1: do_not_verify\r\nContent-Length: 1000\r\n\r\n0123456789",
		u, addr, up.token)
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer to a stalled body: %v", err)
	}
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 408 || !strings.Contains(string(body), "I/O timeout") {
		t.Fatalf("stalled body: %d %s", res.StatusCode, body)
	}
	expectClosedByServer(t, conn, br)
	waitFor(t, "connection closed", func() bool { return s.OpenConns() == 0 })
	// Nothing was stored.
	if names := c.allNames(bucketID, "", "", 100); len(names) != 0 {
		t.Fatalf("stalled upload stored: %v", names)
	}
}

// A client that stops reading a large download is dropped after IOTimeout.
func TestStalledDownloadReaderDropped(t *testing.T) {
	s, addr := startShortTimeouts(t, emulator.Options{})
	hc := &http.Client{Timeout: 30 * time.Second}
	base := "http://" + addr
	c := master(t, hc, base, 4)
	bucketID := jstr(c.createBucket("stalled-read-bucket", "allPublic", nil), "bucketId")
	c.upload(bucketID, "big", make([]byte, 32<<20), nil)
	hc.CloseIdleConnections()

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4096)
	}
	fmt.Fprintf(conn, "GET /file/stalled-read-bucket/big HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	// Read nothing: the server's writes fill the socket buffers and stall.
	waitFor(t, "the server to drop the stalled reader", func() bool { return s.OpenConns() == 0 })
}

// sendClaim writes request headers claiming a large body, then only a few
// body bytes, and returns the connection (left open) and its reader.
func sendClaim(t *testing.T, addr, head string, claim int64, body string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "%sHost: %s\r\nContent-Length: %d\r\n\r\n%s", head, addr, claim, body)
	return conn, bufio.NewReader(conn)
}

// Requests refused on their headers are answered at once (the server does
// not wait for a body that is not coming) and their connection is closed.
func TestRefusedOnHeadersAnsweredAtOnce(t *testing.T) {
	// A refusal that drained or waited for the body would hang for an hour.
	_, addr := startShortTimeouts(t, emulator.Options{IOTimeout: time.Hour, IdleTimeout: time.Hour})
	hc := &http.Client{Timeout: 30 * time.Second}
	base := "http://" + addr
	c := master(t, hc, base, 4)
	bucketID := c.bucket("refused-claims")
	up := c.getUploadURL(bucketID)
	path := strings.TrimPrefix(up.url, base)

	cases := []struct {
		what, head string
		claim      int64
		status     int
	}{
		{"over-limit upload claim", "POST " + path + " HTTP/1.1\r\nAuthorization: " + up.token + "\r\nX-Bz-File-Name: big\r\nContent-Type: b2/x-auto\r\nX-Bz-Content-Sha1: do_not_verify\r\n", 10_000_000_000, 400},
		{"upload with a bad token", "POST " + path + " HTTP/1.1\r\nAuthorization: 4_nonsense\r\nX-Bz-File-Name: big\r\nContent-Type: b2/x-auto\r\nX-Bz-Content-Sha1: do_not_verify\r\n", 1_000_000_000, 401},
		{"S3 put with a bad signature", "PUT /refused-claims/big HTTP/1.1\r\nAuthorization: AWS4-HMAC-SHA256 Credential=" + emulator.DefaultKeyID + "/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00\r\nX-Amz-Date: 20260101T000000Z\r\nX-Amz-Content-Sha256: UNSIGNED-PAYLOAD\r\n", 1_000_000_000, 403},
		{"S3 put anonymous", "PUT /refused-claims/big HTTP/1.1\r\n", 1_000_000_000, 403},
	}
	for _, tc := range cases {
		conn, br := sendClaim(t, addr, tc.head, tc.claim, "0123456789")
		_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s: no answer: %v", tc.what, err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		if res.StatusCode != tc.status || !res.Close {
			t.Errorf("%s: %d (close=%v), want %d and Connection: close", tc.what, res.StatusCode, res.Close, tc.status)
		}
		expectClosedByServer(t, conn, br)
	}
	// A refusal whose small body was read keeps the connection.
	conn, br := sendClaim(t, addr, "POST /b2api/v4/b2_list_buckets HTTP/1.1\r\nAuthorization: 4_nonsense\r\nContent-Type: application/json\r\n", 2, "{}")
	res, err := http.ReadResponse(br, nil)
	if err != nil || res.StatusCode != 401 || res.Close {
		t.Fatalf("refused JSON call: %v %v", res, err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	if res, err := rawGet(conn, br, "/_b2local/health"); err != nil || res.StatusCode != 200 {
		t.Fatalf("keep-alive after a refused JSON call: %v %v", res, err)
	}
}

// In memory mode an upload's memory follows the bytes that arrive, not the
// size it claims: four uploads claiming 5 GB with 10-byte bodies allocate
// next to nothing.
func TestClaimedSizeNotReserved(t *testing.T) {
	_, addr := startShortTimeouts(t, emulator.Options{IOTimeout: 2 * time.Second})
	hc := &http.Client{Timeout: 30 * time.Second}
	base := "http://" + addr
	c := master(t, hc, base, 4)
	bucketID := c.bucket("claimed-size")
	var ups []string
	for i := 0; i < 4; i++ {
		u := c.getUploadURL(bucketID)
		ups = append(ups, "POST "+strings.TrimPrefix(u.url, base)+" HTTP/1.1\r\nAuthorization: "+u.token+
			"\r\nX-Bz-File-Name: claim\r\nContent-Type: b2/x-auto\r\nX-Bz-Content-Sha1: do_not_verify\r\n")
	}
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var conns []net.Conn
	var readers []*bufio.Reader
	for _, head := range ups {
		conn, br := sendClaim(t, addr, head, 5_000_000_000, "0123456789")
		conns, readers = append(conns, conn), append(readers, br)
	}
	for i, conn := range conns {
		_ = conn.SetReadDeadline(time.Now().Add(60 * time.Second))
		res, err := http.ReadResponse(readers[i], nil)
		if err != nil || res.StatusCode != 408 {
			t.Fatalf("claim %d: %v %v", i, res, err)
		}
		res.Body.Close()
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if d := after.TotalAlloc - before.TotalAlloc; d > 64<<20 {
		t.Fatalf("four 10-byte uploads claiming 5 GB allocated %d bytes", d)
	}
}

// A client that reads slowly but steadily is not cut off: the I/O timeout
// bounds a stall, not the transfer.
func TestSlowSteadyDownloadCompletes(t *testing.T) {
	_, addr := startShortTimeouts(t, emulator.Options{IOTimeout: 500 * time.Millisecond})
	hc := &http.Client{Timeout: 60 * time.Second}
	base := "http://" + addr
	c := master(t, hc, base, 4)
	bucketID := jstr(c.createBucket("slow-reader-bucket", "allPublic", nil), "bucketId")
	data := make([]byte, 6<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	c.upload(bucketID, "big", data, nil)

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(16 << 10)
	}
	fmt.Fprintf(conn, "GET /file/slow-reader-bucket/big HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	buf := make([]byte, 32<<10)
	for {
		n, err := res.Body.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %d bytes: %v", len(got), err)
		}
		time.Sleep(5 * time.Millisecond) // ≈ 6 MB/s at most: seconds for the whole body
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("slow download: %d bytes, want %d intact", len(got), len(data))
	}
}

// The same over S3: a stalled PutObject body answers RequestTimeout.
func TestStalledS3BodyTimesOut(t *testing.T) {
	srv, addr := startShortTimeouts(t, emulator.Options{})
	hc := &http.Client{Timeout: 30 * time.Second}
	c := s3Master(srv, hc)
	bn := s3Bucket(t, c)
	req, _ := http.NewRequest("PUT", "http://"+addr+"/"+bn+"/stalled", nil)
	signRaw(t, req, nil)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "PUT /%s/stalled HTTP/1.1\r\nHost: %s\r\nContent-Length: 1000\r\n", bn, addr)
	for _, h := range []string{"Authorization", "X-Amz-Date", "X-Amz-Content-Sha256"} {
		fmt.Fprintf(conn, "%s: %s\r\n", h, req.Header.Get(h))
	}
	fmt.Fprintf(conn, "\r\n0123456789")
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer to a stalled S3 body: %v", err)
	}
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 400 || !strings.Contains(string(body), "RequestTimeout") {
		t.Fatalf("stalled S3 body: %d %s", res.StatusCode, body)
	}
	expectClosedByServer(t, conn, br)
}
