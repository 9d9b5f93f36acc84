package planner

import (
	"encoding/json"
	"time"

	"github.com/b2plan/b2plan/live"
)

// FormatVersion is the version of the JSON plan document (and of the plan
// file body). A reader refuses another major version.
const FormatVersion = "1.0"

// Action is what a plan does to one address.
type Action uint8

const (
	NoOp        Action = iota
	Create             // +
	Update             // ~ in place
	Replace            // -/+ create-before-delete (keys)
	Delete             // -
	MoveObjects        // > a move with object operations
)

// String returns the action name.
func (a Action) String() string {
	switch a {
	case NoOp:
		return "no-op"
	case Create:
		return "create"
	case Update:
		return "update"
	case Replace:
		return "replace"
	case Delete:
		return "delete"
	case MoveObjects:
		return "move"
	}
	return "unknown"
}

// Symbol is the display symbol of the human plan.
func (a Action) Symbol() string {
	switch a {
	case Create:
		return "+"
	case Update:
		return "~"
	case Replace:
		return "-/+"
	case Delete:
		return "-"
	case MoveObjects:
		return ">"
	}
	return " "
}

// JSONActions is change.actions of the JSON plan (Terraform's vocabulary).
// A replacement is create-before-delete: ["create","delete"].
func (a Action) JSONActions() []string {
	switch a {
	case Create:
		return []string{"create"}
	case Update:
		return []string{"update"}
	case Replace:
		return []string{"create", "delete"}
	case Delete:
		return []string{"delete"}
	case MoveObjects:
		return []string{"move"}
	}
	return []string{"no-op"}
}

// Attr is one attribute of a resource as shown in a plan. Value is its JSON
// encoding (normalised: sorted lists, lowercased info keys); Unknown marks a
// value known only after apply (Value then holds the template as a string).
//
// Sensitive marks a value derived from a sensitive variable: the plan does not hold it (Value
// is empty) and every rendering shows "(sensitive value)"; the executor takes the value from
// BucketChange / KeyChange.
type Attr struct {
	Name      string          `json:"name"`
	Value     json.RawMessage `json:"value,omitempty"`
	Unknown   bool            `json:"unknown,omitempty"`
	Sensitive bool            `json:"sensitive,omitempty"`
	// SensitivePaths marks sensitive values nested in Value (Terraform's
	// after_sensitive shape), e.g. notification_rules' signing secrets.
	SensitivePaths json.RawMessage `json:"sensitive_paths,omitempty"`
}

// Change is the planned action for one bucket, key or folder address.
type Change struct {
	Address string `json:"address"`
	// Module is the module path of the address (module.site["a"]), "" in the root.
	Module string `json:"module,omitempty"`
	// Provider is the alias of the account it belongs to ("" = the default provider).
	Provider string `json:"provider,omitempty"`
	Type     string `json:"type"` // "bucket", "key", "folder"
	Name     string `json:"name"` // the block label
	Index    string `json:"index,omitempty"`
	// HasIndex is true for a for_each instance (Index is its key).
	HasIndex bool   `json:"has_index,omitempty"`
	Action   Action `json:"action"`
	// Reason explains a replace or delete (user interface only).
	Reason string `json:"reason,omitempty"`
	// Before and After are ordered attribute lists (nil for create / delete).
	Before []Attr `json:"before,omitempty"`
	After  []Attr `json:"after,omitempty"`
	// Changed names the attributes that differ (updates and replaces).
	Changed []string `json:"changed,omitempty"`
	// Notes are informational remarks (e.g. an unreadable setting).
	Notes []string `json:"notes,omitempty"`

	Bucket *BucketChange `json:"bucket,omitempty"`
	Key    *KeyChange    `json:"key,omitempty"`
	Folder *FolderChange `json:"folder,omitempty"`
	Object *ObjectChange `json:"object,omitempty"` // plan_object.go
}

// BucketChange is what the executor needs for a bucket.
type BucketChange struct {
	// Desired is the declared bucket in live form (nil for a delete). Info
	// values listed in Deferred are templates to resolve at apply.
	Desired  *live.Bucket    `json:"desired,omitempty"`
	Deferred []DeferredValue `json:"deferred,omitempty"`
	// Fingerprint of the live bucket (update, delete): id and revision.
	ID       string `json:"id,omitempty"`
	Revision int64  `json:"revision,omitempty"`
	// Update flags: which fields b2_update_bucket must send.
	SetType, SetInfo, SetLifecycleRules, SetCORSRules, SetEncryption bool
	EnableObjectLock, SetDefaultRetention                            bool
	// Notify is the rule set to write (plan_notify.go); nil = unchanged.
	Notify *NotifyChange `json:"notify,omitempty"`
	// Name is the bucket's name for a delete of a declared bucket (destroy), whose Change.Name
	// is the block label.
	Name string `json:"name,omitempty"`
	// Empty and Unfinished are what a delete with force_destroy removes before the bucket:
	// every file version, and every unfinished large file (plan_destroy.go).
	Empty      []ObjectRef `json:"empty,omitempty"`
	Unfinished []ObjectRef `json:"unfinished,omitempty"`
}

// KeyChange is what the executor needs for a key.
type KeyChange struct {
	Name         string   `json:"name"`
	Capabilities []string `json:"capabilities,omitempty"`
	// BucketNames are the declared bucket restrictions; BucketIDs the ids of
	// those already live (a bucket the same apply creates has no id yet).
	BucketNames []string        `json:"bucket_names,omitempty"`
	BucketIDs   []string        `json:"bucket_ids,omitempty"`
	NamePrefix  string          `json:"name_prefix,omitempty"`
	Duration    time.Duration   `json:"duration,omitempty"`
	SecretFile  string          `json:"secret_file,omitempty"`
	Deferred    []DeferredValue `json:"deferred,omitempty"`
	// OldID is the fingerprint of the live key to delete (replace, delete).
	OldID string `json:"old_id,omitempty"`
	// Deposed marks the delete of a key an interrupted replacement left
	// behind (Terraform's "deposed object"): the address's current key is
	// the one whose id its secret_file holds.
	Deposed bool `json:"deposed,omitempty"`
}

