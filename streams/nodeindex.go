package streams

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"github.com/flowhist/flowhist/domain"
	"github.com/redis/rueidis"
)

// The node index lets a node's history read only the revisions that changed
// the node, however long the log. Per namespace:
//
//   - fh:{ns}:node:<id> is a sorted set of the revisions whose summary names
//     node id (added, changed or removed), member and score the revision;
//   - fh:{ns}:nodes is the set of node ids that have such a key, so that
//     replay can delete them and verify can compare them;
//   - meta field "ix" is "1" when the index covers the log from revision 1:
//     the append script sets it with revision 1, replay after rebuilding.
//     A log written before the index existed has no "ix", and readers fall
//     back to scanning the log.
//
// The append script writes the index with the event, atomically; a
// duplicate (idempotency key) or a conflict writes nothing.

// IndexedNodes returns the ids of the nodes whose history e belongs to: the
// nodes its summary names, for flows events, each once.
func IndexedNodes(e *domain.Event) []string {
	if e.Aggregate != domain.AggregateFlows || e.Summary == nil {
		return nil
	}
	s := e.Summary
	ids := make([]string, 0, len(s.Added)+len(s.Changed)+len(s.Removed))
	for _, refs := range [][]domain.NodeRef{s.Added, s.Changed, s.Removed} {
		for _, r := range refs {
			ids = append(ids, r.ID)
		}
	}
	if len(ids) > 1 {
		// A patch names a node once; dedupe anyway, since a key passed
		// twice to the script would be indexed twice for nothing.
		seen := make(map[string]struct{}, len(ids))
		out := ids[:0]
		for _, id := range ids {
			if _, ok := seen[id]; !ok {
				seen[id] = struct{}{}
				out = append(out, id)
			}
		}
		ids = out
	}
	return ids
}

// NodePage is a page of one node's revisions, newest first.
type NodePage struct {
	// Revisions are the revisions that changed the node, below the
	// page's bound, newest first.
	Revisions []domain.Revision
	// Total is how many revisions changed the node in the whole log.
	Total int64
}

// NodeRevisions returns up to n revisions that changed node id, newest
// first, all below before (0: no bound). ok is false when ns's index does
// not cover its whole log (it was written before the index existed and has
// not been replayed since): then the caller must scan the log instead.
//
// Errors: EUNAVAILABLE.
func (s *Store) NodeRevisions(ctx context.Context, ns, id string, before domain.Revision, n int) (page NodePage, ok bool, err error) {
	hi := "+inf"
	if before > 0 {
		hi = "(" + before.String()
	}
	b := s.client.B()
	res := s.client.DoMulti(ctx,
		b.Hget().Key(metaKey(ns)).Field("ix").Build(),
		b.Zcard().Key(nodeKey(ns, id)).Build(),
		b.Zrange().Key(nodeKey(ns, id)).Min(hi).Max("-inf").Byscore().Rev().Limit(0, int64(n)).Build())
	ix, err := res[0].ToString()
	if rueidis.IsRedisNil(err) {
		return NodePage{}, false, nil
	}
	if err != nil {
		return NodePage{}, false, fmt.Errorf("streams: node %s of %s: %w", id, ns, classify(err))
	}
	if ix != "1" {
		return NodePage{}, false, nil
	}
	if page.Total, err = res[1].AsInt64(); err != nil {
		return NodePage{}, false, fmt.Errorf("streams: node %s of %s: %w", id, ns, classify(err))
	}
	members, err := res[2].AsStrSlice()
	if err != nil {
		return NodePage{}, false, fmt.Errorf("streams: node %s of %s: %w", id, ns, classify(err))
	}
	page.Revisions = make([]domain.Revision, 0, len(members))
	for _, m := range members {
		r, err := strconv.ParseUint(m, 10, 64)
		if err != nil || r == 0 {
			return NodePage{}, false, corrupt(ns, "node index of %q holds %q, not a revision", id, m)
		}
		page.Revisions = append(page.Revisions, domain.Revision(r))
	}
	return page, true, nil
}

