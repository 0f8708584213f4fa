package httpapi

import (
	"net/http"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
)

func (s *Server) getCredentials(w http.ResponseWriter, r *http.Request) error {
	return s.viewDoc(w, r, func(st *domain.State) ([]byte, domain.Revision) { return st.Credentials, st.FlowsRevision() })
}

// putCredentials saves Node-RED's encrypted credentials alone; a deploy
// that changes flows too goes through POST …/deploy as one event.
func (s *Server) putCredentials(w http.ResponseWriter, r *http.Request) error {
	body, err := s.readJSONObject(w, r, "credentials")
	if err != nil {
		return err
	}
	return s.deployFlows(w, r, streams.FlowsChange{FlowsChange: domain.FlowsChange{Type: domain.CredentialsSaved, Credentials: body}})
}

func (s *Server) getSettings(w http.ResponseWriter, r *http.Request) error {
	return s.viewDoc(w, r, func(st *domain.State) ([]byte, domain.Revision) {
		return st.Settings, st.Aggregates[domain.AggregateSettings]
	})
}

// viewDoc answers one JSON document of the state, {} when there is none.
func (s *Server) viewDoc(w http.ResponseWriter, r *http.Request, get func(*domain.State) ([]byte, domain.Revision)) error {
	var doc []byte
	var rev domain.Revision
	err := s.proj.View(r.Context(), r.PathValue("ns"), func(st *domain.State) error {
		doc, rev = get(st)
		return nil
	})
	if err != nil {
		return err
	}
	if doc == nil {
		doc = []byte("{}")
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("ETag", etag(rev))
	w.Write(doc)
	return nil
}

// putSettings saves Node-RED's runtime settings in their canonical form
// (domain.CanonicalSettings), whose sha256 is recorded: _credentialSecret
// is removed first, as the secret that decrypts every credential must never
// enter the log, its history or an API response. When the user-installed
// modules changed, a packages.changed event follows.
func (s *Server) putSettings(w http.ResponseWriter, r *http.Request) error {
	ns := r.PathValue("ns")
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	settings, err := domain.CanonicalSettings(body)
	if err != nil {
		return err
	}
	res, err := s.saveEvent(r, func(o domain.Origin) (domain.Event, error) { return domain.NewSettingsEvent(ns, settings, o) })
	if res.Revision == 0 {
		return err // nothing landed
	}
	// The settings landed (maybe answered 503 for durability, maybe this
	// is the retry of one that was): the packages change they imply
	// follows, under its own idempotency key, as long as these settings
	// are still the newest.
	pres, perr := s.appendPackagesOf(r, ns, settings, res)
	if err != nil {
		return err
	}
	if perr != nil {
		return perr
	}
	writeSaved(w, res, Saved{PackagesRevision: pres})
	return nil
}

// appendPackagesOf appends the packages.changed event that the settings
// saved at res imply, if any, and returns its revision (0: none).
func (s *Server) appendPackagesOf(r *http.Request, ns string, settings []byte, res streams.AppendResult) (domain.Revision, error) {
	var current []domain.Package
	var newest bool
	if err := s.proj.View(r.Context(), ns, func(st *domain.State) error {
		current, newest = st.Packages, st.Aggregates[domain.AggregateSettings] == res.AggregateRevision
		return nil
	}); err != nil {
		return 0, err
	}
	if !newest {
		return 0, nil // newer settings said what is installed
	}
	o, err := origin(r) // checked by saveEvent already
	if err != nil {
		return 0, err
	}
	pe, err := domain.NewPackagesEvent(ns, settings, current, o)
	if err != nil || pe == nil {
		return 0, err
	}
	pres, err := s.appendEvent(r, *pe, domain.ExpectAny)
	if pres.Revision != 0 {
		return pres.Revision, err
	}
	return 0, err
}

// saveEvent appends the event build makes from the request's origin, with
// the request's expectation (If-Match) and idempotency key.
func (s *Server) saveEvent(r *http.Request, build func(domain.Origin) (domain.Event, error)) (streams.AppendResult, error) {
	exp, err := expected(r)
	if err != nil {
		return streams.AppendResult{}, err
	}
	o, err := origin(r)
	if err != nil {
		return streams.AppendResult{}, err
	}
	e, err := build(o)
	if err != nil {
		return streams.AppendResult{}, err
	}
	return s.appendEvent(r, e, exp)
}

// appendEvent appends one non-flows event with the request's idempotency
// key, then wakes followers and projects.
func (s *Server) appendEvent(r *http.Request, e domain.Event, exp domain.Expected) (streams.AppendResult, error) {
	key := r.Header.Get("Idempotency-Key")
	if key != "" && e.Type == domain.PackagesChanged {
		// The settings.saved before took the key itself. A key too long
		// to take a suffix (keys are at most 200 bytes) is hashed, so that
		// this append cannot fail on it after that one landed.
		if len(key) > 200-len(":packages") {
			key = domain.SHA256Hex([]byte(key))
		}
		key += ":packages"
	}
	res, err := s.store.Append(r.Context(), streams.AppendRequest{Event: e, Expected: exp, IdempotencyKey: key})
	s.landed(e.Namespace, res, e.Type, e.Aggregate)
	if err != nil {
		if domain.ErrorCode(err) == domain.ECONFLICT {
			s.metrics.conflicts.Inc()
		}
		return res, err
	}
	return res, nil
}

// getSessions answers Node-RED's sessions: live bearer tokens of its editor,
// so only deploy-scoped tokens (the admin's) may read them.
func (s *Server) getSessions(w http.ResponseWriter, r *http.Request) error {
	b, err := s.store.Sessions(r.Context(), r.PathValue("ns"))
	if err != nil {
		return err
	}
	if b == nil {
		b = []byte("{}")
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b)
	return nil
}

// putSessions stores the sessions as state with a TTL, never as an event:
// they are live bearer tokens.
func (s *Server) putSessions(w http.ResponseWriter, r *http.Request) error {
	body, err := s.readJSONObject(w, r, "sessions")
	if err != nil {
		return err
	}
	if err := s.store.SaveSessions(r.Context(), r.PathValue("ns"), body, s.cfg.SessionTTL); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, SessionsSaved{Saved: true})
	return nil
}
