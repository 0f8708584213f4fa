package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/feed"
	"github.com/flowhist/flowhist/projector"
	"github.com/flowhist/flowhist/streams"
	"github.com/flowhist/flowhist/usecase"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Config tunes a Server. The zero value is useful, except that it has no
// tokens: set Tokens, or AuthDisabled for a laptop.
type Config struct {
	// Tokens are the bearer tokens accepted.
	Tokens []Token
	// AuthDisabled lets every request in with every scope.
	AuthDisabled bool
	// MaxBody is the largest request body accepted. Default 32 MiB.
	MaxBody int64
	// RequestTimeout bounds every request's work, Valkey calls included:
	// past it the answer is 503 unavailable. The worker feed's wait is
	// the one exception (FeedMaxWait bounds it, then RequestTimeout
	// applies again). Default 5s.
	RequestTimeout time.Duration
	// RolloutMemberIdle is how long a worker may be away from the feed
	// and still count as a member of its ring. Default 2m.
	RolloutMemberIdle time.Duration
	// RolloutTick is how often the rollout driver looks at each rollout,
	// RolloutLease how long its lease on a namespace lasts unrenewed
	// (usecase.DriverConfig). Defaults 250ms and 3s.
	RolloutTick, RolloutLease time.Duration
	// WriteTimeout bounds sending an answer, counted from the end of its
	// work. Default 60s.
	WriteTimeout time.Duration
	// FeedMaxWait caps a feed request's wait. Default 60s.
	FeedMaxWait time.Duration
	// FeedDefaultWait is a feed request's wait when it names none.
	// Default 30s.
	FeedDefaultWait time.Duration
	// SessionTTL is how long Node-RED's sessions are kept. Default 24h.
	SessionTTL time.Duration
	// WorkerIdleTTL is how long a worker's consumer group may stay unused
	// before ReapIdleWorkers destroys it. Default 7 days.
	WorkerIdleTTL time.Duration
	// MaxGroups is how many consumer groups (workers) a namespace may
	// have: a worker new to a namespace at the limit is refused with 429.
	// Default 10 000.
	MaxGroups int
	// MetricsToken, when set, is the bearer token /metrics requires;
	// MetricsTokenSHA256 is the same as its sha256 in hex. Neither: /metrics
	// is open (it names namespaces and workers unless MetricsNoIDs).
	MetricsToken       string
	MetricsTokenSHA256 string
	// MetricsNoIDs leaves namespace and worker ids out of the metrics'
	// labels (flowhist_worker_lag_revisions is then not exported).
	MetricsNoIDs bool
}

// WithDefaults returns c with every unset field at its default: the one
// place the defaults are written (the command line's configuration takes
// them from here).
func (c Config) WithDefaults() Config {
	c.setDefaults()
	return c
}

func (c *Config) setDefaults() {
	if c.MaxBody == 0 {
		c.MaxBody = 32 << 20
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 5 * time.Second
	}
	if c.RolloutMemberIdle == 0 {
		c.RolloutMemberIdle = 2 * time.Minute
	}
	c.RolloutTick, c.RolloutLease = usecase.DriverDefaults(c.RolloutTick, c.RolloutLease)
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 60 * time.Second
	}
	if c.FeedMaxWait == 0 {
		c.FeedMaxWait = 60 * time.Second
	}
	if c.FeedDefaultWait == 0 {
		c.FeedDefaultWait = 30 * time.Second
	}
	if c.SessionTTL == 0 {
		c.SessionTTL = 24 * time.Hour
	}
	if c.WorkerIdleTTL == 0 {
		c.WorkerIdleTTL = 7 * 24 * time.Hour
	}
	if c.MaxGroups == 0 {
		c.MaxGroups = 10000
	}
}

// Validate reports the first unusable setting.
func (c Config) Validate() error {
	if !c.AuthDisabled && len(c.Tokens) == 0 {
		return errors.New("httpapi: no tokens configured: add auth.tokens, or set auth.disabled for a laptop")
	}
	for i, t := range c.Tokens {
		if err := t.Validate(); err != nil {
			return fmt.Errorf("httpapi: token %d (%s): %w", i, t.Name, err)
		}
	}
	switch {
	case c.MaxBody < 1024:
		return fmt.Errorf("httpapi: max body %d is under 1 KiB", c.MaxBody)
	case c.RequestTimeout < 100*time.Millisecond:
		return fmt.Errorf("httpapi: request timeout %s is under 100ms", c.RequestTimeout)
	case c.WriteTimeout < time.Second:
		return fmt.Errorf("httpapi: write timeout %s is under 1s", c.WriteTimeout)
	case c.FeedMaxWait < time.Second:
		return fmt.Errorf("httpapi: feed max wait %s is under 1s", c.FeedMaxWait)
	case c.SessionTTL < time.Minute:
		return fmt.Errorf("httpapi: session TTL %s is under 1m", c.SessionTTL)
	case c.MetricsToken != "" && c.MetricsTokenSHA256 != "":
		return errors.New("httpapi: metrics token given twice: keep metrics.token or metrics.token_sha256")
	case c.MetricsTokenSHA256 != "" && !isSHA256Hex(c.MetricsTokenSHA256):
		return errors.New("httpapi: metrics.token_sha256 is not 64 hex digits")
	case c.MaxGroups < 1:
		return fmt.Errorf("httpapi: max groups %d is under 1", c.MaxGroups)
	}
	return nil
}

