package planner

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"strings"

	"github.com/b2plan/b2plan/live"
)

// Chunked moves (docs/moves.md, "Memory and chunked plans"). A move whose
// source and destination hold more than Options.MoveChunkThreshold versions
// is planned in chunks of consecutive names, each listed, expanded
// (expandMove), counted and dropped: memory stays bounded whatever the
// number of objects. The plan keeps per chunk its name range, counts and
// digests, not per-object operations; apply lists each chunk again,
// expands it under the same policy and compares the digests.

// Defaults of the chunked planning of moves.
const (
	// DefaultMoveChunk is the number of versions (source and destination)
	// of one chunk.
	DefaultMoveChunk = 10_000
	// DefaultMoveChunkThreshold: moves with more versions are chunked.
	DefaultMoveChunkThreshold = 50_000
	// MaxListed bounds the lists of a chunked move that grow with its size
	// (conflicts, locked, unprotected, hidden): the first MaxListed are kept,
	// with the exact total.
	MaxListed = 1000
	// sampleKept is the number of sample lines a chunked move keeps.
	sampleKept = 20
)

// Pager returns the versions of one listing a page at a time (name
// ascending, newest first within a name); io.EOF after the last page.
type Pager interface {
	Next(ctx context.Context) ([]live.Version, error)
}

// RangeLister lists the versions of (bucket, prefix) with names in
// [start, end) ("" = the end of the prefix). The planner and the executor
// stay free of the client: command/ passes b2client's VersionPager.
type RangeLister func(bucket, bucketID, prefix, start, end string) Pager

// Chunk is one range of a chunked move: the source names From+Lo up to
// From+Hi (excluded; Hi "" = to the end of the prefix), and the
// destination names To+Lo up to To+Hi. No name's versions are split
// between chunks.
type Chunk struct {
	Lo string `json:"lo"`
	Hi string `json:"hi,omitempty"`
	// Names and Versions count the source names and versions listed;
	// Objects the names with operations, Bytes the bytes they copy.
	Names    int   `json:"names"`
	Versions int   `json:"versions"`
	Objects  int   `json:"objects"`
	Bytes    int64 `json:"bytes"`
	// Remaining counts the names the chunk leaves under the source
	// (Move.Remaining).
	Remaining int `json:"remaining,omitempty"`
	// Newest is the upload time of the newest source version (B2's clock):
	// apply tells versions added since the plan by it.
	Newest int64 `json:"newest,omitempty"`
	// Digest is the SHA-256 of every source version of the range (name,
	// file id, size, SHA-1 or none, action), DestDigest the same of the
	// destination range: apply compares them with its own listing.
	Digest     string `json:"digest"`
	DestDigest string `json:"dest_digest"`
}

// Chunked reports whether the move is planned in chunks (no per-object
// operations in the plan).
func (m *Move) Chunked() bool { return m.Chunks != nil }

// HasOps reports whether the move has object operations.
func (m *Move) HasOps() bool { return len(m.Ops) > 0 || (m.Chunked() && m.Objects > 0) }

