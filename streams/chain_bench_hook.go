//go:build benchhooks

package streams

// SetChainForBenchmarks turns the hash chain of ns's appends (and the
// projector's check of it) on or off, so a benchmark compares both in one
// run. It exists only in test binaries built with -tags benchhooks: a log
// written with the chain off does not verify.
func SetChainForBenchmarks(ns string, on bool) {
	if on {
		unchained.Delete(ns)
	} else {
		unchained.Store(ns, true)
	}
}
