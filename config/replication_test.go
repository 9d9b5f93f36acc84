package config

import (
	"strings"
	"testing"
)

const replAccounts = `
provider "b2" {}
provider "b2" {
  alias = "backup"
}
bucket "media" {
  name = "acme-media"
}
bucket "backup" {
  provider = b2.backup
  name     = "acme-backup"
}
`

func TestReplicationDecoded(t *testing.T) {
	d := load(t, replAccounts+`
replication "media_to_backup" {
  source_bucket      = bucket.media.name
  destination_bucket = bucket.backup.name
  prefix             = "photos/"
  priority           = 1
  include_existing   = true
  enabled            = false
}
replication "legacy" {
  for_each           = toset(["a", "b"])
  name               = "legacy-${each.key}"
  source_bucket      = "acme-legacy"
  source_provider    = b2.backup
  destination_bucket = bucket.backup.name
}
`, VarInputs{})
	if len(d.Replications) != 3 {
		t.Fatalf("replications: %+v", d.Replications)
	}
	r := d.Replications[2] // declaration order: legacy after media_to_backup? sorted by position
	for _, x := range d.Replications {
		if x.Address == "replication.media_to_backup" {
			r = x
		}
	}
	if r.Name != "media-to-backup" || r.SourceBucket != "acme-media" || r.DestinationBucket != "acme-backup" ||
		r.SourceProvider != "" || r.DestinationProvider != "backup" || r.Prefix != "photos/" || r.Priority != 1 ||
		!r.IncludeExisting || r.Enabled {
		t.Errorf("media_to_backup: %+v", r)
	}
	var legacy []*Replication
	for _, x := range d.Replications {
		if strings.HasPrefix(x.Address, "replication.legacy[") {
			legacy = append(legacy, x)
		}
	}
	if len(legacy) != 2 || legacy[0].Name != "legacy-a" || legacy[0].SourceProvider != "backup" ||
		legacy[0].DestinationProvider != "backup" || legacy[0].Priority != DefaultReplicationPriority || !legacy[0].Enabled {
		t.Errorf("legacy: %+v", legacy)
	}
	// Each account's part holds the replications with a bucket there.
	if sub := d.ForProvider("backup"); len(sub.Replications) != 3 {
		t.Errorf("ForProvider(backup): %+v", sub.Replications)
	}
	if sub := d.ForProvider(""); len(sub.Replications) != 1 || sub.Replications[0].Address != "replication.media_to_backup" {
		t.Errorf("ForProvider(default): %+v", sub.Replications)
	}
}

func TestReplicationDiagnostics(t *testing.T) {
	repl := func(body string) string {
		return replAccounts + "replication \"r\" {\n" + body + "\n}\n"
	}
	both := "source_bucket = bucket.media.name\ndestination_bucket = bucket.backup.name\n"
	tests := []struct{ name, src, want string }{
		{"undeclared bucket", repl("source_bucket = \"acme-other\"\ndestination_bucket = bucket.backup.name"), "give source_provider = b2"},
		{"undeclared destination", repl("source_bucket = bucket.media.name\ndestination_bucket = \"acme-else\""), "destination_provider = b2"},
		{"same bucket", repl("source_bucket = bucket.media.name\ndestination_bucket = bucket.media.name"), "cannot replicate a bucket into itself"},
		{"same bucket, other case", repl("source_bucket = bucket.media.name\ndestination_bucket = \"ACME-media\"\ndestination_provider = b2"), "into itself"},
		{"provider differs", repl(both + "destination_provider = b2"), "declared by bucket.backup with provider b2.backup"},
		{"undeclared alias", repl(both + "source_provider = b2.bakup"), `Did you mean "backup"?`},
		{"provider string", repl(both + "source_provider = \"backup\""), "source_provider takes a provider reference"},
		{"bad name", repl(both + "name = \"a_b\""), "only letters, digits and '-'"},
		{"long name", repl(both + "name = \"" + strings.Repeat("x", 65) + "\""), "1 to 64 characters"},
		{"label default name", replAccounts + "replication \"r\" {\n" + both + "name = \"\"\n}\n", "1 to 64 characters"},
		{"priority 0", repl(both + "priority = 0"), "priority from 1 to 2147483647"},
		{"priority too high", repl(both + "priority = 2147483648"), "got 2147483648"},
		{"priority fraction", repl(both + "priority = 1.5"), "whole number"},
		{"bad prefix", repl(both + "prefix = \"a\\nb\""), "control"},
		{"missing destination", repl("source_bucket = bucket.media.name"), `"destination_bucket" is required`},
		{"unknown argument", repl(both + "include_exsting = true"), "Did you mean"},
		{"bucket id", repl("source_bucket = bucket.media.id\ndestination_bucket = bucket.backup.name"), "Refer to the bucket by name"},
		{"duplicate rule name", replAccounts + "replication \"a\" {\n" + both + "name = \"same\"\n}\nreplication \"b\" {\n" + both + "name = \"same\"\n}\n", "unique per source bucket"},
		{"labels a_b and a-b", replAccounts + "replication \"a_b\" {\n" + both + "}\nreplication \"a-b\" {\n" + both + "}\n", `both declare the rule "a-b"`},
		{"unicode label", replAccounts + "replication \"médias\" {\n" + both + "}\n", `set name = "..." in the block`},
		{"65-character label", replAccounts + "replication \"" + strings.Repeat("a_", 32) + "b\" {\n" + both + "}\n", "The name defaults to the label"},
		{"key named like replication's", replAccounts + "key \"k\" {\nname = \"B2plan-Repl-src-media\"\ncapabilities = [\"listBuckets\"]\n}\n", "keys b2plan makes for replication blocks"},
		{"for_each same name", replAccounts + "replication \"r\" {\nfor_each = toset([\"x\", \"y\"])\n" + both + "}\n", "unique per source bucket"},
		{"sensitive prefix", "variable \"p\" {\n  sensitive = true\n  default = \"x/\"\n}\n" + repl(both+"prefix = var.p"), "Sensitive value not allowed here"},
		{"undeclared reference", repl("source_bucket = bucket.medai.name\ndestination_bucket = bucket.backup.name"), `Did you mean "media"?`},
	}
	var many strings.Builder
	many.WriteString(replAccounts)
	for i := 0; i <= MaxReplicationRules; i++ {
		many.WriteString("replication \"r" + string(rune('a'+i)) + "\" {\n" + both + "}\n")
	}
	tests = append(tests, struct{ name, src, want string }{"too many rules", many.String(), "at most 10 replication rules"})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := LoadSources("/cfg", map[string][]byte{"main.hcl": []byte(tc.src)}, VarInputs{})
			if !diags.HasErrors() || !strings.Contains(dump(diags), tc.want) {
				t.Fatalf("want an error containing %q, got:\n%s", tc.want, dump(diags))
			}
			for _, d := range diags {
				if d.Severity == 1 && d.Subject == nil { // every error points at the configuration
					t.Errorf("error without a place: %s", d.Summary)
				}
			}
		})
	}
}
