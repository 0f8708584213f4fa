package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus metrics.
type metrics struct {
	gatherer    prometheus.Gatherer
	requests    *prometheus.HistogramVec
	appends     *prometheus.CounterVec
	conflicts   prometheus.Counter
	feedWaiters prometheus.Gauge
	feedAcks    prometheus.Counter
	workerLag   *prometheus.GaugeVec
	valkeyUp    prometheus.Gauge
	shortfalls  prometheus.Counter
}

// newMetrics makes the metrics and registers them with reg; noIDs leaves
// out those labelled with namespace and worker ids.
func newMetrics(reg prometheus.Registerer, noIDs bool) *metrics {
	m := &metrics{
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "flowhist_http_request_duration_seconds",
			Help:    "HTTP request latency by route and status.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"route", "status"}),
		appends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flowhist_appends_total", Help: "Events appended, by type.",
		}, []string{"type"}),
		conflicts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "flowhist_conflicts_total", Help: "Appends refused for a stale expected revision.",
		}),
		feedWaiters: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "flowhist_feed_waiters", Help: "Worker feed requests waiting now.",
		}),
		feedAcks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "flowhist_feed_acks_total", Help: "Worker acknowledgements written, from POST …/feed/ack, ack= and feed request bodies.",
		}),
		workerLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "flowhist_worker_lag_revisions", Help: "Revisions a worker has not acknowledged, as of the last reaper pass.",
		}, []string{"namespace", "worker"}),
		valkeyUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "flowhist_valkey_up", Help: "1 while Valkey serves reads, 0 during an outage, as of the last ping.",
		}),
		shortfalls: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "flowhist_durability_shortfalls_total", Help: "Appends whose configured durability (replicas, AOF) was not confirmed in time.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.appends, m.conflicts, m.feedWaiters, m.feedAcks, m.valkeyUp, m.shortfalls)
		if !noIDs {
			reg.MustRegister(m.workerLag)
		}
		if g, ok := reg.(prometheus.Gatherer); ok {
			m.gatherer = g
		}
	}
	return m
}

func (m *metrics) handler() http.Handler {
	if m.gatherer == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.gatherer, promhttp.HandlerOpts{})
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Flush lets long responses stream through the recorder.
func (r *statusRecorder) Flush() { r.FlushError() }

// FlushError flushes and reports a write that failed (the client is gone),
// for http.ResponseController.
func (r *statusRecorder) FlushError() error {
	return http.NewResponseController(r.ResponseWriter).Flush()
}

// Unwrap gives http.ResponseController the writer underneath.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// instrument records h's latency under its route pattern (never the raw
// path, which would make a label per namespace and id).
func (s *Server) instrument(route string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		h(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		s.metrics.requests.WithLabelValues(route, strconv.Itoa(rec.status)).Observe(time.Since(start).Seconds())
	})
}
