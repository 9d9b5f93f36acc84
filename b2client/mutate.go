package b2client

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/b2plan/b2plan/live"
)

// Mutator makes the changes the executor needs. Consumers declare their own
// small interfaces over its methods. It is safe for concurrent use.
//
// Idempotence: delete calls whose earlier attempt may have succeeded treat a
// later "not found" as done; b2_create_key and b2_copy_file are never
// retried after a failure that may have reached B2 (class Ambiguous).
type Mutator struct {
	c   *Conn
	obj objectCalls // native, or S3 (objects.go)
}

// Conn returns the connection.
func (m *Mutator) Conn() *Conn { return m.c }

// BucketSpec is a bucket to create, with every attribute.
type BucketSpec struct {
	Name           string
	Type           string // allPrivate (default) or allPublic
	Info           map[string]string
	LifecycleRules []live.LifecycleRule
	CORSRules      []live.CORSRule
	Encryption     string // "" or "none", or "SSE-B2"
	ObjectLock     bool
	// DefaultRetention needs ObjectLock; B2 takes it only in
	// b2_update_bucket, so CreateBucket makes a second call for it.
	DefaultRetention live.Retention
}

// BucketUpdate lists the attributes to change; unset fields stay as they are
// (B2 replaces each supplied field wholesale).
type BucketUpdate struct {
	Type              string // "" = unchanged
	Info              map[string]string
	SetInfo           bool
	LifecycleRules    []live.LifecycleRule
	SetLifecycleRules bool
	CORSRules         []live.CORSRule
	SetCORSRules      bool
	Encryption        string // "" = unchanged, "none" or "SSE-B2"
	EnableObjectLock  bool   // one-way: Object Lock cannot be turned off
	// DefaultRetention, when non-nil, replaces the default retention
	// (Mode "" removes it).
	DefaultRetention *live.Retention
}

type createBucketReq struct {
	AccountID       string            `json:"accountId"`
	BucketName      string            `json:"bucketName"`
	BucketType      string            `json:"bucketType"`
	BucketInfo      map[string]string `json:"bucketInfo,omitempty"`
	CORSRules       []corsJSON        `json:"corsRules,omitempty"`
	LifecycleRules  []lifecycleJSON   `json:"lifecycleRules,omitempty"`
	FileLockEnabled bool              `json:"fileLockEnabled,omitempty"`
	DefaultSSE      *sseJSON          `json:"defaultServerSideEncryption,omitempty"`
}

type updateBucketReq struct {
	AccountID        string             `json:"accountId"`
	BucketID         string             `json:"bucketId"`
	BucketType       string             `json:"bucketType,omitempty"`
	BucketInfo       *map[string]string `json:"bucketInfo,omitempty"`
	CORSRules        *[]corsJSON        `json:"corsRules,omitempty"`
	LifecycleRules   *[]lifecycleJSON   `json:"lifecycleRules,omitempty"`
	DefaultRetention *retentionJSON     `json:"defaultRetention,omitempty"`
	DefaultSSE       *sseJSON           `json:"defaultServerSideEncryption,omitempty"`
	FileLockEnabled  *bool              `json:"fileLockEnabled,omitempty"`
	IfRevisionIs     *int64             `json:"ifRevisionIs,omitempty"`
}

// CreateBucket creates a bucket with every attribute of spec. If the name is
// taken (Conflict, code duplicate_bucket_name) and a retried request may have
// created it, the bucket found in this account is returned instead.
func (m *Mutator) CreateBucket(ctx context.Context, spec BucketSpec) (live.Bucket, error) {
	op := fmt.Sprintf("create bucket %q", spec.Name)
	typ := spec.Type
	if typ == "" {
		typ = live.AllPrivate
	}
	r := createBucketReq{
		AccountID:       m.c.AccountID(),
		BucketName:      spec.Name,
		BucketType:      typ,
		BucketInfo:      spec.Info,
		FileLockEnabled: spec.ObjectLock,
	}
	if len(spec.CORSRules) > 0 {
		r.CORSRules = corsToWire(spec.CORSRules)
	}
	if len(spec.LifecycleRules) > 0 {
		r.LifecycleRules = lifecycleToWire(spec.LifecycleRules)
	}
	if spec.Encryption != "" && spec.Encryption != "none" {
		r.DefaultSSE = sseToWire(spec.Encryption)
	}
	var resp bucketJSON
	n, err := m.c.call(ctx, op, "b2_create_bucket", r, &resp, false)
	if err != nil {
		var e *Error
		if n > 1 && errors.As(err, &e) && e.Code == "duplicate_bucket_name" {
			// An earlier attempt may have created it.
			if b, lerr := m.c.bucketByName(ctx, spec.Name); lerr == nil && b != nil {
				resp = bucketJSON{}
				return m.afterCreate(ctx, op, *b, spec)
			}
		}
		return live.Bucket{}, err
	}
	return m.afterCreate(ctx, op, resp.toLive(), spec)
}

