package planner

import (
	"strings"
)

// NoReplaceMatch begins the summary of the error for a -replace address that names no
// declared key or object; like NoTargetMatch, the plan is then not shown.
const NoReplaceMatch = "No key or object matches -replace="

// ReplaceReason is the reason of a replacement forced with -replace.
const ReplaceReason = "replacement requested with -replace"

// checkReplace validates Options.Replace: every address must be a declared key or object (or
// a for_each instance of one). It reports false (with an error) otherwise.
func (pl *planner) checkReplace() bool {
	ok := true
	for _, r := range pl.opts.Replace {
		matched := false
		for _, k := range pl.d.Keys {
			if matchesTarget(k.Address, r) {
				matched = true
			}
		}
		for _, o := range pl.d.Objects {
			if matchesTarget(o.Address, r) {
				matched = true
			}
		}
		if matched {
			continue
		}
		ok = false
		why := "The configuration declares no key or object " + r + "."
		for _, b := range pl.d.Buckets {
			if matchesTarget(b.Address, r) {
				why = r + " is a bucket: B2 cannot replace a bucket in place (its name is its identity, and deleting it deletes its files). Delete it with \"b2plan destroy -target=" + r + "\" and apply again if that is what you mean."
			}
		}
		if strings.HasPrefix(r, "unmanaged.") {
			why = r + " is not declared: only declared resources can be replaced."
		}
		var keys []string
		for _, k := range pl.d.Keys {
			keys = append(keys, k.Address)
		}
		for _, o := range pl.d.Objects {
			keys = append(keys, o.Address)
		}
		pl.errorf(nil, NoReplaceMatch+r, "-replace=%s: %s -replace takes the address of a declared key or object (key.NAME, object.NAME, key.NAME[\"KEY\"]).%s", r, why, targetSuggestion(r, keys))
	}
	return ok
}

// replaceRequested reports whether -replace names addr (or its for_each block).
func (pl *planner) replaceRequested(addr string) bool {
	for _, r := range pl.opts.Replace {
		if matchesTarget(addr, r) {
			return true
		}
	}
	return false
}