// Server is flowhist's HTTP API.
type Server struct {
	store   *streams.Store
	proj    *projector.Projector
	cfg     Config
	log     *zap.Logger
	metrics *metrics
	feed    *feed.Feed
	app     *usecase.App
	driver  *usecase.RolloutDriver // drives the rollouts whose lease it holds
	// handoffs is the duplex feeds served off their connections
	// (feed_handoff.go); Close waits for them. handoffMu orders a new
	// handoff against Close: once closing is set none is added, so the
	// wait is never joined by an Add.
	handoffs  sync.WaitGroup
	handoffMu sync.Mutex
	closing   bool
	mux       *http.ServeMux
	ready     atomic.Bool
	// durabilityWarning is what /readyz adds while the durability
	// configured can lose an acknowledged write (SetDurabilityWarning).
	durabilityWarning atomic.Pointer[string]
	// limiters holds each token's limits in force.
	limiters map[*Token]*tokenLimiter
	groups   groupCache
}

// New returns a Server over store and proj, registering its metrics with
// reg (nil: none are exported).
func New(store *streams.Store, proj *projector.Projector, cfg Config, log *zap.Logger, reg prometheus.Registerer) (*Server, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	// Our own copy, with each secret's hash for constant-time comparison.
	cfg.Tokens = slices.Clone(cfg.Tokens)
	limiters := map[*Token]*tokenLimiter{}
	for i := range cfg.Tokens {
		cfg.Tokens[i].prepare()
		limiters[&cfg.Tokens[i]] = newTokenLimiter(cfg.Tokens[i].Limits)
	}
	s := &Server{store: store, proj: proj, cfg: cfg, log: log, metrics: newMetrics(reg, cfg.MetricsNoIDs), limiters: limiters}
	s.feed = feed.New(store, feed.Config{Timeout: cfg.RequestTimeout, WorkerIdleTTL: cfg.WorkerIdleTTL}, log,
		feed.Metrics{Waiters: s.metrics.feedWaiters, Acks: s.metrics.feedAcks, WorkerLag: s.metrics.workerLag})
	m := usecase.Metrics{Appends: s.metrics.appends, Conflicts: s.metrics.conflicts, Shortfalls: s.metrics.shortfalls}
	s.app = usecase.New(store, proj, s.feed, usecase.Config{ProjectTimeout: cfg.RequestTimeout}, log, m)
	s.driver = s.app.NewRolloutDriver(usecase.DriverConfig{MemberIdle: cfg.RolloutMemberIdle, Tick: cfg.RolloutTick, LeaseTTL: cfg.RolloutLease})
	s.driver.Start()
	s.routes()
	s.registerChainMetric(reg)
	return s, nil
}

// SetReady marks the server ready (schema checked, projector caught up) for
// /readyz.
func (s *Server) SetReady(ready bool) { s.ready.Store(ready) }

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.mux }

// Close releases the waits the worker feed holds on Valkey, ending feed
// requests in flight with "no news" so that an HTTP server's Shutdown can
// drain them, and waits for background projections.
func (s *Server) Close() {
	s.driver.Close()
	s.feed.Close()
	s.handoffMu.Lock()
	s.closing = true
	s.handoffMu.Unlock()
	s.handoffs.Wait()
	s.app.Close()
}

// route registers h for pattern with the scope it needs, wrapped with auth,
// metrics, the namespace check and the request's deadline.
func (s *Server) route(pattern string, scope Scope, h func(w http.ResponseWriter, r *http.Request) error) {
	s.routeWithin(s.cfg.RequestTimeout, pattern, scope, h)
}

// routeWithin is route with a deadline of its own: the worker feed waits
// up to FeedMaxWait for news before its work.
func (s *Server) routeWithin(timeout time.Duration, pattern string, scope Scope, h func(w http.ResponseWriter, r *http.Request) error) {
	duplex := strings.HasPrefix(pattern, "POST ") && strings.HasSuffix(pattern, "/feed")
	s.mux.Handle(pattern, s.instrument(pattern, func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		r = r.WithContext(ctx)
		rc := http.NewResponseController(w)
		// A client that stops reading must not hold the handler for ever.
		rc.SetWriteDeadline(time.Now().Add(timeout + s.cfg.WriteTimeout))
		if duplex {
			// A duplex feed's body stays open: any answer, a refusal
			// included, must go out without waiting for it to end (net/http
			// would read up to 256 KiB of it first, until the read
			// timeout), and the connection cannot take another request.
			rc.EnableFullDuplex()
			w.Header().Set("Connection", "close")
		}
		ns := r.PathValue("ns")
		if ns != "" {
			if err := domain.ValidateNamespace(ns); err != nil {
				s.writeError(w, r, err)
				return
			}
		}
		tok, err := s.authorize(r, scope, ns)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := s.limitRequest(w, tok); err != nil {
			s.writeError(w, r, err)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), tokenKey, tok))
		fp, err := credentialFingerprint(r, scope)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
			return
		}
		s.reportFingerprint(r, ns, fp)
	}))
}

