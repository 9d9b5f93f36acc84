// Package live is the plain-data model of what b2plan observed in a B2
// account: buckets with every attribute a configuration can declare,
// application keys, and the file versions under the (bucket, prefix) pairs the
// configuration touches.
//
// It does no I/O and imports no B2 client: the planner consumes a *Live built
// by package b2client (b2client.Observe). The entry point is the Live type.
//
// Versions are stored compactly because a move may list millions of them:
// SHA-1s are [20]byte values, content types are interned, empty file-info maps
// are nil, and consecutive versions of one name share the name string.
package live
