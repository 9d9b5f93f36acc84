package config

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Desired is the whole configuration of one directory (or one file), evaluated and validated.
// Items appear in declaration order (files sorted by name); for_each instances are sorted by key.
type Desired struct {
	// Dir is the configuration directory; relative secret_file paths are resolved against it.
	Dir string

	Settings Settings
	// Provider is the default provider "b2" block; ProviderAliases the ones with an alias,
	// sorted by alias (providers.go).
	Provider        Provider
	ProviderAliases []*Provider

	Buckets []*Bucket
	Keys    []*Key
	Folders []*Folder
	Objects []*Object // object.go
	Moves   []*Move
	// Replications are the replication blocks (replication.go); they span accounts.
	Replications []*Replication
	// DataSources are the data blocks: lookups the caller performs (data.go).
	DataSources []*DataSource
	// Outputs are the output blocks in declaration order.
	Outputs []*Output

	// Variables holds the final value of every declared variable, rendered as HCL-like text
	// (for display only).
	Variables map[string]string

	// Files holds every parsed file (configuration and var files) by the name used in
	// diagnostics, so that a diagnostic writer can print source snippets.
	Files map[string]*hcl.File
}

// Bucket is one declared bucket instance (address bucket.NAME or bucket.NAME["KEY"]).
type Bucket struct {
	Address string
	Name    string
	// Provider is the alias of the provider (account) it belongs to; "" = the default.
	Provider string
	// Type is "allPrivate" (default) or "allPublic".
	Type string
	// Info is bucketInfo, keys lowercased as B2 stores them.
	Info map[string]string
	// LifecycleRules includes the rule expanded from keep_only_last_version, if set.
	LifecycleRules []LifecycleRule
	// KeepOnlyLastVersion records that the preset was used (its rule is in LifecycleRules).
	KeepOnlyLastVersion bool
	CORSRules           []CORSRule
	// Encryption is "none" (default) or "SSE-B2".
	Encryption string
	ObjectLock *ObjectLock
	// NotificationRules are the notification_rule blocks (notify.go).
	NotificationRules []NotificationRule
	PreventDestroy    bool
	// ForceDestroy lets destroy delete the bucket when it holds file versions or unfinished
	// large files: they are deleted first (b2plan destroy, docs/commands.md).
	ForceDestroy bool
	// Deferred lists the attributes whose value is only known after apply (see doc.go).
	Deferred []Deferred
	// Sensitive names the plan attributes (name, info, ...) derived from a sensitive value,
	// sorted; a plan shows them as "(sensitive value)".
	Sensitive []string
	Range     hcl.Range
}

// LifecycleRule is one B2 lifecycle rule. Nil day fields are absent (null in B2).
type LifecycleRule struct {
	Prefix                                          string
	DaysFromUploadingToHiding                       *int
	DaysFromHidingToDeleting                        *int
	DaysFromStartingToCancelingUnfinishedLargeFiles *int
	Range                                           hcl.Range
}

// CORSRule is one B2 CORS rule.
type CORSRule struct {
	Name              string
	AllowedOrigins    []string
	AllowedOperations []string
	AllowedHeaders    []string
	ExposeHeaders     []string
	MaxAgeSeconds     int
	Range             hcl.Range
}

// ObjectLock is the object_lock block of a bucket.
type ObjectLock struct {
	Enabled bool
	// DefaultRetention is nil when no default retention is declared.
	DefaultRetention *Retention
	Range            hcl.Range
}

// Retention is a default retention: Mode "governance" or "compliance", and exactly one of
// Days or Years (the other is 0).
type Retention struct {
	Mode  string
	Days  int
	Years int
}

// Key is one declared application key instance.
type Key struct {
	Address  string
	Name     string
	Provider string
	// Capabilities is sorted and de-duplicated, resolved from Access or given explicitly.
	Capabilities []string
	// Access is the preset name ("read-only", "write-only", "read-write") or "" when
	// capabilities were listed explicitly.
	Access string
	// Buckets are bucket names the key is restricted to (empty = all buckets).
	Buckets    []string
	NamePrefix string
	// Duration is the key lifetime (0 = never expires).
	Duration time.Duration
	// RenewBefore: a key expiring within this window is planned for replacement (0 = never).
	RenewBefore time.Duration
	// SecretFile is an absolute path (relative paths are resolved against the config dir),
	// or "" when none was declared.
	SecretFile string
	Deferred   []Deferred
	// Sensitive names the plan attributes derived from a sensitive value (see Bucket).
	Sensitive []string
	Range     hcl.Range
}

