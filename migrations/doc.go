// Package migrations keeps each namespace's keyspace layout at a version this
// flowhist understands. The version is recorded in the namespace's meta hash
// (written by the first append); Check runs at start-up, records version 1
// where a namespace has none, and refuses to start against a namespace
// written by a newer flowhist, whose layout this one might damage.
//
// Version 1 is the layout described in package streams. Version 2 adds the
// hash chain (streams/chain.go): the step from 0 or 1 anchors the namespace,
// linking the entries its log holds (which stay as they are) and recording
// in meta the link that covers them and the revision stored links start
// from, so verify checks the old entries too and says where the chain
// starts. The step is idempotent and races safely with appends: it records
// the anchor only if the log has not moved since it was read. A future
// version adds a step here that rewrites a namespace from N-1 to N.
package migrations
