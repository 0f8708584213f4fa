package streams

import (
	"context"
	"fmt"

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
	// name is what the version was rebuilt from (verified.go), nil for
	// a version that was not.
	name foldName
}

// Head is the flows aggregate of v as domain's event builders take it.
func (v *FlowsVersion) Head() domain.FlowsHead {
	return domain.FlowsHead{Flows: v.Flows, Credentials: v.Credentials}
}

// FlowsResult is the outcome of AppendFlows.
type FlowsResult struct {
	AppendResult
	SHA256  string         `json:"sha256"`
	Summary domain.Summary `json:"summary"`
}

// AppendFlows appends fe, a flows event built against base (a version
// FlowsHead returned), to ns's log, expecting base to be the head still,
// with idempotency key key. On success the new version is the cached head,
// and a snapshot is written when one is due. A duplicate (key seen before)
// answers what the first append was answered.
//
// Errors: ECONFLICT (base is no longer the head; it carries the current
// flows revision and the cached head is dropped), EINVALID, EUNAVAILABLE
// (with a non-zero Revision when the event was appended but its
// durability fell short), ECANCELED.
func (s *Store) AppendFlows(ctx context.Context, ns string, base *FlowsVersion, fe domain.FlowsEvent, key string) (FlowsResult, error) {
	res, snap, err := s.AppendFlowsSnapshotLater(ctx, ns, base, fe, key)
	if snap != nil {
		s.SaveSnapshot(ctx, snap)
	}
	return res, err
}

// FlowsSnapshot is a snapshot of ns's flows that an append found due:
// compressing and storing a megabyte takes longer than the deploy itself,
// so AppendFlowsSnapshotLater leaves it to the caller to save after
// answering.
type FlowsSnapshot struct {
	ns          string
	v           *FlowsVersion
	event       string // the id of the event v follows
	revs, bytes int64
}

// AppendFlowsSnapshotLater is AppendFlows that returns the snapshot it
// found due, if any, instead of writing it: the caller passes it to
// SaveSnapshot, off the deploy's path. While one is out for ns, none other
// is returned for it (the next deploy after it was saved finds one due
// again if it is).
//
// Errors: those of AppendFlows.
func (s *Store) AppendFlowsSnapshotLater(ctx context.Context, ns string, base *FlowsVersion, fe domain.FlowsEvent, key string) (FlowsResult, *FlowsSnapshot, error) {
	sha, summary, next := fe.Event.SHA256, fe.Summary, fe.Next.Flows
	res, err := s.Append(ctx, AppendRequest{
		Event:          fe.Event,
		Expected:       domain.ExpectRevision(base.AggregateRevision),
		IdempotencyKey: key,
		Fingerprint:    fe.Fingerprint,
		patchBytes:     fe.PatchBytes,
	})
	if domain.ErrorCode(err) == domain.ECONFLICT {
		s.heads.drop(ns)
		return FlowsResult{}, nil, err
	}
	if err != nil && res.Revision != 0 {
		// Appended, but not as durably as required: the caller is told
		// what was written (and that it may be lost); the next deploy
		// reads the head again.
		s.heads.drop(ns)
		return FlowsResult{AppendResult: res, SHA256: sha, Summary: summary}, nil, err
	}
	if err != nil {
		return FlowsResult{}, nil, err
	}
	out := FlowsResult{AppendResult: res, SHA256: sha, Summary: summary}
	if res.Duplicate {
		// Answer what the first request was answered: its event's hash and
		// summary, not a diff against a head that may have moved since.
		s.heads.drop(ns)
		first, err := s.ReadRevision(ctx, ns, res.Revision)
		if err != nil {
			return FlowsResult{}, nil, err
		}
		out.SHA256, out.Summary = first.SHA256, domain.Summary{}
		if first.Summary != nil {
			out.Summary = *first.Summary
		}
		return out, nil, nil
	}
	v := &FlowsVersion{Flows: next, Credentials: fe.Next.Credentials, Revision: res.Revision, AggregateRevision: res.AggregateRevision}
	s.heads.put(ns, v)
	due := res.snapRevs >= int64(s.cfg.SnapshotEvery) || float64(res.snapBytes) > s.cfg.SnapshotShare*float64(next.Size())
	if _, busy := s.heads.snapshots.LoadOrStore(ns, true); !due || busy {
		if !busy {
			s.heads.snapshots.Delete(ns)
		}
		return out, nil, nil
	}
	return out, &FlowsSnapshot{ns: ns, v: v, event: res.eventID, revs: res.snapRevs, bytes: res.snapBytes}, nil
}

// SaveSnapshot writes snap. The event it follows is appended: a failed
// snapshot only means a later deploy finds one due again, so it is logged,
// not returned.
func (s *Store) SaveSnapshot(ctx context.Context, snap *FlowsSnapshot) {
	defer s.heads.snapshots.Delete(snap.ns)
	if err := s.saveSnapshot(ctx, snap.ns, snap.v, snap.event, snap.revs, snap.bytes); err != nil {
		s.log.Warn("flows snapshot failed", zapNS(snap.ns), zapRev(snap.v.Revision), zapErr(err))
	}
}

// FlowsHead returns ns's current flows, from this process's cache unless
// fresh is set (another replica may have deployed since the cache was
// filled: a conflict says so).
//
// Errors: those of FlowsAt.
func (s *Store) FlowsHead(ctx context.Context, ns string, fresh bool) (*FlowsVersion, error) {
	if err := domain.ValidateNamespace(ns); err != nil {
		return nil, err
	}
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

// CachedFlows returns ns's flows document from this process's cache of
// heads, nil when none is cached. It does no I/O: it is a hint for parsing
// the next deploy (domain.ParseFlowsInputFrom), which any valid document
// serves, never an answer about the head.
func (s *Store) CachedFlows(ns string) *domain.Flows {
	if v, ok := s.heads.get(ns); ok {
		return v.Flows
	}
	return nil
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
	// The patches since the snapshot are applied together (as FlowsPair
	// does), not a document copy each. Hashing a megabyte costs more than
	// applying a patch, so only the version returned is checked against
	// its recorded sha256 (verify checks every revision): a wrong patch
	// anywhere since the snapshot changes the result and is caught here.
	v, check, err := s.foldFlows(ctx, ns, v, rev)
	if err != nil {
		return nil, err
	}
	if err := check(); err != nil {
		return nil, err
	}
	return v, nil
}
