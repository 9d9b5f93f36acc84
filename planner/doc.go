// Package planner computes what b2plan would change: a pure function from a
// configuration (config.Desired) and a snapshot of the account (live.Live) to
// a Plan. It does no I/O.
//
// Entry points:
//
//	req := planner.LiveRequest(desired, nil)       // what to observe (phase 1)
//	req  = planner.LiveRequest(desired, observed)  // + whole-bucket listings of prune candidates
//	p, diags := planner.Compute(desired, live, planner.Options{Now: time.Now(), ...})
//	planner.RenderHuman(w, p, planner.RenderOptions{Color: isTerminal})
//	planner.RenderJSON(w, p, planner.DocOptions{ToolVersion: v}) // Terraform's JSON plan format
//	p.Summary(), p.SummaryLine()                              // counted as Terraform counts
//	planner.WriteFile(path, p) / planner.ReadFile(path)
//
// A Plan is plain data: Changes (buckets, keys, folders) with an Action,
// attribute-level Before/After and a reason; Drift (unmanaged resources);
// and Moves, each expanded into compact per-object operations that refer to
// the source versions by index. The executor obeys the plan and nothing else.
//
// The rules the planner applies where the specification is silent are in
// docs/plan-format.md.
package planner
