package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
	"go.uber.org/zap"
)

// validateWorker checks a worker id: the same characters as a namespace.
func validateWorker(id string) error {
	if err := domain.ValidateNamespace(id); err != nil {
		return domain.Errorf(domain.EINVALID, "worker id %q is invalid: use 1 to 64 letters, digits, '_', '.' or '-'", id)
	}
	return nil
}

func workerOf(group string) (string, bool) { return strings.CutPrefix(group, "worker:") }

// getFeed long-polls the worker's consumer group: entries delivered before
// and not acknowledged come first, then new ones; with none it waits for the
// namespace's next entry, up to wait. 200 with FeedNews, or 204 when the
// wait ended with nothing. ack=REV acknowledges up to REV first, as POST
// …/feed/ack does, saving a worker that request. With stream=1 the answer
// does not end at the first news: it is one FeedNews line per burst
// (application/x-ndjson) until the wait ends.
func (s *Server) getFeed(w http.ResponseWriter, r *http.Request) error {
	ns, q := r.PathValue("ns"), r.URL.Query()
	worker := q.Get("worker")
	if err := validateWorker(worker); err != nil {
		return err
	}
	after, err := queryRevision(q.Get("after"), "after")
	if err != nil {
		return err
	}
	ack, err := queryRevision(q.Get("ack"), "ack")
	if err != nil {
		return err
	}
	wait := min(s.cfg.FeedDefaultWait, s.cfg.FeedMaxWait)
	if v := q.Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return domain.Errorf(domain.EINVALID, "wait %q is not a duration such as 30s", v)
		}
		wait = min(d, s.cfg.FeedMaxWait)
	}
	stream, err := queryBool(q, "stream")
	if err != nil {
		return err
	}
	c := feedCall{s: s, ctx: r.Context(), ns: ns, group: streams.WorkerGroup(worker), worker: worker, after: after}
	// Create the group once per process; if it is reaped, the read
	// notices and creates it again.
	if _, known := s.feed.groups.Load(ns + "/" + c.group); !known {
		if err := c.create(); err != nil {
			return err
		}
		s.feed.groups.Store(ns+"/"+c.group, true)
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	if stream {
		return c.stream(w, ack, timer.C)
	}
	for s.feed.ctx.Err() == nil { // a closed feed's subscriptions are always woken
		woken, base, done := s.feed.subscribe(ns)
		entries, err := c.read(ack, 0)
		if err != nil {
			done()
			return err
		}
		if len(entries) > 0 {
			done()
			writeJSON(w, http.StatusOK, coalesce(entries))
			return nil
		}
		select {
		case <-woken:
			done()
			// The group had nothing: the worker is up to date with base,
			// and what the tail saw since is its news. The group records
			// the delivery when the worker acks.
			if news, ok := s.feed.since(ns, base); ok {
				writeJSON(w, http.StatusOK, news)
				return nil
			}
		case <-timer.C:
			done()
			w.WriteHeader(http.StatusNoContent)
			return nil
		case <-s.feed.ctx.Done():
			done()
			w.WriteHeader(http.StatusNoContent)
			return nil
		case <-r.Context().Done():
			done()
			return nil
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// feedCall is one feed request's worker.
type feedCall struct {
	s                 *Server
	ctx               context.Context
	ns, group, worker string
	after             domain.Revision // where the group starts if it is new
}

// create creates the worker's group at after, unless it exists, with the
// worker as its consumer (so that the group's idle time counts from now).
func (c feedCall) create() error {
	ctx, cancel := c.valkeyCtx()
	defer cancel()
	created, err := c.s.store.CreateGroup(ctx, c.ns, c.group, c.after)
	if err == nil && created {
		err = c.s.store.CreateConsumer(ctx, c.ns, c.group, c.worker)
	}
	return err
}

// valkeyCtx bounds one step of the feed's work by the request timeout: the
// request's own deadline leaves room for the wait.
func (c feedCall) valkeyCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.ctx, c.s.cfg.RequestTimeout)
}

// feedBatch is the most entries one read of a worker's group returns.
const feedBatch = 1000

// read acknowledges up to ack and returns the worker's pending entries
// after revision after. A group reaped since this process created it (by
// another replica, say) is created again where the worker asked, and read:
// what was appended since is the worker's news.
func (c feedCall) read(ack, after domain.Revision) ([]streams.Entry, error) {
	ctx, cancel := c.valkeyCtx()
	defer cancel()
	entries, _, err := c.s.store.Poll(ctx, c.ns, c.group, c.worker, ack, after, feedBatch)
	if domain.ErrorCode(err) != domain.ENOTFOUND {
		return entries, err
	}
	if err := c.create(); err != nil {
		return nil, err
	}
	entries, _, err = c.s.store.Poll(ctx, c.ns, c.group, c.worker, ack, after, feedBatch)
	return entries, err
}

// stream answers news as it comes, one line per burst, until end. known is
// the revision up to which the worker has been told everything (acked, sent
// on this stream, or up to date when it was read).
func (c feedCall) stream(w http.ResponseWriter, ack domain.Revision, end <-chan time.Time) error {
	rc := http.NewResponseController(w)
	var known domain.Revision
	started, read := false, true
	for c.s.feed.ctx.Err() == nil { // a closed feed's subscriptions are always woken
		woken, base, done := c.s.feed.subscribe(c.ns)
		var news FeedNews
		switch {
		case read:
			entries, err := c.read(ack, known)
			if err != nil {
				done()
				if !started {
					return err
				}
				if c.ctx.Err() != nil {
					return nil // the worker went away
				}
				// The answer is under way: end it, and the worker asks
				// again. An outage is the Valkey monitor's to report.
				log := c.s.log.Warn
				if domain.ErrorCode(err) == domain.EUNAVAILABLE {
					log = c.s.log.Debug
				}
				log("feed stream ends: reading the worker's group failed", zap.String("ns", c.ns), zap.String("worker", c.worker), zap.Error(err))
				return nil
			}
			ack, read = 0, false
			if len(entries) > 0 {
				news = coalesce(entries)
			}
			if len(entries) == feedBatch {
				// More may be pending: the next round reads on from here.
				known, read = news.Revision, true
			} else {
				// Everything up to the log's end when it was read is
				// acknowledged or in news.
				known = max(known, base, news.Revision)
			}
		case base > known:
			// The tail is past what the worker was told: what it saw since
			// is the news, unless it missed some (then read the group).
			n, ok := c.s.feed.since(c.ns, known)
			if !ok {
				done()
				read = true
				continue
			}
			news, known = n, n.Revision
		}
		if !started || news.Events > 0 {
			if !started {
				w.Header().Set("Content-Type", "application/x-ndjson")
				w.Header().Set("Cache-Control", "no-store")
				w.Header().Set("X-Accel-Buffering", "no") // nginx: pass lines on as they come
				w.WriteHeader(http.StatusOK)
				started = true
			}
			if news.Events > 0 {
				line, _ := json.Marshal(news)
				w.Write(append(line, '\n'))
			}
			if err := rc.Flush(); err != nil {
				done()
				return nil // the worker went away
			}
		}
		if read {
			done()
			continue
		}
		select {
		case <-woken:
			done()
		case <-end:
			done()
			return nil
		case <-c.s.feed.ctx.Done():
			done()
			return nil
		case <-c.ctx.Done():
			done()
			return nil
		}
	}
	if !started {
		w.WriteHeader(http.StatusNoContent)
	}
	return nil
}

// queryRevision reads an optional revision query parameter; absent is 0.
func queryRevision(v, name string) (domain.Revision, error) {
	if v == "" {
		return 0, nil
	}
	rev, err := domain.ParseRevision(v)
	if err != nil {
		return 0, domain.Errorf(domain.EINVALID, "%s %q is not a revision: use a whole number such as %s=12", name, v, name)
	}
	return rev, nil
}

func coalesce(entries []streams.Entry) FeedNews {
	n := FeedNews{Events: len(entries)}
	for _, e := range entries {
		n.Revision = max(n.Revision, e.Revision)
		switch e.Aggregate {
		case domain.AggregateFlows:
			n.Flows = true
		case domain.AggregatePackages:
			n.Packages = true
		}
	}
	return n
}

// ackFeed acknowledges everything delivered to the worker up to a revision.
func (s *Server) ackFeed(w http.ResponseWriter, r *http.Request) error {
	body, err := s.readJSONObject(w, r, "ack")
	if err != nil {
		return err
	}
	var req struct {
		Worker   string          `json:"worker"`
		Revision domain.Revision `json:"revision"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return domain.Errorf(domain.EINVALID, "ack must be {\"worker\": \"<id>\", \"revision\": <n>}")
	}
	if err := validateWorker(req.Worker); err != nil {
		return err
	}
	n, err := s.store.AckUpTo(r.Context(), r.PathValue("ns"), streams.WorkerGroup(req.Worker), req.Worker, req.Revision)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, Acked{Acknowledged: req.Revision, Entries: n})
	return nil
}

func (s *Server) getWorkers(w http.ResponseWriter, r *http.Request) error {
	ns := r.PathValue("ns")
	groups, err := s.store.Groups(r.Context(), ns)
	if err != nil {
		return err
	}
	head, err := s.store.Head(r.Context(), ns)
	if err != nil {
		return err
	}
	out := []WorkerInfo{}
	for _, g := range groups {
		id, ok := workerOf(g.Name)
		if !ok {
			continue
		}
		info := WorkerInfo{Worker: id, Acknowledged: g.Acknowledged, LastDelivered: g.LastDelivered, Pending: g.Pending, IdleSeconds: g.Idle.Seconds()}
		if head.Revision > g.Acknowledged {
			info.Lag = uint64(head.Revision - g.Acknowledged)
		}
		out = append(out, info)
	}
	writeJSON(w, http.StatusOK, Workers{Revision: head.Revision, Workers: out})
	return nil
}
