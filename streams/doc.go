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
// Every entry carries a link in a hash chain (chain.go): the sha256 of its
// predecessor's link, of the digest of its own stored bytes and of its
// revision, aggregate revision and time. Of the two designs that keep two
// appends from claiming one predecessor, this one computes the link inside
// the append script, from the head link meta holds, rather than having the
// caller compute it against an expected head and retry when another append
// won: no retries, no extra round trip. Valkey's Lua has only sha1, so the
// script carries its own SHA-256 for the two blocks of a link; the digest of
// the payload (up to megabytes) is computed by the caller in Go. ChainCheck
// checks links as verify, replay and the projector read them; a namespace
// written before the chain is anchored by Anchor (package migrations).
//
// Flows are stored as patches against the previous revision plus compressed
// snapshots, content-addressed in the blob store; FlowsAt rebuilds any
// revision from the nearest snapshot and checks every step against the
// recorded sha256.
package streams
