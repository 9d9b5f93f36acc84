package emulator

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Persistence: bbolt holds the metadata, content lives in files under
// DIR/blobs written temp+fsync+rename before the metadata that references
// them is committed. Mutations are applied to memory under store.mu and
// appended, in that same order, to a journal; one writer goroutine commits
// everything pending in a single bbolt transaction (group commit) and wakes
// the callers, which answer only after their mutation is durable. Blob files
// whose last reference disappeared are removed after the commit that dropped
// them; anything left over after a crash is removed at open.

var (
	bktMeta     = []byte("meta")
	bktBuckets  = []byte("buckets")
	bktKeys     = []byte("keys")
	bktVersions = []byte("versions")
	bktParts    = []byte("parts")
)

type dbOp struct {
	bkt []byte
	key []byte
	val []byte // nil = delete
}

type persister struct {
	dir string
	db  *bolt.DB

	mu      sync.Mutex
	cond    *sync.Cond
	pending []*jentry // journaled, not yet taken by the writer
	removes []string  // content files nothing refers to any more
	closing bool
	done    bool // the writer has exited: nothing is committed any more
	stopped chan struct{}
	st      *store
	// seal encrypts application-key secrets at rest, so that no file of the
	// state directory holds a secret in clear (the key is in secrets.key,
	// mode 0600). The emulator needs the secrets themselves for SigV4.
	seal cipher.AEAD
	// fault, when set (tests), is asked before each write of the state
	// directory ("commit" inside the bbolt transaction, "blob" for content)
	// and its error makes that write fail, as a full disk would.
	fault atomic.Pointer[func(stage string) error]
}

func openPersister(dir string, st *store) (*persister, error) {
	for _, d := range []string{dir, filepath.Join(dir, "blobs"), filepath.Join(dir, "tmp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("emulator: state directory: %w", err)
		}
	}
	db, err := bolt.Open(filepath.Join(dir, "b2local.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("emulator: state directory %s is in use by another process", dir)
		}
		return nil, fmt.Errorf("emulator: open state: %w", err)
	}
	seal, err := openSealKey(filepath.Join(dir, "secrets.key"))
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("emulator: state directory: %w", err)
	}
	p := &persister{dir: dir, db: db, stopped: make(chan struct{}), st: st, seal: seal}
	p.cond = sync.NewCond(&p.mu)
	if err := ensureTables(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("emulator: open state: %w", err)
	}
	if err := p.load(st); err != nil {
		db.Close()
		return nil, fmt.Errorf("emulator: load state from %s: %w", dir, err)
	}
	go p.writer()
	return p, nil
}

var tables = [][]byte{bktMeta, bktBuckets, bktKeys, bktVersions, bktParts, bktExt}

