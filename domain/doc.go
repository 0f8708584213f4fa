// Package domain holds flowhist's vocabulary: namespaces, revisions, events,
// the flows document with its byte-exact patches, and the pure fold that turns
// a namespace's log into its state. It imports only the standard library, so
// every other package (the Valkey store, the projector, the HTTP API, the CLI)
// speaks in these types and none of them depends on another's internals.
package domain
