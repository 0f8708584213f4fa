package httpapi

import (
	"net/http"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/usecase"
)

func (s *Server) getCredentials(w http.ResponseWriter, r *http.Request) error {
	if staged, err := s.getRingFlows(w, r, true); staged || err != nil {
		return err
	}
	return s.viewDoc(w, r, func(st *domain.State) ([]byte, domain.Revision) { return st.Credentials, st.FlowsRevision() })
}

// putCredentials saves Node-RED's encrypted credentials alone; a deploy
// that changes flows too goes through POST …/deploy as one event.
func (s *Server) putCredentials(w http.ResponseWriter, r *http.Request) error {
	body, err := s.readJSONObject(w, r, "credentials")
	if err != nil {
		return err
	}
	req, err := request(r)
	if err != nil {
		return err
	}
	res, err := s.app.SaveCredentials(r.Context(), usecase.SaveCredentials{Request: req, Credentials: body})
	return writeFlowsSaved(w, res, err)
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
// modules changed, a packages.changed event follows (usecase.SaveSettings).
func (s *Server) putSettings(w http.ResponseWriter, r *http.Request) error {
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	settings, err := domain.CanonicalSettings(body)
	if err != nil {
		return err
	}
	req, err := request(r)
	if err != nil {
		return err
	}
	res, err := s.app.SaveSettings(r.Context(), usecase.SaveSettings{Request: req, Settings: settings})
	if err != nil {
		return err
	}
	writeSaved(w, res.AppendResult, Saved{PackagesRevision: res.PackagesRevision})
	return nil
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
