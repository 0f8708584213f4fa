package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
)

// rollbackRequest is the body of POST …/rollback.
type rollbackRequest struct {
	To     domain.Revision `json:"to"`
	Reason string          `json:"reason"`
}

// postRollback appends a new event restoring the flows and credentials of
// an earlier revision; history is never rewritten, and workers reload as
// after any deploy. Rolling back to what is current appends nothing and
// answers {"noop": true}.
func (s *Server) postRollback(w http.ResponseWriter, r *http.Request) error {
	ns := r.PathValue("ns")
	body, err := s.readJSONObject(w, r, "rollback")
	if err != nil {
		return err
	}
	var req rollbackRequest
	if err := json.Unmarshal(body, &req); err != nil || req.To == 0 {
		return domain.Errorf(domain.EINVALID, "rollback must be {\"to\": <revision>, \"reason\": \"<why>\"}")
	}
	if req.Reason = strings.TrimSpace(req.Reason); req.Reason == "" {
		return domain.Errorf(domain.EINVALID, "rollback needs a reason: auditors will ask why")
	}
	exp, err := expected(r)
	if err != nil {
		return err
	}
	target, err := s.store.FlowsAt(r.Context(), ns, req.To)
	if err != nil {
		return err
	}
	current, err := s.store.FlowsAt(r.Context(), ns, 0)
	if err != nil {
		return err
	}
	head := domain.FlowsHead{Flows: current.Flows, Credentials: current.Credentials}
	change, err := domain.RollbackChange(head, domain.FlowsHead{Flows: target.Flows, Credentials: target.Credentials}, req.To, req.Reason)
	if err != nil {
		return domain.Errorf(domain.EINVALID, "namespace %s: %s", ns, domain.ErrorMessage(err))
	}
	if !exp.Allows(current.AggregateRevision) {
		s.metrics.conflicts.Inc()
		return domain.ConflictError(domain.AggregateFlows, exp, current.AggregateRevision)
	}
	if change.IsNoop(head) {
		w.Header().Set("ETag", etag(current.AggregateRevision))
		writeJSON(w, http.StatusOK, RollbackNoop{
			Noop: true, Revision: current.Revision, FlowsRevision: current.AggregateRevision,
			SHA256: current.Flows.SHA256(), Message: "the flows are already as at revision " + req.To.String(),
		})
		return nil
	}
	if exp.IsAny() {
		// Roll back from what was just read, not from whatever lands
		// between: a deploy racing the rollback is a conflict.
		exp = domain.ExpectRevision(current.AggregateRevision)
	}
	return s.deployFlows(w, r, streams.FlowsChange{FlowsChange: change, Expected: exp})
}
