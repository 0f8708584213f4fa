// Package feed is the worker feed: how the Node-RED workers of a namespace
// learn of new events. Each worker follows its own consumer group on the
// namespace's log; one blocked read of the log per namespace (a tail,
// tail.go) wakes every worker waiting on it, so a thousand waiting workers
// hold one Valkey connection, not a thousand; their acknowledgements are
// written in batches (acks.go); groups of workers idle too long are
// destroyed (reap.go).
//
// httpapi translates the feed's HTTP routes into calls here; the use cases
// tell it of every append (Notify).
package feed
