package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/usecase"
)

// rollbackRequest is the body of POST …/rollback.
type rollbackRequest struct {
	To     domain.Revision `json:"to"`
	Reason string          `json:"reason"`
}

// postRollback rolls the flows back to an earlier revision
// (usecase.RollBack). Rolling back to what is current appends nothing and
// answers {"noop": true}.
func (s *Server) postRollback(w http.ResponseWriter, r *http.Request) error {
	body, err := s.readJSONObject(w, r, "rollback")
	if err != nil {
		return err
	}
	var req rollbackRequest
	if err := json.Unmarshal(body, &req); err != nil || req.To == 0 {
		return domain.Errorf(domain.EINVALID, "rollback must be {\"to\": <revision>, \"reason\": \"<why>\"}")
	}
	ureq, err := request(r)
	if err != nil {
		return err
	}
	res, err := s.app.RollBack(r.Context(), usecase.RollBack{Request: ureq, To: req.To, Reason: req.Reason})
	if err != nil {
		return err
	}
	if cur := res.Current; res.Noop {
		w.Header().Set("ETag", etag(cur.AggregateRevision))
		writeJSON(w, http.StatusOK, RollbackNoop{
			Noop: true, Revision: cur.Revision, FlowsRevision: cur.AggregateRevision,
			SHA256: cur.Flows.SHA256(), Message: "the flows are already as at revision " + req.To.String(),
		})
		return nil
	}
	return writeFlowsSaved(w, res.FlowsResult, nil)
}