// Folder ensures a prefix exists in a bucket.
type Folder struct {
	Address  string
	Provider string
	Bucket   string
	Path     string
	Range    hcl.Range
}

// Move declares that everything under From in Bucket ends up under To in ToBucket.
type Move struct {
	Address  string
	Provider string
	Bucket   string
	From     string
	To       string
	ToBucket string // defaults to Bucket
	// Versions is "latest" (default) or "all".
	Versions string
	// Source is "delete" (default) or "hide".
	Source string
	// OnConflict is "fail" (default), "skip" or "overwrite".
	OnConflict string
	// Verify is "none" (default) or "download": names whose content
	// identity cannot be proven by SHA-1 are compared by downloading and
	// hashing both sides at apply (docs/moves.md, "Content identity").
	Verify string
	Range  hcl.Range
}

// Settings is the b2plan block.
type Settings struct {
	OwnsBuckets []string // glob patterns (path.Match syntax)
	OwnsKeys    []string
	Prune       bool
	Range       hcl.Range
}

// Provider is the provider "b2" block. Empty fields mean "not set in the configuration":
// the caller applies the environment (B2_ENDPOINT, B2_APPLICATION_KEY_ID, B2_APPLICATION_KEY)
// and the defaults of SPEC §1.3.
type Provider struct {
	// Alias is "" for the default provider.
	Alias            string
	Endpoint         string
	ApplicationKeyID string
	ApplicationKey   Secret
	Range            hcl.Range
}

// Secret is a string that never prints: String, GoString, Format and MarshalJSON redact it.
// Use Reveal to obtain the value.
type Secret struct{ v string }

// NewSecret wraps s.
func NewSecret(s string) Secret { return Secret{v: s} }

// Reveal returns the secret value.
func (s Secret) Reveal() string { return s.v }

// IsSet reports whether the secret is non-empty.
func (s Secret) IsSet() bool { return s.v != "" }

const redacted = SensitiveText

func (s Secret) String() string {
	if s.v == "" {
		return ""
	}
	return redacted
}

// GoString redacts the value in %#v.
func (s Secret) GoString() string { return fmt.Sprintf("config.Secret(%q)", s.String()) }

// Format redacts the value for every verb.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = f.Write([]byte(s.GoString()))
		return
	}
	_, _ = f.Write([]byte(s.String()))
}

// MarshalJSON redacts the value.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// Deferred is a string attribute whose value depends on something only known after apply:
// the id of a bucket or key that the same apply creates (bucket.NAME.id, key.NAME.id).
//
// Template is the value with each such id written as "${ADDRESS.id}" (for example
// "peer=${bucket.assets.id}"); the typed field of the item holds the same template. Refs are
// the addresses whose id is needed, sorted. A planner shows the attribute as
// "(known after apply)"; an executor calls Resolve once the ids exist.
type Deferred struct {
	// Path names the attribute inside its item: `name_prefix`, `info["peer"]`.
	Path     string
	Template string
	Refs     []string
	Range    hcl.Range
}

// Resolve substitutes the ids (by address, e.g. ids["bucket.assets"]) into the template.
func (d Deferred) Resolve(ids map[string]string) (string, error) {
	out := d.Template
	for _, ref := range d.Refs {
		id, ok := ids[ref]
		if !ok || id == "" {
			return "", fmt.Errorf("%s: id of %s is not known yet", d.Path, ref)
		}
		out = strings.ReplaceAll(out, "${"+ref+".id}", id)
	}
	return out, nil
}

// DeferredAt returns the deferred entry for an attribute path, if any.
func DeferredAt(list []Deferred, path string) (Deferred, bool) {
	for _, d := range list {
		if d.Path == path {
			return d, true
		}
	}
	return Deferred{}, false
}
