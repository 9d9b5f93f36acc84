package planner

// sourcePager returns the pager of a move's whole source: Options.ListSource
// (which may list sub-prefix ranges concurrently, pages still in name
// order) or the plain ListRange. Moves whose prefixes overlap are listed in
// one sequence.
func (pl *planner) sourcePager(m *Move) Pager {
	if pl.opts.ListSource != nil && !m.overlapping() {
		return pl.opts.ListSource(m.Bucket, m.BucketID, m.From, "", "")
	}
	return pl.opts.ListRange(m.Bucket, m.BucketID, m.From, "", "")
}
