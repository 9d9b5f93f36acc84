package main

import rego.v1

# At most max_objects objects moved or deleted by one plan. Moves are
# resources of type "move": change.before.objects is what a move moves.
# Deletes of source objects are in b2plan's object_moves.
objects_moved := sum([rc.change.before.objects |
	some rc in input.resource_changes
	rc.mode == "managed"
	rc.type == "move"
	"update" in rc.change.actions
])

objects_deleted := sum([m.deletes | some m in object.get(input, "object_moves", [])])

deny contains msg if {
	objects_moved > max_objects
	msg := sprintf("the plan moves %d objects, more than %d: split the move or raise b2plan.max_objects", [objects_moved, max_objects])
}

deny contains msg if {
	objects_deleted > max_objects
	msg := sprintf("the plan deletes %d object versions, more than %d", [objects_deleted, max_objects])
}

# Every move that does something is reported (conftest prints warnings).
warn contains msg if {
	some rc in input.resource_changes
	rc.type == "move"
	"update" in rc.change.actions
	msg := sprintf("%s moves %d objects (%d bytes) from %q to %q", [rc.address, rc.change.before.objects, rc.change.before.bytes, rc.change.before.from, rc.change.before.to])
}
