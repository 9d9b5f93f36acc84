package emulator

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"sync/atomic"
)

// Tokens: account authorization, upload, part-upload and download
// authorization tokens live in one table, bounded so that a long test suite
// (or a client looping on b2_get_upload_url) keeps memory flat:
//
//   - Expired tokens are swept (lazily, when tokens are issued).
//   - Each group — account tokens per key, upload tokens per bucket, part
//     tokens per large file, download tokens per bucket — holds at most a
//     fixed number; beyond it the least recently used one goes (CLOCK:
//     oldest first, but a token used since it was last considered gets a
//     second chance). The whole table is capped the same way.
//
// A token string carries a MAC under a per-process secret, so a token this
// process issued and has since dropped is still recognised: it answers
// expired_auth_token, which makes clients fetch a new one, while a forged or
// pre-restart token answers bad_auth_token.

const (
	tokKinds = 4

	maxTokens      = 100_000 // whole table
	tokSweepMinGap = 60_000  // ms between time-triggered sweeps
)

// Per-group caps by token kind.
var tokGroupCap = [tokKinds]int{
	tokAccount:  10_000,
	tokUpload:   1_000,
	tokPart:     1_000,
	tokDownload: 10_000,
}

type token struct {
	kind     uint8
	key      *appKey
	gen      uint64
	expires  int64
	bucketID string
	fileID   uint64
	prefix   string
	pins     map[string]string // download authorization overrides
	busy     atomic.Bool

	// Table bookkeeping (tokenTable.mu).
	id           string
	used         atomic.Bool // looked up since the clock hand last passed
	grp          *tokGroup
	gprev, gnext *token // whole-table order
	sprev, snext *token // group order
}

type tokGroupKey struct {
	kind uint8
	id   string // key id or bucket id
	file uint64
}

type tokGroup struct {
	key tokGroupKey
	l   tokList
}

// tokList is an intrusive list, oldest first; global selects the links.
type tokList struct {
	head, tail *token
	n          int
	global     bool
}

func (l *tokList) links(t *token) (prev, next **token) {
	if l.global {
		return &t.gprev, &t.gnext
	}
	return &t.sprev, &t.snext
}

func (l *tokList) push(t *token) {
	p, n := l.links(t)
	*p, *n = l.tail, nil
	if l.tail != nil {
		_, tn := l.links(l.tail)
		*tn = t
	} else {
		l.head = t
	}
	l.tail = t
	l.n++
}

func (l *tokList) remove(t *token) {
	p, n := l.links(t)
	if *p != nil {
		_, pn := l.links(*p)
		*pn = *n
	} else {
		l.head = *n
	}
	if *n != nil {
		np, _ := l.links(*n)
		*np = *p
	} else {
		l.tail = *p
	}
	*p, *n = nil, nil
	l.n--
}

type tokenTable struct {
	mu        sync.RWMutex
	m         map[string]*token
	groups    map[tokGroupKey]*tokGroup
	all       tokList
	max       int
	groupCap  [tokKinds]int
	secret    [32]byte
	gen       atomic.Uint64
	expireGen atomic.Uint64
	lastSweep int64 // ms
	sweptLen  int   // table size after the last sweep
}

func (tt *tokenTable) init() {
	tt.m = map[string]*token{}
	tt.groups = map[tokGroupKey]*tokGroup{}
	tt.all.global = true
	tt.max = maxTokens
	tt.groupCap = tokGroupCap
	_, _ = rand.Read(tt.secret[:])
}

// Token strings: "4_" + hex(16 random bytes + 8 bytes of HMAC over them).
const tokRandLen, tokMACLen = 16, 8

func (tt *tokenTable) mac(r []byte) []byte {
	h := hmac.New(sha256.New, tt.secret[:])
	h.Write(r)
	return h.Sum(nil)[:tokMACLen]
}

func (tt *tokenTable) newID() string {
	var b [tokRandLen + tokMACLen]byte
	_, _ = rand.Read(b[:tokRandLen])
	copy(b[tokRandLen:], tt.mac(b[:tokRandLen]))
	return "4_" + hex.EncodeToString(b[:])
}

// minted reports whether s is a token string this process issued.
func (tt *tokenTable) minted(s string) bool {
	if len(s) != 2+2*(tokRandLen+tokMACLen) || s[:2] != "4_" {
		return false
	}
	b, err := hex.DecodeString(s[2:])
	if err != nil {
		return false
	}
	return hmac.Equal(b[tokRandLen:], tt.mac(b[:tokRandLen]))
}

