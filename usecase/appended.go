package usecase

import (
	"context"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
	"go.uber.org/zap"
)

// What follows every append, whichever use case made it: the one place
// that wakes followers and starts a projection after a write.

// landed runs after every append attempt: one that wrote an event, even
// one answered 503 because its durability fell short (it is in the log
// all the same), has its shortfall logged and counted, and then its
// followers woken and its namespace projected. A conflict is counted.
func (a *App) landed(ns string, res streams.AppendResult, err error, typ domain.EventType, aggregate string) {
	if domain.ErrorCode(err) == domain.ECONFLICT {
		a.conflict()
	}
	if res.Revision == 0 || res.Duplicate {
		return
	}
	if d := res.Durability; d != nil && !d.Achieved {
		if a.metrics.Shortfalls != nil {
			a.metrics.Shortfalls.Inc()
		}
		a.log.Warn("append not confirmed as durable as configured (streams.durability)", zap.String("ns", ns),
			zap.Uint64("rev", uint64(res.Revision)), zap.Int("replicas", d.Replicas), zap.Bool("aof", d.LocalAOF))
	}
	if a.metrics.Appends != nil {
		a.metrics.Appends.WithLabelValues(string(typ)).Inc()
	}
	if a.followers != nil {
		a.followers.Notify(ns, streams.Entry{Revision: res.Revision, Aggregate: aggregate})
	}
	a.projectSoon(ns)
	a.driverAppended(ns, aggregate)
}

// conflict counts a request refused for a stale expected revision.
func (a *App) conflict() {
	if a.metrics.Conflicts != nil {
		a.metrics.Conflicts.Inc()
	}
}

// projectSoon projects ns in the background after an append. The request
// does not wait for it: every read catches the projection up first, so
// readers still see every write that returned, and a deploy answers
// without writing the document a second time. What it buys is the old
// module's compat keys and publish within milliseconds of the deploy.
// At most one projection per namespace runs; appends during it make it run
// once more.
func (a *App) projectSoon(ns string) {
	if a.proj == nil {
		return
	}
	a.pmu.Lock()
	defer a.pmu.Unlock()
	if a.closed {
		return
	}
	if _, running := a.projecting[ns]; running {
		a.projecting[ns] = true // run again when done
		return
	}
	a.projecting[ns] = false
	a.pwg.Add(1)
	go func() {
		defer a.pwg.Done()
		for {
			ctx, cancel := context.WithTimeout(context.Background(), a.cfg.ProjectTimeout)
			_, err := a.proj.CatchUpNamespace(ctx, ns)
			cancel()
			if err != nil {
				a.log.Warn("projection after append failed; the background projector will retry", zap.String("ns", ns), zap.Error(err))
			}
			a.pmu.Lock()
			if again := a.projecting[ns]; again {
				a.projecting[ns] = false
				a.pmu.Unlock()
				continue
			}
			delete(a.projecting, ns)
			a.pmu.Unlock()
			return
		}
	}()
}

// snapshotSoon writes a snapshot an append found due in the background:
// compressing and storing a megabyte takes longer than the deploy, whose
// answer does not need it (any revision is rebuilt without it, from an
// older snapshot and more patches). After Close it is written at once.
func (a *App) snapshotSoon(snap *streams.FlowsSnapshot) {
	save := func() {
		ctx, cancel := context.WithTimeout(context.Background(), a.cfg.ProjectTimeout)
		defer cancel()
		a.store.SaveSnapshot(ctx, snap)
	}
	a.pmu.Lock()
	if a.closed {
		a.pmu.Unlock()
		save()
		return
	}
	a.pwg.Add(1)
	a.pmu.Unlock()
	go func() {
		defer a.pwg.Done()
		save()
	}()
}