// NodePatches returns the events at revs, in the order given, and their
// decoded payloads, in one round trip, as a node's history reads them:
// without their summaries (a whole-document deploy's summary names every
// node, and decoding it cost more than the patch the history reads). The
// decoded payloads of big events (a whole-document deploy of a big
// document, which the history of every node it holds ends at) are kept
// between calls, under their entries' links.
//
// Errors: ENOTFOUND (a revision is not in the log), ECORRUPT, EUNAVAILABLE.
func (s *Store) NodePatches(ctx context.Context, ns string, revs []domain.Revision) ([]*domain.Event, []domain.FlowsPayload, error) {
	if len(revs) == 0 {
		return nil, nil, nil
	}
	cmds := make(rueidis.Commands, len(revs))
	for i, r := range revs {
		id := entryID(uint64(r))
		cmds[i] = s.client.B().Xrange().Key(logKey(ns)).Start(id).End(id).Build()
	}
	events := make([]*domain.Event, len(revs))
	payloads := make([]domain.FlowsPayload, len(revs))
	for i, res := range s.client.DoMulti(ctx, cmds...) {
		entries, err := res.AsXRange()
		if err != nil {
			return nil, nil, fmt.Errorf("streams: read %s: %w", ns, classify(err))
		}
		if len(entries) != 1 {
			return nil, nil, domain.Errorf(domain.ENOTFOUND, "namespace %s has no revision %d", ns, revs[i])
		}
		en := entries[0]
		big := len(en.FieldValues["p"]) >= bigPayload && IsLink(en.FieldValues["h"])
		key := ns + " " + en.ID + " " + en.FieldValues["h"]
		if big {
			if d, ok := bigPatches.get(key); ok {
				events[i], payloads[i] = d.event, d.payload
				continue
			}
		}
		if events[i], err = decodeBrief(ns, en); err != nil {
			return nil, nil, err
		}
		if payloads[i], err = domain.DecodeNodePayload(events[i]); err != nil {
			return nil, nil, err
		}
		if big {
			e := *events[i]
			size := len(e.Payload)
			e.Payload = nil
			bigPatches.put(key, decodedPatch{&e, payloads[i]}, size)
		}
	}
	return events, payloads, nil
}

// briefEnvelope is an envelope whose summary is kept raw: encoding/json
// skips building a NodeRef for every node it names (the field shadows the
// embedded one).
type briefEnvelope struct {
	envelope
	Summary json.RawMessage `json:"summary,omitempty"`
}

// decodeBrief is decodeEntry without the summary.
func decodeBrief(ns string, en rueidis.XRangeEntry) (*domain.Event, error) {
	rev, ok := revisionOf(en.ID)
	if !ok {
		return nil, corrupt(ns, "log entry %s is not a revision", en.ID)
	}
	var b briefEnvelope
	if err := json.Unmarshal([]byte(en.FieldValues["e"]), &b); err != nil {
		return nil, corrupt(ns, "revision %d: envelope: %v", rev, err)
	}
	return entryEvent(ns, rev, en, b.envelope)
}

// ResetNodeIndex deletes ns's node index and marks it incomplete, so that
// readers scan the log until a replay has written it again (IndexNodes,
// then CompleteNodeIndex).
//
// Errors: EUNAVAILABLE.
func (s *Store) ResetNodeIndex(ctx context.Context, ns string) error {
	b := s.client.B()
	if err := s.client.Do(ctx, b.Hdel().Key(metaKey(ns)).Field("ix").Build()).Error(); err != nil {
		return fmt.Errorf("streams: reset node index of %s: %w", ns, classify(err))
	}
	ids, err := s.client.Do(ctx, b.Smembers().Key(nodesKey(ns)).Build()).AsStrSlice()
	if err != nil {
		return fmt.Errorf("streams: reset node index of %s: %w", ns, classify(err))
	}
	// An append racing with this may index a node after its key is
	// deleted here; the replay that follows reads the log to its end and
	// indexes that revision again.
	const chunk = 500
	for len(ids) > 0 {
		n := min(chunk, len(ids))
		keys := make([]string, n)
		for i, id := range ids[:n] {
			keys[i] = nodeKey(ns, id)
		}
		if err := s.client.Do(ctx, b.Del().Key(keys...).Build()).Error(); err != nil {
			return fmt.Errorf("streams: reset node index of %s: %w", ns, classify(err))
		}
		ids = ids[n:]
	}
	if err := s.client.Do(ctx, b.Del().Key(nodesKey(ns)).Build()).Error(); err != nil {
		return fmt.Errorf("streams: reset node index of %s: %w", ns, classify(err))
	}
	return nil
}

// IndexNodes adds revisions to the index of each node in revs, in one round
// trip. Adding a revision twice is a no-op.
//
// Errors: EUNAVAILABLE.
func (s *Store) IndexNodes(ctx context.Context, ns string, revs map[string][]domain.Revision) error {
	if len(revs) == 0 {
		return nil
	}
	b := s.client.B()
	cmds := make(rueidis.Commands, 0, len(revs)+1)
	ids := make([]string, 0, len(revs))
	for id, rs := range revs {
		z := b.Zadd().Key(nodeKey(ns, id)).ScoreMember()
		for _, r := range rs {
			z = z.ScoreMember(float64(r), r.String())
		}
		cmds = append(cmds, z.Build())
		ids = append(ids, id)
	}
	cmds = append(cmds, b.Sadd().Key(nodesKey(ns)).Member(ids...).Build())
	for _, res := range s.client.DoMulti(ctx, cmds...) {
		if err := res.Error(); err != nil {
			return fmt.Errorf("streams: index nodes of %s: %w", ns, classify(err))
		}
	}
	return nil
}