func groupKeyOf(t *token) tokGroupKey {
	switch t.kind {
	case tokAccount:
		return tokGroupKey{kind: t.kind, id: t.key.ID}
	case tokPart:
		return tokGroupKey{kind: t.kind, id: t.bucketID, file: t.fileID}
	default:
		return tokGroupKey{kind: t.kind, id: t.bucketID}
	}
}

// issue stores t (expires set) and returns its string.
func (tt *tokenTable) issue(t *token, nowMs int64) string {
	t.gen = tt.gen.Add(1)
	t.id = tt.newID()
	tt.mu.Lock()
	defer tt.mu.Unlock()
	if nowMs-tt.lastSweep >= tokSweepMinGap || len(tt.m) >= 2*tt.sweptLen+1024 {
		tt.sweepLocked(nowMs)
	}
	gk := groupKeyOf(t)
	g := tt.groups[gk]
	if g == nil {
		g = &tokGroup{key: gk}
		tt.groups[gk] = g
	}
	tt.m[t.id] = t
	t.grp = g
	g.l.push(t)
	tt.all.push(t)
	for g.l.n > tt.groupCap[t.kind] {
		tt.evictLocked(&g.l)
	}
	for tt.all.n > tt.max {
		tt.evictLocked(&tt.all)
	}
	return t.id
}

// evictLocked drops the oldest token of l not used since the clock hand last
// passed it; used ones go to the back of l once.
func (tt *tokenTable) evictLocked(l *tokList) {
	for {
		t := l.head
		if t.used.Load() {
			t.used.Store(false)
			l.remove(t)
			l.push(t)
			continue
		}
		tt.dropLocked(t)
		return
	}
}

func (tt *tokenTable) dropLocked(t *token) {
	delete(tt.m, t.id)
	tt.all.remove(t)
	g := t.grp
	g.l.remove(t)
	if g.l.n == 0 {
		delete(tt.groups, g.key)
	}
	t.grp = nil
}

// sweepLocked drops every expired token.
func (tt *tokenTable) sweepLocked(nowMs int64) {
	eg := tt.expireGen.Load()
	for t := tt.all.head; t != nil; {
		next := t.gnext
		if t.gen <= eg || nowMs >= t.expires {
			tt.dropLocked(t)
		}
		t = next
	}
	tt.lastSweep, tt.sweptLen = nowMs, len(tt.m)
}

// expireAll makes every token issued so far answer expired_auth_token and
// frees them.
func (tt *tokenTable) expireAll() {
	tt.mu.Lock()
	tt.expireGen.Store(tt.gen.Load())
	tt.m = map[string]*token{}
	tt.groups = map[tokGroupKey]*tokGroup{}
	tt.all = tokList{global: true}
	tt.sweptLen = 0
	tt.mu.Unlock()
}

func (tt *tokenTable) get(s string) *token {
	tt.mu.RLock()
	t := tt.m[s]
	tt.mu.RUnlock()
	if t != nil && !t.used.Load() {
		t.used.Store(true)
	}
	return t
}

func (tt *tokenTable) len() int {
	tt.mu.RLock()
	defer tt.mu.RUnlock()
	return len(tt.m)
}

// ---- store API ----

func (st *store) issueToken(t *token) string {
	if t.expires == 0 {
		t.expires = st.opts.Now().Add(st.opts.TokenTTL).UnixMilli()
	}
	return st.tok.issue(t, st.nowMs())
}

func (st *store) expireTokens() { st.tok.expireAll() }

// lookupToken resolves a token string of one of the given kinds.
func (st *store) lookupToken(s string, kinds ...uint8) (*token, error) {
	if s == "" {
		return nil, errCode(401, "missing_auth_token", "Authorization header is missing")
	}
	t := st.tok.get(s)
	if t == nil {
		if st.tok.minted(s) {
			return nil, errExpired()
		}
		return nil, errCode(401, "bad_auth_token", "Invalid authorization token")
	}
	ok := false
	for _, k := range kinds {
		if t.kind == k {
			ok = true
		}
	}
	if !ok {
		return nil, errCode(401, "bad_auth_token", "Invalid authorization token for this operation")
	}
	st.mu.RLock()
	cur := st.keys[t.key.ID]
	st.mu.RUnlock()
	if cur != t.key {
		return nil, errCode(401, "bad_auth_token", "Invalid authorization token: application key was deleted")
	}
	if t.gen <= st.tok.expireGen.Load() || st.nowMs() >= t.expires {
		return nil, errExpired()
	}
	return t, nil
}
