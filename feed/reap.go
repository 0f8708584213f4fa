package feed

import (
	"context"
	"fmt"

	"go.uber.org/zap"
)

// ReapIdle destroys the consumer groups of workers idle for longer
// than Config.WorkerIdleTTL, in every namespace, and returns how
// many it destroyed. Each namespace has the feed's timeout; one that fails
// does not stop the others (the first error is returned after them).
func (f *Feed) ReapIdle(ctx context.Context) (int, error) {
	lctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	names, err := f.store.Namespaces(lctx)
	cancel()
	if err != nil {
		return 0, err
	}
	n := 0
	var first error
	for _, ns := range names {
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		nctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
		reaped, err := f.reapNamespace(nctx, ns)
		cancel()
		n += reaped
		if err != nil && first == nil {
			first = fmt.Errorf("feed: reap idle workers of %s: %w", ns, err)
		}
	}
	return n, first
}

func (f *Feed) reapNamespace(ctx context.Context, ns string) (int, error) {
	groups, err := f.store.Groups(ctx, ns)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, g := range groups {
		worker := g.Worker
		if worker == "" {
			continue
		}
		if f.metrics.WorkerLag != nil {
			f.metrics.WorkerLag.WithLabelValues(ns, worker).Set(float64(g.Lag + g.Pending))
		}
		if g.Idle < f.cfg.WorkerIdleTTL {
			continue
		}
		if err := f.store.DestroyGroup(ctx, ns, g.Name); err != nil {
			return n, err
		}
		if err := f.store.ForgetDiverged(ctx, ns, worker); err != nil {
			return n, err
		}
		f.forget(ns, worker)
		if f.metrics.WorkerLag != nil {
			f.metrics.WorkerLag.DeleteLabelValues(ns, worker)
		}
		f.log.Info("destroyed idle worker group", zap.String("ns", ns), zap.String("worker", worker), zap.Duration("idle", g.Idle))
		n++
	}
	return n, nil
}
