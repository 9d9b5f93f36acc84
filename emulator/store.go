package emulator

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/btree"
)

// The storage layer: all state lives in memory (authoritative for reads) and,
// with Options.Dir, is journaled to bbolt plus content files (persist.go).
// One RWMutex (store.mu) guards the metadata; critical sections are short and
// never include body reads or JSON encoding.

const (
	kindUpload uint8 = iota
	kindHide
	kindStart
)

// version flags
const (
	fSHA1       uint8 = 1 << iota // sha1 is valid (else "none")
	fMD5                          // md5 is valid
	fUnverified                   // uploaded with do_not_verify
	fSSE                          // SSE-B2
)

// legal hold / retention encodings
const (
	holdUnset uint8 = iota
	holdOn
	holdOff
)
const (
	retNone uint8 = iota
	retGovernance
	retCompliance
)

type kv struct{ k, v string }

type blob struct {
	name string // file name under blobs/ (disk mode)
	data []byte // content (memory mode)
	size int64
	refs atomic.Int32
}

type seg struct {
	b   *blob
	off int64
	n   int64
}

// version is one file version; kept compact (no per-version maps unless the
// version has info).
type version struct {
	id          uint64
	ts          int64
	size        int64
	retainUntil int64
	sha1        [20]byte
	md5         [16]byte
	kind        uint8
	flags       uint8
	hold        uint8
	retMode     uint8
	repl        uint8  // replication status (replication.go)
	ctype       string // interned
	info        []kv   // sorted by key; nil when empty
	segs        []seg
}

type nameEntry struct {
	name string
	vs   []*version // newest first
}

func lessEntry(a, b *nameEntry) bool { return a.name < b.name }

type part struct {
	n    int
	size int64
	ts   int64
	sha1 [20]byte
	md5  [16]byte
	segs []seg
}

type largeFile struct {
	b     *bucket
	e     *nameEntry
	v     *version
	sse   bool
	parts map[int]*part
}

type lifecycleRule struct {
	DaysFromHidingToDeleting                        *int64 `json:"daysFromHidingToDeleting"`
	DaysFromUploadingToHiding                       *int64 `json:"daysFromUploadingToHiding"`
	DaysFromStartingToCancelingUnfinishedLargeFiles *int64 `json:"daysFromStartingToCancelingUnfinishedLargeFiles,omitempty"`
	FileNamePrefix                                  string `json:"fileNamePrefix"`
}

type defaultRetention struct {
	Mode   string // "" none, governance, compliance
	Period int64
	Unit   string // days | years
}

type bucket struct {
	ID        string
	Account   string // owning account's id
	Name      string
	Type      string
	Info      map[string]string
	CORS      []corsRule
	Lifecycle []lifecycleRule
	Revision  int64
	Lock      bool
	Retention defaultRetention
	SSE       bool
	Options   []string

	ext bucketExt // notification rules, replication (store_notify.go)

	files  *btree.BTreeG[*nameEntry]
	byID   map[uint64]*nameEntry
	lastTS int64
	count  int // versions incl. unfinished large files
}

type appKey struct {
	ID         string
	Secret     string
	Name       string
	Caps       []string
	BucketIDs  []string // nil = all buckets
	NamePrefix *string
	Account    string // owning account's id
	Expires    int64  // ms; 0 = never
	Created    int64
	master     bool

	capSet map[string]bool
}

func (k *appKey) has(c string) bool { return k.capSet[c] }

const (
	tokAccount uint8 = iota
	tokUpload
	tokPart
	tokDownload
)

type store struct {
	opts Options

	mu          sync.RWMutex
	accountID   string
	keys        map[string]*appKey
	buckets     map[string]*bucket
	bucketNames map[string]*bucket // lowercased name
	nextID      uint64
	large       map[uint64]*largeFile
	ctypes      map[string]string

	tok tokenTable // tokens.go

	notify notifier   // event notification delivery (notify.go)
	repl   replicator // replication (replication.go)

	clockOff          atomic.Int64     // emulated clock offset, ns (clock.go)
	wall              func() time.Time // Options.Now without the offset
	lcDone, lcStopped chan struct{}    // lifecycle runs (lifecycle.go)

	p *persister // nil in memory mode

	logMu   sync.Mutex
	lastLog string // last storage failure logged
}

func newMemStore(opts Options) *store {
	st := &store{
		opts:        opts,
		accountID:   opts.MasterKeyID,
		keys:        map[string]*appKey{},
		buckets:     map[string]*bucket{},
		bucketNames: map[string]*bucket{},
		nextID:      1,
		large:       map[uint64]*largeFile{},
		ctypes:      map[string]string{},
	}
	st.tok.init()
	st.initClock()
	for _, a := range append([]Account{{opts.MasterKeyID, opts.MasterKey}}, opts.Accounts...) {
		master := &appKey{ID: a.KeyID, Secret: a.Key, Name: "master", Caps: allCapabilities, Account: a.KeyID, master: true}
		master.capSet = capSet(master.Caps)
		st.keys[master.ID] = master
	}
	return st
}

