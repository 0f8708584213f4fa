package usecase

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/flowhist/flowhist/domain"
)

// ReportHealth is a worker's health report.
type ReportHealth struct {
	Namespace, Worker string
	Health            domain.WorkerHealth
}

// ReportHealth judges a worker's report against the gate of its ring (the
// policy read at most once a second per namespace: 1 000 workers report
// every few seconds) and stores it with what was kept of the worker
// before (domain.MergeHealth). It returns what it stored. The ring is the
// one the worker follows on the feed, whatever the report says: the ring
// whose target it runs is the gate it answers to (a canary reporting
// itself "default" would be judged by a laxer gate). The report's ring
// counts only for a worker not seen on the feed yet.
//
// Errors: EINVALID (the report), EUNAVAILABLE, ECANCELED.
func (a *App) ReportHealth(ctx context.Context, rh ReportHealth) (domain.StoredHealth, error) {
	h := rh.Health
	if err := h.Validate(); err != nil {
		return domain.StoredHealth{}, err
	}
	b, followed, err := a.store.WorkerHealth(ctx, rh.Namespace, rh.Worker)
	if err != nil {
		return domain.StoredHealth{}, err
	}
	if followed != "" {
		h.Ring = followed
	}
	if h.Ring == "" {
		h.Ring = domain.DefaultRing
	}
	p, err := a.policyOf(ctx, rh.Namespace)
	if err != nil {
		return domain.StoredHealth{}, err
	}
	var gate domain.Gate
	if p != nil {
		gate = p.Rings[p.RingIndex(h.Ring)].Gate
	}
	var prev *domain.StoredHealth
	if b != nil {
		var kept domain.StoredHealth
		if json.Unmarshal(b, &kept) == nil {
			prev = &kept
		}
	}
	out := domain.MergeHealth(prev, h, gate, a.now())
	doc, err := json.Marshal(out)
	if err != nil {
		return out, err
	}
	return out, a.store.SaveWorkerHealth(ctx, rh.Namespace, rh.Worker, doc)
}

// policyCache is each namespace's rollout policy as last read.
type policyCache struct {
	mu sync.Mutex
	m  map[string]cachedPolicy
}

type cachedPolicy struct {
	p    *domain.RolloutPolicy
	read time.Time
}

// policyTTL is how long a read policy is used for health reports.
const policyTTL = time.Second

func (a *App) policyOf(ctx context.Context, ns string) (*domain.RolloutPolicy, error) {
	a.policies.mu.Lock()
	c, ok := a.policies.m[ns]
	a.policies.mu.Unlock()
	if ok && time.Since(c.read) < policyTTL {
		return c.p, nil
	}
	r, _, err := a.store.Rollout(ctx, ns)
	if err != nil {
		return nil, err
	}
	var p *domain.RolloutPolicy
	if r != nil {
		p = r.Policy
	}
	a.policies.mu.Lock()
	if a.policies.m == nil {
		a.policies.m = map[string]cachedPolicy{}
	}
	a.policies.m[ns] = cachedPolicy{p: p, read: time.Now()}
	a.policies.mu.Unlock()
	return p, nil
}
