package usecase

// AfterAbortRollBack makes f run between the rollback of an abort in ns
// and its recording, as if another replica acted just then.
func AfterAbortRollBack(ns string, f func()) { afterAbortRollBack.Store(ns, f) }
