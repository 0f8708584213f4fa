package streams

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/flowhist/flowhist/domain"
)

// FlowsVersion is the flows aggregate as of one revision.
type FlowsVersion struct {
	Flows *domain.Flows
	// Credentials is Node-RED's encrypted credentials JSON, nil if none.
	Credentials []byte
	// Revision is the namespace revision of the flows event that produced
	// this version, 0 if there was none.
	Revision domain.Revision
	// AggregateRevision is the flows aggregate's revision.
	AggregateRevision domain.Revision
}

// FlowsChange is a change to a namespace's flows aggregate, with what its
// append expects and its idempotency key.
type FlowsChange struct {
	domain.FlowsChange
	Expected       domain.Expected
	IdempotencyKey string
}

// FlowsResult is the outcome of AppendFlows.
type FlowsResult struct {
	AppendResult
	SHA256  string         `json:"sha256"`
	Summary domain.Summary `json:"summary"`
}

// AppendFlows appends a change of ns's flows as a patch against the current
// document. With ExpectAny it never conflicts: when another replica's
// deploy got in first it re-diffs against the new head and tries again,
// until ctx ends. Otherwise a stale expectation is a conflict.
//
// This process's flows appends to one namespace take turns: concurrent
// deploys queue instead of racing for the head, and each diffs against the
// head the one before it cached.
//
// Errors: EINVALID, ECONFLICT (carrying the current revision; never with
// ExpectAny), EUNAVAILABLE (also when ctx's deadline passes while it waits
// its turn, or after maxAnyAttempts lost races), ECANCELED (ctx cancelled).
func (s *Store) AppendFlows(ctx context.Context, ns string, c FlowsChange) (FlowsResult, error) {
	if err := domain.ValidateNamespace(ns); err != nil {
		return FlowsResult{}, err
	}
	turn := s.flowsTurn(ns)
	select {
	case turn <- struct{}{}:
		defer func() { <-turn }()
	case <-ctx.Done():
		return FlowsResult{}, fmt.Errorf("streams: append flows to %s: waiting for the deploys before it: %w", ns, classify(ctx.Err()))
	}
	for attempt := 0; ; attempt++ {
		base, err := s.head(ctx, ns, attempt > 0)
		if err != nil {
			return FlowsResult{}, err
		}
		if !c.Expected.Allows(base.AggregateRevision) && attempt == 0 {
			// The cached head may lag another replica's deploys.
			if base, err = s.head(ctx, ns, true); err != nil {
				return FlowsResult{}, err
			}
		}
		if !c.Expected.Allows(base.AggregateRevision) {
			return FlowsResult{}, domain.ConflictError(domain.AggregateFlows, c.Expected, base.AggregateRevision)
		}
		res, err := s.appendFlowsOn(ctx, ns, base, c)
		if domain.ErrorCode(err) == domain.ECONFLICT && c.Expected.IsAny() {
			// Another replica appended between our head and our
			// append: one of us always lands, so this ends — unless
			// the meta and the log disagree (damage), which the bound
			// turns into an answer.
			if attempt >= maxAnyAttempts {
				return FlowsResult{}, domain.Errorf(domain.EUNAVAILABLE, "namespace %s: %d deploys in a row lost the race for the head: retry", ns, attempt+1)
			}
			if !sleepCtx(ctx, time.Duration(attempt)*time.Millisecond) {
				return FlowsResult{}, fmt.Errorf("streams: append flows to %s: %w", ns, classify(ctx.Err()))
			}
			continue
		}
		return res, err
	}
}

// maxAnyAttempts bounds the re-diffs of an append with ExpectAny that
// other replicas keep beating to the head; between attempts it backs off a
// millisecond more each time.
const maxAnyAttempts = 100

// sleepCtx waits d or until ctx ends, and reports whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// flowsTurn returns ns's turn token: a channel of capacity one that a flows
// append holds while it runs.
func (s *Store) flowsTurn(ns string) chan struct{} {
	if t, ok := s.turns.Load(ns); ok {
		return t.(chan struct{})
	}
	t, _ := s.turns.LoadOrStore(ns, make(chan struct{}, 1))
	return t.(chan struct{})
}

