package command

import (
	"context"
	"reflect"

	"github.com/hashicorp/hcl/v2"

	"github.com/b2plan/b2plan/b2client"
	"github.com/b2plan/b2plan/config"
	"github.com/b2plan/b2plan/live"
	"github.com/b2plan/b2plan/planner"
)

// readData resolves the data sources of d (the configuration loaded before reading the
// account) against the snapshot l, then loads the configuration again with their values
// (config stays I/O free: docs/configuration.md, "Data sources"). When the configuration
// with the values asks for more of the account (a folder in a bucket named by a data
// source, say), the account is read again. A data source that finds nothing is an error
// naming its block.
func (m *Meta) readData(ctx context.Context, conn *b2client.Conn, path string, vars config.VarInputs,
	d *config.Desired, l *live.Live, req live.Request) (*config.Desired, *live.Live, hcl.Diagnostics, error) {
	al := conn.Allowed()
	acct := planner.Account{ID: conn.AccountID(), KeyID: conn.KeyID(), Capabilities: al.Capabilities, NamePrefix: al.NamePrefix}
	for _, b := range al.Buckets {
		if b.Name != "" {
			acct.Buckets = append(acct.Buckets, b.Name)
		}
	}
	vals, diags := planner.ReadData(d, l, acct)
	if hasErrors(diags) {
		return d, l, diags, nil
	}
	vars.Data = vals
	d2, diags2 := config.Load(path, vars)
	diags = append(diags, diags2...)
	if hasErrors(diags) {
		return d2, l, diags, nil
	}
	req2 := planner.StreamingLiveRequest(d2, nil) // as runPipeline: moves listed by range
	if reflect.DeepEqual(req, req2) && !d2.Settings.Prune {
		return d2, l, diags, nil
	}
	if err := conn.Require(observeCaps(req2), nil); err != nil {
		return d2, l, diags, err
	}
	l2, err := b2client.Observe(ctx, conn, req2)
	if err != nil {
		return d2, l, diags, err
	}
	if d2.Settings.Prune {
		if req3 := planner.StreamingLiveRequest(d2, l2); len(req3.Prefixes) != len(req2.Prefixes) {
			if l2, err = b2client.Observe(ctx, conn, req3); err != nil {
				return d2, l, diags, err
			}
		}
	}
	return d2, l2, diags, nil
}
