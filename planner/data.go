package planner

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/b2plan/b2plan/config"
	"github.com/b2plan/b2plan/live"
)

// Account is what the caller knows about the key it connected with, for data "account".
type Account struct {
	ID           string
	KeyID        string
	Capabilities []string
	// Buckets are the names the key is restricted to (nil = every bucket).
	Buckets    []string
	NamePrefix string
}

// ReadData looks up the data sources of d in the snapshot l (which must hold the buckets,
// and the keys when a data "key" is declared; LiveRequest asks for both). It does no I/O.
// A data source that finds nothing, or a key name held by several keys, is an error naming
// the data block. The values go to config.Load in VarInputs.Data.
func ReadData(d *config.Desired, l *live.Live, acct Account) (config.DataValues, hcl.Diagnostics) {
	out := config.DataValues{}
	var diags hcl.Diagnostics
	fail := func(ds *config.DataSource, summary, format string, args ...any) {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary,
			Detail: fmt.Sprintf(format, args...), Subject: rangePtr(ds.Range)})
	}
	where := "the account"
	if acct.ID != "" {
		where = "account " + acct.ID
	}
	for _, ds := range d.DataSources {
		switch ds.Kind {
		case "bucket":
			b := l.Bucket(ds.Name)
			if b == nil {
				fail(ds, "Data source not found: "+ds.Address,
					"%s looks up the bucket %q, which does not exist in %s (or the key cannot list it). Create it, fix the name, or declare it as a bucket block to manage it.", ds.Address, ds.Name, where)
				continue
			}
			out[ds.Address] = cty.ObjectVal(map[string]cty.Value{
				"id": cty.StringVal(b.ID), "name": cty.StringVal(b.Name), "type": cty.StringVal(b.Type),
				"info": strMapVal(b.Info),
			})
		case "key":
			ks := l.KeysNamed(ds.Name)
			switch len(ks) {
			case 0:
				fail(ds, "Data source not found: "+ds.Address,
					"%s looks up the application key named %q, which does not exist in %s. Fix the name, or declare it as a key block to manage it.", ds.Address, ds.Name, where)
				continue
			case 1:
			default:
				ids := make([]string, len(ks))
				for i, k := range ks {
					ids[i] = k.ID
				}
				fail(ds, "Ambiguous data source: "+ds.Address,
					"%d application keys are named %q in %s (ids %s); a data \"key\" needs a name held by one key. Rename or delete the others.", len(ks), ds.Name, where, strings.Join(ids, ", "))
				continue
			}
			k := ks[0]
			var buckets []string
			for _, id := range k.BucketIDs {
				if b := l.BucketByID(id); b != nil {
					buckets = append(buckets, b.Name)
				}
			}
			exp := ""
			if !k.Expires.IsZero() {
				exp = k.Expires.UTC().Format(time.RFC3339)
			}
			out[ds.Address] = cty.ObjectVal(map[string]cty.Value{
				"id": cty.StringVal(k.ID), "name": cty.StringVal(k.Name), "capabilities": strListVal(k.Capabilities),
				"buckets": strListVal(buckets), "name_prefix": cty.StringVal(k.NamePrefix), "expiration": cty.StringVal(exp),
			})
		case "account":
			out[ds.Address] = cty.ObjectVal(map[string]cty.Value{
				"account_id": cty.StringVal(acct.ID), "key_id": cty.StringVal(acct.KeyID),
				"capabilities": strListVal(acct.Capabilities), "buckets": strListVal(acct.Buckets),
				"name_prefix": cty.StringVal(acct.NamePrefix),
			})
		}
	}
	return out, diags
}

// HasKeyData reports whether d declares a data "key" (which needs the account's keys).
func HasKeyData(d *config.Desired) bool {
	for _, ds := range d.DataSources {
		if ds.Kind == "key" {
			return true
		}
	}
	return false
}

func strListVal(list []string) cty.Value {
	if len(list) == 0 {
		return cty.ListValEmpty(cty.String)
	}
	s := append([]string(nil), list...)
	sort.Strings(s)
	vals := make([]cty.Value, len(s))
	for i, x := range s {
		vals[i] = cty.StringVal(x)
	}
	return cty.ListVal(vals)
}

func strMapVal(m map[string]string) cty.Value {
	if len(m) == 0 {
		return cty.MapValEmpty(cty.String)
	}
	vals := make(map[string]cty.Value, len(m))
	for k, v := range m {
		vals[k] = cty.StringVal(v)
	}
	return cty.MapVal(vals)
}
