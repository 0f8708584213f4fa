package streams

import "github.com/flowhist/flowhist/domain"

// SetPairFoldMax sets how far FlowsPair folds from the earlier version, for
// tests of both of its ways; it returns a func that restores it.
func SetPairFoldMax(n domain.Revision) (restore func()) {
	old := pairFoldMax
	pairFoldMax = n
	return func() { pairFoldMax = old }
}
