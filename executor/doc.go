// Package executor carries out a planner.Plan against B2: it obeys the plan
// and nothing else.
//
// Entry point:
//
//	res, err := executor.Options{Parallelism: 16, List: lister}.Apply(ctx, plan, mutator, observer)
//	res, err := executor.Apply(ctx, plan, mutator, observer) // default options
//
// Order (SPEC §3): create/update buckets → create keys (including the new
// half of a replacement, whose secret file is written before anything else)
// → bucket info values that refer to ids created in this apply → folders →
// moves → delete keys (the old half of a replacement only once the new key
// and its secret file exist) → delete buckets. Independent operations of
// one phase run in parallel, up to Options.Parallelism. A failure stops only
// what depends on it (a key or folder of a bucket that failed).
//
// Saved plans: CheckStale compares resource fingerprints with the account as
// observed at apply start (StaleRequest), and Options.Current makes Apply
// skip, not fail, a source name whose versions changed, or whose
// already-made destination copy is gone, since the plan.
//
// Moves are server-side copies followed by removals of the source. The rules
// that make them safe (docs/moves.md):
//   - a source name is removed only after every copy planned for it has been
//     verified against the source (size and SHA-1 from the copy reply, or the
//     part lengths and part SHA-1s of a large copy);
//   - versions of a source name are deleted oldest first, so that an
//     interrupted apply never lets an older version resurface;
//   - a b2_copy_file whose outcome is unknown (b2client class Ambiguous) is
//     resolved by listing the destination name before copying again, and an
//     extra identical copy left by such a retry is deleted;
//   - with Options.Current (saved plans), each source name is checked against
//     a listing made at apply start and skipped, not failed, when it changed.
//
// The executor never prints: it reports through the Observer interface.
// Retries of transient failures happen in b2client (one retry policy); a
// failure here is final for the object or resource it concerns, and the rest
// of the plan continues.
package executor
