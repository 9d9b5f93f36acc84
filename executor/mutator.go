package executor

import (
	"context"

	"github.com/b2plan/b2plan/b2client"
	"github.com/b2plan/b2plan/live"
)

// Mutator is every B2 change the executor makes. *b2client.Mutator
// implements it. Implementations must be safe for concurrent use and retry
// transient failures themselves (the executor does not retry again, except
// where a contract below says a call may be repeated after looking).
type Mutator interface {
	// CreateBucket creates a bucket with every attribute of spec (including
	// the default retention, which needs a second call after enabling
	// Object Lock). A retried create that finds the bucket in this account
	// returns it.
	CreateBucket(ctx context.Context, spec b2client.BucketSpec) (live.Bucket, error)
	// UpdateBucket changes the attributes set in u. With ifRevisionIs set it
	// fails with class Conflict when the bucket changed since that revision.
	UpdateBucket(ctx context.Context, bucketID, name string, u b2client.BucketUpdate, ifRevisionIs *int64) (live.Bucket, error)
	// DeleteBucket deletes an empty bucket; already gone counts as done.
	DeleteBucket(ctx context.Context, bucketID, name string) error
	// Bucket re-reads one bucket by name (nil when it does not exist).
	Bucket(ctx context.Context, name string) (*live.Bucket, error)

	// CreateKey is not idempotent: after a failure of class Ambiguous the
	// key may exist; the executor lists KeysNamed before trying again.
	CreateKey(ctx context.Context, spec b2client.KeySpec) (b2client.CreatedKey, error)
	// DeleteKey deletes a key; already gone after a retry counts as done.
	DeleteKey(ctx context.Context, keyID, name string) error
	// KeysNamed lists every key with that name.
	KeysNamed(ctx context.Context, name string) ([]live.Key, error)

	// CopyFile copies one version (≤ 5 GB) server-side, keeping content type
	// and file info, and returns the new version as B2 reported it (its size
	// and SHA-1 are what the executor verifies). Not idempotent: class
	// Ambiguous means "look at the destination before copying again".
	CopyFile(ctx context.Context, r b2client.CopyRequest) (live.Version, error)
	// CopyLargeFile copies with start_large_file + parallel copy_part +
	// finish_large_file; it cancels the unfinished file on failure.
	CopyLargeFile(ctx context.Context, r b2client.LargeCopyRequest) (b2client.LargeCopyResult, error)
	// DeleteVersion deletes one file version; already gone after a retry
	// counts as done. Locked versions fail with class Locked.
	DeleteVersion(ctx context.Context, name, fileID string, bypassGovernance bool) error
	// CancelLargeFile cancels an unfinished large file; already gone counts
	// as done.
	CancelLargeFile(ctx context.Context, fileID, name string) error
	// HashVersion downloads one version and returns the size and SHA-1 of
	// its bytes (verify = "download").
	HashVersion(ctx context.Context, fileID, name string) (b2client.ContentHash, error)
	// HideFile adds a hide marker on top of name.
	HideFile(ctx context.Context, bucketID, name string) (live.Version, error)
	// UploadEmpty uploads a zero-byte file (a folder placeholder).
	UploadEmpty(ctx context.Context, bucketName, name string) (live.Version, error)
}

// BatchDeleter is implemented by a Mutator that can delete many versions of
// one bucket in one request (*b2client.Mutator over an S3 endpoint:
// DeleteObjects, up to 1,000 version ids). The executor then gathers the
// source deletions of moved objects into batches instead of one
// DeleteVersion per version. A copy is always verified before its source
// joins a batch.
type BatchDeleter interface {
	// DeleteBatchSize is the most versions one DeleteVersions request
	// removes; 1 or less means batching saves nothing (native API) and the
	// executor deletes one by one.
	DeleteBatchSize() int
	// DeleteVersions deletes versions of one bucket and returns one result
	// per item (nil = deleted or already gone; Locked versions fail with
	// class Locked).
	DeleteVersions(ctx context.Context, bucketName string, items []b2client.VersionRef) []error
}

// Lister lists file versions. It is used to resolve copies whose outcome is
// unknown (by listing the destination name) and may be nil, in which case
// such a copy fails its object without any removal of the source.
// ListFunc adapts b2client.Observe.
type Lister interface {
	List(ctx context.Context, req live.Request) (*live.Live, error)
}

// ListFunc is a function that is a Lister.
type ListFunc func(ctx context.Context, req live.Request) (*live.Live, error)

// List calls f.
func (f ListFunc) List(ctx context.Context, req live.Request) (*live.Live, error) { return f(ctx, req) }
