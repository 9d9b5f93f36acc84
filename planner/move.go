package planner

import (
	"strings"

	"github.com/b2plan/b2plan/live"
)

// Copy limits (b2-native-api.md §10, §11, §15).
const (
	// MaxCopyFileSize is the largest object copied with one b2_copy_file;
	// larger ones use start_large_file + copy_part + finish_large_file.
	MaxCopyFileSize = 5_000_000_000
	// RecommendedPartSize is the copy_part size the planner assumes.
	RecommendedPartSize = 100_000_000
	// MaxParts is B2's part limit of a large file.
	MaxParts = 10_000
	// MaxNameBytes is B2's file-name limit.
	MaxNameBytes = 1024
)

// OpKind is one per-object operation of a move.
type OpKind uint8

const (
	// OpCopy copies version Src to the destination name with b2_copy_file.
	OpCopy OpKind = iota + 1
	// OpCopyLarge copies version Src with start_large_file, Parts × copy_part
	// and finish_large_file.
	OpCopyLarge
	// OpHideDest adds a hide marker at the destination name (versions = all
	// of a name whose newest source version is a hide marker).
	OpHideDest
	// OpDelete deletes source version Src (b2_delete_file_version), only
	// after every copy of its name was verified.
	OpDelete
	// OpHide hides the source name of Src (b2_hide_file), only after every
	// copy of its name was verified.
	OpHide
	// OpVerify compares source version Src with the newest version of its
	// destination name by downloading and hashing both (verify =
	// "download", a destination whose content cannot be proven equal by
	// SHA-1). Equal hashes: the name's removals follow; otherwise the name
	// is a conflict decided by on_conflict at apply (plan file 1.2).
	OpVerify
)

func (k OpKind) String() string {
	switch k {
	case OpCopy:
		return "copy"
	case OpCopyLarge:
		return "copy-large"
	case OpHideDest:
		return "hide-destination"
	case OpDelete:
		return "delete"
	case OpHide:
		return "hide"
	case OpVerify:
		return "verify"
	}
	return "unknown"
}

// ObjectOp is one per-object operation. Src indexes Move.Sources, whose
// entries are the fingerprints (fileId, size, SHA-1) the executor re-checks.
// Operations of one source name are consecutive: its history oldest first
// (copies, and with versions = "all" an OpHideDest for each hide marker in
// it, in place), then the removals (OpDelete / OpHide).
type ObjectOp struct {
	Src   int32
	Kind  OpKind
	Parts uint16 // OpCopyLarge only
}

// Conflict is a destination name that already exists with other content.
type Conflict struct {
	Source     string `json:"source"`
	Dest       string `json:"destination"`
	SourceID   string `json:"source_file_id,omitempty"`
	SourceSize int64  `json:"source_size"`
	SourceSHA1 string `json:"source_sha1,omitempty"`
	DestID     string `json:"destination_file_id,omitempty"`
	DestSize   int64  `json:"destination_size"`
	DestSHA1   string `json:"destination_sha1,omitempty"`
	// Resolution: "fail" (the plan errors), "skip" (left alone),
	// "overwrite" (copied anyway: a newer version at the destination),
	// "error" (impossible: name too long, destination also a hidden source).
	Resolution string `json:"resolution"`
	Reason     string `json:"reason,omitempty"`
}

// Locked is a source version under Object Lock that blocks deleting its name.
// The whole name is left alone (neither copied nor deleted) and reported.
type Locked struct {
	Name        string `json:"name"`
	FileID      string `json:"file_id"`
	Mode        string `json:"mode,omitempty"` // governance, compliance, unknown
	RetainUntil int64  `json:"retain_until,omitempty"`
	LegalHold   string `json:"legal_hold,omitempty"` // on, unknown
}

// Unfinished is an unfinished large file under the source prefix: reported,
// left alone.
type Unfinished struct {
	Name    string `json:"name"`
	FileID  string `json:"file_id"`
	Started int64  `json:"started"`
}

// Calls estimates the B2 calls of a move by transaction class.
type Calls struct {
	ClassA int64 `json:"class_a"`
	ClassB int64 `json:"class_b"`
	ClassC int64 `json:"class_c"`
}

