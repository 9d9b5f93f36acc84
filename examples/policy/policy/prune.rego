package main

import rego.v1

# No prune in production: resources that exist in B2 but are declared
# nowhere are never deleted there. Production is data.b2plan.production, or
# a variable env set to "prod" / "production".
production if settings.production == true

production if input.variables.env.value in {"prod", "production"}

deny contains msg if {
	production
	some rc in input.resource_changes
	rc.mode == "managed"
	"delete" in rc.change.actions
	rc.action_reason == "delete_because_no_resource_config"
	msg := sprintf("%s: prune would delete it in production; set prune = false there, or declare it", [rc.address])
}