func (m *Mutator) afterCreate(ctx context.Context, op string, b live.Bucket, spec BucketSpec) (live.Bucket, error) {
	if spec.DefaultRetention.Mode == "" {
		return b, nil
	}
	rev := b.Revision
	u, err := m.UpdateBucket(ctx, b.ID, b.Name, BucketUpdate{DefaultRetention: &spec.DefaultRetention}, &rev)
	if err != nil {
		return b, fmt.Errorf("%s: set default retention: %w", op, err)
	}
	return u, nil
}

// UpdateBucket changes the attributes set in u. With ifRevisionIs non-nil the
// change applies only if the bucket is still at that revision; otherwise it
// fails with class Conflict (re-read and re-plan). name is for messages.
func (m *Mutator) UpdateBucket(ctx context.Context, bucketID, name string, u BucketUpdate, ifRevisionIs *int64) (live.Bucket, error) {
	op := fmt.Sprintf("update bucket %q", name)
	r := updateBucketReq{AccountID: m.c.AccountID(), BucketID: bucketID, BucketType: u.Type, IfRevisionIs: ifRevisionIs}
	if u.SetInfo {
		info := u.Info
		if info == nil {
			info = map[string]string{}
		}
		r.BucketInfo = &info
	}
	if u.SetCORSRules {
		w := corsToWire(u.CORSRules)
		r.CORSRules = &w
	}
	if u.SetLifecycleRules {
		w := lifecycleToWire(u.LifecycleRules)
		r.LifecycleRules = &w
	}
	if u.Encryption != "" {
		r.DefaultSSE = sseToWire(u.Encryption)
	}
	if u.EnableObjectLock {
		t := true
		r.FileLockEnabled = &t
	}
	if u.DefaultRetention != nil {
		r.DefaultRetention = retentionToWire(*u.DefaultRetention)
	}
	var resp bucketJSON
	if _, err := m.c.call(ctx, op, "b2_update_bucket", r, &resp, false); err != nil {
		return live.Bucket{}, err
	}
	return resp.toLive(), nil
}

// DeleteBucket deletes an empty bucket. A bucket already gone after a retried
// request counts as deleted.
func (m *Mutator) DeleteBucket(ctx context.Context, bucketID, name string) error {
	op := fmt.Sprintf("delete bucket %q", name)
	r := struct {
		AccountID string `json:"accountId"`
		BucketID  string `json:"bucketId"`
	}{m.c.AccountID(), bucketID}
	n, err := m.c.call(ctx, op, "b2_delete_bucket", r, nil, false)
	if err != nil && n > 1 && errors.Is(err, NotFound) {
		return nil
	}
	return err
}

// Bucket returns the bucket of this account with that name, or nil.
func (m *Mutator) Bucket(ctx context.Context, name string) (*live.Bucket, error) {
	return m.c.bucketByName(ctx, name)
}

// KeySpec is an application key to create.
type KeySpec struct {
	Name         string
	Capabilities []string
	// BucketIDs restricts the key; more than one makes a v4 multi-bucket key
	// (invisible to clients older than API v4).
	BucketIDs  []string
	NamePrefix string
	// Duration is the key's lifetime; 0 = never expires.
	Duration time.Duration
}

// CreatedKey is a new key and its secret, returned only once by B2.
type CreatedKey struct {
	Key    live.Key
	Secret Secret
}

// CreateKey creates an application key: the v3 single-bucket request shape
// when it has at most one bucket, the v4 bucketIds shape for several.
//
// b2_create_key is not idempotent: after a failure that may have reached B2
// the error has class Ambiguous and no retry is made; list the keys by name
// (KeysNamed) before trying again, and delete any duplicate.
func (m *Mutator) CreateKey(ctx context.Context, spec KeySpec) (CreatedKey, error) {
	op := fmt.Sprintf("create key %q", spec.Name)
	type req struct {
		AccountID    string   `json:"accountId"`
		Capabilities []string `json:"capabilities"`
		KeyName      string   `json:"keyName"`
		Valid        int64    `json:"validDurationInSeconds,omitempty"`
		BucketID     string   `json:"bucketId,omitempty"`
		BucketIDs    []string `json:"bucketIds,omitempty"`
		NamePrefix   string   `json:"namePrefix,omitempty"`
	}
	r := req{AccountID: m.c.AccountID(), Capabilities: spec.Capabilities, KeyName: spec.Name, NamePrefix: spec.NamePrefix}
	if spec.Duration > 0 {
		r.Valid = int64((spec.Duration + time.Second - 1) / time.Second)
	}
	version := "v3"
	switch len(spec.BucketIDs) {
	case 0:
	case 1:
		r.BucketID = spec.BucketIDs[0]
	default:
		version = "v4"
		r.BucketIDs = spec.BucketIDs
	}
	var resp keyJSON
	if _, err := m.c.callVersion(ctx, op, version, "b2_create_key", r, &resp, true); err != nil {
		return CreatedKey{}, err
	}
	ck := CreatedKey{Key: resp.toLive(), Secret: NewSecret(resp.ApplicationKey)}
	resp.ApplicationKey = ""
	return ck, nil
}