// Move is a declared move expanded to per-object operations.
type Move struct {
	Address    string `json:"address"`
	Provider   string `json:"provider,omitempty"`
	Name       string `json:"name"`
	Index      string `json:"index,omitempty"`
	HasIndex   bool   `json:"has_index,omitempty"`
	Bucket     string `json:"bucket"`
	BucketID   string `json:"bucket_id,omitempty"`
	ToBucket   string `json:"to_bucket"`
	ToBucketID string `json:"to_bucket_id,omitempty"`
	From       string `json:"from"`
	To         string `json:"to"`
	Versions   string `json:"versions"`
	Source     string `json:"source"`
	OnConflict string `json:"on_conflict"`
	// Verify is "download" or "" (plan file 1.2).
	Verify string `json:"verify,omitempty"`

	// Sources are the source versions the operations refer to. In a fresh
	// plan this shares the live listing (no copies); a plan read from a file
	// holds only the referenced versions.
	Sources []live.Version `json:"-"`
	Ops     []ObjectOp     `json:"-"`

	// Objects counts the source names with at least one operation.
	Objects     int   `json:"objects"`
	Bytes       int64 `json:"bytes"` // bytes copied
	Copies      int   `json:"copies"`
	LargeCopies int   `json:"large_copies"`
	Parts       int   `json:"parts"`
	Deletes     int   `json:"deletes"`
	Hides       int   `json:"hides"`
	// AlreadyCopied counts names whose content is at the destination already
	// (only the source removal is planned).
	AlreadyCopied int `json:"already_copied"`
	// Verifies counts OpVerify operations; VerifyBytes the bytes they
	// download (both sides), the egress of verify = "download".
	Verifies    int   `json:"verifies,omitempty"`
	VerifyBytes int64 `json:"verify_bytes,omitempty"`
	// Listed is the number of versions listed (source + destination), for
	// the estimate of list calls at apply.
	Listed int64 `json:"listed"`

	Hidden     []string     `json:"hidden,omitempty"`
	Conflicts  []Conflict   `json:"conflicts,omitempty"`
	Locked     []Locked     `json:"locked,omitempty"`
	Unfinished []Unfinished `json:"unfinished,omitempty"`
	// DestObjectLock says the destination bucket has Object Lock enabled:
	// copies of versions under retention or legal hold are made with the
	// same retention and legal hold (plan file 1.2).
	DestObjectLock bool `json:"dest_object_lock,omitempty"`
	// Unprotected are the copied versions under retention or legal hold
	// whose copies will not carry it (the destination has no Object Lock,
	// or the lock cannot be read): warned per object.
	Unprotected []Locked `json:"unprotected,omitempty"`
	// Abandoned are unfinished large files under the destination that
	// b2plan started (they carry live.SourceIDKey) and never finished:
	// apply cancels them first (plan file 1.2).
	Abandoned []Unfinished `json:"abandoned,omitempty"`
	Calls     Calls        `json:"calls"`
	Notes     []string     `json:"notes,omitempty"`

	// Chunks, when not nil, make a chunked move (move_chunk.go, plan file
	// 1.4): no Sources or Ops; apply lists and expands each chunk again.
	Chunks []Chunk `json:"chunks,omitempty"`
	// LockPossible says source versions may be under Object Lock (the
	// source bucket's lock is enabled or cannot be read): chunked apply
	// expands with it.
	LockPossible bool `json:"lock_possible,omitempty"`
	// The totals of Conflicts, Locked, Unprotected and Hidden of a chunked
	// move, which keep their first MaxListed entries; RemainingNames is its
	// Remaining(); Sample its first sample lines.
	ConflictCount    int      `json:"conflict_count,omitempty"`
	LockedCount      int      `json:"locked_count,omitempty"`
	UnprotectedCount int      `json:"unprotected_count,omitempty"`
	HiddenCount      int      `json:"hidden_count,omitempty"`
	RemainingNames   int      `json:"remaining_names,omitempty"`
	Sample           []string `json:"sample,omitempty"`
	// ConflictStats counts a chunked move's conflicts by resolution, for the
	// plan's diagnostics (not in the plan file).
	ConflictStats ConflictStats `json:"-"`
	// Errored is set when the move cannot be applied as planned (conflicts
	// with on_conflict = fail, names too long); the plan then has an error
	// diagnostic.
	Errored bool `json:"errored,omitempty"`
}

// SourceName returns the source name of an operation.
func (m *Move) SourceName(op ObjectOp) string { return m.Sources[op.Src].Name }

// DestName returns the destination name of an operation (To + the part of
// the source name after From). It allocates.
func (m *Move) DestName(op ObjectOp) string {
	return m.To + m.Sources[op.Src].Name[len(m.From):]
}

// Action is MoveObjects when there is anything to do, else NoOp.
func (m *Move) Action() Action {
	if m.HasOps() || len(m.Abandoned) > 0 {
		return MoveObjects
	}
	return NoOp
}

// CopyLimits are the copy sizes a plan assumes: which objects get a large
// copy (OpCopyLarge) and how many copy_part calls one needs. The zero value
// means B2's defaults (MaxCopyFileSize, RecommendedPartSize).
type CopyLimits struct {
	// MaxCopyFileSize is the largest object copied with one b2_copy_file.
	MaxCopyFileSize int64
	// PartSize is the copy_part size (raised when needed to stay within
	// MaxParts parts).
	PartSize int64
}

