package streams

import "sync"

// unchained holds the namespaces whose appends store no link
// (appendScriptUnchained): set only by the benchmarks that measure what
// the chain costs (chain_bench_hook.go, built with the tag benchhooks),
// never in a flowhist binary.
var unchained sync.Map

// Chained reports whether appends to ns link entries: always, except in a
// benchmark that turned the chain off for ns to measure it, where the
// projector must not take the missing links for tampering either.
func Chained(ns string) bool {
	_, off := unchained.Load(ns)
	return !off
}
