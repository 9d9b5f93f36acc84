package planner

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/b2plan/b2plan/live"
)

// Plan file format (docs/plan-format.md):
//
//	"B2PLAN\x00" major minor | gzip( uvarint(len) JSON header | per move: sources, ops )
//
// The JSON header holds the plan and the move metadata; each move's source
// versions (fingerprints) and operations follow in a compact binary form.
const (
	fileMagic      = "B2PLAN\x00"
	FileMajor byte = 1
	// 1.1: plan header copy limits (max_copy_file_size, part_size).
	// 1.2: move verify, verifies, verify_bytes, abandoned; operation OpVerify.
	// 1.3: variables.
	// 1.4: chunked moves (move chunks, lock_possible, list totals, sample).
	FileMinor byte = 4

	maxHeader = 256 << 20
	maxString = 1 << 20
)

// ErrNotPlanFile is returned for a file that does not start with the magic.
var ErrNotPlanFile = errors.New("not a b2plan plan file")

type fileHeader struct {
	Plan  *Plan   `json:"plan"`
	Moves []*Move `json:"moves"`
}

// WriteFile writes p to path (mode 0600, atomically through a temporary file).
func WriteFile(path string, p *Plan) error {
	if err := secretsInPlan(p); err != nil {
		return err
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".b2plan-*.tmp")
	if err != nil {
		return fmt.Errorf("write plan file: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("write plan file: %w", err)
	}
	if err := Encode(f, p); err != nil {
		f.Close()
		return fmt.Errorf("write plan file %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write plan file %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write plan file: %w", err)
	}
	return nil
}

// ReadFile reads a plan file.
func ReadFile(path string) (*Plan, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read plan file: %w", err)
	}
	defer f.Close()
	p, err := Decode(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("read plan file %s: %w", path, err)
	}
	return p, nil
}

// Encode writes the plan file form of p.
func Encode(w io.Writer, p *Plan) error {
	if _, err := w.Write(append([]byte(fileMagic), FileMajor, FileMinor)); err != nil {
		return err
	}
	zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
	bw := bufio.NewWriterSize(zw, 1<<16)
	hdr, err := json.Marshal(fileHeader{Plan: p, Moves: p.Moves})
	if err != nil {
		return err
	}
	e := &enc{w: bw}
	e.uvarint(uint64(len(hdr)))
	e.bytes(hdr)
	for _, m := range p.Moves {
		encodeMove(e, m)
	}
	if e.err != nil {
		return e.err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return zw.Close()
}

type enc struct {
	w   *bufio.Writer
	buf [binary.MaxVarintLen64]byte
	err error
}

func (e *enc) uvarint(v uint64) {
	n := binary.PutUvarint(e.buf[:], v)
	e.bytes(e.buf[:n])
}

func (e *enc) varint(v int64) {
	n := binary.PutVarint(e.buf[:], v)
	e.bytes(e.buf[:n])
}

func (e *enc) bytes(b []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(b)
	}
}

func (e *enc) byte1(b byte) {
	if e.err == nil {
		e.err = e.w.WriteByte(b)
	}
}

func (e *enc) str(s string) {
	e.uvarint(uint64(len(s)))
	if e.err == nil {
		_, e.err = e.w.WriteString(s)
	}
}

// delta writes s as (length of the prefix shared with prev, rest).
func (e *enc) delta(prev, s string) {
	n := 0
	for n < len(prev) && n < len(s) && prev[n] == s[n] {
		n++
	}
	e.uvarint(uint64(n))
	e.str(s[n:])
}

