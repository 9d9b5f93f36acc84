package b2client

import (
	"context"
	"fmt"
	"sort"

	"github.com/b2plan/b2plan/live"
)

// Replication: a bucket's replicationConfiguration, read with the bucket
// (b2_list_buckets, needs readBucketReplications) and written with
// b2_update_bucket (needs writeBuckets and writeBucketReplications). B2
// replaces the whole configuration, both parts, on every write.

type replRuleJSON struct {
	DestinationBucketID  string `json:"destinationBucketId"`
	FileNamePrefix       string `json:"fileNamePrefix"`
	IncludeExistingFiles bool   `json:"includeExistingFiles"`
	IsEnabled            bool   `json:"isEnabled"`
	Priority             int    `json:"priority"`
	ReplicationRuleName  string `json:"replicationRuleName"`
}

type replConfigJSON struct {
	Source *struct {
		Rules []replRuleJSON `json:"replicationRules"`
		KeyID string         `json:"sourceApplicationKeyId"`
	} `json:"asReplicationSource,omitempty"`
	Destination *struct {
		Mapping map[string]string `json:"sourceToDestinationKeyMapping"`
	} `json:"asReplicationDestination,omitempty"`
}

// replWrapperJSON is replicationConfiguration in a bucket object.
type replWrapperJSON struct {
	Readable bool            `json:"isClientAuthorizedToRead"`
	Value    *replConfigJSON `json:"value"`
}

func (w *replWrapperJSON) toLive() live.Replication {
	out := live.Replication{Readable: w.Readable}
	if w.Value == nil {
		return out
	}
	if s := w.Value.Source; s != nil && s.KeyID != "" {
		out.SourceKeyID = s.KeyID
		for _, r := range s.Rules {
			out.Rules = append(out.Rules, live.ReplicationRule{Name: r.ReplicationRuleName, DestinationBucketID: r.DestinationBucketID,
				Prefix: r.FileNamePrefix, Priority: r.Priority, IncludeExisting: r.IncludeExistingFiles, Enabled: r.IsEnabled})
		}
		sort.Slice(out.Rules, func(i, j int) bool { return out.Rules[i].Name < out.Rules[j].Name })
	}
	if d := w.Value.Destination; d != nil && len(d.Mapping) > 0 {
		out.Mapping = map[string]string{}
		for k, v := range d.Mapping {
			out.Mapping[k] = v
		}
	}
	return out
}

// replicationToWire is the request form of r: {} clears the configuration.
func replicationToWire(r live.Replication) map[string]any {
	out := map[string]any{}
	if r.SourceKeyID != "" && len(r.Rules) > 0 {
		rules := make([]replRuleJSON, 0, len(r.Rules))
		for _, x := range r.Rules {
			rules = append(rules, replRuleJSON{DestinationBucketID: x.DestinationBucketID, FileNamePrefix: x.Prefix,
				IncludeExistingFiles: x.IncludeExisting, IsEnabled: x.Enabled, Priority: x.Priority, ReplicationRuleName: x.Name})
		}
		out["asReplicationSource"] = map[string]any{"sourceApplicationKeyId": r.SourceKeyID, "replicationRules": rules}
	}
	if len(r.Mapping) > 0 {
		out["asReplicationDestination"] = map[string]any{"sourceToDestinationKeyMapping": r.Mapping}
	}
	return out
}

// SetReplication replaces the replicationConfiguration of a bucket (both
// parts: a part r leaves empty is removed) and returns the bucket as B2
// reports it after the change. name is for messages.
func (m *Mutator) SetReplication(ctx context.Context, bucketID, name string, r live.Replication) (live.Bucket, error) {
	op := fmt.Sprintf("set replication of bucket %q", name)
	req := struct {
		AccountID string         `json:"accountId"`
		BucketID  string         `json:"bucketId"`
		Config    map[string]any `json:"replicationConfiguration"`
	}{m.c.AccountID(), bucketID, replicationToWire(r)}
	var resp bucketJSON
	if _, err := m.c.call(ctx, op, "b2_update_bucket", req, &resp, false); err != nil {
		return live.Bucket{}, err
	}
	return resp.toLive(), nil
}