// DeleteKey deletes an application key (v4, so multi-bucket keys too).
func (m *Mutator) DeleteKey(ctx context.Context, keyID, name string) error {
	op := fmt.Sprintf("delete key %q (%s)", name, keyID)
	r := struct {
		ID string `json:"applicationKeyId"`
	}{keyID}
	n, err := m.c.call(ctx, op, "b2_delete_key", r, nil, false)
	if err != nil && n > 1 {
		var e *Error
		if errors.As(err, &e) && (e.Class == NotFound || e.Code == "bad_request") {
			return nil
		}
	}
	return err
}

// KeysNamed lists every key with that name (key names are not unique), for
// reconciling an ambiguous CreateKey.
func (m *Mutator) KeysNamed(ctx context.Context, name string) ([]live.Key, error) {
	all, err := m.c.listKeys(ctx)
	if err != nil {
		return nil, err
	}
	var out []live.Key
	for _, k := range all {
		if k.Name == name {
			out = append(out, k)
		}
	}
	return out, nil
}

// DeleteVersion with b2_delete_file_version (see Mutator.DeleteVersion).
func (o nativeObjects) DeleteVersion(ctx context.Context, name, fileID string, bypassGovernance bool) error {
	m := o.m
	op := func() string { return fmt.Sprintf("delete version %s (%s)", name, fileID) }
	r := struct {
		FileName         string `json:"fileName"`
		FileID           string `json:"fileId"`
		BypassGovernance bool   `json:"bypassGovernance,omitempty"`
	}{name, fileID, bypassGovernance}
	n, err := m.c.callLazy(ctx, op, "b2_delete_file_version", r, nil, false)
	if err != nil && n > 1 && errors.Is(err, NotFound) {
		return nil
	}
	return err
}

// HideFile with b2_hide_file (see Mutator.HideFile).
func (o nativeObjects) HideFile(ctx context.Context, bucketID, name string) (live.Version, error) {
	m := o.m
	op := fmt.Sprintf("hide file %s", name)
	r := struct {
		BucketID string `json:"bucketId"`
		FileName string `json:"fileName"`
	}{bucketID, name}
	var resp fileReply
	n, err := m.c.call(ctx, op, "b2_hide_file", r, &resp, false)
	if err != nil {
		var e *Error
		if n > 1 && errors.As(err, &e) && e.Code == "already_hidden" {
			return live.Version{Name: name, Action: live.ActionHide}, nil
		}
		return live.Version{}, err
	}
	return resp.v, nil
}

// GetFileInfo returns one version's metadata.
func (m *Mutator) GetFileInfo(ctx context.Context, fileID string) (live.Version, error) {
	return m.c.getFileInfo(ctx, "get file info "+fileID, fileID)
}

func (c *Conn) getFileInfo(ctx context.Context, op, fileID string) (live.Version, error) {
	r := struct {
		FileID string `json:"fileId"`
	}{fileID}
	var resp fileJSON
	if _, err := c.call(ctx, op, "b2_get_file_info", r, &resp, false); err != nil {
		return live.Version{}, err
	}
	return (&versionBuilder{}).build(&resp), nil
}

// callVersion is call under another API version.
func (c *Conn) callVersion(ctx context.Context, op, version, api string, req, resp any, nonIdempotent bool) (int, error) {
	if version == "v4" {
		return c.call(ctx, op, api, req, resp, nonIdempotent)
	}
	return c.callPath(ctx, op, "/b2api/"+version+"/"+api, req, resp, nonIdempotent)
}

// describe names a file for messages: bucket/name when the bucket is known.
func describe(bucket, name string) string {
	if bucket == "" {
		return name
	}
	return strings.TrimSuffix(bucket, "/") + "/" + name
}
