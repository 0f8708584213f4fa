package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
	"github.com/flowhist/flowhist/usecase"
)

// getFlows answers the current flows document byte for byte, with its flows
// revision as the ETag, the namespace revision (Flowhist-Revision) and its
// event's id (Flowhist-Event). A namespace with no flows answers [] at revision 0.
//
// With ring=NAME and a rollout policy it answers the ring's target instead
// (rollout.go).
func (s *Server) getFlows(w http.ResponseWriter, r *http.Request) error {
	ns := r.PathValue("ns")
	if staged, err := s.getRingFlows(w, r, false); staged || err != nil {
		return err
	}
	var doc []byte
	var flowsRev, rev domain.Revision
	err := s.proj.View(r.Context(), ns, func(st *domain.State) error {
		doc, flowsRev, rev = st.Flows.Bytes(), st.FlowsRevision(), st.Revision
		return nil
	})
	if err != nil {
		return err
	}
	if rev > 0 {
		// The event's id names the position a worker reports once it
		// runs these flows (feed: afterId, ackId).
		at, ok, err := s.store.EventAt(r.Context(), ns, rev)
		if err != nil {
			return err
		}
		if ok {
			w.Header().Set("Flowhist-Event", at.ID)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("ETag", etag(flowsRev))
	w.Header().Set("Flowhist-Revision", strconv.FormatUint(uint64(rev), 10))
	w.Header().Set("Content-Length", strconv.Itoa(len(doc)))
	w.Write(doc)
	return nil
}

// putFlows deploys a flows document sent as the whole body.
func (s *Server) putFlows(w http.ResponseWriter, r *http.Request) error {
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	f, err := s.parseFlows(r, body)
	if err != nil {
		return err
	}
	req, err := request(r)
	if err != nil {
		return err
	}
	res, err := s.app.Deploy(r.Context(), usecase.Deploy{Request: req, Flows: f})
	return writeFlowsSaved(w, res, err)
}

// deployRequest is the body of POST …/deploy: flows and credentials saved as
// one event, as Node-RED saves them in one deploy.
type deployRequest struct {
	Flows       json.RawMessage `json:"flows"`
	Credentials json.RawMessage `json:"credentials"`
	User        json.RawMessage `json:"user"`
}

func (s *Server) deploy(w http.ResponseWriter, r *http.Request) error {
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	dr, flows, err := s.splitDeploy(r, body)
	if err != nil {
		return err
	}
	if dr.Flows == nil {
		return domain.Errorf(domain.EINVALID, "deploy body has no \"flows\"")
	}
	d := usecase.Deploy{}
	if d.Flows = flows; flows == nil {
		if d.Flows, err = s.parseFlows(r, dr.Flows); err != nil {
			return err
		}
	}
	// "credentials": null (or none) leaves the credentials as they are.
	if len(dr.Credentials) > 0 && string(dr.Credentials) != "null" {
		if d.Credentials, err = domain.CanonicalObject("credentials", dr.Credentials); err != nil {
			return err
		}
	}
	user, err := deployUser(dr.User)
	if err != nil {
		return err
	}
	// One user, claimed once: the body's, checked by the same rule as the
	// header's (origin).
	if h := r.Header.Get("Flowhist-User"); user != "" && h != "" && h != user {
		return domain.Errorf(domain.EINVALID, "deploy names two users (\"user\" %q, Flowhist-User %q): send one", domain.Clip(user), domain.Clip(h))
	}
	if user != "" {
		r.Header.Set("Flowhist-User", user)
	}
	if d.Request, err = request(r); err != nil {
		return err
	}
	res, err := s.app.Deploy(r.Context(), d)
	return writeFlowsSaved(w, res, err)
}

// parseFlows parses a deployed document as an edit of the namespace's
// head when this process holds it: only what differs is scanned.
func (s *Server) parseFlows(r *http.Request, doc []byte) (*domain.Flows, error) {
	return domain.ParseFlowsInputFrom(doc, s.store.CachedFlows(r.PathValue("ns")))
}

// splitDeploy reads a deploy's body: with the flows scanner when it can,
// its flows parsed as an edit of the head this process holds
// (domain.SplitDeployBodyFrom: flows, nil when not parsed yet), else with
// encoding/json, which words the error.
func (s *Server) splitDeploy(r *http.Request, body []byte) (deployRequest, *domain.Flows, error) {
	if b, flows, ok := domain.SplitDeployBodyFrom(body, s.store.CachedFlows(r.PathValue("ns"))); ok {
		return deployRequest{Flows: b.Flows, Credentials: b.Credentials, User: b.User}, flows, nil
	}
	var dr deployRequest
	if err := json.Unmarshal(body, &dr); err != nil {
		return dr, nil, domain.Errorf(domain.EINVALID, "deploy body must be {\"flows\": [...], \"credentials\": {...}, \"user\": \"...\"}: %v", err)
	}
	return dr, nil, nil
}

// writeFlowsSaved answers a flows append: its error, or what it saved.
func writeFlowsSaved(w http.ResponseWriter, res streams.FlowsResult, err error) error {
	if err != nil {
		return err
	}
	writeSaved(w, res.AppendResult, Saved{SHA256: res.SHA256, FlowsRevision: res.AggregateRevision, Summary: &res.Summary})
	return nil
}

// deployUser reads a deploy's "user": a string of valid text, or none.
func deployUser(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var user string
	if err := json.Unmarshal(raw, &user); err != nil {
		return "", domain.Errorf(domain.EINVALID, "deploy \"user\" must be a string")
	}
	if err := domain.CheckText("deploy \"user\"", raw); err != nil {
		return "", err
	}
	return user, nil
}