// Digest is the digest of a chunk's versions (Chunk.Digest): every version
// but unfinished large files, in listing order.
func Digest(vs []live.Version) string {
	h := sha256.New()
	var b [8]byte
	for i := range vs {
		v := &vs[i]
		if v.Action == live.ActionStart || v.Action == live.ActionFolder {
			continue
		}
		h.Write([]byte(v.Name))
		h.Write([]byte{0})
		h.Write([]byte(v.ID))
		h.Write([]byte{0})
		binary.BigEndian.PutUint64(b[:], uint64(v.Size))
		h.Write(b[:])
		if v.HasSHA1() {
			h.Write([]byte{1})
			h.Write(v.SHA1[:])
		} else {
			h.Write([]byte{0})
		}
		h.Write([]byte{byte(v.Action), byte(v.Retention), byte(v.LegalHold)})
		// Object Lock decides whether a name moves: a hold removed or a retention
		// changed since the plan changes the chunk.
		binary.BigEndian.PutUint64(b[:], uint64(v.RetainUntil))
		h.Write(b[:])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// overlapping reports whether the move's prefixes nest in one bucket (one
// is under the other): such moves are planned whole, as before.
func (m *Move) overlapping() bool {
	return strings.EqualFold(m.Bucket, m.ToBucket) && (strings.HasPrefix(m.To, m.From) || strings.HasPrefix(m.From, m.To))
}

// chunkTemplate returns a move with m's declaration and none of its results,
// to expand one chunk into.
func (m *Move) chunkTemplate() *Move {
	return &Move{Address: m.Address, Provider: m.Provider, Name: m.Name, Index: m.Index, HasIndex: m.HasIndex,
		Bucket: m.Bucket, BucketID: m.BucketID, ToBucket: m.ToBucket, ToBucketID: m.ToBucketID,
		From: m.From, To: m.To, Versions: m.Versions, Source: m.Source, OnConflict: m.OnConflict, Verify: m.Verify,
		DestObjectLock: m.DestObjectLock, LockPossible: m.LockPossible}
}

// ExpandChunk expands one chunk of a chunked move from its listings (src:
// the source versions in the chunk's range, dst: the destination's) under
// the move's policy, as planning did: the result holds the chunk's
// Sources, Ops, conflicts, locked and hidden names, and its counts.
func (m *Move) ExpandChunk(src, dst []live.Version, nowMs int64, lim CopyLimits) *Move {
	c := m.chunkTemplate()
	expandMove(c, src, nil, dst, m.LockPossible, nowMs, lim)
	unprotected(c, m.LockPossible, nowMs)
	c.Unfinished = nil // listed whole for the move (planMoveStreaming)
	return c
}

// ChunkOf returns the index of the chunk holding the relative name rel.
func (m *Move) ChunkOf(rel string) int {
	for k := len(m.Chunks) - 1; k > 0; k-- {
		if rel >= m.Chunks[k].Lo {
			return k
		}
	}
	return 0
}

// addChunk adds the expansion c of the chunk [lo, hi) (source versions src,
// destination versions dst) to the chunked move m.
func (m *Move) addChunk(c *Move, lo, hi string, src, dst []live.Version) {
	ch := Chunk{Lo: lo, Hi: hi, Versions: len(src), Objects: c.Objects, Bytes: c.Bytes, Remaining: c.Remaining(),
		Digest: Digest(src), DestDigest: Digest(dst)}
	for i := range src {
		if i == 0 || src[i].Name != src[i-1].Name {
			ch.Names++
		}
		if src[i].Action != live.ActionStart {
			ch.Newest = max(ch.Newest, src[i].Uploaded)
		}
	}
	m.Chunks = append(m.Chunks, ch)
	m.Objects += c.Objects
	m.Bytes += c.Bytes
	m.Copies += c.Copies
	m.LargeCopies += c.LargeCopies
	m.Parts += c.Parts
	m.Deletes += c.Deletes
	m.Hides += c.Hides
	m.AlreadyCopied += c.AlreadyCopied
	m.Verifies += c.Verifies
	m.VerifyBytes += c.VerifyBytes
	m.Listed += c.Listed
	m.Errored = m.Errored || c.Errored
	// Names never span chunks: the sum of the chunks' remaining names is
	// the move's.
	m.RemainingNames += ch.Remaining
	m.ConflictStats.add(c.Conflicts)
	m.Conflicts, m.ConflictCount = appendBounded(m.Conflicts, m.ConflictCount, c.Conflicts)
	m.Locked, m.LockedCount = appendBounded(m.Locked, m.LockedCount, c.Locked)
	m.Unprotected, m.UnprotectedCount = appendBounded(m.Unprotected, m.UnprotectedCount, c.Unprotected)
	m.Hidden, m.HiddenCount = appendBounded(m.Hidden, m.HiddenCount, c.Hidden)
	if len(m.Sample) < sampleKept {
		lines, _ := c.SampleLines(sampleKept - len(m.Sample))
		m.Sample = append(m.Sample, lines...)
	}
}

// appendBounded appends add to list, keeping at most MaxListed entries,
// and returns it with the running total.
func appendBounded[T any](list []T, total int, add []T) ([]T, int) {
	total += len(add)
	if room := MaxListed - len(list); room > 0 {
		list = append(list, add[:min(room, len(add))]...)
	}
	return list, total
}

// chunkStream is one listing of a move (source or destination) read page
// by page, the versions not yet taken into a chunk held in buf.
type chunkStream struct {
	pg   Pager
	base int // len(prefix): names compare by the part after it
	buf  []live.Version
	done bool
}

func (s *chunkStream) fetch(ctx context.Context) error {
	vs, err := s.pg.Next(ctx)
	if errors.Is(err, io.EOF) {
		s.done = true
		return nil
	}
	if err != nil {
		return err
	}
	if len(s.buf) == 0 {
		s.buf = vs
	} else {
		s.buf = append(s.buf, vs...)
	}
	return nil
}

// last is the relative name of the last version held ("" when none).
func (s *chunkStream) last() string {
	if len(s.buf) == 0 {
		return ""
	}
	return tail(s.buf[len(s.buf)-1].Name, s.base)
}

// take removes and returns the versions whose relative names are below
// cut ("" = all of them). The rest is copied so that the pages taken can
// be freed.
func (s *chunkStream) take(cut string) []live.Version {
	n := len(s.buf)
	if cut != "" {
		n = 0
		for n < len(s.buf) && tail(s.buf[n].Name, s.base) < cut {
			n++
		}
	}
	out := s.buf[:n:n]
	if n == len(s.buf) {
		s.buf = nil
	} else {
		s.buf = append([]live.Version(nil), s.buf[n:]...)
	}
	return out
}

// streamChunks lists a move's source and destination page by page, merged
// by relative name, and calls f with each chunk of about chunk versions
// (both sides) in name order: [lo, hi) with hi "" for the last. When both
// listings hold no more than threshold versions, f is called once with
// whole = true and everything (the move is planned as before).
func streamChunks(ctx context.Context, src, dst *chunkStream, chunk, threshold int,
	f func(lo, hi string, s, d []live.Version, whole bool)) error {
	// fetchBehind reads a page of the listing that is behind (the other
	// one has read past its last name), so that both advance together.
	fetchBehind := func() error {
		switch {
		case src.done:
			return dst.fetch(ctx)
		case dst.done:
			return src.fetch(ctx)
		case len(src.buf) == 0 || (len(dst.buf) > 0 && src.last() <= dst.last()):
			return src.fetch(ctx)
		default:
			return dst.fetch(ctx)
		}
	}
	for !(src.done && dst.done) && len(src.buf)+len(dst.buf) <= threshold {
		if err := fetchBehind(); err != nil {
			return err
		}
	}
	if src.done && dst.done && len(src.buf)+len(dst.buf) <= threshold {
		f("", "", src.take(""), dst.take(""), true)
		return nil
	}
	lo := ""
	for {
		for !(src.done && dst.done) && len(src.buf)+len(dst.buf) < chunk {
			if err := fetchBehind(); err != nil {
				return err
			}
		}
		cut, ok := chunkCut(src, dst, chunk)
		for !ok {
			if err := fetchBehind(); err != nil {
				return err
			}
			cut, ok = chunkCut(src, dst, chunk)
		}
		f(lo, cut, src.take(cut), dst.take(cut), false)
		if cut == "" {
			return nil
		}
		lo = cut
	}
}

// chunkCut picks the end of the next chunk: the first relative name after
// chunk versions of both listings, merged, so that the chunks do not depend
// on how the listings were paged. Names below the last one a listing holds
// are complete in it; when the cut is not among them yet, ok is false: read
// more. Both listings done: cut "" takes the rest.
func chunkCut(src, dst *chunkStream, chunk int) (cut string, ok bool) {
	if src.done && dst.done {
		return "", true
	}
	// Names below limit are complete in both listings.
	limit := ""
	for _, s := range []*chunkStream{src, dst} {
		if s.done {
			continue
		}
		if l := s.last(); limit == "" || l < limit {
			limit = l
		}
	}
	if limit == "" {
		return "", false // a listing not done holds nothing yet
	}
	i, j, n := 0, 0, 0
	for {
		var name string
		switch {
		case i < len(src.buf) && (j >= len(dst.buf) || tail(src.buf[i].Name, src.base) <= tail(dst.buf[j].Name, dst.base)):
			name = tail(src.buf[i].Name, src.base)
		case j < len(dst.buf):
			name = tail(dst.buf[j].Name, dst.base)
		default:
			return "", false
		}
		if name >= limit {
			return "", false
		}
		if n >= chunk {
			return name, true // a name boundary past the chunk's size
		}
		for i < len(src.buf) && tail(src.buf[i].Name, src.base) == name {
			i, n = i+1, n+1
		}
		for j < len(dst.buf) && tail(dst.buf[j].Name, dst.base) == name {
			j, n = j+1, n+1
		}
	}
}

// planMoveStreaming plans move m from listings by name range: whole (as
// before) when its prefixes hold few versions or nest in one bucket,
// otherwise in chunks. unf are the source's unfinished large files.
func (pl *planner) planMoveStreaming(m *Move, unf []live.Version, lockPossible, dstExists bool) error {
	if pl.opts.ListRange == nil {
		return errors.New("its prefixes were observed without their versions and the planner has no range lister (planner.Options.ListRange)")
	}
	ctx := pl.opts.Context
	if ctx == nil {
		ctx = context.Background()
	}
	m.LockPossible = lockPossible
	src := &chunkStream{base: len(m.From)}
	src.pg = pl.sourcePager(m)
	if c, ok := src.pg.(interface{ Close() }); ok {
		defer c.Close() // a parallel listing not read to its end
	}
	dst := &chunkStream{base: len(m.To), done: !dstExists}
	if dstExists {
		dst.pg = pl.opts.ListRange(m.ToBucket, m.ToBucketID, m.To, "", "")
	}
	chunk, threshold := pl.opts.MoveChunk, pl.opts.MoveChunkThreshold
	if chunk <= 0 {
		chunk = DefaultMoveChunk
	}
	switch {
	case threshold == 0:
		threshold = DefaultMoveChunkThreshold
	case threshold < 0:
		threshold = -1
	}
	if m.overlapping() {
		threshold = int(^uint(0) >> 1) // nested prefixes: planned whole
	}
	nowMs, lim := pl.now.UnixMilli(), pl.p.CopyLimits()
	whole := false
	err := streamChunks(ctx, src, dst, chunk, threshold, func(lo, hi string, s, d []live.Version, w bool) {
		if w {
			whole = true
			expandMove(m, s, unf, d, lockPossible, nowMs, lim)
			unprotected(m, lockPossible, nowMs)
			return
		}
		m.addChunk(m.ExpandChunk(s, d, nowMs, lim), lo, hi, s, d)
		if f := pl.opts.ForgetListed; f != nil {
			f(s)
			f(d)
		}
	})
	if err != nil {
		return err
	}
	if !whole {
		m.Sources, m.Ops = nil, nil
		for _, u := range unf {
			m.Unfinished = append(m.Unfinished, Unfinished{Name: u.Name, FileID: u.ID, Started: u.Uploaded})
		}
		m.estimateCalls()
	}
	return nil
}
