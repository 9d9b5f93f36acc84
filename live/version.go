package live

import (
	"encoding/hex"
	"fmt"
	"sync"
	"time"
)

// Action is what a version is.
type Action uint8

const (
	ActionUpload Action = iota // a file (also a copy or a finished large file)
	ActionHide                 // a hide marker
	ActionStart                // an unfinished large file
	ActionFolder               // a folder entry (only with a delimiter)
)

func (a Action) String() string {
	switch a {
	case ActionUpload:
		return "upload"
	case ActionHide:
		return "hide"
	case ActionStart:
		return "start"
	case ActionFolder:
		return "folder"
	}
	return "unknown"
}

// ParseAction maps B2's action string; "copy" (the b2_copy_file reply) is an
// upload.
func ParseAction(s string) (Action, bool) {
	switch s {
	case "upload", "copy":
		return ActionUpload, true
	case "hide":
		return ActionHide, true
	case "start":
		return ActionStart, true
	case "folder":
		return ActionFolder, true
	}
	return ActionUpload, false
}

// RetentionMode of a file version.
type RetentionMode uint8

const (
	RetentionNone RetentionMode = iota
	RetentionGovernance
	RetentionCompliance
	RetentionUnknown // the observing key may not read retentions
)

func (m RetentionMode) String() string {
	switch m {
	case RetentionNone:
		return ""
	case RetentionGovernance:
		return "governance"
	case RetentionCompliance:
		return "compliance"
	}
	return "unknown"
}

// ParseRetentionMode maps B2's mode string ("" / null = none).
func ParseRetentionMode(s string) RetentionMode {
	switch s {
	case "":
		return RetentionNone
	case "governance":
		return RetentionGovernance
	case "compliance":
		return RetentionCompliance
	}
	return RetentionUnknown
}

// LegalHold of a file version.
type LegalHold uint8

const (
	LegalHoldOff LegalHold = iota
	LegalHoldOn
	LegalHoldUnknown // the observing key may not read legal holds
)

func (h LegalHold) String() string {
	switch h {
	case LegalHoldOff:
		return "off"
	case LegalHoldOn:
		return "on"
	}
	return "unknown"
}

// Version flags.
const (
	// FlagSHA1 says SHA1 holds a value.
	FlagSHA1 uint8 = 1 << iota
	// FlagLargeFileSHA1 says the value came from the large_file_sha1 file
	// info of a large file (B2 reports contentSha1 "none" for those).
	FlagLargeFileSHA1
	// FlagReplicationFailed says B2 reports replicationStatus "failed": a replication rule
	// covered the version and B2 could not copy it (native listings only; S3 listings do
	// not carry the status).
	FlagReplicationFailed
)

// ReplicationFailed reports whether B2 failed to replicate the version.
func (v *Version) ReplicationFailed() bool { return v.Flags&FlagReplicationFailed != 0 }

// Version is one file version. Its layout is kept small (about 100 bytes
// plus the name and id) so that a million of them fit comfortably in memory.
type Version struct {
	Name        string
	ID          string
	ContentType string            // interned
	Info        map[string]string // nil when empty
	Size        int64
	Uploaded    int64 // upload timestamp, milliseconds since the epoch
	RetainUntil int64 // milliseconds since the epoch; 0 = none
	SHA1        [20]byte
	Flags       uint8
	Action      Action
	Retention   RetentionMode
	LegalHold   LegalHold
}

// HasSHA1 reports whether the SHA-1 of the whole content is known.
func (v *Version) HasSHA1() bool { return v.Flags&FlagSHA1 != 0 }

// SHA1Hex returns the hex SHA-1, or "" when unknown.
func (v *Version) SHA1Hex() string {
	if !v.HasSHA1() {
		return ""
	}
	return hex.EncodeToString(v.SHA1[:])
}

