package emulator

// Refusals of store operations carry a kind, so that each front words them
// its own way: the native API answers the embedded B2 error, the S3 API
// translates the kind (s3Refusal).

type refusal uint8

const (
	refNoBucket  refusal = iota + 1 // the bucket does not exist (any more)
	refBudget                       // file name + info exceed the header budget
	refLock                         // Object Lock settings refused
	refNoLarge                      // no such unfinished large file
	refNoFile                       // hide: no visible file of that name
	refHidden                       // hide: the name is hidden already
	refNoVersion                    // delete: no such version of that name
	refOtherName                    // delete: the version belongs to another name
	refTooLarge                     // copy source or part too large
)

type storeError struct {
	kind refusal
	*apiError
}

func (e *storeError) Unwrap() error { return e.apiError }

func refuse(kind refusal, err *apiError) *storeError { return &storeError{kind: kind, apiError: err} }

func refusalOf(err error) refusal {
	if se, ok := err.(*storeError); ok {
		return se.kind
	}
	return 0
}

// errNoFileLock refuses an Object Lock setting (retention, legal hold,
// default retention) on a bucket without Object Lock, in B2's words.
func errNoFileLock(b *bucket) *apiError {
	return errCode(400, "bucket_missing_file_lock", "The bucket "+b.Name+" does not have file lock enabled")
}

func errNoBucket(id string) *storeError {
	return refuse(refNoBucket, errCode(400, "bad_bucket_id", "Bucket "+id+" does not exist"))
}

func errNoLarge(fid string) *storeError {
	return refuse(refNoLarge, errBadRequest("no unfinished large file with id "+fid))
}
