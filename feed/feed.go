package feed

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flowhist/flowhist/domain"
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
// (Notify) when they name the event's id; otherwise the tail, which Valkey
// wakes on the same write, brings them with it. It is safe for concurrent
// use; Close ends it.
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

	// ran is what each worker this process served runs, as far as it
	// knows ("ns/worker" → streams.Position): the newest news it gave
	// out, or the position the worker named. Valkey may lose the event
	// (a failover) and with it any record that the worker had it; this
	// is what GET workers checks against the log (Diverged).
	running sync.Map

	rollouts sync.Map     // namespace → *rollout (rings.go)
	holds    atomic.Int32 // tails holding a wake (rings.go)
	rings    sync.Map     // "ns/worker" → the ring it named, as recorded
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
	for _, t := range f.tails {
		for sl := range t.sleepers {
			sl.Wake()
		}
	}
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
func (f *Feed) forget(ns, worker string) {
	f.groups.Delete(ns + "/" + worker)
	f.running.Delete(ns + "/" + worker)
}

// ran records that worker runs (or was told to run) p.
func (f *Feed) ran(ns, worker string, p streams.Position) {
	if p.Revision > 0 {
		f.running.Store(ns+"/"+worker, p)
	}
}

// Diverged returns the workers of ns that run what the log does not hold,
// each with the revision at which it diverged: those marked in Valkey
// (streams.MarkDiverged, a refused acknowledgement, a reset), and those
// this process told of an event the log no longer holds at its revision
// (the mark went with the lost write).
//
// Errors: EUNAVAILABLE.
func (f *Feed) Diverged(ctx context.Context, ns string) (map[string]domain.Revision, error) {
	// What the workers were told, before the marks: a reset marks the
	// worker in Valkey before it changes what it was told here.
	told := map[string]streams.Position{}
	var revs []domain.Revision
	prefix := ns + "/"
	f.running.Range(func(k, v any) bool {
		if w, ok := strings.CutPrefix(k.(string), prefix); ok {
			p := v.(streams.Position)
			told[w] = p
			revs = append(revs, p.Revision)
		}
		return true
	})
	out, err := f.store.DivergedWorkers(ctx, ns)
	if err != nil || len(told) == 0 {
		return out, err
	}
	slices.Sort(revs)
	ids, err := f.store.EventIDs(ctx, ns, slices.Compact(revs))
	if err != nil {
		return nil, err
	}
	for w, p := range told {
		if id, ok := ids[p.Revision]; !ok || p.ID != "" && id != p.ID {
			if _, marked := out[w]; !marked {
				out[w] = p.Revision
			}
		}
	}
	return out, nil
}

// ackWritten counts one acknowledgement written.
func (f *Feed) ackWritten() {
	if f.metrics.Acks != nil {
		f.metrics.Acks.Inc()
	}
}