// ensureTables creates the bbolt buckets of a new state. A state that has
// them is opened without writing, so that it opens on a full disk.
func ensureTables(db *bolt.DB) error {
	missing := false
	_ = db.View(func(tx *bolt.Tx) error {
		for _, b := range tables {
			missing = missing || tx.Bucket(b) == nil
		}
		return nil
	})
	if !missing {
		return nil
	}
	return db.Update(func(tx *bolt.Tx) error {
		for _, b := range tables {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
}

// injected returns the test fault for stage, if any.
func (p *persister) injected(stage string) error {
	if f := p.fault.Load(); f != nil {
		return (*f)(stage)
	}
	return nil
}

// append queues a change; call with store.mu held so journal order = memory order.
func (p *persister) append(e *jentry) {
	p.mu.Lock()
	if p.done {
		// closed under a request still in flight: refuse (its change is
		// in memory only, which is about to go away)
		e.finished, e.err = true, errors.New("the state is closed")
		p.mu.Unlock()
		return
	}
	p.pending = append(p.pending, e)
	p.cond.Broadcast()
	p.mu.Unlock()
}

// wait blocks until e is committed or undone (store.mu not held).
func (p *persister) wait(e *jentry) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for !e.finished {
		p.cond.Wait()
	}
	if e.err != nil {
		return errStorage(e.err)
	}
	return nil
}

func (p *persister) removeBlobLater(name string) {
	p.mu.Lock()
	p.removes = append(p.removes, name)
	p.cond.Broadcast()
	p.mu.Unlock()
}

// writer commits everything pending in one bbolt transaction (group commit),
// then wakes the callers and releases the content the changes let go of. A
// failed commit undoes the batch and everything journaled after it.
func (p *persister) writer() {
	defer close(p.stopped)
	p.mu.Lock()
	for {
		for len(p.pending) == 0 && len(p.removes) == 0 && !p.closing {
			p.cond.Wait()
		}
		if len(p.pending) == 0 && len(p.removes) == 0 && p.closing {
			p.done = true
			p.mu.Unlock()
			return
		}
		batch, rm := p.pending, p.removes
		p.pending, p.removes = nil, nil
		p.mu.Unlock()
		p.removeBlobs(rm)
		if len(batch) > 0 {
			if err := p.commit(batch); err != nil {
				p.undo(batch, err)
			} else {
				p.mu.Lock()
				for _, e := range batch {
					e.finished = true
				}
				p.cond.Broadcast()
				p.mu.Unlock()
				for _, e := range batch {
					for _, s := range e.release {
						p.st.unpinSegs(s)
					}
				}
				p.st.logStorage(nil)
			}
		}
		p.mu.Lock()
	}
}

func (p *persister) commit(batch []*jentry) error {
	nextID := p.st.peekNextID()
	err := p.db.Update(func(tx *bolt.Tx) error {
		for _, e := range batch {
			for _, op := range e.ops {
				b := tx.Bucket(op.bkt)
				var err error
				if op.val == nil {
					err = b.Delete(op.key)
				} else {
					err = b.Put(op.key, op.val)
				}
				if err != nil {
					return err
				}
			}
		}
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], nextID)
		if err := tx.Bucket(bktMeta).Put([]byte("nextID"), n[:]); err != nil {
			return err
		}
		return p.injected("commit")
	})
	if err != nil {
		return fmt.Errorf("commit state: %w", err)
	}
	return nil
}

// undo takes back, newest first, the failed batch and every change
// journaled after it, so memory is the committed state again, and fails
// their callers.
func (p *persister) undo(batch []*jentry, err error) {
	p.st.mu.Lock()
	p.mu.Lock()
	all := append(batch, p.pending...)
	p.pending = nil
	p.mu.Unlock()
	for i := len(all) - 1; i >= 0; i-- {
		u := all[i].undo
		for j := len(u) - 1; j >= 0; j-- {
			u[j]()
		}
	}
	p.mu.Lock()
	for _, e := range all {
		e.finished, e.err = true, err
	}
	p.cond.Broadcast()
	p.mu.Unlock()
	p.st.mu.Unlock()
	p.st.logStorage(err)
}

func (p *persister) removeBlobs(names []string) {
	for _, n := range names {
		_ = os.Remove(filepath.Join(p.dir, "blobs", n))
	}
}

func (p *persister) close() error {
	p.mu.Lock()
	p.closing = true
	p.cond.Broadcast()
	p.mu.Unlock()
	<-p.stopped
	return p.db.Close()
}

func (st *store) peekNextID() uint64 {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return st.nextID
}

// ---- content ----

// blobWriter receives an upload body: memory in memory mode, a temp file on disk.
type blobWriter struct {
	st   *store
	f    *os.File
	tmp  string
	mem  []byte
	n    int64
	sha  hash.Hash
	md   hash.Hash
	tail []byte // last 40 bytes seen (hex_digits_at_end)
	want int64  // claimed size (memory mode)
}

func (st *store) newBlobWriter(size int64) (*blobWriter, error) {
	w := &blobWriter{st: st, sha: sha1.New(), md: md5.New()}
	if st.p == nil {
		w.want = size // memory grows as bytes arrive, never ahead of them
		return w, nil
	}
	f, err := os.CreateTemp(filepath.Join(st.p.dir, "tmp"), "up-*")
	if err != nil {
		return nil, &diskError{err}
	}
	w.f, w.tmp = f, f.Name()
	return w, nil
}

