package config

import "sort"

// Capabilities is the set of B2 application-key capability names b2plan accepts
// (reference §4.1), in the order B2 documents them.
var Capabilities = []string{
	"listKeys", "writeKeys", "deleteKeys",
	"listBuckets", "listAllBucketNames", "readBuckets", "writeBuckets", "deleteBuckets",
	"readBucketRetentions", "writeBucketRetentions",
	"readBucketEncryption", "writeBucketEncryption",
	"readBucketReplications", "writeBucketReplications",
	"readBucketNotifications", "writeBucketNotifications",
	"listFiles", "readFiles", "shareFiles", "writeFiles", "deleteFiles",
	"readFileLegalHolds", "writeFileLegalHolds",
	"readFileRetentions", "writeFileRetentions",
	"bypassGovernance",
}

// BucketRestrictedCapabilities are the only capabilities a key restricted to buckets may hold
// (reference §4.2): no key capabilities, no writeBuckets/deleteBuckets.
var BucketRestrictedCapabilities = []string{
	"listAllBucketNames", "listBuckets", "readBuckets",
	"readBucketEncryption", "writeBucketEncryption",
	"readBucketRetentions", "writeBucketRetentions",
	"readBucketNotifications", "writeBucketNotifications",
	"listFiles", "readFiles", "shareFiles", "writeFiles", "deleteFiles",
	"readFileLegalHolds", "writeFileLegalHolds",
	"readFileRetentions", "writeFileRetentions",
	"bypassGovernance",
}

// AccessPresets is THE table of access presets (SPEC §1.1, docs/configuration.md): the three
// choices of the B2 web UI, scoped by a key's buckets and name_prefix. Every capability in it is
// allowed on bucket-restricted keys. Values are sorted.
var AccessPresets = map[string][]string{
	"read-only": sorted(
		"listBuckets", "readBuckets", "listFiles", "readFiles", "shareFiles",
		"readBucketEncryption", "readBucketRetentions", "readFileRetentions", "readFileLegalHolds",
	),
	"write-only": sorted(
		"listBuckets", "listFiles", "writeFiles",
		"writeBucketEncryption", "writeFileRetentions", "writeFileLegalHolds",
	),
	"read-write": sorted(
		// read-only ∪ write-only ∪ {deleteFiles}
		"listBuckets", "readBuckets", "listFiles", "readFiles", "shareFiles",
		"readBucketEncryption", "readBucketRetentions", "readFileRetentions", "readFileLegalHolds",
		"writeFiles", "writeBucketEncryption", "writeFileRetentions", "writeFileLegalHolds",
		"deleteFiles",
	),
}

// AccessPresetNames lists the preset names in display order.
var AccessPresetNames = []string{"read-only", "write-only", "read-write"}

func sorted(s ...string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

func inList(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
