// Package streams is flowhist's event store on Valkey Streams, and the only
// package that knows Valkey key names and Lua scripts.
//
// Each namespace has one stream, fh:{ns}:log, whose entry ids are
// "<revision>-0": the revision is the position in the log, so reading a
// revision, creating a consumer group at a revision and a group's lag need no
// index. Every key of a namespace carries the hash tag {ns}, so each script
// touches one slot and Valkey Cluster works unchanged. Appends run one Lua
// script that checks idempotency and the expected aggregate revision, adds
// the entry and updates the namespace's meta hash atomically, and indexes
// the revision under every node its summary names (nodeindex.go), so that a
// node's history reads only its own revisions.
//
// Flows are stored as patches against the previous revision plus compressed
// snapshots, content-addressed in the blob store; FlowsAt rebuilds any
// revision from the nearest snapshot and checks every step against the
// recorded sha256.
package streams
