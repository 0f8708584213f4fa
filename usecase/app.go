package usecase

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/projector"
	"github.com/flowhist/flowhist/streams"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Request is what every use case is asked with beside its document.
type Request struct {
	Namespace string
	// Origin is who asks, for the events appended.
	Origin domain.Origin
	// Expected is the revision of the aggregate the request was based on
	// (ExpectAny: none).
	Expected domain.Expected
	// IdempotencyKey, when set, makes a repeated request answer what the
	// first was answered and append nothing.
	IdempotencyKey string
}

// Followers are told of every event this process appends (the worker
// feed): they wake who waits on the namespace.
type Followers interface {
	Notify(ns string, entries ...streams.Entry)
}

// Config tunes an App. The zero value is useful.
type Config struct {
	// ProjectTimeout bounds one background projection after an append.
	// Default 5s.
	ProjectTimeout time.Duration
}

// Metrics are the counters the use cases keep. A nil field is counted
// nowhere.
type Metrics struct {
	// Appends counts events appended, by type.
	Appends *prometheus.CounterVec
	// Conflicts counts appends refused for a stale expected revision.
	Conflicts prometheus.Counter
	// Shortfalls counts appends whose durability was not confirmed.
	Shortfalls prometheus.Counter
}

// App runs the use cases over one store. It is safe for concurrent use;
// Close waits for the work it started in the background.
type App struct {
	store     *streams.Store
	proj      *projector.Projector
	followers Followers
	cfg       Config
	log       *zap.Logger
	metrics   Metrics

	turns sync.Map // namespace → its flows appends' turn (see appendFlows)

	pmu        sync.Mutex
	projecting map[string]bool // namespace → another run requested
	closed     bool
	pwg        sync.WaitGroup

	driver   atomic.Pointer[RolloutDriver] // this process's, if any
	policies policyCache                   // for health reports
	targets  targetCache                   // for workers loading their ring's target
	flowsAt  sync.Map                      // namespace → flowsAt, for the rollout driver
	// now is the clock of rollouts (tests move it).
	now func() time.Time
}

// New returns an App over store. followers may be nil (nobody is woken
// after an append); so may proj in an App that saves no settings (then
// nothing is projected after an append: a tool's use).
func New(store *streams.Store, proj *projector.Projector, followers Followers, cfg Config, log *zap.Logger, m Metrics) *App {
	if cfg.ProjectTimeout == 0 {
		cfg.ProjectTimeout = 5 * time.Second
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &App{store: store, proj: proj, followers: followers, cfg: cfg, log: log, metrics: m, projecting: map[string]bool{}, now: time.Now}
}

// Close stops starting background projections and waits for the running
// ones.
func (a *App) Close() {
	a.pmu.Lock()
	a.closed = true
	a.pmu.Unlock()
	a.pwg.Wait()
}
