package main

import rego.v1

# Keys must expire: every key declares a duration.
deny contains msg if {
	some rc in planned
	rc.type == "key"
	not key_expires(rc)
	msg := sprintf("%s: key %q never expires; set duration (and renew_before)", [rc.address, key_name(rc)])
}

key_expires(rc) if rc.change.after.duration != null

key_expires(rc) if rc.change.after.expires != null

# Key scope: restricted to buckets and to a name prefix. A value that is
# sensitive or unknown cannot be checked, so it does not pass.
deny contains msg if {
	some rc in planned
	rc.type == "key"
	not restricted_to_buckets(rc)
	msg := sprintf("%s: key %q is not restricted to buckets (or they are not known); set buckets", [rc.address, key_name(rc)])
}

deny contains msg if {
	some rc in planned
	rc.type == "key"
	not limited_to_prefix(rc)
	msg := sprintf("%s: key %q is not limited to a name prefix (or it is sensitive or not known); set name_prefix", [rc.address, key_name(rc)])
}

restricted_to_buckets(rc) if count(rc.change.after.buckets) > 0

limited_to_prefix(rc) if {
	p := rc.change.after.name_prefix
	is_string(p)
	p != ""
}

key_name(rc) := n if {
	n := rc.change.after.name
	is_string(n)
} else := rc.name