// CompleteNodeIndex marks ns's node index as covering the log from revision
// 1: replay calls it once it has indexed the log to its end.
//
// Errors: EUNAVAILABLE.
func (s *Store) CompleteNodeIndex(ctx context.Context, ns string) error {
	if err := s.client.Do(ctx, s.client.B().Hset().Key(metaKey(ns)).FieldValue().FieldValue("ix", "1").Build()).Error(); err != nil {
		return fmt.Errorf("streams: complete node index of %s: %w", ns, classify(err))
	}
	return nil
}

// NodeIndexComplete reports whether ns's node index covers its whole log.
// A log written before flowhist kept one (or whose replay did not finish)
// has an incomplete index, which reads do not use: node history scans the
// log instead until flowhist replay rebuilds it.
//
// Errors: EUNAVAILABLE.
func (s *Store) NodeIndexComplete(ctx context.Context, ns string) (bool, error) {
	ix, err := s.client.Do(ctx, s.client.B().Hget().Key(metaKey(ns)).Field("ix").Build()).ToString()
	if err != nil && !rueidis.IsRedisNil(err) {
		return false, fmt.Errorf("streams: node index of %s: %w", ns, classify(err))
	}
	return ix == "1", nil
}

// CheckNodeIndex compares ns's node index with want, the revisions up to
// upTo that the log says changed each node. It names the first key that
// differs (nodes in id order) and says how, or returns "" when the index
// matches. Revisions after upTo (appended since the caller read the log) are
// not compared.
//
// Errors: EUNAVAILABLE.
func (s *Store) CheckNodeIndex(ctx context.Context, ns string, want map[string][]domain.Revision, upTo domain.Revision) (key, problem string, err error) {
	b := s.client.B()
	res := s.client.DoMulti(ctx,
		b.Hget().Key(metaKey(ns)).Field("ix").Build(),
		b.Smembers().Key(nodesKey(ns)).Build())
	ix, err := res[0].ToString()
	if err != nil && !rueidis.IsRedisNil(err) {
		return "", "", fmt.Errorf("streams: check node index of %s: %w", ns, classify(err))
	}
	if ix != "1" {
		return metaKey(ns) + " ix", "the node index does not cover the log (it was written before flowhist kept one, or a replay did not finish)", nil
	}
	members, err := res[1].AsStrSlice()
	if err != nil {
		return "", "", fmt.Errorf("streams: check node index of %s: %w", ns, classify(err))
	}
	ids := make([]string, 0, len(want)+len(members))
	for id := range want {
		ids = append(ids, id)
	}
	ids = append(ids, members...)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	registered := make(map[string]bool, len(members))
	for _, m := range members {
		registered[m] = true
	}
	const chunk = 500
	for start := 0; start < len(ids); start += chunk {
		part := ids[start:min(start+chunk, len(ids))]
		cmds := make(rueidis.Commands, len(part))
		for i, id := range part {
			cmds[i] = b.Zrange().Key(nodeKey(ns, id)).Min("-inf").Max(upTo.String()).Byscore().Build()
		}
		for i, r := range s.client.DoMulti(ctx, cmds...) {
			got, err := r.AsStrSlice()
			if err != nil {
				return "", "", fmt.Errorf("streams: check node index of %s: %w", ns, classify(err))
			}
			id := part[i]
			w := want[id]
			if p := compareRevisions(got, w); p != "" {
				return nodeKey(ns, id), fmt.Sprintf("node %q: %s", id, p), nil
			}
			if len(w) > 0 && !registered[id] {
				return nodesKey(ns), fmt.Sprintf("node %q is not in the set of indexed nodes", id), nil
			}
		}
	}
	return "", "", nil
}

// compareRevisions says how an index's members differ from want, both
// ascending, or "" when they are the same.
func compareRevisions(got []string, want []domain.Revision) string {
	for i := 0; i < max(len(got), len(want)); i++ {
		switch {
		case i >= len(got):
			return fmt.Sprintf("revision %d changed it, the index lacks it", want[i])
		case i >= len(want) || got[i] != want[i].String():
			r := parseUint(got[i])
			if i < len(want) && r > uint64(want[i]) {
				return fmt.Sprintf("revision %d changed it, the index lacks it", want[i])
			}
			return fmt.Sprintf("the index holds revision %s, which did not change it", got[i])
		}
	}
	return ""
}
