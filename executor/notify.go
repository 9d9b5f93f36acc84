package executor

import (
	"context"
	"fmt"

	"github.com/b2plan/b2plan/live"
	"github.com/b2plan/b2plan/planner"
)

// notifyMutator writes event notification rules (b2client.Mutator).
type notifyMutator interface {
	NotifyRules(ctx context.Context, bucketID, name string) ([]live.NotifyRule, error)
	SetNotifyRules(ctx context.Context, bucketID, name string, rules []live.NotifyRule) error
}

// onlyNotify reports whether a bucket update changes nothing but its
// notification rules (no b2_update_bucket then).
func onlyNotify(bc *planner.BucketChange) bool {
	return bc.Notify != nil && !bc.SetType && !bc.SetInfo && !bc.SetLifecycleRules && !bc.SetCORSRules &&
		!bc.SetEncryption && !bc.EnableObjectLock && !bc.SetDefaultRetention && len(bc.Deferred) == 0
}

// applyNotify writes the bucket's whole rule set in one call. Secrets of
// unchanged rules are re-read from B2 (plans never hold them); new ones come
// from the in-memory plan, which a plan file never is (WriteFile refuses).
func (r *run) applyNotify(bc *planner.BucketChange, bucketID, name string) error {
	if bc.Notify == nil {
		return nil
	}
	nm, ok := r.m.(notifyMutator)
	if !ok {
		return fmt.Errorf("bucket %q: this connection cannot set notification rules", name)
	}
	rules := make([]live.NotifyRule, 0, len(bc.Notify.Rules))
	var current map[string]string // name → secret, read once when needed
	for _, nr := range bc.Notify.Rules {
		lr := nr.NotifyRule
		lr.Suspended, lr.SuspensionReason = false, ""
		switch nr.SecretSource {
		case planner.SecretNone:
			lr.Secret = ""
		case planner.SecretConfig:
			if lr.Secret == "" {
				return fmt.Errorf("bucket %q: notification rule %q needs its signing secret from the configuration, which plan files never hold: run \"b2plan apply\" on the configuration", name, lr.Name)
			}
		case planner.SecretLive:
			if current == nil {
				have, err := nm.NotifyRules(r.work, bucketID, name)
				if err != nil {
					return fmt.Errorf("bucket %q: read the notification rules for their signing secrets: %w", name, err)
				}
				current = map[string]string{}
				for _, h := range have {
					current[h.Name] = h.Secret
				}
			}
			lr.Secret = current[lr.Name]
			if lr.Secret == "" {
				return fmt.Errorf("bucket %q: notification rule %q lost its signing secret since the plan: not changed; re-run plan", name, lr.Name)
			}
		}
		rules = append(rules, lr)
	}
	if err := nm.SetNotifyRules(r.work, bucketID, name, rules); err != nil {
		return fmt.Errorf("set notification rules: %w", err)
	}
	return nil
}
