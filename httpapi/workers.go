package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
)

// validateWorker checks a worker id: the same characters as a namespace.
func validateWorker(id string) error {
	if err := domain.ValidateNamespace(id); err != nil {
		return domain.Errorf(domain.EINVALID, "worker id %q is invalid: use 1 to 64 letters, digits, '_', '.' or '-'", id)
	}
	return nil
}

func workerOf(group string) (string, bool) { return strings.CutPrefix(group, "worker:") }

// feedNews is what a feed request answers when entries were delivered: a
// burst coalesced to its newest revision.
type feedNews struct {
	// Revision is the newest namespace revision delivered; ack it after
	// acting on it.
	Revision domain.Revision `json:"revision"`
	// Flows is true when any delivered event changed flows or credentials:
	// the worker reloads.
	Flows bool `json:"flows"`
	// Packages is true when the user-installed modules changed.
	Packages bool `json:"packages"`
	// Events is how many entries the burst had.
	Events int `json:"events"`
}

// getFeed long-polls the worker's consumer group: entries delivered before
// and not acknowledged come first, then new ones; with none it waits for the
// namespace's next entry, up to wait. 200 with feedNews, or 204 when the
// wait ended with nothing.
func (s *Server) getFeed(w http.ResponseWriter, r *http.Request) error {
	ns, q := r.PathValue("ns"), r.URL.Query()
	worker := q.Get("worker")
	if err := validateWorker(worker); err != nil {
		return err
	}
	var after domain.Revision
	if a := q.Get("after"); a != "" {
		var err error
		if after, err = domain.ParseRevision(a); err != nil {
			return err
		}
	}
	wait := min(s.cfg.FeedDefaultWait, s.cfg.FeedMaxWait)
	if v := q.Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return domain.Errorf(domain.EINVALID, "wait %q is not a duration such as 30s", v)
		}
		wait = min(d, s.cfg.FeedMaxWait)
	}
	group := streams.WorkerGroup(worker)
	// Create the group once per process; if it is reaped, the read below
	// notices and creates it again.
	if _, known := s.feed.groups.Load(ns + "/" + group); !known {
		created, err := s.store.CreateGroup(r.Context(), ns, group, after)
		if err == nil && created {
			err = s.store.CreateConsumer(r.Context(), ns, group, worker)
		}
		if err != nil {
			return err
		}
		s.feed.groups.Store(ns+"/"+group, true)
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		woken, base, done := s.feed.subscribe(ns)
		events, err := s.store.ReadGroup(r.Context(), ns, group, worker, 1000, 0)
		if domain.ErrorCode(err) == domain.ENOTFOUND {
			// Reaped between create and read: recreate where it was asked.
			_, err = s.store.CreateGroup(r.Context(), ns, group, after)
		}
		if err != nil {
			done()
			return err
		}
		if len(events) > 0 {
			done()
			writeJSON(w, http.StatusOK, coalesce(events))
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
}

func coalesce(events []*domain.Event) feedNews {
	n := feedNews{Events: len(events)}
	for _, e := range events {
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
	writeJSON(w, http.StatusOK, map[string]any{"acknowledged": req.Revision, "entries": n})
	return nil
}

// workerInfo is one worker in GET …/workers.
type workerInfo struct {
	Worker        string          `json:"worker"`
	Acknowledged  domain.Revision `json:"acknowledged"`
	LastDelivered domain.Revision `json:"lastDelivered"`
	// Lag is how many revisions the worker has not acknowledged yet.
	Lag         uint64  `json:"lag"`
	Pending     int64   `json:"pending"`
	IdleSeconds float64 `json:"idleSeconds"`
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
	out := []workerInfo{}
	for _, g := range groups {
		id, ok := workerOf(g.Name)
		if !ok {
			continue
		}
		info := workerInfo{Worker: id, Acknowledged: g.Acknowledged, LastDelivered: g.LastDelivered, Pending: g.Pending, IdleSeconds: g.Idle.Seconds()}
		if head.Revision > g.Acknowledged {
			info.Lag = uint64(head.Revision - g.Acknowledged)
		}
		out = append(out, info)
	}
	writeJSON(w, http.StatusOK, map[string]any{"revision": head.Revision, "workers": out})
	return nil
}
