package importer

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	"github.com/b2plan/b2plan/config"
	"github.com/b2plan/b2plan/live"
	"github.com/b2plan/b2plan/planner"
)

// Replication rules of imported buckets become replication blocks. The keys the rules use
// are kept as they are (the planner keeps a configured key that works, whatever its name),
// so the next plan is empty. A rule whose destination bucket is not in the imported account
// is another account's: it is written commented out, with what to fill in. The keys b2plan
// itself makes for replication are declared by replication blocks, never as key blocks.

// replicationItems adds an item per replication rule of the selected (or joined) source buckets.
func (g *generator) replicationItems() {
	for i := range g.l.Buckets {
		b := &g.l.Buckets[i]
		if !matches(g.opts.Buckets, b.Name) || !b.Replication.Readable {
			continue
		}
		// b2plan writes a bucket's rules together: when one cannot be declared, none is, so
		// that the next plan leaves them all alone rather than removing that one.
		far := ""
		for _, r := range b.Replication.Rules {
			if g.l.BucketByID(r.DestinationBucketID) == nil && far == "" {
				far = r.Name
			}
		}
		for j := range b.Replication.Rules {
			r := &b.Replication.Rules[j]
			it := &item{kind: "replication", b: b, rule: r}
			switch {
			case r.Name == far:
				it.skip = fmt.Sprintf("it replicates into bucket id %s, which is not in this account (another account's bucket, or one the importing key cannot see). To declare it, set destination_bucket to that bucket's name and destination_provider = b2.ALIAS (a provider alias of its account), and uncomment every rule of bucket %q", r.DestinationBucketID, b.Name)
			case far != "":
				it.skip = fmt.Sprintf("rule %q of the same bucket replicates into another account, and b2plan writes a bucket's rules together: declare them all or none", far)
			}
			g.items = append(g.items, it)
		}
	}
}

// replicationKey reports whether k is a key b2plan makes for replication.
func replicationKey(k *live.Key) bool {
	_, _, ok := planner.ReplicationKeyOf(k.Name)
	return ok
}

// replicationBlock writes one replication block.
func (g *generator) replicationBlock(body *hclwrite.Body, it *item, refs map[string]string) {
	r := it.rule
	if config.ReplicationRuleName(it.label) != r.Name {
		body.SetAttributeValue("name", cty.StringVal(r.Name))
	}
	bucketRef := func(attr, name string) {
		if addr, ok := refs[strings.ToLower(name)]; ok {
			body.SetAttributeRaw(attr, exprTokens(addr+".name"))
			return
		}
		body.SetAttributeValue(attr, cty.StringVal(name))
		body.SetAttributeRaw(strings.Replace(attr, "_bucket", "_provider", 1), exprTokens("b2"))
	}
	bucketRef("source_bucket", it.b.Name)
	if d := g.l.BucketByID(r.DestinationBucketID); d != nil {
		bucketRef("destination_bucket", d.Name)
	} else {
		body.SetAttributeValue("destination_bucket", cty.StringVal("NAME-OF-BUCKET-"+r.DestinationBucketID))
		body.SetAttributeRaw("destination_provider", exprTokens("b2.ALIAS"))
	}
	if r.Prefix != "" {
		body.SetAttributeValue("prefix", cty.StringVal(r.Prefix))
	}
	body.SetAttributeValue("priority", cty.NumberIntVal(int64(r.Priority)))
	if r.IncludeExisting {
		body.SetAttributeValue("include_existing", cty.True)
	}
	if !r.Enabled {
		body.SetAttributeValue("enabled", cty.False)
	}
	if !g.ownKey(it.b.Replication.SourceKeyID) {
		comment(body, fmt.Sprintf("B2 reads with the source key %s, set up outside b2plan: b2plan keeps it\nwhile it works, and never deletes it.", it.b.Replication.SourceKeyID))
	}
}

// ownKey reports whether id is a key b2plan made for replication (by its name).
func (g *generator) ownKey(id string) bool {
	for i := range g.l.Keys {
		if g.l.Keys[i].ID == id {
			return replicationKey(&g.l.Keys[i])
		}
	}
	return false
}
