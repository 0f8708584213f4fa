package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
)

// getFlows answers the current flows document byte for byte, with its flows
// revision as the ETag. A namespace with no flows answers [] at revision 0.
func (s *Server) getFlows(w http.ResponseWriter, r *http.Request) error {
	ns := r.PathValue("ns")
	var doc []byte
	var flowsRev, rev domain.Revision
	err := s.proj.View(r.Context(), ns, func(st *domain.State) error {
		doc, flowsRev, rev = st.Flows.Bytes(), st.FlowsRevision(), st.Revision
		return nil
	})
	if err != nil {
		return err
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
	f, err := domain.ParseFlowsInput(body)
	if err != nil {
		return err
	}
	return s.deployFlows(w, r, streams.FlowsChange{FlowsChange: domain.FlowsChange{Flows: f}})
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
	var req deployRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return domain.Errorf(domain.EINVALID, "deploy body must be {\"flows\": [...], \"credentials\": {...}, \"user\": \"...\"}: %v", err)
	}
	if req.Flows == nil {
		return domain.Errorf(domain.EINVALID, "deploy body has no \"flows\"")
	}
	f, err := domain.ParseFlowsInput(req.Flows)
	if err != nil {
		return err
	}
	c := streams.FlowsChange{FlowsChange: domain.FlowsChange{Flows: f}}
	// "credentials": null (or none) leaves the credentials as they are.
	if len(req.Credentials) > 0 && string(req.Credentials) != "null" {
		if c.Credentials, err = domain.CanonicalObject("credentials", req.Credentials); err != nil {
			return err
		}
	}
	user, err := deployUser(req.User)
	if err != nil {
		return err
	}
	if user != "" {
		r.Header.Set("Flowhist-User", user)
	}
	return s.deployFlows(w, r, c)
}

// deployFlows appends a flows change with the request's expectation,
// idempotency key and actor.
func (s *Server) deployFlows(w http.ResponseWriter, r *http.Request, c streams.FlowsChange) error {
	ns := r.PathValue("ns")
	o, err := origin(r)
	if err != nil {
		return err
	}
	exp, err := expected(r)
	if err != nil {
		return err
	}
	if c.Expected.IsAny() {
		c.Expected = exp
	}
	c.IdempotencyKey, c.Origin = r.Header.Get("Idempotency-Key"), o
	res, err := s.store.AppendFlows(r.Context(), ns, c)
	typ := c.Type
	if typ == "" {
		typ = domain.FlowsDeployed
	}
	s.landed(ns, res.AppendResult, typ, domain.AggregateFlows)
	if err != nil {
		if domain.ErrorCode(err) == domain.ECONFLICT {
			s.metrics.conflicts.Inc()
		}
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