func encodeMove(e *enc, m *Move) {
	// Only the referenced source versions are written, re-indexed.
	remap := make([]int32, len(m.Sources))
	for i := range remap {
		remap[i] = -1
	}
	n := int32(0)
	for _, op := range m.Ops {
		if remap[op.Src] < 0 {
			remap[op.Src] = 0
		}
	}
	for i := range remap {
		if remap[i] == 0 {
			remap[i] = n
			n++
		}
	}
	e.uvarint(uint64(n))
	var prev live.Version
	for i := range m.Sources {
		if remap[i] < 0 {
			continue
		}
		v := &m.Sources[i]
		e.delta(prev.Name, v.Name)
		e.delta(prev.ID, v.ID)
		e.delta(prev.ContentType, v.ContentType)
		e.varint(v.Size)
		e.varint(v.Uploaded - prev.Uploaded)
		e.varint(v.RetainUntil)
		e.byte1(v.Flags)
		e.byte1(byte(v.Action))
		e.byte1(byte(v.Retention))
		e.byte1(byte(v.LegalHold))
		if v.Flags&live.FlagSHA1 != 0 {
			e.bytes(v.SHA1[:])
		}
		e.uvarint(uint64(len(v.Info)))
		if len(v.Info) > 0 {
			keys := make([]string, 0, len(v.Info))
			for k := range v.Info {
				keys = append(keys, k)
			}
			sortStrings(keys)
			for _, k := range keys {
				e.str(k)
				e.str(v.Info[k])
			}
		}
		prev = *v
	}
	e.uvarint(uint64(len(m.Ops)))
	last := int32(0)
	for _, op := range m.Ops {
		s := remap[op.Src]
		e.varint(int64(s - last))
		last = s
		e.byte1(byte(op.Kind))
		if op.Kind == OpCopyLarge {
			e.uvarint(uint64(op.Parts))
		}
	}
}

// Decode reads the plan file form. It refuses another major format version
// and a newer minor one.
func Decode(r io.Reader) (*Plan, error) {
	var head [len(fileMagic) + 2]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return nil, ErrNotPlanFile
	}
	if string(head[:len(fileMagic)]) != fileMagic {
		return nil, ErrNotPlanFile
	}
	if head[len(fileMagic)] != FileMajor {
		return nil, fmt.Errorf("plan file format %d.%d is not supported by this b2plan (it reads %d.x): re-run plan with this version",
			head[len(fileMagic)], head[len(fileMagic)+1], FileMajor)
	}
	// A newer minor version can carry work this reader would skip without a
	// word (1.4 added chunked moves and replication): refuse it.
	if head[len(fileMagic)+1] > FileMinor {
		return nil, fmt.Errorf("plan file format %d.%d was written by a newer b2plan (this one reads up to %d.%d): apply it with that version, or re-run plan with this one",
			head[len(fileMagic)], head[len(fileMagic)+1], FileMajor, FileMinor)
	}
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("corrupt plan file: %w", err)
	}
	d := &dec{r: bufio.NewReaderSize(zr, 1<<16)}
	hl := d.uvarint()
	if d.err == nil && hl > maxHeader {
		return nil, errors.New("corrupt plan file: header too large")
	}
	var buf bytes.Buffer
	if d.err == nil {
		var n int64
		n, d.err = io.CopyN(&buf, d.r, int64(hl))
		if d.err == nil && n != int64(hl) {
			d.err = io.ErrUnexpectedEOF
		}
	}
	if d.err != nil {
		return nil, fmt.Errorf("corrupt plan file: %w", d.err)
	}
	var hdr fileHeader
	if err := json.Unmarshal(buf.Bytes(), &hdr); err != nil {
		return nil, fmt.Errorf("corrupt plan file: %w", err)
	}
	if hdr.Plan == nil {
		return nil, errors.New("corrupt plan file: no plan")
	}
	p := hdr.Plan
	for _, m := range hdr.Moves {
		if m == nil {
			return nil, errors.New("corrupt plan file: empty move")
		}
		if err := decodeMove(d, m); err != nil {
			return nil, fmt.Errorf("corrupt plan file: %s: %w", m.Address, err)
		}
		if err := checkChunks(m); err != nil {
			return nil, fmt.Errorf("corrupt plan file: %s: %w", m.Address, err)
		}
	}
	p.Moves = hdr.Moves
	// The gzip stream must end here (its checksum is verified at EOF).
	if _, err := d.r.ReadByte(); err != io.EOF {
		if err == nil {
			err = errors.New("trailing data")
		}
		return nil, fmt.Errorf("corrupt plan file: %w", err)
	}
	return p, nil
}

type dec struct {
	r   *bufio.Reader
	err error
}

func (d *dec) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, err := binary.ReadUvarint(d.r)
	d.err = noEOF(err)
	return v
}

func (d *dec) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, err := binary.ReadVarint(d.r)
	d.err = noEOF(err)
	return v
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (d *dec) byte1() byte {
	if d.err != nil {
		return 0
	}
	b, err := d.r.ReadByte()
	d.err = noEOF(err)
	return b
}

