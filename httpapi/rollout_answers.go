package httpapi

import (
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/usecase"
)

// RolloutStatus is the answer of GET rollout and of the operator's
// actions (docs/rollout.md).
type RolloutStatus struct {
	Policy    *domain.Policy    `json:"policy"`
	Active    bool              `json:"active"`
	State     string            `json:"state"`
	Revision  domain.Revision   `json:"revision"`
	ID        string            `json:"id"`
	Base      domain.Position   `json:"base"`
	Stable    domain.Position   `json:"stable"`
	Ring      int               `json:"ring"`
	StartedAt *time.Time        `json:"startedAt,omitempty"`
	UpdatedAt *time.Time        `json:"updatedAt,omitempty"`
	Reason    string            `json:"reason"`
	Rings     []RolloutRingInfo `json:"rings"`
}

// RolloutRingInfo is one ring in RolloutStatus.
type RolloutRingInfo struct {
	Name       string              `json:"name"`
	Target     domain.Position     `json:"target"`
	Promoted   bool                `json:"promoted"`
	PromotedAt *time.Time          `json:"promotedAt,omitempty"`
	BakeUntil  *time.Time          `json:"bakeUntil,omitempty"`
	Passed     bool                `json:"passed"`
	Workers    []RolloutWorkerInfo `json:"workers"`
	Done       int                 `json:"done"`
	Total      int                 `json:"total"`
}

// RolloutWorkerInfo is one member of a ring in RolloutStatus.
type RolloutWorkerInfo struct {
	Worker     string          `json:"worker"`
	Reported   bool            `json:"reported"`
	Revision   domain.Revision `json:"revision"`
	ID         string          `json:"id"`
	Healthy    bool            `json:"healthy"`
	Problem    string          `json:"problem"`
	ReportedAt *time.Time      `json:"reportedAt,omitempty"`
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// rolloutStatus is the answer of st.
func rolloutStatus(st usecase.RolloutStatus) RolloutStatus {
	out := RolloutStatus{State: domain.StateIdle, Rings: []RolloutRingInfo{}}
	r := st.Rollout
	if r == nil || r.Policy == nil {
		return out
	}
	out.Policy, out.Active, out.State, out.Revision, out.ID = r.Policy, r.Active(), r.State, r.Target.Revision, r.Target.ID
	out.Base, out.Stable, out.Ring, out.Reason = r.Base, r.Stable, r.Ring, r.Reason
	out.StartedAt, out.UpdatedAt = timeOrNil(r.StartedAt), timeOrNil(r.UpdatedAt)
	for _, rs := range st.Rings {
		info := RolloutRingInfo{Name: rs.Name, Target: rs.Target, Promoted: rs.Promoted, PromotedAt: timeOrNil(rs.PromotedAt),
			Passed: rs.Promoted && rs.Verdict.Passed, Done: rs.Verdict.Done, Total: len(rs.Members), Workers: []RolloutWorkerInfo{}}
		if rs.Promoted {
			info.BakeUntil = timeOrNil(rs.Verdict.BakeUntil)
		}
		for i, m := range rs.Members {
			w := RolloutWorkerInfo{Worker: m.Worker}
			if i < len(rs.Verdict.Members) {
				v := rs.Verdict.Members[i]
				w.Reported, w.Healthy, w.Problem = v.Reported, v.Healthy, v.Problem
			}
			if h := m.Health; h != nil {
				w.Revision, w.ID, w.ReportedAt = h.Revision, h.ID, timeOrNil(h.Updated)
			}
			info.Workers = append(info.Workers, w)
		}
		out.Rings = append(out.Rings, info)
	}
	return out
}
