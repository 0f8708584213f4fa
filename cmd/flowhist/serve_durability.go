package main

import (
	"context"
	"time"

	"github.com/flowhist/flowhist/httpapi"
	"github.com/flowhist/flowhist/streams"
	"go.uber.org/zap"
)

// replicaWatch keeps, under Sentinel, the store's durability target at the
// replicas the Sentinels could promote (streams.Durability.EveryReplica),
// and the log and /readyz warning about a configured durability that is
// below them.
type replicaWatch struct {
	dial  streams.DialConfig
	dur   streams.Durability
	store *streams.Store
	api   *httpapi.Server
	log   *zap.Logger

	replicas int    // as last seen; -1 before the first check
	warning  string // as last said
}

func newReplicaWatch(cfg serveConfig, store *streams.Store, api *httpapi.Server, log *zap.Logger) *replicaWatch {
	return &replicaWatch{dial: cfg.Valkey, dur: cfg.Streams.Durability, store: store, api: api, log: log, replicas: -1}
}

// check asks the Sentinels once and updates the target and the warning;
// a change is logged once. A Sentinel that does not answer leaves both as
// they were (the first check excepted: it returns the error).
func (w *replicaWatch) check(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, w.dial.DialTimeout+w.dial.IOTimeout)
	defer cancel()
	n, err := streams.PromotableReplicas(cctx, w.dial)
	if err != nil {
		if w.replicas < 0 {
			return err
		}
		return nil
	}
	if n != w.replicas {
		if w.dur.EveryReplica {
			w.store.SetReplicas(n)
			w.log.Info("appends wait for every replica the Sentinels could promote (streams.durability unset under Sentinel)", zap.Int("replicas", n))
		}
		w.replicas = n
	}
	if warn := w.dur.Warning(n); warn != w.warning {
		w.warning = warn
		w.api.SetDurabilityWarning(warn)
		if warn != "" {
			w.log.Warn(warn)
		} else {
			w.log.Info("the durability configured covers every replica the Sentinels report again", zap.Int("replicas", n))
		}
	}
	return nil
}

// run checks every interval until ctx is done.
func (w *replicaWatch) run(ctx context.Context, every time.Duration) {
	for sleep(ctx, every) {
		w.check(ctx)
	}
}
