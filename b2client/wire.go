package b2client

import (
	"time"

	"github.com/b2plan/b2plan/live"
)

// Wire shapes of the B2 native API (v4; key objects also accept v3's
// bucketId). Only the fields b2plan uses are modelled.

type lifecycleJSON struct {
	FileNamePrefix                                  string `json:"fileNamePrefix"`
	DaysFromUploadingToHiding                       *int   `json:"daysFromUploadingToHiding"`
	DaysFromHidingToDeleting                        *int   `json:"daysFromHidingToDeleting"`
	DaysFromStartingToCancelingUnfinishedLargeFiles *int   `json:"daysFromStartingToCancelingUnfinishedLargeFiles,omitempty"`
}

type corsJSON struct {
	CorsRuleName      string   `json:"corsRuleName"`
	AllowedOrigins    []string `json:"allowedOrigins"`
	AllowedOperations []string `json:"allowedOperations"`
	AllowedHeaders    []string `json:"allowedHeaders,omitempty"`
	ExposeHeaders     []string `json:"exposeHeaders,omitempty"`
	MaxAgeSeconds     int      `json:"maxAgeSeconds"`
}

type sseJSON struct {
	Mode      *string `json:"mode"`
	Algorithm *string `json:"algorithm,omitempty"`
}

type periodJSON struct {
	Duration int    `json:"duration"`
	Unit     string `json:"unit"`
}

type retentionJSON struct {
	Mode   *string     `json:"mode"`
	Period *periodJSON `json:"period,omitempty"`
}

type bucketJSON struct {
	AccountID      string            `json:"accountId"`
	BucketID       string            `json:"bucketId"`
	BucketName     string            `json:"bucketName"`
	BucketType     string            `json:"bucketType"`
	BucketInfo     map[string]string `json:"bucketInfo"`
	CORSRules      []corsJSON        `json:"corsRules"`
	LifecycleRules []lifecycleJSON   `json:"lifecycleRules"`
	Revision       int64             `json:"revision"`
	Options        []string          `json:"options"`
	DefaultSSE     struct {
		Readable bool     `json:"isClientAuthorizedToRead"`
		Value    *sseJSON `json:"value"`
	} `json:"defaultServerSideEncryption"`
	FileLock struct {
		Readable bool `json:"isClientAuthorizedToRead"`
		Value    *struct {
			Enabled          bool           `json:"isFileLockEnabled"`
			DefaultRetention *retentionJSON `json:"defaultRetention"`
		} `json:"value"`
	} `json:"fileLockConfiguration"`
	Replication replWrapperJSON `json:"replicationConfiguration"` // replication.go
}

type fileJSON struct {
	AccountID     string            `json:"accountId"`
	BucketID      string            `json:"bucketId"`
	FileID        string            `json:"fileId"`
	FileName      string            `json:"fileName"`
	Action        string            `json:"action"`
	ContentLength int64             `json:"contentLength"`
	ContentSha1   string            `json:"contentSha1"`
	ContentType   string            `json:"contentType"`
	FileInfo      map[string]string `json:"fileInfo"`
	Uploaded      int64             `json:"uploadTimestamp"`
	// ReplicationStatus is "pending", "completed", "failed" or "replica" (absent: none).
	ReplicationStatus string `json:"replicationStatus"`
	FileRetention     *struct {
		Readable bool `json:"isClientAuthorizedToRead"`
		Value    *struct {
			Mode        *string `json:"mode"`
			RetainUntil *int64  `json:"retainUntilTimestamp"`
		} `json:"value"`
	} `json:"fileRetention"`
	LegalHold *struct {
		Readable bool    `json:"isClientAuthorizedToRead"`
		Value    *string `json:"value"`
	} `json:"legalHold"`
}

type keyJSON struct {
	KeyName        string   `json:"keyName"`
	ApplicationKey string   `json:"applicationKey"`
	KeyID          string   `json:"applicationKeyId"`
	Capabilities   []string `json:"capabilities"`
	AccountID      string   `json:"accountId"`
	Expiration     *int64   `json:"expirationTimestamp"`
	BucketIDs      []string `json:"bucketIds"`
	BucketID       *string  `json:"bucketId"`
	NamePrefix     *string  `json:"namePrefix"`
	Options        []string `json:"options"`
}

func intPtr(n int) *int {
	if n == 0 {
		return nil
	}
	return &n
}

