package main

import rego.v1

# No public buckets, except those listed in data.b2plan.public_buckets.
deny contains msg if {
	some rc in planned
	rc.type == "bucket"
	rc.change.after.type == "allPublic"
	not rc.change.after.name in object.get(settings, "public_buckets", [])
	msg := sprintf("%s: bucket %q would be public (type = \"allPublic\"); make it allPrivate or list it in b2plan.public_buckets", [rc.address, rc.change.after.name])
}

# A bucket type that is sensitive or unknown cannot be checked: refuse
# rather than pass silently.
deny contains msg if {
	some rc in planned
	rc.type == "bucket"
	rc.change.after.type == null
	msg := sprintf("%s: the bucket type is not known before apply (sensitive or computed): cannot check that it is private", [rc.address])
}
