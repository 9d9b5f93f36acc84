package planner

import (
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/b2plan/b2plan/config"
	"github.com/b2plan/b2plan/live"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func ip(n int) *int { return &n }

// ver builds a file version; sha 0 means no SHA-1.
func ver(name, id string, size int64, sha byte) live.Version {
	v := live.Version{Name: name, ID: id, Size: size, ContentType: "text/plain", Uploaded: now.UnixMilli()}
	if sha != 0 {
		v.SHA1[0] = sha
		v.Flags |= live.FlagSHA1
	}
	return v
}

func hide(name, id string) live.Version {
	return live.Version{Name: name, ID: id, Action: live.ActionHide, ContentType: "application/x-bz-hide-marker"}
}

func liveBucket(name string) live.Bucket {
	return live.Bucket{Name: name, ID: "id-" + name, Type: live.AllPrivate, Revision: 3,
		Encryption: live.Encryption{Readable: true}, ObjectLock: live.ObjectLock{Readable: true}}
}

func opts() Options {
	return Options{Now: now, PlanID: "test-plan", Endpoint: "https://api.example", AccountID: "acct"}
}

func errorsOf(diags hcl.Diagnostics) []string {
	var out []string
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			out = append(out, d.Summary)
		}
	}
	return out
}

func warningsOf(diags hcl.Diagnostics) []string {
	var out []string
	for _, d := range diags {
		if d.Severity == hcl.DiagWarning {
			out = append(out, d.Summary)
		}
	}
	return out
}

// summary is a compact view of a plan for table tests.
func summary(p *Plan) []string {
	var out []string
	for _, ch := range p.Changes {
		s := ch.Action.String() + " " + ch.Address
		if len(ch.Changed) > 0 {
			s += " [" + strings.Join(ch.Changed, ",") + "]"
		}
		out = append(out, s)
	}
	for _, d := range p.Drift {
		out = append(out, fmt.Sprintf("drift %s deleted=%v", d.Address, d.Deleted))
	}
	return out
}

// opsOf renders a move's operations.
func opsOf(m *Move) []string {
	var out []string
	for _, op := range m.Ops {
		v := m.Sources[op.Src]
		switch op.Kind {
		case OpCopy, OpCopyLarge, OpHideDest:
			s := fmt.Sprintf("%s %s(%s) -> %s", op.Kind, v.Name, v.ID, m.DestName(op))
			if op.Kind == OpCopyLarge {
				s += fmt.Sprintf(" parts=%d", op.Parts)
			}
			out = append(out, s)
		default:
			out = append(out, fmt.Sprintf("%s %s(%s)", op.Kind, v.Name, v.ID))
		}
	}
	return out
}

func desired(mut func(d *config.Desired)) *config.Desired {
	d := &config.Desired{Dir: "/cfg"}
	if mut != nil {
		mut(d)
	}
	return d
}