func openStore(opts Options) (*store, error) {
	st := newMemStore(opts)
	if opts.Dir != "" {
		p, err := openPersister(opts.Dir, st)
		if err != nil {
			return nil, err
		}
		st.p = p
	}
	st.startLifecycle()
	st.resumeReplication()
	return st, nil
}

func (st *store) close() error {
	st.stopLifecycle()
	st.notify.stop()
	st.repl.stop()
	if st.p == nil {
		return nil
	}
	return st.p.close()
}

func (st *store) nowMs() int64 { return st.opts.Now().UnixMilli() }

func newBucketState(b *bucket) {
	b.files = btree.NewG[*nameEntry](32, lessEntry)
	b.byID = map[uint64]*nameEntry{}
}

// nextTS returns a strictly increasing timestamp for the bucket.
func (st *store) nextTS(b *bucket) int64 {
	t := st.nowMs()
	if t <= b.lastTS {
		t = b.lastTS + 1
	}
	b.lastTS = t
	return t
}

func (st *store) intern(ct string) string {
	if s, ok := st.ctypes[ct]; ok {
		return s
	}
	if len(st.ctypes) < 10000 {
		st.ctypes[ct] = ct
	}
	return ct
}

// File ids have B2's shape (83 characters), e.g.
// 4_z27c88f1d182b150646ff0b16_f1004ba650fe24e6b_d20180809_m012036_c005_v0001000_t0028:
// bucket id, "_f1" + the version's internal id in 15 hex digits, its upload
// date and time (UTC), a fixed data centre and server version, and the id's
// last four decimal digits. Only the bucket id and internal id are read back.
const fileIDLen = 83

func fileIDString(bucketID string, id uint64, ts int64) string {
	return string(appendFileID(make([]byte, 0, fileIDLen), bucketID, id, ts))
}

func appendFileID(dst []byte, bucketID string, id uint64, ts int64) []byte {
	dst = append(dst, "4_z"...)
	dst = append(dst, bucketID...)
	dst = append(dst, "_f1"...)
	var h [16]byte
	hex := strconv.AppendUint(h[:0], id, 16)
	for i := len(hex); i < 15; i++ {
		dst = append(dst, '0')
	}
	dst = append(dst, hex...)
	t := time.UnixMilli(ts).UTC()
	if t.Year() < 1970 || t.Year() > 9999 {
		t = time.Unix(0, 0).UTC() // keep the fixed width
	}
	dst = t.AppendFormat(append(dst, "_d"...), "20060102")
	dst = t.AppendFormat(append(dst, "_m"...), "150405")
	dst = append(dst, "_c005_v0001000_t"...)
	return appendDigits(dst, id%10000, 4)
}

