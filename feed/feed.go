package feed

import (
	"context"
	"sync"
	"time"

	"github.com/flowhist/flowhist/streams"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Config tunes a Feed. The zero value is useful.
type Config struct {
	// Timeout bounds each step of the feed's work on Valkey: reading or
	// creating a worker's group, writing a batch of acknowledgements,
	// one namespace's pass of the reaper. Default 5s.
	Timeout time.Duration
	// WorkerIdleTTL is how long a worker's consumer group may stay unused
	// before ReapIdle destroys it. Default 7 days.
	WorkerIdleTTL time.Duration
}

func (c *Config) setDefaults() {
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Second
	}
	if c.WorkerIdleTTL == 0 {
		c.WorkerIdleTTL = 7 * 24 * time.Hour
	}
}

// Metrics are the gauges and counters the feed keeps. A nil field is
// kept nowhere.
type Metrics struct {
	// Waiters is the feed requests waiting now.
	Waiters prometheus.Gauge
	// Acks counts worker acknowledgements written.
	Acks prometheus.Counter
	// WorkerLag is the revisions each worker has not acknowledged, by
	// namespace and worker, as of the reaper's last pass.
	WorkerLag *prometheus.GaugeVec
}

// Feed wakes waiting workers when their namespace's log grows, with one
// blocked Valkey read per namespace that has waiters (a "tail"), however
// many workers wait: a woken waiter answers from the entries the tail saw,
// and reads its own consumer group (without blocking) only when the tail
// cannot tell. Appends made by this process wake waiters directly
// (Notify). It is safe for concurrent use; Close ends it.
type Feed struct {
	store   *streams.Store
	cfg     Config
	log     *zap.Logger
	metrics Metrics
	acks    *acker

	ctx    context.Context // cancelled by Close: ends every tail
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	tails map[string]*tail

	groups sync.Map // "ns/worker" of worker groups this process created
}

// New returns a Feed over store; its acknowledgement writer runs until
// Close.
func New(store *streams.Store, cfg Config, log *zap.Logger, m Metrics) *Feed {
	cfg.setDefaults()
	if log == nil {
		log = zap.NewNop()
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &Feed{store: store, cfg: cfg, log: log, metrics: m, ctx: ctx, cancel: cancel, tails: map[string]*tail{}}
	f.acks = newAcker(store, f.ackWritten, cfg.Timeout)
	return f
}

// Close ends every tail and waits for them: waiting followers answer "no
// news" at once, so that an HTTP server's Shutdown can drain them. Then it
// stops batching acknowledgements (later ones are written one by one).
func (f *Feed) Close() {
	f.mu.Lock() // no tail starts between the cancel and the wait
	f.cancel()
	f.mu.Unlock()
	f.wg.Wait()
	f.acks.close()
}

// created reports whether this process created (or found) worker's group.
func (f *Feed) created(ns, worker string) bool {
	_, ok := f.groups.Load(ns + "/" + worker)
	return ok
}

// remember records that worker's group exists.
func (f *Feed) remember(ns, worker string) { f.groups.Store(ns+"/"+worker, true) }

// forget drops what remember recorded: the group was destroyed.
func (f *Feed) forget(ns, worker string) { f.groups.Delete(ns + "/" + worker) }

// ackWritten counts one acknowledgement written.
func (f *Feed) ackWritten() {
	if f.metrics.Acks != nil {
		f.metrics.Acks.Inc()
	}
}
