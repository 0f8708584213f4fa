package httpapi

import (
	"bytes"
	"net/http"
	"slices"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
)

// getDiff answers what changed between two revisions: nodes added, removed
// and changed (with property changes and unified diffs of code), and
// whether the credentials changed (never what they are).
// positions=false leaves out changes that only moved nodes on the canvas;
// reverse=1 answers the change from "to" back to "from" (what rolling back
// would undo). from must not be after to.
func (s *Server) getDiff(w http.ResponseWriter, r *http.Request) error {
	ns, q := r.PathValue("ns"), r.URL.Query()
	var from, to domain.Revision
	for _, p := range []struct {
		name string
		rev  *domain.Revision
	}{{"from", &from}, {"to", &to}} {
		v := q.Get(p.name)
		rev, err := domain.ParseRevision(v)
		if err != nil || rev == 0 {
			return domain.Errorf(domain.EINVALID, "%s %q is not a revision: send ?from=A&to=B", p.name, clip(v))
		}
		*p.rev = rev
	}
	// A reversed range is refused rather than guessed at; what a rollback
	// would undo is asked for explicitly.
	reverse, err := queryBool(q, "reverse")
	if err != nil {
		return err
	}
	if from > to {
		return domain.Errorf(domain.EINVALID, "from %d is after to %d: send from=%d&to=%d, with reverse=1 to see that change undone", from, to, to, from)
	}
	if reverse {
		from, to = to, from
	}
	a, b, err := s.store.FlowsPair(r.Context(), ns, min(from, to), max(from, to))
	if err != nil {
		return err
	}
	if reverse {
		a, b = b, a
	}
	d := domain.DiffFlowsNodes(a.Flows, b.Flows)
	if q.Get("positions") == "false" {
		d = d.WithoutPositionOnly()
	}
	writeJSON(w, http.StatusOK, Diff{
		From: from, To: to,
		Added: d.Added, Removed: d.Removed, Changed: d.Changed,
		Credentials: CredentialsRef{Changed: !bytes.Equal(a.Credentials, b.Credentials)},
	})
	return nil
}

// getNodeHistory answers every revision that changed one node, newest
// first, with its property changes, a page at a time. The node index names
// the revisions of the page; only those events are read, and the one
// before the page's oldest: each carries the node's new bytes, and the one
// before it its old bytes. A log written before the index existed (not yet
// replayed) is scanned instead.
func (s *Server) getNodeHistory(w http.ResponseWriter, r *http.Request) error {
	ns, id := r.PathValue("ns"), r.PathValue("id")
	limit, cursor, err := pageParams(r)
	if err != nil {
		return err
	}
	// One more than the page: the old bytes of the page's oldest entry,
	// and whether there is a next page.
	page, indexed, err := s.store.NodeRevisions(r.Context(), ns, id, cursor, limit+1)
	if err != nil {
		return err
	}
	if !indexed {
		if page, err = s.scanNodeRevisions(r, ns, id, cursor, limit+1); err != nil {
			return err
		}
	}
	if page.Total == 0 {
		return domain.Errorf(domain.ENOTFOUND, "no revision of namespace %s changed node %q", ns, clip(id))
	}
	events, payloads, err := s.store.NodePatches(r.Context(), ns, page.Revisions)
	if err != nil {
		return err
	}
	revs := domain.NodeHistoryOf(id, events, payloads, limit)
	entries := make([]NodeHistoryEntry, len(revs))
	for i, r := range revs {
		e := r.Event
		entries[i] = NodeHistoryEntry{
			Revision: e.Revision, Time: e.Time, Type: e.Type, Actor: e.Actor, Token: e.Token, Cause: e.Cause, Reason: e.Reason,
			Change: r.Change, PositionOnly: r.Diff.PositionOnly, Moved: r.Diff.Moved, Group: r.Diff.Group, Properties: r.Diff.Properties,
		}
	}
	body := NodeHistory{Node: id, Entries: entries}
	if len(events) > limit {
		body.NextCursor = entries[len(entries)-1].Revision.String()
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

// scanNodeRevisions is NodeRevisions for a log whose node index is
// incomplete: it reads the whole log's envelopes.
func (s *Server) scanNodeRevisions(r *http.Request, ns, id string, before domain.Revision, n int) (streams.NodePage, error) {
	var all []domain.Revision
	for from := domain.Revision(1); ; {
		events, err := s.store.Read(r.Context(), ns, streams.Query{From: from, Limit: 1000})
		if err != nil {
			return streams.NodePage{}, err
		}
		if len(events) == 0 {
			break
		}
		for _, e := range events {
			if slices.Contains(streams.IndexedNodes(e), id) {
				all = append(all, e.Revision)
			}
		}
		from = events[len(events)-1].Revision + 1
	}
	page := streams.NodePage{Total: int64(len(all))}
	for i := len(all) - 1; i >= 0 && len(page.Revisions) < n; i-- {
		if before == 0 || all[i] < before {
			page.Revisions = append(page.Revisions, all[i])
		}
	}
	return page, nil
}
