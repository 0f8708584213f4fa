// Package migrations keeps each namespace's keyspace layout at a version this
// flowhist understands. The version is recorded in the namespace's meta hash
// (written by the first append); Check runs at start-up, records version 1
// where a namespace has none, and refuses to start against a namespace
// written by a newer flowhist, whose layout this one might damage.
//
// Version 1 is the layout described in package streams. A future version
// adds a step here that rewrites a namespace from N-1 to N.
package migrations