// SetSHA1Hex stores a 40-hex-digit SHA-1; it reports false (and stores
// nothing) for anything else, such as "none" or an "unverified:" value.
func (v *Version) SetSHA1Hex(s string, fromLargeFileInfo bool) bool {
	if len(s) != 40 {
		return false
	}
	var b [20]byte
	if _, err := hex.Decode(b[:], []byte(s)); err != nil {
		return false
	}
	v.SHA1 = b
	v.Flags |= FlagSHA1
	if fromLargeFileInfo {
		v.Flags |= FlagLargeFileSHA1
	}
	return true
}

// UploadTime returns Uploaded as a time.
func (v *Version) UploadTime() time.Time { return time.UnixMilli(v.Uploaded) }

// SourceIDKey is the file-info key b2plan sets on its copy of a version
// that has no SHA-1 (docs/moves.md, "Content identity"): its value is the
// file id of the copied source version, so that a later run can recognise
// the copy as a verified copy of exactly that version without any local
// state.
const SourceIDKey = "b2plan-src-id"

// Identity is the outcome of comparing two versions' content.
type Identity uint8

const (
	// Different: proven to hold other bytes (other size or other SHA-1).
	Different Identity = iota
	// Same: proven to hold the same bytes.
	Same
	// Unproven: equal sizes, but nothing proves equal bytes (no SHA-1 on
	// one side and no b2plan copy marker linking them).
	Unproven
)

func (i Identity) String() string {
	switch i {
	case Same:
		return "same"
	case Different:
		return "different"
	}
	return "unproven"
}

// Compare is the one content-identity rule of b2plan, used by the planner
// and the executor alike. Two versions hold the same content only when that
// is proven:
//
//   - equal sizes and equal SHA-1s (contentSha1, or large_file_sha1 for a
//     large file; see SetSHA1Hex), or
//   - equal sizes and one is b2plan's verified copy of the other (its
//     SourceIDKey file info names the other's file id), or both are
//     b2plan's copies of the same version.
//
// Different sizes or different SHA-1s are Different. Anything else (no
// SHA-1 on one or both sides) is Unproven: content type, file info or
// timestamps are never taken as proof. why says, in words, how the result
// was reached (for plans and errors); it calls a the source side and b the
// destination side.
func Compare(a, b *Version) (id Identity, why string) {
	id = identify(a, b)
	switch id {
	case Same:
		if a.HasSHA1() && b.HasSHA1() {
			return id, "same size and SHA-1"
		}
		return id, "b2plan's verified copy of that version"
	case Different:
		if a.Size != b.Size {
			return id, fmt.Sprintf("different sizes (%d and %d bytes)", a.Size, b.Size)
		}
		return id, "different SHA-1s"
	}
	switch {
	case !a.HasSHA1() && !b.HasSHA1():
		return id, "no SHA-1 on either side: content cannot be compared"
	case !a.HasSHA1():
		return id, "no SHA-1 on the source side: content cannot be compared"
	}
	return id, "no SHA-1 on the destination side: content cannot be compared"
}

// identify is Compare without the explanation (no allocation).
func identify(a, b *Version) Identity {
	if a.Size != b.Size {
		return Different
	}
	if a.HasSHA1() && b.HasSHA1() {
		if a.SHA1 == b.SHA1 {
			return Same
		}
		return Different
	}
	if ma, mb := a.Info[SourceIDKey], b.Info[SourceIDKey]; (ma != "" && (ma == b.ID || ma == mb)) || (mb != "" && mb == a.ID) {
		return Same
	}
	return Unproven
}

// SameContent reports whether two versions are proven to hold the same
// bytes (Compare returns Same).
func SameContent(a, b *Version) bool { return identify(a, b) == Same }

// Interner shares equal strings (content types, names). It is safe for
// concurrent use.
type Interner struct {
	mu sync.Mutex
	m  map[string]string
}

// Intern returns the shared copy of s.
func (in *Interner) Intern(s string) string {
	if s == "" {
		return ""
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if v, ok := in.m[s]; ok {
		return v
	}
	if in.m == nil {
		in.m = make(map[string]string)
	}
	in.m[s] = s
	return s
}
