//go:build benchhooks

package streams

// SetChainForBenchmarks turns the hash chain of appends on or off, so a
// benchmark compares both in one run. It exists only in test binaries built
// with -tags benchhooks: a log written with the chain off does not verify.
func SetChainForBenchmarks(on bool) { chainOff.Store(!on) }