func (s *Store) appendFlowsOn(ctx context.Context, ns string, base *FlowsVersion, c FlowsChange) (FlowsResult, error) {
	fe, err := domain.NewFlowsEvent(ns, domain.FlowsHead{Flows: base.Flows, Credentials: base.Credentials}, c.FlowsChange)
	if err != nil {
		return FlowsResult{}, err
	}
	sha, summary, next := fe.Event.SHA256, fe.Summary, fe.Next.Flows
	res, err := s.Append(ctx, AppendRequest{
		Event:          fe.Event,
		Expected:       domain.ExpectRevision(base.AggregateRevision),
		IdempotencyKey: c.IdempotencyKey,
		Fingerprint:    fe.Fingerprint,
		patchBytes:     fe.PatchBytes,
	})
	var derr *domain.Error
	if errors.As(err, &derr) && derr.Code == domain.ECONFLICT {
		s.heads.drop(ns)
		// Report the caller's expectation, not the internal base.
		return FlowsResult{}, domain.ConflictError(domain.AggregateFlows, c.Expected, derr.CurrentRevision)
	}
	if err != nil && res.Revision != 0 {
		// Appended, but not as durably as required: the caller is told
		// what was written (and that it may be lost); the next deploy
		// reads the head again.
		s.heads.drop(ns)
		return FlowsResult{AppendResult: res, SHA256: sha, Summary: summary}, err
	}
	if err != nil {
		return FlowsResult{}, err
	}
	out := FlowsResult{AppendResult: res, SHA256: sha, Summary: summary}
	if res.Duplicate {
		// Answer what the first request was answered: its event's hash and
		// summary, not a diff against a head that may have moved since.
		s.heads.drop(ns)
		first, err := s.ReadRevision(ctx, ns, res.Revision)
		if err != nil {
			return FlowsResult{}, err
		}
		out.SHA256, out.Summary = first.SHA256, domain.Summary{}
		if first.Summary != nil {
			out.Summary = *first.Summary
		}
		return out, nil
	}
	v := &FlowsVersion{Flows: next, Credentials: fe.Next.Credentials, Revision: res.Revision, AggregateRevision: res.AggregateRevision}
	s.heads.put(ns, v)
	if res.snapRevs >= int64(s.cfg.SnapshotEvery) || float64(res.snapBytes) > s.cfg.SnapshotShare*float64(next.Size()) {
		// The event is appended: a failed snapshot only means the next
		// deploy tries again, so it is logged, not returned.
		if err := s.saveSnapshot(ctx, ns, v, res.snapRevs, res.snapBytes); err != nil {
			s.log.Warn("flows snapshot failed", zapNS(ns), zapRev(res.Revision), zapErr(err))
		}
	}
	return out, nil
}

// head returns ns's current flows, from the cache unless fresh is set.
func (s *Store) head(ctx context.Context, ns string, fresh bool) (*FlowsVersion, error) {
	if !fresh {
		if v, ok := s.heads.get(ns); ok {
			return v, nil
		}
	}
	v, err := s.FlowsAt(ctx, ns, 0)
	if err != nil {
		return nil, err
	}
	s.heads.put(ns, v)
	return v, nil
}

// FlowsAt rebuilds ns's flows and credentials as of namespace revision rev
// (0: the newest) from the nearest snapshot and the patches after it,
// checking every step against its recorded sha256.
//
// Errors: ENOTFOUND (rev is past the end of the log), ECORRUPT (the log or
// a snapshot is corrupt; the message names the revision), EUNAVAILABLE.
func (s *Store) FlowsAt(ctx context.Context, ns string, rev domain.Revision) (*FlowsVersion, error) {
	h, err := s.Head(ctx, ns)
	if err != nil {
		return nil, err
	}
	if rev == 0 {
		rev = h.Revision
	}
	if rev > h.Revision {
		return nil, domain.Errorf(domain.ENOTFOUND, "namespace %s has no revision %d (newest is %d)", ns, rev, h.Revision)
	}
	v, err := s.loadSnapshot(ctx, ns, rev)
	if err != nil {
		return nil, fmt.Errorf("streams: flows of %s at %d: %w", ns, rev, err)
	}
	var last *domain.Event
	for from := v.Revision + 1; from <= rev; {
		events, err := s.Read(ctx, ns, Query{From: from, To: rev, Limit: 500})
		if err != nil {
			return nil, err
		}
		if len(events) == 0 {
			break
		}
		for _, e := range events {
			if e.Aggregate != domain.AggregateFlows {
				continue
			}
			if v, err = v.apply(e); err != nil {
				return nil, corrupt(ns, "flows at %d: %v", rev, err)
			}
			last = e
		}
		from = events[len(events)-1].Revision + 1
	}
	// Hashing a megabyte costs more than applying a patch, so only the
	// version returned is checked against its recorded sha256 (verify
	// checks every revision): a wrong patch anywhere since the snapshot
	// changes the result and is caught here.
	if last != nil {
		if got := v.Flows.SHA256(); got != last.SHA256 {
			return nil, corrupt(ns, "flows rebuilt at revision %d hash to %s, recorded %s", last.Revision, got, last.SHA256)
		}
	}
	return v, nil
}

// apply returns the version after flows event e.
func (v *FlowsVersion) apply(e *domain.Event) (*FlowsVersion, error) {
	var p domain.FlowsPayload
	if err := domain.DecodePayload(e, &p); err != nil {
		return nil, err
	}
	next, err := v.Flows.Apply(p.Patch)
	if err != nil {
		return nil, fmt.Errorf("revision %d: %w", e.Revision, err)
	}
	out := &FlowsVersion{Flows: next, Credentials: v.Credentials, Revision: e.Revision, AggregateRevision: e.AggregateRevision}
	if p.Credentials != nil {
		out.Credentials = p.Credentials
	}
	return out, nil
}
