package live

import (
	"sort"
	"time"
)

// Request says what to observe.
type Request struct {
	Buckets bool // every bucket the key may list
	Keys    bool // every application key (needs listKeys)
	// KeysIfAllowed lists the keys too when the key may (listKeys), else leaves them unread.
	KeysIfAllowed bool
	Prefixes      []PrefixRequest // file versions under these (bucket, prefix) pairs
	// Notify names buckets whose event notification rules to read (notify.go).
	Notify []string
}

// PrefixRequest names one listing: every version under Prefix in BucketName.
// An empty Prefix lists the whole bucket.
type PrefixRequest struct {
	BucketName string
	Prefix     string
	// UnfinishedOnly lists only the unfinished large files: the versions
	// are listed by name range later (chunked moves, planner.RangeLister).
	UnfinishedOnly bool
}

// Live is a snapshot of an account.
type Live struct {
	AccountID string
	// Observed records which parts of the Request were read, so that an empty
	// Buckets slice can be told apart from "not asked for".
	ObservedBuckets bool
	ObservedKeys    bool

	Buckets  []Bucket  // sorted by name
	Keys     []Key     // sorted by name, then id
	Listings []Listing // in the order of Request.Prefixes
	// NotifyRules holds the rules of each bucket of Request.Notify that
	// exists, by bucket id.
	NotifyRules map[string][]NotifyRule
}

// Bucket returns the bucket with that name (B2 names compare
// case-insensitively), or nil.
func (l *Live) Bucket(name string) *Bucket {
	for i := range l.Buckets {
		if equalFold(l.Buckets[i].Name, name) {
			return &l.Buckets[i]
		}
	}
	return nil
}

// BucketByID returns the bucket with that id, or nil.
func (l *Live) BucketByID(id string) *Bucket {
	for i := range l.Buckets {
		if l.Buckets[i].ID == id {
			return &l.Buckets[i]
		}
	}
	return nil
}

// KeysNamed returns every key with that name (key names are not unique).
func (l *Live) KeysNamed(name string) []Key {
	var out []Key
	for _, k := range l.Keys {
		if k.Name == name {
			out = append(out, k)
		}
	}
	return out
}

// Listing returns the listing of (bucket, prefix), or nil if it was not
// requested.
func (l *Live) Listing(bucketName, prefix string) *Listing {
	for i := range l.Listings {
		if equalFold(l.Listings[i].BucketName, bucketName) && l.Listings[i].Prefix == prefix {
			return &l.Listings[i]
		}
	}
	return nil
}

// SortBuckets orders Buckets by name.
func (l *Live) SortBuckets() {
	sort.Slice(l.Buckets, func(i, j int) bool { return l.Buckets[i].Name < l.Buckets[j].Name })
}

// SortKeys orders Keys by name, then id.
func (l *Live) SortKeys() {
	sort.Slice(l.Keys, func(i, j int) bool {
		a, b := l.Keys[i], l.Keys[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.ID < b.ID
	})
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// Bucket types a configuration may declare; B2 also reports others
// (snapshot, restricted, shared).
const (
	AllPrivate = "allPrivate"
	AllPublic  = "allPublic"
)

// Bucket is one bucket with every attribute b2plan manages.
type Bucket struct {
	Name     string
	ID       string
	Type     string            // allPrivate, allPublic, ...
	Info     map[string]string // bucketInfo; nil when empty
	Revision int64
	Options  []string // informational, e.g. ["s3"]

	LifecycleRules []LifecycleRule
	CORSRules      []CORSRule
	Encryption     Encryption
	ObjectLock     ObjectLock
	// Replication is the bucket's replicationConfiguration (replication.go).
	Replication Replication
}

// LifecycleRule mirrors B2's lifecycle rule. A zero day count means the field
// is absent (null) in B2; B2 forbids 0 as a value.
type LifecycleRule struct {
	FileNamePrefix                                  string
	DaysFromUploadingToHiding                       int
	DaysFromHidingToDeleting                        int
	DaysFromStartingToCancelingUnfinishedLargeFiles int
}

// CORSRule mirrors B2's CORS rule.
type CORSRule struct {
	Name              string
	AllowedOrigins    []string
	AllowedOperations []string
	AllowedHeaders    []string
	ExposeHeaders     []string
	MaxAgeSeconds     int
}

// Encryption is the bucket's default server-side encryption.
type Encryption struct {
	// Readable is false when the observing key lacks readBucketEncryption:
	// then Mode is unknown, not "none".
	Readable  bool
	Mode      string // "" (none) or "SSE-B2"
	Algorithm string // "" or "AES256"
}

// ObjectLock is the bucket's file-lock configuration.
type ObjectLock struct {
	// Readable is false when the observing key lacks readBucketRetentions.
	Readable         bool
	Enabled          bool
	DefaultRetention Retention
}

// Retention is a default retention: Mode "" means none.
type Retention struct {
	Mode   string // "", "governance" or "compliance"
	Period Period
}

// Period is a retention period: Duration in Unit ("days" or "years").
type Period struct {
	Duration int
	Unit     string
}

// Key is an application key (never its secret).
type Key struct {
	Name         string
	ID           string
	Capabilities []string
	BucketIDs    []string  // nil = all buckets
	NamePrefix   string    // "" = no restriction
	Expires      time.Time // zero = never
	Options      []string
}

// Listing is every version under one (bucket, prefix), in B2 order: name
// ascending, newest first within a name.
type Listing struct {
	BucketName string
	BucketID   string
	Prefix     string
	Versions   []Version
	// VersionsOmitted says Versions were not listed (UnfinishedOnly).
	VersionsOmitted bool
	// Unfinished holds the unfinished large files (action start) under the
	// prefix, oldest first.
	Unfinished []Version
}

// Latest returns the index of the newest version of each name, in name order
// (hide markers included: a name whose newest version is a hide marker is
// hidden). It allocates one slice.
func (l *Listing) Latest() []int {
	var out []int
	for i := range l.Versions {
		if l.Versions[i].Action == ActionStart {
			continue
		}
		if len(out) > 0 && l.Versions[out[len(out)-1]].Name == l.Versions[i].Name {
			continue
		}
		out = append(out, i)
	}
	return out
}

// Bytes returns the total size of the listed versions.
func (l *Listing) Bytes() int64 {
	var n int64
	for i := range l.Versions {
		n += l.Versions[i].Size
	}
	return n
}
