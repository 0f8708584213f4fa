// Package feed is the worker feed: how the Node-RED workers of a namespace
// learn of new events. Each worker follows its own consumer group on the
// namespace's log; one blocked read of the log per namespace (a tail,
// tail.go) wakes every worker waiting on it, so a thousand waiting workers
// hold one Valkey connection, not a thousand; their acknowledgements are
// written in batches (acks.go); groups of workers idle too long are
// destroyed (reap.go).
//
// Positions name the event, not just its revision: news carries the id of
// the event at its revision, and a worker's acknowledgement and start name
// it back. A failover or a restore that lost a delivered write can give
// its revision to another event; where the log does not hold what a worker
// names, or a tail finds the log lost what it had seen, the worker is
// marked diverged (streams/positions.go) and told to reload the head: its
// news is a reset ({"revision": HEAD, "id": …, "reset": true}), and GET
// workers shows it diverged, never up to date, until it acknowledges the
// head. Unconfirmed writes are delivered at once: the reset covers them.
//
// httpapi translates the feed's HTTP routes into calls here; the use cases
// tell it of every append (Notify).
package feed