// Write stores upload bytes; its errors are diskErrors (the state
// directory failed, not the client).
func (w *blobWriter) Write(b []byte) (int, error) {
	w.n += int64(len(b))
	if w.f != nil {
		if err := w.st.p.injected("blob"); err != nil {
			return 0, &diskError{err}
		}
		n, err := w.f.Write(b)
		if err != nil {
			err = &diskError{err}
		}
		return n, err
	}
	if need := len(w.mem) + len(b); need > cap(w.mem) {
		// Double, but not past the claimed size: a 10-byte body claiming
		// 5 GB holds 10 bytes.
		c := max(need, 2*cap(w.mem), 64<<10)
		if int64(need) <= w.want {
			c = int(min(int64(c), w.want))
		}
		w.mem = append(make([]byte, 0, c), w.mem...)
	}
	w.mem = append(w.mem, b...)
	return len(b), nil
}

// finish writes the content durably and returns the blob; limit is the
// number of content bytes (the rest, if any, was a trailing SHA-1). Its
// errors are diskErrors.
func (w *blobWriter) finish(limit int64) (*blob, error) {
	b := &blob{size: limit}
	if w.f == nil {
		b.data = w.mem[:limit:limit]
		return b, nil
	}
	fail := func(err error) (*blob, error) {
		w.abort()
		return nil, &diskError{err}
	}
	if err := w.f.Truncate(limit); err != nil {
		return fail(err)
	}
	if err := w.f.Sync(); err != nil {
		return fail(err)
	}
	if err := w.st.p.injected("blob"); err != nil {
		return fail(err)
	}
	if err := w.f.Close(); err != nil {
		_ = os.Remove(w.tmp)
		return nil, &diskError{err}
	}
	b.name = randHex(12)
	dst := filepath.Join(w.st.p.dir, "blobs", b.name)
	if err := os.Rename(w.tmp, dst); err != nil {
		_ = os.Remove(w.tmp)
		return nil, &diskError{err}
	}
	if d, err := os.Open(filepath.Join(w.st.p.dir, "blobs")); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return b, nil
}

func (w *blobWriter) abort() {
	if w.f != nil {
		w.f.Close()
		_ = os.Remove(w.tmp)
	}
}

// discardBlob removes a blob that never got referenced.
func (st *store) discardBlob(b *blob) {
	if st.p != nil && b != nil && b.name != "" {
		_ = os.Remove(filepath.Join(st.p.dir, "blobs", b.name))
	}
}

