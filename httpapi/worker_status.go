package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/flowhist/flowhist/domain"
)

// WorkerPackages is a worker's report of its installed modules (PUT
// workers/{id}/packages), and how GET workers shows it: in step with the
// admin's at Revision (OK), or which change failed and why. Workers send it
// with their read-scope token after each package sync.
type WorkerPackages struct {
	Revision domain.Revision  `json:"revision"`
	OK       bool             `json:"ok"`
	Module   string           `json:"module,omitempty"`
	Version  string           `json:"version,omitempty"`
	Error    string           `json:"error,omitempty"`
	Packages []domain.Package `json:"packages"`
	// Updated is when flowhist received the report (set by flowhist).
	Updated time.Time `json:"updated"`
}

// WorkerPackagesSaved is the answer of PUT workers/{id}/packages.
type WorkerPackagesSaved struct {
	Worker string `json:"worker"`
	Saved  bool   `json:"saved"`
}

// Limits on a report: it is shown to operators, not a place for logs.
const (
	maxReportError    = 2000
	maxReportPackages = 1000
	maxReportBytes    = 512 << 10
	// npm's own bound on a package name; versions are shorter still.
	maxReportName    = 214
	maxReportVersion = 256
)

// reportTooLong names the first field of rep past its bound, if any.
func reportTooLong(rep WorkerPackages) string {
	if len(rep.Module) > maxReportName {
		return "module"
	}
	if len(rep.Version) > maxReportVersion {
		return "version"
	}
	for i, p := range rep.Packages {
		if len(p.Name) > maxReportName || len(p.Version) > maxReportVersion {
			return fmt.Sprintf("packages[%d]", i)
		}
	}
	return ""
}

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
	if len(body) > maxReportBytes {
		return domain.Errorf(domain.ETOOLARGE, "package state is %d bytes, at most %d", len(body), maxReportBytes)
	}
	var rep WorkerPackages
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
	case reportTooLong(rep) != "":
		return domain.Errorf(domain.EINVALID, "package state: %s is longer than a package name (%d) or version (%d) can be", reportTooLong(rep), maxReportName, maxReportVersion)
	case rep.OK && rep.Error != "":
		return domain.Errorf(domain.EINVALID, "package state: ok with an error; send ok: false with the error")
	}
	if rep.Packages == nil {
		rep.Packages = []domain.Package{}
	}
	rep.Updated = time.Now().UTC().Truncate(time.Millisecond)
	b, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	if err := s.store.SaveWorkerStatus(r.Context(), ns, worker, b); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, WorkerPackagesSaved{Worker: worker, Saved: true})
	return nil
}

// workerPackageStates reads every worker's last report in ns; a report
// that no longer decodes is left out.
func (s *Server) workerPackageStates(r *http.Request, ns string) (map[string]*WorkerPackages, error) {
	raw, err := s.store.WorkerStatuses(r.Context(), ns)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*WorkerPackages, len(raw))
	for id, b := range raw {
		var p WorkerPackages
		if json.Unmarshal(b, &p) == nil {
			out[id] = &p
		}
	}
	return out, nil
}