func (d *dec) full(b []byte) {
	if d.err != nil {
		return
	}
	_, err := io.ReadFull(d.r, b)
	d.err = noEOF(err)
}

func (d *dec) str() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > maxString {
		d.err = errors.New("string too long")
		return ""
	}
	b := make([]byte, n)
	d.full(b)
	return string(b)
}

func (d *dec) delta(prev string) string {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(prev)) {
		d.err = errors.New("bad shared prefix")
	}
	s := d.str()
	if d.err != nil {
		return ""
	}
	if n == 0 {
		return s
	}
	return prev[:n] + s
}

func decodeMove(d *dec, m *Move) error {
	n := d.uvarint()
	if d.err != nil {
		return d.err
	}
	if n > 1<<31-1 {
		return errors.New("too many sources")
	}
	m.Sources = make([]live.Version, 0, min(n, 1<<16))
	var prev live.Version
	var ct live.Interner
	for i := uint64(0); i < n; i++ {
		var v live.Version
		v.Name = d.delta(prev.Name)
		v.ID = d.delta(prev.ID)
		v.ContentType = ct.Intern(d.delta(prev.ContentType))
		v.Size = d.varint()
		v.Uploaded = prev.Uploaded + d.varint()
		v.RetainUntil = d.varint()
		v.Flags = d.byte1()
		v.Action = live.Action(d.byte1())
		v.Retention = live.RetentionMode(d.byte1())
		v.LegalHold = live.LegalHold(d.byte1())
		if v.Flags&live.FlagSHA1 != 0 {
			d.full(v.SHA1[:])
		}
		ni := d.uvarint()
		if d.err == nil && ni > 1<<16 {
			return errors.New("too many file info entries")
		}
		for k := uint64(0); k < ni && d.err == nil; k++ {
			if v.Info == nil {
				v.Info = map[string]string{}
			}
			key := d.str()
			v.Info[key] = d.str()
		}
		if d.err != nil {
			return d.err
		}
		if !strings.HasPrefix(v.Name, m.From) {
			return fmt.Errorf("source %q is not under %q", v.Name, m.From)
		}
		m.Sources = append(m.Sources, v)
		prev = v
	}
	no := d.uvarint()
	if d.err != nil {
		return d.err
	}
	m.Ops = make([]ObjectOp, 0, min(no, 1<<16))
	last := int64(0)
	for i := uint64(0); i < no; i++ {
		s := last + d.varint()
		k := OpKind(d.byte1())
		var parts uint64
		if k == OpCopyLarge {
			parts = d.uvarint()
		}
		if d.err != nil {
			return d.err
		}
		if s < 0 || s >= int64(len(m.Sources)) {
			return errors.New("operation refers to a missing source")
		}
		if k < OpCopy || k > OpVerify {
			return fmt.Errorf("unknown operation kind %d", k)
		}
		if parts > MaxParts {
			return errors.New("too many parts")
		}
		m.Ops = append(m.Ops, ObjectOp{Src: int32(s), Kind: k, Parts: uint16(parts)})
		last = s
	}
	return nil
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// checkChunks validates a chunked move read from a file: chunks in name
// order, each ending where the next starts, the last open-ended, SHA-256
// digests, and no per-object operations besides.
func checkChunks(m *Move) error {
	if m.Chunks == nil {
		return nil
	}
	if len(m.Chunks) == 0 {
		return errors.New("a chunked move without chunks")
	}
	if len(m.Ops) > 0 || len(m.Sources) > 0 {
		return errors.New("a chunked move with per-object operations")
	}
	if m.Chunks[0].Lo != "" {
		return errors.New("the first chunk does not start at the prefix")
	}
	for k := range m.Chunks {
		c := &m.Chunks[k]
		last := k == len(m.Chunks)-1
		if (c.Hi == "") != last || (!last && c.Hi != m.Chunks[k+1].Lo) || (c.Hi != "" && c.Hi <= c.Lo) {
			return fmt.Errorf("chunk %d: its name range does not follow the one before", k)
		}
		if len(c.Digest) != 64 || len(c.DestDigest) != 64 || c.Names < 0 || c.Versions < 0 || c.Objects < 0 || c.Bytes < 0 {
			return fmt.Errorf("chunk %d: bad digest or counts", k)
		}
	}
	return nil
}