func derefInt(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

func strPtr(s string) *string { return &s }

func lifecycleToWire(rules []live.LifecycleRule) []lifecycleJSON {
	out := make([]lifecycleJSON, 0, len(rules))
	for _, r := range rules {
		out = append(out, lifecycleJSON{
			FileNamePrefix:                                  r.FileNamePrefix,
			DaysFromUploadingToHiding:                       intPtr(r.DaysFromUploadingToHiding),
			DaysFromHidingToDeleting:                        intPtr(r.DaysFromHidingToDeleting),
			DaysFromStartingToCancelingUnfinishedLargeFiles: intPtr(r.DaysFromStartingToCancelingUnfinishedLargeFiles),
		})
	}
	return out
}

func corsToWire(rules []live.CORSRule) []corsJSON {
	out := make([]corsJSON, 0, len(rules))
	for _, r := range rules {
		out = append(out, corsJSON{
			CorsRuleName:      r.Name,
			AllowedOrigins:    r.AllowedOrigins,
			AllowedOperations: r.AllowedOperations,
			AllowedHeaders:    r.AllowedHeaders,
			ExposeHeaders:     r.ExposeHeaders,
			MaxAgeSeconds:     r.MaxAgeSeconds,
		})
	}
	return out
}

// sseToWire maps "none"/"" and "SSE-B2".
func sseToWire(mode string) *sseJSON {
	if mode == "" || mode == "none" {
		return &sseJSON{Mode: nil}
	}
	return &sseJSON{Mode: strPtr(mode), Algorithm: strPtr("AES256")}
}

func retentionToWire(r live.Retention) *retentionJSON {
	if r.Mode == "" {
		return &retentionJSON{Mode: nil}
	}
	return &retentionJSON{Mode: strPtr(r.Mode), Period: &periodJSON{Duration: r.Period.Duration, Unit: r.Period.Unit}}
}

func (b *bucketJSON) toLive() live.Bucket {
	out := live.Bucket{
		Name:     b.BucketName,
		ID:       b.BucketID,
		Type:     b.BucketType,
		Revision: b.Revision,
		Options:  b.Options,
	}
	if len(b.BucketInfo) > 0 {
		out.Info = b.BucketInfo
	}
	for _, r := range b.LifecycleRules {
		out.LifecycleRules = append(out.LifecycleRules, live.LifecycleRule{
			FileNamePrefix:                                  r.FileNamePrefix,
			DaysFromUploadingToHiding:                       derefInt(r.DaysFromUploadingToHiding),
			DaysFromHidingToDeleting:                        derefInt(r.DaysFromHidingToDeleting),
			DaysFromStartingToCancelingUnfinishedLargeFiles: derefInt(r.DaysFromStartingToCancelingUnfinishedLargeFiles),
		})
	}
	for _, r := range b.CORSRules {
		out.CORSRules = append(out.CORSRules, live.CORSRule{
			Name:              r.CorsRuleName,
			AllowedOrigins:    r.AllowedOrigins,
			AllowedOperations: r.AllowedOperations,
			AllowedHeaders:    r.AllowedHeaders,
			ExposeHeaders:     r.ExposeHeaders,
			MaxAgeSeconds:     r.MaxAgeSeconds,
		})
	}
	out.Encryption.Readable = b.DefaultSSE.Readable
	if v := b.DefaultSSE.Value; v != nil {
		if v.Mode != nil {
			out.Encryption.Mode = *v.Mode
		}
		if v.Algorithm != nil {
			out.Encryption.Algorithm = *v.Algorithm
		}
	}
	out.Replication = b.Replication.toLive()
	out.ObjectLock.Readable = b.FileLock.Readable
	if v := b.FileLock.Value; v != nil {
		out.ObjectLock.Enabled = v.Enabled
		if r := v.DefaultRetention; r != nil && r.Mode != nil {
			out.ObjectLock.DefaultRetention.Mode = *r.Mode
			if r.Period != nil {
				out.ObjectLock.DefaultRetention.Period = live.Period{Duration: r.Period.Duration, Unit: r.Period.Unit}
			}
		}
	}
	return out
}

func (k *keyJSON) toLive() live.Key {
	out := live.Key{
		Name:         k.KeyName,
		ID:           k.KeyID,
		Capabilities: k.Capabilities,
		BucketIDs:    k.BucketIDs,
		Options:      k.Options,
	}
	if out.BucketIDs == nil && k.BucketID != nil && *k.BucketID != "" {
		out.BucketIDs = []string{*k.BucketID}
	}
	if k.NamePrefix != nil {
		out.NamePrefix = *k.NamePrefix
	}
	if k.Expiration != nil && *k.Expiration > 0 {
		out.Expires = time.UnixMilli(*k.Expiration).UTC()
	}
	return out
}

// versionBuilder converts file objects compactly: interned content types,
// nil empty info maps, and one name string shared by consecutive versions.
type versionBuilder struct {
	in       *live.Interner
	lastName string
	// ctypes caches interned content types by value (lean decoding).
	ctypes map[string]string
}

func (vb *versionBuilder) build(f *fileJSON) live.Version {
	v := live.Version{
		ID:       f.FileID,
		Size:     f.ContentLength,
		Uploaded: f.Uploaded,
	}
	if f.FileName == vb.lastName {
		v.Name = vb.lastName
	} else {
		v.Name = f.FileName
		vb.lastName = f.FileName
	}
	if vb.in != nil {
		v.ContentType = vb.in.Intern(f.ContentType)
	} else {
		v.ContentType = f.ContentType
	}
	v.Action, _ = live.ParseAction(f.Action)
	if len(f.FileInfo) > 0 {
		v.Info = f.FileInfo
	}
	if !v.SetSHA1Hex(f.ContentSha1, false) {
		if s, ok := f.FileInfo["large_file_sha1"]; ok {
			v.SetSHA1Hex(s, true)
		}
	}
	setReplicationStatus(&v, f.ReplicationStatus)
	if r := f.FileRetention; r != nil {
		switch {
		case !r.Readable:
			v.Retention = live.RetentionUnknown
		case r.Value != nil:
			if r.Value.Mode != nil {
				v.Retention = live.ParseRetentionMode(*r.Value.Mode)
			}
			if r.Value.RetainUntil != nil {
				v.RetainUntil = *r.Value.RetainUntil
			}
		}
	}
	if h := f.LegalHold; h != nil {
		switch {
		case !h.Readable:
			v.LegalHold = live.LegalHoldUnknown
		case h.Value != nil && *h.Value == "on":
			v.LegalHold = live.LegalHoldOn
		}
	}
	return v
}
