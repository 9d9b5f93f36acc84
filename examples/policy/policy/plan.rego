# Policies for b2plan's plan document (b2plan show -json PLANFILE), which is
# Terraform's JSON plan format: they are written as for a Terraform plan
# (resource_changes, mode "managed", change.after, errored), with b2plan's
# resource types (bucket, key, folder, move; see docs/json-formats.md,
# "Vocabulary"). conftest runs the "deny" rules of package main.
#
# Settings (conftest --data FILE, or opa eval -d FILE), all optional:
#   {"b2plan": {"max_objects": 10000,          # objects a plan may move or delete
#               "public_buckets": ["acme-www"], # buckets allowed to be public
#               "production": true}}            # forbid prune (also: var env = "prod")
package main

import rego.v1

default settings := {}

settings := data.b2plan

max_objects := object.get(settings, "max_objects", 10000)

# Resources as they are after the plan: created, updated, replaced (the new
# object) or kept. A delete has no "after".
planned contains rc if {
	some rc in input.resource_changes
	rc.mode == "managed"
	rc.change.after != null
}

# A plan that could not be made is never acceptable: it says nothing about
# what would change.
deny contains "the plan has errors: fix them and plan again" if input.errored

deny contains "the document is not a plan (no resource_changes): run b2plan show -json PLANFILE" if {
	not input.resource_changes
}
