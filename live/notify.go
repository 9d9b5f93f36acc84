package live

// NotifyRule is one event notification rule of a bucket as B2 reports it
// (b2_get_bucket_notification_rules), normalised: event types sorted.
type NotifyRule struct {
	Name             string
	EventTypes       []string
	Prefix           string
	Enabled          bool
	Suspended        bool
	SuspensionReason string
	URL              string
	Headers          map[string]string // nil when none
	// Secret is the signing secret ("" = none). It is never serialised:
	// plans, plan files and outputs carry at most whether it changes.
	Secret string `json:"-"`
}
