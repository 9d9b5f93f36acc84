package emulator

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// uploadWith posts a tiny file with an upload URL's token.
func (c *wb) uploadWith(u map[string]any, name string) (int, map[string]any) {
	c.t.Helper()
	req, _ := http.NewRequest("POST", u["uploadUrl"].(string), strings.NewReader("x"))
	req.Header.Set("Authorization", u["authorizationToken"].(string))
	req.Header.Set("X-Bz-File-Name", name)
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("X-Bz-Content-Sha1", "do_not_verify")
	return c.do(req)
}

// Upload URL churn keeps the table at its caps; the token in use survives
// (second chance), the evicted ones answer expired_auth_token so clients
// fetch new ones, and forged tokens answer bad_auth_token.
func TestTokenTableBoundedUnderChurn(t *testing.T) {
	s, c := newWB(t, Options{})
	tt := &s.st.tok
	tt.mu.Lock()
	tt.groupCap[tokUpload] = 20
	tt.max = 50
	tt.mu.Unlock()
	b1 := c.bucket("churn-one", "allPrivate")
	b2 := c.bucket("churn-two", "allPrivate")

	first := c.call("b2_get_upload_url", map[string]any{"bucketId": b1})
	kept := c.call("b2_get_upload_url", map[string]any{"bucketId": b1})
	for i := 0; i < 500; i++ {
		if i%10 == 0 { // a client using one upload URL throughout
			if st, m := c.uploadWith(kept, "kept"); st != 200 {
				t.Fatalf("upload %d with a token in use: %d %v", i, st, m)
			}
		}
		c.call("b2_get_upload_url", map[string]any{"bucketId": b1})
		if n := tt.len(); n > 50 {
			t.Fatalf("after %d calls the table holds %d tokens (cap 50)", i, n)
		}
	}
	tt.mu.RLock()
	g1 := tt.groups[tokGroupKey{kind: tokUpload, id: b1}].l.n
	tt.mu.RUnlock()
	if g1 > 20 {
		t.Fatalf("bucket group holds %d upload tokens (cap 20)", g1)
	}
	st, m := c.uploadWith(first, "first")
	wantCode(t, "evicted upload token", st, m, 401, "expired_auth_token")

	// Another group's churn pushes against the table cap, not the account
	// token in use.
	for i := 0; i < 200; i++ {
		c.call("b2_get_upload_url", map[string]any{"bucketId": b2})
		if n := tt.len(); n > 50 {
			t.Fatalf("table holds %d tokens (cap 50)", n)
		}
	}
	c.call("b2_list_buckets", map[string]any{"accountId": c.acct})

	forged := "4_" + strings.Repeat("ab", tokRandLen+tokMACLen)
	req, _ := http.NewRequest("POST", c.api+"/b2api/v4/b2_list_buckets", bytes.NewReader([]byte(`{"accountId":"`+c.acct+`"}`)))
	req.Header.Set("Authorization", forged)
	st, m = c.do(req)
	wantCode(t, "forged token", st, m, 401, "bad_auth_token")
}

// Expired tokens are freed: after the TTL only tokens issued since remain.
func TestExpiredTokensReclaimed(t *testing.T) {
	var off atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(off.Load())) }
	s, c := newWB(t, Options{Now: now, TokenTTL: time.Hour})
	bid := c.bucket("expiry-reclaim", "allPrivate")
	for i := 0; i < 300; i++ {
		c.call("b2_get_upload_url", map[string]any{"bucketId": bid})
	}
	if n := s.st.tok.len(); n < 300 {
		t.Fatalf("table holds %d tokens, want ≥ 300 live ones", n)
	}
	off.Store(int64(2 * time.Hour))
	st, m := c.try("b2_list_buckets", map[string]any{"accountId": c.acct})
	wantCode(t, "expired account token", st, m, 401, "expired_auth_token")
	c2 := login(t, s, 4, DefaultKeyID, DefaultKey) // issuing triggers the sweep
	if n := s.st.tok.len(); n != 1 {
		t.Fatalf("after expiry the table holds %d tokens, want only the new one", n)
	}
	// The swept token still answers expired_auth_token.
	st, m = c.try("b2_list_buckets", map[string]any{"accountId": c.acct})
	wantCode(t, "swept account token", st, m, 401, "expired_auth_token")
	c2.call("b2_list_buckets", map[string]any{"accountId": c2.acct})

	s.ExpireTokens()
	if n := s.st.tok.len(); n != 0 {
		t.Fatalf("after ExpireTokens the table holds %d tokens", n)
	}
	st, m = c2.try("b2_list_buckets", map[string]any{"accountId": c2.acct})
	wantCode(t, "after ExpireTokens", st, m, 401, "expired_auth_token")
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

func rssKB() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return -1
}

// B2LOCAL_TOKEN_CHURN=1000000 go test ./emulator -run TestTokenChurnMemory -v
// measures heap and RSS across that many b2_get_upload_url calls.
func TestTokenChurnMemory(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("B2LOCAL_TOKEN_CHURN"))
	if n <= 0 {
		t.Skip("set B2LOCAL_TOKEN_CHURN=N to run N b2_get_upload_url calls")
	}
	s, c := newWB(t, Options{})
	bid := c.bucket("churn-memory", "allPrivate")
	body := []byte(`{"bucketId":"` + bid + `"}`)
	url := fmt.Sprintf("%s/b2api/v4/b2_get_upload_url", c.api)
	call := func() {
		req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
		req.Header.Set("Authorization", c.tok)
		res, err := c.hc.Do(req)
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("b2_get_upload_url: %v %v", res, err)
		}
		res.Body.Close()
	}
	for i := 0; i < 10_000; i++ {
		call()
	}
	h0, r0 := heapInUse(), rssKB()
	t.Logf("after 10,000 calls: heap in use %.1f MB, RSS %.1f MB, %d tokens", float64(h0)/1e6, float64(r0)/1e3, s.st.tok.len())
	for i := 1; i <= n; i++ {
		call()
		if i%(n/4) == 0 {
			t.Logf("after %d calls: heap in use %.1f MB, RSS %.1f MB, %d tokens", i, float64(heapInUse())/1e6, float64(rssKB())/1e3, s.st.tok.len())
		}
	}
	if h := heapInUse(); h > h0+16<<20 {
		t.Errorf("heap grew from %d to %d bytes over %d calls", h0, h, n)
	}
}
