package streams

import "sync/atomic"

// chainOff makes appends store no link (appendScriptUnchained): set only by
// the benchmarks that measure what the chain costs (chain_bench_hook.go,
// built with the tag benchhooks), never in a flowhist binary.
var chainOff atomic.Bool
