package httpapi

import (
	"net/http"

	"github.com/flowhist/flowhist/domain"
)

// validateWorker checks a worker id: the same characters as a namespace.
func validateWorker(id string) error {
	if err := domain.ValidateNamespace(id); err != nil {
		return domain.Errorf(domain.EINVALID, "worker id %q is invalid: use 1 to 64 letters, digits, '_', '.' or '-'", id)
	}
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
	states, err := s.workerPackageStates(r, ns)
	if err != nil {
		return err
	}
	diverged, err := s.feed.Diverged(r.Context(), ns)
	if err != nil {
		return err
	}
	rings, healths, err := s.workerRollout(r, ns)
	if err != nil {
		return err
	}
	out := []WorkerInfo{}
	for _, g := range groups {
		if g.Worker == "" {
			continue
		}
		id := g.Worker
		info := WorkerInfo{Worker: id, Acknowledged: g.Acknowledged, LastDelivered: g.LastDelivered, Pending: g.Pending, IdleSeconds: g.Idle.Seconds(), Packages: states[id], Ring: rings[id], Health: healths[id]}
		if head.Revision > g.Acknowledged {
			info.Lag = uint64(head.Revision - g.Acknowledged)
		}
		if at, ok := diverged[id]; ok {
			// It runs what the log does not hold: never up to date, until
			// it acknowledges the head it is told to reload.
			info.Diverged, info.DivergedAt = true, at
			info.Lag = max(info.Lag, 1)
		}
		out = append(out, info)
	}
	writeJSON(w, http.StatusOK, Workers{Revision: head.Revision, Workers: out})
	return nil
}
