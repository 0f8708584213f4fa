package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"time"

	"github.com/flowhist/flowhist/domain"
)

// workerPackages is a worker's report of its installed modules: in step
// with the admin's at Revision (OK), or which change failed and why.
// Workers send it with their read-scope token after each package sync;
// GET …/workers shows the last one per worker.
type workerPackages struct {
	Revision domain.Revision  `json:"revision"`
	OK       bool             `json:"ok"`
	Module   string           `json:"module,omitempty"`
	Version  string           `json:"version,omitempty"`
	Error    string           `json:"error,omitempty"`
	Packages []domain.Package `json:"packages"`
	// Reported is when flowhist received the report.
	Reported time.Time `json:"reported"`
}

// Limits on a report: it is shown to operators, not a place for logs.
const (
	maxReportError    = 2000
	maxReportPackages = 1000
)

// putWorkerPackages stores a worker's package state.
func (s *Server) putWorkerPackages(w http.ResponseWriter, r *http.Request) error {
	ns, worker := r.PathValue("ns"), r.PathValue("worker")
	if err := validateWorker(worker); err != nil {
		return err
	}
	body, err := s.readJSONObject(w, r, "package state")
	if err != nil {
		return err
	}
	var rep workerPackages
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil {
		return domain.Errorf(domain.EINVALID, "package state must be {\"revision\": <n>, \"ok\": <bool>, \"module\", \"version\", \"error\", \"packages\": [{\"name\", \"version\"}]}: %v", err)
	}
	switch {
	case len(rep.Error) > maxReportError:
		return domain.Errorf(domain.EINVALID, "package state: error is %d bytes, at most %d", len(rep.Error), maxReportError)
	case len(rep.Packages) > maxReportPackages:
		return domain.Errorf(domain.EINVALID, "package state: %d packages, at most %d", len(rep.Packages), maxReportPackages)
	case rep.OK && rep.Error != "":
		return domain.Errorf(domain.EINVALID, "package state: ok with an error; send ok: false with the error")
	}
	if rep.Packages == nil {
		rep.Packages = []domain.Package{}
	}
	rep.Reported = time.Now().UTC().Truncate(time.Millisecond)
	b, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	if err := s.store.SaveWorkerStatus(r.Context(), ns, worker, b); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"worker": worker, "saved": true})
	return nil
}

// workerPackageStates reads every worker's last report in ns; a report
// that no longer decodes is left out.
func (s *Server) workerPackageStates(r *http.Request, ns string) (map[string]*workerPackages, error) {
	raw, err := s.store.WorkerStatuses(r.Context(), ns)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*workerPackages, len(raw))
	for id, b := range raw {
		var p workerPackages
		if json.Unmarshal(b, &p) == nil {
			out[id] = &p
		}
	}
	return out, nil
}
