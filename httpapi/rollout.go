package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/usecase"
)

// Staged rollout over HTTP (docs/rollout.md): the policy, the status, an
// operator's actions, workers' health reports, and what a worker of a ring
// loads.

// queryRing checks a ring a request names ("" none).
func queryRing(ring string) error {
	if ring == "" {
		return nil
	}
	return domain.ValidateRing(ring)
}

// getRingFlows answers GET flows?ring= (or credentials, with creds) with
// the ring's target when the namespace has a rollout policy; staged is
// false (nothing written) otherwise: the caller answers the head.
func (s *Server) getRingFlows(w http.ResponseWriter, r *http.Request, creds bool) (staged bool, err error) {
	ring := r.URL.Query().Get("ring")
	if ring == "" {
		return false, nil
	}
	if err := queryRing(ring); err != nil {
		return true, err
	}
	rf, err := s.app.FlowsOfRing(r.Context(), r.PathValue("ns"), ring)
	if err != nil || !rf.Staged {
		return rf.Staged, err
	}
	doc, etagRev := []byte("[]"), domain.Revision(0)
	if creds {
		doc = []byte("{}")
	}
	if v := rf.Flows; v != nil {
		etagRev = v.AggregateRevision
		switch {
		case creds && v.Credentials != nil:
			doc = v.Credentials
		case !creds && v.Flows != nil:
			doc = v.Flows.Bytes()
		}
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("ETag", etag(etagRev))
	h.Set("Flowhist-Revision", strconv.FormatUint(uint64(rf.At.Revision), 10))
	if rf.At.ID != "" {
		h.Set("Flowhist-Event", rf.At.ID)
	}
	h.Set("Content-Length", strconv.Itoa(len(doc)))
	w.Write(doc)
	return true, nil
}

// WorkerHealthSaved is the answer of PUT workers/{id}/health.
type WorkerHealthSaved struct {
	Worker  string `json:"worker"`
	Saved   bool   `json:"saved"`
	Healthy bool   `json:"healthy"`
	Problem string `json:"problem"`
}

// putWorkerHealth stores a worker's health report.
func (s *Server) putWorkerHealth(w http.ResponseWriter, r *http.Request) error {
	ns, worker := r.PathValue("ns"), r.PathValue("worker")
	if err := validateWorker(worker); err != nil {
		return err
	}
	body, err := s.readJSONObject(w, r, "health report")
	if err != nil {
		return err
	}
	if len(body) > domain.MaxHealthBytes {
		return domain.Errorf(domain.ETOOLARGE, "health report is %d bytes, at most %d", len(body), domain.MaxHealthBytes)
	}
	var h domain.WorkerHealth
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return domain.Errorf(domain.EINVALID, "health report must be {\"ring\", \"revision\", \"id\", \"applied\", \"started\", \"failedTypes\", \"missingTypes\", \"errors\", \"restarts\", \"probes\", \"message\"}: %v", err)
	}
	if err := domain.CheckText("health report", body); err != nil {
		return err
	}
	if err := mayJoinRing(r, h.Ring); err != nil {
		return err
	}
	st, err := s.app.ReportHealth(r.Context(), usecase.ReportHealth{Namespace: ns, Worker: worker, Health: h})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, WorkerHealthSaved{Worker: worker, Saved: true, Healthy: st.Healthy, Problem: st.Problem})
	return nil
}

// workerRollout returns the rings and health reports of ns's workers.
func (s *Server) workerRollout(r *http.Request, ns string) (map[string]string, map[string]*domain.StoredHealth, error) {
	seen, err := s.store.WorkerRings(r.Context(), ns)
	if err != nil {
		return nil, nil, err
	}
	rings := make(map[string]string, len(seen))
	for id, w := range seen {
		rings[id] = w.Ring
	}
	raw, err := s.store.WorkerHealths(r.Context(), ns)
	if err != nil {
		return nil, nil, err
	}
	healths := make(map[string]*domain.StoredHealth, len(raw))
	for id, b := range raw {
		var h domain.StoredHealth
		if json.Unmarshal(b, &h) == nil {
			healths[id] = &h
		}
	}
	return rings, healths, nil
}

// getRolloutPolicy answers the namespace's policy, 404 without one.
func (s *Server) getRolloutPolicy(w http.ResponseWriter, r *http.Request) error {
	ro, err := s.app.RolloutOf(r.Context(), r.PathValue("ns"))
	if err != nil {
		return err
	}
	if ro == nil || ro.Policy == nil {
		return domain.Errorf(domain.ENOTFOUND, "namespace %s has no rollout policy", r.PathValue("ns"))
	}
	writeJSON(w, http.StatusOK, ro.Policy)
	return nil
}

// maxPolicyBytes bounds a policy's body.
const maxPolicyBytes = 64 << 10

// putRolloutPolicy sets the namespace's policy.
func (s *Server) putRolloutPolicy(w http.ResponseWriter, r *http.Request) error {
	body, err := s.readJSONObject(w, r, "rollout policy")
	if err != nil {
		return err
	}
	if len(body) > maxPolicyBytes {
		return domain.Errorf(domain.ETOOLARGE, "rollout policy is %d bytes, at most %d", len(body), maxPolicyBytes)
	}
	var p domain.RolloutPolicy
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return domain.Errorf(domain.EINVALID, "rollout policy must be {\"rings\": [{\"name\", \"bake\", \"gate\"}], \"windows\": [...]}: %s", domain.Clip(err.Error()))
	}
	req, err := request(r)
	if err != nil {
		return err
	}
	ro, err := s.app.SetRolloutPolicy(r.Context(), usecase.SetRolloutPolicy{Request: req, Policy: &p})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ro.Policy)
	return nil
}

// deleteRolloutPolicy removes the namespace's policy.
func (s *Server) deleteRolloutPolicy(w http.ResponseWriter, r *http.Request) error {
	req, err := request(r)
	if err != nil {
		return err
	}
	if _, err := s.app.SetRolloutPolicy(r.Context(), usecase.SetRolloutPolicy{Request: req}); err != nil {
		return err
	}
	return s.getRollout(w, r)
}

// getRollout answers the rollout's status.
func (s *Server) getRollout(w http.ResponseWriter, r *http.Request) error {
	st, err := s.app.RolloutStatus(r.Context(), r.PathValue("ns"), s.cfg.RolloutMemberIdle)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rolloutStatus(st))
	return nil
}

// postRolloutAction is an operator's promote, pause, resume or abort.
func (s *Server) postRolloutAction(action string) func(w http.ResponseWriter, r *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		var body struct {
			Reason string `json:"reason"`
		}
		if r.ContentLength != 0 {
			raw, err := s.readJSONObject(w, r, "rollout action")
			if err != nil {
				return err
			}
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&body); err != nil {
				return domain.Errorf(domain.EINVALID, "rollout %s body must be {\"reason\": \"...\"} or empty", action)
			}
		}
		req, err := request(r)
		if err != nil {
			return err
		}
		if _, err := s.app.StepInRollout(r.Context(), usecase.RolloutAction{Request: req, Action: action, Reason: body.Reason}); err != nil {
			return err
		}
		return s.getRollout(w, r)
	}
}

// DrivesRollout reports whether this server's rollout driver holds ns's
// lease.
//
// Errors: EUNAVAILABLE.
func (s *Server) DrivesRollout(ctx context.Context, ns string) (bool, error) {
	holder, err := s.store.RolloutLeaseHolder(ctx, ns)
	return holder != "" && holder == s.driver.Owner(), err
}
