package live

// Replication is a bucket's replicationConfiguration as B2 reports it
// (b2_list_buckets): the bucket as a source (a key to read with, rules naming
// destination buckets) and as a destination (which of its own keys writes on
// behalf of each source key). B2 replaces it wholesale on b2_update_bucket.
type Replication struct {
	// Readable is false when the observing key lacks readBucketReplications:
	// then nothing else is known.
	Readable bool
	// SourceKeyID is asReplicationSource.sourceApplicationKeyId ("" = the
	// bucket is not a replication source).
	SourceKeyID string
	// Rules are the source rules, sorted by name.
	Rules []ReplicationRule
	// Mapping is asReplicationDestination.sourceToDestinationKeyMapping:
	// source key id → destination key id (nil = not a destination).
	Mapping map[string]string
}

// ReplicationRule is one rule of a replication source.
type ReplicationRule struct {
	Name                string
	DestinationBucketID string
	Prefix              string
	Priority            int
	IncludeExisting     bool
	Enabled             bool
}

// IsSource reports whether the bucket is a replication source.
func (r *Replication) IsSource() bool { return r.SourceKeyID != "" }
