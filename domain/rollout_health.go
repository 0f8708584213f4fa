package domain

import (
	"fmt"
	"time"
)

// WorkerHealth is a worker's health report after it applied a ring's
// target (PUT workers/{worker}/health; docs/rollout.md).
type WorkerHealth struct {
	Ring         string        `json:"ring"`
	Revision     Revision      `json:"revision"`
	ID           string        `json:"id"`
	Applied      time.Time     `json:"applied"`
	Started      bool          `json:"started"`
	FailedTypes  []string      `json:"failedTypes"`
	MissingTypes []string      `json:"missingTypes"`
	Errors       int           `json:"errors"`
	Restarts     int           `json:"restarts"`
	Probes       []ProbeResult `json:"probes"`
	Message      string        `json:"message"`
}

// ProbeResult is the latest result of one probe a worker ran.
type ProbeResult struct {
	Path   string `json:"path"`
	Status int    `json:"status"`
	OK     bool   `json:"ok"`
	Error  string `json:"error"`
}

// Bounds of a health report: it is shown to operators, not a log.
const (
	MaxHealthBytes  = 64 << 10
	maxHealthTypes  = 100
	maxHealthType   = 214
	maxHealthText   = 500
	maxHealthProbes = 20
)

// Validate checks a report's bounds and text.
//
// Errors: EINVALID naming the field.
func (h WorkerHealth) Validate() error {
	if h.Ring != "" {
		if err := ValidateRing(h.Ring); err != nil {
			return err
		}
	}
	if h.Errors < 0 || h.Restarts < 0 {
		return Errorf(EINVALID, "health: errors and restarts must be 0 or more")
	}
	for name, list := range map[string][]string{"failedTypes": h.FailedTypes, "missingTypes": h.MissingTypes} {
		if len(list) > maxHealthTypes {
			return Errorf(EINVALID, "health: %s lists %d types, at most %d", name, len(list), maxHealthTypes)
		}
		for i, t := range list {
			if len(t) > maxHealthType || len(t) == 0 {
				return Errorf(EINVALID, "health: %s[%d] must be 1 to %d characters", name, i, maxHealthType)
			}
		}
	}
	if len(h.Message) > maxHealthText {
		return Errorf(EINVALID, "health: message is %d bytes, at most %d", len(h.Message), maxHealthText)
	}
	if len(h.Probes) > maxHealthProbes {
		return Errorf(EINVALID, "health: %d probes, at most %d", len(h.Probes), maxHealthProbes)
	}
	for i, p := range h.Probes {
		if len(p.Path) > maxProbePath || len(p.Error) > maxHealthText {
			return Errorf(EINVALID, "health: probes[%d]: path at most %d, error at most %d characters", i, maxProbePath, maxHealthText)
		}
	}
	if h.Revision > 0 && h.ID == "" {
		return Errorf(EINVALID, "health: name the event id of revision %d (the Flowhist-Event of the flows it runs)", h.Revision)
	}
	return nil
}

// Judge returns what in h breaks gate g, "" when h is healthy.
func (g Gate) Judge(h WorkerHealth) string {
	switch {
	case !h.Started:
		return "flows did not start"
	case len(h.MissingTypes) > 0:
		return fmt.Sprintf("missing node types: %s", Clip(fmt.Sprint(h.MissingTypes)))
	case len(h.FailedTypes) > 0:
		return fmt.Sprintf("node types failed to start: %s", Clip(fmt.Sprint(h.FailedTypes)))
	case h.Errors > g.MaxErrors:
		return fmt.Sprintf("%d runtime errors (at most %d)", h.Errors, g.MaxErrors)
	case h.Restarts > g.MaxRestarts:
		return fmt.Sprintf("%d restarts (at most %d)", h.Restarts, g.MaxRestarts)
	}
	for _, want := range g.Probes {
		found := false
		for _, got := range h.Probes {
			if got.Path != want.Path {
				continue
			}
			found = true
			if got.Status != want.Status {
				return fmt.Sprintf("probe %s answered %d (want %d)", Clip(want.Path), got.Status, want.Status)
			}
		}
		if !found {
			return fmt.Sprintf("probe %s not reported", Clip(want.Path))
		}
	}
	return ""
}

// StoredHealth is a worker's last report as flowhist keeps it: with when it
// came, flowhist's judgement, since when the worker has been healthy on
// the position it reports, and the first problem it reported there (a
// failure is not forgotten by a healthier report on the same position).
type StoredHealth struct {
	WorkerHealth
	Updated      time.Time `json:"updated"`
	Healthy      bool      `json:"healthy"`
	Problem      string    `json:"problem"`
	HealthySince time.Time `json:"healthySince,omitzero"`
	Failed       string    `json:"failed,omitempty"`
}

// MergeHealth is what flowhist keeps after report h arrives at now, judged
// by gate, given what it kept before (nil: nothing).
func MergeHealth(prev *StoredHealth, h WorkerHealth, gate Gate, now time.Time) StoredHealth {
	out := StoredHealth{WorkerHealth: h, Updated: now}
	out.Problem = gate.Judge(h)
	out.Healthy = out.Problem == ""
	same := prev != nil && prev.Revision == h.Revision && prev.ID == h.ID
	if same {
		out.Failed = prev.Failed
		if prev.Healthy && out.Healthy {
			out.HealthySince = prev.HealthySince
		}
	}
	if out.Healthy && out.HealthySince.IsZero() {
		out.HealthySince = now
	}
	if !out.Healthy && out.Failed == "" {
		out.Failed = out.Problem
	}
	return out
}