// FolderChange is a folder placeholder to upload.
type FolderChange struct {
	Bucket string `json:"bucket"`
	Path   string `json:"path"`
	// Placeholder is the file name to upload (Path + ".bzEmpty").
	Placeholder string `json:"placeholder"`
	// Versions are the placeholder's versions a destroy deletes (Action Delete).
	Versions []ObjectRef `json:"versions,omitempty"`
}

// DeferredValue is an attribute known only after apply (see config.Deferred).
type DeferredValue struct {
	Path     string   `json:"path"`
	Template string   `json:"template"`
	Refs     []string `json:"refs"`
}

// Drift is an unmanaged resource: it matches b2plan.owns but is not declared.
type Drift struct {
	Address  string `json:"address"`
	Provider string `json:"provider,omitempty"`
	Type     string `json:"type"` // "bucket" or "key"
	Name     string `json:"name"`
	ID       string `json:"id"`
	// Deleted says the plan deletes it (prune = true); the Change is then in
	// Plan.Changes under the same address.
	Deleted bool   `json:"deleted"`
	Note    string `json:"note,omitempty"`
}

// Variable is an input variable as a plan shows it: its value as JSON, or
// none when it is sensitive (the plan never holds a sensitive value).
type Variable struct {
	Name      string          `json:"name"`
	Value     json.RawMessage `json:"value,omitempty"`
	Sensitive bool            `json:"sensitive,omitempty"`
}

// Plan is the result of planning.
type Plan struct {
	FormatVersion string    `json:"format_version"`
	ID            string    `json:"id"`
	CreatedAt     time.Time `json:"created_at"`
	Endpoint      string    `json:"endpoint,omitempty"`
	AccountID     string    `json:"account_id,omitempty"`
	Targets       []string  `json:"targets,omitempty"`
	Prune         bool      `json:"prune,omitempty"`
	// Destroy marks a plan of b2plan destroy (Options.Destroy).
	Destroy bool `json:"destroy,omitempty"`
	// MaxCopyFileSize and PartSize are the copy limits the plan assumed
	// (Options; plan file 1.1). 0 = B2's defaults (not given, or a 1.0 file).
	MaxCopyFileSize int64 `json:"max_copy_file_size,omitempty"`
	PartSize        int64 `json:"part_size,omitempty"`

	// Errored is set when planning reported an error: such a plan is shown
	// (what could be planned) but never applied or saved.
	Errored bool `json:"errored,omitempty"`
	// Variables are the configuration's input variables (display only).
	Variables []Variable `json:"variables,omitempty"`

	Changes []*Change `json:"changes,omitempty"`
	Drift   []*Drift  `json:"drift,omitempty"`
	Moves   []*Move   `json:"-"` // serialised separately (compact)
	Notes   []string  `json:"notes,omitempty"`
	// Accounts binds the plan to the accounts of provider aliases (accounts.go); the default
	// provider's account is Endpoint / AccountID.
	Accounts []AccountRef `json:"accounts,omitempty"`
	// Replication are the replication configurations apply writes, one per bucket, after
	// every account's changes (plan_replication.go).
	Replication []*ReplicationWrite `json:"replication,omitempty"`
	// Outputs are the output values, sorted by name (outputs.go).
	Outputs []*Output `json:"outputs,omitempty"`
}

// CopyLimits returns the copy limits the plan assumed, defaults filled in.
func (p *Plan) CopyLimits() CopyLimits {
	return CopyLimits{MaxCopyFileSize: p.MaxCopyFileSize, PartSize: p.PartSize}.withDefaults()
}

// Counts are the totals of the last line of a human plan.
type Counts struct {
	Add, Change, Replace, Destroy int
	Objects                       int64
}

// Counts sums the plan.
func (p *Plan) Counts() Counts {
	var c Counts
	for _, ch := range p.Changes {
		switch ch.Action {
		case Create:
			c.Add++
		case Update:
			c.Change++
		case Replace:
			c.Replace++
		case Delete:
			c.Destroy++
		}
	}
	for _, m := range p.Moves {
		c.Objects += int64(m.Objects)
	}
	return c
}

// HasChanges reports whether live B2 differs from the configuration: anything
// to add, change, replace, destroy or move, and also unmanaged resources
// (drift), which differ from the declaration even when prune is off. It is
// what -detailed-exitcode uses (2 when true).
func (p *Plan) HasChanges() bool {
	c := p.Counts()
	return c.Add+c.Change+c.Replace+c.Destroy > 0 || c.Objects > 0 || len(p.Drift) > 0 || p.moveWork()
}

// moveWork reports whether a move has anything to do or report besides
// objects to move: abandoned copies to cancel, or objects left under its
// source (Move.Remaining).
func (p *Plan) moveWork() bool {
	for _, m := range p.Moves {
		if len(m.Abandoned) > 0 || m.Remaining() > 0 {
			return true
		}
	}
	return false
}

// HasActions reports whether applying the plan would make any call.
func (p *Plan) HasActions() bool {
	c := p.Counts()
	if c.Add+c.Change+c.Replace+c.Destroy > 0 || c.Objects > 0 {
		return true
	}
	for _, m := range p.Moves {
		if len(m.Abandoned) > 0 {
			return true
		}
	}
	return false
}