func (s *Server) routes() {
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.Handle("GET /metrics", s.metricsAuth(s.metrics.handler()))

	const nsPath = "/v1/namespaces/{ns}"
	s.route("GET "+nsPath+"/flows", ScopeRead, s.getFlows)
	s.route("PUT "+nsPath+"/flows", ScopeDeploy, s.putFlows)
	s.route("POST "+nsPath+"/deploy", ScopeDeploy, s.deploy)
	s.route("GET "+nsPath+"/credentials", ScopeRead, s.getCredentials)
	s.route("PUT "+nsPath+"/credentials", ScopeDeploy, s.putCredentials)
	s.route("GET "+nsPath+"/settings", ScopeRead, s.getSettings)
	s.route("PUT "+nsPath+"/settings", ScopeDeploy, s.putSettings)
	s.route("GET "+nsPath+"/sessions", ScopeDeploy, s.getSessions)
	s.route("PUT "+nsPath+"/sessions", ScopeDeploy, s.putSessions)
	s.route("GET "+nsPath+"/library/{type}", ScopeRead, s.getLibrary)
	s.route("PUT "+nsPath+"/library/{type}", ScopeDeploy, s.putLibrary)
	s.route("GET "+nsPath+"/project", ScopeRead, s.getProject)
	s.route("PUT "+nsPath+"/project", ScopeDeploy, s.putProject)
	s.routeWithin(s.cfg.FeedMaxWait+s.cfg.RequestTimeout, "GET "+nsPath+"/feed", ScopeRead, s.workerRoute(true, s.getFeed))
	s.routeWithin(s.cfg.FeedMaxWait+s.cfg.RequestTimeout, "POST "+nsPath+"/feed", ScopeRead, s.workerRoute(true, s.getFeed))
	s.route("POST "+nsPath+"/feed/ack", ScopeRead, s.workerRoute(false, s.ackFeed))
	s.route("GET "+nsPath+"/workers", ScopeRead, s.getWorkers)
	s.route("PUT "+nsPath+"/workers/{worker}/packages", ScopeRead, s.workerRoute(false, s.putWorkerPackages))
	s.route("GET "+nsPath+"/history", ScopeRead, s.getHistory)
	s.route("GET "+nsPath+"/history/kinds", ScopeRead, s.getHistoryKinds)
	s.route("GET "+nsPath+"/revisions/{rev}", ScopeRead, s.getRevision)
	s.route("GET "+nsPath+"/revisions/{rev}/flows", ScopeRead, s.getRevisionFlows)
	s.route("GET "+nsPath+"/diff", ScopeRead, s.getDiff)
	s.route("GET "+nsPath+"/nodes/{id}/history", ScopeRead, s.getNodeHistory)
	s.route("POST "+nsPath+"/rollback", ScopeAdmin, s.postRollback)
	s.route("PUT "+nsPath+"/workers/{worker}/health", ScopeRead, s.workerRoute(false, s.putWorkerHealth))
	s.route("GET "+nsPath+"/rollout", ScopeRead, s.getRollout)
	s.route("GET "+nsPath+"/rollout/policy", ScopeRead, s.getRolloutPolicy)
	s.route("PUT "+nsPath+"/rollout/policy", ScopeAdmin, s.putRolloutPolicy)
	s.route("DELETE "+nsPath+"/rollout/policy", ScopeAdmin, s.deleteRolloutPolicy)
	for _, action := range []string{"promote", "pause", "resume", "abort"} {
		s.route("POST "+nsPath+"/rollout/"+action, ScopeAdmin, s.postRolloutAction(action))
	}
	s.routeWithin(auditStreamMax, "GET /v1/audit", ScopeAudit, s.getAudit)
	s.promotionRoutes(nsPath)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, domain.Errorf(domain.ENOTFOUND, "no such endpoint: %s %s", r.Method, r.URL.Path))
	})
}

// ReapIdleWorkers destroys the consumer groups of workers idle for longer
// than the configured WorkerIdleTTL, in every namespace, and returns how
// many it destroyed (feed.Feed.ReapIdle).
func (s *Server) ReapIdleWorkers(ctx context.Context) (int, error) { return s.feed.ReapIdle(ctx) }