// withDefaults fills zero fields with B2's defaults.
func (c CopyLimits) withDefaults() CopyLimits {
	if c.MaxCopyFileSize <= 0 {
		c.MaxCopyFileSize = MaxCopyFileSize
	}
	if c.PartSize <= 0 {
		c.PartSize = RecommendedPartSize
	}
	return c
}

// Large reports whether an object of size bytes is copied as a large file.
func (c CopyLimits) Large(size int64) bool { return size > c.withDefaults().MaxCopyFileSize }

// PartSizeFor returns the part size of a large copy of size bytes.
func (c CopyLimits) PartSizeFor(size int64) int64 {
	ps := c.withDefaults().PartSize
	if min := (size + MaxParts - 1) / MaxParts; min > ps {
		ps = min
	}
	return ps
}

// PartsFor returns the number of copy_part calls of a large copy of size bytes.
func (c CopyLimits) PartsFor(size int64) int {
	ps := c.PartSizeFor(size)
	return int((size + ps - 1) / ps)
}

// PartSize returns the part size of a large copy of size bytes with B2's
// default limits (a plan's own limits: Plan.CopyLimits().PartSizeFor).
func PartSize(size int64) int64 { return CopyLimits{}.PartSizeFor(size) }

func (m *Move) tally() {
	m.Copies, m.LargeCopies, m.Parts, m.Deletes, m.Hides, m.Verifies = 0, 0, 0, 0, 0, 0
	m.Bytes, m.Objects = 0, 0
	last := int32(-1)
	lastName := ""
	for _, op := range m.Ops {
		v := &m.Sources[op.Src]
		if last < 0 || (op.Src != last && v.Name != lastName) {
			m.Objects++
			lastName = v.Name
		}
		last = op.Src
		switch op.Kind {
		case OpCopy:
			m.Copies++
			m.Bytes += v.Size
		case OpCopyLarge:
			m.Copies++
			m.LargeCopies++
			m.Parts += int(op.Parts)
			m.Bytes += v.Size
		case OpHideDest:
			m.Hides++
		case OpDelete:
			m.Deletes++
		case OpHide:
			m.Hides++
		case OpVerify:
			m.Verifies++
		}
	}
	m.estimateCalls()
}

// estimateCalls sets Calls from the move's counts.
func (m *Move) estimateCalls() {
	// A large copy starts and finishes a large file; hide markers and
	// deletes are one call each.
	a := 2*int64(m.LargeCopies) + int64(m.Hides) + int64(m.Deletes)
	c := int64(m.Copies-m.LargeCopies) + int64(m.Parts)
	if m.Listed > 0 {
		c += (m.Listed + 999) / 1000
	}
	// A verification lists the destination name (class C) and downloads
	// both sides (class B each).
	c += int64(m.Verifies)
	a += int64(len(m.Abandoned)) // b2_cancel_large_file
	m.Calls = Calls{ClassA: a, ClassB: 2 * int64(m.Verifies), ClassC: c}
}

// NConflicts, NLocked, NUnprotected and NHidden are the totals of the
// lists (a chunked move keeps only the first MaxListed entries).
func (m *Move) NConflicts() int   { return max(m.ConflictCount, len(m.Conflicts)) }
func (m *Move) NLocked() int      { return max(m.LockedCount, len(m.Locked)) }
func (m *Move) NUnprotected() int { return max(m.UnprotectedCount, len(m.Unprotected)) }
func (m *Move) NHidden() int      { return max(m.HiddenCount, len(m.Hidden)) }

// Remaining counts the source names this move leaves under its source with
// a reason (listed in the plan): locked names, hidden names, and conflicts
// that are skipped or fail. A plan with remaining names is never "No
// changes": the move is not complete.
func (m *Move) Remaining() int {
	if m.Chunked() {
		return m.RemainingNames
	}
	names := map[string]bool{}
	for _, l := range m.Locked {
		names[l.Name] = true
	}
	for _, h := range m.Hidden {
		names[h] = true
	}
	for _, c := range m.Conflicts {
		if c.Resolution != "overwrite" {
			names[c.Source] = true
		}
	}
	return len(names)
}

// ConflictStats counts conflicts by resolution: fail (Unproven of them for
// want of a SHA-1) and error.
type ConflictStats struct{ Fails, Errors, Unproven int }

// add counts conflicts cs.
func (s *ConflictStats) add(cs []Conflict) {
	for _, c := range cs {
		switch c.Resolution {
		case "fail":
			s.Fails++
			if strings.Contains(c.Reason, "cannot be compared") { // live.Compare: Unproven
				s.Unproven++
			}
		case "error":
			s.Errors++
		}
	}
}