func appendDigits(dst []byte, n uint64, width int) []byte {
	var d [20]byte
	s := strconv.AppendUint(d[:0], n, 10)
	for i := len(s); i < width; i++ {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}

// parseFileID splits a file id into bucket id and internal id; ok is false
// unless s has the shape fileIDString makes.
func parseFileID(s string) (bucketID string, id uint64, ok bool) {
	if len(s) != fileIDLen || !strings.HasPrefix(s, "4_z") || s[27:30] != "_f1" ||
		s[45:47] != "_d" || s[55:57] != "_m" || s[63:65] != "_c" || s[68:70] != "_v" || s[77:79] != "_t" {
		return "", 0, false
	}
	for _, r := range [][2]int{{47, 55}, {57, 63}, {65, 68}, {70, 77}, {79, 83}} {
		for i := r[0]; i < r[1]; i++ {
			if s[i] < '0' || s[i] > '9' {
				return "", 0, false
			}
		}
	}
	n, err := strconv.ParseUint(s[30:45], 16, 64)
	if err != nil || n == 0 {
		return "", 0, false
	}
	return s[3:27], n, true
}

// accountOfKey is the account owning application key id (the default
// account for an unknown or empty id).
func (st *store) accountOfKey(id string) string {
	st.mu.RLock()
	defer st.mu.RUnlock()
	if k := st.keys[id]; k != nil {
		return k.Account
	}
	return st.accountID
}

// bucketAccount is the account owning bucket id ("" when there is none).
func (st *store) bucketAccount(id string) string {
	st.mu.RLock()
	defer st.mu.RUnlock()
	if b := st.buckets[id]; b != nil {
		return b.Account
	}
	return ""
}

func randHex(nbytes int) string {
	b := make([]byte, nbytes)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newBucketID() string { return randHex(12) }

func newKeyID(accountID string) string { return "005" + randHex(11) }

// ---- versions ----

func (b *bucket) entry(name string) *nameEntry {
	e, _ := b.files.Get(&nameEntry{name: name})
	return e
}

// insertVersion adds v under name keeping newest-first order.
func (b *bucket) insertVersion(name string, v *version) *nameEntry {
	e := b.entry(name)
	if e == nil {
		e = &nameEntry{name: name}
		b.files.ReplaceOrInsert(e)
	}
	i := 0
	for i < len(e.vs) && newer(e.vs[i], v) {
		i++
	}
	e.vs = append(e.vs, nil)
	copy(e.vs[i+1:], e.vs[i:])
	e.vs[i] = v
	b.byID[v.id] = e
	b.count++
	return e
}

func newer(a, b *version) bool {
	if a.ts != b.ts {
		return a.ts > b.ts
	}
	return a.id > b.id
}

// removeVersion unlinks v; it returns false when v is not in e.
func (b *bucket) removeVersion(e *nameEntry, v *version) bool {
	for i, x := range e.vs {
		if x == v {
			copy(e.vs[i:], e.vs[i+1:])
			e.vs[len(e.vs)-1] = nil
			e.vs = e.vs[:len(e.vs)-1]
			delete(b.byID, v.id)
			b.count--
			if len(e.vs) == 0 {
				b.files.Delete(e)
			}
			return true
		}
	}
	return false
}

// find returns the version with the given id in this bucket.
func (b *bucket) find(id uint64) (*nameEntry, *version) {
	e := b.byID[id]
	if e == nil {
		return nil, nil
	}
	for _, v := range e.vs {
		if v.id == id {
			return e, v
		}
	}
	return nil, nil
}

// current is the newest non-"start" version (what list_file_names and
// download-by-name see); nil or a hide marker means invisible.
func (e *nameEntry) current() *version {
	for _, v := range e.vs {
		if v.kind != kindStart {
			return v
		}
	}
	return nil
}

func (st *store) allocID() uint64 {
	id := st.nextID
	st.nextID++
	return id
}

// ---- blobs ----

func pinSegs(segs []seg) {
	for _, s := range segs {
		s.b.refs.Add(1)
	}
}

func (st *store) unpinSegs(segs []seg) {
	for _, s := range segs {
		if s.b.refs.Add(-1) == 0 && st.p != nil {
			st.p.removeBlobLater(s.b.name)
		}
	}
}

// subSegs returns the segments covering [off, off+n) of segs. Segment
// slices are never modified in place, so a range covering all of segs
// returns segs itself (copies share it: one object less per version).
func subSegs(segs []seg, off, n int64) []seg {
	if off == 0 && wholeSegs(segs, n) {
		return segs
	}
	var out []seg
	for _, s := range segs {
		if n <= 0 {
			break
		}
		if off >= s.n {
			off -= s.n
			continue
		}
		take := s.n - off
		if take > n {
			take = n
		}
		out = append(out, seg{b: s.b, off: s.off + off, n: take})
		n -= take
		off = 0
	}
	return out
}

// wholeSegs reports whether segs, all non-empty, add up to exactly n bytes.
func wholeSegs(segs []seg, n int64) bool {
	var total int64
	for _, s := range segs {
		if s.n <= 0 {
			return false
		}
		total += s.n
	}
	return total == n && len(segs) > 0
}

// ---- listing ----

// successor returns the smallest string greater than every string that
// starts with p ("" when there is none).
func successor(p string) string {
	b := []byte(p)
	for len(b) > 0 {
		if b[len(b)-1] < 0xff {
			b[len(b)-1]++
			return string(b)
		}
		b = b[:len(b)-1]
	}
	return ""
}

// walkNames implements b2_list_file_names over one bucket: emit is called
// for up to max entries in order (v nil for a folder). It returns the next start
// name ("" when done).
func (b *bucket) walkNames(start, prefix, delim string, max int, emit func(name string, v *version)) string {
	if start < prefix {
		start = prefix
	}
	n := 0
	lastName, lastFolder := "", false
	next := ""
	pivot := &nameEntry{name: start}
	for {
		restart := ""
		b.files.AscendGreaterOrEqual(pivot, func(e *nameEntry) bool {
			if !strings.HasPrefix(e.name, prefix) {
				return e.name < prefix
			}
			if folder := folderOf(e.name, prefix, delim); folder != "" {
				if !b.folderVisible(folder, e) {
					restart = successor(folder)
					return false
				}
				if n == max {
					next = pageNextName(lastName, lastFolder)
					return false
				}
				emit(folder, nil)
				n++
				lastName, lastFolder = folder, true
				restart = successor(folder)
				return false
			}
			cur := e.current()
			if cur == nil || cur.kind == kindHide {
				return true
			}
			if n == max {
				next = pageNextName(lastName, lastFolder)
				return false
			}
			emit(e.name, cur)
			n++
			lastName, lastFolder = e.name, false
			return true
		})
		if restart == "" {
			return next
		}
		pivot.name = restart
	}
}

// pageNextName is the start name of the page after one ending with name.
func pageNextName(name string, folder bool) string {
	if folder {
		return successor(name)
	}
	return name + " "
}

// folderVisible reports whether any name under folder (starting at e) has a
// visible version; folders made only of hidden names are not listed.
func (b *bucket) folderVisible(folder string, first *nameEntry) bool {
	found := false
	b.files.AscendGreaterOrEqual(first, func(e *nameEntry) bool {
		if !strings.HasPrefix(e.name, folder) {
			return false
		}
		if c := e.current(); c != nil && c.kind != kindHide {
			found = true
			return false
		}
		return true
	})
	return found
}

// walkVersions implements b2_list_file_versions: emit is called for up to
// max entries in order (v nil for a folder). startID (0 = none) only
// applies to the startName entry. It returns the next (name, id) pair;
// nextName "" means done, nextID 0 with a name means a folder.
func (b *bucket) walkVersions(start string, startID uint64, prefix, delim string, max int, emit func(name string, v *version)) (string, uint64) {
	if start < prefix {
		start, startID = prefix, 0
	}
	n := 0
	nextName, nextID := "", uint64(0)
	pivot := &nameEntry{name: start}
	first := true
	for {
		restart := ""
		full := false
		b.files.AscendGreaterOrEqual(pivot, func(e *nameEntry) bool {
			if !strings.HasPrefix(e.name, prefix) {
				return e.name < prefix
			}
			if folder := folderOf(e.name, prefix, delim); folder != "" {
				if n == max {
					nextName, full = folder, true
					return false
				}
				emit(folder, nil)
				n++
				restart = successor(folder)
				return false
			}
			vs := e.vs
			if first && startID != 0 && e.name == start {
				var sv *version
				for _, v := range vs {
					if v.id == startID {
						sv = v
					}
				}
				i := 0
				for i < len(vs) {
					if sv != nil && vs[i] == sv {
						break
					}
					if sv == nil && vs[i].id < startID {
						break
					}
					i++
				}
				vs = vs[i:]
			}
			first = false
			for _, v := range vs {
				if n == max {
					nextName, nextID, full = e.name, v.id, true
					return false
				}
				emit(e.name, v)
				n++
			}
			return true
		})
		first = false
		if full || restart == "" {
			return nextName, nextID
		}
		pivot.name = restart
	}
}

// ---- capabilities ----

var allCapabilities = []string{
	"listKeys", "writeKeys", "deleteKeys", "listBuckets", "listAllBucketNames", "readBuckets",
	"writeBuckets", "deleteBuckets", "readBucketRetentions", "writeBucketRetentions",
	"readBucketEncryption", "writeBucketEncryption", "readBucketReplications",
	"writeBucketReplications", "readBucketNotifications", "writeBucketNotifications",
	"listFiles", "readFiles", "shareFiles", "writeFiles", "deleteFiles", "readFileLegalHolds",
	"writeFileLegalHolds", "readFileRetentions", "writeFileRetentions", "bypassGovernance",
	"readBucketLogging", "writeBucketLogging", "readBucketLifecycleRules", "writeBucketLifecycleRules",
}

var bucketLegalCaps = capSet([]string{
	"listAllBucketNames", "listBuckets", "readBuckets", "readBucketEncryption", "writeBucketEncryption",
	"readBucketRetentions", "writeBucketRetentions", "readBucketNotifications", "writeBucketNotifications",
	"listFiles", "readFiles", "shareFiles", "writeFiles", "deleteFiles", "readFileLegalHolds",
	"writeFileLegalHolds", "readFileRetentions", "writeFileRetentions", "bypassGovernance",
	"readBucketReplications", "writeBucketReplications", "readBucketLogging", "readBucketLifecycleRules",
	"writeBucketLifecycleRules",
})

var knownCaps = capSet(allCapabilities)

func capSet(caps []string) map[string]bool {
	m := make(map[string]bool, len(caps))
	for _, c := range caps {
		m[c] = true
	}
	return m
}

// folderOf is the folder a listing under prefix rolls name up into at delim
// (its name up to and including the first delim after prefix), or "".
func folderOf(name, prefix, delim string) string {
	if delim == "" {
		return ""
	}
	if i := strings.Index(name[len(prefix):], delim); i >= 0 {
		return name[:len(prefix)+i+len(delim)]
	}
	return ""
}
