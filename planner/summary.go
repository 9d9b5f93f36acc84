package planner

import (
	"fmt"
	"strings"
)

// ChangeSummary counts a plan as Terraform does (its "Plan: N to add, N to
// change, N to destroy." line and the change_summary message of the
// machine-readable stream). It is the one counting rule behind the human
// summary line, the stream and the JSON document:
//
//   - a create is 1 add, an update 1 change, a delete 1 destroy;
//   - a key replacement (create-before-delete) is 1 add and 1 destroy;
//   - a move with operations is 1 change (it is an "update" resource of
//     type "move" in the JSON document); a completed move counts nothing;
//   - no-op changes and unmanaged resources left in place count nothing.
type ChangeSummary struct {
	Add, Change, Destroy int
	// b2plan's extras (the second summary line).
	Replace int   // key replacements (each also counted in Add and Destroy)
	Moves   int   // moves with operations (each also counted in Change)
	Objects int64 // objects to move
	Bytes   int64 // bytes to copy
}

// Summary counts p (see ChangeSummary).
func (p *Plan) Summary() ChangeSummary {
	var s ChangeSummary
	for _, ch := range p.Changes {
		switch ch.Action {
		case Create:
			s.Add++
		case Update:
			s.Change++
		case Replace:
			s.Add++
			s.Destroy++
			s.Replace++
		case Delete:
			s.Destroy++
		}
	}
	for _, m := range p.Moves {
		if m.Action() == MoveObjects {
			s.Change++
			s.Moves++
		}
		s.Objects += int64(m.Objects)
		s.Bytes += m.Bytes
	}
	return s
}

// NoChangesLine is Terraform's wording for a plan without actions.
const NoChangesLine = "No changes. Your infrastructure matches the configuration."

// NoDestroyLine is Terraform's wording for a destroy plan without actions,
// followed by its explanation.
const NoDestroyLine = "No changes. No objects need to be destroyed.\n\n" +
	"Either you have not created any objects yet or the existing objects were already deleted outside of b2plan."

// SummaryLine is the end of a human plan: Terraform's line ("Plan: N to add,
// N to change, N to destroy." or NoChangesLine), then b2plan's extras
// (replacements, objects and bytes to move) on a line of their own. A plan
// with errors never says "No changes": it says that it has errors.
func (p *Plan) SummaryLine() string {
	s := p.Summary()
	if p.Errored {
		return fmt.Sprintf("The plan has errors (see above): nothing can be applied until they are fixed. "+
			"Changes planned so far: %d to add, %d to change, %d to destroy.", s.Add, s.Change, s.Destroy)
	}
	kept := 0
	for _, d := range p.Drift {
		if !d.Deleted {
			kept++
		}
	}
	// Objects left under a move's source (locked, hidden, in conflict) are
	// not "no changes" either: the move is not complete.
	if !p.HasActions() && kept == 0 && !p.moveWork() {
		if p.Destroy {
			return NoDestroyLine
		}
		return NoChangesLine
	}
	// Unmanaged resources left in place are no action, but not "no changes"
	// either (-detailed-exitcode reports them), so the Plan line is printed.
	line := fmt.Sprintf("Plan: %d to add, %d to change, %d to destroy.", s.Add, s.Change, s.Destroy)
	var extras []string
	if s.Replace > 0 {
		extras = append(extras, plural(s.Replace, "key replacement", "key replacements")+" (each 1 to add and 1 to destroy)")
	}
	if s.Moves > 0 {
		extras = append(extras, fmt.Sprintf("%d objects to move (%s) in %s", s.Objects, HumanBytes(s.Bytes),
			plural(s.Moves, "move", "moves")))
	}
	if kept > 0 {
		extras = append(extras, plural(kept, "unmanaged resource", "unmanaged resources")+" left in place")
	}
	var left, cancel int
	for _, m := range p.Moves {
		left += m.Remaining()
		cancel += len(m.Abandoned)
	}
	if cancel > 0 {
		extras = append(extras, plural(cancel, "abandoned copy", "abandoned copies")+" to cancel")
	}
	if left > 0 {
		extras = append(extras, plural(left, "object remains", "objects remain")+" under move sources (listed above with the reason)")
	}
	if len(extras) > 0 {
		line += "\nb2plan: " + strings.Join(extras, ", ") + "."
	}
	return line
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
