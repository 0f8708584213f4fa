package domain

import (
	"fmt"
	"slices"
)

// Kinds of change a revision made to one node.
const (
	NodeAdded   = "added"
	NodeChanged = "changed"
	NodeRemoved = "removed"
)

// NodeRevision is what one revision did to one node.
type NodeRevision struct {
	Event *Event
	// Change is NodeAdded, NodeChanged or NodeRemoved.
	Change string
	// Diff is the node before and after, property by property.
	Diff NodeChange
}

// NodeHistory folds the history of node id from flows events that touched
// it, newest first (as an index or a summary found them), into at most n
// revisions. An event past the n-th is read only for the node's bytes
// before the n-th: with it, the oldest revision returned is a change, not
// an addition.
//
// Errors: ECORRUPT when an event's payload does not decode.
func NodeHistory(id string, events []*Event, n int) ([]NodeRevision, error) {
	payloads := make([]FlowsPayload, len(events))
	for i, e := range events {
		var err error
		if payloads[i], err = DecodeNodePayload(e); err != nil {
			return nil, err
		}
	}
	return NodeHistoryOf(id, events, payloads, n), nil
}

// DecodeNodePayload decodes the payload of e, a flows event a node's
// history reads.
//
// Errors: ECORRUPT when it does not decode.
func DecodeNodePayload(e *Event) (FlowsPayload, error) {
	var p FlowsPayload
	if err := DecodePayload(e, &p); err != nil {
		return FlowsPayload{}, &Error{Code: ECORRUPT, Message: fmt.Sprintf("namespace %s: revision %d does not decode: run flowhist verify", e.Namespace, e.Revision), Err: err}
	}
	return p, nil
}

// NodeHistoryOf is NodeHistory of events whose payloads are decoded
// already (payloads[i] is events[i]'s, as DecodeNodePayload decodes it):
// a reader that keeps a big event's decoded payload between requests does
// not decode it again.
func NodeHistoryOf(id string, events []*Event, payloads []FlowsPayload, n int) []NodeRevision {
	// nodes[i] is the node as events[i] left it; zero if it removed it.
	nodes := make([]Node, len(events))
	removed := make([]bool, len(events))
	for i, p := range payloads {
		if slices.Contains(p.Patch.Remove, id) {
			removed[i] = true
			continue
		}
		for _, u := range p.Patch.Upsert {
			if u.ID == id {
				nodes[i] = u
			}
		}
	}
	out := make([]NodeRevision, 0, min(n, len(events)))
	for i, e := range events[:min(n, len(events))] {
		var prev Node
		if i+1 < len(events) {
			prev = nodes[i+1]
		}
		r := NodeRevision{Event: e, Change: NodeChanged, Diff: NodeDiff(prev, nodes[i])}
		switch {
		case removed[i]:
			r.Change = NodeRemoved
		case prev.ID == "":
			r.Change = NodeAdded
		}
		out = append(out, r)
	}
	return out
}
