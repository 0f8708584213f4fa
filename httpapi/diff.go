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
	a, err := s.store.FlowsAt(r.Context(), ns, from)
	if err != nil {
		return err
	}
	b, err := s.store.FlowsAt(r.Context(), ns, to)
	if err != nil {
		return err
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
// first, with its property changes. Only events whose summary names the
// node are decoded: each carries the node's new bytes, and the one before
// it its old bytes.
func (s *Server) getNodeHistory(w http.ResponseWriter, r *http.Request) error {
	ns, id := r.PathValue("ns"), r.PathValue("id")
	limit, cursor, err := pageParams(r)
	if err != nil {
		return err
	}
	var all []NodeHistoryEntry
	var prev domain.Node
	for from := domain.Revision(1); ; {
		events, err := s.store.Read(r.Context(), ns, streams.Query{From: from, Limit: 1000})
		if err != nil {
			return err
		}
		for _, e := range events {
			if e.Aggregate != domain.AggregateFlows || !summaryNames(e.Summary, id) {
				continue
			}
			var p domain.FlowsPayload
			if err := domain.DecodePayload(e, &p); err != nil {
				return err
			}
			entry := NodeHistoryEntry{Revision: e.Revision, Time: e.Time, Type: e.Type, Actor: e.Actor, Cause: e.Cause, Reason: e.Reason}
			var next domain.Node
			if slices.Contains(p.Patch.Remove, id) {
				entry.Change = "removed"
			} else {
				for _, u := range p.Patch.Upsert {
					if u.ID == id {
						next = u
					}
				}
				entry.Change = "changed"
				if prev.ID == "" {
					entry.Change = "added"
				}
			}
			c := domain.NodeDiff(prev, next)
			entry.PositionOnly, entry.Moved, entry.Group, entry.Properties = c.PositionOnly, c.Moved, c.Group, c.Properties
			all = append(all, entry)
			prev = next
		}
		if len(events) == 0 {
			break
		}
		from = events[len(events)-1].Revision + 1
	}
	slices.Reverse(all)
	start := 0
	if cursor > 0 {
		start = len(all)
		for i, e := range all {
			if e.Revision < cursor {
				start = i
				break
			}
		}
	}
	page := all[start:min(start+limit, len(all))]
	body := NodeHistory{Node: id, Entries: page}
	if start+limit < len(all) {
		body.NextCursor = page[len(page)-1].Revision.String()
	}
	if len(all) == 0 {
		return domain.Errorf(domain.ENOTFOUND, "no revision of namespace %s changed node %q", ns, clip(id))
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}
