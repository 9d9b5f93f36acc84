package emulator

// Replication (replicationConfiguration of buckets).

type replRule struct {
	DestinationBucketID  string `json:"destinationBucketId"`
	FileNamePrefix       string `json:"fileNamePrefix"`
	IncludeExistingFiles bool   `json:"includeExistingFiles"`
	IsEnabled            bool   `json:"isEnabled"`
	Priority             int    `json:"priority"`
	ReplicationRuleName  string `json:"replicationRuleName"`
}

type replSource struct {
	SourceApplicationKeyID string     `json:"sourceApplicationKeyId"`
	ReplicationRules       []replRule `json:"replicationRules"`
}

type replDest struct {
	SourceToDestinationKeyMapping map[string]string `json:"sourceToDestinationKeyMapping"`
}

type replConfig struct {
	AsReplicationSource      *replSource `json:"asReplicationSource,omitempty"`
	AsReplicationDestination *replDest   `json:"asReplicationDestination,omitempty"`
}

type replicator struct{}

func (r *replicator) stop() {}

func (st *store) replicateEvents(evs []storeEvent) {}