// writeSegs copies the byte range [off, off+n) of segs to w.
func (st *store) writeSegs(w io.Writer, segs []seg, off, n int64) error {
	for _, s := range subSegs(segs, off, n) {
		if s.b.data != nil || st.p == nil {
			if _, err := w.Write(s.b.data[s.off : s.off+s.n]); err != nil {
				return err
			}
			continue
		}
		f, err := os.Open(filepath.Join(st.p.dir, "blobs", s.b.name))
		if err != nil {
			return err
		}
		_, err = io.Copy(w, io.NewSectionReader(f, s.off, s.n))
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// ---- records ----

type segRec struct {
	B   string `json:"b"`
	Off int64  `json:"o,omitempty"`
	N   int64  `json:"n"`
}

type versionRec struct {
	Bucket  string      `json:"bk"`
	Name    string      `json:"nm"`
	ID      uint64      `json:"id"`
	TS      int64       `json:"ts"`
	Size    int64       `json:"sz"`
	Until   int64       `json:"ru,omitempty"`
	SHA1    string      `json:"s1,omitempty"`
	MD5     string      `json:"m5,omitempty"`
	Kind    uint8       `json:"k"`
	Flags   uint8       `json:"f,omitempty"`
	Hold    uint8       `json:"h,omitempty"`
	RetMode uint8       `json:"rm,omitempty"`
	CT      string      `json:"ct,omitempty"`
	Info    [][2]string `json:"in,omitempty"`
	Segs    []segRec    `json:"sg,omitempty"`
	SSE     bool        `json:"sse,omitempty"` // large file started with SSE
	Repl    uint8       `json:"rp,omitempty"`  // replication status
}

type partRec struct {
	Size int64    `json:"sz"`
	TS   int64    `json:"ts"`
	SHA1 string   `json:"s1"`
	MD5  string   `json:"m5,omitempty"`
	Segs []segRec `json:"sg,omitempty"`
}

type bucketRec struct {
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	Type      string            `json:"type"`
	Info      map[string]string `json:"info,omitempty"`
	CORS      []corsRule        `json:"cors,omitempty"`
	Lifecycle []lifecycleRule   `json:"lifecycle,omitempty"`
	Revision  int64             `json:"revision"`
	Lock      bool              `json:"lock,omitempty"`
	RetMode   string            `json:"retMode,omitempty"`
	RetPeriod int64             `json:"retPeriod,omitempty"`
	RetUnit   string            `json:"retUnit,omitempty"`
	SSE       bool              `json:"sse,omitempty"`
	Options   []string          `json:"options,omitempty"`
	Account   string            `json:"account,omitempty"` // "" = the default account
}

type keyRec struct {
	ID string `json:"id"`
	// Sealed is the secret encrypted with the state's secrets.key (nonce
	// followed by AES-GCM ciphertext).
	Sealed     []byte   `json:"sealed"`
	Name       string   `json:"name"`
	Caps       []string `json:"caps"`
	BucketIDs  []string `json:"bucketIds,omitempty"`
	NamePrefix *string  `json:"namePrefix,omitempty"`
	Expires    int64    `json:"expires,omitempty"`
	Created    int64    `json:"created,omitempty"`
	Account    string   `json:"account,omitempty"` // "" = the default account
}

func u64key(n uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return b[:]
}

func partKey(id uint64, n int) []byte {
	b := make([]byte, 12)
	binary.BigEndian.PutUint64(b, id)
	binary.BigEndian.PutUint32(b[8:], uint32(n))
	return b
}

func segsRec(segs []seg) []segRec {
	out := make([]segRec, len(segs))
	for i, s := range segs {
		out[i] = segRec{B: s.b.name, Off: s.off, N: s.n}
	}
	return out
}

func (st *store) opVersion(b *bucket, name string, v *version, sse bool) dbOp {
	if st.p == nil {
		return dbOp{}
	}
	r := versionRec{Bucket: b.ID, Name: name, ID: v.id, TS: v.ts, Size: v.size, Until: v.retainUntil,
		Kind: v.kind, Flags: v.flags, Hold: v.hold, RetMode: v.retMode, CT: v.ctype, Segs: segsRec(v.segs), SSE: sse, Repl: v.repl}
	if v.flags&fSHA1 != 0 {
		r.SHA1 = hex.EncodeToString(v.sha1[:])
	}
	if v.flags&fMD5 != 0 {
		r.MD5 = hex.EncodeToString(v.md5[:])
	}
	for _, x := range v.info {
		r.Info = append(r.Info, [2]string{x.k, x.v})
	}
	val, _ := json.Marshal(r)
	return dbOp{bkt: bktVersions, key: u64key(v.id), val: val}
}

func opDelVersion(id uint64) dbOp { return dbOp{bkt: bktVersions, key: u64key(id)} }

func opPart(id uint64, pt *part) dbOp {
	r := partRec{Size: pt.size, TS: pt.ts, SHA1: hex.EncodeToString(pt.sha1[:]), MD5: hex.EncodeToString(pt.md5[:]), Segs: segsRec(pt.segs)}
	val, _ := json.Marshal(r)
	return dbOp{bkt: bktParts, key: partKey(id, pt.n), val: val}
}

func opDelPart(id uint64, n int) dbOp { return dbOp{bkt: bktParts, key: partKey(id, n)} }

func opBucket(b *bucket) dbOp {
	r := bucketRec{ID: b.ID, Name: b.Name, Type: b.Type, Info: b.Info, CORS: b.CORS, Lifecycle: b.Lifecycle,
		Revision: b.Revision, Lock: b.Lock, RetMode: b.Retention.Mode, RetPeriod: b.Retention.Period,
		RetUnit: b.Retention.Unit, SSE: b.SSE, Options: b.Options, Account: b.Account}
	val, _ := json.Marshal(r)
	return dbOp{bkt: bktBuckets, key: []byte(b.ID), val: val}
}

func opDelBucket(id string) dbOp { return dbOp{bkt: bktBuckets, key: []byte(id)} }

func (p *persister) opKey(k *appKey) dbOp {
	r := keyRec{ID: k.ID, Sealed: p.sealSecret(k.ID, k.Secret), Name: k.Name, Caps: k.Caps, BucketIDs: k.BucketIDs,
		NamePrefix: k.NamePrefix, Expires: k.Expires, Created: k.Created, Account: k.Account}
	val, _ := json.Marshal(r)
	return dbOp{bkt: bktKeys, key: []byte(k.ID), val: val}
}

func opDelKey(id string) dbOp { return dbOp{bkt: bktKeys, key: []byte(id)} }

// load rebuilds the in-memory state and removes orphaned content files.
func (p *persister) load(st *store) error {
	blobs := map[string]*blob{}
	getBlob := func(name string) (*blob, error) {
		if b := blobs[name]; b != nil {
			return b, nil
		}
		fi, err := os.Stat(filepath.Join(p.dir, "blobs", name))
		if err != nil {
			return nil, fmt.Errorf("content file %s: %w", name, err)
		}
		b := &blob{name: name, size: fi.Size()}
		blobs[name] = b
		return b, nil
	}
	toSegs := func(rs []segRec) ([]seg, error) {
		out := make([]seg, 0, len(rs))
		for _, r := range rs {
			b, err := getBlob(r.B)
			if err != nil {
				return nil, err
			}
			b.refs.Add(1)
			out = append(out, seg{b: b, off: r.Off, n: r.N})
		}
		return out, nil
	}
	err := p.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bktMeta).Get([]byte("nextID")); len(v) == 8 {
			st.nextID = binary.BigEndian.Uint64(v)
		}
		if err := tx.Bucket(bktKeys).ForEach(func(_, v []byte) error {
			var r keyRec
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			if k := st.keys[r.ID]; k != nil && k.master {
				return nil
			}
			secret, err := p.openSecret(r.ID, r.Sealed)
			if err != nil {
				return err
			}
			k := &appKey{ID: r.ID, Secret: secret, Name: r.Name, Caps: r.Caps, BucketIDs: r.BucketIDs,
				NamePrefix: r.NamePrefix, Expires: r.Expires, Created: r.Created, Account: r.Account}
			if k.Account == "" {
				k.Account = st.accountID
			}
			k.capSet = capSet(k.Caps)
			st.keys[k.ID] = k
			return nil
		}); err != nil {
			return err
		}
		if err := tx.Bucket(bktBuckets).ForEach(func(_, v []byte) error {
			var r bucketRec
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			b := &bucket{ID: r.ID, Name: r.Name, Type: r.Type, Info: r.Info, CORS: r.CORS, Lifecycle: r.Lifecycle,
				Revision: r.Revision, Lock: r.Lock, Retention: defaultRetention{Mode: r.RetMode, Period: r.RetPeriod, Unit: r.RetUnit},
				SSE: r.SSE, Options: r.Options, Account: r.Account}
			if b.Account == "" {
				b.Account = st.accountID
			}
			newBucketState(b)
			st.buckets[b.ID] = b
			st.bucketNames[lower(b.Name)] = b
			return nil
		}); err != nil {
			return err
		}
		if err := p.loadExt(tx, st); err != nil {
			return err
		}
		p.loadClock(tx, st)
		if err := tx.Bucket(bktVersions).ForEach(func(_, val []byte) error {
			var r versionRec
			if err := json.Unmarshal(val, &r); err != nil {
				return err
			}
			b := st.buckets[r.Bucket]
			if b == nil {
				return fmt.Errorf("version %d refers to unknown bucket %s", r.ID, r.Bucket)
			}
			v := &version{id: r.ID, ts: r.TS, size: r.Size, retainUntil: r.Until, kind: r.Kind, flags: r.Flags,
				hold: r.Hold, retMode: r.RetMode, repl: r.Repl, ctype: st.intern(r.CT)}
			if r.SHA1 != "" {
				hex.Decode(v.sha1[:], []byte(r.SHA1))
			}
			if r.MD5 != "" {
				hex.Decode(v.md5[:], []byte(r.MD5))
			}
			for _, x := range r.Info {
				v.info = append(v.info, kv{x[0], x[1]})
			}
			segs, err := toSegs(r.Segs)
			if err != nil {
				return err
			}
			v.segs = segs
			e := b.insertVersion(r.Name, v)
			if v.ts > b.lastTS {
				b.lastTS = v.ts
			}
			if v.id >= st.nextID {
				st.nextID = v.id + 1
			}
			if v.kind == kindStart {
				st.large[v.id] = &largeFile{b: b, e: e, v: v, sse: r.SSE, parts: map[int]*part{}}
			}
			return nil
		}); err != nil {
			return err
		}
		return tx.Bucket(bktParts).ForEach(func(k, val []byte) error {
			if len(k) != 12 {
				return nil
			}
			id := binary.BigEndian.Uint64(k)
			n := int(binary.BigEndian.Uint32(k[8:]))
			lf := st.large[id]
			if lf == nil {
				return nil // stale part of a finished/cancelled file; harmless
			}
			var r partRec
			if err := json.Unmarshal(val, &r); err != nil {
				return err
			}
			pt := &part{n: n, size: r.Size, ts: r.TS}
			hex.Decode(pt.sha1[:], []byte(r.SHA1))
			hex.Decode(pt.md5[:], []byte(r.MD5))
			segs, err := toSegs(r.Segs)
			if err != nil {
				return err
			}
			pt.segs = segs
			lf.parts[n] = pt
			return nil
		})
	})
	if err != nil {
		return err
	}
	// Orphans: content files nothing refers to, and temp files.
	ents, _ := os.ReadDir(filepath.Join(p.dir, "blobs"))
	for _, e := range ents {
		if b := blobs[e.Name()]; b == nil || b.refs.Load() == 0 {
			_ = os.Remove(filepath.Join(p.dir, "blobs", e.Name()))
		}
	}
	tmps, _ := os.ReadDir(filepath.Join(p.dir, "tmp"))
	for _, e := range tmps {
		_ = os.Remove(filepath.Join(p.dir, "tmp", e.Name()))
	}
	return nil
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// openSealKey reads the 32-byte AES key at path, creating it (mode 0600)
// when the state directory is new.
func openSealKey(path string) (cipher.AEAD, error) {
	key, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		if err := writeFileAtomic(path, key, 0o600); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("%s: want a 32-byte key, found %d bytes", path, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// sealSecret encrypts a key's secret, bound to its key id.
func (p *persister) sealSecret(id, secret string) []byte {
	nonce := make([]byte, p.seal.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return p.seal.Seal(nonce, nonce, []byte(secret), []byte(id))
}

func (p *persister) openSecret(id string, sealed []byte) (string, error) {
	n := p.seal.NonceSize()
	if len(sealed) < n {
		return "", fmt.Errorf("key %s: sealed secret too short", id)
	}
	plain, err := p.seal.Open(nil, sealed[:n], sealed[n:], []byte(id))
	if err != nil {
		return "", fmt.Errorf("key %s: cannot decrypt its secret with secrets.key: %w", id, err)
	}
	return string(plain), nil
}

// writeFileAtomic writes data to path through a synced temp file and rename.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
