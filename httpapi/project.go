package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/usecase"
)

// Project is the answer of GET /project.
type Project struct {
	// Name is the active project, "" when none was ever activated.
	Name string `json:"name"`
}

// getProject answers the active Node-RED project: {"name": "…"}, with
// "name": "" when none was ever activated; ETag the project revision.
func (s *Server) getProject(w http.ResponseWriter, r *http.Request) error {
	var name string
	var rev domain.Revision
	err := s.proj.View(r.Context(), r.PathValue("ns"), func(st *domain.State) error {
		if st.Project != nil {
			name = st.Project.Name
		}
		rev = st.Aggregates[domain.AggregateProject]
		return nil
	})
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag(rev))
	writeJSON(w, http.StatusOK, Project{Name: name})
	return nil
}

// putProject appends project.activated: body {"name": "…"}. It is what
// Node-RED's Projects on the admin and `flowhist import` use to record the
// active project.
func (s *Server) putProject(w http.ResponseWriter, r *http.Request) error {
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	var req struct {
		Name *string `json:"name"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Name == nil {
		return domain.Errorf(domain.EINVALID, `project body must be {"name": "…"}`)
	}
	if err := domain.ValidateLabel("project name", *req.Name, 255); err != nil {
		return err
	}
	ureq, err := request(r)
	if err != nil {
		return err
	}
	res, err := s.app.ActivateProject(r.Context(), usecase.ActivateProject{Request: ureq, Name: *req.Name})
	if err != nil {
		return err
	}
	writeSaved(w, res, Saved{})
	return nil
}
